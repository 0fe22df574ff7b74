// BGP end to end: three `ironlb speaker` processes, each in its own namespace on a bridge, and two
// BIRD routers (iBGP) on the same LAN; configuration through the in-repo API server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpeakerCluster } from '../support/speaker-cluster.ts';
import { waitFor } from '../support/wait.ts';
import type { RibEntry } from '../support/peers/index.ts';

const AS = 64512;

async function route(c: SpeakerCluster, r: number, prefix: string, pred: (e: RibEntry | undefined) => boolean, what: string, timeoutMs = 20_000): Promise<RibEntry | undefined> {
  let last: RibEntry | undefined;
  try {
    await waitFor(async () => {
      last = (await c.routers[r]!.rib('ipv4')).find((e) => e.prefix === prefix);
      return pred(last);
    }, { what, timeoutMs, intervalMs: 200 });
  } catch (err) {
    throw new Error(`${(err as Error).message}; router ${r} holds ${JSON.stringify(last)}`);
  }
  return last;
}

const sessionState = async (c: SpeakerCluster, node: string, peer: string) =>
  ((await c.api.custom.getNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: 'ironlb-system', plural: 'bgpsessionstates', name: `${node}.${peer}` }).catch(() => undefined)) as
    | { status?: { state: string; lastTransitionTime?: string; advertisedPrefixes?: number } }
    | undefined)?.status;

