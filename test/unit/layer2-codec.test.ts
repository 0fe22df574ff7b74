// ARP and NDP codecs: round trips, field values the wire requires, and a bounded fuzz over the
// decoders (malformed and truncated frames are dropped, never thrown).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ARP_REPLY, ARP_REQUEST, arpReply, arpRequestDropReason, decodeArp, encodeArp, gratuitousArp } from '../../src/layer2/arp.ts';
import { BROADCAST_MAC, ZERO_MAC, formatMac, parseMac } from '../../src/layer2/ethernet.ts';
import {
  ALL_NODES_MAC, ICMPV6_NA, ICMPV6_NS, NA_FLAG_OVERRIDE, NA_FLAG_SOLICITED, decodeNdp, encodeNdp, icmpv6Checksum,
  MAX_EXTENSION_HEADERS, ipv6ToBytes, multicastMac, naReply, nsDropReason, solicitedNode, unsolicitedNa,
} from '../../src/layer2/ndp.ts';

const MAC_A = parseMac('02:00:00:00:00:0a');
const MAC_B = parseMac('02:00:00:00:00:0b');

test('MAC parse/format round trip and errors', () => {
  assert.equal(formatMac(parseMac('AA-bb-0c-dd-ee-ff')), 'aa:bb:0c:dd:ee:ff');
  assert.throws(() => parseMac('aa:bb'), /not a MAC address/);
});

test('ARP encode/decode round trip; reply and gratuitous forms', () => {
  const req = encodeArp({ ethDst: BROADCAST_MAC, ethSrc: MAC_B, op: ARP_REQUEST, senderMac: MAC_B, senderIp: '10.0.0.1', targetMac: ZERO_MAC, targetIp: '10.0.0.100' });
  assert.equal(req.length, 60);
  const d = decodeArp(req);
  assert.ok(d);
  assert.equal(d.op, ARP_REQUEST);
  assert.equal(d.senderIp, '10.0.0.1');
  assert.equal(d.targetIp, '10.0.0.100');
  assert.deepEqual(d.senderMac, MAC_B);
  const rep = decodeArp(arpReply(d, MAC_A, '10.0.0.100'));
  assert.ok(rep);
  assert.deepEqual([rep.op, rep.senderIp, rep.targetIp, formatMac(rep.senderMac), formatMac(rep.targetMac), formatMac(rep.ethDst), formatMac(rep.ethSrc)],
    [ARP_REPLY, '10.0.0.100', '10.0.0.1', '02:00:00:00:00:0a', '02:00:00:00:00:0b', '02:00:00:00:00:0b', '02:00:00:00:00:0a']);
  const [gReq, gRep] = gratuitousArp(MAC_A, '10.0.0.100').map((f) => decodeArp(f)!);
  assert.deepEqual([gReq!.op, gReq!.senderIp, gReq!.targetIp, formatMac(gReq!.targetMac), formatMac(gReq!.ethDst)], [ARP_REQUEST, '10.0.0.100', '10.0.0.100', '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff']);
  // Linux treats a reply as gratuitous only if target MAC == sender MAC.
  assert.deepEqual([gRep!.op, gRep!.senderIp, gRep!.targetIp, formatMac(gRep!.targetMac)], [ARP_REPLY, '10.0.0.100', '10.0.0.100', '02:00:00:00:00:0a']);
});

test('ARP decoder rejects other hardware/protocol types and truncation', () => {
  const f = encodeArp({ ethDst: BROADCAST_MAC, ethSrc: MAC_B, op: ARP_REQUEST, senderMac: MAC_B, senderIp: '10.0.0.1', targetMac: ZERO_MAC, targetIp: '10.0.0.2' });
  assert.equal(decodeArp(f.subarray(0, 41)), null);
  const bad = Buffer.from(f);
  bad.writeUInt16BE(6, 14);
  assert.equal(decodeArp(bad), null);
  const op = Buffer.from(f);
  op.writeUInt16BE(9, 20);
  assert.equal(decodeArp(op), null);
});

