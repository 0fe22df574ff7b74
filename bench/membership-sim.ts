// Membership at scale on a simulated network: the protocol's own latency and message cost without
// scheduling noise, for cluster sizes no machine here can host as processes.
//   node bench/membership-sim.ts [--members 50,200,500,1000] [--loss 0.05] [--deaths 20] [--seed 1] [--gap 2000]
// Per cluster size: a cold start of every member at once (all know the peer list, none has heard
// from any other), 10 s quiet, then `deaths` members killed one after another (no goodbye, `gap` ms
// apart). Reports cold-start convergence, the time until every surviving member knew of each death
// (p50/p99/max over deaths) and over all observers, false failovers (a live member declared down
// anywhere), messages per member per second (quiet, by type, and during deaths; mean and busiest
// member), and the CPU the simulation cost. What is real and what is simulated:
// test/support/membership-sim.ts.
// Plot: DIR/membership-sim.svg (--plots DIR, default docs/img/perf; '' for none): detection time
// against members.
import { parseArgs } from 'node:util';
import { simulate } from '../test/support/membership-sim.ts';
import { drawFigure, type MembershipSimRow } from './support/figures.ts';
import { endRun, plotsOption, startRun, writePlots } from './support/plot-files.ts';

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '50,200,500,1000' },
    loss: { type: 'string', default: '0.05' },
    deaths: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    gap: { type: 'string', default: '2000' },
    ...plotsOption,
  },
});
const run = startRun();
const rows: MembershipSimRow[] = [];
const sizes = values.members.split(',').map(Number);
const loss = Number(values.loss);
const deaths = Number(values.deaths);
const seed = Number(values.seed);
const gapMs = Number(values.gap);
for (const n of sizes) {
  const r = await simulate(n, { loss, deaths, seed, gapMs });
  console.log(
    `members=${r.members} loss=${r.loss}: cold start converged in ${r.coldStartMs} ms; ${r.deaths} deaths, every member knew within p50 ${r.lastObserverMs.p50} p99 ${r.lastObserverMs.p99} max ${r.lastObserverMs.max} ms ` +
      `(each observer: p50 ${r.allObserversMs.p50} p99 ${r.allObserversMs.p99} ms); missed ${r.missed}; false failovers ${r.falseFailovers}; ` +
      `messages/s per member: quiet ${r.messagesPerMemberPerSec.quiet} (busiest ${r.messagesPerMemberPerSec.busiestQuiet}), during deaths ${r.messagesPerMemberPerSec.deaths} (busiest ${r.messagesPerMemberPerSec.busiestDeaths}); ` +
      `sim CPU ${r.cpuSeconds} s for ${r.simulatedSeconds.toFixed(0)} s simulated`,
  );
  console.log(JSON.stringify(r));
  rows.push({ members: r.members, loss: r.loss, last: r.perDeathMs.last, first: r.perDeathMs.first });
}
writePlots(values.plots, drawFigure('membershipSimPlots', rows, endRun(run)));
