// The engine on loopback, against a scripted peer (FakePeer) and against another engine:
// sessions, announce/withdraw, attributes, packing, timers, errors, GR, collision, MD5.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { BgpEngine, type PeerConfig, type StateEvent } from '../../src/bgp/index.ts';
import { FakePeer, standardCapabilities, type FakeOpen } from '../../src/bgp/testing/fake-peer.ts';
import * as c from '../../src/bgp/codec/index.ts';
import { waitFor } from '../support/wait.ts';
import { MapView } from '../../src/util/map-view.ts';
import { prng } from '../support/prng.ts';
import { pino } from 'pino';

// Engine logs only when asked for (IRONLB_LOG_LEVEL=debug), to keep test output readable.
const quiet = pino({ level: process.env.IRONLB_LOG_LEVEL ?? 'silent' });

const PEER_ASN = 65010;
const fakeOpen = (extra: Partial<FakeOpen> = {}): FakeOpen => ({ asn: PEER_ASN, bgpId: '10.9.9.9', ...extra });

async function engineWithFake(t: TestContext, peer: Partial<PeerConfig> = {}, open: FakeOpen = fakeOpen(), established = true): Promise<{ engine: BgpEngine; fake: FakePeer; events: StateEvent[] }> {
  const fake = await FakePeer.listen(open);
  const engine = new BgpEngine({ logger: quiet, routerId: '10.0.0.1', listen: false });
  const events: StateEvent[] = [];
  engine.on('state', (e) => events.push(e));
  t.after(async () => {
    await engine.close();
    await fake.close();
  });
  engine.addPeer({ name: 'p', localAsn: 65001, peerAsn: open.asn, peerAddress: '127.0.0.1', peerPort: fake.port, connectRetryTime: 0.2, ...peer });
  if (established) await waitFor(() => engine.peerStatus('p').state === 'Established', { what: 'session Established' });
  return { engine, fake, events };
}

const notifications = (f: FakePeer): Array<[number, number]> => f.of('notification').map((n) => [n.code, n.subcode]);

test('eBGP: IPv4 and IPv6 routes with their attributes reach the peer at once, End-of-RIB, withdraw', async (t) => {
  const fake = await FakePeer.listen(fakeOpen());
  const engine = new BgpEngine({ logger: quiet, routerId: '10.0.0.1', listen: false });
  t.after(async () => {
    await engine.close();
    await fake.close();
  });
  engine.addPeer({ name: 'p', localAsn: 65001, peerAsn: PEER_ASN, peerAddress: '127.0.0.1', peerPort: fake.port });
  // Routes set before the session is up go out with the initial table, before End-of-RIB.
  engine.announce('p', '10.1.0.1/32', { communities: ['65000:100', 'no-export'], largeCommunities: ['65001:1:2'], med: 20, localPref: 500 });
  engine.announce('p', 'fd00::1/128', { nextHop: { ipv6: 'fd00::99' }, origin: 'incomplete' });
  await waitFor(() => fake.endOfRib.length === 2, { what: 'End-of-RIB for both families' });
  const r4 = fake.routes.get('10.1.0.1/32');
  assert.ok(r4, 'IPv4 route received before End-of-RIB');
  assert.deepEqual(r4.nextHops, ['127.0.0.1'], 'default next hop: the session address');
  assert.deepEqual(r4.attrs.asPath, [{ type: 2, asns: [65001] }]);
  assert.deepEqual(r4.attrs.communities, [0xfde80064, 0xffffff01]);
  assert.deepEqual(r4.attrs.largeCommunities, [[65001, 1, 2]]);
  assert.equal(r4.attrs.med, 20);
  assert.equal(r4.attrs.localPref, undefined, 'LOCAL_PREF is never sent on eBGP');
  const r6 = fake.routes.get('fd00::1/128');
  assert.deepEqual(r6?.nextHops, ['fd00::99']);
  assert.equal(r6?.attrs.origin, 2);
  assert.deepEqual(fake.endOfRib.sort(), [1, 2]);

  // A change reaches the wire without a debounce: well under a second even on a loaded machine.
  const t0 = performance.now();
  engine.announce('p', 'fd00::2/128');
  await waitFor(() => fake.routes.get('fd00::2/128'), { what: 'IPv6 route', intervalMs: 5 });
  const latency = performance.now() - t0;
  assert.ok(latency < 1000, `announce took ${latency.toFixed(0)} ms`);
  assert.deepEqual(fake.routes.get('fd00::2/128')?.nextHops, ['::ffff:127.0.0.1'], 'IPv6 over an IPv4 session: the mapped address');
  engine.withdraw('p', '10.1.0.1/32');
  engine.withdraw('p', 'fd00::1/128');
  await waitFor(() => !fake.routes.has('10.1.0.1/32') && !fake.routes.has('fd00::1/128'), { what: 'withdrawals' });
  const st = engine.peerStatus('p');
  assert.equal(st.state, 'Established');
  assert.equal(st.routesAdvertised, 1);
  assert.deepEqual(st.negotiated?.families, ['IPv4', 'IPv6']);
  assert.equal(st.peerRouterId, '10.9.9.9');
  assert.equal(st.counters.prefixesWithdrawnOut, 2);
});

