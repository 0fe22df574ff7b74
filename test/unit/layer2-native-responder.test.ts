// The native ARP/NDP responder's verdicts (answerFrame: the same C function its thread runs on
// every frame) against the JavaScript codecs and policy of src/layer2, which stay the reference:
// the same answers byte for byte, the same drop reasons, and on hostile input (random, truncated,
// mutated frames, checksums repaired so the mutations reach the deeper checks) never a crash, never
// an answer the JavaScript path would not give. test/net/native-sanitizers.test.ts runs this file
// again under ASan/UBSan (answerFrame copies each frame to a buffer of exactly its length).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ETH_P_ARP, ETH_P_IPV6, PacketType, answerFrame, type FrameVerdict, type ResponderIgnoreReason } from '../../src/native/index.ts';
import { ARP_REQUEST, arpReply, arpRequestDropReason, decodeArp, encodeArp, gratuitousArp, ipv4ToBytes } from '../../src/layer2/arp.ts';
import { BROADCAST_MAC, ZERO_MAC, parseMac } from '../../src/layer2/ethernet.ts';
import { ICMPV6_NS, decodeNdp, encodeNdp, icmpv6Checksum, ipv6ToBytes, multicastMac, naReply, nsDropReason, skipExtensionHeaders, solicitedNode, unsolicitedNa } from '../../src/layer2/ndp.ts';
import { prng } from '../support/prng.ts';

const OURS = parseMac('02:00:00:00:00:0a');
const PEER = parseMac('02:00:00:00:00:0b');
const VIP4 = '10.0.0.100';
const VIP6 = 'fd00::100';
const GROUP6 = solicitedNode(VIP6);

type Ref = { undecodable: true } | { undecodable: false; verdict: FrameVerdict };

/** What InterfaceResponder's former JavaScript path did with `frame` when answering `address` (or nothing). */
function reference(ethertype: number, frame: Buffer, pktType: number, address: string | null): Ref {
  const ignore = (request: boolean, reason: ResponderIgnoreReason): Ref => ({ undecodable: false, verdict: { action: 'ignore', request, reason } });
  if (ethertype === ETH_P_ARP) {
    const req = decodeArp(frame);
    if (!req) return { undecodable: true };
    if (req.op !== ARP_REQUEST) return ignore(false, 'not-request');
    if (pktType !== PacketType.broadcast && pktType !== PacketType.host) return ignore(true, 'other-host');
    if (req.targetIp !== address) return ignore(true, 'not-announced');
    if (req.senderIp === req.targetIp) return ignore(true, 'gratuitous');
    const why = arpRequestDropReason(req);
    if (why) return { undecodable: false, verdict: { action: 'drop', request: true, reason: why } };
    return { undecodable: false, verdict: { action: 'answer', request: true, reply: arpReply(req, OURS, req.targetIp) } };
  }
  const ns = decodeNdp(frame);
  if (!ns) return { undecodable: true };
  if (ns.type !== ICMPV6_NS) return ignore(false, 'not-request');
  if (pktType !== PacketType.multicast && pktType !== PacketType.host) return ignore(true, 'other-host');
  if (ns.target !== address) return ignore(true, 'not-announced');
  const why = nsDropReason(ns);
  if (why) return { undecodable: false, verdict: { action: 'drop', request: true, reason: why } };
  return { undecodable: false, verdict: { action: 'answer', request: true, reply: naReply(ns, OURS, ns.target) } };
}

function native(ethertype: typeof ETH_P_ARP | typeof ETH_P_IPV6, frame: Buffer, pktType: number, address: string | null): FrameVerdict {
  const a = address === null ? null : ethertype === ETH_P_ARP ? ipv4ToBytes(address) : ipv6ToBytes(address);
  return answerFrame(ethertype, frame, pktType, a, a ? OURS : null);
}

