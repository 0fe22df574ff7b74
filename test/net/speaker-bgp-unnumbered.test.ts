// BGP unnumbered end to end: an `ironlb speaker` with a BGPPeer naming its interface (and
// dynamicASN), BIRD on the same link peering with the node's link-local address. The speaker's
// BGPSessionState says what it waits for until the router is there, then shows the learned
// link-local address; the router installs the Service route via the node's link-local (RFC 8950);
// removing the BGPPeer withdraws it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpeakerCluster } from '../support/speaker-cluster.ts';
import { Bird } from '../support/peers/index.ts';
import { waitFor } from '../support/wait.ts';
import type { Netns } from '../support/netns.ts';

const NET = 96;

async function linkLocal(ns: Netns): Promise<string> {
  return waitFor(async () => {
    const out = await ns.ip('-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'link');
    return out.includes('tentative') ? undefined : /inet6 (fe80:[0-9a-f:]+)\//.exec(out)?.[1];
  }, { what: `link-local address in ${ns.name}`, timeoutMs: 10_000, intervalMs: 100 });
}

type SessionStatus = { state: string; peerAddress?: string; lastError?: string; advertisedPrefixes?: number };
const sessionState = async (c: SpeakerCluster, name: string): Promise<SessionStatus | undefined> =>
  ((await c.api.custom.getNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: 'ironlb-system', plural: 'bgpsessionstates', name }).catch(() => undefined)) as { status?: SessionStatus } | undefined)?.status;

test('speaker BGP unnumbered: a BGPPeer with interface peers over link-local, reports the learned address, and the router installs the route via inet6', async () => {
  const c = await SpeakerCluster.create({ prefix: 'ilbu', nodes: 1, net: NET, bareRouters: 1 });
  let bird: Bird | undefined;
  try {
    const r = c.bareRouters[0]!;
    const node = c.nodes[0]!;
    const [llRouter, llNode] = [await linkLocal(r.ns), await linkLocal(node.ns)];
    await c.apply('IPPool', 'pool', { addresses: [`10.${NET + 100}.0.0/24`] });
    await c.apply('BGPPeer', 'leaf', { myASN: 64512, dynamicASN: 'external', interface: 'eth0', holdTime: '9s', connectTime: '1s' });
    await c.apply('BGPAdvertisement', 'adv', {});
    c.startSpeaker(0, ['--no-layer2']);
    await node.waitLog(/membership running/, 180_000);
    await c.service('web', [`10.${NET + 100}.0.10`]);
    // No router on the link yet: the status says so, where users look.
    await waitFor(async () => /no BGP neighbour heard on eth0 yet/.test((await sessionState(c, 'n0.leaf'))?.lastError ?? ''), { what: 'BGPSessionState n0.leaf waiting for a neighbour', timeoutMs: 20_000, intervalMs: 200 });

    bird = await Bird.start(r.ns, {
      asn: 65000, routerId: r.address, localAddress: r.address,
      neighbors: [{ address: llNode, interface: 'eth0', asn: 64512, holdTime: 9, families: ['ipv4', 'ipv6'] }],
    }, { kernelEcmp: true });
    await waitFor(async () => {
      const st = await sessionState(c, 'n0.leaf');
      return st?.state === 'Established' && st.peerAddress === `${llRouter}%eth0`;
    }, { what: `BGPSessionState n0.leaf Established with ${llRouter}%eth0`, timeoutMs: 30_000, intervalMs: 200 }).catch((e: Error) => {
      throw new Error(`${e.message}\n${node.tail(20)}\n--- bird:\n${bird?.output().slice(-1500)}`);
    });
    const vip = `10.${NET + 100}.0.10`;
    await waitFor(async () => (await r.ns.ip('-4', 'route', 'show', vip)).includes(`via inet6 ${llNode} dev eth0`), { what: `the router's kernel route ${vip} via inet6 ${llNode}`, timeoutMs: 20_000, intervalMs: 200 });
    assert.equal((await sessionState(c, 'n0.leaf'))?.advertisedPrefixes, 1);

    await c.remove('BGPPeer', 'leaf');
    await waitFor(async () => (await r.ns.ip('-4', 'route', 'show', vip)).trim() === '', { what: 'the route withdrawn with the BGPPeer', timeoutMs: 20_000, intervalMs: 200 });
    await waitFor(async () => (await sessionState(c, 'n0.leaf')) === undefined, { what: 'BGPSessionState n0.leaf removed', timeoutMs: 10_000 });
  } finally {
    await bird?.stop().catch(() => {});
    await c.destroy();
  }
});