test('iBGP: LOCAL_PREF (default 100), empty AS_PATH', async (t) => {
  const { engine, fake } = await engineWithFake(t, { peerAsn: 65001 }, fakeOpen({ asn: 65001 }));
  fake.ibgp = true;
  engine.announce('p', '10.2.0.1/32', { localPref: 250 });
  engine.announce('p', '10.2.0.2/32');
  await waitFor(() => fake.routes.size === 2, { what: 'two routes' });
  assert.equal(fake.routes.get('10.2.0.1/32')?.attrs.localPref, 250);
  assert.equal(fake.routes.get('10.2.0.2/32')?.attrs.localPref, 100);
  assert.deepEqual(fake.routes.get('10.2.0.2/32')?.attrs.asPath, []);
});

test('packing and setRoutes: one UPDATE per attribute set up to the size limit; only differences go out', async (t) => {
  const { engine, fake } = await engineWithFake(t);
  const attrs = { communities: ['65000:1'] };
  const routes = new Map(Array.from({ length: 3000 }, (_, i) => [`10.3.${i >> 8}.${i & 255}/32`, attrs] as const));
  const before = fake.of('update').length;
  engine.setRoutes('p', routes);
  await waitFor(() => fake.routes.size === 3000, { what: '3000 routes' });
  const used = fake.of('update').length - before;
  assert.ok(used <= 4, `3000 routes with one attribute set took ${used} UPDATEs (4096-byte limit)`);
  // Drop 100, change 1: 100 withdrawals and 1 announcement, nothing else.
  const next = new Map(routes);
  for (let i = 0; i < 100; i++) next.delete(`10.3.0.${i}/32`);
  next.set('10.3.5.5/32', { communities: ['65000:2'] });
  const mark = fake.of('update').length;
  engine.setRoutes('p', next);
  await waitFor(() => fake.routes.size === 2900 && fake.routes.get('10.3.5.5/32')?.attrs.communities?.[0] === 0xfde80002, { what: 'the difference applied' });
  const diff = fake.of('update').slice(mark);
  assert.equal(diff.length, 2, 'one withdraw UPDATE and one announce UPDATE');
  assert.equal(diff.reduce((n, u) => n + u.withdrawn.length + u.nlri.length, 0), 101);
  assert.equal(engine.peerStatus('p').routesDesired, 2900);
  // Same desired state again: nothing on the wire.
  engine.setRoutes('p', next);
  engine.announce('p', '10.3.5.5/32', { communities: ['65000:2'] });
  await new Promise((r) => setImmediate(r));
  assert.equal(fake.of('update').length, mark + 2);
});

test('route refresh from the peer re-sends that family', async (t) => {
  const { engine, fake } = await engineWithFake(t);
  engine.announce('p', '10.4.0.1/32');
  engine.announce('p', 'fd00::4/128');
  await waitFor(() => fake.routes.size === 2, { what: 'routes' });
  const mark = fake.of('update').length;
  fake.send(c.encodeRouteRefresh(1, 1));
  await waitFor(() => fake.of('update').slice(mark).some((u) => u.nlri.some((n) => n.prefix === '10.4.0.1/32')), { what: 'IPv4 routes again' });
  assert.ok(!fake.of('update').slice(mark).some((u) => u.attrs.mpReach), 'only the asked family');
  assert.equal(engine.peerStatus('p').counters.routeRefreshIn, 1);
});

test('hold timer: keepalives every third of the hold time; a silent peer is dropped with NOTIFICATION 4/0', async (t) => {
  const { engine, fake } = await engineWithFake(t, { holdTime: 3, connectRetryTime: 30 }, fakeOpen({ holdTime: 3 }));
  const t0 = performance.now();
  await waitFor(() => notifications(fake).length > 0, { what: 'hold timer expiry', timeoutMs: 8000 });
  const elapsed = (performance.now() - t0) / 1000;
  assert.deepEqual(notifications(fake), [[4, 0]]);
  assert.ok(elapsed > 2 && elapsed < 5, `hold timer fired after ${elapsed.toFixed(2)} s (hold time 3 s)`);
  // One KEEPALIVE answers the OPEN, then one about every second (jittered 0.75-1 s).
  assert.ok(fake.of('keepalive').length >= 3, `${fake.of('keepalive').length} keepalives`);
  await waitFor(() => engine.peerStatus('p').state !== 'Established', { what: 'session down' });
  assert.match(engine.peerStatus('p').lastError ?? '', /Hold Timer Expired/);
});

test('OPEN errors are answered with the right NOTIFICATION, then the engine retries', async (t) => {
  const { engine, fake } = await engineWithFake(t, { peerAsn: 65099 }, fakeOpen(), false);
  await waitFor(() => notifications(fake).length > 0, { what: 'NOTIFICATION' });
  assert.deepEqual(notifications(fake)[0], [2, 2]);
  assert.match(engine.peerStatus('p').lastError ?? '', /OPEN Message Error/);
  // The next attempt meets the right AS but an unacceptable hold time.
  fake.autoOpen = fakeOpen({ asn: 65099, holdTime: 2 });
  await waitFor(() => notifications(fake).some(([a, b]) => a === 2 && b === 6), { what: 'NOTIFICATION 2/6 for hold time 2' });
  assert.ok(fake.connections >= 2, 'the engine retried');
});

