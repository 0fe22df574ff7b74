// Membership detection time on a simulated network (fake clock, 1 ms links, seeded loss): the
// protocol's own latency without scheduling noise, for cluster sizes no machine here can host.
//   node bench/membership-sim.ts [members=5] [loss=0] [runs=200] [--plots DIR]
// members and loss may be comma-separated lists (e.g. 3,5,10,20 0,0.05): one row per pair.
// For each run: converge, kill member n0 (no goodbye), and record when each other member declares
// it dead. Also counts false failovers (any other member declared down) over the whole run.
// Plot: DIR/membership-sim.svg, detection time against members (default docs/img/perf; '' for none).
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Membership } from '../src/membership/membership.ts';
import { FakeClock } from '../src/membership/clock.ts';
import { MemoryNetwork } from '../src/membership/transport.ts';
import { prng } from '../test/support/prng.ts';
import { drawFigure, type MembershipSimRow } from './support/figures.ts';
import { endRun, plotsOption, startRun, writePlots } from './support/plot-files.ts';

const silent = pino({ level: 'silent' });
const { values: args, positionals } = parseArgs({ allowPositionals: true, options: plotsOption });
const list = (s: string | undefined, dflt: string, what: string): number[] => (s ?? dflt).split(',').map((x) => {
  const v = Number(x);
  if (x === '' || !Number.isFinite(v) || v < 0) throw new Error(`${what} must be a number or a comma-separated list of numbers, got "${s}"`);
  return v;
});
const memberCounts = list(positionals[0], '5', 'members');
const losses = list(positionals[1], '0', 'loss');
const runs = Number(positionals[2] ?? 200);
const run = startRun();
const rows: MembershipSimRow[] = [];
for (const n of memberCounts) for (const loss of losses) rows.push(await simulate(n, loss));
writePlots(args.plots, drawFigure('membershipSimPlots', rows, endRun(run)));

async function simulate(n: number, loss: number): Promise<MembershipSimRow> {
  const last: number[] = [];
  const first: number[] = [];
  let falseDowns = 0;
  let missed = 0;
  for (let seed = 1; seed <= runs; seed++) {
    const clock = new FakeClock();
    const net = new MemoryNetwork(clock, { latencyMs: 1, random: prng(seed * 7) });
    net.setGlobalLoss(loss);
    const ms: Membership[] = [];
    const peers = Array.from({ length: n }, (_, i) => ({ name: `n${i}`, address: `10.0.0.${i + 1}` }));
    let killedAt = 0;
    const downs: number[] = [];
    for (let i = 0; i < n; i++) {
      const m = new Membership({ name: `n${i}`, address: `10.0.0.${i + 1}`, secret: Buffer.alloc(32, 1), logger: silent, clock, transport: net.transport(`10.0.0.${i + 1}`, 7947), random: prng(seed * 100 + i) });
      await m.start();
      ms.push(m);
      m.on('memberDown', (name) => {
        if (name === 'n0' && killedAt) downs.push(clock.now() - killedAt);
        else falseDowns++;
      });
    }
    for (const m of ms) m.setPeers(peers);
    clock.advance(2000 + ((seed * 13) % 100));
    killedAt = clock.now();
    await ms[0]!.close();
    clock.advance(3000);
    if (downs.length !== n - 1) missed++;
    last.push(Math.max(...downs));
    first.push(Math.min(...downs));
    for (const m of ms) await m.close();
  }
  const q = (a: number[], p: number): number => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.ceil(p * a.length) - 1)]!;
  console.log(`members=${n} loss=${loss} runs=${runs}: last member to know p50=${q(last, 0.5)} p99=${q(last, 0.99)} max=${Math.max(...last)} ms; first p50=${q(first, 0.5)} p99=${q(first, 0.99)} ms; false failovers=${falseDowns}; runs where someone never learned=${missed}`);
  return { members: n, loss, last, first };
}
