// Observing the lab: who announces a Service (ironlb's ServiceAnnouncement, or MetalLB's own
// statuses), the router's next hops as node names, requests and background probes from the client
// namespaces, who answers ARP/NDP on the wire, and which daemons are alive.
import { readAnnouncement, type Announcement } from '../cluster/objects.ts';
import { neighbourMacs, nodesOfMacs } from '../cluster/owners.ts';
import { httpProbe, probeArgs, type ProbeResult, type RunningClient } from '../cluster/clients.ts';
import { Netns } from '../cluster/netns.ts';
import { isMetalLB, METALLB_GROUP, METALLB_NS } from './peers.ts';
import { alive, nsExec } from './proc.ts';
import { routerRoutes } from './router-daemon.ts';
import type { LabContext } from './state.ts';
import { kubeVipAnnouncements } from './kube-vip-node.ts';

/** Who announces the Service (its ServiceAnnouncement status, or MetalLB's statuses). */
export async function labAnnouncements(lab: LabContext, name: string, namespace = 'default'): Promise<Announcement[]> {
  if (isMetalLB(lab.implementation)) return metallbAnnouncements(lab, name, namespace);
  if (lab.implementation === 'kube-vip') return kubeVipAnnouncements(lab, name, namespace);
  return (await readAnnouncement(lab.custom, name, namespace))?.announcements ?? [];
}

/** MetalLB's own statuses: ServiceL2Status (the announcing node) and ServiceBGPStatus (per node, its peers). */
async function metallbAnnouncements(lab: LabContext, name: string, namespace: string): Promise<Announcement[]> {
  const sel = `metallb.io/service-name=${name},metallb.io/service-namespace=${namespace}`;
  type St = { items: Array<{ status?: { node?: string; interfaces?: Array<{ name: string }>; peers?: string[] } }> };
  const list = (plural: string) => lab.custom.listNamespacedCustomObject({ group: METALLB_GROUP, version: 'v1beta1', namespace: METALLB_NS, plural, labelSelector: sel }) as Promise<St>;
  const [l2, bgp] = await Promise.all([list('servicel2statuses'), list('servicebgpstatuses')]);
  return [
    ...l2.items.filter((x) => x.status?.node).map((x) => ({ node: x.status?.node ?? '', mode: 'layer2', interfaces: (x.status?.interfaces ?? []).map((i) => i.name) })),
    ...bgp.items.filter((x) => x.status?.node).map((x) => ({ node: x.status?.node ?? '', mode: 'bgp', peers: x.status?.peers ?? [] })),
  ];
}

/** Next hops of one prefix at the router, mapped to node names ([] when absent). */
export async function routeNodes(lab: LabContext, prefix: string): Promise<string[]> {
  const r = (await routerRoutes(lab)).find((x) => x.prefix === prefix);
  return (r?.nextHops ?? []).map((h) => lab.plan.nodes.find((n) => n.ipv4 === h || n.ipv6 === h || (n.link !== undefined && h.endsWith(`%${n.link}`)))?.name ?? h).sort();
}

const clientNs = (lab: LabContext, from: 'lan' | 'ext'): string => (from === 'lan' ? lab.plan.clientNs : lab.plan.extClientNs);

/** Requests from a client namespace ("lan" on the nodes' segment, "ext" behind the router). */
export async function requests(lab: LabContext, from: 'lan' | 'ext', urls: string[], count: number, o: { intervalMs?: number; timeoutMs?: number } = {}): Promise<ProbeResult[]> {
  const out = await nsExec(clientNs(lab, from), process.execPath, probeArgs(urls, { count, intervalMs: o.intervalMs ?? 0, timeoutMs: o.timeoutMs ?? 1000, maxMs: 60_000 }), 90_000);
  return out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeResult);
}

/**
 * A probe running in the background (for failover measurements): a request every intervalMs,
 * results appended as they come. Ends by itself after maxMs; stop() ends it sooner.
 */
export function probe(lab: LabContext, from: 'lan' | 'ext', url: string, o: { intervalMs?: number; timeoutMs?: number; maxMs?: number } = {}): RunningClient<ProbeResult> {
  return httpProbe(Netns.existing(clientNs(lab, from)), url, { intervalMs: o.intervalMs ?? 20, timeoutMs: o.timeoutMs ?? 300, maxMs: o.maxMs ?? 60_000 });
}

/** Node names whose MAC answers ARP (IPv4) or NDP (IPv6) for ip, asked from the LAN client. */
export async function neighOwners(lab: LabContext, ip: string): Promise<string[]> {
  return nodesOfMacs(await neighbourMacs(Netns.existing(lab.plan.clientNs), ip), lab.state.macs, { onlyNodes: true });
}

/** Which daemons are alive. */
export function daemons(lab: LabContext): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const [k, pid] of Object.entries(lab.state.pids)) out[k] = alive(pid);
  return out;
}
