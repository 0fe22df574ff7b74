// Node emulation: what runs on each lab node and what its kubelet would write. The Node object and
// its status, the hostname backend, the relay to the API server, the speaker (ironlb's as the image
// runs it, or MetalLB's with, in FRR mode, its FRR daemons and reloader), and the speaker Pod
// MetalLB's memberlist finds its peers by. Every daemon is detached and recorded in the state.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_NAMESPACE } from '../../src/api/index.ts';
import { registerNode, setNodeStatus } from '../cluster/objects.ts';
import { hostNetworkPod } from '../cluster/workloads.ts';
import { waitFor } from '../cluster/wait.ts';
import { kubeconfigWithServer } from '../controlplane.ts';
import { chartNodeOptions, DIST_CLI } from './image.ts';
import { daemonArgv, FRR_DAEMONS, frrNodeDirs, frrPidKeys, prepareNode, reloaderArgv, speakerEnv } from './metallb-frr.ts';
import { isMetalLB, METALLB_NS, metallbProgram, RELAY_PORT, SPEAKER_LABELS } from './peers.ts';
import { alive, sh, spawnDaemon } from './proc.ts';
import { startKubeVip, waitKubeVipBgp } from './kube-vip-node.ts';
import { METRICS_PORT, type LabContext } from './state.ts';

const agent = (f: string): string => fileURLToPath(new URL(f, import.meta.url));
const speakerKey = (node: string): string => `${node}-speaker`;

/** Registers every Node as its kubelet would (Namespace, RBAC and Secrets came with the helm install). */
export async function registerNodes(lab: LabContext): Promise<void> {
  for (const n of lab.plan.nodes) await registerNode(lab.core, n.name, [n.ipv4, n.ipv6], { 'lab.ironlb.io/index': String(n.index) });
}

/** Node status as a kubelet would write it: addresses, Ready, NetworkUnavailable when asked. */
export async function writeNodeStatus(lab: LabContext, name: string, o: { networkUnavailable?: boolean } = {}): Promise<void> {
  const n = lab.node(name);
  await setNodeStatus(lab.core, n.name, [n.ipv4, n.ipv6], o);
}

export function startBackend(lab: LabContext, i: number): void {
  const n = lab.node(i);
  lab.setPid(`${n.name}-backend`, spawnDaemon(n.ns, process.execPath, [agent('backend.ts'), '--lab-dir', lab.marker, '--name', n.name, '--port', String(lab.plan.appPort), '--port', String(lab.plan.appPort2)], lab.logFile(`${n.name}-backend`)));
}

/** The speakers' kubeconfig (LabContext.speakerKubeconfig) from the speaker ServiceAccount's. */
export function writeSpeakerKubeconfig(lab: LabContext): void {
  writeFileSync(lab.speakerKubeconfig, kubeconfigWithServer(readFileSync(join(lab.dir, 'speaker.kubeconfig'), 'utf8'), `https://127.0.0.1:${RELAY_PORT}`), { mode: 0o600 });
}

/** Starts node i's relay to the API server (every speaker connects to it) unless it runs; waits until it listens. */
export async function ensureRelay(lab: LabContext, i: number): Promise<void> {
  const n = lab.node(i);
  const key = `${n.name}-relay`;
  if (alive(lab.state.pids[key] ?? 0)) return;
  const file = lab.logFile(key);
  const from = existsSync(file) ? readFileSync(file).length : 0;
  lab.setPid(key, spawnDaemon(n.ns, process.execPath, [agent('relay-agent.ts'), '--lab-dir', lab.marker, '--port', String(RELAY_PORT)], file));
  await waitFor(() => {
    const text = readFileSync(file).subarray(from).toString();
    if (!alive(lab.state.pids[key] ?? 0)) throw new Error(`${n.name}'s relay exited: ${text.trim()}`);
    return text.includes('relay listening');
  }, { what: `${n.name}'s relay to the API server to listen`, timeoutMs: 30_000, intervalMs: 50 });
}

/** Starts a speaker daemon with its log file appended to; records where this run starts in it. */
function spawnSpeaker(lab: LabContext, node: string, ns: string, prog: string, args: string[], env: NodeJS.ProcessEnv): number {
  const file = lab.logFile(speakerKey(node));
  const offset = existsSync(file) ? readFileSync(file).length : 0;
  lab.state.logOffsets[node] = offset;
  lab.setPid(speakerKey(node), spawnDaemon(ns, prog, args, file, env));
  return offset;
}

/** Starts node i's speaker; the log file is appended to, so waitSpeaker looks past the returned offset. */
export function startSpeaker(lab: LabContext, i: number, extra: string[] = []): number {
  const n = lab.node(i);
  if (lab.implementation === 'kube-vip') return startKubeVip(lab, i, extra);
  if (isMetalLB(lab.implementation)) {
    const args = [
      '--kubeconfig', join(lab.dir, 'metallb-speaker.kubeconfig'), '--node-name', n.name, '--pod-name', `speaker-${n.name}`, '--namespace', METALLB_NS,
      '--ml-bindaddr', n.ipv4, '--ml-labels', Object.entries(SPEAKER_LABELS).map(([k, v]) => `${k}=${v}`).join(','), '--ml-secret-key-path', join(lab.dir, 'metallb-memberlist'),
      '--port', String(METRICS_PORT), '--log-level', 'info', ...extra,
    ];
    const env = lab.implementation === 'metallb-frr' ? { ...process.env, ...speakerEnv(frrNodeDirs(lab.dir, n.name)) } : process.env;
    return spawnSpeaker(lab, n.name, n.ns, metallbProgram('speaker'), args, env);
  }
  // The image's process exactly (node, the chart's Node options, dist/cli/main.js speaker), as the
  // speaker ServiceAccount, reaching the API server through the node's relay (ensureRelay).
  const args = [...chartNodeOptions('speaker'), ...(lab.state.nodeArgs ?? []), DIST_CLI, 'speaker', '--kubeconfig', lab.speakerKubeconfig, '--node-name', n.name, '--namespace', DEFAULT_NAMESPACE, '--interfaces', 'eth0', '--metrics-port', String(METRICS_PORT), ...(lab.state.speakerArgs ?? []), ...extra];
  return spawnSpeaker(lab, n.name, n.ns, process.execPath, args, lab.childEnv());
}

