// Pools and Services in, addresses, the pool condition, Events and pool status out — on the real
// API server, the controller running as its ServiceAccount.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../support/wait.ts';
import type { V1Service } from '@kubernetes/client-node';
import { withCluster, ips } from './controller-harness.ts';
import { startHealthServer } from '../../src/util/health-server.ts';

const allocatedCondition = (s: V1Service) => s.status?.conditions?.find((c) => c.type === 'ironlb.io/IPAllocated');

test('allocation: addresses, VIP ingress, pool condition, Events, IPPool status, metrics', async () => {
  await withCluster(async (h) => {
    await h.pool('web', { addresses: ['10.20.0.0/30'] });
    const c = await h.startController();
    await h.service('a');
    assert.deepEqual(await h.waitIPs('a'), ['10.20.0.0']);
    const a = await h.get('a');
    assert.equal(a.status?.loadBalancer?.ingress?.[0]?.ipMode, 'VIP');
    // The pool is recorded in the status (one status patch), never in the Service's metadata.
    assert.equal(a.metadata?.annotations?.['ironlb.io/ip-allocated-from-pool'], undefined);
    assert.deepEqual({ ...allocatedCondition(a), lastTransitionTime: undefined }, { type: 'ironlb.io/IPAllocated', status: 'True', reason: 'FromPool', message: 'web', lastTransitionTime: undefined });
    const ev = await h.waitEvent('a', 'IPAllocated');
    assert.equal(ev.message, 'Assigned 10.20.0.0 from pool web');
    assert.equal(ev.type, 'Normal');
    await h.service('b');
    assert.deepEqual(await h.waitIPs('b'), ['10.20.0.1']);
    // IPPool status counts per family.
    await waitFor(
      async () => {
        const p = (await h.clients.custom.getClusterCustomObject({ group: 'ironlb.io', version: 'v1alpha1', plural: 'ippools', name: 'web' })) as { status?: { assignedIPv4?: number; availableIPv4?: number } };
        return p.status?.assignedIPv4 === 2 && p.status.availableIPv4 === 2;
      },
      { what: 'IPPool web status: 2 assigned, 2 available' },
    );
    // kubectl shows the pool counters and the EXTERNAL-IP.
    const pools = await h.api.kubectl(['get', 'ippools']);
    assert.match(pools, /web\s+true\s+false/);
    const svcs = await h.api.kubectl(['get', 'svc', 'a']);
    assert.match(svcs, /10\.20\.0\.0/);
    // Exhaustion: the fifth Service gets a precise failure and no address.
    await h.service('c');
    await h.service('d');
    await h.waitIPs('d');
    await h.service('e');
    const fail = await h.waitEvent('e', 'AllocationFailed');
    assert.equal(fail.type, 'Warning');
    assert.match(fail.message ?? '', /^PoolExhausted: /);
    assert.deepEqual(ips(await h.get('e')), []);
    // Deleting a Service frees its address, and the pending one gets it without being touched.
    await h.clients.core.deleteNamespacedService({ name: 'b', namespace: 'default' });
    assert.deepEqual(await h.waitIPs('e'), ['10.20.0.1']);
    // Metrics and probes.
    const srv = await startHealthServer({ port: 0, host: '127.0.0.1', registry: c.metrics.registry, healthz: () => c.healthz(), readyz: () => c.readyz() });
    try {
      const m = await (await fetch(`http://127.0.0.1:${srv.port}/metrics`)).text();
      assert.match(m, /ironlb_pool_capacity_addresses\{pool="web",family="IPv4"\} 4/);
      assert.match(m, /ironlb_pool_assigned_addresses\{pool="web",family="IPv4"\} 4/);
      assert.match(m, /ironlb_controller_allocations_total\{result="allocated"\} 5/);
      assert.match(m, /ironlb_controller_allocation_failures_total\{reason="PoolExhausted"\} \d+/);
      assert.equal((await fetch(`http://127.0.0.1:${srv.port}/healthz`)).status, 200);
      assert.equal((await fetch(`http://127.0.0.1:${srv.port}/readyz`)).status, 200);
    } finally {
      await srv.close();
    }
  });
});