test('speaker BGP: every node announces with its own next hop; ETP Local; attributes, aggregation and peers filter reach the router; peers come and go without resetting others', async () => {
  const c = await SpeakerCluster.create({ prefix: 'ilbs', nodes: 3, net: 83, routers: 2 });
  try {
    const [r1, r2] = c.routerAddresses as [string, string];
    const nodeIPs = c.nodes.map((n) => n.address).sort();
    await c.apply('IPPool', 'bgp', { addresses: ['10.183.0.0/24'] });
    await c.apply('BGPPeer', 'r1', { myASN: AS, peerASN: AS, peerAddress: r1, holdTime: '9s', connectTime: '1s' });
    await c.apply('BGPAdvertisement', 'adv', { pools: ['bgp'] });
    for (let i = 0; i < 3; i++) c.startSpeaker(i, ['--no-layer2']);
    await Promise.all(c.nodes.map((n) => n.waitLog(/membership running/, 180_000)));
    await c.service('web', ['10.183.0.10']);

    // ---- three next hops at the router
    await route(c, 0, '10.183.0.10/32', (e) => JSON.stringify(e?.nextHops) === JSON.stringify(nodeIPs), 'three next hops for 10.183.0.10/32');
    await waitFor(
      async () => JSON.stringify((await c.announcement('web'))?.announcements?.map((a) => `${a.node}:${a.mode}:${(a.peers ?? []).join(',')}`)) === JSON.stringify(['n0:bgp:r1', 'n1:bgp:r1', 'n2:bgp:r1']),
      { what: 'the ServiceAnnouncement lists three BGP nodes with peer r1', timeoutMs: 15_000 },
    );
    await waitFor(async () => (await sessionState(c, 'n0', 'r1'))?.state === 'Established', { what: 'BGPSessionState n0.r1 Established', timeoutMs: 10_000 });
    const since = (await sessionState(c, 'n0', 'r1'))?.lastTransitionTime;

    // ---- ETP Local: only nodes with endpoints
    await c.service('local', ['10.183.0.11'], { etp: 'Local', endpointNodes: ['n1'] });
    await route(c, 0, '10.183.0.11/32', (e) => JSON.stringify(e?.nextHops) === JSON.stringify([c.nodes[1]!.address]), 'one next hop (n1) for the ETP Local service');
    await c.endpoints('local', ['n0', 'n2']);
    await route(c, 0, '10.183.0.11/32', (e) => JSON.stringify(e?.nextHops) === JSON.stringify([c.nodes[0]!.address, c.nodes[2]!.address]), 'next hops follow the endpoints (n0, n2)');

    // ---- attributes: communities (and an alias), large communities, local-pref; then aggregation
    await c.apply('Community', 'aliases', { communities: [{ name: 'no-export-ish', value: '65000:666' }] });
    await c.apply('BGPAdvertisement', 'adv', { pools: ['bgp'], communities: ['65000:100', 'no-export-ish'], largeCommunities: ['64512:1:2'], localPref: 250 });
    const attrs = await route(c, 0, '10.183.0.10/32', (e) => e?.communities.join() === '65000:100,65000:666' && e.largeCommunities.join() === '64512:1:2' && e.localPref === 250, 'communities, large communities and local-pref at the router');
    assert.equal(attrs?.nextHops.length, 3);
    await c.apply('BGPAdvertisement', 'adv', { pools: ['bgp'], aggregationLength: 24, communities: ['65000:100'] });
    await route(c, 0, '10.183.0.0/24', (e) => e?.nextHops.length === 3 && e.communities.join() === '65000:100', 'the /24 aggregate from three nodes');
    await route(c, 0, '10.183.0.10/32', (e) => e === undefined, 'the /32 withdrawn once aggregated');

    // ---- a second peer: added without touching r1's sessions; the peers filter decides who gets what
    await c.apply('BGPAdvertisement', 'adv', { pools: ['bgp'], peers: ['r1'] });
    await c.apply('BGPPeer', 'r2', { myASN: AS, peerASN: AS, peerAddress: r2, holdTime: '9s', connectTime: '1s' });
    await waitFor(async () => (await sessionState(c, 'n2', 'r2'))?.state === 'Established', { what: 'sessions with r2 Established', timeoutMs: 30_000 });
    await route(c, 0, '10.183.0.10/32', (e) => e?.nextHops.length === 3, 'r1 still holds the route');
    assert.equal((await c.routers[1]!.rib('ipv4')).length, 0, 'the peers filter keeps r2 empty');
    await c.apply('BGPAdvertisement', 'adv', { pools: ['bgp'], peers: ['r2'] });
    await route(c, 1, '10.183.0.10/32', (e) => e?.nextHops.length === 3, 'r2 gets the route once the filter names it');
    await route(c, 0, '10.183.0.10/32', (e) => e === undefined, 'r1 loses it');
    await c.apply('BGPAdvertisement', 'adv', { pools: ['bgp'] });
    await route(c, 0, '10.183.0.10/32', (e) => e?.nextHops.length === 3, 'both peers again');
    await c.remove('BGPPeer', 'r2');
    await waitFor(async () => (await c.routers[1]!.sessions()).every((s) => s.state !== 'established'), { what: 'sessions with r2 closed', timeoutMs: 15_000 });
    await waitFor(async () => (await sessionState(c, 'n0', 'r2')) === undefined, { what: 'BGPSessionState n0.r2 removed', timeoutMs: 10_000 });
    // r1's sessions never reset through all of this.
    for (const n of c.nodes) assert.equal((await sessionState(c, n.name, 'r1'))?.state, 'Established');
    assert.equal((await sessionState(c, 'n0', 'r1'))?.lastTransitionTime, since, 'n0.r1 never left Established');
    assert.ok((await c.routers[0]!.sessions()).every((s) => s.state === 'established'));
    assert.equal(await c.nodes[0]!.metric('ironlb_speaker_bgp_session_up', 'peer="r1"'), 1);

    // ---- a node lost: its NodeAnnouncement goes; the Service's own ServiceAnnouncement is not rewritten
    const naName = (n: string) => ({ group: 'ironlb.io', version: 'v1alpha1', namespace: 'ironlb-system', plural: 'nodeannouncements', name: n });
    const rvOf = async () => ((await c.api.custom.getNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: 'default', plural: 'serviceannouncements', name: 'web' })) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    assert.ok(await c.api.custom.getNamespacedCustomObject(naName('n2')), 'n2 wrote its NodeAnnouncement');
    const rv = await rvOf();
    await c.nodes[2]!.kill('SIGKILL');
    await route(c, 0, '10.183.0.10/32', (e) => e?.nextHops.length === 2, 'two next hops once n2 is gone');
    await waitFor(async () => ((await c.api.custom.getNamespacedCustomObject(naName('n2')).catch(() => undefined)) === undefined ? true : undefined), { what: "n2's NodeAnnouncement removed", timeoutMs: 15_000 });
    await waitFor(async () => JSON.stringify((await c.announcement('web'))?.announcements?.map((a) => a.node)) === JSON.stringify(['n0', 'n1']), { what: 'web announced by n0 and n1', timeoutMs: 10_000 });
    // The writer of 'web' may have been n2 (a rendezvous hash picks it): then one write moves it to a live node.
    const rvAfter = await rvOf();
    if (rvAfter !== rv) {
      const o = (await c.api.custom.getNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: 'default', plural: 'serviceannouncements', name: 'web' })) as { metadata: { labels?: Record<string, string> } };
      assert.notEqual(o.metadata.labels?.['ironlb.io/writer'], 'n2', 'rewritten only to change its writer');
    }
  } finally {
    await c.destroy();
  }
});

