// ironlb BFD against BIRD in network namespaces: BGP with `bfd on` withdraws the node's route as
// soon as BFD declares the dead node Down; every RFC 5880 authentication type interoperates.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bfdLab, captureBfd, startBird, startExabgp, startIronlbBfd, wireDetectionMs } from '../support/bfd-peers.ts';
import { withNamespaces } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';

const ROUTE = '10.99.0.1/32';

function birdBfd(auth: string): string {
  return `protocol bfd { interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3;${auth} }; neighbor 10.0.0.1; }\n`;
}

test('BIRD: a dead node is detected within 3 x 100 ms and its BGP route withdrawn at once (meticulous keyed SHA1)', { timeout: 120_000 }, async () => {
  await withNamespaces('ilbf', 3, async (nss) => {
    const lab = await bfdLab(nss);
    const bird = await startBird(lab.rtr, `router id 10.0.0.2;\nprotocol device {}\n` +
      birdBfd(' authentication meticulous keyed sha1; password "s3cret" { id 7; };') +
      // Hold time 60 s: the route can only disappear within a second through BFD.
      `protocol bgp n1 { local 10.0.0.2 as 65002; neighbor 10.0.0.1 as 65001; bfd on; hold time 60; graceful restart off; ipv4 { import all; export none; }; }\n`);
    let exa: Awaited<ReturnType<typeof startExabgp>> | undefined;
    let node;
    try {
      exa = await startExabgp(lab.node, { local: lab.nodeIp, peer: lab.rtrIp, localAs: 65001, peerAs: 65002, routes: [ROUTE] });
      const e = exa;
      node = await startIronlbBfd(lab.node, ['--peer', lab.rtrIp, '--local', lab.nodeIp, '--rx', '100', '--tx', '100', '--auth', 'meticulous-keyed-sha1:7:s3cret']);
      await waitFor(async () => node!.state() === 'Up' && (await bird.bfdSessions())[0]?.state === 'Up', { what: 'BFD up on both sides', timeoutMs: 15_000, intervalMs: 100 });
      await waitFor(async () => (await bird.routes()).includes(ROUTE), { what: `BIRD imports ${ROUTE} (exabgp: ${e.log().slice(-500)})`, timeoutMs: 20_000, intervalMs: 100 });
      const s = await bird.bfdSessions();
      assert.equal(s[0]?.interval, 0.1, 'BIRD sends every 100 ms');

      const cap = await captureBfd(lab.sw, lab.rtrPort);
      try {
        await waitFor(() => cap.packets.some((p) => p.src === lab.nodeIp), { what: 'capture sees ironlb packets', timeoutMs: 5000, intervalMs: 20 });
        const cutAt = Date.now();
        await lab.cutNode();
        node.kill();
        await waitFor(async () => !(await bird.routes()).includes(ROUTE), { what: 'BIRD withdraws the route', timeoutMs: 5000, intervalMs: 20 });
        const withdrawnMs = Date.now() - cutAt;
        const wire = await waitFor(() => wireDetectionMs(cap.packets, lab.nodeIp, lab.rtrIp), { what: 'Down packet from BIRD on the wire', timeoutMs: 5000, intervalMs: 20 });
        const proto = await bird.cmd('show protocols n1');
        console.log(`# BIRD detection: ${wire.toFixed(1)} ms on the wire after the last ironlb packet; route gone ${withdrawnMs} ms after the cut (polled)`);
        // BIRD's 300 ms plus its timer latency on this loaded machine (up to 322 ms seen).
        // Below 300 ms happens when the peer itself was starved and ran its timer before reading our
        // last packets from its socket (199 ms seen once at load average 16): still a timer expiry.
        assert.ok(wire >= 100 && wire <= 300 + 200, `BIRD detected after ${wire.toFixed(1)} ms, expected about 300 ms`);
        assert.ok(withdrawnMs < 3000, `route withdrawn after ${withdrawnMs} ms: BFD, not the 60 s hold timer`);
        assert.match(proto, /BFD session down/);
      } finally {
        await cap.stop();
      }
    } finally {
      node?.kill();
      await exa?.stop();
      await bird.stop();
    }
  });
});

test('BIRD: every authentication type comes up; a wrong key never does', { timeout: 120_000 }, async () => {
  await withNamespaces('ilbf', 3, async (nss) => {
    const lab = await bfdLab(nss);
    const cases: Array<{ bird: string; ours: string; up: boolean }> = [
      { bird: 'simple', ours: 'simple:1:pw', up: true },
      { bird: 'keyed md5', ours: 'keyed-md5:1:pw', up: true },
      { bird: 'meticulous keyed md5', ours: 'meticulous-keyed-md5:1:pw', up: true },
      { bird: 'keyed sha1', ours: 'keyed-sha1:1:pw', up: true },
      { bird: 'keyed sha1', ours: 'keyed-sha1:1:wrong', up: false },
    ];
    for (const c of cases) {
      const bird = await startBird(lab.rtr, `router id 10.0.0.2;\nprotocol device {}\n${birdBfd(` authentication ${c.bird}; password "pw" { id 1; };`)}`);
      let node: Awaited<ReturnType<typeof startIronlbBfd>> | undefined;
      try {
        node = await startIronlbBfd(lab.node, ['--peer', lab.rtrIp, '--local', lab.nodeIp, '--rx', '100', '--tx', '100', '--auth', c.ours]);
        const n = node;
        if (c.up) {
          await waitFor(async () => n.state() === 'Up' && (await bird.bfdSessions())[0]?.state === 'Up', { what: `${c.bird} session up`, timeoutMs: 15_000, intervalMs: 100 });
        } else {
          // BIRD sends every second while down: two of its packets must have been dropped by us.
          const snap = await waitFor(async () => { const s = await n.snapshot(); return (s.rxDropped as number) >= 2 && s; }, { what: 'packets with the wrong key dropped', timeoutMs: 10_000, intervalMs: 200 });
          assert.equal(snap.state, 'Down');
          assert.equal(snap.rxPackets, 0);
          assert.notEqual((await bird.bfdSessions())[0]?.state, 'Up');
        }
      } finally {
        node?.kill();
        await bird.stop();
      }
    }
  });
});
