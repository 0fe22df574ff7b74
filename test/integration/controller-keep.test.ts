// Never renumber a Service because configuration is missing (issue 13, item 7), and the pool of
// origin kept in the Service's status, not its metadata (item 12). On the real API server:
//   - a controller restarted while no IPPool exists keeps every held address, and writes nothing;
//   - a pool deleted and re-created under a running controller renumbers nothing;
//   - a pool invalid at start-up (no earlier version to keep) leaves its Services their addresses;
//   - explicit reasons do release, and each release Event names the address: the address outside
//     its pool (which exists and is valid) across a restart, and a class the controller no longer
//     handles;
//   - Services allocated by an older version (pool annotation, no condition) keep their addresses,
//     and the controller never writes a Service's metadata or spec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Service } from '@kubernetes/client-node';
import { waitFor } from '../support/wait.ts';
import { withCluster, ips, type Harness } from './controller-harness.ts';
import type { Controller } from '../../src/controller/index.ts';

const ippools = { group: 'ironlb.io', version: 'v1alpha1', plural: 'ippools' };
const condition = (s: V1Service) => s.status?.conditions?.find((c) => c.type === 'ironlb.io/IPAllocated');

async function deletePool(h: Harness, name: string): Promise<void> {
  await h.clients.custom.deleteClusterCustomObject({ ...ippools, name });
  await waitFor(async () => !(await h.clients.custom.listClusterCustomObject(ippools) as { items: Array<{ metadata: { name: string } }> }).items.some((p) => p.metadata.name === name), { what: `IPPool ${name} gone` });
}

/** Waits until the controller applied a configuration with exactly these valid pools, then for its queue. */
async function applied(c: Controller, pools: string[]): Promise<void> {
  await waitFor(() => c.ready && c.appliedConfig !== undefined && [...c.appliedConfig.pools.keys()].sort().join() === [...pools].sort().join(), { what: `controller applied pools [${pools.join(', ')}]`, timeoutMs: 15_000 });
  await c.idle();
}

async function kept(c: Controller): Promise<number> {
  return (await c.metrics.keptAssignments.get()).values[0]?.value ?? 0;
}

/** Name → [addresses, resourceVersion] of Services in "default". */
async function snapshot(h: Harness, names: string[]): Promise<Map<string, [string[], string]>> {
  const out = new Map<string, [string[], string]>();
  for (const n of names) {
    const s = await h.get(n);
    out.set(n, [ips(s), s.metadata?.resourceVersion ?? '']);
  }
  return out;
}

test('a controller restarted while no IPPool exists keeps every held address; the pool returns and nothing is renumbered', async () => {
  await withCluster(async (h) => {
    await h.pool('p', { addresses: ['10.90.0.0/29'] });
    const c1 = await h.startController();
    await h.service('s1');
    assert.deepEqual(await h.waitIPs('s1'), ['10.90.0.0']);
    await h.service('s2');
    assert.deepEqual(await h.waitIPs('s2'), ['10.90.0.1']);
    await c1.idle();
    await c1.stop();
    const before = await snapshot(h, ['s1', 's2']);

    await deletePool(h, 'p');
    const c2 = await h.startController();
    await applied(c2, []);
    assert.deepEqual(await snapshot(h, ['s1', 's2']), before, 'no address cleared, no Service written');
    assert.equal(await kept(c2), 2, 'both Services counted as keeping addresses no valid pool covers');
    // A new Service waits: there is no pool, and held addresses are not free.
    await h.service('s3');
    assert.match((await h.waitEvent('s3', 'AllocationFailed')).message ?? '', /^NoPoolMatches: /);

    await h.pool('p', { addresses: ['10.90.0.0/29'] });
    assert.deepEqual(await h.waitIPs('s3'), ['10.90.0.2'], 'the new Service gets a free address, not a held one');
    await applied(c2, ['p']);
    assert.deepEqual(await snapshot(h, ['s1', 's2']), before, 'the held addresses were confirmed, not rewritten');
    assert.equal(await kept(c2), 0);
    for (const n of ['s1', 's2']) assert.deepEqual((await h.events(n)).filter((e) => e.reason !== 'IPAllocated').map((e) => e.message), [], `${n}: no release Event`);
  });
});

test('an IPPool deleted and re-created under a running controller renumbers nothing', async () => {
  await withCluster(async (h) => {
    await h.pool('p', { addresses: ['10.93.0.0/29', 'fd00:93::/126'] });
    const c = await h.startController();
    await h.service('v4');
    assert.deepEqual(await h.waitIPs('v4'), ['10.93.0.0']);
    await h.service('dual', { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] });
    assert.deepEqual(await h.waitIPs('dual'), ['10.93.0.1', 'fd00:93::']);
    await c.idle();
    const before = await snapshot(h, ['v4', 'dual']);

    await deletePool(h, 'p');
    await applied(c, []);
    assert.deepEqual(await snapshot(h, ['v4', 'dual']), before, 'deleting the pool cleared no address');
    assert.equal(await kept(c), 2);
    await h.service('late');
    await h.waitEvent('late', 'AllocationFailed');

    await h.pool('p', { addresses: ['10.93.0.0/29', 'fd00:93::/126'] });
    assert.deepEqual(await h.waitIPs('late'), ['10.93.0.2']);
    await applied(c, ['p']);
    assert.deepEqual(await snapshot(h, ['v4', 'dual']), before);
    assert.equal(await kept(c), 0);
    assert.deepEqual((await Promise.all(['v4', 'dual'].map((n) => h.events(n)))).flat().filter((e) => e.reason === 'ClearAssignment' || e.reason === 'AllocationFailed'), []);
  });
});