/** The native verdict agrees with the reference; returns the verdict. */
function agree(ethertype: typeof ETH_P_ARP | typeof ETH_P_IPV6, frame: Buffer, pktType: number, address: string | null, what: string): FrameVerdict {
  const got = native(ethertype, frame, pktType, address);
  const want = reference(ethertype, frame, pktType, address);
  if (want.undecodable) {
    // The JavaScript decoder refused it: natively it is ignored (not ARP/NS at all) or dropped as malformed.
    assert.ok((got.action === 'ignore' && got.reason === 'not-request') || (got.action === 'drop' && got.reason === 'malformed'), `${what}: ${JSON.stringify(got)} for a frame the codec refuses (${frame.toString('hex')})`);
    assert.equal(got.request, false, what);
  } else {
    assert.deepEqual(got, want.verdict, `${what} (${frame.toString('hex')})`);
  }
  return got;
}

const arpReq = (o: Partial<{ ethDst: Buffer; senderMac: Buffer; senderIp: string; target: string }> = {}): Buffer =>
  encodeArp({ ethDst: o.ethDst ?? BROADCAST_MAC, ethSrc: PEER, op: ARP_REQUEST, senderMac: o.senderMac ?? PEER, senderIp: o.senderIp ?? '10.0.0.1', targetMac: ZERO_MAC, targetIp: o.target ?? VIP4 });

const ns = (o: Partial<{ ethDst: Buffer; src: string; dst: string; target: string; lla: Buffer | null; ext: number[]; hopLimit: number }> = {}): Buffer =>
  encodeNdp({
    ethDst: o.ethDst ?? multicastMac(GROUP6), ethSrc: PEER, src: o.src ?? 'fd00::1', dst: o.dst ?? GROUP6, type: ICMPV6_NS, target: o.target ?? VIP6,
    ...(o.lla === null ? {} : { lla: o.lla ?? PEER }), ...(o.ext ? { extensionHeaders: o.ext } : {}), ...(o.hopLimit !== undefined ? { hopLimit: o.hopLimit } : {}),
  });

test('native answers equal the JavaScript codec\'s byte for byte: ARP, NS resolution, unicast probes with and without SLLA, DAD, behind Hop-by-Hop', () => {
  const cases: Array<[string, typeof ETH_P_ARP | typeof ETH_P_IPV6, Buffer, number]> = [
    ['ARP broadcast request', ETH_P_ARP, arpReq(), PacketType.broadcast],
    ['ARP unicast refresh probe', ETH_P_ARP, arpReq({ ethDst: OURS }), PacketType.host],
    ['ARP probe from 0.0.0.0 (RFC 5227)', ETH_P_ARP, arpReq({ senderIp: '0.0.0.0' }), PacketType.broadcast],
    ['NS to the solicited-node group', ETH_P_IPV6, ns(), PacketType.multicast],
    ['NS unicast probe with SLLA', ETH_P_IPV6, ns({ ethDst: OURS, dst: VIP6 }), PacketType.host],
    ['NS unicast probe without SLLA', ETH_P_IPV6, ns({ ethDst: OURS, dst: VIP6, lla: null }), PacketType.host],
    ['DAD', ETH_P_IPV6, ns({ src: '::', lla: null }), PacketType.multicast],
    ['NS behind Hop-by-Hop', ETH_P_IPV6, ns({ ext: [0] }), PacketType.multicast],
    ['NS behind Hop-by-Hop and Destination Options', ETH_P_IPV6, ns({ ethDst: OURS, dst: VIP6, ext: [0, 60] }), PacketType.host],
  ];
  for (const [what, et, frame, pkt] of cases) {
    const v = agree(et, frame, pkt, et === ETH_P_ARP ? VIP4 : VIP6, what);
    assert.equal(v.action, 'answer', what);
    if (et === ETH_P_ARP) {
      const r = decodeArp(v.reply!)!;
      assert.deepEqual([r.op, r.senderIp, r.ethSrc, r.senderMac], [2, VIP4, OURS, OURS], what);
    } else {
      const r = decodeNdp(v.reply!)!;
      assert.equal(r.target, VIP6, what);
      assert.deepEqual(r.lla, OURS, what);
      assert.equal(r.flags, what === 'DAD' ? 0x20 : 0x60, what);
      assert.deepEqual(r.ethDst, what === 'DAD' ? Buffer.from('333300000001', 'hex') : PEER, what);
    }
  }
});

