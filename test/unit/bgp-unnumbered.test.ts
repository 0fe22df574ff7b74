// BGP unnumbered, the pure parts: the Extended Next Hop capability (RFC 8950 §3), IPv4 NLRI in
// MP_REACH/MP_UNREACH with 16- and 32-byte IPv6 next hops from a link-local session, the Router
// Solicitation/Advertisement codec that finds the peer, and the engine's checks of the settings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/bgp/codec/index.ts';
import { AttrTable } from '../../src/bgp/attr-set.ts';
import { UpdateEncoder, type EncodingContext } from '../../src/bgp/update-builder.ts';
import { BgpEngine } from '../../src/bgp/index.ts';
import { ICMPV6_RA, ICMPV6_RS, decodeRouterMessage, encodeRouterAdvertisement, encodeRouterSolicitation } from '../../src/bgp/unnumbered/router-adv.ts';
import type { LinkPeerEvents, LinkPeerSource } from '../../src/bgp/unnumbered/link-peers.ts';
import { FakePeer, standardCapabilities } from '../../src/bgp/testing/fake-peer.ts';
import { Rng } from '../fuzz/bgp-fuzz.ts';
import { waitFor } from '../support/wait.ts';
import { EventEmitter } from 'node:events';
import { pino } from 'pino';

const quiet = pino({ level: process.env.IRONLB_LOG_LEVEL ?? 'silent' });

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const dctx: c.DecodeContext = { fourOctetAs: true, ibgp: false, addPathReceive: () => false };

function decodeUpdate(bytes: Buffer): c.UpdateMessage {
  const r = new c.MessageReader();
  r.maxSize = 65535;
  r.push(bytes);
  const raw = r.next();
  assert.ok(raw);
  const m = c.decodeMessage(raw, dctx);
  assert.equal(m.type, 'update');
  return m as c.UpdateMessage;
}

test('Extended Next Hop capability (code 5): exact bytes both ways, in an OPEN, and length errors', () => {
  const entries = [{ afi: 1, safi: 1, nextHopAfi: 2 }, { afi: 1, safi: 128, nextHopAfi: 2 }];
  // RFC 8950 §3: AFI (2), SAFI (2, not 1 as elsewhere), next hop AFI (2) per entry.
  assert.deepEqual(c.encodeExtendedNextHop(entries), hex('0001 0001 0002  0001 0080 0002'));
  assert.deepEqual(c.decodeExtendedNextHop(hex('0001 0001 0002  0001 0080 0002')), entries);
  assert.deepEqual(c.decodeExtendedNextHop(Buffer.alloc(0)), []);
  assert.equal(c.ipv4OverIpv6(entries), true);
  assert.equal(c.ipv4OverIpv6([{ afi: 2, safi: 1, nextHopAfi: 1 }]), false);
  assert.equal(c.ipv4OverIpv6(undefined), false);
  for (const len of [1, 5, 7, 11]) {
    assert.throws(() => c.decodeExtendedNextHop(Buffer.alloc(len)), (e: unknown) => e instanceof c.BgpError && e.code === c.Err.OPEN && /not a multiple of 6/.test(e.message));
  }
  // In an OPEN: capability 5, length 6, decoded back; two such capabilities add up.
  const caps = { ...c.emptyCapabilities(), extendedNextHop: [entries[0]!] };
  const params = c.encodeCapabilities(caps);
  assert.ok(params.includes(hex('0506 0001 0001 0002')), params.toString('hex'));
  assert.deepEqual(c.decodeOptionalParameters(params).extendedNextHop, [entries[0]]);
  const twice = Buffer.concat([hex('02 08 0506 000100010002'), hex('02 08 0506 000100800002')]);
  assert.deepEqual(c.decodeOptionalParameters(twice).extendedNextHop, entries);
  assert.throws(() => c.decodeOptionalParameters(hex('02 07 0505 0001000100')), c.BgpError);
});

