// kube-vip on the lab's nodes (testbed/lab/kube-vip.ts says what kube-vip is and how it runs): its
// RBAC and credentials, the two processes of each node (ARP engine as "-speaker", BGP engine as
// "-speaker-bgp"), kube-vip-cloud-provider's part (addresses from the lab's pools), and who
// announces a Service (kube-vip keeps no status object).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isNotFound } from '../../src/k8s/index.ts';
import { waitFor } from '../cluster/wait.ts';
import type { Announcement } from '../cluster/objects.ts';
import { engineOfPool, firstFreeAddress, KUBE_VIP_CLASS, KUBE_VIP_HOST, KUBE_VIP_IPS, KUBE_VIP_NS, KUBE_VIP_SA, kubeVipCommand, kubeVipProgram, kubeVipRbac } from './kube-vip.ts';
import { kubectl, RELAY_PORT, tokenKubeconfig } from './peers.ts';
import { alive, spawnDaemon } from './proc.ts';
import { METRICS_PORT, type LabContext } from './state.ts';

const kubeVipHome = (lab: LabContext): string => join(lab.dir, 'kube-vip-home');
const offsetOf = (f: string): number => (existsSync(f) ? readFileSync(f).length : 0);

/** kube-vip's RBAC (its own generator's) and a kubeconfig with its ServiceAccount's token through each node's relay. */
export async function installKubeVip(lab: LabContext): Promise<void> {
  const objs = await kubeVipRbac();
  await kubectl(lab.dir, ['apply', '--server-side', '--force-conflicts', '-f', '-'], objs.map((o) => JSON.stringify(o)).join('\n'));
  const t = await lab.core.createNamespacedServiceAccountToken({ name: KUBE_VIP_SA, namespace: KUBE_VIP_NS, body: { spec: { audiences: [], expirationSeconds: 7 * 86_400 } } });
  const token = t.status?.token;
  if (!token) throw new Error(`the API server issued no token for ServiceAccount ${KUBE_VIP_NS}/${KUBE_VIP_SA}`);
  const kubeconfig = tokenKubeconfig(readFileSync(lab.kubeconfig, 'utf8'), `https://127.0.0.1:${RELAY_PORT}`, token);
  writeFileSync(join(lab.dir, 'kube-vip.kubeconfig'), kubeconfig, { mode: 0o600 });
  // kube-vip's manager reads /etc/kubernetes/admin.conf or $HOME/.kube/config, not --k8sConfigPath.
  mkdirSync(join(kubeVipHome(lab), '.kube'), { recursive: true });
  writeFileSync(join(kubeVipHome(lab), '.kube', 'config'), kubeconfig, { mode: 0o600 });
}

/** Node i's two kube-vip processes; returns where this run starts in the ARP engine's log. */
export function startKubeVip(lab: LabContext, i: number, extra: string[]): number {
  const n = lab.node(i);
  const p = lab.plan;
  const o = { kubeconfig: join(lab.dir, 'kube-vip.kubeconfig'), asn: p.asn, routerAsn: p.routerAsn, router4: p.router4, holdTime: lab.state.holdTime };
  const start = (engine: 'arp' | 'bgp', port: number, log: string): number => {
    const c = kubeVipCommand(engine, n, { ...o, metricsPort: port });
    return spawnDaemon(n.ns, kubeVipProgram(), [...c.argv, ...extra], log, { ...process.env, HOME: kubeVipHome(lab), ...c.env });
  };
  const file = lab.logFile(`${n.name}-speaker`);
  const offset = offsetOf(file);
  lab.state.pids[`${n.name}-speaker`] = start('arp', METRICS_PORT, file);
  lab.state.logOffsets[n.name] = offset;
  const bgpFile = lab.logFile(`${n.name}-speaker-bgp`);
  lab.state.logOffsets[`${n.name}-bgp`] = offsetOf(bgpFile);
  lab.state.pids[`${n.name}-speaker-bgp`] = start('bgp', METRICS_PORT + 1, bgpFile);
  lab.save();
  return offset;
}