test('dynamic ASN: internal accepts our own AS (iBGP attributes), external any other; the wrong kind gets 2/2 Bad Peer AS', async (t) => {
  // internal + an iBGP peer: established, LOCAL_PREF and an empty AS_PATH, the AS learned from the OPEN.
  const i = await engineWithFake(t, { peerAsn: undefined, dynamicAsn: 'internal' }, fakeOpen({ asn: 65001 }));
  i.fake.ibgp = true;
  i.engine.announce('p', '10.3.0.1/32');
  await waitFor(() => i.fake.routes.has('10.3.0.1/32'), { what: 'route over the dynamic iBGP session' });
  assert.equal(i.fake.routes.get('10.3.0.1/32')?.attrs.localPref, 100);
  assert.deepEqual(i.fake.routes.get('10.3.0.1/32')?.attrs.asPath, []);
  assert.equal(i.engine.peerStatus('p').peerAsn, 65001);
  // external + an eBGP peer with a 4-octet AS: established, our AS prepended.
  const e = await engineWithFake(t, { peerAsn: undefined, dynamicAsn: 'external' }, fakeOpen({ asn: 4200000001 }));
  e.engine.announce('p', '10.3.0.2/32');
  await waitFor(() => e.fake.routes.has('10.3.0.2/32'), { what: 'route over the dynamic eBGP session' });
  assert.deepEqual(e.fake.routes.get('10.3.0.2/32')?.attrs.asPath, [{ type: 2, asns: [65001] }]);
  assert.equal(e.engine.peerStatus('p').peerAsn, 4200000001);
  // The wrong kind: refused with OPEN Message Error / Bad Peer AS, and the reason says why.
  const wi = await engineWithFake(t, { peerAsn: undefined, dynamicAsn: 'internal' }, fakeOpen({ asn: 65002 }), false);
  await waitFor(() => notifications(wi.fake).length > 0, { what: 'NOTIFICATION to an eBGP peer of a dynamicAsn internal session' });
  assert.deepEqual(notifications(wi.fake)[0], [2, 2]);
  assert.match(wi.engine.peerStatus('p').lastError ?? '', /Bad Peer AS.*peer AS 65002 is not our AS 65001/);
  const we = await engineWithFake(t, { peerAsn: undefined, dynamicAsn: 'external' }, fakeOpen({ asn: 65001 }), false);
  await waitFor(() => notifications(we.fake).length > 0, { what: 'NOTIFICATION to an iBGP peer of a dynamicAsn external session' });
  assert.deepEqual(notifications(we.fake)[0], [2, 2]);
  assert.match(we.engine.peerStatus('p').lastError ?? '', /Bad Peer AS.*our own AS/);
  assert.ok(!we.events.some((x) => x.state === 'Established'), 'never established');
  // Exactly one of peerAsn and dynamicAsn.
  const x = new BgpEngine({ logger: quiet, routerId: '10.0.0.1', listen: false });
  t.after(() => x.close());
  assert.throws(() => x.addPeer({ name: 'q', localAsn: 1, peerAsn: 2, dynamicAsn: 'external', peerAddress: '127.0.0.1' }), /exactly one of peerAsn and dynamicAsn/);
  assert.throws(() => x.addPeer({ name: 'q', localAsn: 1, peerAddress: '127.0.0.1' }), /exactly one of peerAsn and dynamicAsn/);
});

test('RFC 7606 on a live session: treat-as-withdraw and attribute discard keep it up; a bad NLRI resets it', async (t) => {
  const { engine, fake, events } = await engineWithFake(t);
  const origin = Buffer.from('40010100', 'hex');
  const aspath = c.encodeAttribute(0x40, 2, Buffer.from('02010000fdf2', 'hex')); // AS_SEQUENCE [PEER_ASN]
  const nh = c.encodeAttribute(0x40, 3, Buffer.from([10, 0, 0, 9]));
  const nlri = Buffer.from('180a0909', 'hex');
  fake.send(c.encodeUpdate(Buffer.alloc(0), Buffer.concat([c.encodeAttribute(0x40, 1, Buffer.from([9])), aspath, nh]), nlri));
  fake.send(c.encodeUpdate(Buffer.alloc(0), Buffer.concat([origin, aspath, nh, c.encodeAttribute(0x40, 5, Buffer.from([0, 0, 0, 1]))]), nlri));
  await waitFor(() => engine.peerStatus('p').counters.attributesDiscarded === 1, { what: 'attribute discarded' });
  const st = engine.peerStatus('p');
  assert.equal(st.counters.treatAsWithdraw, 1);
  assert.equal(st.counters.prefixesAnnouncedIn, 1, 'the valid UPDATE counts its route');
  assert.equal(st.state, 'Established');
  // NLRI with prefix length 33: session reset with 3/10, then it comes back.
  fake.send(c.encodeUpdate(Buffer.alloc(0), Buffer.concat([origin, aspath, nh]), Buffer.from('210a09090900', 'hex')));
  await waitFor(() => notifications(fake).length > 0 || fake.decodeErrors.length > 0, { what: 'NOTIFICATION' });
  assert.deepEqual(notifications(fake), [[3, 10]]);
  await waitFor(() => events.filter((e) => e.state === 'Established').length === 2, { what: 'session back up' });
});