test('Extended Next Hop decoding is fuzz-safe: random values only ever give entries or a BgpError', () => {
  const rng = new Rng(8950);
  for (let i = 0; i < 5000; i++) {
    const b = rng.bytes(rng.int(40));
    try {
      const out = c.decodeExtendedNextHop(b);
      assert.equal(out.length * 6, b.length);
      assert.deepEqual(c.encodeExtendedNextHop(out), b, 'round trip');
    } catch (e) {
      assert.ok(e instanceof c.BgpError, String(e));
    }
  }
});

test('IPv4 NLRI with IPv6 next hops from a link-local session: 16 bytes (link-local alone) or 32 (global + link-local); MP_UNREACH withdrawals', () => {
  const table = new AttrTable();
  const ll = c.parseAddress('fe80::2');
  const base: EncodingContext = { localAsn: 65001, ibgp: false, fourOctetAs: true, maxSize: 4096, addPath: { IPv4: false, IPv6: false }, localAddress: ll, linkLocal6: ll, ipv4WithIpv6NextHop: true };
  const attrs = table.intern({});

  // Pure unnumbered: no global address on the interface. Link-local alone, as FRR and BIRD take it.
  const bare = new UpdateEncoder(base);
  const out: Buffer[] = [];
  assert.deepEqual(bare.announce('IPv4', attrs, ['10.0.0.1/32', '10.0.0.2/32'], out), { skipped: 0 });
  assert.deepEqual(bare.announce('IPv6', attrs, ['fd00::1/128'], out), { skipped: 0 });
  const u4 = decodeUpdate(out[0]!);
  assert.deepEqual(u4.nlri, [], 'no classic NLRI: IPv4 goes in MP_REACH_NLRI');
  assert.equal(u4.attrs.nextHop, undefined, 'no NEXT_HOP attribute');
  assert.deepEqual(u4.attrs.mpReach, { afi: 1, safi: 1, nextHops: ['fe80::2'], nlri: [{ prefix: '10.0.0.1/32' }, { prefix: '10.0.0.2/32' }] });
  // The wire form: AFI 1, SAFI 1, next hop length 16.
  assert.ok(out[0]!.includes(hex('0001 01 10 fe800000000000000000000000000002 00')), out[0]!.toString('hex'));
  assert.deepEqual(decodeUpdate(out[1]!).attrs.mpReach, { afi: 2, safi: 1, nextHops: ['fe80::2'], nlri: [{ prefix: 'fd00::1/128' }] });
  const w: Buffer[] = [];
  bare.withdraw('IPv4', ['10.0.0.1/32'], w);
  const wu = decodeUpdate(w[0]!);
  assert.deepEqual(wu.withdrawn, [], 'withdrawn the way it was announced: in MP_UNREACH_NLRI');
  assert.deepEqual(wu.attrs.mpUnreach, { afi: 1, safi: 1, withdrawn: [{ prefix: '10.0.0.1/32' }] });

  // With a global address on the interface: global first, then the link-local (32 bytes).
  const global = new UpdateEncoder({ ...base, ipv6Global: c.parseAddress('fd00:9::2') });
  const o2: Buffer[] = [];
  global.announce('IPv4', attrs, ['10.0.0.3/32'], o2);
  global.announce('IPv6', attrs, ['fd00::3/128'], o2);
  assert.deepEqual(decodeUpdate(o2[0]!).attrs.mpReach?.nextHops, ['fd00:9::2', 'fe80::2']);
  assert.ok(o2[0]!.includes(hex('0001 01 20 fd000009000000000000000000000002 fe800000000000000000000000000002 00')));
  assert.deepEqual(decodeUpdate(o2[1]!).attrs.mpReach?.nextHops, ['fd00:9::2', 'fe80::2']);

  // The peer did not offer RFC 8950: IPv4 is not sent, and the reason says what to enable.
  const noEnh = new UpdateEncoder({ ...base, ipv4WithIpv6NextHop: false });
  const r = noEnh.announce('IPv4', attrs, ['10.0.0.4/32'], []);
  assert.equal(r.skipped, 1);
  assert.match(r.reason ?? '', /extended next hop capability \(RFC 8950\).*capability extended-nexthop.*extended next hop on/);
  // A numbered IPv6 session keeps the classic IPv4 withdrawal when IPv4 has its own next hop.
  const numbered = new UpdateEncoder({ ...base, localAddress: c.parseAddress('fd00::2'), otherFamilyNextHop: c.parseAddress('10.0.0.9') });
  const o3: Buffer[] = [];
  numbered.withdraw('IPv4', ['10.0.0.1/32'], o3);
  assert.deepEqual(decodeUpdate(o3[0]!).withdrawn, [{ prefix: '10.0.0.1/32' }]);
});

