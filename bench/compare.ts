// ironlb next to the load balancers it replaces, measured in one run on the same machine: one lab
// per implementation (testbed/lab, --implementation), the same topology, pools, Services, backends
// and router, with rounds interleaved across the implementations so that a busy spell of the shared
// machine hits each of them alike.
//
// Rows (see docs/performance.md for what each means and the figures):
//   l2-failover   a Layer 2 Service's owner node fails (power-off: link down and every process of the
//                 node killed; speaker SIGKILLed; link cut; graceful speaker stop, SIGTERM); the LAN
//                 client opens a new TCP connection every 20 ms (300 ms timeout); outage = time from the
//                 failure to the first answer through another node, and the requests that failed.
//   bgp-failover  the same failures for a BGP Service: time until the router's kernel route no
//                 longer names the failed node. With BFD (100 ms x 3): ironlb and MetalLB in FRR mode
//                 (metallb-frr); without: ironlb-nobfd (ironlb's lab with --no-bfd; this row only),
//                 MetalLB native and kube-vip (neither has BFD), so the 9 s hold time decides.
//   allocation    N LoadBalancer Services (--services, e.g. 1000,10000) created (16 at a time) against
//                 the lab's API server: time until all have addresses, and the controller's CPU time and peak RSS.
//   speakers      each node's speaker CPU and RSS (its whole "Pod": in FRR mode also the FRR daemons
//                 and the reloader), sampled from /proc every 500 ms, idle and during every row.
//   spread        30 and 300 Layer 2 Services (IPv6, a pool in the nodes' subnet) over 3 nodes: owners
//                 per node from each implementation's own status objects, max-min.
//   arp           ARP reply latency (arping from the LAN client, 200 requests 10 ms apart) of the
//                 Service address's responder, with the node kernel's answer for its own address as the floor.
//   ndp           the same for Neighbor Solicitations (bench/ndp-probe.ts from the LAN client) to an
//                 IPv6 Layer 2 Service address, with the owner node kernel's answer for its own IPv6 address.
//   (arp and ndp run --rounds times, interleaved across the implementations.)
// kube-vip (testbed/lab/kube-vip.ts) has no allocator of its own (kube-vip-cloud-provider cannot be
// built here): the lab gives its Services their addresses, so it has no allocation row.
//
// Usage: node bench/compare.ts [--rounds 3] [--services 1000,10000] [--rows l2-failover,bgp-failover,allocation]
//          [--impl ironlb,ironlb-nobfd,metallb,metallb-frr,kube-vip] [--json FILE] [--docs docs/performance.md] [--prefix ilbp]   (root; minutes per row)
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Lab, urlFor, type ProbeResult } from '../testbed/lab/index.ts';
import { ensurePeersBuilt, isMetalLB, kubectl, metallbObjects, parseImplementation, serviceAnnotations, unavailable, type Implementation } from '../testbed/lab/peers.ts';
import { waitFor } from '../test/support/wait.ts';
import { nsExec, nsIp } from '../testbed/lab/proc.ts';
import { settledOwner as settledOwnerOnWire } from '../testbed/cluster/owners.ts';
import { drawFigure } from './support/figures.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    services: { type: 'string', default: '1000' },
    rows: { type: 'string', default: 'arp,ndp,spread,l2-failover,bgp-failover,allocation' },
    impl: { type: 'string', default: 'ironlb,ironlb-nobfd,metallb,metallb-frr,kube-vip' },
    json: { type: 'string', default: '' },
    docs: { type: 'string', default: '' },
    // Namespace prefix of the labs (ilb + a letter: an engineer's or a test's own), then the net and the PID.
    prefix: { type: 'string', default: 'ilbp' },
  },
});
if (!/^ilb[a-z]$/.test(values.prefix)) throw new Error(`--prefix must be "ilb" and one letter, got "${values.prefix}"`);
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 100) throw new Error(`--rounds must be 1 to 100, got ${values.rounds}`);
const serviceCounts = values.services.split(',').map(Number);
if (serviceCounts.some((n) => !Number.isInteger(n) || n < 1 || n > 16_000) || serviceCounts.length > 3) throw new Error(`--services must list up to 3 counts of 1 to 16000, got ${values.services}`);
const rows = new Set(values.rows.split(','));
/** What a row compares: a lab implementation, or ironlb's lab without BFD (BGP failover only). */
type Contender = Implementation | 'ironlb-nobfd';
const labImpl = (c: Contender): Implementation => (c === 'ironlb-nobfd' ? 'ironlb' : c);
const impls: Contender[] = values.impl.split(',').map((s) => (s === 'ironlb-nobfd' ? s : parseImplementation(s)));
/** Which rows a contender runs: ironlb-nobfd differs from ironlb only in BGP failover; kube-vip has no allocator. */
const runsRow = (c: Contender, row: string): boolean => (c === 'ironlb-nobfd' ? row === 'bgp-failover' : !(c === 'kube-vip' && row === 'allocation'));
const FAILURES = ['power-off', 'speaker-kill', 'link-cut', 'graceful'] as const;
type Failure = (typeof FAILURES)[number];

const log = (s: string): void => {
  process.stderr.write(`[compare ${new Date().toISOString().slice(11, 19)} load ${loadavg()[0]!.toFixed(1)}] ${s}\n`);
};

// ---- process figures (/proc) ---------------------------------------------------------------------

const TICK_MS = 10; // USER_HZ is 100 on Linux
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS; // utime, stime
}
function memKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

/**
 * Each node's speaker "Pod" (Lab.speakerPodPids: the speaker, and in FRR mode its FRR daemons and
 * reloader) sampled every 500 ms while a row runs: CPU time per node (per PID, from the first to the
 * last time it was seen; a PID that appears mid-row counts from its start; up to 500 ms of a PID
 * killed between two samples is missed) and the summed RSS per node (peak and mean).
 */
interface SpeakerUse { impl: Contender; row: string; seconds: number; cpuMs: number[]; rssPeakKb: number[]; rssMeanKb: number[]; load1: number }

