// The owner watch end to end (issue 16): three `ironlb speaker` processes in namespaces on a bridge.
//   - Heartbeat loss below the threshold (a fixed pattern dropping 3 of every 8 heartbeats, so never
//     8 in a row, plus 5% random loss of everything) for 30 s: no suspicion caused by the loss.
//   - The owner's speaker SIGKILLed, then the owner's link cut: another node takes its address over
//     on the owner watch's word (log "took over address" with fast: true) well before membership,
//     and the client's TCP connections are answered by it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpeakerCluster, type SpeakerNode } from '../support/speaker-cluster.ts';
import { waitFor } from '../support/wait.ts';

const VIP = '10.87.0.100';
/** Generous for a loaded CI machine: detection is 160 ms (20 ms × 8), membership ~0.5–1 s. */
const TAKEOVER_LIMIT_MS = 1500;

async function settledOwner(c: SpeakerCluster): Promise<SpeakerNode> {
  return c.settledL2Owner('s0', VIP);
}

async function fastSuspicions(c: SpeakerCluster): Promise<number> {
  let n = 0;
  for (const node of c.nodes) n += (await node.metric('ironlb_speaker_fast_takeovers_total', 'result="suspected"')) ?? 0;
  return n;
}

/** Fails the owner, waits for a fast takeover by another node; returns [ms to the takeover log, ms to TCP]. */
async function failOwner(c: SpeakerCluster, how: 'kill' | 'link'): Promise<[number, number]> {
  const o = await settledOwner(c);
  const client = c.tcpClient(VIP, 20, 60_000);
  try {
    await waitFor(() => client.results.slice(-5).length === 5 && client.results.slice(-5).every((r) => r.node === o.name), { what: `answers from ${o.name}`, timeoutMs: 20_000 });
    const marks = new Map(c.nodes.map((n) => [n.name, n.log.length]));
    const t = Date.now();
    if (how === 'kill') o.proc?.kill('SIGKILL');
    else await o.ns.ip('link', 'set', 'eth0', 'down');
    const line = await waitFor(
      () => {
        for (const n of c.nodes) {
          if (n === o) continue;
          const l = n.log.slice(marks.get(n.name)).find((x) => x.includes('took over address') && x.includes(VIP));
          if (l) return { n, l };
        }
        return undefined;
      },
      { what: `a takeover of ${VIP} logged by another node`, timeoutMs: 10_000, intervalMs: 10 },
    );
    const at = Number(/"time":(\d+)/.exec(line.l)?.[1]);
    assert.match(line.l, /"fast":true/, `the takeover came from the owner watch, not membership: ${line.l}`);
    const r = await waitFor(() => client.results.find((x) => x.t >= t && x.node && x.node !== o.name), { what: 'TCP answered by another node', timeoutMs: 10_000 });
    return [at - t, r.t - t];
  } finally {
    client.stop();
    if (how === 'kill') {
      await waitFor(() => !o.running, { what: 'exit', timeoutMs: 15_000 });
      const from = o.log.length;
      c.startSpeaker(c.nodes.indexOf(o));
      await o.waitLog(/owner watch running/, 90_000, from);
    } else await o.ns.ip('link', 'set', 'eth0', 'up');
  }
}

test('owner watch: heartbeat loss below the threshold causes no suspicion; a killed or cut-off owner is taken over fast', { timeout: 600_000 }, async () => {
  const c = await SpeakerCluster.create({ prefix: 'ilbl', nodes: 3, net: 87, client: true, localVips: [VIP], speakerArgs: ['--owner-watch'] });
  try {
    await c.apply('IPPool', 'p1', { addresses: ['10.87.0.100-10.87.0.120'] });
    await c.apply('L2Advertisement', 'l2', {});
    for (let i = 0; i < 3; i++) {
      c.startSpeaker(i);
      c.nodes[i]!.startApp();
    }
    await Promise.all(c.nodes.map((n) => n.waitLog(/owner watch running/, 180_000)));
    for (let i = 0; i < 6; i++) await c.service(`s${i}`, [`10.87.0.${100 + i}`]);
    await settledOwner(c);
    // Every owner is watched by the node its addresses would go to.
    await waitFor(async () => {
      let watched = 0;
      for (const n of c.nodes) watched += (await n.metric('ironlb_speaker_watched_owners')) ?? 0;
      return watched >= 3;
    }, { what: 'owners watched', timeoutMs: 30_000, intervalMs: 500 });

    // ---- loss below the threshold
    // A suspicion the loss caused would fail the test. On a loaded machine a sender's whole process
    // is sometimes not scheduled for 160-450 ms (measured: docs/performance.md); the watcher then
    // logs, when it hears the owner again, senderGapMs ≈ silentMs (the owner did not send). Those
    // are the host's, not the loss's: printed, not failed.
    const marks = new Map(c.nodes.map((n) => [n.name, n.log.length]));
    const before = await fastSuspicions(c);
    for (const n of c.nodes) {
      await n.ns.exec('nft', ['add table inet ilblloss; add chain inet ilblloss in { type filter hook input priority 0; }; add rule inet ilblloss in iifname "eth0" udp dport 7948 numgen inc mod 8 < 3 drop; add rule inet ilblloss in iifname "eth0" numgen random mod 100 < 5 drop']);
    }
    try {
      await new Promise((r) => setTimeout(r, 30_000)); // the loss phase itself (not a synchronisation)
    } finally {
      for (const n of c.nodes) await n.ns.exec('nft', ['delete table inet ilblloss']).catch(() => '');
    }
    // Heard again after a suspicion: wait until every suspected owner is heard again (bounded).
    const silences = async (): Promise<Array<{ node: string; peer: string; silentMs: number; senderGapMs: number }>> => {
      const out: Array<{ node: string; peer: string; silentMs: number; senderGapMs: number }> = [];
      for (const n of c.nodes) {
        for (const l of n.log.slice(marks.get(n.name))) {
          if (!l.includes('heard again on the owner watch after a silence')) continue;
          const j = JSON.parse(l) as { peer: string; silentMs: number; senderGapMs: number };
          if (j.silentMs > 160) out.push({ node: n.name, peer: j.peer, silentMs: j.silentMs, senderGapMs: j.senderGapMs });
        }
      }
      return out;
    };
    const suspected = (await fastSuspicions(c)) - before;
    const seen = await waitFor(async () => {
      const x = await silences();
      return x.length >= suspected ? x : undefined;
    }, { what: `${suspected} suspected owner(s) heard again`, timeoutMs: 10_000, intervalMs: 200 });
    const byLoss = seen.filter((x) => x.senderGapMs < 160);
    if (seen.length) console.log(`silences over 160 ms during the loss phase (host stalls when senderGapMs ≈ silentMs): ${JSON.stringify(seen)}`);
    assert.deepEqual(byLoss, [], 'a suspicion caused by heartbeat loss below the threshold');

    // ---- power-off, as a process (SIGKILL) and as a link
    for (const how of ['kill', 'link'] as const) {
      const [logged, tcp] = await failOwner(c, how);
      console.log(`owner ${how === 'kill' ? 'SIGKILLed' : 'link down'}: takeover logged after ${logged} ms, TCP answered by another node after ${tcp} ms`);
      assert.ok(logged < TAKEOVER_LIMIT_MS, `takeover after ${logged} ms (limit ${TAKEOVER_LIMIT_MS})`);
      assert.ok(tcp < TAKEOVER_LIMIT_MS + 500, `TCP after ${tcp} ms`);
    }
  } finally {
    await c.destroy();
  }
});
