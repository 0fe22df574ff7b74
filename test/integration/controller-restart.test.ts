// Restarts and leadership: a restart with 1,000 Services keeps every address (and writes nothing
// to them), a pending Service never takes an address held before the restart, and of two
// controllers one leads while the standby takes over when the leader stops renewing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../support/wait.ts';
import { withCluster, ips, serviceBody, NS, FAST_ELECTION } from './controller-harness.ts';

const N = 1000;

test(`controller restart with ${N} Services keeps every address`, async () => {
  await withCluster(async (h) => {
    await h.pool('big', { addresses: ['10.70.0.0/22'] });
    await h.pool('v6', { addresses: ['fd00:70::/118'] });
    // Seeded by the admin, 16 creates in flight. A third are IPv6-only and a few share addresses.
    const names = Array.from({ length: N }, (_, i) => `svc-${String(i).padStart(4, '0')}`);
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let n = next++; n < N; n = next++) {
          const opts = n % 3 === 0 ? { ipFamilies: ['IPv6'] } : n % 100 === 1 ? { annotations: { 'ironlb.io/allow-shared-ip': 'shared' }, ports: [{ port: 1000 + n }] } : {};
          await h.clients.core.createNamespacedService({ namespace: 'default', body: serviceBody(names[n] as string, opts) });
        }
      }),
    );
    const t0 = Date.now();
    const first = await h.startController();
    const allocated = async (c: typeof first) => (await c.metrics.allocations.get()).values.find((v) => v.labels.result === 'allocated')?.value ?? 0;
    // Waiting on the controller's own counter: polling a 1,000-item list would load the process.
    await waitFor(async () => (await allocated(first)) >= N, { what: `${N} allocations`, timeoutMs: 150_000, intervalMs: 100 });
    await first.idle();
    const allocMs = Date.now() - t0;
    const all = async () => (await h.clients.core.listNamespacedService({ namespace: 'default' })).items;
    const seeded = await all();
    assert.equal(seeded.filter((s) => ips(s).length === 1).length, N, 'every Service has one address');
    const before = new Map(seeded.map((s) => [s.metadata?.name ?? '', { ip: ips(s)[0], rv: s.metadata?.resourceVersion }]));
    const distinct = new Set([...before.values()].map((v) => v.ip));
    assert.ok(distinct.size >= N - 10 && distinct.size < N, `shared addresses counted once: ${distinct.size}`);
    await first.idle();
    await first.stop();

    // While no controller runs, a new Service arrives; it must not take any address held before.
    await h.service('aaa-late');
    const t1 = Date.now();
    const second = await h.startController();
    const late = await h.waitIPs('aaa-late');
    await waitFor(() => second.ready, { what: 'second controller ready' });
    const restartMs = Date.now() - t1;
    assert.ok(!distinct.has(late[0] as string), `the late Service got ${late[0]}, an address held before the restart`);
    await second.idle();
    const after = await all();
    let moved = 0;
    let rewritten = 0;
    for (const s of after) {
      const b = before.get(s.metadata?.name ?? '');
      if (!b) continue;
      if (ips(s)[0] !== b.ip) moved++;
      if (s.metadata?.resourceVersion !== b.rv) rewritten++;
    }
    assert.equal(moved, 0, 'no address moved across the restart');
    assert.equal(rewritten, 0, 'no Service was written by the restarted controller');
    process.stdout.write(`# ${N} Services: first allocation ${allocMs} ms, restart to ready with the late Service served ${restartMs} ms\n`);
  });
});

test('two controllers: one leader; the standby takes over when the leader stops renewing', async () => {
  await withCluster(async (h) => {
    await h.pool('p', { addresses: ['10.71.0.0/29'] });
    const a = await h.startController({ identity: 'ctl-a' });
    const b = await h.startController({ identity: 'ctl-b' });
    await waitFor(() => a.isLeader !== b.isLeader, { what: 'exactly one leader' });
    await h.service('s1');
    assert.deepEqual(await h.waitIPs('s1'), ['10.71.0.0']);
    const leader = a.isLeader ? a : b;
    const standby = a.isLeader ? b : a;
    const lease = await h.clients.coordination.readNamespacedLease({ name: 'ironlb-controller', namespace: NS });
    assert.equal(lease.spec?.holderIdentity, leader.identity);
    const ev = await h.waitEvent('s1', 'IPAllocated');
    assert.equal(ev.reportingInstance, leader.identity, 'only the leader writes');
    // The leader dies without releasing the Lease.
    const t0 = Date.now();
    await leader.stop({ releaseLease: false });
    await waitFor(() => standby.isLeader, { what: 'standby takes over', timeoutMs: 15_000, intervalMs: 20 });
    const takeoverMs = Date.now() - t0;
    // It waits for the lease to go stale (a released lease is taken within one retry period, see
    // below), then takes over promptly. Margins are wide: a loaded machine delays renewals.
    assert.ok(takeoverMs >= FAST_ELECTION.leaseDurationMs / 2, `took over after ${takeoverMs} ms, long before the lease expired`);
    assert.ok(takeoverMs < FAST_ELECTION.leaseDurationMs + 6000, `took over after ${takeoverMs} ms`);
    await h.service('s2');
    assert.deepEqual(await h.waitIPs('s2'), ['10.71.0.1']);
    assert.deepEqual(ips(await h.get('s1')), ['10.71.0.0']);
    const lease2 = await h.clients.coordination.readNamespacedLease({ name: 'ironlb-controller', namespace: NS });
    assert.equal(lease2.spec?.holderIdentity, standby.identity);
    assert.equal(lease2.spec?.leaseTransitions, 1);
    process.stdout.write(`# takeover after ${takeoverMs} ms (lease ${FAST_ELECTION.leaseDurationMs} ms, retry ${FAST_ELECTION.retryPeriodMs} ms)\n`);
    // A graceful stop releases the Lease: a new standby takes over at once.
    const c = await h.startController({ identity: 'ctl-c' });
    const t1 = Date.now();
    await standby.stop();
    await waitFor(() => c.isLeader, { what: 'ctl-c leads after a graceful hand-over', timeoutMs: 10_000, intervalMs: 20 });
    assert.ok(Date.now() - t1 < FAST_ELECTION.leaseDurationMs, `graceful hand-over took ${Date.now() - t1} ms`);
  });
});
