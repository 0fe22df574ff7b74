// Session life cycle against real peers: hold-timer expiry on a dead link, the peer restarting,
// a NOTIFICATION from the peer, and ROUTE-REFRESH from the peer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withNamespaces } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';
import { Bird, Frr, IronlbSpeaker, link, type PeerDaemon } from '../support/peers/index.ts';

const has = async (d: PeerDaemon, prefix: string): Promise<boolean> => (await d.rib('ipv4')).some((e) => e.prefix === prefix);

test('hold timer: a dead link ends the session within the 3 s hold time, and it comes back with the link', async () => {
  await withNamespaces('ilbg', 2, async ([a, b]) => {
    const l = await link(a!, b!, 190);
    let bird: Bird | undefined;
    let s: IronlbSpeaker | undefined;
    try {
      bird = await Bird.start(a!, { asn: 65000, routerId: l.a4, localAddress: l.a4, neighbors: [{ address: l.b4, asn: 65001, passive: true, holdTime: 3, gracefulRestart: false }] });
      s = await IronlbSpeaker.start(b!, { routerId: l.b4, listen: false });
      await s.addPeer({ name: 'r', localAsn: 65001, peerAsn: 65000, peerAddress: l.a4, localAddress: l.b4, holdTime: 3, connectRetryTime: 1, families: ['IPv4'] },
        new Map([['10.190.1.1/32', {}]]));
      await s.established('r');
      await waitFor(() => has(bird!, '10.190.1.1/32'), { what: 'route at BIRD' });
      assert.equal((await s.peerStatus('r')).negotiated?.holdTime, 3);

      const before = s.states.length;
      const cut = Date.now();
      await l.down();
      const ev = await waitFor(() => s!.states.slice(before).find((e) => e.previous === 'Established'),
        { what: 'ironlb leaving Established after the link died', timeoutMs: 10_000, intervalMs: 20 });
      const took = Date.now() - cut;
      // Hold time 3 s: not before ~2 s of silence (keepalives every 1 s), and not long after 3 s.
      assert.ok(took >= 1900 && took <= 5000, `hold expiry after ${took} ms`);
      assert.match(ev.reason ?? '', /hold/i, `reason: ${ev.reason}`);
      await waitFor(async () => !(await has(bird!, '10.190.1.1/32')), { what: 'BIRD dropping the route on its own hold expiry', timeoutMs: 10_000 });

      await l.up();
      await s.established('r', 20_000);
      await waitFor(() => has(bird!, '10.190.1.1/32'), { what: 'route back at BIRD after the link returned', timeoutMs: 10_000 });
    } finally {
      await s?.close();
      await bird?.stop();
    }
  });
});

test('peer restart and route refresh with BIRD: routes come back after BIRD restarts; reload in gets them again', async () => {
  await withNamespaces('ilbg', 2, async ([a, b]) => {
    const l = await link(a!, b!, 191);
    let bird: Bird | undefined;
    let s: IronlbSpeaker | undefined;
    try {
      bird = await Bird.start(a!, { asn: 65000, routerId: l.a4, localAddress: l.a4, neighbors: [{ address: l.b4, asn: 65001, passive: true }] });
      s = await IronlbSpeaker.start(b!, { routerId: l.b4, listen: false });
      const routes = new Map([['10.191.1.1/32', { communities: ['65001:1'] }], ['10.191.1.2/32', {}]]);
      await s.addPeer({ name: 'r', localAsn: 65001, peerAsn: 65000, peerAddress: l.a4, localAddress: l.b4, connectRetryTime: 1, families: ['IPv4'] }, routes);
      await waitFor(async () => (await bird!.rib('ipv4')).length === 2, { what: 'two routes at BIRD' });

      // Route refresh: BIRD asks, ironlb sends its Adj-RIB-Out again.
      const updatesBefore = (await bird.protocolInfo(l.b4))?.importUpdates ?? 0;
      const rrBefore = (await s.peerStatus('r')).counters.routeRefreshIn;
      await bird.requestRouteRefresh(l.b4);
      await waitFor(async () => (await s!.peerStatus('r')).counters.routeRefreshIn > rrBefore, { what: 'ironlb counting the ROUTE-REFRESH' });
      await waitFor(async () => ((await bird!.protocolInfo(l.b4))?.importUpdates ?? 0) >= updatesBefore + 2,
        { what: 'BIRD receiving both routes again after its ROUTE-REFRESH' });
      assert.equal((await s.peerStatus('r')).state, 'Established');

      // Peer restart: BIRD goes away and comes back; ironlb reconnects and re-announces.
      const est = (await s.peerStatus('r')).counters.establishedTransitions;
      await bird.restart();
      await waitFor(async () => (await s!.peerStatus('r')).counters.establishedTransitions > est, { what: 'ironlb re-established after BIRD restarted', timeoutMs: 20_000 });
      await waitFor(async () => (await bird!.rib('ipv4')).length === 2, { what: 'both routes at the restarted BIRD', timeoutMs: 10_000 });
    } finally {
      await s?.close();
      await bird?.stop();
    }
  });
});

test('NOTIFICATION and route refresh from FRR: shutdown is seen as Cease, routes return after no shutdown', async () => {
  await withNamespaces('ilbg', 2, async ([a, b]) => {
    const l = await link(a!, b!, 192);
    let frr: Frr | undefined;
    let s: IronlbSpeaker | undefined;
    try {
      frr = await Frr.start(a!, { asn: 65000, routerId: l.a4, localAddress: l.a4, neighbors: [{ address: l.b4, asn: 65001, passive: true }] }, { coalesceTimeMs: 0 });
      s = await IronlbSpeaker.start(b!, { routerId: l.b4, listen: false });
      await s.addPeer({ name: 'r', localAsn: 65001, peerAsn: 65000, peerAddress: l.a4, localAddress: l.b4, connectRetryTime: 1, families: ['IPv4'] },
        new Map([['10.192.1.1/32', {}]]));
      await waitFor(() => has(frr!, '10.192.1.1/32'), { what: 'route at FRR' });

      const rrBefore = (await s.peerStatus('r')).counters.routeRefreshIn;
      await frr.requestRouteRefresh(l.b4);
      await waitFor(async () => (await s!.peerStatus('r')).counters.routeRefreshIn > rrBefore, { what: 'ironlb counting FRR\'s ROUTE-REFRESH' });
      assert.ok(await has(frr, '10.192.1.1/32'));

      const before = s.states.length;
      const nIn = (await s.peerStatus('r')).counters.notificationsIn;
      await frr.shutdownNeighbor(l.b4);
      const ev = await waitFor(() => s!.states.slice(before).find((e) => e.previous === 'Established'), { what: 'ironlb leaving Established' });
      assert.match(ev.reason ?? '', /cease|shutdown|NOTIFICATION 6\/2/i, `reason: ${ev.reason}`);
      assert.ok((await s.peerStatus('r')).counters.notificationsIn > nIn, 'NOTIFICATION not counted');
      assert.match((await s.peerStatus('r')).lastError ?? '', /cease|shutdown|NOTIFICATION 6\/2/i);
      await waitFor(async () => !(await has(frr!, '10.192.1.1/32')), { what: 'route gone at FRR while shut down' });

      await frr.enableNeighbor(l.b4);
      await s.established('r', 20_000);
      await waitFor(() => has(frr!, '10.192.1.1/32'), { what: 'route back at FRR' });
    } finally {
      await s?.close();
      await frr?.stop();
    }
  });
});
