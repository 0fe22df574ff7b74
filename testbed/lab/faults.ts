// The lab's faults: a speaker crashing or stopping, a node powering off and coming back, a cable
// cut and mended. Each returns (or records) when it happened, for failover measurements.
import { frrPidKeys } from './metallb-frr.ts';
import { setSwitchPort } from './network.ts';
import { ensureFrr, ensureRelay, speakerPodKeys, speakerRunning, startBackend, startSpeaker, waitSpeaker } from './nodes.ts';
import { alive, nsIp, signal, waitGone } from './proc.ts';
import type { LabContext } from './state.ts';
import { setNodeLink } from './unnumbered.ts';

/** Forgets the daemons of `keys` and saves. */
function forget(lab: LabContext, keys: readonly string[]): void {
  for (const k of keys) delete lab.state.pids[k];
  lab.save();
}

const pidsOf = (lab: LabContext, keys: readonly string[]): number[] => keys.map((k) => lab.state.pids[k]).filter((x): x is number => x !== undefined);

/** Kills node i's speaker (SIGKILL by default: no goodbye). Returns the time of the kill. */
export async function killSpeaker(lab: LabContext, i: number, sig: NodeJS.Signals = 'SIGKILL'): Promise<number> {
  // MetalLB in FRR mode: a SIGKILL is the speaker container crashing (FRR in the Pod keeps its
  // sessions and routes); a SIGTERM is the Pod stopping, which stops its FRR and reloader too.
  const keys = speakerPodKeys(lab, i, sig !== 'SIGKILL');
  const pids = pidsOf(lab, keys);
  const t = Date.now();
  for (const p of pids) signal(p, sig);
  await waitGone(pids, 15_000);
  forget(lab, keys);
  return t;
}

/** Node i's cable (its switch port and, in unnumbered mode, its link to the router) up or down. */
async function cable(lab: LabContext, i: number, state: 'up' | 'down'): Promise<void> {
  const n = lab.node(i);
  await setSwitchPort(lab.plan, n, state);
  if (lab.plan.unnumbered) await setNodeLink(lab.plan, n, state);
  lab.state.cut = lab.state.cut.filter((x) => x !== n.name);
  if (state === 'down') lab.state.cut.push(n.name);
  lab.save();
}

/** A node stopping: its speaker and backend die and its link goes down. Returns the time. */
export async function killNode(lab: LabContext, i: number): Promise<number> {
  const n = lab.node(i);
  const t = Date.now();
  const keys = [`${n.name}-speaker`, `${n.name}-speaker-bgp`, `${n.name}-backend`, `${n.name}-relay`, ...frrPidKeys(n.name)];
  const pids = pidsOf(lab, keys);
  await cable(lab, i, 'down');
  // Process groups too (each daemon leads its own): the FRR reloader's `sleep` child dies with it.
  for (const p of pids) signal(-p, 'SIGKILL') || signal(p, 'SIGKILL');
  await waitGone(pids, 10_000);
  await forgetRuntimeAddresses(lab, i);
  forget(lab, keys);
  return t;
}

/**
 * A powered-off node comes back without what programs configured at run time: addresses a load
 * balancer put on eth0 (kube-vip's ARP leader adds its Service addresses there) are gone after
 * the reboot. The node's own addresses stay (its network configuration).
 */
async function forgetRuntimeAddresses(lab: LabContext, i: number): Promise<void> {
  const n = lab.node(i);
  const out = await nsIp(n.ns, '-j', 'addr', 'show', 'dev', 'eth0');
  const infos = (JSON.parse(out || '[]') as Array<{ addr_info?: Array<{ local?: string; prefixlen?: number; scope?: string }> }>).flatMap((x) => x.addr_info ?? []);
  for (const a of infos) {
    if (!a.local || a.scope === 'link' || a.local === n.ipv4 || a.local === n.ipv6) continue;
    await nsIp(n.ns, 'addr', 'del', `${a.local}/${a.prefixlen ?? (a.local.includes(':') ? 128 : 32)}`, 'dev', 'eth0').catch(() => undefined);
  }
}

/** Brings a killed node back: link up, backend, speaker; waits until the speaker runs. */
export async function reviveNode(lab: LabContext, i: number, timeoutMs = 120_000): Promise<void> {
  const n = lab.node(i);
  await healLink(lab, i);
  await ensureRelay(lab, i);
  if (lab.implementation === 'metallb-frr') await ensureFrr(lab, i);
  if (!alive(lab.state.pids[`${n.name}-backend`] ?? 0)) startBackend(lab, i);
  if (!speakerRunning(lab, i)) startSpeaker(lab, i);
  await waitSpeaker(lab, i, timeoutMs);
}

/** Cuts node i's cable: its switch port goes down (processes keep running). Returns the time. */
export async function cutLink(lab: LabContext, i: number): Promise<number> {
  const t = Date.now();
  await cable(lab, i, 'down');
  return t;
}

export async function healLink(lab: LabContext, i: number): Promise<void> {
  await cable(lab, i, 'up');
}