test('sharing, dual stack, requested addresses and class filtering', async () => {
  await withCluster(async (h) => {
    await h.pool('v4', { addresses: ['10.30.0.0/29'] });
    await h.pool('dual', { addresses: ['10.31.0.0/29', 'fd00:31::/125'], autoAssign: false });
    await h.startController();
    // Sharing: same key, different ports → one address.
    const share = { 'ironlb.io/allow-shared-ip': 'k1' };
    await h.service('s1', { annotations: share, ports: [{ port: 80 }] });
    const [ip1] = await h.waitIPs('s1');
    await h.service('s2', { annotations: { ...share, 'ironlb.io/loadBalancerIPs': ip1 as string }, ports: [{ port: 443 }] });
    assert.deepEqual(await h.waitIPs('s2'), [ip1]);
    // Same port on the shared address: refused, with the reason.
    await h.service('s3', { annotations: { ...share, 'ironlb.io/loadBalancerIPs': ip1 as string }, ports: [{ port: 80 }] });
    assert.match((await h.waitEvent('s3', 'AllocationFailed')).message ?? '', /^PortConflict: /);
    // Requested address taken by a Service without the sharing key.
    await h.service('taken', { loadBalancerIP: ip1 as string });
    assert.match((await h.waitEvent('taken', 'AllocationFailed')).message ?? '', /^(AddressInUse|SharingKeyMismatch): /);
    // Dual stack from the pool asked for by name.
    await h.service('ds', { annotations: { 'ironlb.io/address-pool': 'dual' }, ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv6', 'IPv4'] });
    assert.deepEqual(await h.waitIPs('ds'), ['fd00:31::', '10.31.0.0']);
    // Requested address: annotation and loadBalancerIP both set is an error.
    await h.service('both', { annotations: { 'ironlb.io/loadBalancerIPs': '10.30.0.5' }, loadBalancerIP: '10.30.0.6' });
    assert.match((await h.waitEvent('both', 'AllocationFailed')).message ?? '', /^InvalidRequest: both spec\.loadBalancerIP/);
    // Unparseable request and an address outside every pool: precise errors.
    await h.service('junk', { annotations: { 'ironlb.io/loadBalancerIPs': '10.30.0.999' } });
    assert.match((await h.waitEvent('junk', 'AllocationFailed')).message ?? '', /"10\.30\.0\.999" is not an IP address/);
    await h.service('outside', { annotations: { 'ironlb.io/loadBalancerIPs': '192.0.2.7' } });
    assert.match((await h.waitEvent('outside', 'AllocationFailed')).message ?? '', /^NotInAnyPool: .*192\.0\.2\.7/);
    // Class filtering: another class and other types are left alone; our class is served.
    await h.service('other', { loadBalancerClass: 'example.com/other' });
    await h.service('clusterip', { type: 'ClusterIP' });
    await h.service('ours', { loadBalancerClass: 'ironlb.io/ironlb' });
    await h.waitIPs('ours');
    assert.deepEqual(ips(await h.get('other')), []);
    assert.deepEqual(ips(await h.get('clusterip')), []);
    assert.deepEqual(await h.events('other'), []);
    // A Service that stops being a LoadBalancer releases its address and loses our status.
    const s1 = await h.get('ours');
    await h.clients.core.replaceNamespacedService({ name: 'ours', namespace: 'default', body: { ...s1, spec: { ...s1.spec, type: 'ClusterIP', loadBalancerClass: undefined } } });
    await h.waitIPs('ours', (x) => x.length === 0);
    await h.waitEvent('ours', 'ClearAssignment', /not a LoadBalancer any more; released 10\.30\.0\./);
    assert.equal(allocatedCondition(await h.get('ours'))?.status, 'False');
  });
});

test('pool shrink: Services outside the new range move, the others keep their address', async () => {
  await withCluster(async (h) => {
    await h.pool('p', { addresses: ['10.40.0.0/29'] });
    await h.startController();
    for (const n of ['a', 'b', 'c']) {
      await h.service(n);
      await h.waitIPs(n);
    }
    assert.deepEqual(ips(await h.get('c')), ['10.40.0.2']);
    await h.replacePool('p', { addresses: ['10.40.0.0/31', '10.40.0.4/30'] });
    assert.deepEqual(await h.waitIPs('c', (x) => x[0] !== '10.40.0.2'), ['10.40.0.4']);
    await h.waitEvent('c', 'IPAllocated', /^Assigned 10\.40\.0\.4 from pool p \(moved from 10\.40\.0\.2: NotInAnyPool: 10\.40\.0\.2 of Service default\/c is no longer in any pool/);
    assert.deepEqual(ips(await h.get('a')), ['10.40.0.0']);
    assert.deepEqual(ips(await h.get('b')), ['10.40.0.1']);
  });
});

// A release retries only the Services it can help: one waiting for that very address (or for any,
// as on an exhausted pool), never one refused for its own request. Retrying every pending Service
// on every release cost a decision and an Event write each, with hostile Services waiting.
test('a release retries the Services waiting for that address, not invalid ones', async () => {
  await withCluster(async (h) => {
    await h.pool('small', { addresses: ['10.21.0.0/30'] });
    const c = await h.startController();
    await h.service('holder', { loadBalancerIP: '10.21.0.2' });
    await h.service('other', { loadBalancerIP: '10.21.0.3' });
    assert.deepEqual(await h.waitIPs('holder'), ['10.21.0.2']);
    await h.waitIPs('other');
    await h.service('waiter', { annotations: { 'ironlb.io/loadBalancerIPs': '10.21.0.2' } });
    await h.service('invalid', { annotations: { 'ironlb.io/loadBalancerIPs': 'not-an-address' } });
    await h.waitEvent('waiter', 'AllocationFailed', /^AddressInUse: /);
    await h.waitEvent('invalid', 'AllocationFailed', /^InvalidRequest: /);
    await c.idle();
    const failures = async () => (await h.events('invalid')).concat(await h.events('waiter')).reduce((n, e) => n + (e.count ?? 1), 0);
    const before = { decisions: c.decisions, failures: await failures() };
    // Another address is released: neither the waiter nor the invalid one is decided again.
    await h.clients.core.deleteNamespacedService({ name: 'other', namespace: 'default' });
    await waitFor(() => c.decisions >= before.decisions + 1, { what: 'the deletion decided', timeoutMs: 15_000 });
    await c.idle();
    assert.equal(c.decisions, before.decisions + 1, 'only the deleted Service was decided');
    assert.equal(await failures(), before.failures, 'no AllocationFailed Event repeated');
    // The address the waiter asked for is released: it gets it.
    await h.clients.core.deleteNamespacedService({ name: 'holder', namespace: 'default' });
    assert.deepEqual(await h.waitIPs('waiter'), ['10.21.0.2']);
    assert.deepEqual(ips(await h.get('invalid')), []);
  });
});