test('Router Solicitation / Advertisement: exact layout, round trip, and what RFC 4861 §6.1 refuses', () => {
  const mac = Buffer.from([2, 0, 0, 0, 0, 7]);
  const ra = encodeRouterAdvertisement(mac, 'fe80::7');
  // Ethernet to 33:33:00:00:00:01, IPv6 hop limit 255, ICMPv6 134 with Router Lifetime 0 and our MAC.
  assert.deepEqual(ra.subarray(0, 6), hex('333300000001'));
  assert.equal(ra[14 + 7], 255);
  assert.equal(ra.length, 14 + 40 + 16 + 8);
  assert.deepEqual(decodeRouterMessage(ra), { type: ICMPV6_RA, src: 'fe80::7', dst: 'ff02::1', routerLifetime: 0, lla: mac });
  assert.equal(decodeRouterMessage(encodeRouterAdvertisement(mac, 'fe80::7', 1800))?.routerLifetime, 1800);
  const rs = encodeRouterSolicitation(mac, 'fe80::7');
  assert.deepEqual(rs.subarray(0, 6), hex('333300000002'));
  assert.deepEqual(decodeRouterMessage(rs), { type: ICMPV6_RS, src: 'fe80::7', dst: 'ff02::2', routerLifetime: 0, lla: mac });

  const bad = (mut: (f: Buffer) => void): Buffer => {
    const f = Buffer.from(ra);
    mut(f);
    return f;
  };
  assert.equal(decodeRouterMessage(bad((f) => { f[14 + 7] = 64; })), null, 'hop limit below 255: crossed a router');
  assert.equal(decodeRouterMessage(bad((f) => { f[56] = (f[56] ?? 0) ^ 0xff; })), null, 'bad checksum');
  assert.equal(decodeRouterMessage(bad((f) => { f[54 + 1] = 1; })), null, 'code not 0');
  assert.equal(decodeRouterMessage(bad((f) => { f[54 + 17] = 0; })), null, 'option of length 0');
  assert.equal(decodeRouterMessage(encodeRouterAdvertisement(mac, 'fd00::7')), null, 'RA from a non-link-local source');
  assert.equal(decodeRouterMessage(ra.subarray(0, 60)), null, 'truncated');
});

test('Router message decoding is fuzz-safe: mutated and random frames give a message or null, never a throw', () => {
  const rng = new Rng(4861);
  const seeds = [encodeRouterAdvertisement(Buffer.from([2, 0, 0, 0, 0, 1]), 'fe80::1'), encodeRouterSolicitation(Buffer.from([2, 0, 0, 0, 0, 1]), 'fe80::1')];
  for (let i = 0; i < 20000; i++) {
    let f: Buffer;
    if (i % 4 === 0) f = rng.bytes(rng.int(120));
    else {
      f = Buffer.from(rng.pick(seeds));
      for (let k = 0, n = 1 + rng.int(4); k < n; k++) f[rng.int(f.length)] = rng.int(256);
      if (rng.int(5) === 0) f = f.subarray(0, rng.int(f.length));
    }
    const m = decodeRouterMessage(f);
    if (m) assert.ok(m.type === ICMPV6_RA || m.type === ICMPV6_RS);
  }
});

test('engine: an unnumbered peer takes exactly one of peerAddress and interface, a valid interface name, and no multihop', async () => {
  const engine = new BgpEngine({ routerId: '192.0.2.1', listen: false, linkPeers: () => { throw new Error('not reached'); } });
  try {
    const base = { localAsn: 65001, dynamicAsn: 'external' as const };
    assert.throws(() => engine.addPeer({ name: 'a', ...base }), /set exactly one of peerAddress and interface/);
    assert.throws(() => engine.addPeer({ name: 'b', ...base, peerAddress: '10.0.0.1', interface: 'eth0' }), /set exactly one of peerAddress and interface/);
    assert.throws(() => engine.addPeer({ name: 'c', ...base, interface: 'eth0/1' }), /interface must be a Linux interface name/);
    assert.throws(() => engine.addPeer({ name: 'd', ...base, interface: 'x'.repeat(16) }), /interface must be a Linux interface name/);
    assert.throws(() => engine.addPeer({ name: 'e', ...base, interface: 'eth0', ebgpMultihop: 2 }), /ebgpMultihop does not apply/);
  } finally {
    await engine.close();
  }
});

