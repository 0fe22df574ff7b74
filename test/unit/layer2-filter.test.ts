// The kernel-side BPF filters, run through a small interpreter of the classic BPF subset they use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BpfInsn } from '../../src/native/index.ts';
import { arpFilter, nsFilter } from '../../src/layer2/responder.ts';
import { ARP_REQUEST, encodeArp, gratuitousArp } from '../../src/layer2/arp.ts';
import { BROADCAST_MAC, ZERO_MAC, parseMac } from '../../src/layer2/ethernet.ts';
import { ICMPV6_NS, encodeNdp, solicitedNode, unsolicitedNa } from '../../src/layer2/ndp.ts';

/** Classic BPF: ld{b,h,w} abs, jeq k, ret k. Returns the accepted length (0 = drop). */
function run(prog: BpfInsn[], pkt: Buffer): number {
  let a = 0;
  for (let pc = 0, steps = 0; pc < prog.length && steps < 10_000; pc++, steps++) {
    const i = prog[pc]!;
    switch (i.code) {
      case 0x30: if (i.k + 1 > pkt.length) return 0; a = pkt[i.k]!; break;
      case 0x28: if (i.k + 2 > pkt.length) return 0; a = pkt.readUInt16BE(i.k); break;
      case 0x20: if (i.k + 4 > pkt.length) return 0; a = pkt.readUInt32BE(i.k); break;
      case 0x15: pc += a === i.k ? i.jt : i.jf; break;
      case 0x06: return i.k;
      default: throw new Error(`unexpected opcode ${i.code}`);
    }
    assert.ok(i.jt <= 255 && i.jf <= 255);
  }
  throw new Error('fell off the end of the program');
}

const MAC = parseMac('02:00:00:00:00:01');
const arpReq = (target: string): Buffer => encodeArp({ ethDst: BROADCAST_MAC, ethSrc: MAC, op: ARP_REQUEST, senderMac: MAC, senderIp: '10.0.0.1', targetMac: ZERO_MAC, targetIp: target });
const ns = (target: string): Buffer => encodeNdp({ ethDst: MAC, ethSrc: MAC, src: 'fd00::1', dst: solicitedNode(target), type: ICMPV6_NS, target, lla: MAC });

test('ARP filter passes requests for our addresses only', () => {
  assert.equal(run(arpFilter([]), arpReq('10.0.0.100')), 0);
  const f = arpFilter(['10.0.0.100', '10.0.0.7']);
  assert.ok(run(f, arpReq('10.0.0.100')) > 0);
  assert.ok(run(f, arpReq('10.0.0.7')) > 0);
  assert.equal(run(f, arpReq('10.0.0.101')), 0);
  assert.equal(run(f, gratuitousArp(MAC, '10.0.0.100')[1]!), 0, 'replies are not requests');
  assert.equal(run(f, arpReq('10.0.0.100').subarray(0, 30)), 0, 'truncated');
  // Beyond 200 addresses: every request passes, the lookup moves to JavaScript.
  const many = Array.from({ length: 300 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
  assert.ok(run(arpFilter(many), arpReq('10.9.9.9')) > 0);
  const edge = Array.from({ length: 200 }, (_, i) => `10.2.0.${i}`);
  assert.ok(run(arpFilter(edge), arpReq('10.2.0.0')) > 0);
  assert.ok(run(arpFilter(edge), arpReq('10.2.0.199')) > 0);
  assert.equal(run(arpFilter(edge), arpReq('10.2.0.200')), 0);
});

test('NS filter passes solicitations whose target matches ours; NA and other ICMPv6 never', () => {
  const f = nsFilter(['fd00::100', 'fd00::1:2:3']);
  assert.ok(run(f, ns('fd00::100')) > 0);
  assert.ok(run(f, ns('fd00::1:2:3')) > 0);
  assert.equal(run(f, ns('fd00::101')), 0);
  assert.equal(run(f, unsolicitedNa(MAC, 'fd00::100')), 0);
  assert.equal(run(nsFilter([]), ns('fd00::100')), 0);
  const many = Array.from({ length: 300 }, (_, i) => `fd00::${i.toString(16)}`);
  assert.ok(run(nsFilter(many), ns('fd00::ffff')) > 0);
});

test('NS filter passes solicitations behind Hop-by-Hop or Destination Options headers (the codec walks the chain)', () => {
  const f = nsFilter(['fd00::100']);
  const behind = (ext: number[]): Buffer => encodeNdp({ ethDst: MAC, ethSrc: MAC, src: 'fd00::1', dst: solicitedNode('fd00::100'), type: ICMPV6_NS, target: 'fd00::100', lla: MAC, extensionHeaders: ext });
  assert.ok(run(f, behind([0])) > 0);
  assert.ok(run(f, behind([60])) > 0);
  assert.equal(run(f, behind([44])), 0, 'fragment');
  assert.equal(run(nsFilter([]), behind([0])), 0, 'nothing announced: nothing passes');
  assert.ok(run(f, ns('fd00::100')) > 0);
  assert.equal(run(f, ns('fd00::101')), 0);
});
