// BGP codec: hand-built bytes from the RFCs, round trips (ours and bytes captured from real
// peers in test/fixtures/bgp), framing, and the RFC 7606 error classes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as c from '../../src/bgp/codec/index.ts';
import { AttrTable } from '../../src/bgp/attr-set.ts';
import { UpdateEncoder, type EncodingContext } from '../../src/bgp/update-builder.ts';

const ctx = (extra: Partial<c.DecodeContext> = {}): c.DecodeContext => ({ fourOctetAs: true, ibgp: false, addPathReceive: () => false, ...extra });
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const MARKER = 'ffffffffffffffffffffffffffffffff';

/** Frames a body by hand (not through encodeMessage) so the test checks the header layout. */
function frame(type: number, body: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(19 + body.length);
  return Buffer.concat([hex(MARKER), len, Buffer.from([type]), body]);
}

function decodeOne(bytes: Buffer, dctx = ctx()): c.BgpMessage {
  const r = new c.MessageReader();
  r.maxSize = 65535;
  r.push(bytes);
  const raw = r.next();
  assert.ok(raw, 'a whole message');
  assert.equal(r.buffered, 0, 'nothing left over');
  return c.decodeMessage(raw, dctx);
}

function updateBody(withdrawn: Buffer, attrs: Buffer, nlri: Buffer): Buffer {
  const w = Buffer.alloc(2);
  w.writeUInt16BE(withdrawn.length);
  const a = Buffer.alloc(2);
  a.writeUInt16BE(attrs.length);
  return Buffer.concat([w, withdrawn, a, attrs, nlri]);
}

const ORIGIN_IGP = hex('40 01 01 00');
const AS_PATH_65001 = hex('40 02 06 02 01 0000fde9'); // AS_SEQUENCE [65001], 4-octet
const NEXT_HOP = hex('40 03 04 0a000001');
const NLRI_10_1_0_0_16 = hex('10 0a01');

test('prefixes: parse, canonical text, host bits cleared, errors name the problem', () => {
  assert.equal(c.canonicalPrefix('10.1.2.3/16'), '10.1.0.0/16');
  assert.equal(c.canonicalPrefix('10.0.0.1'), '10.0.0.1/32');
  assert.equal(c.canonicalPrefix('FD00:0:0::1/128'), 'fd00::1/128');
  assert.equal(c.canonicalPrefix('fd00::1:2/64'), 'fd00::/64');
  assert.throws(() => c.parsePrefix('10.0.0.256/32'), /octet 256/);
  assert.throws(() => c.parsePrefix('10.0.0.1/33'), /length must be 0..32/);
  assert.throws(() => c.parsePrefix('fd00::/129'), /0..128/);
  assert.throws(() => c.parsePrefix('nonsense'), /invalid IP address/);
  const p = c.parsePrefix('10.1.0.0/16');
  const b = Buffer.alloc(3);
  assert.equal(c.writeNlri(b, 0, p), 3);
  assert.deepEqual(b, NLRI_10_1_0_0_16);
  assert.deepEqual(c.decodeNlri(hex('00 08 0a 20 0a000001'), 1, false).map((n) => n.prefix), ['0.0.0.0/0', '10.0.0.0/8', '10.0.0.1/32']);
  assert.throws(() => c.decodeNlri(hex('21 0a000001 00'), 1, false), (e: c.BgpError) => e.code === 3 && e.subcode === 10);
  assert.throws(() => c.decodeNlri(hex('18 0a00'), 1, false), /truncated/);
});

test('communities: text forms and well-known names', () => {
  assert.equal(c.parseCommunity('65000:100'), 0xfde80064);
  assert.equal(c.parseCommunity('no-export'), 0xffffff01);
  assert.equal(c.formatCommunity(0xffffff02), 'no-advertise');
  assert.equal(c.formatCommunity(0xfde80064), '65000:100');
  assert.deepEqual(c.parseLargeCommunity('4200000000:1:2'), [4200000000, 1, 2]);
  assert.throws(() => c.parseCommunity('70000:1'), /0..65535/);
  assert.throws(() => c.parseLargeCommunity('1:2'), /GLOBAL:LOCAL1:LOCAL2/);
});