function sampleSpeakers(lab: Lab, impl: Contender, row: string): { stop: () => SpeakerUse } {
  const nodes = lab.plan.nodes.map((n) => n.index);
  const first = new Map<number, number>();
  const last = new Map<number, { node: number; cpu: number }>();
  const rss = nodes.map(() => [] as number[]);
  const t0 = Date.now();
  const load0 = loadavg()[0]!;
  const sample = (initial: boolean): void => {
    for (const i of nodes) {
      let sum = 0;
      for (const pid of lab.speakerPodPids(i)) {
        try {
          const c = cpuMs(pid);
          if (!first.has(pid)) first.set(pid, initial ? c : 0);
          last.set(pid, { node: i, cpu: c });
          sum += memKb(pid, 'VmRSS') || 0;
        } catch { /* gone between listing and reading */ }
      }
      if (sum > 0) rss[i]!.push(sum);
    }
  };
  sample(true);
  const timer = setInterval(() => sample(false), 500);
  return {
    stop: () => {
      clearInterval(timer);
      sample(false);
      const cpu = nodes.map(() => 0);
      for (const [pid, v] of last) cpu[v.node]! += v.cpu - (first.get(pid) ?? 0);
      return { impl, row, seconds: Math.round((Date.now() - t0) / 1000), cpuMs: cpu, rssPeakKb: rss.map((x) => (x.length ? Math.max(...x) : NaN)), rssMeanKb: rss.map((x) => (x.length ? x.reduce((a, y) => a + y, 0) / x.length : NaN)), load1: load0 };
    },
  };
}

/** Runs fn while the speakers of every bench are sampled; the figures go to report.speakers. */
async function sampled<T>(row: string, fn: () => Promise<T>): Promise<T> {
  const key = row.replace(/ \d+$/, '').replace('arp/ndp', 'arp');
  const ss = benches.filter((b) => runsRow(b.impl, key)).map((b) => sampleSpeakers(b.lab, b.impl, row));
  try {
    return await fn();
  } finally {
    for (const s of ss) {
      const u = s.stop();
      report.speakers.push(u);
      log(`speakers during ${row}, ${u.impl}: CPU ${u.cpuMs.join('/')} ms in ${u.seconds} s, RSS peak ${u.rssPeakKb.map((k) => (k / 1024).toFixed(0)).join('/')} MiB`);
    }
  }
}

// ---- statistics ----------------------------------------------------------------------------------

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
const range = (xs: number[]): [number, number] => (xs.length ? [Math.min(...xs), Math.max(...xs)] : [NaN, NaN]);

// ---- labs ----------------------------------------------------------------------------------------

interface Bench {
  impl: Contender;
  lab: Lab;
  parent: string;
  l2ip: string;
  bgpip: string;
  /** An IPv6 Layer 2 Service's address (the ndp row only). */
  l2ip6?: string;
}

/** The lab being brought up (Lab.up cleans up after its own failure, not after a SIGINT). */
let starting: { dir: string; prefix: string; parent: string } | undefined;
const NET: Record<Contender, number> = { ironlb: 181, metallb: 182, 'kube-vip': 183, 'metallb-frr': 184, 'ironlb-nobfd': 185 };

async function upLab(impl: Contender): Promise<Bench> {
  const parent = mkdtempSync(join(tmpdir(), 'ilbp-compare-'));
  chmodSync(parent, 0o755);
  // BFD (router and BGPPeers) where the implementation has it: ironlb and MetalLB in FRR mode.
  const prefix = `${values.prefix}${NET[impl]}c${process.pid % 10000}`;
  starting = { dir: join(parent, 'lab'), prefix, parent };
  const lab = await Lab.up({ prefix, dir: join(parent, 'lab'), net: NET[impl], implementation: labImpl(impl), bfd: impl === 'ironlb' || impl === 'metallb-frr', startTimeoutS: 180, progress: (s) => log(`${impl}: ${s}`) });
  starting = undefined;
  try {
    await lab.applyConfig();
    await lab.service('l2', { pool: 'lab-l2', family: 'IPv4' });
    await lab.service('bgp', { pool: 'lab-bgp', family: 'IPv4' });
    const [l2ip] = await lab.waitAddresses('l2', 1, 60_000);
    const [bgpip] = await lab.waitAddresses('bgp', 1, 60_000);
    const b: Bench = { impl, lab, parent, l2ip: l2ip!, bgpip: bgpip! };
    if (rows.has('ndp') && runsRow(impl, 'ndp')) {
      await lab.service('l2v6', { pool: 'lab-l2', family: 'IPv6' });
      b.l2ip6 = (await lab.waitAddresses('l2v6', 1, 60_000))[0]!;
    }
    return b;
  } catch (err) {
    await lab.destroy();
    rmSync(parent, { recursive: true, force: true });
    throw err;
  }
}

async function downLab(b: Bench): Promise<void> {
  await b.lab.destroy().catch(() => undefined);
  rmSync(b.parent, { recursive: true, force: true });
}

/** The Layer 2 owner once the wire (ARP from the LAN client) has named one node for 2 s. */
async function settledOwner(b: Bench): Promise<string> {
  return settledOwnerOnWire(b.l2ip, undefined, () => b.lab.neighOwners(b.l2ip), { timeoutMs: 90_000, stableMs: 2000, intervalMs: 300 }).catch((err: Error) => {
    throw new Error(`${b.impl}: ${err.message}`);
  });
}

async function fail(b: Bench, node: number, f: Failure): Promise<number> {
  switch (f) {
    case 'power-off': return b.lab.killNode(node);
    case 'speaker-kill': return b.lab.killSpeaker(node, 'SIGKILL');
    case 'link-cut': return b.lab.cutLink(node);
    case 'graceful': {
      const t = Date.now();
      await b.lab.killSpeaker(node, 'SIGTERM');
      return t;
    }
  }
}

async function restore(b: Bench, node: number, f: Failure): Promise<void> {
  if (f === 'link-cut') await b.lab.healLink(node);
  else await b.lab.reviveNode(node, 180_000);
}

