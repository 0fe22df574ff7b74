// ECMP: three ironlb speakers (three processes, as on three nodes) announce the same service
// prefix, each with its own next hop; BIRD and FRR, multipath on, hold and select all three.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withNamespaces } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';
import { Bird, Frr, IronlbSpeaker, link, type PeerDaemon, type RibEntry } from '../support/peers/index.ts';

async function threeSpeakers(kind: 'bird' | 'frr', net: number, check: (d: PeerDaemon, e: RibEntry, hops: string[]) => Promise<void>): Promise<void> {
  await withNamespaces('ilbg', 2, async ([a, b]) => {
    const l = await link(a!, b!, net, 2);
    const hops = [l.b4, l.extraB[0]!.v4, l.extraB[1]!.v4];
    const prefix = `10.${net}.9.9/32`;
    let d: PeerDaemon | undefined;
    const speakers: IronlbSpeaker[] = [];
    try {
      const cfg = {
        asn: 65000, routerId: l.a4, localAddress: l.a4, multipath: true,
        neighbors: hops.map((h) => ({ address: h, asn: 65001, passive: true })),
      };
      d = kind === 'bird' ? await Bird.start(a!, cfg, { kernelEcmp: true }) : await Frr.start(a!, cfg, { coalesceTimeMs: 0 });
      await Promise.all(hops.map(async (h) => {
        const s = await IronlbSpeaker.start(b!, { routerId: h, listen: false });
        speakers.push(s);
        await s.addPeer({ name: 'r', localAsn: 65001, peerAsn: 65000, peerAddress: l.a4, localAddress: h, connectRetryTime: 1, families: ['IPv4'] });
        await s.announce('r', prefix, { communities: ['65001:1'] });
      }));
      const e = await waitFor(async () => {
        const x = (await d!.rib('ipv4')).find((r) => r.prefix === prefix);
        return x && x.nextHops.length === 3 ? x : undefined;
      }, { what: `${prefix} with three next hops at ${kind}`, timeoutMs: 20_000, intervalMs: 100 });
      assert.deepEqual(e.nextHops, [...hops].sort());
      await check(d, e, hops);
      // One speaker withdraws: two next hops remain.
      await speakers[0]!.withdraw('r', prefix);
      await waitFor(async () => (await d!.rib('ipv4')).find((r) => r.prefix === prefix)?.nextHops.length === 2, { what: 'two next hops after one withdraw' });
    } finally {
      await Promise.all(speakers.map((s) => s.close()));
      await d?.stop();
    }
  });
}

test('BIRD: three speakers give three paths, merged into one ECMP route in the kernel', async () => {
  await threeSpeakers('bird', 160, async (d, _e, hops) => {
    const route = await waitFor(async () => {
      const out = await d.ns.ip('route', 'show', '10.160.9.9/32');
      return hops.every((h) => out.includes(`via ${h}`)) ? out : undefined;
    }, { what: 'multipath route 10.160.9.9/32 in the kernel table of BIRD\'s namespace' });
    assert.match(route, /nexthop via/);
  });
});

test('FRR: three speakers give three paths, all selected with maximum-paths', async () => {
  await threeSpeakers('frr', 161, async (d, _e, hops) => {
    const e = await waitFor(async () => {
      const x = (await d.rib('ipv4')).find((r) => r.prefix === '10.161.9.9/32');
      return x?.selectedNextHops?.length === 3 ? x : undefined;
    }, { what: 'FRR selecting three paths (best + multipath)' });
    assert.deepEqual(e.selectedNextHops, [...hops].sort());
  });
});
