// Runs inside a network namespace holding a veth pair r0 <-> c0 (test/net/layer2-native-responder.test.ts):
// native ResponderSockets answer on r0 for one IPv4 and one IPv6 address; raw client sockets on c0
// send requests, each with its own sender address (a sequence number), and collect the answers.
// Prints one JSON line with what was answered in each phase:
//   answers   ARP, NS to the group, unicast NUD probes with and without SLLA, behind Hop-by-Hop
//   withdraw  a burst of requests, forget() while they are being answered, a second burst sent
//             after forget() returned: none of the second may be answered, and no reply at all
//             may leave after forget() returned (the native counter must not move)
//   again     answer() once more: answered again
//   malformed an NS with hop limit 64 and a truncated one: dropped and counted
//   ignored   a gratuitous ARP and requests for withdrawn addresses: not answered, counted by reason
//   flap      r0 down and up: the thread reports ENETDOWN (on the main loop), and the same sockets
//             answer again once the link is back
//   realtime  the answering threads run at SCHED_FIFO (asked for, and root may); a flood of ARP
//             requests (over 20,000/s) sends the ARP thread back to normal priority (counted), it
//             keeps answering, and a request a second later finds it real-time again
// It exits by itself once its sockets are closed (the threads and their loop handles are gone).
import { execFileSync } from 'node:child_process';
import * as n from '../../src/native/index.ts';
import { ARP_REQUEST, decodeArp, encodeArp, ipv4ToBytes } from '../../src/layer2/arp.ts';
import { BROADCAST_MAC, ZERO_MAC, parseMac } from '../../src/layer2/ethernet.ts';
import { ICMPV6_NA, ICMPV6_NS, decodeNdp, encodeNdp, ipv6ToBytes, multicastMac, solicitedNode } from '../../src/layer2/ndp.ts';
import { arpFilter, nsFilter } from '../../src/layer2/responder.ts';
import { waitFor } from './wait.ts';

const VIP4 = '10.77.0.100';
const VIP6 = 'fd00:77::100';
const GROUP = solicitedNode(VIP6);
const BURST = Number(process.argv[2] ?? 2000);

const links = n.listInterfaces();
const R = links.find((l) => l.name === 'r0');
const C = links.find((l) => l.name === 'c0');
if (!R || !C) throw new Error('r0 and c0 must exist in this namespace');
const rmac = parseMac(R.mac);
const cmac = parseMac(C.mac);

const seq4 = (i: number): string => `10.78.${(i >> 8) & 255}.${i & 255}`;
const seq6 = (i: number): string => `fd00:78::${i.toString(16)}`;
const num4 = (ip: string): number => { const p = ip.split('.').map(Number); return ip.startsWith('10.78.') ? (p[2]! << 8) | p[3]! : -1; };
const num6 = (ip: string): number => (ip.startsWith('fd00:78::') ? parseInt(ip.slice(9), 16) : -1);

// seq -> the answer's fields
const got4 = new Map<number, { ethDst: string; senderMac: string; senderIp: string }>();
const got6 = new Map<number, { ethDst: string; target: string; flags: number; lla: string; ext: number[] }>();
const errors: string[] = [];
const cli4 = new n.PacketSocket(C.index, n.ETH_P_ARP, (f) => {
  const m = decodeArp(f);
  if (m && m.op === 2) got4.set(num4(m.targetIp), { ethDst: m.ethDst.toString('hex'), senderMac: m.senderMac.toString('hex'), senderIp: m.senderIp });
});
const cli6 = new n.PacketSocket(C.index, n.ETH_P_IPV6, (f) => {
  const m = decodeNdp(f);
  if (m && m.type === ICMPV6_NA) got6.set(num6(m.dst), { ethDst: m.ethDst.toString('hex'), target: m.target, flags: m.flags, lla: m.lla?.toString('hex') ?? '', ext: m.extensionHeaders });
});
const r4 = new n.ResponderSocket(R.index, n.ETH_P_ARP, (e) => errors.push(`arp ${e.code}`), 5);
const r6 = new n.ResponderSocket(R.index, n.ETH_P_IPV6, (e) => errors.push(`ndp ${e.code}`), 5);
// The threads set their own scheduling when they start.
const rtStart = await waitFor(() => (r4.responderStats().scheduling !== 'inherited' && r6.responderStats().scheduling !== 'inherited' ? [r4.responderStats().scheduling, r6.responderStats().scheduling] : undefined), { what: 'the answering threads to run real-time', timeoutMs: 5000, intervalMs: 5 }).catch(() => [r4.responderStats().scheduling, r6.responderStats().scheduling]);
// Room for the bursts: the point is what is answered, not what a full buffer drops.
for (const s of [cli4, cli6, r4, r6]) s.setReceiveBuffer(32 * 1024 * 1024);
r6.addMembership(multicastMac(GROUP));
r4.setFilter(arpFilter([VIP4]));
r6.setFilter(nsFilter([VIP6]));
r4.answer(ipv4ToBytes(VIP4), rmac);
r6.answer(ipv6ToBytes(VIP6), rmac);

