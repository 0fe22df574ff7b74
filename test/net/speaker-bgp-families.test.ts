// Both address families over one IPv4 session (MP-BGP): nodes with a global IPv6 address on the
// session's interface send their IPv6 service routes to an IPv4 BGPPeer, with that address as the
// next hop; BIRD has an ipv6 channel on the IPv4 session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpeakerCluster } from '../support/speaker-cluster.ts';
import { Bird, type RibEntry } from '../support/peers/index.ts';
import { waitFor } from '../support/wait.ts';

const AS = 64512;

test('speaker BGP families: IPv6 service addresses reach the router over IPv4 sessions, next hop the node\'s IPv6', async () => {
  const c = await SpeakerCluster.create({ prefix: 'ilbs', nodes: 2, net: 89, bareRouters: 1 });
  let bird: Bird | undefined;
  try {
    const r = c.bareRouters[0]!;
    const v6 = (i: number): string => `fd00:89::${i + 1}`;
    await r.ns.ip('addr', 'add', 'fd00:89::fe/64', 'dev', 'eth0', 'nodad');
    for (const [i, n] of c.nodes.entries()) await n.ns.ip('addr', 'add', `${v6(i)}/64`, 'dev', 'eth0', 'nodad');
    bird = await Bird.start(r.ns, { asn: AS, routerId: r.address, localAddress: r.address, neighbors: c.nodes.map((n) => ({ address: n.address, asn: AS, holdTime: 9, families: ['ipv4', 'ipv6'] })) });
    await c.apply('IPPool', 'v4', { addresses: ['10.189.0.0/24'] });
    await c.apply('IPPool', 'v6', { addresses: ['fd00:189::/120'] });
    await c.apply('BGPPeer', 'r1', { myASN: AS, peerASN: AS, peerAddress: r.address, holdTime: '9s', connectTime: '1s' });
    await c.apply('BGPAdvertisement', 'adv', {});
    for (let i = 0; i < 2; i++) c.startSpeaker(i, ['--no-layer2']);
    await Promise.all(c.nodes.map((n) => n.waitLog(/membership running/, 180_000)));
    await c.service('web4', ['10.189.0.10']);
    await c.service('web6', ['fd00:189::10']);

    const b = bird;
    const find = async (family: 'ipv4' | 'ipv6', prefix: string): Promise<RibEntry | undefined> => (await b.rib(family)).find((e) => e.prefix === prefix);
    let last: RibEntry | undefined;
    await waitFor(async () => (last = await find('ipv6', 'fd00:189::10/128'))?.nextHops.length === 2, { what: 'the IPv6 route from both nodes at BIRD', timeoutMs: 30_000, intervalMs: 200 }).catch((err: Error) => {
      throw new Error(`${err.message}; BIRD holds ${JSON.stringify(last)}\n${c.nodes[0]!.tail(15)}`);
    });
    assert.deepEqual(last?.nextHops, [v6(0), v6(1)], 'next hop: each node\'s global IPv6 on the session interface');
    const r4 = await waitFor(async () => {
      const e = await find('ipv4', '10.189.0.10/32');
      return e?.nextHops.length === 2 ? e : undefined;
    }, { what: 'the IPv4 route from both nodes at BIRD', timeoutMs: 10_000, intervalMs: 200 });
    assert.deepEqual(r4.nextHops, c.nodes.map((n) => n.address).sort());
    // Still one session per node, both over IPv4.
    const sessions = await b.sessions();
    assert.equal(sessions.length, 2);
    assert.ok(sessions.every((s) => s.state === 'established'));
  } finally {
    await bird?.stop().catch(() => {});
    await c.destroy();
  }
});
