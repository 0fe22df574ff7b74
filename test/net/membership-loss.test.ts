// 60 s at 5% packet loss on every link (nftables drops 5% of received UDP in every member's
// namespace): no member may ever be declared down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../support/wait.ts';
import { AgentCluster, STARTUP_MS } from '../../bench/membership-cluster.ts';

const DURATION_MS = 60_000;

test('60 s at 5% loss on every link: no false failover', async () => {
  const c = await AgentCluster.create({ prefix: 'ilbm', size: 4, subnet: '10.78.0' });
  try {
    const names = c.agents.map((a) => a.name);
    await c.waitViews(c.agents, names, STARTUP_MS, 'all four see each other');
    await c.setLoss(5);
    const from = Date.now();
    // Watch for the whole period; stop at the first false failover rather than at the end.
    const downsSince = () => c.agents.flatMap((a) => a.events.filter((e) => e.event === 'down' && e.t >= from).map((e) => ({ at: a.name, ...e })));
    const failed = await waitFor(() => downsSince().length > 0, { what: 'a false failover', timeoutMs: DURATION_MS, intervalMs: 200 }).then(
      () => true,
      (err: Error) => (/timed out/.test(err.message) ? false : Promise.reject(err)),
    );
    assert.equal(failed, false, `false failover: ${JSON.stringify(downsSince())}`);
    const stats = await Promise.all(c.agents.map((a) => a.stats()));
    const lines = stats.map((s, i) => `${names[i]}: sent ${s.sent} (${(s.sent / (s.uptimeMs / 1000)).toFixed(1)}/s) suspicions ${s.suspicions} refutations ${s.refutations} probe failures ${s.probeFailures} health ${s.localHealth}`);
    console.log(`# membership at 5% loss for ${DURATION_MS / 1000} s:\n# ${lines.join('\n# ')}`);
    for (const a of c.agents) assert.deepEqual(a.alive, names);
    assert.ok(stats.every((s) => s.sent > 0 && s.received > 0));
  } finally {
    await c.destroy();
  }
});
