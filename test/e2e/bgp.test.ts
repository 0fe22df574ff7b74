// BGP on the lab (MetalLB's e2e families): externalTrafficPolicy Cluster and Local as next hops at
// the router, dual stack, node selectors, pools/advertisements/peers changed at run time, withdrawal
// on node death (BFD), and a controller restart that keeps every address. One lab, subtests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../support/wait.ts';
import { hostPrefix, spread, waitEvent, waitRoute, withLab } from './helpers.ts';

const NET = 153;
const ALL = ['node0', 'node1', 'node2'];

test('BGP end to end: ETP Cluster/Local, dual stack, node selectors, runtime changes, node death, controller restart', async (t) => {
  await withLab(NET, async (lab) => {
    await lab.applyConfig();

    await t.test('externalTrafficPolicy: Cluster from every node, Local only from nodes with endpoints (and follows them)', async () => {
      await lab.service('cl', { pool: 'lab-bgp', endpointNodes: ['node1'] });
      await lab.service('lo', { pool: 'lab-bgp', etp: 'Local', endpointNodes: ['node1'] });
      const [cl] = await lab.waitAddresses('cl');
      const [lo] = await lab.waitAddresses('lo');
      await waitRoute(lab, hostPrefix(cl!), ALL);
      await waitRoute(lab, hostPrefix(lo!), ['node1']);
      await lab.endpoints('lo', ['node0', 'node2']);
      await waitRoute(lab, hostPrefix(lo!), ['node0', 'node2']);
      const answers = await spread(lab, 'ext', lo!, 20);
      assert.deepEqual(Object.keys(answers).sort(), ['node0', 'node2'], `ETP Local traffic only reaches endpoint nodes, over both: ${JSON.stringify(answers)}`);
      const cla = await spread(lab, 'ext', cl!, 30);
      assert.deepEqual(Object.keys(cla).sort(), ALL, `ETP Cluster traffic spreads over every node: ${JSON.stringify(cla)}`);
    });

    await t.test('dual stack: IPv4 and IPv6 routes with every node as next hop; IPv6 traffic spreads', async () => {
      await lab.service('ds', { pool: 'lab-bgp', dualStack: true });
      const addrs = await lab.waitAddresses('ds', 2);
      const v6 = addrs.find((a) => a.includes(':'))!;
      const v4 = addrs.find((a) => !a.includes(':'))!;
      await waitRoute(lab, hostPrefix(v4), ALL);
      await waitRoute(lab, hostPrefix(v6), ALL);
      const answers = await spread(lab, 'ext', v6, 30);
      assert.deepEqual(Object.keys(answers).sort(), ALL, `IPv6 ECMP: ${JSON.stringify(answers)}`);
    });

    await t.test('node selectors: only selected nodes announce; labelling a node adds its next hop', async () => {
      await lab.apply('IPPool', 'sel', { addresses: [`10.${NET}.3.0/28`], autoAssign: false });
      await lab.apply('BGPAdvertisement', 'sel', { pools: ['sel'], nodeSelectors: [{ matchLabels: { 'lab.ironlb.io/bgp': 'yes' } }] });
      await lab.setNodeLabels('node1', { 'lab.ironlb.io/bgp': 'yes' });
      await lab.service('selected', { pool: 'sel' });
      const [vip] = await lab.waitAddresses('selected');
      await waitRoute(lab, hostPrefix(vip!), ['node1']);
      await lab.setNodeLabels('node2', { 'lab.ironlb.io/bgp': 'yes' });
      await waitRoute(lab, hostPrefix(vip!), ['node1', 'node2']);
    });

    await t.test('runtime changes: a pool created late, advertised late, then changed; a peer removed and re-added', async () => {
      await lab.service('late', { pool: 'late' });
      await waitEvent(lab, 'late', 'AllocationFailed');
      await lab.apply('IPPool', 'late', { addresses: [`10.${NET}.3.32/28`], autoAssign: false });
      const [first] = await lab.waitAddresses('late');
      assert.ok(first!.startsWith(`10.${NET}.3.`), `late got ${first}`);
      await lab.apply('BGPAdvertisement', 'late', { pools: ['late'] });
      await waitRoute(lab, hostPrefix(first!), ALL);
      // The pool no longer holds the address: the Service gets a new one, the router follows.
      await lab.apply('IPPool', 'late', { addresses: [`10.${NET}.3.64/28`], autoAssign: false });
      const second = await waitFor(async () => {
        const a = await lab.addresses('late');
        return a.length === 1 && a[0] !== first ? a[0] : undefined;
      }, { what: 'a new address for late from the changed pool', timeoutMs: 20_000 });
      assert.ok(second.startsWith(`10.${NET}.3.`));
      await waitRoute(lab, hostPrefix(second), ALL);
      await waitRoute(lab, hostPrefix(first!), []);
      // Peers: without the IPv4 peer every IPv4 route leaves the router; back with it.
      await lab.remove('BGPPeer', 'router');
      await waitRoute(lab, hostPrefix(second), []);
      await lab.applyConfig();
      await waitRoute(lab, hostPrefix(second), ALL, 30_000);
    });

    await t.test('node death: the dead node\'s next hop is withdrawn (BFD) and traffic avoids it', async () => {
      const [vip] = await lab.addresses('cl');
      await waitRoute(lab, hostPrefix(vip!), ALL);
      const t0 = await lab.killNode(2);
      await waitRoute(lab, hostPrefix(vip!), ['node0', 'node1'], 15_000);
      const ms = Date.now() - t0;
      console.log(`# e2e BGP: node2 stopped; its next hop left the router after <= ${ms} ms`);
      assert.ok(ms < 5000, `withdrawal took ${ms} ms`);
      const answers = await spread(lab, 'ext', vip!, 12);
      assert.deepEqual(Object.keys(answers).sort(), ['node0', 'node1'], `only live nodes answer: ${JSON.stringify(answers)}`);
      await lab.reviveNode(2);
      await waitRoute(lab, hostPrefix(vip!), ALL, 30_000);
    });

    await t.test('controller restart: every Service keeps its addresses; a Service created meanwhile gets a free one', async () => {
      const list = async (): Promise<Record<string, string[]>> => {
        const out: Record<string, string[]> = {};
        for (const s of (await lab.core.listNamespacedService({ namespace: 'default' })).items) out[s.metadata!.name!] = (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip!).sort();
        return out;
      };
      const before = await list();
      assert.ok(Object.keys(before).length >= 5);
      await lab.stopController();
      await lab.service('newcomer', { pool: 'lab-bgp' });
      lab.startController();
      const [got] = await lab.waitAddresses('newcomer');
      const taken = Object.values(before).flat();
      assert.ok(!taken.includes(got!), `newcomer got ${got}, which was not taken`);
      const after = await list();
      delete after.newcomer;
      assert.deepEqual(after, before);
    });
  });
});