/** Waits until node i's speaker has joined the membership (its log says so). */
export async function waitSpeaker(lab: LabContext, i: number, timeoutMs = 120_000): Promise<void> {
  const n = lab.node(i);
  const file = lab.logFile(speakerKey(n.name));
  const from = lab.state.logOffsets[n.name] ?? 0;
  // ironlb says so when its membership runs; MetalLB's speaker once its informers have synced.
  const ready = isMetalLB(lab.implementation) ? /"event":"startUpdate"|Starting workers/ : lab.implementation === 'kube-vip' ? /beginning watching services/ : /membership running/;
  await waitFor(() => {
    const text = readFileSync(file).subarray(from).toString();
    if (!alive(lab.state.pids[speakerKey(n.name)] ?? 0)) throw new Error(`${n.name}'s speaker exited: ${text.split('\n').slice(-15).join('\n')}`);
    return ready.test(text);
  }, { what: `${n.name}'s speaker to start`, timeoutMs, intervalMs: 200 });
  if (lab.implementation === 'kube-vip') await waitKubeVipBgp(lab, i, timeoutMs);
}

export function speakerRunning(lab: LabContext, i: number): boolean {
  return alive(lab.state.pids[speakerKey(lab.node(i).name)] ?? 0);
}

/** PID keys of node i's speaker "Pod": the speaker (kube-vip: both engines), and in FRR mode (`withFrr`) its FRR daemons and reloader. */
export function speakerPodKeys(lab: LabContext, i: number, withFrr = true): string[] {
  const n = lab.node(i);
  return [speakerKey(n.name), `${speakerKey(n.name)}-bgp`, ...(lab.implementation === 'metallb-frr' && withFrr ? frrPidKeys(n.name) : [])];
}

/** PIDs of node i's speaker "Pod" that are alive. */
export function speakerPodPids(lab: LabContext, i: number): number[] {
  return speakerPodKeys(lab, i).map((k) => lab.state.pids[k]).filter((x): x is number => x !== undefined && alive(x));
}

/**
 * MetalLB in FRR mode: node i's FRR daemons and reloader (testbed/lab/metallb-frr.ts), started
 * unless they run; waits until zebra serves and the reloader has written its PID file (the speaker
 * signals it through that file).
 */
export async function ensureFrr(lab: LabContext, i: number): Promise<void> {
  const n = lab.node(i);
  const d = frrNodeDirs(lab.dir, n.name);
  const running = (k: string): boolean => alive(lab.state.pids[k] ?? 0);
  if (frrPidKeys(n.name).every(running)) return;
  prepareNode(d);
  await sh('chown', ['-R', 'frr:frr', d.frr]);
  const log = lab.logFile(`${n.name}-frr`);
  for (const daemon of FRR_DAEMONS) {
    const key = `${n.name}-frr-${daemon}`;
    if (running(key)) continue;
    const [prog, ...args] = daemonArgv(d, daemon);
    lab.setPid(key, spawnDaemon(n.ns, prog!, args, log));
    // The others connect to zebra at start.
    if (daemon === 'zebra') await waitFor(() => {
      if (!running(key)) throw new Error(`${n.name}'s zebra exited: see ${log}`);
      return existsSync(join(d.frr, 'zserv.api'));
    }, { what: `${n.name}'s FRR zebra (see ${log})`, timeoutMs: 20_000, intervalMs: 100 });
  }
  await waitFor(() => {
    for (const x of FRR_DAEMONS) if (!running(`${n.name}-frr-${x}`)) throw new Error(`${n.name}'s ${x} exited: see ${log}`);
    return existsSync(join(d.frr, 'bgpd.vty')) && existsSync(join(d.frr, 'bfdd.vty'));
  }, { what: `${n.name}'s FRR bgpd and bfdd (see ${log})`, timeoutMs: 20_000, intervalMs: 100 });
  const key = `${n.name}-frr-reloader`;
  if (!running(key)) {
    rmSync(join(d.shared, 'reloader.pid'), { force: true });
    const [prog, ...args] = reloaderArgv(d);
    lab.setPid(key, spawnDaemon(n.ns, prog!, args, lab.logFile(`${n.name}-reloader`)));
    await waitFor(() => existsSync(join(d.shared, 'reloader.pid')), { what: `${n.name}'s FRR reloader (see ${lab.logFile(`${n.name}-reloader`)})`, timeoutMs: 20_000, intervalMs: 100 });
  }
}

/** The MetalLB speaker Pod of a node, Running and Ready with the node's address (memberlist finds its peers by these Pod IPs). */
export async function writeSpeakerPod(lab: LabContext, node: string): Promise<void> {
  const n = lab.node(node);
  await hostNetworkPod(lab.core, { name: `speaker-${n.name}`, namespace: METALLB_NS, labels: SPEAKER_LABELS, node: { name: n.name, addresses: [n.ipv4] }, container: 'speaker', image: 'quay.io/metallb/speaker:local', serviceAccountName: 'speaker' });
}
