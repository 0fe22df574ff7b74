// What the controller writes besides addresses, counted on the real API server:
//   - ConfigurationState and its ConfigurationAccepted Event only when the state changes (item 10 of
//     issue 13): IPPool status writes, more Services and a new leader change nothing in them;
//   - IPPool status reports an IPv6 count beyond 2^53-1 exactly (a string), the integer saturates;
//   - hostile annotation values (200 KB, control characters, right-to-left overrides) reach Event
//     messages cut and escaped (item 9).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { waitFor } from '../support/wait.ts';
import { withCluster, NS } from './controller-harness.ts';
import { MAX_EVENT_MESSAGE } from '../../src/k8s/events.ts';

interface Counted {
  writes: Map<string, number>;
  lastRV: Map<string, string>;
  stop(): void;
}

/** Counts ADDED and MODIFIED events per object name on a watch path. */
async function countWrites(kc: KubeConfig, path: string): Promise<Counted> {
  const writes = new Map<string, number>();
  const lastRV = new Map<string, string>();
  const w = await new Watch(kc).watch(
    path,
    {},
    (type: string, obj: KubernetesObject) => {
      const name = obj.metadata?.name ?? '';
      if (type === 'ADDED' || type === 'MODIFIED') writes.set(name, (writes.get(name) ?? 0) + 1);
      lastRV.set(name, obj.metadata?.resourceVersion ?? '');
    },
    () => undefined,
  );
  return { writes, lastRV, stop: () => w.abort() };
}

test('ConfigurationState and ConfigurationAccepted are written only on change; IPPool status counts IPv6 exactly', async () => {
  await withCluster(async (h) => {
    const states = await countWrites(h.api.kc, `/apis/ironlb.io/v1alpha1/namespaces/${NS}/configurationstates`);
    const pools = await countWrites(h.api.kc, '/apis/ironlb.io/v1alpha1/ippools');
    try {
      await h.pool('v4', { addresses: ['10.95.0.0/29'] });
      await h.pool('v6', { addresses: ['fd00:95::/64'] });
      const c1 = await h.startController();
      for (const n of ['a', 'b', 'c']) {
        await h.service(n);
        await h.waitIPs(n);
      }
      await h.service('six', { ipFamilies: ['IPv6'] });
      await h.waitIPs('six');
      const pool = async (name: string) => (await h.clients.custom.getClusterCustomObject({ group: 'ironlb.io', version: 'v1alpha1', plural: 'ippools', name })) as { metadata: { resourceVersion: string }; status?: Record<string, unknown> };
      await waitFor(async () => (await pool('v4')).status?.assignedIPv4 === 3 && (await pool('v6')).status?.assignedIPv6 === 1, { what: 'IPPool status of v4 and v6 up to date' });
      await c1.idle();
      // Several IPPool status writes happened; each used to rewrite ConfigurationState.
      const seen = async (counted: Counted, name: string, get: () => Promise<{ metadata: { resourceVersion: string } }>) => {
        const rv = (await get()).metadata.resourceVersion;
        await waitFor(() => counted.lastRV.get(name) === rv, { what: `the watch caught up with ${name} at ${rv}` });
      };
      await seen(pools, 'v4', () => pool('v4'));
      const state = () => h.clients.custom.getNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: NS, plural: 'configurationstates', name: 'controller' }) as Promise<{ metadata: { resourceVersion: string } }>;
      await seen(states, 'controller', state);
      const v4Writes = pools.writes.get('v4') ?? 0;
      assert.ok(v4Writes >= 3, `IPPool v4 written ${v4Writes} times (creation and status)`);
      // A decision that changes no count writes no IPPool status (the controller's cache returns the
      // status with its keys in another order: compared as data, not as text).
      const decisions = c1.decisions;
      const a = await h.get('a');
      await h.clients.core.replaceNamespacedService({ name: 'a', namespace: 'default', body: { ...a, metadata: { ...a.metadata, labels: { touched: 'yes' } } } });
      await waitFor(() => c1.decisions > decisions, { what: 'the controller decided on Service a again' });
      await c1.idle();
      await seen(pools, 'v4', () => pool('v4'));
      assert.equal(pools.writes.get('v4'), v4Writes, 'no IPPool status write without a change');
      assert.equal(states.writes.get('controller'), 1, 'ConfigurationState written once');
      const accepted = async () => (await h.clients.core.listNamespacedEvent({ namespace: NS })).items.filter((e) => e.reason === 'ConfigurationAccepted');
      assert.deepEqual((await accepted()).map((e) => e.count), [1], 'one ConfigurationAccepted Event, counted once');

      // Exact IPv6 counts: 2^64 - 1 free in a /64 with one address in use.
      const v6 = (await pool('v6')).status ?? {};
      assert.equal(v6.availableIPv6, Number.MAX_SAFE_INTEGER, 'the integer saturates at 2^53-1');
      assert.equal(v6.availableIPv6Exact, (2n ** 64n - 1n).toString());
      assert.match(await h.api.kubectl(['get', 'ippools', 'v6', '-o', 'wide']), /18446744073709551615/);

      // A new leader finds the same state: it writes neither the state nor another Event.
      await c1.stop();
      const c2 = await h.startController();
      await waitFor(() => c2.ready, { what: 'second controller ready' });
      await c2.idle();
      await h.service('d');
      await h.waitIPs('d');
      await c2.idle();
      await seen(states, 'controller', state);
      assert.equal(states.writes.get('controller'), 1, 'ConfigurationState still written once');
      assert.deepEqual((await accepted()).map((e) => e.count), [1]);
    } finally {
      states.stop();
      pools.stop();
    }
  });
});