test('a NOTIFICATION from the peer ends the session with its reason; the engine reconnects', async (t) => {
  const { engine, fake, events } = await engineWithFake(t);
  engine.announce('p', '10.5.0.1/32');
  await waitFor(() => fake.routes.size === 1, { what: 'route' });
  fake.send(c.encodeNotification(6, 2));
  await waitFor(() => events.some((e) => e.previous === 'Established'), { what: 'session down' });
  assert.equal(events.find((e) => e.previous === 'Established')?.reason, 'peer sent NOTIFICATION Cease/Administrative Shutdown (6/2)');
  fake.routes.clear();
  await waitFor(() => engine.peerStatus('p').state === 'Established' && fake.routes.size === 1, { what: 'back up with the route re-sent' });
  assert.equal(engine.peerStatus('p').counters.establishedTransitions, 2);
});

test('resetPeer, updatePeer and removePeer: Cease subcodes and when a session is (not) reset', async (t) => {
  const { engine, fake } = await engineWithFake(t);
  const cfg: PeerConfig = { name: 'p', localAsn: 65001, peerAsn: PEER_ASN, peerAddress: '127.0.0.1', peerPort: fake.port, connectRetryTime: 0.2 };
  engine.resetPeer('p', 'BFD down');
  await waitFor(() => notifications(fake).length === 1, { what: 'Cease' });
  assert.deepEqual(notifications(fake), [[6, 4]]);
  await waitFor(() => fake.connections === 2 && engine.peerStatus('p').state === 'Established', { what: 'reconnected' });
  await engine.updatePeer({ ...cfg, connectRetryTime: 1 });
  assert.equal(engine.peerStatus('p').state, 'Established', 'connect-retry time is not a session parameter');
  await engine.updatePeer({ ...cfg, holdTime: 30 });
  await waitFor(() => notifications(fake).length === 2, { what: 'Cease for the config change' });
  assert.deepEqual(notifications(fake)[1], [6, 6]);
  await waitFor(() => fake.connections === 3 && engine.peerStatus('p').state === 'Established', { what: 'reconnected with the new hold time' });
  assert.equal(engine.peerStatus('p').negotiated?.holdTime, 30);
  await engine.removePeer('p');
  await waitFor(() => notifications(fake).length === 3, { what: 'Cease for removal' });
  assert.deepEqual(notifications(fake)[2], [6, 3]);
  assert.throws(() => engine.peerStatus('p'), /no BGP peer named "p"/);
});

test('updatePeer: passive to active (and back) takes effect on a session that is not up', async (t) => {
  const { engine, fake } = await engineWithFake(t, { passive: true, connectRetryTime: 1 }, fakeOpen(), false);
  const cfg: PeerConfig = { name: 'p', localAsn: 65001, peerAsn: PEER_ASN, peerAddress: '127.0.0.1', peerPort: fake.port, connectRetryTime: 1 };
  await waitFor(() => engine.peerStatus('p').state === 'Active', { what: 'passive session waiting (Active)' });
  assert.equal(fake.connections, 0, 'a passive session never connects');
  await engine.updatePeer({ ...cfg, passive: false });
  // Connects at once: well within one connect-retry period even on a loaded machine.
  await waitFor(() => engine.peerStatus('p').state === 'Established', { what: 'Established after passive: false', timeoutMs: 5000 });
  assert.equal(fake.connections, 1);
  await engine.updatePeer({ ...cfg, passive: true });
  assert.equal(engine.peerStatus('p').state, 'Established', 'an established session stays up when it becomes passive');
});

