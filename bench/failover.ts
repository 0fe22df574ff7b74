// Failover on the lab (testbed/lab): three nodes, a Layer 2 Service and a BGP Service (BIRD router,
// ECMP, BFD 100 ms x 3). Each round picks the Layer 2 owner X, runs two probes — the LAN client to
// the L2 address, the client behind the router to the BGP address, each a new HTTP connection every
// 20 ms with a 150 ms timeout — then either kills X's speaker (SIGKILL) or cuts X's link, and
// measures, per Service, the time from the failure to the first request R answered by another node
// such that every later request in the next 2 s is answered too and never by X: "traffic has moved".
// For L2 that is the takeover (new owner's gratuitous ARP); for BGP, the withdrawal of X's next hop.
// Then X is revived (or its link healed) and the next round waits for a settled owner.
// Usage: node bench/failover.ts [--rounds 20] [--net 154] [--plots DIR] [--speaker-args="--membership-probe-interval 200"] [--prefix ilbxbNNNN]
//        (root; ~10-20 minutes on a busy machine)
// Plot: DIR/failover.svg, the rounds per failure and Service (default docs/img/perf; '' for none).
// --prefix (or IRONLB_NETNS_PREFIX + pid) names the lab's namespaces (default ilbxb + pid; must start with ilb).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Lab, urlFor, type ProbeResult } from '../testbed/lab/index.ts';
import { waitFor } from '../test/support/wait.ts';
import { settledOwner } from '../testbed/cluster/owners.ts';
import { drawFigure } from './support/figures.ts';
import { endRun, plotsOption, startRun, writePlots } from './support/plot-files.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '20' }, net: { type: 'string', default: '154' }, 'speaker-args': { type: 'string', default: '' }, prefix: { type: 'string', default: `${process.env.IRONLB_NETNS_PREFIX ?? 'ilbxb'}${process.pid % 10000}` }, ...plotsOption } });
const info = startRun();
const rounds = Number(values.rounds);
const OBSERVE_MS = 2000;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)] ?? NaN;
}
const line = (name: string, xs: number[]): string =>
  `${name.padEnd(28)} n=${xs.length}  p50 ${pct(xs, 0.5)} ms  p99 ${pct(xs, 0.99)} ms  min ${Math.min(...xs)} ms  max ${Math.max(...xs)} ms`;

/** Time from t0 to the first request after which traffic only reaches nodes other than `old`. */
function moved(results: ProbeResult[], t0: number, old: string): number | undefined {
  const after = results.filter((r) => r.t >= t0);
  for (let i = 0; i < after.length; i++) {
    const r = after[i]!;
    if (!r.node || r.node === old) continue;
    const rest = after.slice(i).filter((x) => x.t <= r.t + OBSERVE_MS);
    const last = after[after.length - 1]!;
    if (last.t < r.t + OBSERVE_MS) return undefined; // not observed long enough yet
    if (rest.every((x) => x.node !== undefined && x.node !== old)) return r.t - t0;
  }
  return undefined;
}

/**
 * The Layer 2 owner once status and ARP have agreed on it for 3 s: after a revive or a healed link
 * ownership moves back when the node rejoins, and a round must not start in the middle of that.
 */
async function owner(lab: Lab, ip: string): Promise<string> {
  const status = async (): Promise<string | undefined> => (await lab.announcements('l2')).find((x) => x.mode === 'layer2')?.node;
  return settledOwner(ip, status, () => lab.neighOwners(ip), { timeoutMs: 90_000, stableMs: 3000 });
}

const parent = mkdtempSync(join(tmpdir(), 'ilbx-bench-'));
const dir = join(parent, 'lab');
const t0 = Date.now();
const lab = await Lab.up({ prefix: values.prefix, dir, net: Number(values.net), startTimeoutS: 180, speakerArgs: values['speaker-args'].split(' ').filter(Boolean) });
const samples: Record<string, number[]> = { 'L2, speaker killed': [], 'BGP, speaker killed': [], 'L2, link cut': [], 'BGP, link cut': [] };
try {
  await lab.applyConfig();
  await lab.service('l2', { pool: 'lab-l2' });
  await lab.service('bgp', { pool: 'lab-bgp' });
  const [l2] = await lab.waitAddresses('l2');
  const [bgp] = await lab.waitAddresses('bgp');
  await waitFor(async () => (await lab.routeNodes(`${bgp}/32`)).length === 3, { what: 'three next hops for the BGP address', timeoutMs: 30_000 });
  console.log(`lab up in ${((Date.now() - t0) / 1000).toFixed(0)} s; L2 ${l2}, BGP ${bgp}; ${rounds} rounds of each failure`);
  for (const kind of ['speaker killed', 'link cut'] as const) {
    for (let r = 0; r < rounds; r++) {
      await owner(lab, l2!);
      await waitFor(async () => (await lab.routeNodes(`${bgp}/32`)).length === 3, { what: 'three next hops', timeoutMs: 30_000 });
      const pl = lab.probe('lan', urlFor(l2!), { intervalMs: 20, timeoutMs: 150, maxMs: 90_000 });
      const pb = lab.probe('ext', urlFor(bgp!), { intervalMs: 20, timeoutMs: 150, maxMs: 90_000 });
      try {
        // X: the owner the L2 probe has steadily reached (ownership may still move back after a
        // revive), and that the BGP probe has reached too.
        const x = await waitFor(async () => {
          const last = pl.results.slice(-15);
          const o = (await lab.announcements('l2')).find((a) => a.mode === 'layer2')?.node;
          const steady = last.length === 15 && last.every((q) => q.node === o);
          return o && steady && pb.results.some((q) => q.node === o) ? o : undefined;
        }, { what: 'both probes steadily answered by the owner', timeoutMs: 45_000, intervalMs: 100 });
        const i = lab.node(x).index;
        const t = kind === 'speaker killed' ? await lab.killSpeaker(i) : await lab.cutLink(i);
        const ml = await waitFor(() => moved(pl.results, t, x), { what: 'L2 traffic moved', timeoutMs: 30_000, intervalMs: 50 });
        const mb = await waitFor(() => moved(pb.results, t, x), { what: 'BGP traffic moved', timeoutMs: 30_000, intervalMs: 50 });
        samples[`L2, ${kind}`]!.push(ml);
        samples[`BGP, ${kind}`]!.push(mb);
        console.log(`round ${r + 1} ${kind} on ${x}: L2 ${ml} ms, BGP ${mb} ms`);
        if (kind === 'speaker killed') await lab.reviveNode(i, 180_000);
        else await lab.healLink(i);
      } finally {
        pl.stop();
        pb.stop();
      }
    }
  }
  console.log('\nfailover: time from the failure until traffic goes only through other nodes');
  for (const [k, xs] of Object.entries(samples)) console.log(line(k, xs));
  writePlots(values.plots, drawFigure('failoverPlots', samples, endRun(info)));
} finally {
  await lab.destroy();
  rmSync(parent, { recursive: true, force: true });
}
