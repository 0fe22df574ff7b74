// The cluster harness's pure parts (testbed/cluster): topologies of the speaker harness and the lab,
// MACs to node names, one metric out of a Prometheus page.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTopology, metricValue, nodesOfMacs, speakerTopology } from '../../testbed/cluster/index.ts';
import { labTopology } from '../../testbed/lab/lab.ts';

test('topologies: the speaker harness routers with daemons first, then bare ones; the lab one router and two clients', () => {
  const t = speakerTopology({ prefix: 'ilbs', nodes: 3, net: 82, routers: 2, bareRouters: 1, routerGracefulRestart: true, client: true });
  assert.deepEqual(t.routers.map((r) => r.kind), ['bird', 'bird', 'none']);
  assert.equal(t.routers[0]?.gracefulRestart, true);
  assert.deepEqual(t.clients, ['lan']);
  assert.equal(t.implementation, 'ironlb');
  const lab = labTopology({ nodes: 4, router: 'frr', bfd: false, unnumbered: true });
  assert.deepEqual(lab, { nodes: 4, routers: [{ kind: 'frr', bfd: false, holdTime: 9, gracefulRestart: false }], clients: ['lan', 'ext'], implementation: 'ironlb', unnumbered: true });
  assert.equal(labTopology({}).routers[0]?.kind, 'bird');
});

test('checkTopology refuses what cannot be built, saying why', () => {
  assert.throws(() => checkTopology({ nodes: 0, routers: [], clients: [], implementation: 'ironlb' }), /1 to 40 nodes/);
  assert.throws(() => checkTopology({ nodes: 2, routers: [{ kind: 'bird' }], clients: [], implementation: 'ironlb', unnumbered: true }), /FRR router/);
  assert.throws(() => checkTopology({ nodes: 1, routers: [], clients: [], implementation: 'ironlb', labels: [{}, {}] }), /labels for 2 nodes/);
});

test('nodesOfMacs names the nodes that answered; foreign MACs stay or go', () => {
  const macs = { n0: '02:00:00:00:00:01', n1: '02:00:00:00:00:02' };
  assert.deepEqual(nodesOfMacs(['02:00:00:00:00:02', '02:00:00:00:00:01'], macs), ['n0', 'n1']);
  assert.deepEqual(nodesOfMacs(['02:00:00:00:00:02', 'aa:bb:cc:dd:ee:ff'], macs), ['aa:bb:cc:dd:ee:ff', 'n1']);
  assert.deepEqual(nodesOfMacs(['aa:bb:cc:dd:ee:ff', '02:00:00:00:00:01'], macs, { onlyNodes: true }), ['n0']);
});

test('metricValue reads one sample by name and exact labels', () => {
  const page = ['# HELP x', 'ironlb_a 3', 'ironlb_a_total 9', 'ironlb_b{mode="layer2"} 1.5', 'ironlb_b{mode="bgp"} 2'].join('\n');
  assert.equal(metricValue(page, 'ironlb_a'), 3);
  assert.equal(metricValue(page, 'ironlb_b', 'mode="bgp"'), 2);
  assert.equal(metricValue(page, 'ironlb_b'), undefined);
  assert.equal(metricValue(page, 'ironlb_c'), undefined);
});
