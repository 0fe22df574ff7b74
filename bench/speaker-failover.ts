// Speaker failover benchmark: three `ironlb speaker` processes in namespaces on a bridge (see
// test/support/speaker-cluster.ts). Measures, from a client namespace:
//   - SIGKILL of the Layer 2 owner → first TCP answer from another node (requests every 20 ms)
//   - SIGTERM of the owner (graceful handover) → same
//   - spread of 30 services over 3 nodes, and the speaker's decision time
// Usage: node bench/speaker-failover.ts [--rounds N] [--plots DIR]   (root; about 2-4 minutes on a busy machine)
// Plot: DIR/speaker-failover.svg, the rounds per signal (default docs/img/perf; '' for none).
// IRONLB_NETNS_PREFIX=ilbX names the network namespaces (default ilbs; must start with ilb).
import { parseArgs } from 'node:util';
import { SpeakerCluster, type SpeakerNode } from '../test/support/speaker-cluster.ts';
import { waitFor } from '../test/support/wait.ts';
import { drawFigure } from './support/figures.ts';
import { endRun, plotsOption, startRun, writePlots } from './support/plot-files.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, ...plotsOption } });
const info = startRun();
const rounds = Number(values.rounds);
const VIP = '10.85.0.100';

function stats(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
  return `n=${s.length} min ${s[0]} p50 ${q(0.5)} max ${s[s.length - 1]} ms`;
}

async function owner(c: SpeakerCluster): Promise<SpeakerNode> {
  return c.settledL2Owner('s0', VIP, 30_000);
}

/** Returns [ms until the new owner announced (its log), ms until TCP answered again]. */
async function round(c: SpeakerCluster, signal: 'SIGKILL' | 'SIGTERM'): Promise<[number, number]> {
  const o = await owner(c);
  const client = c.tcpClient(VIP, 20);
  try {
    await waitFor(() => client.results.some((r) => r.node === o.name), { what: 'answers before', timeoutMs: 10_000 });
    const marks = new Map(c.nodes.map((n) => [n.name, n.log.length]));
    const t = Date.now();
    o.proc?.kill(signal);
    const r = await waitFor(() => client.results.find((x) => x.t >= t && x.node && x.node !== o.name), { what: 'answers after', timeoutMs: 10_000 });
    const n = c.nodes.find((x) => x.name === r.node) as SpeakerNode;
    const took = await waitFor(() => n.logTime(/took over address.*"10\.85\.0\.100"|"10\.85\.0\.100".*took over address/, marks.get(n.name)), { what: 'takeover log', timeoutMs: 5000 }).catch(() => NaN);
    return [took - t, r.t - t];
  } finally {
    client.stop();
    await waitFor(() => !o.running, { what: 'exit', timeoutMs: 15_000 });
    const from = o.log.length;
    c.startSpeaker(c.nodes.indexOf(o));
    await o.waitLog(/membership running/, 90_000, from);
  }
}

const c = await SpeakerCluster.create({ prefix: process.env.IRONLB_NETNS_PREFIX ?? 'ilbs', nodes: 3, net: 85, client: true, localVips: [VIP] });
try {
  await c.apply('IPPool', 'p1', { addresses: ['10.85.0.100-10.85.0.199'] });
  await c.apply('L2Advertisement', 'l2', {});
  for (let i = 0; i < 3; i++) {
    c.startSpeaker(i, ['--metrics-port', '7473']);
    c.nodes[i]!.startApp();
  }
  await Promise.all(c.nodes.map((n) => n.waitLog(/membership running/, 120_000)));
  for (let i = 0; i < 30; i++) await c.service(`s${i}`, [`10.85.0.${100 + i}`]);
  const spread = await waitFor(
    async () => {
      const load = new Map<string, number>();
      for (let i = 0; i < 30; i++) {
        const o = (await c.announcement(`s${i}`))?.announcements?.find((a) => a.mode === 'layer2')?.node;
        if (!o) return undefined;
        load.set(o, (load.get(o) ?? 0) + 1);
      }
      return c.nodes.map((n) => load.get(n.name) ?? 0);
    },
    { what: 'all 30 services announced', timeoutMs: 60_000, intervalMs: 500 },
  );
  console.log(`spread of 30 services over 3 nodes: ${spread.join(' / ')}`);
  const m = await c.nodes[0]!.metrics();
  const sum = Number(/ironlb_speaker_reconcile_duration_seconds_sum (\S+)/.exec(m)?.[1]);
  const count = Number(/ironlb_speaker_reconcile_duration_seconds_count (\S+)/.exec(m)?.[1]);
  console.log(`decisions at n0: ${count}, mean ${((sum / count) * 1000).toFixed(2)} ms (decide + Layer 2 apply, 30 services)`);
  const kill: Array<[number, number]> = [];
  const term: Array<[number, number]> = [];
  for (let i = 0; i < rounds; i++) kill.push(await round(c, 'SIGKILL'));
  for (let i = 0; i < Math.max(1, Math.floor(rounds / 2)); i++) term.push(await round(c, 'SIGTERM'));
  console.log(`SIGKILL of the owner → new owner announces: ${stats(kill.map((x) => x[0]))}; TCP answered again: ${stats(kill.map((x) => x[1]))}`);
  writePlots(values.plots, drawFigure('speakerFailoverPlots', { kill, term }, endRun(info)));
  console.log(`SIGTERM of the owner (handover) → new owner announces: ${stats(term.map((x) => x[0]).filter((x) => !Number.isNaN(x)))}; TCP answered again: ${stats(term.map((x) => x[1]))}`);
} finally {
  await c.destroy();
}
