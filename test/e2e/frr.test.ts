// The lab with FRR as the router (`ironlb lab up --router frr`): zebra installs the ECMP route,
// bgpd peers with both nodes over IPv4 and IPv6, bfdd runs BFD; a stopped node's next hop leaves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostPrefix, spread, waitRoute, withLab } from './helpers.ts';

test('lab with FRR: sessions over both families, ECMP route and spread, a stopped node withdrawn', async () => {
  await withLab(155, async (lab) => {
    await lab.applyExample();
    const [bgp] = await lab.waitAddresses('hello-bgp');
    await waitRoute(lab, hostPrefix(bgp!), ['node0', 'node1']);
    const sessions = await lab.sessions();
    assert.equal(sessions.filter((s) => s.state === 'Established').length, 4, JSON.stringify(sessions));
    const answers = await spread(lab, 'ext', bgp!, 20);
    assert.deepEqual(Object.keys(answers).sort(), ['node0', 'node1'], JSON.stringify(answers));
    await lab.killNode(0);
    await waitRoute(lab, hostPrefix(bgp!), ['node1'], 15_000);
    assert.deepEqual(await spread(lab, 'ext', bgp!, 5), { node1: 5 });
  }, { router: 'frr', nodes: 2 });
});