test('OPEN: hand-built bytes (RFC 4271 §4.2, RFC 5492) decode; encode/decode round trip', () => {
  // version 4, My AS 65001, hold 90, BGP ID 10.0.0.1, one parameter holding MP(IPv4 unicast)
  // and 4-octet AS 65001.
  const body = hex('04 fde9 005a 0a000001 0e 02 0c 0104 00010001 4104 0000fde9');
  const m = decodeOne(frame(1, body));
  assert.deepEqual(m, {
    type: 'open', version: 4, myAs: 65001, holdTime: 90, bgpId: '10.0.0.1',
    capabilities: { ...c.emptyCapabilities(), multiprotocol: [{ afi: 1, safi: 1 }], fourOctetAs: 65001 },
  });
  const caps: c.Capabilities = {
    multiprotocol: [{ afi: 1, safi: 1 }, { afi: 2, safi: 1 }], routeRefresh: true, enhancedRouteRefresh: false, extendedMessage: true,
    extendedNextHop: [{ afi: 1, safi: 1, nextHopAfi: 2 }],
    fourOctetAs: 4200000001,
    gracefulRestart: { restarting: true, notification: false, time: 120, families: [{ afi: 1, safi: 1, forwarding: true }, { afi: 2, safi: 1, forwarding: false }] },
    addPath: [{ afi: 1, safi: 1, mode: 2 }], unknown: [{ code: 73, data: hex('0161') }],
  };
  const bytes = c.encodeOpen({ asn: 4200000001, holdTime: 9, bgpId: '192.0.2.1', capabilities: caps });
  const back = decodeOne(bytes) as c.OpenMessage;
  assert.equal(back.myAs, c.AS_TRANS, 'a 4-byte ASN goes as AS_TRANS in My AS (RFC 6793)');
  assert.deepEqual(back.capabilities, caps);
  assert.equal(back.holdTime, 9);
});

test('OPEN errors: version, parameter type, and lengths', () => {
  assert.throws(() => decodeOne(frame(1, hex('03 fde9 005a 0a000001 00'))), (e: c.BgpError) => e.code === 2 && e.subcode === 1 && e.data.equals(hex('0004')));
  assert.throws(() => decodeOne(frame(1, hex('04 fde9 005a 0a000001 03 01 01 00'))), (e: c.BgpError) => e.code === 2 && e.subcode === 4);
  assert.throws(() => decodeOne(frame(1, hex('04 fde9 005a 0a000001 05 02 03 41 04 00'))), (e: c.BgpError) => e.code === 2);
});

test('UPDATE: hand-built IPv4 announce and withdraw (RFC 4271 §4.3)', () => {
  const attrs = Buffer.concat([ORIGIN_IGP, AS_PATH_65001, NEXT_HOP, hex('80 04 04 00000005'), hex('c0 08 04 fde80064')]);
  const u = decodeOne(frame(2, updateBody(hex('18 0a0202'), attrs, NLRI_10_1_0_0_16))) as c.UpdateMessage;
  assert.deepEqual(u.withdrawn.map((n) => n.prefix), ['10.2.2.0/24']);
  assert.deepEqual(u.nlri.map((n) => n.prefix), ['10.1.0.0/16']);
  assert.equal(u.attrs.origin, 0);
  assert.deepEqual(u.attrs.asPath, [{ type: 2, asns: [65001] }]);
  assert.equal(u.attrs.nextHop, '10.0.0.1');
  assert.equal(u.attrs.med, 5);
  assert.deepEqual(u.attrs.communities, [0xfde80064]);
  assert.equal(u.treatAsWithdraw, false);
  assert.deepEqual(u.problems, []);
  // The same with a 2-octet AS_PATH when 4-octet AS was not negotiated.
  const two = decodeOne(frame(2, updateBody(Buffer.alloc(0), Buffer.concat([ORIGIN_IGP, hex('40 02 04 02 01 fde9'), NEXT_HOP]), NLRI_10_1_0_0_16)), ctx({ fourOctetAs: false })) as c.UpdateMessage;
  assert.deepEqual(two.attrs.asPath, [{ type: 2, asns: [65001] }]);
});

