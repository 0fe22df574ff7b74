// The native responder (src/native ResponderSocket, issue 12) against real Linux sockets: it
// answers ARP and Neighbor Solicitations (to the group, unicast NUD probes with and without a
// source link-layer option, behind Hop-by-Hop) from its own thread, stops answering the instant an
// address is withdrawn (no reply leaves after forget() returns, even while a burst is being
// answered), answers again when re-installed, and drops and counts malformed solicitations. Its
// threads answer at real-time priority; a flood sends them back to normal priority for a second.
// One namespace (prefix ilba) with a veth pair r0 <-> c0; test/support/responder-probe.ts runs in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { withNamespaces } from '../support/netns.ts';

const probe = fileURLToPath(new URL('../support/responder-probe.ts', import.meta.url));

interface ProbeResult {
  rmac: string;
  cmac: string;
  args: Record<string, string | boolean | number>;
  answers: {
    arp?: { ethDst: string; senderMac: string; senderIp: string };
    ns: Record<string, { ethDst: string; target: string; flags: number; lla: string; ext: number[] } | undefined>;
    unownedAnswered: boolean;
    probed: number[];
  };
  withdraw: {
    burst: number;
    answeredFirstBurst: { arp: number; ndp: number };
    answeredSecondBurst: { arp: number; ndp: number };
    repliesAtForget: { arp: number; ndp: number };
    repliesAfter: { arp: number; ndp: number };
    requests: { arp: number; ndp: number };
    kernelDrops: { arp: number; ndp: number };
  };
  again: boolean;
  malformed: { dropped: number; answered: boolean };
  ignored: { gratuitous: number; notAnnouncedAfterWithdraw: boolean };
  flap: { errorsBefore: string[]; reported: boolean; answeredAfterFlap: boolean };
  realtime: { atStart: string[]; floodSendMs: number; demotions: number; schedulingAfterFlood: string; answeredInFlood: number; realtimeAgain: boolean };
  errors: string[];
}

test('native responder: answers ARP and NS (group, NUD with and without SLLA, behind Hop-by-Hop) from its thread, stops the instant an address is withdrawn, drops malformed NS, reports a link flap', { timeout: 180_000 }, async () => {
  await withNamespaces('ilba', 1, async ([ns]) => {
    await ns!.ip('link', 'add', 'r0', 'type', 'veth', 'peer', 'name', 'c0');
    for (const dev of ['r0', 'c0']) {
      await ns!.exec('sysctl', ['-q', '-w', `net.ipv6.conf.${dev}.accept_dad=0`]);
      await ns!.ip('link', 'set', dev, 'up');
    }
    const out = await ns!.exec(process.execPath, [probe, '2000'], 120_000);
    const r = JSON.parse(out.trim().split('\n').pop()!) as ProbeResult;
    const ctx = JSON.stringify(r);

    // The table refuses what it cannot answer with, and only responder sockets have one.
    assert.match(String(r.args.ipv6OnArp), /^RangeError: packetAnswer: address must be a 4-byte Buffer \(IPv4\) on an ARP responder/, ctx);
    assert.match(String(r.args.ipv4OnNdp), /^RangeError: packetAnswer: address must be a 16-byte Buffer \(IPv6\)/, ctx);
    assert.match(String(r.args.groupMac), /^RangeError: .*unicast MAC/, ctx);
    assert.match(String(r.args.shortMac), /^TypeError: .*6-byte Buffer/, ctx);
    assert.match(String(r.args.plainSocket), /^TypeError: packetAnswer: handle must be a responder packet socket/, ctx);
    assert.deepEqual([r.args.sameAgain, r.args.forgetUnknown, r.args.addresses], [false, false, 2], ctx);

    // Answers, each to the requester, from the responder's MAC.
    assert.deepEqual(r.answers.arp, { ethDst: r.cmac, senderMac: r.rmac, senderIp: '10.77.0.100' }, ctx);
    for (const i of ['2', '3', '4', '5', '6']) {
      const na = r.answers.ns[i];
      assert.ok(na, `NS ${i} answered: ${ctx}`);
      assert.deepEqual({ ethDst: na.ethDst, target: na.target, flags: na.flags, lla: na.lla }, { ethDst: r.cmac, target: 'fd00:77::100', flags: 0x60, lla: r.rmac }, `NS ${i}: ${ctx}`);
    }
    assert.equal(r.answers.unownedAnswered, false, `requests for other addresses are never answered: ${ctx}`);
    assert.ok(r.answers.probed.length === 5 && r.answers.probed.every((us) => us > 0 && us < 2_000_000), `the C-timed probe times every answer: ${ctx}`);

    // Withdrawal: the first burst was being answered when forget() was called; after it returned
    // not one more reply left (the counter read then is final), and the second burst got nothing.
    const w = r.withdraw;
    assert.ok(w.answeredFirstBurst.arp > 0 && w.answeredFirstBurst.ndp > 0, `answering when withdrawn: ${ctx}`);
    assert.deepEqual(w.answeredSecondBurst, { arp: 0, ndp: 0 }, `nothing answered after the withdrawal: ${ctx}`);
    assert.deepEqual(w.repliesAfter, w.repliesAtForget, `no reply sent after forget() returned: ${ctx}`);
    assert.ok(w.requests.arp > w.repliesAfter.arp && w.requests.ndp > w.repliesAfter.ndp, `requests kept arriving after the withdrawal: ${ctx}`);
    console.log(`withdrawn during a burst of ${w.burst}: answered ${w.answeredFirstBurst.arp} ARP / ${w.answeredFirstBurst.ndp} NS before, 0 after; ${w.requests.arp} / ${w.requests.ndp} requests judged`);

    assert.equal(r.again, true, `answered again after answer(): ${ctx}`);
    assert.deepEqual(r.malformed, { dropped: 2, answered: false }, ctx);
    assert.deepEqual(r.ignored, { gratuitous: 1, notAnnouncedAfterWithdraw: true }, ctx);
    // A link flap reaches JavaScript as ENETDOWN (the owner reopens and announces again), and the
    // same sockets answer once the link is back.
    assert.deepEqual(r.flap, { errorsBefore: [], reported: true, answeredAfterFlap: true }, ctx);
    // Real-time answering: both threads at SCHED_FIFO (root may); a flood sends the ARP thread back
    // to normal priority and it keeps answering; after its back-off it is real-time again.
    assert.deepEqual(r.realtime.atStart, ['realtime', 'realtime'], ctx);
    assert.ok(r.realtime.demotions >= 1, `the flood (20,000 requests sent in ${r.realtime.floodSendMs} ms) demoted the thread: ${ctx}`);
    assert.ok(r.realtime.answeredInFlood > 0, `answered during the flood: ${ctx}`);
    assert.equal(r.realtime.realtimeAgain, true, ctx);
    console.log(`real-time: flood of 20,000 sent in ${r.realtime.floodSendMs} ms, ${r.realtime.demotions} demotion(s), ${r.realtime.answeredInFlood} answered during it`);
  });
});