test('a large table goes out in bounded turns of the event loop (End-of-RIB after all of it); a small change in one', async (t) => {
  const N = 20_000;
  const { engine, fake } = await engineWithFake(t, {}, fakeOpen(), false);
  fake.countOnly = true;
  const routes = new Map<string, object>();
  for (let i = 0; i < N; i++) routes.set(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`, {});
  engine.setRoutes('p', routes);
  await waitFor(() => fake.endOfRib.length === 2, { what: 'End-of-RIB', timeoutMs: 30_000 });
  assert.deepEqual(fake.routesAtEndOfRib, [N, N], 'End-of-RIB follows the whole initial table');
  const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
  // The whole table again with one route more: taken over several turns (the loop runs
  // meanwhile), and that one route goes out in the turn after.
  routes.set('10.250.0.1/32', {});
  let turns = 0;
  let done = false;
  void engine.setRoutes('p', routes).then(() => (done = true));
  while (!done && turns < 10_000) {
    await turn();
    turns++;
  }
  assert.ok(done && turns > 1, `a ${N + 1}-route table taken over ${turns} turns`);
  await turn();
  assert.equal(engine.peerStatus('p').routesAdvertised, N + 1);
  // Withdraw all: after the first turn part of it is out and the rest waits, so the loop ran.
  engine.setRoutes('p', new Map());
  await turn();
  const left = engine.peerStatus('p').routesAdvertised;
  assert.ok(left > 0 && left < N, `after one turn ${left} of ${N + 1} routes still advertised (expected part of the table)`);
  await waitFor(() => fake.withdrawn === N + 1, { what: `${N + 1} withdrawn at the peer`, timeoutMs: 30_000 });
  assert.equal(engine.peerStatus('p').routesAdvertised, 0);
  // A small change: all of it in the first turn.
  for (let i = 0; i < 100; i++) engine.announce('p', `10.200.0.${i}/32`);
  await turn();
  assert.equal(engine.peerStatus('p').routesAdvertised, 100);
});

test('large setRoutes in steps: updateRoutes meanwhile apply after it, a later setRoutes supersedes it, a bad route changes nothing', async (t) => {
  const N = 10_000;
  const { engine, fake } = await engineWithFake(t);
  const table = (base: number, n: number, extra: Record<string, object> = {}): Map<string, object> => {
    const m = new Map<string, object>(Object.entries(extra));
    for (let i = 0; i < n; i++) m.set(`10.${base}.${i >> 8}.${i & 255}/32`, {});
    return m;
  };
  // A delta issued while the table goes in: applied after it, in order.
  const first = engine.setRoutes('p', table(1, N));
  engine.updateRoutes('p', new Map<string, object | null>([['10.1.0.0/32', null], ['10.99.0.1/32', { communities: ['65001:9'] }]]));
  engine.withdraw('p', '10.99.0.1/32');
  engine.announce('p', '10.99.0.2/32');
  await first;
  await waitFor(() => fake.routes.size === N + 1 - 1, { what: `${N} routes at the peer`, timeoutMs: 30_000 });
  assert.ok(!fake.routes.has('10.1.0.0/32') && !fake.routes.has('10.99.0.1/32') && fake.routes.has('10.99.0.2/32'), 'the delta applied after the table, in order');
  // A second whole table while the first is still going in: the second is the result.
  const a = engine.setRoutes('p', table(2, N));
  const b = engine.setRoutes('p', table(3, N));
  await Promise.all([a, b]);
  await waitFor(() => fake.routes.size === N && [...fake.routes.keys()].every((k) => k.startsWith('10.3.')), { what: 'only the later table at the peer', timeoutMs: 30_000 });
  // A bad route in a large table: rejected, nothing changed.
  await assert.rejects(engine.setRoutes('p', table(4, N, { '10.4.255.0/33': {} })), /length must be 0..32/);
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(fake.routes.size === N && [...fake.routes.keys()].every((k) => k.startsWith('10.3.')), 'a rejected table changes nothing');
});

test('setRoutes reading a map (with pick, or a view) that changes meanwhile: with the changed prefixes sent by updateRoutes after, the peer ends with the map as it is', async (t) => {
  // As the speaker's reconciler does: the decision's routes with a pick function (IPv4 only,
  // attributes by a route's community), not a copy; the map changes between the engine's steps,
  // and the changed prefixes go out with updateRoutes once setRoutes resolves.
  const N = 12_000;
  const { engine, fake } = await engineWithFake(t, { families: ['IPv4'] });
  const attrs = [{ communities: ['65001:1'] }, { communities: ['65001:2'] }];
  const prefix = (i: number): string => (i % 10 === 9 ? `fd00::${i.toString(16)}/128` : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`);
  for (let seed = 1; seed <= 4; seed++) {
    const random = prng(seed);
    const rnd = (n: number): number => Math.floor(random() * n);
    const decision = new Map<string, number>();
    for (let i = 0; i < N; i++) if (rnd(4) !== 0) decision.set(prefix(i), rnd(2));
    const pick = (a: number, p: string): { communities: string[] } | undefined => (p.includes(':') ? undefined : attrs[a]);
    const view = new MapView(decision, pick);
    const changed = new Set<string>();
    let done = false;
    // Half the seeds hand over the map with a pick function, the others a view of it.
    const table = (seed % 2 ? engine.setRoutes('p', decision, pick) : engine.setRoutes('p', view)).then(() => (done = true));
    for (let turn = 0; !done && turn < 10_000; turn++) {
      for (let k = rnd(200); k > 0; k--) {
        const p = prefix(rnd(N + 2000));
        if (rnd(3) === 0) decision.delete(p);
        else decision.set(p, rnd(2));
        changed.add(p);
      }
      await new Promise((r) => setImmediate(r));
    }
    await table;
    assert.ok(changed.size > 0, `seed ${seed}: the map changed while the table went in`);
    engine.updateRoutes('p', new Map([...changed].map((p) => [p, view.get(p) ?? null] as const)));
    const want = new Map([...view].map(([p, a]) => [p, a.communities[0] === '65001:1' ? 0xfde90001 : 0xfde90002]));
    await waitFor(() => fake.routes.size === want.size && [...want].every(([p, c]) => fake.routes.get(p)?.attrs.communities?.[0] === c), { what: `seed ${seed}: the peer holding the map's ${want.size} IPv4 routes`, timeoutMs: 30_000 });
    assert.equal(engine.peerStatus('p').routesDesired, want.size);
  }
});