interface FailoverSample { impl: Contender; failure: Failure; round: number; ms: number | null; failed: number; from: string; to?: string; error?: string; note?: string }

/**
 * kube-vip leaves a Service address on the eth0 of a leader that crashed (SIGKILL) or was cut off,
 * and does not remove it when it runs again without the Lease (measured: two nodes then answer ARP
 * for it, and the next round cannot find one owner). Before each round the bench removes it from
 * every node but the Lease holder, as an operator would, and the round's note says so.
 */
async function clearKubeVipStale(b: Bench): Promise<string[]> {
  if (b.impl !== 'kube-vip') return [];
  const holder = await waitFor(async () => (await b.lab.announcements('l2')).find((a) => a.mode === 'layer2')?.node, { what: 'kube-vip: a Lease holder for l2', timeoutMs: 60_000, intervalMs: 250 });
  const stale: string[] = [];
  for (const n of b.lab.plan.nodes) {
    if (n.name === holder) continue;
    const out = await nsIp(n.ns, '-j', 'addr', 'show', 'dev', 'eth0');
    if (!out.includes(`"${b.l2ip}"`)) continue;
    await nsIp(n.ns, 'addr', 'del', `${b.l2ip}/32`, 'dev', 'eth0');
    stale.push(n.name);
  }
  if (stale.length) log(`kube-vip: ${b.l2ip} was left on ${stale.join(', ')} (not the Lease holder ${holder}): removed before the round`);
  return stale;
}

async function l2Round(b: Bench, f: Failure, round: number): Promise<FailoverSample> {
  const stale = await clearKubeVipStale(b);
  const note = stale.length ? 'the address was left on a node that no longer held the Lease (after a crash or a cut), so two nodes answered ARP; the bench removed it before the next round' : undefined;
  await settledOwner(b);
  const probe = b.lab.probe('lan', urlFor(b.l2ip, b.lab.plan.appPort), { intervalMs: 20, timeoutMs: 300, maxMs: 90_000 });
  let node = -1;
  try {
    // The node that serves the client is the one to fail: its last 5 answers came from it (the
    // client's ARP entry may lag the owner on the wire by a moment after a revive).
    const owner = await waitFor(() => {
      const last = probe.results.slice(-5);
      return last.length === 5 && last.every((r) => r.node && r.node === last[0]!.node) ? last[0]!.node : undefined;
    }, { what: `${b.impl}: the probe answered by one node 5 times in a row`, timeoutMs: 30_000, intervalMs: 50 });
    node = b.lab.node(owner).index;
    const t0 = await fail(b, node, f);
    const r = await waitFor(() => probe.results.find((x) => x.t >= t0 && x.node !== undefined && x.node !== owner), { what: `${b.impl}: an answer from a node other than ${owner} after ${f}`, timeoutMs: 75_000, intervalMs: 20 }).catch(() => undefined);
    const failed = probe.results.filter((x) => x.t >= t0 && (!r || x.t < r.t) && x.err).length;
    return { impl: b.impl, failure: f, round, ms: r ? r.t - t0 : null, failed, from: owner, ...(r?.node ? { to: r.node } : {}), ...(note ? { note: `before this round: ${note}` } : {}) };
  } finally {
    probe.stop();
    if (node >= 0) await restore(b, node, f);
  }
}

/** One round; a round that cannot run (the lab misbehaves under load) is recorded, not fatal. */
async function guarded(b: Bench, f: Failure, round: number, fn: (b: Bench, f: Failure, round: number) => Promise<FailoverSample>): Promise<FailoverSample> {
  try {
    return await fn(b, f, round);
  } catch (err) {
    log(`${b.impl} ${f} round ${round} could not run: ${(err as Error).message}`);
    // Bring every node back before the next round.
    for (const n of b.lab.plan.nodes) await b.lab.reviveNode(n.index, 180_000).catch(() => undefined);
    return { impl: b.impl, failure: f, round, ms: null, failed: 0, from: '', error: (err as Error).message };
  }
}

async function bgpRound(b: Bench, f: Failure, round: number): Promise<FailoverSample> {
  const prefix = `${b.bgpip}/32`;
  const all = b.lab.plan.nodes.map((n) => n.name);
  await waitFor(async () => JSON.stringify(await b.lab.routeNodes(prefix)) === JSON.stringify(all), { what: `${b.impl}: router next hops for ${prefix} on every node`, timeoutMs: 120_000, intervalMs: 250 });
  const victim = b.lab.plan.nodes[round % b.lab.plan.nodes.length]!;
  // MetalLB in FRR mode: a speaker crash leaves the Pod's FRR running with its sessions and routes
  // (by design: the node still forwards), so the route stays; 15 s shows it without wasting minutes.
  const keeps = b.impl === 'metallb-frr' && f === 'speaker-kill';
  const t0 = await fail(b, victim.index, f);
  let ms: number | null = null;
  try {
    // Polled every 20 ms: the router's kernel table is what traffic follows.
    await waitFor(async () => !(await b.lab.routeNodes(prefix)).includes(victim.name), { what: `${b.impl}: ${victim.name} gone from the route`, timeoutMs: keeps ? 15_000 : 120_000, intervalMs: 20 });
    ms = Date.now() - t0;
  } catch { /* null: not withdrawn in time */ }
  await restore(b, victim.index, f);
  return { impl: b.impl, failure: f, round, ms, failed: 0, from: victim.name, ...(keeps && ms === null ? { note: 'FRR kept announcing for 15 s (the Pod\'s FRR outlives a speaker crash)' } : {}) };
}

interface AllocationSample { error?: string; impl: Contender; services: number; createMs: number; afterLastCreateMs: number | null; allAddressedMs: number | null; controllerCpuMs: number; controllerPeakRssKb: number; speakerCpuMs: number[]; speakerRssKb: number[] }

