// ironlb BFD against FRR bfdd in network namespaces: bring-up (IPv4, IPv6, multihop, passive),
// timer renegotiation without a flap, and the peer's detection time when the ironlb side dies.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bfdLab, captureBfd, type FrrBfdPeer, startFrrBfdd, startIronlbBfd, wireDetectionMs } from '../support/bfd-peers.ts';
import { withNamespaces } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

test('FRR bfdd: sessions come up, timers renegotiate without a flap, a dead ironlb is detected within 3 x 100 ms', { timeout: 120_000 }, async () => {
  await withNamespaces('ilbf', 3, async (nss) => {
    const lab = await bfdLab(nss);
    // The IPv4 session starts at the 300 ms default and renegotiates down to 100 ms; running at
    // 100 ms x 3 only for the detection measurement keeps load-induced flaps (2 cores shared by
    // many tests) out of the no-flap check.
    const frr = await startFrrBfdd(lab.rtr, [
      { peer: lab.nodeIp, local: lab.rtrIp, receiveInterval: 300, transmitInterval: 300, detectMultiplier: 3 },
      { peer: lab.nodeIp6, local: lab.rtrIp6, receiveInterval: 300, transmitInterval: 300, detectMultiplier: 3 },
      { peer: lab.nodeIp, local: lab.rtrIp, multihop: true, receiveInterval: 300, transmitInterval: 300, detectMultiplier: 3 },
    ]);
    const procs = [];
    try {
      const v4 = await startIronlbBfd(lab.node, ['--peer', lab.rtrIp, '--local', lab.nodeIp]);
      // Passive: FRR starts the session; ours only answers. Bound to eth0 (SO_BINDTODEVICE).
      const v6 = await startIronlbBfd(lab.node, ['--peer', lab.rtrIp6, '--local', lab.nodeIp6, '--passive', '--interface', 'eth0']);
      const mh = await startIronlbBfd(lab.node, ['--peer', lab.rtrIp, '--local', lab.nodeIp, '--multihop']);
      procs.push(v4, v6, mh);
      // FRR lists the single-hop and the multihop session to 10.0.0.1 in no fixed order.
      const frrPeer = async (addr: string, multihop = false): Promise<FrrBfdPeer | undefined> =>
        (await frr.peers()).find((p) => p.peer === addr && p.multihop === multihop);
      const frrState = async (addr: string, multihop = false): Promise<string | undefined> => (await frrPeer(addr, multihop))?.status;
      await waitFor(async () => v4.state() === 'Up' && (await frrState(lab.nodeIp)) === 'up', { what: 'IPv4 session up on both sides', timeoutMs: 15_000, intervalMs: 100 });
      await waitFor(async () => v6.state() === 'Up' && (await frrState(lab.nodeIp6)) === 'up', { what: 'IPv6 passive session up', timeoutMs: 15_000, intervalMs: 100 });
      await waitFor(async () => mh.state() === 'Up' && (await frrState(lab.nodeIp, true)) === 'up', { what: 'multihop session up', timeoutMs: 15_000, intervalMs: 100 });

      // Timer changes from our side, then from FRR's: each is a poll sequence, with no Down on either side.
      const counters = async (): Promise<{ up: number; down: number }> => {
        const rows = JSON.parse(await frr.vtysh('show bfd peers counters json')) as Array<Record<string, unknown>>;
        const r = rows.find((x) => x.peer === lab.nodeIp && x.multihop === false);
        return { up: Number(r?.['session-up']), down: Number(r?.['session-down']) };
      };
      const before = await counters();
      v4.send({ op: 'update', profile: { transmitInterval: 600, receiveInterval: 500 } });
      await waitFor(async () => {
        const p = await frrPeer(lab.nodeIp);
        return p?.['remote-transmit-interval'] === 600 && p['remote-receive-interval'] === 500;
      }, { what: 'FRR sees the new intervals', timeoutMs: 10_000, intervalMs: 100 }).catch(async (err: Error) => {
        throw new Error(`${err.message}; FRR: ${JSON.stringify(await frrPeer(lab.nodeIp))}; ironlb: ${JSON.stringify(await v4.snapshot())} ${v4.output().slice(-1500)}`);
      });
      const snap = await v4.snapshot();
      assert.equal(snap.polling, false, 'poll sequence finished (Final received)');
      assert.equal(snap.txIntervalMs, 600);
      assert.equal(snap.detectionTimeMs, 1500, '3 x max(our 500 ms receive interval, FRR 300 ms)');
      v4.send({ op: 'update', profile: { transmitInterval: 100, receiveInterval: 100 } });
      await waitFor(async () => (await frrPeer(lab.nodeIp))?.['remote-transmit-interval'] === 100,
        { what: 'FRR sees 100 ms', timeoutMs: 10_000, intervalMs: 100 });
      // FRR's own change: it polls us, we answer with Final.
      await frr.vtysh('configure terminal', 'bfd', `peer ${lab.nodeIp} local-address ${lab.rtrIp}`, 'receive-interval 100', 'transmit-interval 100');
      await waitFor(async () => {
        const s = await v4.snapshot();
        return s.remoteDesiredTxMs === 100 && s.remoteMinRxMs === 100 && s.detectionTimeMs === 300 && s.txIntervalMs === 100;
      }, { what: 'ironlb on 100 ms x 3 after FRR\'s poll', timeoutMs: 10_000, intervalMs: 100 });
      await waitFor(async () => (await frrPeer(lab.nodeIp))?.['transmit-interval'] === 100, { what: 'FRR on 100 ms', timeoutMs: 10_000, intervalMs: 100 });
      const after = await counters();
      assert.deepEqual(after, before, `no flap on FRR during renegotiation: ${JSON.stringify({ before, after, events: v4.events })}`);
      // Bring-up is Down -> Up or Down -> Init -> Up; a flap would add a Down.
      assert.deepEqual(v4.events.filter((e) => e.state === 'Down' || e.state === 'AdminDown'), [], 'no flap on ironlb during renegotiation');
      assert.equal(v4.state(), 'Up');

      // Dead host: cut the node's switch port, then kill ironlb. FRR must declare Down within
      // 3 x 100 ms of the last packet it got (measured on the wire, kernel timestamps).
      const cap = await captureBfd(lab.sw, lab.rtrPort);
      try {
        await waitFor(() => cap.packets.some((p) => p.src === lab.nodeIp), { what: 'capture sees ironlb packets', timeoutMs: 5000, intervalMs: 20 });
        const cutAt = Date.now();
        await lab.cutNode();
        v4.kill();
        await waitFor(async () => (await frrState(lab.nodeIp)) === 'down', { what: 'FRR declares the IPv4 session down', timeoutMs: 5000, intervalMs: 25 });
        const polledMs = Date.now() - cutAt;
        const wire = await waitFor(() => wireDetectionMs(cap.packets, lab.nodeIp, lab.rtrIp), { what: 'Down packet from FRR on the wire', timeoutMs: 5000, intervalMs: 20 });
        const p = await frrPeer(lab.nodeIp);
        assert.equal(p?.diagnostic, 'control detection time expired');
        console.log(`# FRR detection: ${wire.toFixed(1)} ms on the wire after the last ironlb packet (cut to "down" in vtysh: ${polledMs} ms)`);
        // 300 ms is FRR's detection time; the margin covers FRR's timer firing late on this loaded
        // machine (up to 333 ms seen at load average 20).
        // Below 300 ms happens when the peer itself was starved and ran its timer before reading our
        // last packets from its socket (199 ms seen once at load average 16): still a timer expiry.
        assert.ok(wire >= 100 && wire <= 300 + 200, `FRR detected after ${wire.toFixed(1)} ms, expected about 300 ms`);
      } finally {
        await cap.stop();
      }
    } finally {
      for (const p of procs) p.kill();
      await frr.stop();
    }
  });
});
