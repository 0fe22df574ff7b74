// The lab's control plane and controller: the control-plane agent (etcd, kube-apiserver,
// kube-controller-manager, ironlb installed by helm: testbed/lab/controlplane-agent.ts), the
// controller of the lab's implementation in the root namespace on loopback, its admission webhook
// routed as kube-proxy would, and MetalLB's manifest and credentials when MetalLB runs.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { waitFor } from '../cluster/wait.ts';
import { freePort } from '../controlplane.ts';
import { chartNodeOptions, DIST_CLI } from './image.ts';
import { isMetalLB, kubectl, METALLB_GROUP, METALLB_NS, metallbManifest, metallbProgram, RELAY_PORT, tokenKubeconfig, writeMemberlistKey } from './peers.ts';
import { alive, signal, spawnDaemon, waitGone } from './proc.ts';
import { writeSpeakerPod } from './nodes.ts';
import type { LabContext } from './state.ts';

const AGENT = fileURLToPath(new URL('controlplane-agent.ts', import.meta.url));

/** Starts the control-plane agent; resolves with the API server's URL once it serves. */
export async function startControlPlane(lab: LabContext): Promise<string> {
  lab.setPid('apiserver', spawnDaemon(undefined, process.execPath, [AGENT, '--lab-dir', lab.marker], lab.logFile('controlplane'), lab.childEnv()));
  const info = await waitFor(() => {
    if (!alive(lab.state.pids.apiserver ?? 0)) throw new Error(`the control plane exited: see ${lab.logFile('controlplane')} and ${join(lab.dir, 'controlplane')}/*.log`);
    const f = join(lab.dir, 'apiserver.json');
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as { url: string }) : undefined;
  }, { what: 'the lab control plane', timeoutMs: 180_000, intervalMs: 100 });
  lab.state.apiUrl = info.url;
  lab.save();
  return info.url;
}

/** Starts the controller of the lab's implementation (MetalLB's needs a free metrics port first). */
export async function startControllerAsync(lab: LabContext): Promise<void> {
  // kube-vip has no controller of its own (kube-vip-cloud-provider's part is the lab's: kube-vip-node.ts).
  if (lab.implementation === 'kube-vip') return;
  if (!isMetalLB(lab.implementation)) return startController(lab);
  // Root namespace, loopback: a port of its own, since several labs may run at once.
  const port = await freePort();
  lab.setPid('controller', spawnDaemon(undefined, metallbProgram('controller'), ['--kubeconfig', join(lab.dir, 'metallb-controller.kubeconfig'), '--namespace', METALLB_NS, '--webhook-mode', 'disabled', '--disable-cert-rotation', '--port', String(port), '--log-level', 'info'], lab.logFile('controller'), { ...process.env, ...(lab.implementation === 'metallb-frr' ? { METALLB_BGP_TYPE: 'frr' } : {}) }));
}

export function startController(lab: LabContext): void {
  if (lab.implementation === 'kube-vip') return;
  if (isMetalLB(lab.implementation)) {
    void startControllerAsync(lab);
    return;
  }
  // The admission webhook on a loopback port (kept across restarts); the API server is pointed
  // at it by address (routeWebhook), as kube-proxy would route the webhook Service to the Pod.
  const webhook = lab.state.webhookPort ? ['--webhook-port', String(lab.state.webhookPort), '--webhook-host', '127.0.0.1', '--webhook-cert-ips', '127.0.0.1'] : [];
  lab.setPid('controller', spawnDaemon(undefined, process.execPath, [...chartNodeOptions('controller'), ...(lab.state.nodeArgs ?? []), DIST_CLI, 'controller', '--kubeconfig', join(lab.dir, 'controller.kubeconfig'), '--metrics-port', '0', '--metrics-host', '127.0.0.1', '--no-leader-elect', ...webhook], lab.logFile('controller'), lab.childEnv()));
}

/** Points the ValidatingWebhookConfiguration at the controller's loopback port (kube-proxy's part). */
export async function routeWebhook(lab: LabContext): Promise<void> {
  const api = lab.admission;
  await waitFor(async () => {
    const cfg = await api.readValidatingWebhookConfiguration({ name: 'ironlb-validating' });
    const w = cfg.webhooks?.[0];
    if (!w?.clientConfig.caBundle) return undefined;
    const url = `https://127.0.0.1:${lab.state.webhookPort}/validate`;
    if (w.clientConfig.url === url) return true;
    for (const x of cfg.webhooks ?? []) x.clientConfig = { url, caBundle: x.clientConfig.caBundle };
    await api.replaceValidatingWebhookConfiguration({ name: 'ironlb-validating', body: cfg });
    return true;
  }, { what: 'the controller to publish its webhook CA', timeoutMs: 60_000, intervalMs: 100 });
}

/** Stops the controller (SIGKILL: a crash) and waits until it is gone. */
export async function stopController(lab: LabContext, sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const pid = lab.state.pids.controller;
  if (pid === undefined) return;
  signal(pid, sig);
  await waitGone([pid], 10_000);
  lab.setPid('controller', undefined);
}

/**
 * MetalLB's manifest (its module source, without Deployment/DaemonSet/webhook), its ServiceAccounts'
 * kubeconfigs (bound tokens), the memberlist key (the Secret its controller would have created)
 * and the speaker Pods as the DaemonSet and the kubelets would have made them.
 */
export async function installMetalLB(lab: LabContext): Promise<void> {
  const objs = metallbManifest(undefined, lab.implementation === 'metallb-frr' ? 'frr' : 'native');
  await kubectl(lab.dir, ['apply', '--server-side', '--force-conflicts', '-f', '-'], objs.map((o) => JSON.stringify(o)).join('\n'));
  // A new CRD answers 429 for a moment after it is Established (docs/controlplane.md).
  for (const plural of ['ipaddresspools', 'l2advertisements', 'bgppeers', 'bgpadvertisements', 'bfdprofiles', 'servicel2statuses', 'servicebgpstatuses']) {
    await waitFor(async () => {
      await lab.custom.listNamespacedCustomObject({ group: METALLB_GROUP, version: plural === 'bgppeers' ? 'v1beta2' : 'v1beta1', namespace: METALLB_NS, plural });
      return true;
    }, { what: `MetalLB's ${plural} to serve`, timeoutMs: 60_000, intervalMs: 250 });
  }
  const admin = readFileSync(lab.kubeconfig, 'utf8');
  for (const sa of ['controller', 'speaker']) {
    const t = await lab.core.createNamespacedServiceAccountToken({ name: sa, namespace: METALLB_NS, body: { spec: { audiences: [], expirationSeconds: 7 * 86_400 } } });
    const token = t.status?.token;
    if (!token) throw new Error(`the API server issued no token for ServiceAccount ${METALLB_NS}/${sa}`);
    const server = sa === 'controller' ? (lab.state.apiUrl ?? '') : `https://127.0.0.1:${RELAY_PORT}`;
    writeFileSync(join(lab.dir, `metallb-${sa}.kubeconfig`), tokenKubeconfig(admin, server, token), { mode: 0o600 });
  }
  const key = randomBytes(16).toString('base64').replace(/=+$/, '');
  await lab.core.createNamespacedSecret({ namespace: METALLB_NS, body: { metadata: { name: 'memberlist', namespace: METALLB_NS }, stringData: { secretkey: key } } });
  writeMemberlistKey(lab.dir, key);
  for (const n of lab.plan.nodes) await writeSpeakerPod(lab, n.name);
}