test('native drops what RFC 826/5227/4861 say to drop, with the JavaScript path\'s reasons; other targets and other hosts\' frames are ignored', () => {
  const drops: Array<[typeof ETH_P_ARP | typeof ETH_P_IPV6, Buffer, number, string]> = [
    [ETH_P_ARP, arpReq({ senderIp: '224.0.0.5' }), PacketType.broadcast, 'sender-multicast'],
    [ETH_P_ARP, arpReq({ senderIp: '255.255.255.255' }), PacketType.broadcast, 'sender-broadcast'],
    [ETH_P_ARP, arpReq({ senderMac: Buffer.from('030000000001', 'hex') }), PacketType.broadcast, 'sender-mac-group'],
    [ETH_P_IPV6, ns({ src: 'ff02::1' }), PacketType.multicast, 'source-multicast'],
    [ETH_P_IPV6, ns({ src: '::', lla: null, ethDst: OURS, dst: VIP6 }), PacketType.host, 'dad-not-solicited-node'],
    [ETH_P_IPV6, ns({ dst: 'fd00::200' }), PacketType.host, 'destination-not-target'],
    [ETH_P_IPV6, ns({ hopLimit: 64 }), PacketType.multicast, 'malformed'],
    [ETH_P_IPV6, ns({ src: '::' }), PacketType.multicast, 'malformed'], // DAD with SLLA
  ];
  for (const [et, frame, pkt, reason] of drops) {
    const v = agree(et, frame, pkt, et === ETH_P_ARP ? VIP4 : VIP6, reason);
    assert.equal(v.action, 'drop', reason);
    assert.equal(v.reason, reason);
  }
  // Not answered, not dropped, each with its reason: another target, no table, someone else's
  // unicast, gratuitous ARP (request and reply), NA.
  const ignored: Array<[typeof ETH_P_ARP | typeof ETH_P_IPV6, Buffer, number, string | null, ResponderIgnoreReason]> = [
    [ETH_P_ARP, arpReq({ target: '10.0.0.7' }), PacketType.broadcast, VIP4, 'not-announced'],
    [ETH_P_ARP, arpReq(), PacketType.broadcast, null, 'not-announced'],
    [ETH_P_ARP, arpReq(), PacketType.otherHost, VIP4, 'other-host'],
    [ETH_P_ARP, gratuitousArp(PEER, VIP4)[0], PacketType.broadcast, VIP4, 'gratuitous'],
    [ETH_P_ARP, gratuitousArp(PEER, VIP4)[1], PacketType.broadcast, VIP4, 'not-request'],
    [ETH_P_IPV6, ns({ target: 'fd00::7', dst: solicitedNode('fd00::7') }), PacketType.multicast, VIP6, 'not-announced'],
    [ETH_P_IPV6, ns(), PacketType.otherHost, VIP6, 'other-host'],
    [ETH_P_IPV6, unsolicitedNa(PEER, VIP6), PacketType.multicast, VIP6, 'not-request'],
  ];
  for (const [et, frame, pkt, addr, reason] of ignored) {
    const v = agree(et, frame, pkt, addr, `ignored (${reason})`);
    assert.deepEqual([v.action, v.reason], ['ignore', reason]);
  }
});

/** Recomputes the ICMPv6 checksum of an NS/NA frame whose extension chain still walks (so a mutation reaches the later checks). */
function repairChecksum(f: Buffer): void {
  if (f.length < 14 + 40 || f.readUInt16BE(12) !== 0x86dd) return;
  const end = 14 + 40 + f.readUInt16BE(18);
  if (end > f.length) return;
  const chain = skipExtensionHeaders(f, 14, end);
  if (!chain || end - chain.offset < 4) return;
  const msg = Buffer.from(f.subarray(chain.offset, end));
  msg.writeUInt16BE(0, 2);
  f.writeUInt16BE(icmpv6Checksum(f.subarray(22, 38), f.subarray(38, 54), msg), chain.offset + 2);
}

