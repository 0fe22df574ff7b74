// Membership benchmark on real UDP: detection time distribution over repeated kills, and the
// message rate per member. Each member is a separate process in its own network namespace.
//   node bench/membership.ts [--members 5] [--kills 20] [--plots DIR]
// Plot: DIR/membership.svg, the detection times (default docs/img/perf; --plots '' for none).
// IRONLB_NETNS_PREFIX=ilbX names the network namespaces (default ilbm; must start with ilb).
// Prints a summary and a JSON line; figures go to docs/performance.md ("Membership").
import { parseArgs } from 'node:util';
import { AgentCluster, STARTUP_MS } from './membership-cluster.ts';
import { drawFigure } from './support/figures.ts';
import { endRun, plotsOption, startRun, writePlots } from './support/plot-files.ts';

const { values } = parseArgs({ options: { members: { type: 'string', default: '5' }, kills: { type: 'string', default: '20' }, ...plotsOption } });
const info = startRun();
const size = Number(values.members);
const kills = Number(values.kills);

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}

const c = await AgentCluster.create({ prefix: process.env.IRONLB_NETNS_PREFIX ?? 'ilbm', size, subnet: '10.79.0' });
try {
  const names = c.agents.map((a) => a.name);
  await c.waitViews(c.agents, names, STARTUP_MS, 'initial convergence');
  // Message rate in steady state: 10 s with nothing happening.
  const s0 = await Promise.all(c.agents.map((a) => a.stats()));
  const tRate = Date.now();
  await new Promise((r) => setTimeout(r, 10_000));
  const s1 = await Promise.all(c.agents.map((a) => a.stats()));
  const secs = (Date.now() - tRate) / 1000;
  const sentPerSec = s1.map((s, i) => (s.sent - s0[i]!.sent) / secs);
  const recvPerSec = s1.map((s, i) => (s.received - s0[i]!.received) / secs);

  const benchStart = Date.now();
  const allObservers: number[] = []; // every observer's detection time
  const lastObserver: number[] = []; // time until the last observer knew (what a failover needs at worst)
  for (let k = 0; k < kills; k++) {
    const victim = c.agents[k % size]!;
    const rest = c.agents.filter((a) => a !== victim);
    const healthBefore = (await Promise.all(rest.map((a) => a.stats()))).map((st) => st.localHealth);
    const killedAt = await victim.kill();
    await c.waitViews(rest, rest.map((a) => a.name), 10_000, `kill ${k}: ${victim.name} declared dead`);
    const times = rest.map((a) => a.downs(victim.name, killedAt)[0]!.t - killedAt);
    allObservers.push(...times);
    lastObserver.push(Math.max(...times));
    const healthAfter = (await Promise.all(rest.map((a) => a.stats()))).map((st) => st.localHealth);
    process.stderr.write(`kill ${k + 1}/${kills}: ${victim.name} detected after ${times.join(', ')} ms (local health before ${healthBefore.join(',')}, after ${healthAfter.join(',')})\n`);
    c.restart(victim);
    await c.waitViews(c.agents, names, STARTUP_MS, `kill ${k}: ${victim.name} rejoined`);
  }
  // Every kill should produce exactly size - 1 downs (one per observer); anything more is a false failover.
  const downs = c.agents.reduce((n, a) => n + a.events.filter((e) => e.event === 'down' && e.t >= benchStart).length, 0);
  const result = {
    members: size,
    kills,
    falseFailovers: downs - kills * (size - 1),
    detectionMs: {
      allObservers: { p50: quantile(allObservers, 0.5), p90: quantile(allObservers, 0.9), p99: quantile(allObservers, 0.99), max: Math.max(...allObservers), min: Math.min(...allObservers) },
      lastObserver: { p50: quantile(lastObserver, 0.5), p90: quantile(lastObserver, 0.9), p99: quantile(lastObserver, 0.99), max: Math.max(...lastObserver) },
    },
    messagesPerSecondPerMember: {
      sent: Number((sentPerSec.reduce((a, b) => a + b, 0) / size).toFixed(1)),
      received: Number((recvPerSec.reduce((a, b) => a + b, 0) / size).toFixed(1)),
    },
  };
  console.log(`members ${size}, ${kills} kills (SIGKILL, no goodbye)`);
  console.log(`detection, every observer: p50 ${result.detectionMs.allObservers.p50} ms, p90 ${result.detectionMs.allObservers.p90} ms, p99 ${result.detectionMs.allObservers.p99} ms, range ${result.detectionMs.allObservers.min}-${result.detectionMs.allObservers.max} ms`);
  console.log(`detection, last observer:  p50 ${result.detectionMs.lastObserver.p50} ms, p99 ${result.detectionMs.lastObserver.p99} ms, max ${result.detectionMs.lastObserver.max} ms`);
  console.log(`false failovers (members declared down that were not killed): ${result.falseFailovers}`);
  console.log(`steady state per member: ${result.messagesPerSecondPerMember.sent} messages/s sent, ${result.messagesPerSecondPerMember.received} received`);
  console.log(JSON.stringify(result));
  writePlots(values.plots, drawFigure('membershipPlots', size, allObservers, lastObserver, endRun(info)));
} finally {
  await c.destroy();
}