test('solicited-node group and its MAC', () => {
  assert.equal(solicitedNode('fd00:77::1:2:3456'), 'ff02::1:ff02:3456');
  assert.equal(formatMac(multicastMac('ff02::1:ff02:3456')), '33:33:ff:02:34:56');
});

test('NS/NA encode/decode round trip with options, flags, hop limit and checksum', () => {
  const ns = encodeNdp({ ethDst: multicastMac(solicitedNode('fd00::100')), ethSrc: MAC_B, src: 'fd00::1', dst: solicitedNode('fd00::100'), type: ICMPV6_NS, target: 'fd00::100', lla: MAC_B });
  assert.equal(ns[14 + 7], 255, 'hop limit');
  const d = decodeNdp(ns);
  assert.ok(d);
  assert.deepEqual([d.type, d.src, d.dst, d.target, formatMac(d.lla!)], [ICMPV6_NS, 'fd00::1', 'ff02::1:ff00:100', 'fd00::100', '02:00:00:00:00:0b']);
  const na = decodeNdp(naReply(d, MAC_A, 'fd00::100'));
  assert.ok(na);
  assert.deepEqual([na.type, na.flags, na.src, na.dst, na.target, formatMac(na.lla!), formatMac(na.ethDst), na.hopLimit],
    [ICMPV6_NA, NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE, 'fd00::100', 'fd00::1', 'fd00::100', '02:00:00:00:00:0a', '02:00:00:00:00:0b', 255]);
  // A probe without a source link-layer option is answered to the frame's Ethernet source.
  const probe = decodeNdp(encodeNdp({ ethDst: MAC_A, ethSrc: MAC_B, src: 'fd00::1', dst: 'fd00::100', type: ICMPV6_NS, target: 'fd00::100' }))!;
  assert.equal(probe.lla, undefined);
  assert.equal(formatMac(decodeNdp(naReply(probe, MAC_A, 'fd00::100'))!.ethDst), '02:00:00:00:00:0b');
  // DAD (source ::) is answered to all-nodes, not solicited.
  const dad = decodeNdp(encodeNdp({ ethDst: MAC_A, ethSrc: MAC_B, src: '::', dst: solicitedNode('fd00::100'), type: ICMPV6_NS, target: 'fd00::100' }))!;
  const dadReply = decodeNdp(naReply(dad, MAC_A, 'fd00::100'))!;
  assert.deepEqual([dadReply.dst, dadReply.flags, formatMac(dadReply.ethDst)], ['ff02::1', NA_FLAG_OVERRIDE, formatMac(ALL_NODES_MAC)]);
  const un = decodeNdp(unsolicitedNa(MAC_A, 'fd00::100'))!;
  assert.deepEqual([un.dst, un.flags, un.target], ['ff02::1', NA_FLAG_OVERRIDE, 'fd00::100']);
});

test('ICMPv6 checksum matches a known value (RFC 1071 one\'s complement)', () => {
  // Independent computation over the same bytes, summing 32-bit then folding.
  const f = encodeNdp({ ethDst: MAC_A, ethSrc: MAC_B, src: 'fe80::1', dst: 'fe80::2', type: ICMPV6_NS, target: 'fe80::2', lla: MAC_B });
  const msg = Buffer.from(f.subarray(54));
  const stored = msg.readUInt16BE(2);
  msg.writeUInt16BE(0, 2);
  assert.equal(icmpv6Checksum(ipv6ToBytes('fe80::1'), ipv6ToBytes('fe80::2'), msg), stored);
  const pseudo = Buffer.concat([ipv6ToBytes('fe80::1'), ipv6ToBytes('fe80::2'), Buffer.from([0, 0, 0, msg.length, 0, 0, 0, 58]), msg]);
  let s = 0;
  for (let i = 0; i < pseudo.length; i += 2) s += pseudo.readUInt16BE(i);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  assert.equal(stored, ~s & 0xffff);
});