// 0. The table's own checks: the message of each refused call (or "accepted").
const refused = (f: () => unknown): string => {
  try {
    f();
    return 'accepted';
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
};
const args = {
  ipv6OnArp: refused(() => r4.answer(ipv6ToBytes(VIP6), rmac)),
  ipv4OnNdp: refused(() => r6.answer(ipv4ToBytes(VIP4), rmac)),
  groupMac: refused(() => r4.answer(ipv4ToBytes('10.77.0.99'), Buffer.from('010000000001', 'hex'))),
  shortMac: refused(() => r4.answer(ipv4ToBytes('10.77.0.99'), Buffer.alloc(5, 2))),
  plainSocket: refused(() => (n.ResponderSocket.prototype.answer as (this: unknown, a: Buffer, m: Buffer) => boolean).call(cli4, ipv4ToBytes(VIP4), rmac)),
  sameAgain: r4.answer(ipv4ToBytes(VIP4), rmac),
  forgetUnknown: r4.forget(ipv4ToBytes('10.77.0.99')),
  addresses: r4.responderStats().addresses + r6.responderStats().addresses,
};

const arpReq = (i: number, target = VIP4): Buffer =>
  encodeArp({ ethDst: BROADCAST_MAC, ethSrc: cmac, op: ARP_REQUEST, senderMac: cmac, senderIp: seq4(i), targetMac: ZERO_MAC, targetIp: target });
const nsReq = (i: number, o: { unicast?: boolean; lla?: boolean; ext?: number[]; target?: string; hopLimit?: number } = {}): Buffer =>
  encodeNdp({
    ethDst: o.unicast ? rmac : multicastMac(solicitedNode(o.target ?? VIP6)), ethSrc: cmac, src: seq6(i), dst: o.unicast ? VIP6 : solicitedNode(o.target ?? VIP6),
    type: ICMPV6_NS, target: o.target ?? VIP6, ...(o.lla === false ? {} : { lla: cmac }), ...(o.ext ? { extensionHeaders: o.ext } : {}), ...(o.hopLimit ? { hopLimit: o.hopLimit } : {}),
  });

/** Waits until every request that passed the kernel filters (and was not dropped for a full buffer) has been judged. */
function settled(what: string): Promise<{ s4: n.ResponderStats; s6: n.ResponderStats }> {
  return waitFor(() => {
    const k4 = r4.stats(), k6 = r6.stats();
    const s4 = r4.responderStats(), s6 = r6.responderStats();
    const judged = s4.frames === k4.packets - k4.drops && s6.frames === k6.packets - k6.drops;
    return judged ? { s4, s6 } : undefined;
  }, { what, timeoutMs: 20_000, intervalMs: 5 });
}

// 1. Answers (the unowned targets first: once the later answers are in, they were judged).
cli4.send(arpReq(0x10, '10.77.0.7'));
cli6.send(nsReq(0x10, { target: 'fd00:77::7' }));
cli4.send(arpReq(1));
cli6.send(nsReq(2));
cli6.send(nsReq(3, { unicast: true, lla: false }));
cli6.send(nsReq(4, { unicast: true }));
cli6.send(nsReq(5, { ext: [0] }));
cli6.send(nsReq(6, { unicast: true, ext: [0, 60] }));
await waitFor(() => got4.has(1) && [2, 3, 4, 5, 6].every((i) => got6.has(i)), { what: 'answers to the first requests', timeoutMs: 10_000, intervalMs: 5 });
// The benches' C-timed probe (PacketSocket.probe) against the responder: an ARP reply whose sender IP (byte 28) is the VIP.
const probed = [...cli4.probe(arpReq(0xe000), { offset: 28, pattern: ipv4ToBytes(VIP4), mask: Buffer.alloc(4, 0xff) }, 5, 1, 2000)];
const answers = { arp: got4.get(1), ns: Object.fromEntries([2, 3, 4, 5, 6].map((i) => [i, got6.get(i)])), unownedAnswered: got4.has(0x10) || got6.has(0x10), probed };

// 2. Withdraw while a burst is being answered; a second burst after it returned.
const B1 = 0x1000, B2 = 0x8000;
const replies0 = { arp: r4.responderStats().replies, ndp: r6.responderStats().replies };
const half = Math.floor(BURST / 2);
for (let i = 0; i < half; i++) {
  cli4.send(arpReq(B1 + i));
  cli6.send(nsReq(B1 + i));
}
// The thread is answering (its counters move without this event loop), then the rest of the
// burst goes out and the addresses are withdrawn while the thread works through it.
await waitFor(() => r4.responderStats().replies > replies0.arp && r6.responderStats().replies > replies0.ndp, { what: 'answers to the first burst', timeoutMs: 10_000, intervalMs: 1 });
for (let i = half; i < BURST; i++) {
  cli4.send(arpReq(B1 + i));
  cli6.send(nsReq(B1 + i));
}
r4.forget(ipv4ToBytes(VIP4));
r6.forget(ipv6ToBytes(VIP6));
const atForget = { arp: r4.responderStats().replies, ndp: r6.responderStats().replies };
for (let i = 0; i < BURST; i++) {
  cli4.send(arpReq(B2 + i));
  cli6.send(nsReq(B2 + i));
}
const after = await settled('every request of both bursts judged');
// Replies sent before forget() returned may still be on their way to this process.
await waitFor(() => [...got4.keys()].filter((k) => k >= B1).length === atForget.arp - 1 && [...got6.keys()].filter((k) => k >= B1).length === atForget.ndp - 5,
  { what: 'the replies counted before the withdrawal to arrive', timeoutMs: 10_000, intervalMs: 5 }).catch(() => undefined);
const withdraw = {
  burst: BURST,
  answeredFirstBurst: { arp: [...got4.keys()].filter((k) => k >= B1 && k < B2).length, ndp: [...got6.keys()].filter((k) => k >= B1 && k < B2).length },
  answeredSecondBurst: { arp: [...got4.keys()].filter((k) => k >= B2).length, ndp: [...got6.keys()].filter((k) => k >= B2).length },
  repliesAtForget: atForget,
  repliesAfter: { arp: after.s4.replies, ndp: after.s6.replies },
  requests: { arp: after.s4.requests, ndp: after.s6.requests },
  kernelDrops: { arp: r4.stats().drops, ndp: r6.stats().drops },
};

// 3. Answered again once re-installed.
r4.answer(ipv4ToBytes(VIP4), rmac);
r6.answer(ipv6ToBytes(VIP6), rmac);
cli4.send(arpReq(0xf000));
cli6.send(nsReq(0xf000, { ext: [0] }));
const again = await waitFor(() => got4.has(0xf000) && got6.has(0xf000), { what: 'answers after answer() again', timeoutMs: 10_000, intervalMs: 5 }).then(() => true, () => false);

// 4. Malformed: hop limit 64 (RFC 4861 7.1.1), and a frame cut short: dropped, counted, never answered.
const before = r6.responderStats().dropped.malformed;
cli6.send(nsReq(0xf001, { hopLimit: 64 }));
cli6.send(nsReq(0xf002).subarray(0, 80));
await waitFor(() => r6.responderStats().dropped.malformed >= before + 2, { what: 'the malformed NS counted', timeoutMs: 10_000, intervalMs: 5 }).catch(() => undefined);
const malformed = { dropped: r6.responderStats().dropped.malformed - before, answered: got6.has(0xf001) || got6.has(0xf002) };

// 4b. Ignored, each with its reason: someone's gratuitous ARP for the VIP (it passes the filter),
// and the second burst above, asking for addresses withdrawn by then.
const gratBefore = r4.responderStats().ignored.gratuitous;
cli4.send(encodeArp({ ethDst: BROADCAST_MAC, ethSrc: cmac, op: ARP_REQUEST, senderMac: cmac, senderIp: VIP4, targetMac: ZERO_MAC, targetIp: VIP4 }));
await waitFor(() => r4.responderStats().ignored.gratuitous > gratBefore, { what: 'the gratuitous ARP counted as ignored', timeoutMs: 10_000, intervalMs: 5 }).catch(() => undefined);
const ignored = {
  gratuitous: r4.responderStats().ignored.gratuitous - gratBefore,
  notAnnouncedAfterWithdraw: after.s4.ignored['not-announced'] >= BURST && after.s6.ignored['not-announced'] >= BURST,
};

// 5. A link flap: reported, and answered again afterwards by the same sockets.
const errorsBefore = [...errors];
execFileSync('sh', ['-c', 'printf "link set r0 down\\nlink set r0 up\\n" | ip -batch -'], { timeout: 10_000 });
const reported = await waitFor(() => errors.includes('arp ENETDOWN') && errors.includes('ndp ENETDOWN'), { what: 'ENETDOWN from both responder sockets', timeoutMs: 10_000, intervalMs: 5 }).then(() => true, () => false);
let k = 0xf100;
const answeredAfterFlap = await waitFor(() => {
  if (got4.has(k) && got6.has(k)) return true;
  k++;
  cli4.send(arpReq(k));
  cli6.send(nsReq(k));
  return false;
}, { what: 'answers after the flap', timeoutMs: 15_000, intervalMs: 200 }).catch(() => false);
const flap = { errorsBefore, reported, answeredAfterFlap };

// 6. A flood of ARP requests for the VIP (20,000 back to back: far over 20,000/s): the ARP thread
// returns to normal priority (counted) and still answers; after its one-second back-off the next
// request finds it real-time again.
const FLOOD = 20_000;
const demotions0 = r4.responderStats().realtimeDemotions;
const replies1 = r4.responderStats().replies;
const t0 = performance.now();
for (let i = 0; i < FLOOD; i++) cli4.send(arpReq(0x10000 + i));
const floodSendMs = Math.round(performance.now() - t0);
await settled('every request of the flood judged');
const afterFlood = r4.responderStats();
const floodAt = performance.now();
let j = 0x30000;
const realtimeAgain = await waitFor(() => {
  if (performance.now() - floodAt > 1100 && r4.responderStats().scheduling === 'realtime') return true;
  cli4.send(arpReq(j++));
  return undefined;
}, { what: 'the ARP thread real-time again after its back-off', timeoutMs: 10_000, intervalMs: 100 }).catch(() => false);
const realtime = { atStart: rtStart, floodSendMs, demotions: afterFlood.realtimeDemotions - demotions0, schedulingAfterFlood: afterFlood.scheduling, answeredInFlood: afterFlood.replies - replies1, realtimeAgain };

for (const s of [cli4, cli6, r4, r6]) s.close();
process.stdout.write(`${JSON.stringify({ rmac: rmac.toString('hex'), cmac: cmac.toString('hex'), args, answers, withdraw, again, malformed, ignored, flap, realtime, errors })}\n`);