test('graceful restart: GR capability with R and F bits; close keeps the routes (no NOTIFICATION); End-of-RIB after restart', async (t) => {
  const open = fakeOpen({ capabilities: standardCapabilities(PEER_ASN, { gracefulRestart: { restarting: false, notification: false, time: 120, families: [{ afi: 1, safi: 1, forwarding: true }] } }) });
  const { engine, fake } = await engineWithFake(t, { gracefulRestart: { restartTime: 90 } }, open);
  const gr = fake.of('open')[0]?.capabilities.gracefulRestart;
  assert.deepEqual(gr, { restarting: true, notification: false, time: 90, families: [{ afi: 1, safi: 1, forwarding: true }, { afi: 2, safi: 1, forwarding: true }] });
  assert.equal(engine.peerStatus('p').negotiated?.gracefulRestart, true);
  engine.announce('p', '10.6.0.1/32');
  await waitFor(() => fake.routes.size === 1, { what: 'route' });
  await engine.close({ gracefulRestart: true });
  await waitFor(() => fake.closed, { what: 'connection closed' });
  assert.deepEqual(notifications(fake), [], 'no NOTIFICATION: the peer keeps our routes as stale');
  // The "restarted" speaker: a new engine announces again, then End-of-RIB clears the stale state.
  const eorBefore = fake.endOfRib.length;
  const again = new BgpEngine({ logger: quiet, routerId: '10.0.0.1', listen: false });
  t.after(() => again.close());
  again.addPeer({ name: 'p', localAsn: 65001, peerAsn: PEER_ASN, peerAddress: '127.0.0.1', peerPort: fake.port, gracefulRestart: { restartTime: 90 } });
  again.announce('p', '10.6.0.1/32');
  await waitFor(() => fake.endOfRib.length === eorBefore + 2, { what: 'End-of-RIB after restart' });
  assert.equal(fake.of('open').at(-1)?.capabilities.gracefulRestart?.restarting, true);
  const lastUpdates = fake.of('update');
  const routeIdx = lastUpdates.findLastIndex((u) => u.nlri.some((n) => n.prefix === '10.6.0.1/32'));
  const eorIdx = lastUpdates.findLastIndex((u) => u.endOfRib?.afi === 1);
  assert.ok(routeIdx >= 0 && routeIdx < eorIdx, 'routes before End-of-RIB');
});

test('receiving speaker: a GR peer that restarts (new OPEN while Established) replaces the old session', async (t) => {
  const grCaps = standardCapabilities(PEER_ASN, { gracefulRestart: { restarting: true, notification: false, time: 120, families: [{ afi: 1, safi: 1, forwarding: true }] } });
  const engine = new BgpEngine({ logger: quiet, routerId: '10.0.0.1', listen: { address: '127.0.0.1', port: 0 } });
  await engine.ready();
  const fakes: FakePeer[] = [];
  t.after(async () => {
    await engine.close();
    for (const f of fakes) await f.close();
  });
  engine.addPeer({ name: 'p', localAsn: 65001, peerAsn: PEER_ASN, peerAddress: '127.0.0.1', passive: true, gracefulRestart: { restartTime: 60 } });
  engine.announce('p', '10.7.0.1/32');
  const first = await FakePeer.connect(engine.port ?? 0, fakeOpen({ capabilities: grCaps }));
  fakes.push(first);
  await waitFor(() => first.routes.size === 1, { what: 'first session gets the route' });
  // The peer "restarted": its old TCP connection is still open here, and a new one arrives.
  const second = await FakePeer.connect(engine.port ?? 0, fakeOpen({ capabilities: grCaps }));
  fakes.push(second);
  await waitFor(() => second.routes.size === 1 && second.endOfRib.includes(1), { what: 'new session gets the route and End-of-RIB' });
  await waitFor(() => first.closed, { what: 'old session closed' });
  assert.equal(engine.peerStatus('p').state, 'Established');
  // Without GR the RFC 4271 rule holds: the new connection loses.
  const third = await FakePeer.connect(engine.port ?? 0, fakeOpen());
  fakes.push(third);
  await waitFor(() => notifications(third).length > 0, { what: 'collision NOTIFICATION' });
  assert.deepEqual(notifications(third), [[6, 7]]);
  assert.equal(second.closed, false);
});

test('ADD-PATH send and extended messages when the peer offers them', async (t) => {
  const caps = standardCapabilities(PEER_ASN, { addPath: [{ afi: 1, safi: 1, mode: 1 }], extendedMessage: true });
  const fake = await FakePeer.listen(fakeOpen({ capabilities: caps }));
  fake.addPath = true;
  fake.reader.maxSize = 65535;
  const engine = new BgpEngine({ logger: quiet, routerId: '10.0.0.1', listen: false });
  t.after(async () => {
    await engine.close();
    await fake.close();
  });
  engine.addPeer({ name: 'p', localAsn: 65001, peerAsn: PEER_ASN, peerAddress: '127.0.0.1', peerPort: fake.port, addPath: true });
  engine.setRoutes('p', new Map(Array.from({ length: 2000 }, (_, i) => [`10.8.${i >> 8}.${i & 255}/32`, {}] as const)));
  await waitFor(() => fake.routes.size === 2000, { what: '2000 routes' });
  assert.deepEqual(fake.of('open')[0]?.capabilities.addPath, [{ afi: 1, safi: 1, mode: 2 }, { afi: 2, safi: 1, mode: 2 }]);
  assert.equal(fake.routes.get('10.8.0.1/32')?.pathId, 1);
  const st = engine.peerStatus('p');
  assert.deepEqual(st.negotiated?.addPath, ['IPv4']);
  assert.equal(st.negotiated?.extendedMessage, true);
  assert.equal(fake.of('update').filter((u) => u.nlri.length).length, 1, '2000 routes in one extended UPDATE');
});