test('UPDATE: MP_REACH with IPv6 global + link-local next hop, MP_UNREACH, End-of-RIB forms', () => {
  const mp = hex('80 0e 36 0002 01 20 fd000000000000000000000000000001 fe800000000000000000000000000001 00 80 fd000000000000000000000000000099');
  const u = decodeOne(frame(2, updateBody(Buffer.alloc(0), Buffer.concat([mp, ORIGIN_IGP, AS_PATH_65001]), Buffer.alloc(0)))) as c.UpdateMessage;
  assert.deepEqual(u.attrs.mpReach, { afi: 2, safi: 1, nextHops: ['fd00::1', 'fe80::1'], nlri: [{ prefix: 'fd00::99/128' }] });
  const un = decodeOne(frame(2, updateBody(Buffer.alloc(0), hex('80 0f 0c 0002 01 40 fd00000000000001'), Buffer.alloc(0)))) as c.UpdateMessage;
  assert.deepEqual(un.attrs.mpUnreach?.withdrawn, [{ prefix: 'fd00:0:0:1::/64' }]);
  assert.equal(un.endOfRib, undefined);
  const eor4 = decodeOne(c.encodeEndOfRib(1)) as c.UpdateMessage;
  assert.deepEqual(eor4.endOfRib, { afi: 1, safi: 1 });
  assert.deepEqual(c.encodeEndOfRib(1), hex(`${MARKER} 0017 02 0000 0000`));
  const eor6 = decodeOne(c.encodeEndOfRib(2)) as c.UpdateMessage;
  assert.deepEqual(eor6.endOfRib, { afi: 2, safi: 1 });
  assert.deepEqual(c.encodeEndOfRib(2), hex(`${MARKER} 001d 02 0000 0006 800f03000201`));
});

test('NOTIFICATION, KEEPALIVE, ROUTE-REFRESH: exact bytes both ways', () => {
  assert.deepEqual(c.encodeKeepalive(), hex(`${MARKER} 0013 04`));
  assert.deepEqual(c.encodeNotification(6, 2), hex(`${MARKER} 0015 03 0602`));
  assert.deepEqual(decodeOne(hex(`${MARKER} 0017 03 0202 fde9`)), { type: 'notification', code: 2, subcode: 2, data: hex('fde9') });
  assert.deepEqual(c.encodeRouteRefresh(2, 1), hex(`${MARKER} 0017 05 0002 00 01`));
  assert.deepEqual(decodeOne(c.encodeRouteRefresh(1, 1)), { type: 'route-refresh', afi: 1, safi: 1, subtype: 0 });
});

test('framing: split and coalesced chunks, bad marker, bad length, bad type, oversize', () => {
  const msgs = [c.encodeKeepalive(), c.encodeNotification(6, 4), c.encodeEndOfRib(2)];
  const all = Buffer.concat(msgs);
  for (const cut of [1, 5, 19, 20, 25, all.length - 1]) {
    const r = new c.MessageReader();
    const got: number[] = [];
    for (const part of [all.subarray(0, cut), all.subarray(cut)]) {
      r.push(part);
      for (let m = r.next(); m; m = r.next()) got.push(m.type);
    }
    assert.deepEqual(got, [4, 3, 2], `cut at ${cut}`);
  }
  const bad = (b: Buffer, code: number, sub: number): void => {
    const r = new c.MessageReader();
    r.push(b);
    assert.throws(() => r.next(), (e: c.BgpError) => e.code === code && e.subcode === sub);
  };
  bad(hex(`ffffffffffffffffffffffffffffff00 0013 04`), 1, 1);
  bad(hex(`${MARKER} 0012 04`), 1, 2);
  bad(hex(`${MARKER} 0014 04 00`), 1, 2); // KEEPALIVE must be exactly 19
  bad(hex(`${MARKER} 0013 09`), 1, 3);
  bad(hex(`${MARKER} 1001 02`), 1, 2); // 4097 without extended messages
  const r = new c.MessageReader();
  r.maxSize = 65535;
  r.push(hex(`${MARKER} 1001 02`));
  assert.equal(r.next(), undefined, 'with extended messages 4097 is fine, just incomplete');
});