test('NDP decoder enforces RFC 4861 validity: hop limit, checksum, options, multicast target, DAD without SLLA', () => {
  const base = { ethDst: MAC_A, ethSrc: MAC_B, src: 'fd00::1', dst: 'fd00::100', type: ICMPV6_NS as typeof ICMPV6_NS, target: 'fd00::100', lla: MAC_B };
  assert.ok(decodeNdp(encodeNdp(base)));
  assert.equal(decodeNdp(encodeNdp({ ...base, hopLimit: 64 })), null);
  const corrupt = encodeNdp(base);
  corrupt[14 + 40 + 10]! ^= 1;
  assert.equal(decodeNdp(corrupt), null, 'bad checksum');
  const zeroLenOpt = encodeNdp(base);
  zeroLenOpt[14 + 40 + 25] = 0;
  assert.equal(decodeNdp(zeroLenOpt), null, 'option length 0');
  assert.equal(decodeNdp(encodeNdp({ ...base, target: 'ff02::1' })), null);
  assert.equal(decodeNdp(encodeNdp({ ...base, src: '::' })), null, 'DAD with a source link-layer option');
  assert.equal(decodeNdp(encodeNdp(base).subarray(0, 70)), null, 'truncated');
});

test('NS behind extension headers: Hop-by-Hop and Destination Options are walked (bounded); Fragment and long chains are not', () => {
  const base = { ethDst: MAC_A, ethSrc: MAC_B, src: 'fd00::1', dst: solicitedNode('fd00::100'), type: ICMPV6_NS as typeof ICMPV6_NS, target: 'fd00::100', lla: MAC_B };
  const hbh = decodeNdp(encodeNdp({ ...base, extensionHeaders: [0] }));
  assert.ok(hbh, 'NS behind a Hop-by-Hop header decodes');
  assert.deepEqual([hbh.target, hbh.src, formatMac(hbh.lla!), hbh.extensionHeaders], ['fd00::100', 'fd00::1', '02:00:00:00:00:0b', [0]]);
  assert.deepEqual(decodeNdp(encodeNdp({ ...base, extensionHeaders: [0, 60] }))?.extensionHeaders, [0, 60]);
  assert.deepEqual(decodeNdp(encodeNdp(base))?.extensionHeaders, []);
  // Its answer is an ordinary NA (no extension headers), Solicited + Override.
  const na = decodeNdp(naReply(hbh, MAC_A, 'fd00::100'))!;
  assert.deepEqual([na.type, na.flags, na.dst, na.extensionHeaders], [ICMPV6_NA, NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE, 'fd00::1', []]);
  assert.equal(decodeNdp(encodeNdp({ ...base, extensionHeaders: [60, 0] })), null, 'Hop-by-Hop only first (RFC 8200 4.1)');
  assert.equal(decodeNdp(encodeNdp({ ...base, extensionHeaders: [44] })), null, 'Fragment: ND is never fragmented');
  assert.equal(decodeNdp(encodeNdp({ ...base, extensionHeaders: Array(MAX_EXTENSION_HEADERS + 1).fill(60) })), null, 'chain too long');
  assert.ok(decodeNdp(encodeNdp({ ...base, extensionHeaders: Array(MAX_EXTENSION_HEADERS).fill(60) })));
  // A header whose length runs past the payload.
  const over = encodeNdp({ ...base, extensionHeaders: [0] });
  over[14 + 40 + 1] = 200;
  assert.equal(decodeNdp(over), null);
  // The checksum still covers only the ICMPv6 message: a corrupted one behind Hop-by-Hop fails.
  const bad = encodeNdp({ ...base, extensionHeaders: [0] });
  bad[14 + 48 + 10]! ^= 1;
  assert.equal(decodeNdp(bad), null);
});

