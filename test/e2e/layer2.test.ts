// Layer 2 on the lab (MetalLB's e2e families): address assignment, failover by killing the owner's
// speaker and by cutting the owner's link, externalTrafficPolicy Cluster and Local, dual stack,
// shared addresses, node selectors. One lab, each family a subtest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { urlFor } from '../../testbed/lab/index.ts';
import { waitFor } from '../support/wait.ts';
import { firstAnswerElsewhere, l2Owner, settledOwner, spread, waitEvent, waitOwnerAgain, withLab } from './helpers.ts';

const NET = 152;
const ip4 = (last: number): string => `10.${NET}.0.${last}`;

test('Layer 2 end to end: assignment, failover (speaker killed, link cut), ETP Cluster/Local, dual stack, shared addresses, node selectors', async (t) => {
  await withLab(NET, async (lab) => {
    await lab.applyConfig();

    await t.test('assignment: requested address, pool by name, exhausted pool pending until an address frees up', async () => {
      await lab.apply('IPPool', 'small', { addresses: [`${ip4(96)}-${ip4(97)}`], autoAssign: false });
      await lab.apply('L2Advertisement', 'small', { pools: ['small'] });
      await lab.service('req', { ips: [ip4(70)] });
      assert.deepEqual(await lab.waitAddresses('req'), [ip4(70)]);
      await lab.service('a1', { pool: 'small' });
      await lab.service('a2', { pool: 'small' });
      const got = [...(await lab.waitAddresses('a1')), ...(await lab.waitAddresses('a2'))].sort();
      assert.deepEqual(got, [ip4(96), ip4(97)]);
      await lab.service('a3', { pool: 'small' });
      await waitEvent(lab, 'a3', 'AllocationFailed');
      assert.deepEqual(await lab.addresses('a3'), []);
      const freed = (await lab.addresses('a1'))[0]!;
      await lab.deleteService('a1');
      // The pending Service is retried as soon as an address is released: no change to it needed.
      assert.deepEqual(await lab.waitAddresses('a3'), [freed]);
      // Announced and reachable: the requested address answers from its owner.
      const o = await settledOwner(lab, 'req', ip4(70));
      assert.deepEqual(await spread(lab, 'lan', ip4(70), 3), { [o]: 3 });
    });

    await t.test('failover: killing the owner\'s speaker moves the address; traffic resumes through the new owner', async () => {
      await lab.service('web', { pool: 'lab-l2' });
      const [vip] = await lab.waitAddresses('web');
      const owner = await settledOwner(lab, 'web', vip!);
      const probe = lab.probe('lan', urlFor(vip!), { intervalMs: 30, timeoutMs: 250 });
      try {
        await waitFor(() => probe.results.some((r) => r.node === owner), { what: `answers from ${owner}`, timeoutMs: 15_000 });
        const t0 = await lab.killSpeaker(lab.node(owner).index);
        const r = await firstAnswerElsewhere(probe.results, t0, owner);
        console.log(`# e2e L2: ${owner}'s speaker killed; ${r.node} answered after ${r.ms} ms`);
        assert.ok(r.ms < 3000, `failover took ${r.ms} ms`);
      } finally {
        probe.stop();
      }
      assert.notEqual(await settledOwner(lab, 'web', vip!), owner);
      await lab.reviveNode(lab.node(owner).index);
      // Ownership is a function of the live nodes: with the same nodes back, the same owner.
      await waitOwnerAgain(lab, 'web', vip!, owner, `${owner} to own web again once revived`);
    });

    await t.test('failover: cutting the owner\'s link moves the address; healing it leaves one owner', async () => {
      const [vip] = await lab.addresses('web');
      const owner = await settledOwner(lab, 'web', vip!);
      const probe = lab.probe('ext', urlFor(vip!), { intervalMs: 30, timeoutMs: 250 });
      try {
        await waitFor(() => probe.results.some((r) => r.node === owner), { what: `answers from ${owner}`, timeoutMs: 15_000 });
        const t0 = await lab.cutLink(lab.node(owner).index);
        const r = await firstAnswerElsewhere(probe.results, t0, owner);
        console.log(`# e2e L2: ${owner}'s link cut; ${r.node} answered after ${r.ms} ms`);
        assert.ok(r.ms < 5000, `failover took ${r.ms} ms`);
      } finally {
        probe.stop();
      }
      await lab.healLink(lab.node(owner).index);
      // Healed, the node rejoins and gets its address back (same nodes, same owner); only it answers.
      await waitOwnerAgain(lab, 'web', vip!, owner, `${owner} to own web again once its link is back`);
      assert.deepEqual(await spread(lab, 'ext', vip!, 4), { [owner]: 4 });
    });

    await t.test('externalTrafficPolicy: Local is announced only from a node with an endpoint, Cluster from any', async () => {
      await lab.service('local', { pool: 'lab-l2', etp: 'Local', endpointNodes: ['node1'] });
      const [vip] = await lab.waitAddresses('local');
      assert.equal(await settledOwner(lab, 'local', vip!), 'node1');
      await lab.endpoints('local', ['node2']);
      await waitFor(async () => (await l2Owner(lab, 'local', { timeoutMs: 2000 }).catch(() => '')) === 'node2', { what: 'the owner to follow the endpoint to node2', timeoutMs: 20_000 });
      assert.equal(await settledOwner(lab, 'local', vip!), 'node2');
      await lab.service('cluster', { pool: 'lab-l2', etp: 'Cluster', endpointNodes: ['node1'] });
      const [cv] = await lab.waitAddresses('cluster');
      const o = await settledOwner(lab, 'cluster', cv!);
      assert.deepEqual(await spread(lab, 'lan', cv!, 3), { [o]: 3 });
    });

    await t.test('dual stack: an IPv4 and an IPv6 address, both answered over ARP/NDP and reachable', async () => {
      await lab.service('ds', { pool: 'lab-l2', dualStack: true });
      const addrs = await lab.waitAddresses('ds', 2);
      const v6 = addrs.find((a) => a.includes(':'));
      const v4 = addrs.find((a) => !a.includes(':'));
      assert.ok(v4 && v6, `one address of each family: ${addrs.join(', ')}`);
      const o6 = await settledOwner(lab, 'ds', v6);
      assert.deepEqual(await spread(lab, 'lan', v6, 3), { [o6]: 3 });
      assert.deepEqual(await spread(lab, 'ext', v6, 3), { [o6]: 3 });
      const o4 = await settledOwner(lab, 'ds', v4);
      assert.deepEqual(await spread(lab, 'lan', v4, 3), { [o4]: 3 });
    });

    await t.test('shared addresses: two Services with one sharing key share an address on distinct ports; a third without the key is refused', async () => {
      const vip = ip4(98);
      await lab.apply('IPPool', 'shared', { addresses: [`${ip4(98)}-${ip4(99)}`], autoAssign: false });
      await lab.apply('L2Advertisement', 'shared', { pools: ['shared'] });
      await lab.service('sh1', { ips: [vip], sharingKey: 'web', port: lab.plan.appPort });
      await lab.service('sh2', { ips: [vip], sharingKey: 'web', port: lab.plan.appPort2 });
      assert.deepEqual(await lab.waitAddresses('sh1'), [vip]);
      assert.deepEqual(await lab.waitAddresses('sh2'), [vip]);
      await lab.service('sh3', { ips: [vip], port: 9090 });
      await waitEvent(lab, 'sh3', 'AllocationFailed');
      assert.deepEqual(await lab.addresses('sh3'), []);
      const o = await settledOwner(lab, 'sh1', vip);
      assert.deepEqual(await spread(lab, 'lan', vip, 2, lab.plan.appPort), { [o]: 2 });
      assert.deepEqual(await spread(lab, 'lan', vip, 2, lab.plan.appPort2), { [o]: 2 });
    });

    await t.test('node selectors: only nodes the L2Advertisement selects announce; relabelling moves the address', async () => {
      await lab.apply('IPPool', 'sel', { addresses: [`${ip4(100)}-${ip4(101)}`], autoAssign: false });
      await lab.apply('L2Advertisement', 'sel', { pools: ['sel'], nodeSelectors: [{ matchLabels: { 'lab.ironlb.io/l2': 'yes' } }] });
      await lab.setNodeLabels('node2', { 'lab.ironlb.io/l2': 'yes' });
      await lab.service('selected', { pool: 'sel' });
      const [vip] = await lab.waitAddresses('selected');
      assert.equal(await settledOwner(lab, 'selected', vip!), 'node2');
      await lab.setNodeLabels('node0', { 'lab.ironlb.io/l2': 'yes' });
      await lab.setNodeLabels('node2', { 'lab.ironlb.io/l2': null });
      await waitFor(async () => (await l2Owner(lab, 'selected', { timeoutMs: 2000 }).catch(() => '')) === 'node0', { what: 'the owner to move to node0', timeoutMs: 20_000 });
      assert.equal(await settledOwner(lab, 'selected', vip!), 'node0');
    });
  });
});
