// Membership cost and dissemination at scale, on the simulated network (test/support/membership-sim.ts:
// the real protocol code, HMAC included, on a fake clock and an in-memory network with seeded loss).
// Figures at 1,000 members: bench/membership-sim.ts and docs/performance.md ("Membership", "Scale").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { simulate } from '../support/membership-sim.ts';

test('a death reaches every member of a 200-member cluster within 2 s at 5% loss; fan-out stays bounded; no false failover', async () => {
  const r = await simulate(200, { loss: 0.05, deaths: 3, seed: 3, quietMs: 2000, gapMs: 2000 });
  assert.equal(r.missed, 0, 'a surviving member never learned of a death');
  assert.ok(r.lastObserverMs.max < 2000, `every member knew after ${r.lastObserverMs.max} ms at worst; want < 2000`);
  assert.ok(r.coldStartMs < 10_000, `cold start converged in ${r.coldStartMs} ms; want < 10 s`);
  assert.equal(r.falseFailovers, 0);
  // Probing (~25/s with loss) plus gossipFanout per gossipIntervalMs (60/s) is the ceiling.
  assert.ok(r.messagesPerMemberPerSec.busiestDeaths <= 90, `busiest member sent ${r.messagesPerMemberPerSec.busiestDeaths}/s during deaths`);
});

test('no live member is declared dead over 4 simulated minutes at 5% loss (suspicions happen and are refuted)', async () => {
  const r = await simulate(40, { loss: 0.05, deaths: 0, seed: 11, quietMs: 240_000 });
  assert.equal(r.falseFailovers, 0, `${r.falseFailovers} live members declared down`);
  // The run must exercise refutation, or it proves nothing.
  assert.ok(r.suspicions > 0 && r.refutations > 0, `suspicions ${r.suspicions}, refutations ${r.refutations}`);
});

test('messages per member per second do not grow with the cluster: 50 vs 500 members at 5% loss', async () => {
  const small = await simulate(50, { loss: 0.05, deaths: 0, seed: 5, quietMs: 3000 });
  const large = await simulate(500, { loss: 0.05, deaths: 0, seed: 5, quietMs: 3000 });
  const a = small.messagesPerMemberPerSec;
  const b = large.messagesPerMemberPerSec;
  // Probing costs ~20 datagrams/s; loss adds retries, indirect probes and gossip of refutations.
  assert.ok(b.quiet <= a.quiet * 1.3 + 2, `${b.quiet} messages/s per member at 500 vs ${a.quiet} at 50`);
  assert.ok(b.busiestQuiet <= 90, `busiest member sends ${b.busiestQuiet}/s at 500 members`);
});