test('two engines: simultaneous opens resolve to one session (collision detection), iBGP routes flow', async (t) => {
  const a = new BgpEngine({ logger: quiet, routerId: '10.0.0.1', listen: { address: '127.0.0.1', port: 0 } });
  const b = new BgpEngine({ logger: quiet, routerId: '10.0.0.2', listen: { address: '127.0.0.1', port: 0 } });
  t.after(async () => {
    await a.close();
    await b.close();
  });
  await Promise.all([a.ready(), b.ready()]);
  a.addPeer({ name: 'b', localAsn: 65000, peerAsn: 65000, peerAddress: '127.0.0.1', peerPort: b.port ?? 0, connectRetryTime: 0.2 });
  b.addPeer({ name: 'a', localAsn: 65000, peerAsn: 65000, peerAddress: '127.0.0.1', peerPort: a.port ?? 0, connectRetryTime: 0.2 });
  a.announce('b', '10.9.0.1/32', { localPref: 200 });
  a.announce('b', 'fd00::9/128');
  await waitFor(() => a.peerStatus('b').state === 'Established' && b.peerStatus('a').state === 'Established' && b.peerStatus('a').counters.prefixesAnnouncedIn === 2, { what: 'both Established with routes' });
  assert.equal(a.peerStatus('b').peerRouterId, '10.0.0.2');
  assert.equal(b.peerStatus('a').counters.establishedTransitions, 1);
  a.withdraw('b', '10.9.0.1/32');
  await waitFor(() => b.peerStatus('a').counters.prefixesWithdrawnIn === 1, { what: 'withdraw seen' });
});

test('the listener refuses connections from addresses that are not peers', async (t) => {
  const engine = new BgpEngine({ logger: quiet, routerId: '10.0.0.1', listen: { address: '127.0.0.1', port: 0 } });
  t.after(() => engine.close());
  await engine.ready();
  engine.addPeer({ name: 'p', localAsn: 65001, peerAsn: PEER_ASN, peerAddress: '127.0.0.1', passive: true });
  const stranger = await FakePeer.connect(engine.port ?? 0, fakeOpen(), '127.0.0.2');
  t.after(() => stranger.close());
  await waitFor(() => stranger.closed, { what: 'stranger refused' });
  assert.equal(stranger.of('open').length, 0);
  assert.deepEqual(notifications(stranger), [[6, 5]], 'Cease: connection rejected');
});

test('configuration errors are explained', () => {
  const e = new BgpEngine({ logger: quiet, routerId: '10.0.0.1', listen: false });
  const base: PeerConfig = { name: 'x', localAsn: 65001, peerAsn: 65002, peerAddress: '127.0.0.1' };
  assert.throws(() => e.addPeer({ ...base, holdTime: 2 }), /holdTime must be 0 or 3..65535/);
  assert.throws(() => e.addPeer({ ...base, peerAsn: 0 }), /peerAsn must be an integer/);
  assert.throws(() => e.addPeer({ ...base, peerAddress: 'bad' }), /invalid IP address "bad"/);
  e.addPeer(base);
  assert.throws(() => e.addPeer(base), /already exists/);
  assert.throws(() => e.announce('x', '10.0.0.0/33'), /length must be 0..32/);
  assert.throws(() => e.announce('x', '10.0.0.1/32', { communities: ['bogus'] }), /invalid community "bogus"/);
  assert.throws(() => e.announce('nope', '10.0.0.1/32'), /no BGP peer named "nope"/);
  return e.close();
});

test('TCP MD5 (native sockets): the right key establishes, a wrong key never does', async (t) => {
  const { defaultSockets } = await import('../../src/bgp/socket.ts');
  const f = await defaultSockets();
  assert.equal(f.name, 'native', 'the native addon is built (scripts/setup.sh) so MD5 can be set before the SYN');
  const a = new BgpEngine({ logger: quiet, routerId: '10.0.0.1', listen: { address: '127.0.0.1', port: 0 } });
  const good = new BgpEngine({ logger: quiet, routerId: '10.0.0.2', listen: false });
  const bad = new BgpEngine({ logger: quiet, routerId: '10.0.0.3', listen: false });
  t.after(async () => {
    await Promise.all([good.close(), bad.close()]);
    await a.close();
  });
  await a.ready();
  const aEvents: StateEvent[] = [];
  a.on('state', (e) => aEvents.push(e));
  a.addPeer({ name: 'good', localAsn: 65001, peerAsn: 65002, peerAddress: '127.0.0.1', passive: true, password: 'sesame' });
  a.addPeer({ name: 'bad', localAsn: 65001, peerAsn: 65003, peerAddress: '127.0.0.2', passive: true, password: 'sesame' });
  bad.addPeer({ name: 'a', localAsn: 65003, peerAsn: 65001, peerAddress: '127.0.0.1', peerPort: a.port ?? 0, localAddress: '127.0.0.2', password: 'wrong', connectRetryTime: 0.3 });
  good.addPeer({ name: 'a', localAsn: 65002, peerAsn: 65001, peerAddress: '127.0.0.1', peerPort: a.port ?? 0, password: 'sesame', connectRetryTime: 0.3 });
  await waitFor(() => good.peerStatus('a').state === 'Established', { what: 'MD5 session Established' });
  await waitFor(() => bad.peerStatus('a').counters.connectAttempts >= 3, { what: 'three attempts with the wrong key' });
  assert.notEqual(bad.peerStatus('a').state, 'Established');
  assert.ok(!aEvents.some((e) => e.peer === 'bad' && e.state !== 'Active'), 'the listener never saw a connection with the wrong key');
});