async function allocation(b: Bench, count: number): Promise<AllocationSample> {
  const lab = b.lab;
  const ns = `alloc${count}`;
  await lab.core.createNamespace({ body: { metadata: { name: ns } } });
  // A pool of 16,384 addresses per count (pools may not overlap: ironlb refuses the second one),
  // announced by nobody (no advertisement): only IPAM runs.
  const cidr = `10.${lab.plan.net}.${64 * (1 + serviceCounts.indexOf(count))}.0/18`;
  if (isMetalLB(lab.implementation)) {
    await kubectl(lab.dir, ['apply', '--server-side', '-f', '-'], metallbObjects({ pools: [{ name: `bulk${count}`, addresses: [cidr], autoAssign: false }], l2: [], bgp: [], peers: [] }).map((o) => JSON.stringify(o)).join('\n'));
  } else {
    await lab.apply('IPPool', `bulk${count}`, { addresses: [cidr], autoAssign: false });
  }
  const ctrl = lab.state.pids.controller!;
  const cpu0 = cpuMs(ctrl);
  const speakers = sampleSpeakers(lab, b.impl, `allocation ${count}`);
  const t0 = Date.now();
  const ann = serviceAnnotations(lab.implementation, { pool: `bulk${count}` });
  let next = 0;
  let createError: string | undefined;
  // No node ports: the default range (30000-32767) holds 2,768, and the 2,769th LoadBalancer Service
  // with node ports is refused ("failed to allocate a nodePort: range is full").
  await Promise.all(Array.from({ length: 16 }, async () => {
    for (let guard = 0; guard < count && next < count && !createError; guard++) {
      const i = next++;
      await lab.core.createNamespacedService({ namespace: ns, body: { metadata: { name: `s${i}`, annotations: ann }, spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4'], ports: [{ port: 80, protocol: 'TCP' }], selector: { app: `s${i}` } } } })
        .catch((err: unknown) => { createError ??= `creating Service s${i}: ${(err as Error).message.split('\n').slice(0, 3).join(' ')}`; });
    }
  }));
  if (createError) log(`${b.impl}: ${createError}`);
  const createMs = Date.now() - t0;
  let allAddressedMs: number | null = null;
  if (!createError) try {
    await waitFor(async () => {
      const l = await lab.core.listNamespacedService({ namespace: ns });
      return l.items.filter((s) => s.status?.loadBalancer?.ingress?.length).length === count;
      // Listing 10,000 Services is itself work for the API server: poll large counts less often.
    }, { what: `${b.impl}: ${count} Services with addresses`, timeoutMs: 120_000 + count * 50, intervalMs: count > 2000 ? 1000 : 250 });
    allAddressedMs = Date.now() - t0;
  } catch (err) {
    log(`${b.impl}: ${(err as Error).message}`);
  }
  const su = speakers.stop();
  report.speakers.push(su);
  const s = { ...(createError ? { error: createError } : {}), impl: b.impl, services: count, createMs, allAddressedMs, afterLastCreateMs: allAddressedMs === null ? null : allAddressedMs - createMs, controllerCpuMs: cpuMs(ctrl) - cpu0, controllerPeakRssKb: memKb(ctrl, 'VmHWM'), speakerCpuMs: su.cpuMs, speakerRssKb: su.rssPeakKb };
  // Removing the namespace deletes its Services (kube-controller-manager's namespace controller).
  await lab.core.deleteNamespace({ name: ns });
  return s;
}

interface SpreadSample { impl: Contender; services: number; perNode: Record<string, number>; maxMinusMin: number; unannounced: number }

async function spreadRow(b: Bench, count: number): Promise<SpreadSample> {
  const lab = b.lab;
  const ns = `spread${count}`;
  const v6 = `fd00:${lab.plan.net.toString(16)}`;
  // IPv6: 300 addresses do not fit the IPv4 LAN's spare room; the pool sits in the nodes' subnet.
  const pool = `spread${count}`;
  // A range of its own per row: pools may not overlap (ironlb refuses the second one).
  const base = count === 30 ? 0x1000 : 0x2000;
  const addresses = [`${v6}::${base.toString(16)}-${v6}::${(base + 0xfff).toString(16)}`];
  await lab.core.createNamespace({ body: { metadata: { name: ns } } });
  // Pods (the backends) are refused until kube-controller-manager has made the namespace's default ServiceAccount.
  await waitFor(() => lab.core.readNamespacedServiceAccount({ name: 'default', namespace: ns }).then(() => true, () => false), { what: `the default ServiceAccount of ${ns}`, timeoutMs: 60_000, intervalMs: 200 });
  if (lab.implementation === 'metallb') {
    await kubectl(lab.dir, ['apply', '--server-side', '-f', '-'], metallbObjects({ pools: [{ name: pool, addresses, autoAssign: false }], l2: [{ name: pool, pools: [pool] }], bgp: [], peers: [] }).map((o) => JSON.stringify(o)).join('\n'));
  } else if (lab.implementation !== 'kube-vip') {
    await lab.apply('IPPool', pool, { addresses, autoAssign: false });
    await lab.apply('L2Advertisement', pool, { pools: [pool] });
  }
  const names = Array.from({ length: count }, (_, i) => `s${i}`);
  let next = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    for (let guard = 0; guard < count && next < count; guard++) {
      const name = names[next++]!;
      // One backend (ETP Cluster: every node may announce it); both implementations skip Services without one.
      // kube-vip has no allocator here: the address is the Service's index in the range.
      const ips = lab.implementation === 'kube-vip' ? [`${v6}::${(base + names.indexOf(name)).toString(16)}`] : undefined;
      await lab.service(name, { pool, family: 'IPv6', namespace: ns, endpointNodes: [lab.plan.nodes[0]!.name], ...(ips ? { ips } : {}) });
    }
  }));
  const perNode: Record<string, number> = Object.fromEntries(lab.plan.nodes.map((n) => [n.name, 0]));
  let unannounced = count;
  // Settled: every Service announced and the owners unchanged for 5 s (a speaker may still be
  // rebalancing after the last Service arrived).
  let last = '';
  let since = 0;
  await waitFor(async () => {
    const owners = await Promise.all(names.map(async (n) => (await lab.announcements(n, ns)).find((a) => a.mode === 'layer2')?.node));
    for (const k of Object.keys(perNode)) perNode[k] = 0;
    for (const o of owners) if (o) perNode[o] = (perNode[o] ?? 0) + 1;
    unannounced = owners.filter((o) => !o).length;
    const key = owners.join(',');
    if (key !== last) {
      last = key;
      since = Date.now();
    }
    return unannounced === 0 && Date.now() - since >= 5000;
  }, { what: `${b.impl}: all ${count} spread Services announced, owners unchanged for 5 s`, timeoutMs: 10 * 60_000, intervalMs: 1000 }).catch((err: Error) => log(err.message));
  await lab.core.deleteNamespace({ name: ns });
  const v = Object.values(perNode);
  return { impl: b.impl, services: count, perNode, maxMinusMin: Math.max(...v) - Math.min(...v), unannounced };
}