test('a pool invalid at start-up (no earlier version to keep) leaves its Services their addresses until it is valid again', async () => {
  await withCluster(async (h) => {
    await h.pool('web', { addresses: ['10.91.0.0/28'] });
    const c1 = await h.startController();
    await h.service('s1');
    await h.service('s2');
    await h.waitIPs('s1');
    await h.waitIPs('s2');
    await c1.idle();
    await c1.stop();
    const before = await snapshot(h, ['s1', 's2']);
    assert.deepEqual([...before.values()].map((v) => v[0]).flat().sort(), ['10.91.0.0', '10.91.0.1']);

    // While no controller runs, "web" is re-created after "aaa", which overlaps its upper half:
    // the older pool keeps the overlap, so "web" is invalid (a cross-object rule no CRD can check).
    await deletePool(h, 'web');
    await h.pool('aaa', { addresses: ['10.91.0.8/29'] });
    await h.pool('web', { addresses: ['10.91.0.0/28'] });
    const c2 = await h.startController();
    await applied(c2, ['aaa']);
    assert.deepEqual(await snapshot(h, ['s1', 's2']), before, 'the Services of the invalid pool were neither moved into "aaa" nor cleared');
    await h.service('s3');
    assert.deepEqual(await h.waitIPs('s3'), ['10.91.0.8']);

    // The overlap goes: "web" is valid, its Services are confirmed in place.
    await deletePool(h, 'aaa');
    await applied(c2, ['web']);
    assert.deepEqual(await snapshot(h, ['s1', 's2']), before);
    assert.deepEqual(ips(await h.get('s3')), ['10.91.0.8'], 'the address of the deleted pool is inside "web": kept, now from "web"');
    await waitFor(async () => condition(await h.get('s3'))?.message === 'web', { what: 's3 recorded as allocated from "web"' });
  });
});

test('explicit releases: the address outside its pool (which exists and is valid) across a restart, and a class no longer handled; each Event names the address', async () => {
  await withCluster(async (h) => {
    await h.pool('p', { addresses: ['10.92.0.0/29'] });
    const c1 = await h.startController();
    for (const n of ['a', 'b', 'c']) {
      await h.service(n);
      await h.waitIPs(n);
    }
    assert.deepEqual(ips(await h.get('c')), ['10.92.0.2']);
    await c1.idle();
    await c1.stop();
    // While no controller runs, the pool is narrowed: 10.92.0.2 is now outside "p", which exists
    // and is valid. The condition on Service c says where its address came from.
    await h.replacePool('p', { addresses: ['10.92.0.0/31', '10.92.0.4/30'] });
    const c2 = await h.startController();
    assert.deepEqual(await h.waitIPs('c', (x) => x[0] !== '10.92.0.2'), ['10.92.0.4']);
    await h.waitEvent('c', 'IPAllocated', /^Assigned 10\.92\.0\.4 from pool p \(moved from 10\.92\.0\.2: NotInAnyPool: /);
    await c2.idle();
    await c2.stop();

    // Restarted to leave Services without a loadBalancerClass to another implementation: their
    // addresses are released (the Event names them), the status stays that implementation's.
    const c3 = await h.startController({ handleServicesWithoutClass: false });
    await h.waitEvent('a', 'ClearAssignment', /^Services without a loadBalancerClass are left to another implementation; released 10\.92\.0\.0 /);
    await waitFor(async () => condition(await h.get('a'))?.status === 'False', { what: 'condition of a set to False' });
    assert.deepEqual(ips(await h.get('a')), ['10.92.0.0'], 'the ingress is left to the other implementation');
    await c3.idle();
  });
});

test('upgrade: Services allocated by an older version (pool annotation, no condition) keep their addresses, and the controller writes no Service metadata or spec', async () => {
  await withCluster(async (h) => {
    await h.pool('p', { addresses: ['10.94.0.0/29'] });
    // What an older controller left: the address in the status, the pool in an annotation.
    for (const [n, ip] of [['old1', '10.94.0.3'], ['old2', '10.94.0.5']] as const) {
      const s = await h.service(n, { annotations: { 'ironlb.io/ip-allocated-from-pool': 'p' } });
      await h.clients.core.replaceNamespacedServiceStatus({ name: n, namespace: 'default', body: { ...s, status: { loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] } } } });
    }
    const before = await snapshot(h, ['old1', 'old2']);
    const c = await h.startController();
    await applied(c, ['p']);
    await h.service('new');
    assert.deepEqual(await h.waitIPs('new'), ['10.94.0.0']);
    await c.idle();
    assert.deepEqual(await snapshot(h, ['old1', 'old2']), before, 'kept as they were, nothing rewritten (the annotation is the record)');
    // The pool of an old Service is deleted: the annotation says where its address came from, so
    // it is kept like any other.
    await deletePool(h, 'p');
    await applied(c, []);
    assert.deepEqual(await snapshot(h, ['old1', 'old2']), before);
    // The controller wrote only status: no managed fields of its own outside the status subresource.
    const svc = await h.get('new');
    const mine = (svc.metadata?.managedFields ?? []).filter((f) => f.manager === 'ironlb');
    assert.ok(mine.length > 0, `the controller's writes are recorded (managers: ${(svc.metadata?.managedFields ?? []).map((f) => `${f.manager}/${f.subresource ?? ''}`).join(', ')})`);
    assert.deepEqual(mine.map((f) => f.subresource), mine.map(() => 'status'));
  });
});