test('GTSM (RFC 5082): peers with minTtl send TTL 255 and establish, on active and passive sockets', async (t) => {
  const a = new BgpEngine({ logger: quiet, routerId: '10.0.0.1', listen: { address: '127.0.0.1', port: 0 } });
  const b = new BgpEngine({ logger: quiet, routerId: '10.0.0.2', listen: false });
  t.after(async () => {
    await b.close();
    await a.close();
  });
  await a.ready();
  a.addPeer({ name: 'b', localAsn: 65001, peerAsn: 65002, peerAddress: '127.0.0.1', passive: true, minTtl: 254 });
  b.addPeer({ name: 'a', localAsn: 65002, peerAsn: 65001, peerAddress: '127.0.0.1', peerPort: a.port ?? 0, minTtl: 254, connectRetryTime: 0.3 });
  await waitFor(() => a.peerStatus('b').state === 'Established' && b.peerStatus('a').state === 'Established', { what: 'GTSM session Established' });
});

test('IPv6 session: IPv4 routes take the session interface\'s IPv4 address; extended next hop (RFC 8950) negotiated', async (t) => {
  const caps = standardCapabilities(PEER_ASN, { extendedNextHop: [{ afi: 1, safi: 1, nextHopAfi: 2 }] });
  const fake = await FakePeer.listen(fakeOpen({ capabilities: caps }), '::1');
  const engine = new BgpEngine({ logger: quiet, routerId: '10.0.0.1', listen: false });
  t.after(async () => {
    await engine.close();
    await fake.close();
  });
  engine.addPeer({ name: 'p', localAsn: 65001, peerAsn: PEER_ASN, peerAddress: '::1', peerPort: fake.port });
  engine.announce('p', '10.10.0.1/32');
  engine.announce('p', 'fd00::10/128');
  await waitFor(() => fake.routes.size === 2, { what: 'both routes' });
  // lo has 127.0.0.1: a plain IPv4 next hop is preferred; without one, RFC 8950 gives ::1
  // (the encoding is checked in bgp-codec.test.ts).
  assert.deepEqual(fake.routes.get('10.10.0.1/32')?.nextHops, ['127.0.0.1']);
  assert.deepEqual(fake.routes.get('fd00::10/128')?.nextHops, ['::1']);
  assert.deepEqual(fake.of('open')[0]?.capabilities.extendedNextHop, [{ afi: 1, safi: 1, nextHopAfi: 2 }]);
  assert.equal(engine.peerStatus('p').negotiated?.extendedNextHop, true);
});

test('familiesFromInterface: a family the session interface has no address of is not offered (lo: no global IPv6)', async (t) => {
  // The fake peer offers both families; lo holds 127.0.0.1 and ::1 but no global IPv6 to give as next hop.
  const { engine, fake } = await engineWithFake(t, { families: ['IPv4', 'IPv6'], familiesFromInterface: true });
  const ours = fake.of('open')[0];
  assert.ok(ours, 'our OPEN reached the fake peer');
  assert.deepEqual(ours.capabilities.multiprotocol, [{ afi: 1, safi: 1 }], 'only IPv4 unicast offered');
  assert.deepEqual(engine.peerStatus('p').negotiated?.families, ['IPv4']);
  // Without the check both families are offered (the peer's interface is not consulted).
  const plain = await engineWithFake(t, { families: ['IPv4', 'IPv6'] });
  assert.deepEqual(plain.engine.peerStatus('p').negotiated?.families, ['IPv4', 'IPv6']);
});

test('the peer\'s connection carries on when ours fails meanwhile (it never becomes an unseen Established session)', async (t) => {
  const engine = new BgpEngine({ logger: quiet, routerId: '10.0.0.1', listen: { address: '127.0.0.1', port: 0 } });
  await engine.ready();
  const ours = await FakePeer.listen(); // answers nothing: our connection stays in OpenSent
  ours.autoKeepalive = false;
  let theirs: FakePeer | undefined;
  t.after(async () => {
    await engine.close();
    await ours.close();
    await theirs?.close();
  });
  engine.addPeer({ name: 'p', localAsn: 65001, peerAsn: PEER_ASN, peerAddress: '127.0.0.1', peerPort: ours.port, connectRetryTime: 60 });
  engine.announce('p', '10.9.0.1/32');
  await waitFor(() => engine.peerStatus('p').state === 'OpenSent', { what: 'our connection in OpenSent' });
  // The peer connects too (a second connection, held aside for collision detection)...
  theirs = await FakePeer.connect(engine.port ?? 0);
  theirs.autoKeepalive = false;
  await waitFor(() => theirs!.of('open').length === 1, { what: 'our OPEN on the peer\'s connection' });
  // ...and our own connection dies before any OPEN arrived on the peer's.
  ours.socket?.destroy();
  await waitFor(() => ours.closed, { what: 'our connection closed' });
  theirs.sendOpen(fakeOpen());
  theirs.send(c.encodeKeepalive());
  await waitFor(() => engine.peerStatus('p').state === 'Established', { what: 'Established on the peer\'s connection', timeoutMs: 5000 });
  await waitFor(() => theirs!.routes.has('10.9.0.1/32'), { what: 'routes on it' });
});