interface ArpSample { impl: Contender; round: number; load1: number; responder: string; n: number; p50us: number; p99us: number; lost: number }

/** arping's reply times (µs) to ip from the LAN client. */
async function arping(lab: Lab, ip: string, count: number): Promise<{ us: number[]; lost: number }> {
  let out = '';
  try {
    out = await nsExec(lab.plan.clientNs, 'arping', ['-i', 'eth0', '-c', String(count), '-W', '0.01', '-w', String(Math.ceil(count / 50) + 5), ip], 60_000);
  } catch (err) {
    out = (err as Error).message; // arping exits 1 when a reply was lost; the lines are still there
  }
  const us = [...out.matchAll(/time=([\d.]+) (usec|msec|sec)/g)].map((m) => Number(m[1]) * (m[2] === 'usec' ? 1 : m[2] === 'msec' ? 1000 : 1e6));
  return { us, lost: count - us.length };
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN;
}

async function arpRow(b: Bench, count: number, round: number): Promise<ArpSample[]> {
  const owner = await settledOwner(b);
  const node = b.lab.node(owner);
  const load1 = loadavg()[0]!;
  const svc = await arping(b.lab, b.l2ip, count);
  const kernel = await arping(b.lab, node.ipv4, count);
  return [
    { impl: b.impl, round, load1, responder: `${b.impl} speaker (${owner})`, n: svc.us.length, p50us: pct(svc.us, 0.5), p99us: pct(svc.us, 0.99), lost: svc.lost },
    { impl: b.impl, round, load1, responder: `Linux kernel (${owner}'s own address)`, n: kernel.us.length, p50us: pct(kernel.us, 0.5), p99us: pct(kernel.us, 0.99), lost: kernel.lost },
  ];
}

const NDP_PROBE = join(import.meta.dirname, 'ndp-probe.ts');

/** bench/ndp-probe.ts from the LAN client: reply times (µs) for `ip`, and the MACs that answered. */
async function ndping(lab: Lab, ip: string, count: number): Promise<{ us: number[]; lost: number; macs: string[] }> {
  const out = await nsExec(lab.plan.clientNs, process.execPath, [NDP_PROBE, 'eth0', lab.plan.client6, ip, String(count), '10', '200'], 120_000);
  return JSON.parse(out.trim().split('\n').pop()!) as { us: number[]; lost: number; macs: string[] };
}

async function ndpRow(b: Bench, count: number, round: number): Promise<ArpSample[]> {
  const ip = b.l2ip6;
  if (!ip) throw new Error('the ndp row needs the IPv6 Layer 2 Service (upLab makes it when --rows has ndp)');
  // The owner, from the answers' link-layer addresses: one node answering 10 solicitations in a row.
  const byMac = new Map(Object.entries(b.lab.state.macs).map(([node, mac]) => [mac, node]));
  const owner = await waitFor(async () => {
    const p = await ndping(b.lab, ip, 10);
    return p.lost === 0 && p.macs.length === 1 ? byMac.get(p.macs[0]!) : undefined;
  }, { what: `${b.impl}: one node answering NDP for ${ip}`, timeoutMs: 90_000, intervalMs: 500 });
  const node = b.lab.node(owner);
  const load1 = loadavg()[0]!;
  const svc = await ndping(b.lab, ip, count);
  const kernel = await ndping(b.lab, node.ipv6, count);
  return [
    { impl: b.impl, round, load1, responder: `${b.impl} speaker (${owner})`, n: svc.us.length, p50us: pct(svc.us, 0.5), p99us: pct(svc.us, 0.99), lost: svc.lost },
    { impl: b.impl, round, load1, responder: `Linux kernel (${owner}'s own address)`, n: kernel.us.length, p50us: pct(kernel.us, 0.5), p99us: pct(kernel.us, 0.99), lost: kernel.lost },
  ];
}

interface IdleSample { impl: Contender; seconds: number; speakerCpuMs: number[]; speakerRssKb: number[]; controllerCpuMs: number; controllerRssKb: number }

async function idle(b: Bench, seconds: number): Promise<IdleSample> {
  const lab = b.lab;
  // kube-vip has no controller.
  const ctrl = lab.state.pids.controller;
  const c0 = ctrl ? cpuMs(ctrl) : NaN;
  const sp = sampleSpeakers(lab, b.impl, 'idle');
  const t0 = Date.now();
  // Idle means: no change to the cluster while the interval passes (a deadline, not synchronisation).
  await waitFor(() => Date.now() - t0 >= seconds * 1000, { what: 'the idle interval', timeoutMs: seconds * 1000 + 5000, intervalMs: 250 });
  const u = sp.stop();
  report.speakers.push(u);
  return { impl: b.impl, seconds, speakerCpuMs: u.cpuMs, speakerRssKb: u.rssPeakKb, controllerCpuMs: ctrl ? cpuMs(ctrl) - c0 : NaN, controllerRssKb: ctrl ? memKb(ctrl, 'VmRSS') : NaN };
}

// ---- report --------------------------------------------------------------------------------------