/** A neighbour source the test drives: `peers` as set, 'change' when told. */
class FakeLink extends EventEmitter<LinkPeerEvents> implements LinkPeerSource {
  readonly ifname: string;
  peers: string[] = [];
  problem: string | undefined;
  seenList: string[] = [];
  closed = false;
  constructor(ifname: string) {
    super();
    this.ifname = ifname;
  }
  seen(a: string): void {
    this.seenList.push(a);
  }
  close(): void {
    this.closed = true;
  }
}

test('engine: an unnumbered session waits for a neighbour, says so, connects as soon as one is heard, tries the next when one fails', async (t) => {
  const caps = standardCapabilities(65010, { extendedNextHop: [{ afi: 1, safi: 1, nextHopAfi: 2 }] });
  const fake = await FakePeer.listen({ asn: 65010, bgpId: '10.9.9.9', capabilities: caps }, '::1');
  const links: FakeLink[] = [];
  const engine = new BgpEngine({ logger: quiet, routerId: '10.0.0.1', listen: false, linkPeers: (ifname) => {
    const l = new FakeLink(ifname);
    links.push(l);
    return l;
  } });
  t.after(async () => {
    await engine.close();
    await fake.close();
  });
  // Loopback stands in for the link: "::1%lo" is what the engine dials for neighbour ::1.
  engine.addPeer({ name: 'u', localAsn: 65001, dynamicAsn: 'external', interface: 'lo', peerPort: fake.port, connectRetryTime: 60 });
  engine.addPeer({ name: 'u2', localAsn: 65001, dynamicAsn: 'external', interface: 'lo', peerPort: fake.port, connectRetryTime: 60, passive: true });
  assert.equal(links.length, 1, 'one neighbour source per interface, shared');
  await waitFor(() => /no BGP neighbour heard on lo yet/.test(engine.peerStatus('u').lastError ?? ''), { what: 'the waiting reason' });
  assert.equal(engine.peerStatus('u').peerAddress, '');
  engine.setRoutes('u', new Map([['10.1.0.1/32', {}], ['fd00::1/128', {}]]));
  // Heard: connects now, not after the 60 s connect-retry. ::2 does not answer; ::1 does.
  const link = links[0]!;
  link.peers = ['::2', '::1'];
  link.emit('change');
  await waitFor(() => engine.peerStatus('u').state === 'Established', { what: 'Established after the neighbour was heard', timeoutMs: 20_000 });
  const st = engine.peerStatus('u');
  assert.equal(st.peerAddress, '::1', 'the connected neighbour (a link-local one carries its %interface: test/net/bgp-unnumbered)');
  assert.equal(st.interface, 'lo');
  assert.equal(st.negotiated?.extendedNextHop, true);
  assert.ok(st.counters.connectAttempts >= 2, 'the first candidate failed, the next was tried');
  assert.deepEqual(fake.of('open')[0]?.capabilities.extendedNextHop, [{ afi: 1, safi: 1, nextHopAfi: 2 }], 'RFC 8950 offered on the unnumbered session');
  await waitFor(() => fake.routes.has('10.1.0.1/32') && fake.routes.has('fd00::1/128'), { what: 'both routes at the peer' });
  assert.equal(fake.routes.get('10.1.0.1/32')?.nextHops[0], '::1', 'IPv4 route with the IPv6 next hop');
  assert.ok(link.seenList.includes('::1'), 'the connected neighbour is remembered');
  await engine.removePeer('u');
  assert.equal(link.closed, false, 'still used by u2');
  await engine.removePeer('u2');
  assert.equal(link.closed, true, 'closed with its last peer');
});
