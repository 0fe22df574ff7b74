// The peers ironlb is compared with (bench/compare.ts), each in the same lab as ironlb: the lab comes
// up with it and its Services answer through it, so the comparison cannot rot unnoticed. MetalLB (native
// BGP, and FRR mode with FRR from Debian: testbed/lab/metallb-frr.ts) and kube-vip (ARP and BGP
// engines: testbed/lab/kube-vip.ts) are built on demand (scripts/go-tools.sh peers) in `before`,
// outside the tests' own deadlines.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ensurePeersBuilt } from '../../testbed/lab/peers.ts';
import { firstAnswerElsewhere, hostPrefix, settledOwner, spread, waitRoute, withLab } from './helpers.ts';
import { urlFor } from '../../testbed/lab/index.ts';
import { nsExec, sh } from '../../testbed/lab/proc.ts';
import { join } from 'node:path';
import { waitFor } from '../support/wait.ts';

const prefix = (net: number): string => `ilbp${net}p${process.pid % 10000}`;

before(async () => {
  await ensurePeersBuilt((s) => process.stderr.write(`${s}\n`));
}, { timeout: 30 * 60_000 });

test('MetalLB in the lab: Layer 2 (dual stack) and native BGP Services answer through its speakers; a dead owner is replaced', async () => {
  await withLab(161, async (lab) => {
    assert.equal(lab.implementation, 'metallb');
    await lab.applyExample();
    const [v4, v6] = await lab.waitAddresses('hello-l2', 2, 60_000);
    assert.match(v4!, /^10\.161\.0\./);
    assert.match(v6!, /^fd00:a1::/);
    // One node answers ARP and NDP for the Service (MetalLB's status and the wire agree), and the
    // client on the LAN and the one behind the router reach the backends through it.
    const owner = await settledOwner(lab, 'hello-l2', v4!, 60_000);
    assert.deepEqual(await spread(lab, 'lan', v4!, 5), { [owner]: 5 });
    assert.deepEqual(await spread(lab, 'lan', v6!, 5), { [owner]: 5 });
    // IPv6: the client kernel's own neighbour entry (learnt by NDP) holds the owner's MAC. (ndisc6,
    // which neighOwners uses, gets no answer from MetalLB's responder: see docs/performance.md.)
    const neigh = await nsExec(lab.plan.clientNs, 'ip', ['-6', '-j', 'neigh', 'show', v6!, 'dev', 'eth0']);
    assert.equal((JSON.parse(neigh) as Array<{ lladdr?: string }>)[0]?.lladdr, lab.state.macs[owner], neigh);
    assert.deepEqual(await spread(lab, 'ext', v4!, 5), { [owner]: 5 });
    // Native BGP: every node announces the ETP Cluster Service (ECMP at the router), only the
    // endpoint's node the ETP Local one.
    const [bgp] = await lab.waitAddresses('hello-bgp', 1, 60_000);
    await waitRoute(lab, hostPrefix(bgp!), ['node0', 'node1', 'node2'], 60_000);
    const [local] = await lab.waitAddresses('hello-local', 1, 60_000);
    await waitRoute(lab, hostPrefix(local!), ['node2'], 60_000);
    const answers = await spread(lab, 'ext', bgp!, 30);
    assert.ok(Object.keys(answers).every((k) => k.startsWith('node')), JSON.stringify(answers));
    // The owner's node stops: MetalLB's memberlist notices and another speaker takes the address.
    const probe = lab.probe('lan', urlFor(v4!, lab.plan.appPort), { intervalMs: 20, timeoutMs: 300, maxMs: 60_000 });
    try {
      const t0 = await lab.killNode(lab.node(owner).index);
      const moved = await firstAnswerElsewhere(probe.results, t0, owner, 45_000);
      assert.notEqual(moved.node, owner);
      await waitRoute(lab, hostPrefix(bgp!), ['node0', 'node1', 'node2'].filter((n) => n !== owner), 60_000);
    } finally {
      probe.stop();
    }
  }, { implementation: 'metallb', prefix: prefix(161) });
});