test('RFC 7606: treat-as-withdraw, attribute discard and session reset cases', () => {
  const upd = (attrs: Buffer, nlri = NLRI_10_1_0_0_16, dctx = ctx()): c.UpdateMessage => decodeOne(frame(2, updateBody(Buffer.alloc(0), attrs, nlri)), dctx) as c.UpdateMessage;
  const taw = (attrs: Buffer, why: RegExp, dctx = ctx()): void => {
    const u = upd(attrs, NLRI_10_1_0_0_16, dctx);
    assert.equal(u.treatAsWithdraw, true, `treat-as-withdraw expected: ${why}`);
    assert.match(u.problems.map((p) => p.reason).join('; '), why);
  };
  const base = [ORIGIN_IGP, AS_PATH_65001, NEXT_HOP];
  taw(Buffer.concat([hex('40 01 01 07'), AS_PATH_65001, NEXT_HOP]), /ORIGIN value 7/);
  taw(Buffer.concat([hex('40 01 02 0000'), AS_PATH_65001, NEXT_HOP]), /ORIGIN has length 2/);
  taw(Buffer.concat([ORIGIN_IGP, hex('40 02 03 02 01 00'), NEXT_HOP]), /AS_PATH segment overruns/);
  taw(Buffer.concat([ORIGIN_IGP, hex('40 02 06 07 01 0000fde9'), NEXT_HOP]), /segment type 7/);
  taw(Buffer.concat([ORIGIN_IGP, AS_PATH_65001, hex('40 03 03 0a0000')]), /NEXT_HOP has length 3/);
  taw(Buffer.concat([ORIGIN_IGP, AS_PATH_65001]), /NEXT_HOP is missing/);
  taw(Buffer.concat([AS_PATH_65001, NEXT_HOP]), /ORIGIN is missing/);
  taw(Buffer.concat([...base, hex('c0 08 03 000000')]), /COMMUNITIES has length 3/);
  taw(Buffer.concat([...base, hex('c0 20 08 0000000100000002')]), /LARGE_COMMUNITIES has length 8/);
  taw(Buffer.concat([...base, hex('80 04 02 0000')]), /MED has length 2/);
  taw(Buffer.concat([hex('c0 01 01 00'), AS_PATH_65001, NEXT_HOP]), /flags/, ctx()); // ORIGIN marked optional
  taw(Buffer.concat([...base, hex('c0 08 09 fde80064')]), /overruns/); // length past the field
  // iBGP: a bad LOCAL_PREF length is treat-as-withdraw; from eBGP the attribute is just discarded.
  taw(Buffer.concat([...base, hex('40 05 02 0064')]), /LOCAL_PREF has length 2/, ctx({ ibgp: true }));
  const discard = (attrs: Buffer, why: RegExp, dctx = ctx()): c.UpdateMessage => {
    const u = upd(attrs, NLRI_10_1_0_0_16, dctx);
    assert.equal(u.treatAsWithdraw, false, `no treat-as-withdraw for: ${why}`);
    assert.ok(u.problems.some((p) => p.action === 'attribute-discard' && why.test(p.reason)), `discard expected: ${why}, got ${JSON.stringify(u.problems)}`);
    assert.deepEqual(u.nlri.map((n) => n.prefix), ['10.1.0.0/16']);
    return u;
  };
  assert.equal(discard(Buffer.concat([...base, hex('40 05 04 00000064')]), /external peer/).attrs.localPref, undefined);
  discard(Buffer.concat([...base, hex('40 06 01 00')]), /ATOMIC_AGGREGATE has length 1/);
  discard(Buffer.concat([...base, hex('c0 07 05 0000000000')]), /AGGREGATOR has length 5/);
  discard(Buffer.concat([...base, hex('c0 11 03 020100')]), /AS_PATH segment/); // AS4_PATH
  discard(Buffer.concat([...base, hex('80 04 04 00000001 80 04 04 00000002')]), /appears twice/);
  // An unknown optional attribute is kept as-is, not an error.
  const unk = upd(Buffer.concat([...base, hex('c0 63 02 abcd')]));
  assert.deepEqual(unk.attrs.unknown, [{ flags: 0xc0, code: 0x63, value: hex('abcd') }]);
  assert.deepEqual(unk.problems, []);
  // Session reset: the NLRI cannot be located or trusted.
  const reset = (b: Buffer, code: number, sub: number): void => {
    assert.throws(() => decodeOne(frame(2, b)), (e: c.BgpError) => e.code === code && e.subcode === sub, `expected ${code}/${sub}`);
  };
  reset(updateBody(Buffer.alloc(0), Buffer.concat(base), hex('21 0a000001 00')), 3, 10);
  reset(hex('0010 0000'), 3, 1); // withdrawn length past the message
  reset(hex('0000 0040 400101'), 3, 1); // attribute length past the message
  const mp = hex('80 0e 15 0002 01 10 fd000000000000000000000000000001 00');
  reset(updateBody(Buffer.alloc(0), Buffer.concat([mp, mp, ORIGIN_IGP, AS_PATH_65001]), Buffer.alloc(0)), 3, 1); // MP_REACH twice
  reset(updateBody(Buffer.alloc(0), Buffer.concat([hex('80 0e 06 0002 01 03 000000'), ORIGIN_IGP]), Buffer.alloc(0)), 3, 9); // next hop length 3
  reset(updateBody(Buffer.alloc(0), Buffer.concat([...base, hex('40 63 00')]), NLRI_10_1_0_0_16), 3, 2); // unknown well-known
});

