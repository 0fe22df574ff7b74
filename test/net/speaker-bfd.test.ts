// BFD through the speaker: a BGPPeer with a BFDProfile gets a BFD session; when the path dies,
// BIRD (bfd on) drops the node's route at once instead of after the 9 s hold time, and the speaker
// resets its own session and reports the BFD state in BGPSessionState.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpeakerCluster } from '../support/speaker-cluster.ts';
import { startBird } from '../support/bfd-peers.ts';
import { waitFor } from '../support/wait.ts';

const AS = 64512;

test('speaker BFD: profile per peer, BFD Down withdraws at the router and resets the session', async () => {
  const c = await SpeakerCluster.create({ prefix: 'ilbs', nodes: 2, net: 87, bareRouters: 1 });
  let bird: Awaited<ReturnType<typeof startBird>> | undefined;
  try {
    const r = c.bareRouters[0]!;
    const neighbors = c.nodes
      .map((n, i) => `protocol bgp n${i} { local ${r.address} as ${AS}; neighbor ${n.address} as ${AS}; direct; hold time 9; keepalive time 3; bfd on; connect delay time 1; connect retry time 2; error wait time 1, 4; error forget time 10; ipv4 { import all; export none; }; }`)
      .join('\n');
    bird = await startBird(
      r.ns,
      `router id ${r.address};\nprotocol device {}\nprotocol bfd { interface "eth0" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }\n${neighbors}\n`,
    );
    await c.apply('IPPool', 'bgp', { addresses: ['10.187.0.0/24'] });
    await c.apply('BFDProfile', 'fast', { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 });
    await c.apply('BGPPeer', 'r1', { myASN: AS, peerASN: AS, peerAddress: r.address, holdTime: '9s', connectTime: '1s', bfdProfile: 'fast' });
    await c.apply('BGPAdvertisement', 'adv', {});
    for (let i = 0; i < 2; i++) c.startSpeaker(i, ['--no-layer2']);
    await Promise.all(c.nodes.map((n) => n.waitLog(/membership running/, 180_000)));
    await c.service('web', ['10.187.0.10']);
    const state = async (node: string) =>
      ((await c.api.custom.getNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: 'ironlb-system', plural: 'bgpsessionstates', name: `${node}.r1` }).catch(() => undefined)) as
        | { status?: { state: string; bfdState?: string } }
        | undefined)?.status;
    await waitFor(async () => (await bird!.bfdSessions()).filter((s) => s.state === 'Up').length === 2, { what: 'BIRD: two BFD sessions Up', timeoutMs: 30_000, intervalMs: 200 });
    await waitFor(async () => (await state('n0'))?.bfdState === 'Up' && (await state('n0'))?.state === 'Established', { what: 'BGPSessionState n0.r1 Established with BFD Up', timeoutMs: 20_000, intervalMs: 200 });
    await waitFor(async () => (await bird!.cmd('show route all 10.187.0.10/32')).split('\n').filter((l) => /via 10\.87\.0\./.test(l)).length === 2, { what: 'the route via both nodes', timeoutMs: 20_000, intervalMs: 200 });

    // n0's BFD packets stop (BGP keepalives still flow): BIRD declares BFD Down and drops the session.
    await c.nodes[0]!.ns.exec('nft', ['add table inet ilbs; add chain inet ilbs out { type filter hook output priority 0; }; add rule inet ilbs out udp dport 3784 drop']);
    const cutAt = Date.now();
    await waitFor(async () => !(await bird!.cmd('show route all 10.187.0.10/32')).includes(`via ${c.nodes[0]!.address}`), { what: 'BIRD drops the route via n0', timeoutMs: 8000, intervalMs: 50 });
    const withdrawnMs = Date.now() - cutAt;
    console.log(`# speaker BFD: route via n0 withdrawn at BIRD ${withdrawnMs} ms after n0's BFD stopped (hold time 9 s)`);
    assert.ok(withdrawnMs < 3000, `withdrawn after ${withdrawnMs} ms`);
    await waitFor(async () => (await state('n0'))?.bfdState === 'Down' || (await state('n0'))?.bfdState === 'Init', { what: 'BGPSessionState n0.r1 reports BFD not Up', timeoutMs: 10_000, intervalMs: 200 });
    assert.ok((await bird.cmd('show route all 10.187.0.10/32')).includes(`via ${c.nodes[1]!.address}`), 'n1 unaffected');

    // Heal: BFD and BGP come back.
    await c.nodes[0]!.ns.exec('nft', ['delete table inet ilbs']);
    await waitFor(async () => (await state('n0'))?.bfdState === 'Up' && (await state('n0'))?.state === 'Established', { what: 'n0.r1 back up', timeoutMs: 30_000, intervalMs: 200 });
    await waitFor(async () => (await bird!.cmd('show route all 10.187.0.10/32')).includes(`via ${c.nodes[0]!.address}`), { what: 'the route via n0 again', timeoutMs: 30_000, intervalMs: 200 });
  } finally {
    await bird?.stop();
    await c.destroy();
  }
});