interface Report {
  startedAt: string;
  command: string;
  machine: { cores: number; loadavgStart: number[]; loadavgEnd?: number[] };
  unavailable: Record<string, string>;
  l2: FailoverSample[];
  bgp: FailoverSample[];
  allocation: AllocationSample[];
  idle: IdleSample[];
  spread: SpreadSample[];
  arp: ArpSample[];
  ndp?: ArpSample[];
  /** Speaker Pods' CPU and RSS per row (sampleSpeakers). */
  speakers: SpeakerUse[];
}

const fmt = (x: number | null | undefined, unit = ''): string => (x === null || x === undefined || Number.isNaN(x) ? 'n/a' : `${Math.round(x)}${unit}`);

function failoverTable(title: string, samples: FailoverSample[], note: string): string {
  const l: string[] = [`### ${title}`, '', note, '', '| failure | implementation | n | median ms | range ms | failed requests (median) | not recovered |', '|---|---|---|---|---|---|---|'];
  for (const f of FAILURES) {
    for (const impl of impls) {
      const xs = samples.filter((s) => s.failure === f && s.impl === impl);
      if (!xs.length) continue;
      const ok = xs.map((s) => s.ms).filter((x): x is number => x !== null);
      const [lo, hi] = range(ok);
      const ran = xs.filter((s) => !s.error);
      l.push(`| ${f} | ${impl} | ${ran.length}${ran.length < xs.length ? ` (+${xs.length - ran.length} could not run)` : ''} | ${fmt(median(ok))} | ${fmt(lo)}–${fmt(hi)} | ${fmt(median(ran.map((s) => s.failed)))} | ${ran.length - ok.length} |`);
    }
  }
  return l.join('\n');
}

/** The per-round plot of a failover row (bench/support/figures.ts), with this run's provenance. */
function failoverSvg(file: string, title: string, samples: FailoverSample[], r: Report): string {
  const info = { command: r.command, date: r.startedAt.slice(0, 10), loadStart: r.machine.loadavgStart[0] ?? NaN, ...(r.machine.loadavgEnd ? { loadEnd: r.machine.loadavgEnd[0] } : {}) };
  const data = samples.map((s) => ({ failure: s.failure, impl: s.impl, ms: s.ms }));
  return drawFigure('compareFailoverPlots', file, title, data, FAILURES, impls, info)[0]!.svg;
}