test('update builder: packing by attributes, size limit, withdrawals, IPv6 next hops, ADD-PATH', () => {
  const table = new AttrTable();
  const a = table.intern({ communities: ['65000:1'], med: 10 });
  const b = table.intern({ communities: ['65000:2'] });
  assert.equal(table.intern({ med: 10, communities: ['65000:1', '65000:1'] }), a, 'equal attributes intern to one set');
  const ctxE: EncodingContext = { localAsn: 65001, ibgp: false, fourOctetAs: true, maxSize: 4096, addPath: { IPv4: false, IPv6: false }, localAddress: c.parseAddress('10.0.0.1') };
  const enc = new UpdateEncoder(ctxE);
  const prefixes = Array.from({ length: 2000 }, (_, i) => `10.${i >> 8}.${i & 255}.1/32`);
  const out: Buffer[] = [];
  enc.announce('IPv4', a, prefixes, out);
  const nA = out.length;
  enc.announce('IPv4', b, prefixes.slice(0, 3), out);
  assert.ok(nA <= Math.ceil((2000 * 5) / (4096 - 60)), `2000 /32 routes fit in ${nA} messages`);
  assert.equal(out.length, nA + 1);
  const seen = new Map<string, number[] | undefined>();
  for (const m of out) {
    assert.ok(m.length <= 4096);
    const u = decodeOne(m) as c.UpdateMessage;
    assert.equal(u.attrs.nextHop, '10.0.0.1');
    assert.deepEqual(u.attrs.asPath, [{ type: 2, asns: [65001] }]);
    assert.equal(u.attrs.localPref, undefined, 'no LOCAL_PREF on eBGP');
    for (const n of u.nlri) seen.set(n.prefix, u.attrs.communities);
  }
  assert.equal(seen.size, 2000);
  assert.deepEqual(seen.get('10.0.0.1/32'), [0xfde80002], 'the later announcement carries its own attributes');
  assert.deepEqual(seen.get('10.7.207.1/32'), [0xfde80001]);
  // Withdrawals, both families, and IPv6 with the mapped next hop on an IPv4 session.
  const w: Buffer[] = [];
  enc.withdraw('IPv4', prefixes, w);
  enc.withdraw('IPv6', ['fd00::1/128', 'fd00::2/128'], w);
  enc.announce('IPv6', b, ['fd00::3/128'], w);
  const ws = w.map((m) => decodeOne(m) as c.UpdateMessage);
  assert.equal(ws.slice(0, -2).reduce((n, u) => n + u.withdrawn.length, 0), 2000);
  assert.deepEqual(ws.at(-2)?.attrs.mpUnreach?.withdrawn.map((n) => n.prefix), ['fd00::1/128', 'fd00::2/128']);
  assert.deepEqual(ws.at(-1)?.attrs.mpReach?.nextHops, ['::ffff:10.0.0.1']);
  // With the interface's own IPv6 address (and link-local) known, those are used instead.
  const withV6 = new UpdateEncoder({ ...ctxE, otherFamilyNextHop: c.parseAddress('fd00::5'), linkLocal6: c.parseAddress('fe80::5') });
  const o: Buffer[] = [];
  withV6.announce('IPv6', b, ['fd00::3/128'], o);
  assert.deepEqual((decodeOne(o[0] as Buffer) as c.UpdateMessage).attrs.mpReach?.nextHops, ['fd00::5', 'fe80::5']);
  // iBGP on an IPv6 session with a link-local: LOCAL_PREF 100 by default, 32-byte next hop, path IDs.
  const v6: EncodingContext = { ...ctxE, ibgp: true, localAddress: c.parseAddress('fd00::1'), linkLocal6: c.parseAddress('fe80::1'), addPath: { IPv4: true, IPv6: true } };
  const e6 = new UpdateEncoder(v6);
  const o6: Buffer[] = [];
  e6.announce('IPv6', table.intern({}), ['fd00::9/128'], o6);
  const v4res = e6.announce('IPv4', table.intern({}), ['10.9.9.9/32'], o6);
  assert.match(v4res.reason ?? '', /needs an IPv4 next hop: set nextHop.ipv4/);
  e6.announce('IPv4', table.intern({ nextHop: '10.0.0.9', localPref: 300 }), ['10.9.9.9/32'], o6);
  // RFC 8950: with the extended next hop capability, IPv4 routes go in MP_REACH with the IPv6 address.
  const enh = new UpdateEncoder({ ...v6, addPath: { IPv4: false, IPv6: false }, ipv4WithIpv6NextHop: true });
  const oe: Buffer[] = [];
  assert.deepEqual(enh.announce('IPv4', table.intern({}), ['10.9.9.8/32'], oe), { skipped: 0 });
  assert.deepEqual((decodeOne(oe[0] as Buffer, ctx({ ibgp: true })) as c.UpdateMessage).attrs.mpReach, { afi: 1, safi: 1, nextHops: ['fd00::1', 'fe80::1'], nlri: [{ prefix: '10.9.9.8/32' }] });
  const u6 = decodeOne(o6[0] as Buffer, ctx({ addPathReceive: () => true, ibgp: true })) as c.UpdateMessage;
  assert.deepEqual(u6.attrs.mpReach, { afi: 2, safi: 1, nextHops: ['fd00::1', 'fe80::1'], nlri: [{ prefix: 'fd00::9/128', pathId: 1 }] });
  assert.equal(u6.attrs.localPref, 100);
  assert.deepEqual(u6.attrs.asPath, []);
  const u4 = decodeOne(o6[1] as Buffer, ctx({ addPathReceive: () => true, ibgp: true })) as c.UpdateMessage;
  assert.equal(u4.attrs.localPref, 300);
  assert.deepEqual(u4.nlri, [{ prefix: '10.9.9.9/32', pathId: 1 }]);
});