test('hostile annotation values reach Event messages cut and escaped', async () => {
  await withCluster(async (h) => {
    await h.pool('p', { addresses: ['10.96.0.0/29'] });
    await h.startController();
    const rlo = '\u202e';
    // 200 KB pool name with a right-to-left override and a bell; a requested "address" with a
    // newline that forges a second line, and an override that reverses what follows.
    await h.service('big', { annotations: { 'ironlb.io/address-pool': `x${rlo}${'A'.repeat(200_000)}\u0007` } });
    await h.service('forged', { annotations: { 'ironlb.io/loadBalancerIPs': `evil${rlo}exe.txt\nWarning AllocationFailed: fake` } });
    const big = (await h.waitEvent('big', 'AllocationFailed')).message ?? '';
    assert.match(big, /^UnknownPool: Service default\/big asks for pool "x\\u202eA+… \(\d+ more characters\)", which does not exist/);
    assert.ok(big.length <= MAX_EVENT_MESSAGE + 40, `Event message of ${big.length} characters`);
    const forged = (await h.waitEvent('forged', 'AllocationFailed')).message ?? '';
    assert.match(forged, /"evil\\u202eexe\.txt\\u000aWarning AllocationFailed: fake" is not an IP address/);
    for (const m of [big, forged]) assert.doesNotMatch(m, /[\u0000-\u001f\u202a-\u202e]/, 'no raw control or direction character');
  });
});

test('a burst of first assignments: a few own IPAllocated Events, the rest in one summary on the IPPool; a release keeps its own Event naming the address', async () => {
  await withCluster(async (h) => {
    await h.pool('p', { addresses: ['10.97.0.0/28'] });
    const names = ['b0', 'b1', 'b2', 'b3', 'b4', 'b5'];
    for (const n of names) await h.service(n);
    // A backlog of six at start-up; an own Event for two, the bucket never refills in this test.
    const c = await h.startController({ leaderElection: false, allocationEvents: { burst: 2, perSecond: 0.001, summaryDelayMs: 100 } });
    const got = new Map<string, string>();
    for (const n of names) got.set(n, (await h.waitIPs(n))[0] as string);
    await c.idle();
    const own = new Set<string>();
    for (const n of names) {
      const evs = (await h.events(n)).filter((e) => e.reason === 'IPAllocated');
      assert.ok(evs.length <= 1, `${n}: ${evs.length} IPAllocated Events`);
      if (evs[0]) {
        assert.equal(evs[0].message, `Assigned ${got.get(n)} from pool p`);
        own.add(n);
      }
    }
    assert.equal(own.size, 2, 'two Services have their own Event');
    const summaries = (await h.clients.core.listNamespacedEvent({ namespace: 'default' })).items.filter((e) => e.involvedObject.kind === 'IPPool' && e.involvedObject.name === 'p' && e.reason === 'IPAllocated');
    const text = summaries.map((e) => e.message ?? '').join('\n');
    assert.match(text, /^Assigned addresses of pool p to \d+ Services? at once/m);
    // Every Service without its own Event is named in a summary with its address.
    for (const n of names) if (!own.has(n)) assert.ok(text.includes(`default/${n} ${got.get(n)}`), `${n} (${got.get(n)}) in the summaries: ${text}`);
    assert.ok(summaries.every((e) => e.involvedObject.uid), 'the summary names the IPPool by uid');

    // Releases are never summarised: the Service's own Event names the address it gave back.
    const victim = names.find((n) => !own.has(n)) as string;
    const svc = await h.get(victim);
    await h.clients.core.replaceNamespacedService({ name: victim, namespace: 'default', body: { ...svc, spec: { ...svc.spec, type: 'ClusterIP' } } });
    const ev = await h.waitEvent(victim, 'ClearAssignment');
    assert.match(ev.message ?? '', new RegExp(`released ${(got.get(victim) as string).replace(/\./g, '\\.')}`));
  });
});