test('fuzz: random, truncated and mutated frames never crash the native responder and never get an answer the JavaScript path would not give (bounded)', () => {
  const iterations = Number(process.env.IRONLB_FUZZ_ITERATIONS ?? 30_000);
  const r = prng(Number(process.env.IRONLB_FUZZ_SEED ?? 0x12a));
  const seeds: Array<[typeof ETH_P_ARP | typeof ETH_P_IPV6, Buffer]> = [
    [ETH_P_ARP, arpReq()], [ETH_P_ARP, arpReq({ senderIp: '224.1.2.3' })], [ETH_P_ARP, gratuitousArp(PEER, VIP4)[1]],
    [ETH_P_IPV6, ns()], [ETH_P_IPV6, ns({ ethDst: OURS, dst: VIP6, lla: null })], [ETH_P_IPV6, ns({ src: '::', lla: null })],
    [ETH_P_IPV6, ns({ ext: [0] })], [ETH_P_IPV6, ns({ ext: [0, 60, 43] })], [ETH_P_IPV6, unsolicitedNa(PEER, VIP6)],
  ];
  const pkts = [PacketType.host, PacketType.broadcast, PacketType.multicast, PacketType.otherHost];
  const seen = { answer: 0, drop: 0, ignore: 0 };
  const deadline = Date.now() + 30_000;
  for (let i = 0; i < iterations && Date.now() < deadline; i++) {
    const [et, seed] = seeds[i % seeds.length]!;
    const mode = Math.floor(i / seeds.length) % 5;
    let f: Buffer;
    if (mode === 0) f = Buffer.from(Array.from({ length: Math.floor(r() * 130) }, () => Math.floor(r() * 256)));
    else if (mode === 1) f = Buffer.from(seed.subarray(0, Math.floor(r() * (seed.length + 1))));
    else {
      f = Buffer.from(seed);
      const flips = mode === 4 ? 0 : 1 + Math.floor(r() * 3);
      for (let k = 0; k < flips; k++) f[Math.floor(r() * f.length)] = Math.floor(r() * 256);
      if (mode === 3 && f.length > 21) f[21] = r() < 0.5 ? (et === ETH_P_ARP ? 1 : 255) : Math.floor(r() * 256); // op's low byte (ARP) / hop limit (IPv6)
      if (et === ETH_P_IPV6 && (mode === 3 || mode === 4)) {
        // Lengths of the payload, an extension header or an option: the bounds checks' inputs.
        if (mode === 4) {
          const at = [18, 19, 55, 63, 79, 80, 81, 95][Math.floor(r() * 8)]!;
          if (at < f.length) f[at] = Math.floor(r() * 256);
        }
        repairChecksum(f);
      }
    }
    const addr = r() < 0.9 ? (et === ETH_P_ARP ? VIP4 : VIP6) : null;
    const v = agree(et, f, pkts[Math.floor(r() * pkts.length)]!, addr, `iteration ${i} mode ${mode}`);
    seen[v.action]++;
  }
  console.log(`native responder fuzz verdicts: ${JSON.stringify(seen)}`);
  // The fuzz reaches every outcome (it is not all rejected at the first check).
  assert.ok(seen.answer > 100 && seen.drop > 100 && seen.ignore > 100, JSON.stringify(seen));
});

test('answerFrame checks its arguments', () => {
  assert.throws(() => answerFrame(0x0800 as typeof ETH_P_ARP, Buffer.alloc(60), 0, null, null), RangeError);
  assert.throws(() => answerFrame(ETH_P_ARP, 'x' as unknown as Buffer, 0, null, null), TypeError);
  assert.throws(() => answerFrame(ETH_P_ARP, Buffer.alloc(60), 0, Buffer.alloc(16), OURS), TypeError);
  assert.throws(() => answerFrame(ETH_P_IPV6, Buffer.alloc(60), 0, Buffer.alloc(16), Buffer.alloc(5)), TypeError);
  assert.throws(() => answerFrame(ETH_P_ARP, Buffer.alloc(60), 256, null, null), RangeError);
  assert.equal(answerFrame(ETH_P_ARP, Buffer.alloc(0), 0, null, null).action, 'drop');
});