test('RFC 4861 7.1.1: DAD to the unicast target and NS from a multicast source are dropped, with the reason', () => {
  const ns = (src: string, dst: string): ReturnType<typeof decodeNdp> => decodeNdp(encodeNdp({ ethDst: MAC_A, ethSrc: MAC_B, src, dst, type: ICMPV6_NS, target: 'fd00::100' }));
  assert.equal(nsDropReason(ns('::', solicitedNode('fd00::100'))!), null, 'DAD to the solicited-node group');
  assert.equal(nsDropReason(ns('::', 'fd00::100')!), 'dad-not-solicited-node');
  assert.equal(nsDropReason(ns('::', 'ff02::1')!), 'dad-not-solicited-node');
  assert.equal(nsDropReason(ns('ff02::1', solicitedNode('fd00::100'))!), 'source-multicast');
  assert.equal(nsDropReason(ns('ff05::2', 'fd00::100')!), 'source-multicast');
  assert.equal(nsDropReason(ns('fd00::1', 'fd00::100')!), null, 'unicast reachability probe');
  assert.equal(nsDropReason(ns('fd00::1', solicitedNode('fd00::100'))!), null, 'address resolution');
  assert.equal(nsDropReason(ns('fd00::1', 'fd00::101')!), 'destination-not-target');
});

test('ARP requests from multicast or broadcast senders are dropped, with the reason; probes are not', () => {
  const req = (senderIp: string, senderMac = MAC_B): NonNullable<ReturnType<typeof decodeArp>> =>
    decodeArp(encodeArp({ ethDst: BROADCAST_MAC, ethSrc: MAC_B, op: ARP_REQUEST, senderMac, senderIp, targetMac: ZERO_MAC, targetIp: '10.0.0.100' }))!;
  assert.equal(arpRequestDropReason(req('10.0.0.1')), null);
  assert.equal(arpRequestDropReason(req('0.0.0.0')), null, 'RFC 5227 probe');
  assert.equal(arpRequestDropReason(req('224.0.0.1')), 'sender-multicast');
  assert.equal(arpRequestDropReason(req('239.255.255.255')), 'sender-multicast');
  assert.equal(arpRequestDropReason(req('255.255.255.255')), 'sender-broadcast');
  assert.equal(arpRequestDropReason(req('10.0.0.1', BROADCAST_MAC)), 'sender-mac-group');
  assert.equal(arpRequestDropReason(req('223.255.255.255')), null);
});

/** Deterministic PRNG so a failure reproduces (xorshift32). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

test('fuzz: decoders never throw on mutated, truncated or random frames (bounded)', () => {
  const iterations = Number(process.env.IRONLB_FUZZ_ITERATIONS ?? 20_000);
  const r = rng(Number(process.env.IRONLB_FUZZ_SEED ?? 0x1b1));
  const seeds = [
    ...gratuitousArp(MAC_A, '10.0.0.1'),
    encodeNdp({ ethDst: MAC_A, ethSrc: MAC_B, src: 'fd00::1', dst: 'fd00::100', type: ICMPV6_NS, target: 'fd00::100', lla: MAC_B }),
    unsolicitedNa(MAC_A, 'fd00::100'),
  ];
  const deadline = Date.now() + 20_000;
  let decoded = 0;
  for (let i = 0; i < iterations && Date.now() < deadline; i++) {
    let f: Buffer;
    const mode = i % 4;
    const seed = seeds[i % seeds.length]!;
    if (mode === 0) f = Buffer.from(Array.from({ length: Math.floor(r() * 120) }, () => Math.floor(r() * 256)));
    else if (mode === 1) f = Buffer.from(seed.subarray(0, Math.floor(r() * seed.length)));
    else {
      f = Buffer.from(seed);
      const flips = 1 + Math.floor(r() * 4);
      for (let k = 0; k < flips; k++) f[Math.floor(r() * f.length)] = Math.floor(r() * 256);
      if (mode === 3 && f.length > 18) f.writeUInt16BE(Math.floor(r() * 0xffff), 18); // IPv6 payload length
    }
    // Any outcome but an exception is fine; a decode must be self-consistent.
    const a = decodeArp(f);
    const n = decodeNdp(f);
    if (a) {
      decoded++;
      assert.ok(a.op === 1 || a.op === 2);
    }
    if (n) {
      decoded++;
      assert.equal(n.hopLimit, 255);
    }
  }
  assert.ok(decoded > 0, 'some mutated frames still decode (the fuzz reaches the parsers)');
});