function markdown(r: Report): string {
  const l: string[] = [];
  l.push(`Measured by \`${r.command}\` on ${r.startedAt.slice(0, 10)} (${r.machine.cores} cores; load average ${r.machine.loadavgStart.map((x) => x.toFixed(1)).join(' / ')} at the start, ${(r.machine.loadavgEnd ?? []).map((x) => x.toFixed(1)).join(' / ')} at the end: the machine was shared with other work, so compare only figures from this run).`, '');
  for (const [k, v] of Object.entries(r.unavailable)) l.push(`- **${k}: not measured.** ${v}`);
  if (Object.keys(r.unavailable).length) l.push('');
  const latency = (title: string, how: string, xs: ArpSample[]): void => {
    l.push(`### ${title}`, '', how, '', '| round | load (1 min) | responder | replies | p50 µs | p99 µs | lost |', '|---|---|---|---|---|---|---|');
    for (const a of xs) l.push(`| ${a.round ?? 0} | ${a.load1?.toFixed(1) ?? 'n/a'} | ${a.responder} | ${a.n} | ${fmt(a.p50us)} | ${fmt(a.p99us)} | ${a.lost} |`);
    l.push('');
    // Medians over the rounds, per responder kind.
    const kinds = [...new Set(xs.map((a) => `${a.impl}|${a.responder.startsWith('Linux') ? 'kernel' : 'speaker'}`))];
    if (xs.length > kinds.length) {
      l.push('| responder | rounds | p50 µs, median (range) | p99 µs, median (range) |', '|---|---|---|---|');
      for (const k of kinds) {
        const [impl, who] = k.split('|');
        const ys = xs.filter((a) => a.impl === impl && (who === 'kernel') === a.responder.startsWith('Linux'));
        const [p50lo, p50hi] = range(ys.map((a) => a.p50us));
        const [p99lo, p99hi] = range(ys.map((a) => a.p99us));
        l.push(`| ${who === 'kernel' ? `Linux kernel (${impl} lab)` : `${impl} speaker`} | ${ys.length} | ${fmt(median(ys.map((a) => a.p50us)))} (${fmt(p50lo)}–${fmt(p50hi)}) | ${fmt(median(ys.map((a) => a.p99us)))} (${fmt(p99lo)}–${fmt(p99hi)}) |`);
      }
      l.push('');
    }
  };
  if (r.arp.length) latency('ARP reply latency', 'arping from the LAN client, 200 requests 10 ms apart: the Service address (answered by the implementation\'s responder on the owner node) and the owner node\'s own address (answered by the Linux kernel: the floor).', r.arp);
  if (r.ndp?.length) latency('NDP reply latency', '`bench/ndp-probe.ts` from the LAN client, 200 Neighbor Solicitations 10 ms apart, each as the kernel sends one (to the solicited-node group, with a source link-layer option), timed in C as arping times (send, poll, receive) until the Neighbor Advertisement arrives: an IPv6 Layer 2 Service address (the implementation\'s responder on the owner node) and the owner node\'s own IPv6 address (the Linux kernel: the floor).', r.ndp);
  if (r.spread.length) {
    l.push('### Spread of Layer 2 Services over 3 nodes', '', 'IPv6 Services from one pool, owners counted from each implementation\'s own status objects (ironlb ServiceAnnouncement, MetalLB ServiceL2Status, kube-vip\'s kube-vip.io/vipHost annotation; kube-vip\'s addresses given by the bench in order).', '', '| Services | implementation | per node | max − min | not announced |', '|---|---|---|---|---|');
    for (const x of r.spread) l.push(`| ${x.services} | ${x.impl} | ${Object.values(x.perNode).join(' / ')} | ${x.maxMinusMin} | ${x.unannounced} |`);
    l.push('');
  }
  if (r.l2.length) {
    const staleRounds = r.l2.filter((x) => x.impl === 'kube-vip' && x.note).length;
    l.push(failoverTable('Layer 2 failover (client-observed)', r.l2, `The LAN client opens a new TCP connection to the Service address every 20 ms (300 ms timeout). Time from the failure to the first answer through another node; "failed requests" are those in between. A speaker kill or a graceful stop leaves the old node\'s backend running, so requests may keep succeeding there until the new owner\'s gratuitous ARP moves the client.${staleRounds ? ` kube-vip: before ${staleRounds} of its rounds the address was still on a node that no longer held the Lease (left there by a crash or a cut link; kube-vip did not remove it when it ran again), so two nodes answered ARP for it; the bench removed it before the round.` : ''}`));
    l.push('', '![Layer 2 failover per round](performance-compare-l2.svg)', '');
  }
  if (r.bgp.length) {
    const notes = [...new Set(r.bgp.filter((x) => x.note).map((x) => `${x.impl} ${x.failure}: ${x.note}`))];
    l.push(failoverTable('BGP failover (router)', r.bgp, `Time from the failure until the router's kernel route for the Service no longer names the failed node (polled every 20 ms). With BFD (100 ms × 3, BIRD at the router): ironlb, and MetalLB in FRR mode (metallb-frr: MetalLB's speaker writing FRR's configuration, Debian's FRR 8.4 zebra/bgpd/staticd/bfdd per node, a BFDProfile). Without BFD, so the hold time (9 s, keepalive 3 s) decides: ironlb-nobfd (ironlb's lab with \`--no-bfd\`), MetalLB native mode and kube-vip (neither has BFD). A graceful stop of a MetalLB FRR-mode speaker stops its whole Pod (FRR included); a speaker kill is the speaker container alone crashing.${notes.length ? ` ${notes.join('; ')}.` : ''}`));
    l.push('', '![BGP failover per round](performance-compare-bgp.svg)', '');
  }
  if (r.allocation.length) {
    l.push('### Allocation', '', 'Services created 16 at a time against each lab\'s own API server; time from the first create until every Service has an address; CPU time and peak RSS of the controller over the row; speaker CPU over the row (they watch every Service).', '');
    l.push('| Services | implementation | create ms | all addressed ms | after the last create ms | controller CPU ms | controller peak RSS MiB | speaker CPU ms (each) |', '|---|---|---|---|---|---|---|---|');
    for (const a of r.allocation) l.push(`| ${a.services} | ${a.impl} | ${a.createMs} | ${fmt(a.allAddressedMs)} | ${fmt(a.afterLastCreateMs)} | ${a.controllerCpuMs} | ${(a.controllerPeakRssKb / 1024).toFixed(0)} | ${a.speakerCpuMs.join(', ')} |`);
    for (const n of serviceCounts) {
      const [a, m] = [r.allocation.find((x) => x.impl === 'ironlb' && x.services === n), r.allocation.find((x) => x.impl === 'metallb' && x.services === n)];
      if (a?.allAddressedMs && m?.allAddressedMs) l.push('', `Ratio MetalLB / ironlb at ${n} Services: time ${(m.allAddressedMs / a.allAddressedMs).toFixed(2)}×, controller CPU ${(m.controllerCpuMs / Math.max(1, a.controllerCpuMs)).toFixed(2)}×, peak RSS ${(m.controllerPeakRssKb / a.controllerPeakRssKb).toFixed(2)}×.`);
    }
    l.push('');
  }
  if (r.speakers.length) {
    l.push('### Speakers: CPU and RSS per row', '', 'Each node\'s speaker "Pod" sampled from /proc every 500 ms while the row ran (ironlb: the speaker process; MetalLB native: the speaker; MetalLB FRR mode: the speaker, zebra, bgpd, staticd, bfdd and the reloader; kube-vip: its ARP and its BGP process). CPU % is of one core, per node, averaged over the row; the failover rows kill and restart speakers, so their CPU includes start-ups.', '');
    l.push('| row | implementation | load (1 min) at start | seconds | CPU ms per node | CPU % of a core (node mean) | RSS MiB per node, peak | RSS MiB, mean of nodes |', '|---|---|---|---|---|---|---|---|');
    for (const u of r.speakers) {
      const mean = u.cpuMs.reduce((a, x) => a + x, 0) / Math.max(1, u.cpuMs.length);
      const rssMean = u.rssMeanKb.filter((x) => !Number.isNaN(x));
      l.push(`| ${u.row} | ${u.impl} | ${u.load1.toFixed(1)} | ${u.seconds} | ${u.cpuMs.join(', ')} | ${((mean / Math.max(1, u.seconds * 1000)) * 100).toFixed(2)} | ${u.rssPeakKb.map((k) => (k / 1024).toFixed(0)).join(', ')} | ${(rssMean.reduce((a, x) => a + x, 0) / Math.max(1, rssMean.length) / 1024).toFixed(0)} |`);
    }
    l.push('');
  }
  if (r.idle.length) {
    l.push('### Idle', '', '| implementation | seconds | speaker CPU ms (each) | speaker RSS MiB (each) | controller CPU ms | controller RSS MiB |', '|---|---|---|---|---|---|');
    for (const s of r.idle) l.push(`| ${s.impl} | ${s.seconds} | ${s.speakerCpuMs.join(', ')} | ${s.speakerRssKb.map((k) => (k / 1024).toFixed(0)).join(', ')} | ${fmt(s.controllerCpuMs)} | ${fmt(s.controllerRssKb / 1024)} |`);
    l.push('');
  }
  return l.join('\n');
}

const BEGIN = '<!-- compare:begin (bench/compare.ts writes this section) -->';
const END = '<!-- compare:end -->';