test('4-octet AS to an old peer: AS_TRANS in AS_PATH and the real path in AS4_PATH (RFC 6793)', () => {
  const bytes = c.encodeAttributes({ origin: 0, asPath: [4200000001], nextHop: c.parseAddress('10.0.0.1') }, false);
  const { attrs, problems } = c.decodeAttributes(bytes, ctx({ fourOctetAs: false }));
  assert.deepEqual(problems, []);
  assert.deepEqual(attrs.asPath, [{ type: 2, asns: [c.AS_TRANS] }]);
  assert.deepEqual(attrs.as4Path, [{ type: 2, asns: [4200000001] }]);
});

test('round trip: decode -> encode -> decode is the identity on messages we build and on captured bytes', () => {
  const d = ctx({ ibgp: true });
  const ours = [
    c.encodeAttributes({ origin: 2, asPath: [65001, 4200000001], nextHop: c.parseAddress('10.0.0.1'), med: 7, localPref: 200, communities: [1, 0xffffff01], largeCommunities: [[1, 2, 3]] }, true),
  ];
  for (const attrs of ours) {
    const first = c.decodeAttributes(attrs, d);
    const again = c.decodeAttributes(c.encodeDecodedAttributes(first.attrs, true), d);
    assert.deepEqual(again, first);
  }
  const dir = fileURLToPath(new URL('../fixtures/bgp/', import.meta.url));
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  let checked = 0;
  for (const f of files) {
    const fixtures = JSON.parse(readFileSync(dir + f, 'utf8')) as Array<{ name: string; type: number; hex: string }>;
    for (const fx of fixtures) {
      const bytes = Buffer.from(fx.hex, 'hex');
      const m = decodeOne(bytes, ctx({ ibgp: /ibgp/i.test(fx.name) }));
      assert.equal(m.type === 'open' ? 1 : m.type === 'update' ? 2 : m.type === 'notification' ? 3 : m.type === 'keepalive' ? 4 : 5, fx.type, `${f} ${fx.name}`);
      let again: Buffer;
      if (m.type === 'open') {
        again = c.encodeOpen({ asn: m.capabilities.fourOctetAs ?? m.myAs, holdTime: m.holdTime, bgpId: m.bgpId, capabilities: m.capabilities });
      } else if (m.type === 'update') {
        assert.deepEqual(m.problems, [], `${f} ${fx.name}: a real peer's UPDATE has no RFC 7606 problems`);
        again = c.encodeUpdate(c.encodeNlriList(m.withdrawn), m.endOfRib?.afi === 1 ? Buffer.alloc(0) : c.encodeDecodedAttributes(m.attrs, true), c.encodeNlriList(m.nlri));
      } else if (m.type === 'notification') again = c.encodeNotification(m.code, m.subcode, m.data);
      else if (m.type === 'keepalive') again = c.encodeKeepalive();
      else again = c.encodeRouteRefresh(m.afi, m.safi, m.subtype);
      assert.deepEqual(decodeOne(again, ctx({ ibgp: /ibgp/i.test(fx.name) })), m, `${f} ${fx.name}`);
      if (m.type !== 'open' && m.type !== 'update') assert.deepEqual(again, bytes, `${f} ${fx.name}: byte-exact`);
      checked++;
    }
  }
  if (files.length) assert.ok(checked > 0);
});

