// The lab in BGP unnumbered mode (`ironlb lab up --bgp-unnumbered`): a MetalLB FRR-mode
// configuration (a BGPPeer with `interface` and `dynamicASN: external`) goes through `ironlb
// migrate` and runs. Each node peers with the FRR router over its own point-to-point link, which has
// link-local addresses only; the router's kernel gets the Service's IPv4 route via inet6 fe80::...
// on every node link (ECMP, RFC 8950) and its IPv6 route the same way; a client behind the router
// reaches the Service through every node; a node powered off loses its path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nsIp } from '../../testbed/lab/proc.ts';
import { waitFor } from '../support/wait.ts';
import { hostPrefix, spread, waitRoute, withLab } from './helpers.ts';

const NET = 166;

test('lab in BGP unnumbered mode: migrated MetalLB FRR-mode BGPPeer, IPv4 via inet6 link-local ECMP at the router, traffic, a powered-off node withdrawn', { timeout: 600_000 }, async () => {
  await withLab(NET, async (lab) => {
    await lab.applyExample();

    // The configuration is ironlb migrate's output of MetalLB objects, applied as migrated.
    const migrated = readFileSync(join(lab.dir, 'ironlb-unnumbered.yaml'), 'utf8');
    assert.doesNotMatch(migrated, /warning/, migrated);
    assert.match(readFileSync(join(lab.dir, 'metallb-unnumbered.yaml'), 'utf8'), /apiVersion: metallb\.io\/v1beta2\nkind: BGPPeer/);
    const peer = (await lab.custom.getNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: 'ironlb-system', plural: 'bgppeers', name: 'router' })) as { spec: Record<string, unknown> };
    assert.equal(peer.spec.interface, 'eth1');
    assert.equal(peer.spec.dynamicASN, 'external');
    assert.equal(peer.spec.peerAddress, undefined);

    const [vip] = await lab.waitAddresses('hello-bgp', 1, 60_000);
    // Generous: the first sessions wait for the router's RAs and the nodes' start on a busy machine.
    await waitRoute(lab, hostPrefix(vip!), ['node0', 'node1'], 90_000);
    const raw = await nsIp(lab.plan.routerNs, '-4', 'route', 'show', vip!);
    for (const dev of ['node0', 'node1']) assert.match(raw, new RegExp(`via inet6 fe80:[0-9a-f:]+ dev ${dev}\\b`), `IPv4 route via the node's link-local on ${dev}: ${raw}`);
    const sessions = await lab.sessions();
    assert.ok(sessions.length >= 2 && sessions.every((s) => s.state === 'Established' && /^node[01]$/.test(s.name)), `interface sessions with both nodes: ${JSON.stringify(sessions)}`);

    // IPv6 routes go over the same sessions, via the same link-local next hops.
    await lab.service('ds', { pool: 'lab-bgp', dualStack: true });
    const v6 = (await lab.waitAddresses('ds', 2, 60_000)).find((a) => a.includes(':'))!;
    await waitRoute(lab, hostPrefix(v6), ['node0', 'node1'], 60_000);

    const answers = await spread(lab, 'ext', vip!, 20);
    assert.deepEqual(Object.keys(answers).sort(), ['node0', 'node1'], `the client behind the router reaches the Service through both nodes: ${JSON.stringify(answers)}`);

    // Power-off: the node's link loses carrier at the router, whose session ends at once (no BFD needed).
    const t0 = await lab.killNode(0);
    await waitRoute(lab, hostPrefix(vip!), ['node1'], 20_000);
    console.log(`# e2e BGP unnumbered: node0 powered off; its path left the router after <= ${Date.now() - t0} ms`);
    await waitRoute(lab, hostPrefix(v6), ['node1'], 20_000);
    assert.deepEqual(await spread(lab, 'ext', vip!, 5), { node1: 5 });

    await lab.reviveNode(0);
    await waitRoute(lab, hostPrefix(vip!), ['node0', 'node1'], 60_000);
    await waitFor(async () => (await spread(lab, 'ext', vip!, 20)).node0 !== undefined, { what: 'node0 answering again through the router', timeoutMs: 20_000, intervalMs: 500 });
  }, { unnumbered: true, router: 'frr', nodes: 2, prefix: `ilbn${process.pid % 10000}` });
});