/** kube-vip's BGP engine, the node's second process: up once its BGP server has started. */
export async function waitKubeVipBgp(lab: LabContext, i: number, timeoutMs: number): Promise<void> {
  const n = lab.node(i);
  const bgpFile = lab.logFile(`${n.name}-speaker-bgp`);
  const bgpFrom = lab.state.logOffsets[`${n.name}-bgp`] ?? 0;
  await waitFor(() => {
    const text = existsSync(bgpFile) ? readFileSync(bgpFile).subarray(bgpFrom).toString() : '';
    if (!alive(lab.state.pids[`${n.name}-speaker-bgp`] ?? 0)) throw new Error(`${n.name}'s kube-vip BGP engine exited: ${text.split('\n').slice(-15).join('\n')}`);
    return /Starting Kube-vip Manager with the BGP engine/.test(text) && /beginning services leadership|watching services|Starting the BGP server|bgp/i.test(text.split('Starting Kube-vip Manager with the BGP engine')[1] ?? '');
  }, { what: `${n.name}'s kube-vip BGP engine to start`, timeoutMs, intervalMs: 200 });
}

/** kube-vip-cloud-provider's part: the first free address(es) of the Service's pool. */
export async function kubeVipAddresses(lab: LabContext, o: { pool?: string; dualStack?: boolean; family?: 'IPv4' | 'IPv6' }): Promise<string> {
  const p = lab.plan;
  const pools = engineOfPool(o.pool) === 'bgp' ? [p.bgpPool4, p.bgpPool6] : [p.l2Pool4, p.l2Pool6];
  const used = new Set<string>();
  for (const s of (await lab.core.listServiceForAllNamespaces()).items) for (const a of (s.metadata?.annotations?.[KUBE_VIP_IPS] ?? '').split(',')) if (a) used.add(a);
  const families: Array<'IPv4' | 'IPv6'> = o.dualStack ? ['IPv4', 'IPv6'] : [o.family ?? 'IPv4'];
  const out: string[] = [];
  for (const f of families) {
    const ip = firstFreeAddress(pools, used, f);
    if (!ip) throw new Error(`the lab's ${o.pool ?? 'lab-l2'} pool has no free ${f} address left for kube-vip`);
    used.add(ip);
    out.push(ip);
  }
  return out.join(',');
}

/** What a kube-vip Service carries: its addresses annotation and the loadBalancerClass of its engine. */
export async function kubeVipService(lab: LabContext, o: { pool?: string; ips?: string[]; dualStack?: boolean; family?: 'IPv4' | 'IPv6' }): Promise<{ annotations: Record<string, string>; loadBalancerClass: string }> {
  return { annotations: { [KUBE_VIP_IPS]: o.ips?.join(',') ?? (await kubeVipAddresses(lab, o)) }, loadBalancerClass: KUBE_VIP_CLASS[engineOfPool(o.pool)] };
}

/**
 * kube-vip keeps no status object: the ARP engine's leader names itself in the Service's
 * kube-vip.io/vipHost annotation; the BGP engine announces from every node whose engine runs.
 */
export async function kubeVipAnnouncements(lab: LabContext, name: string, namespace: string): Promise<Announcement[]> {
  const s = await lab.core.readNamespacedService({ name, namespace }).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
  if (!s?.status?.loadBalancer?.ingress?.length) return [];
  if (s.spec?.loadBalancerClass === KUBE_VIP_CLASS.bgp) return lab.plan.nodes.filter((n) => alive(lab.state.pids[`${n.name}-speaker-bgp`] ?? 0) && !lab.state.cut.includes(n.name)).map((n) => ({ node: n.name, mode: 'bgp' }));
  const host = s.metadata?.annotations?.[KUBE_VIP_HOST];
  return host ? [{ node: host, mode: 'layer2' }] : [];
}