test('NOTIFICATION names: RFC names for every code and subcode, numbers kept; unknown ones still readable', () => {
  const cases: Array<[number, number, string]> = [
    [6, 2, 'Cease/Administrative Shutdown (6/2)'],
    [6, 3, 'Cease/Peer De-configured (6/3)'],
    [6, 7, 'Cease/Connection Collision Resolution (6/7)'],
    [6, 9, 'Cease/Hard Reset (6/9)'],
    [1, 2, 'Message Header Error/Bad Message Length (1/2)'],
    [2, 2, 'OPEN Message Error/Bad Peer AS (2/2)'],
    [2, 7, 'OPEN Message Error/Unsupported Capability (2/7)'],
    [3, 11, 'UPDATE Message Error/Malformed AS_PATH (3/11)'],
    [4, 0, 'Hold Timer Expired (4/0)'],
    [5, 3, 'Finite State Machine Error/Receive Unexpected Message in Established State (5/3)'],
    [7, 1, 'ROUTE-REFRESH Message Error/Invalid Message Length (7/1)'],
    [6, 99, 'Cease/subcode 99 (6/99)'],
    [42, 1, 'code 42/subcode 1 (42/1)'],
  ];
  for (const [code, sub, name] of cases) assert.equal(c.notificationName(code, sub), name);
  // Every subcode ironlb sends or checks has its name.
  const named: Array<[number, Record<string, number>]> = [[1, c.HeaderSub], [2, c.OpenSub], [3, c.UpdateSub], [5, c.FsmSub], [6, c.CeaseSub]];
  for (const [code, subs] of named) {
    for (const sub of Object.values(subs)) assert.doesNotMatch(c.notificationName(code, sub), /subcode \d/, `${code}/${sub} has a name`);
  }
});
