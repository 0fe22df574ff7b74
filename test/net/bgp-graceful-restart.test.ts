// Graceful restart (RFC 4724), ironlb as the restarting speaker: the speaker process is killed
// and started again; the peer keeps the routes (stale) the whole time, with the RIB polled
// throughout, and the new session's End-of-RIB ends the stale state and flushes the route the
// restarted speaker no longer announces.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { withNamespaces } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';
import { IronlbSpeaker, link, startDaemon, type DaemonKind, type PeerDaemon, type RibEntry } from '../support/peers/index.ts';
import type { PeerConfig, RouteAttributes } from '../../src/bgp/index.ts';

interface Sample { t: number; rib: RibEntry[] }

/** Polls the peer's RIB until stopped (bounded: at most maxMs and maxSamples). */
function poller(d: PeerDaemon, maxMs = 60_000, maxSamples = 3000): { samples: Sample[]; stop: () => Promise<void> } {
  const samples: Sample[] = [];
  let running = true;
  const start = Date.now();
  const loop = (async () => {
    while (running && Date.now() - start < maxMs && samples.length < maxSamples) {
      try {
        samples.push({ t: Date.now() - start, rib: await d.rib('ipv4') });
      } catch { /* a query racing the daemon's own work; the next one counts */ }
      await delay(25);
    }
  })();
  return { samples, stop: async () => { running = false; await loop; } };
}

async function grCase(kind: DaemonKind, net: number): Promise<void> {
  await withNamespaces('ilbg', 2, async ([a, b]) => {
    const l = await link(a!, b!, net);
    const keep = [`10.${net}.1.1/32`, `10.${net}.1.2/32`];
    const dropped = `10.${net}.1.3/32`;
    const peer: PeerConfig = {
      name: 'r', localAsn: 65001, peerAsn: 65000, peerAddress: l.a4, localAddress: l.b4, families: ['IPv4'],
      connectRetryTime: 1, gracefulRestart: { restartTime: 90 },
    };
    const attrs: RouteAttributes = { communities: ['65001:77'] };
    let d: PeerDaemon | undefined;
    let s: IronlbSpeaker | undefined;
    let poll: ReturnType<typeof poller> | undefined;
    try {
      d = await startDaemon(kind, a!, {
        asn: 65000, routerId: l.a4, localAddress: l.a4,
        neighbors: [{ address: l.b4, asn: 65001, passive: true, gracefulRestart: true }],
      });
      s = await IronlbSpeaker.start(b!, { routerId: l.b4, listen: false });
      await s.addPeer(peer, new Map([...keep, dropped].map((p) => [p, attrs])));
      await waitFor(async () => {
        const rib = await d!.rib('ipv4');
        return [...keep, dropped].every((p) => rib.some((e) => e.prefix === p && !e.stale));
      }, { what: `routes at ${kind}, not stale`, timeoutMs: 15_000 });

      poll = poller(d);
      await s.kill();
      await waitFor(async () => (await d!.rib('ipv4')).filter((e) => keep.includes(e.prefix) && e.stale).length === keep.length,
        { what: `${kind} holding the routes as stale after the speaker died`, timeoutMs: 10_000 });
      const staleSince = Date.now();
      // Enough samples of the stale state before the speaker comes back (its End-of-RIB follows its
      // routes at once, so the stale period can be shorter than ten samples).
      const sampled = poll.samples.length;
      await waitFor(() => poll!.samples.length >= sampled + 10, { what: `ten samples of ${kind}'s RIB while stale`, timeoutMs: 10_000, intervalMs: 20 });

      // The restarted speaker announces all but one route, then End-of-RIB.
      s = await IronlbSpeaker.start(b!, { routerId: l.b4, listen: false });
      await s.addPeer(peer, new Map(keep.map((p) => [p, attrs])));
      await s.established('r');
      const cleared = await waitFor(async () => {
        const rib = await d!.rib('ipv4');
        const ok = keep.every((p) => rib.some((e) => e.prefix === p && !e.stale)) && !rib.some((e) => e.prefix === dropped);
        return ok ? Date.now() : undefined;
      }, { what: `${kind}: stale marking cleared and ${dropped} flushed after End-of-RIB`, timeoutMs: 15_000 });
      await poll.stop();

      // Nothing was withdrawn meanwhile: every sample holds both kept routes.
      const samples = poll.samples;
      assert.ok(samples.length >= 10, `only ${samples.length} RIB samples`);
      for (const x of samples) {
        for (const p of keep) assert.ok(x.rib.some((e) => e.prefix === p), `${p} missing from ${kind}'s RIB at +${x.t} ms`);
      }
      assert.ok(samples.some((x) => x.rib.some((e) => e.stale)), 'no sample saw the stale state');
      // End-of-RIB (not the 90 s restart timer) ended it.
      assert.ok(cleared - staleSince < 30_000, `stale state lasted ${cleared - staleSince} ms`);
      const final = (await d.rib('ipv4')).find((e) => e.prefix === keep[0]);
      assert.deepEqual(final?.communities, ['65001:77']);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${kind}:\n${d?.output().slice(-1500)}\n--- ironlb:\n${s?.output().slice(-1500)}`);
    } finally {
      await poll?.stop();
      await s?.close();
      await d?.stop();
    }
  });
}

test('graceful restart with BIRD: routes stay (stale) while the speaker restarts; End-of-RIB clears them', () => grCase('bird', 180));
test('graceful restart with FRR: routes stay (stale) while the speaker restarts; End-of-RIB clears them', () => grCase('frr', 181));
test('graceful restart with GoBGP: routes stay (stale) while the speaker restarts; End-of-RIB clears them', () => grCase('gobgp', 182));