test('speaker BGP graceful restart: a speaker restarted with GR keeps its route at the router throughout', async () => {
  const c = await SpeakerCluster.create({ prefix: 'ilbs', nodes: 2, net: 84, routers: 1, routerGracefulRestart: true });
  try {
    const [r1] = c.routerAddresses as [string];
    await c.apply('IPPool', 'bgp', { addresses: ['10.184.0.0/24'] });
    await c.apply('BGPPeer', 'r1', { myASN: AS, peerASN: AS, peerAddress: r1, holdTime: '9s', connectTime: '1s', gracefulRestart: true });
    await c.apply('BGPAdvertisement', 'adv', {});
    for (let i = 0; i < 2; i++) c.startSpeaker(i, ['--no-layer2', '--shutdown-mode', 'graceful-restart']);
    await Promise.all(c.nodes.map((n) => n.waitLog(/membership running/, 180_000)));
    await c.service('web', ['10.184.0.10']);
    const both = c.nodes.map((n) => n.address).sort();
    await route(c, 0, '10.184.0.10/32', (e) => JSON.stringify(e?.nextHops) === JSON.stringify(both), 'two next hops');

    // Poll the router while n0's speaker stops (SIGTERM, GR mode) and starts again.
    let polls = 0;
    const missing: string[] = [];
    let polling = true;
    const poller = (async () => {
      for (let i = 0; i < 2000 && polling; i++) {
        const e = (await c.routers[0]!.rib('ipv4')).find((x) => x.prefix === '10.184.0.10/32');
        polls++;
        if (JSON.stringify(e?.nextHops) !== JSON.stringify(both)) missing.push(`${Date.now()}: ${JSON.stringify(e?.nextHops)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const n0 = c.nodes[0]!;
    await n0.kill('SIGTERM');
    await waitFor(async () => (await c.routers[0]!.rib('ipv4')).some((e) => e.stale), { what: 'the router marks n0\'s route stale', timeoutMs: 10_000 }).catch(() => undefined);
    const from = n0.log.length;
    c.startSpeaker(0, ['--no-layer2', '--shutdown-mode', 'graceful-restart']);
    await n0.waitLog(/membership running/, 180_000, from);
    await waitFor(async () => (await c.routers[0]!.sessions()).every((s) => s.state === 'established') && !(await c.routers[0]!.rib('ipv4')).some((e) => e.stale), { what: 'n0 back, routes fresh', timeoutMs: 30_000 });
    polling = false;
    await poller;
    console.log(`# speaker GR restart: router polled ${polls} times, route with both next hops missing in ${missing.length}`);
    assert.deepEqual(missing, [], 'no next hop was withdrawn at the router during the restart');
  } finally {
    await c.destroy();
  }
});