function writeDocs(file: string, r: Report): void {
  const cur = existsSync(file) ? readFileSync(file, 'utf8') : '# Performance\n';
  const section = `${BEGIN}\n## ironlb, MetalLB and kube-vip side by side\n\n${markdown(r)}\n${END}`;
  const next = cur.includes(BEGIN) && cur.includes(END) ? cur.slice(0, cur.indexOf(BEGIN)) + section + cur.slice(cur.indexOf(END) + END.length) : `${cur.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
  const dir = join(file, '..');
  // A row where no round recovered has nothing to plot (the table says so).
  if (r.l2.some((s) => s.ms !== null)) writeFileSync(join(dir, 'performance-compare-l2.svg'), failoverSvg('performance-compare-l2.svg', 'Layer 2 failover: client-observed outage', r.l2, r));
  if (r.bgp.some((s) => s.ms !== null)) writeFileSync(join(dir, 'performance-compare-bgp.svg'), failoverSvg('performance-compare-bgp.svg', 'BGP failover: until the router drops the failed node', r.bgp, r));
}

// ---- main ----------------------------------------------------------------------------------------

const report: Report = { startedAt: new Date().toISOString(), command: `node bench/compare.ts ${process.argv.slice(2).join(' ')}`.trim(), machine: { cores: (await import('node:os')).cpus().length, loadavgStart: loadavg() }, unavailable: {}, l2: [], bgp: [], allocation: [], idle: [], spread: [], arp: [], speakers: [] };
const runnable: Contender[] = [];
for (const i of impls) {
  const why = unavailable(labImpl(i));
  if (why) report.unavailable[i] = why;
  else runnable.push(i);
}
if (runnable.some((i) => i === 'metallb' || i === 'metallb-frr' || i === 'kube-vip')) await ensurePeersBuilt(log);
const benches: Bench[] = [];
const finish = async (): Promise<void> => {
  for (const b of benches.splice(0)) await downLab(b);
  if (starting) {
    await Lab.down(starting.dir, starting.prefix).catch(() => undefined);
    rmSync(starting.parent, { recursive: true, force: true });
  }
};
/** Written also when a row failed or the run was interrupted: what was measured is kept. */
const writeReport = (): void => {
  report.machine.loadavgEnd = loadavg();
  const json = values.json || join(tmpdir(), `ironlb-compare-${Date.now()}.json`);
  writeFileSync(json, JSON.stringify(report, null, 2));
  process.stdout.write(`${markdown(report)}\nJSON: ${json}\n`);
  if (values.docs) writeDocs(values.docs, report);
};
process.once('SIGINT', () => void finish().then(() => {
  writeReport();
  process.exit(130);
}));
try {
  // One lab at a time is brought up (two at once would slow each other's start), then all stay up.
  for (const i of runnable) benches.push(await upLab(i));
  for (const b of benches) if (runsRow(b.impl, 'idle')) report.idle.push(await idle(b, 20));
  if (rows.has('arp') || rows.has('ndp')) await sampled('arp/ndp', async () => {
  for (let round = 0; round < rounds; round++) {
    for (const b of benches) {
      if (rows.has('arp') && runsRow(b.impl, 'arp')) {
        const xs = await arpRow(b, 200, round);
        for (const x of xs) log(`arp round ${round} ${x.responder}: p50 ${x.p50us} µs, p99 ${x.p99us} µs, ${x.lost} lost`);
        report.arp.push(...xs);
      }
      if (rows.has('ndp') && runsRow(b.impl, 'ndp')) {
        const xs = await ndpRow(b, 200, round);
        for (const x of xs) log(`ndp round ${round} ${x.responder}: p50 ${x.p50us.toFixed(0)} µs, p99 ${x.p99us.toFixed(0)} µs, ${x.lost} lost`);
        (report.ndp ??= []).push(...xs);
      }
    }
  }
  });
  if (rows.has('spread')) {
    for (const n of [30, 300]) await sampled(`spread ${n}`, async () => {
      for (const b of benches) {
        if (!runsRow(b.impl, 'spread')) continue;
        const s = await spreadRow(b, n);
        log(`spread ${n} ${b.impl}: ${JSON.stringify(s.perNode)} (max-min ${s.maxMinusMin}, unannounced ${s.unannounced})`);
        report.spread.push(s);
      }
    });
  }
  if (rows.has('l2-failover')) await sampled('l2-failover', async () => {
    for (let round = 0; round < rounds; round++) {
      for (const f of FAILURES) {
        for (const b of benches) {
          if (!runsRow(b.impl, 'l2-failover')) continue;
          const s = await guarded(b, f, round, l2Round);
          log(`l2 ${f} round ${round} ${b.impl}: ${s.ms ?? 'not recovered'} ms, ${s.failed} failed (${s.from} -> ${s.to ?? '?'})`);
          report.l2.push(s);
        }
      }
    }
  });
  if (rows.has('bgp-failover')) await sampled('bgp-failover', async () => {
    for (let round = 0; round < rounds; round++) {
      for (const f of FAILURES) {
        for (const b of benches) {
          if (!runsRow(b.impl, 'bgp-failover')) continue;
          const s = await guarded(b, f, round, bgpRound);
          log(`bgp ${f} round ${round} ${b.impl}: ${s.ms ?? 'not withdrawn'} ms (${s.from})`);
          report.bgp.push(s);
        }
      }
    }
  });
  if (rows.has('allocation')) {
    for (const n of serviceCounts) {
      for (const b of benches) {
        // FRR mode changes MetalLB's speaker, not its controller (the same program): with native
        // MetalLB in the run its allocation figures are already there.
        if (b.impl === 'metallb-frr' && benches.some((x) => x.impl === 'metallb')) continue;
        if (!runsRow(b.impl, 'allocation')) continue;
        const a = await allocation(b, n);
        log(`allocation ${n} ${b.impl}: all addressed in ${a.allAddressedMs ?? 'n/a'} ms, controller ${a.controllerCpuMs} ms CPU, peak ${(a.controllerPeakRssKb / 1024).toFixed(0)} MiB`);
        report.allocation.push(a);
      }
    }
  }
} finally {
  await finish();
  writeReport();
}