test('MetalLB in FRR mode in the lab: FRR from Debian under its speakers, BFD up with the router, dual-stack BGP Services answer; a powered-off node is dropped by BFD before the hold time', async () => {
  await withLab(163, async (lab) => {
    assert.equal(lab.implementation, 'metallb-frr');
    await lab.applyExample();
    const nodes = lab.plan.nodes.map((n) => n.name);
    // FRR mode speaks IPv6 too (native refuses it): a dual-stack BGP Service, ECMP over every node.
    await lab.service('dual-bgp', { pool: 'lab-bgp', dualStack: true });
    const [v4, v6] = await lab.waitAddresses('dual-bgp', 2, 90_000);
    assert.match(v4!, /^10\.163\.2\./);
    assert.match(v6!, /^fd00:a3:2::/);
    await waitRoute(lab, hostPrefix(v4!), nodes, 90_000);
    await waitRoute(lab, hostPrefix(v6!), nodes, 90_000);
    const [local] = await lab.waitAddresses('hello-local', 1, 60_000);
    await waitRoute(lab, hostPrefix(local!), [nodes[nodes.length - 1]!], 60_000);
    // The sessions run BFD at MetalLB's BFDProfile (100 ms x 3), seen from the router's side.
    await waitFor(async () => {
      const out = await sh('birdc', ['-s', join(lab.dir, 'bird.ctl'), 'show', 'bfd', 'sessions'], 5000);
      return (out.match(/\bUp\b/g) ?? []).length === 2 * nodes.length;
    }, { what: 'BIRD to have a BFD session Up with each node over IPv4 and IPv6', timeoutMs: 60_000, intervalMs: 500 });
    for (const ip of [v4!, v6!]) {
      const answers = await spread(lab, 'ext', ip, 20);
      assert.ok(Object.keys(answers).every((k) => nodes.includes(k)), JSON.stringify(answers));
    }
    // Power-off (link down, every process of the node killed, FRR included): BFD, not the 9 s hold
    // time, takes the node out of the router's route.
    const victim = lab.plan.nodes[0]!;
    const t0 = await lab.killNode(victim.index);
    await waitRoute(lab, hostPrefix(v4!), nodes.filter((n) => n !== victim.name), 20_000);
    const ms = Date.now() - t0;
    assert.ok(ms < lab.state.holdTime * 1000, `route withdrawn after ${ms} ms: not before the ${lab.state.holdTime} s hold time, so BFD did not act`);
    await lab.reviveNode(victim.index, 180_000);
    await waitRoute(lab, hostPrefix(v4!), nodes, 90_000);
  }, { implementation: 'metallb-frr', prefix: prefix(163) });
});

test('kube-vip in the lab: its ARP engine (a Lease per Service) and its BGP engine serve the Services; a dead owner is replaced', async () => {
  await withLab(162, async (lab) => {
    assert.equal(lab.implementation, 'kube-vip');
    await lab.applyExample();
    // The lab gives the addresses (kube-vip-cloud-provider's part); kube-vip writes them to status.
    const [v4, v6] = await lab.waitAddresses('hello-l2', 2, 90_000);
    assert.match(v4!, /^10\.162\.0\./);
    assert.match(v6!, /^fd00:a2::/);
    // The Lease holder names itself on the Service and is the one node the wire names for the address.
    const owner = await settledOwner(lab, 'hello-l2', v4!, 90_000);
    assert.deepEqual(await spread(lab, 'lan', v4!, 5), { [owner]: 5 });
    assert.deepEqual(await spread(lab, 'ext', v4!, 5), { [owner]: 5 });
    // BGP engine: every node announces the ETP Cluster Service, only the endpoint's node the ETP Local one.
    const [bgp] = await lab.waitAddresses('hello-bgp', 1, 60_000);
    await waitRoute(lab, hostPrefix(bgp!), ['node0', 'node1', 'node2'], 90_000);
    const [local] = await lab.waitAddresses('hello-local', 1, 60_000);
    await waitRoute(lab, hostPrefix(local!), ['node2'], 90_000);
    const answers = await spread(lab, 'ext', bgp!, 30);
    assert.ok(Object.keys(answers).every((k) => k.startsWith('node')), JSON.stringify(answers));
    // The owner's node stops: its Lease runs out and another node's engine takes the address.
    const probe = lab.probe('lan', urlFor(v4!, lab.plan.appPort), { intervalMs: 20, timeoutMs: 300, maxMs: 90_000 });
    try {
      const t0 = await lab.killNode(lab.node(owner).index);
      const moved = await firstAnswerElsewhere(probe.results, t0, owner, 60_000);
      assert.notEqual(moved.node, owner);
    } finally {
      probe.stop();
    }
  }, { implementation: 'kube-vip', prefix: prefix(162) });
});
