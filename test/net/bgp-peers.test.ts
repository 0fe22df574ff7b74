// Proves the real-peer harness (test/support/peers) with daemons talking to each other, so
// the interop tests can trust what the harness reports about ironlb.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withNamespaces } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';
import { Bird, Exabgp, Frr, Gobgp, link, type PeerDaemon, type RibEntry } from '../support/peers/index.ts';

const find = (rib: RibEntry[], prefix: string): RibEntry | undefined => rib.find((e) => e.prefix === prefix);

async function established(d: PeerDaemon, neighbor: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => (await d.sessions()).find((s) => s.neighbor === neighbor)?.state === 'established', {
    what: `${d.kind} session with ${neighbor} established`, timeoutMs, intervalMs: 100,
  });
}

async function stopAll(list: Array<PeerDaemon | undefined>): Promise<void> {
  await Promise.all(list.map((d) => d?.stop().catch(() => undefined)));
}

test('GoBGP announces to BIRD: attributes on both families, graceful restart keeps routes stale', async () => {
  await withNamespaces('ilbg', 2, async ([a, b]) => {
    const l = await link(a!, b!, 101);
    let bird: Bird | undefined;
    let gob: Gobgp | undefined;
    try {
      bird = await Bird.start(a!, { asn: 65000, routerId: l.a4, localAddress: l.a4, localAddress6: l.a6, neighbors: [{ address: l.b4, asn: 65001, families: ['ipv4', 'ipv6'], gracefulRestart: true }] });
      gob = await Gobgp.start(b!, { asn: 65001, routerId: l.b4, localAddress: l.b4, neighbors: [{ address: l.a4, asn: 65000, families: ['ipv4', 'ipv6'], gracefulRestart: true }] });
      await established(bird, l.b4);
      await gob.addRoute('10.201.0.1/32', l.b4, ['65000:1', '65000:2'], ['1:2:3']);
      await gob.addRoute('fd00:201::1/128', l.b6, ['65000:7']);
      const v4 = await waitFor(async () => find(await bird!.rib('ipv4'), '10.201.0.1/32'), { what: 'IPv4 route at BIRD' });
      assert.deepEqual(v4, { prefix: '10.201.0.1/32', nextHops: [l.b4], communities: ['65000:1', '65000:2'], largeCommunities: ['1:2:3'], localPref: 100, stale: false });
      const v6 = await waitFor(async () => find(await bird!.rib('ipv6'), 'fd00:201::1/128'), { what: 'IPv6 route at BIRD' });
      assert.deepEqual(v6.nextHops, [l.b6]);
      assert.deepEqual(v6.communities, ['65000:7']);
      assert.equal((await gob.sessions())[0]?.state, 'established');

      process.kill(gob.pid, 'SIGKILL');
      const stale = await waitFor(async () => {
        const e = find(await bird!.rib('ipv4'), '10.201.0.1/32');
        return e?.stale === true ? e : undefined;
      }, { what: 'route stale at BIRD after the sender died' });
      assert.deepEqual(stale.nextHops, [l.b4]);
    } finally {
      await stopAll([bird, gob]);
    }
  });
});

test('BIRD announces to FRR over iBGP with MD5: local-pref and communities; FRR marks stale', async () => {
  await withNamespaces('ilbg', 2, async ([a, b]) => {
    const l = await link(a!, b!, 102);
    let frr: Frr | undefined;
    let bird: Bird | undefined;
    try {
      frr = await Frr.start(a!, { asn: 65000, routerId: l.a4, localAddress: l.a4, neighbors: [{ address: l.b4, asn: 65000, families: ['ipv4'], gracefulRestart: true, password: 'k3y' }] });
      bird = await Bird.start(b!, {
        asn: 65000, routerId: l.b4, localAddress: l.b4, neighbors: [{ address: l.a4, asn: 65000, gracefulRestart: true, password: 'k3y' }],
        originate: [{ prefix: '10.202.0.1/32', communities: ['65000:1'], largeCommunities: ['4:5:6'] }],
      }, { extra: 'filter lp { bgp_local_pref = 250; accept; }' });
      // FRR selects best paths after receiving them (its work queue): wait for the selection too.
      const e = await waitFor(async () => {
        const x = find(await frr!.rib('ipv4'), '10.202.0.1/32');
        return x?.selectedNextHops?.length ? x : undefined;
      }, { what: 'route at FRR, selected' });
      assert.deepEqual(e.nextHops, [l.b4]);
      assert.deepEqual(e.communities, ['65000:1']);
      assert.deepEqual(e.largeCommunities, ['4:5:6']);
      assert.equal(e.localPref, 100);
      assert.deepEqual(e.selectedNextHops, [l.b4]);
      assert.equal((await frr.sessions()).find((s) => s.neighbor === l.b4)?.state, 'established');
      process.kill(bird.pid, 'SIGKILL');
      await waitFor(async () => find(await frr!.rib('ipv4'), '10.202.0.1/32')?.stale === true, { what: 'route stale at FRR' });
    } finally {
      await stopAll([frr, bird]);
    }
  });
});

test('BIRD announces to ExaBGP: the JSON log gives the RIB, teardown closes the session', async () => {
  await withNamespaces('ilbg', 2, async ([a, b]) => {
    const l = await link(a!, b!, 103);
    let exa: Exabgp | undefined;
    let bird: Bird | undefined;
    try {
      exa = await Exabgp.start(a!, { asn: 65000, routerId: l.a4, localAddress: l.a4, neighbors: [{ address: l.b4, asn: 65001 }] });
      bird = await Bird.start(b!, {
        asn: 65001, routerId: l.b4, localAddress: l.b4, neighbors: [{ address: l.a4, asn: 65000 }],
        originate: [{ prefix: '10.203.0.1/32', communities: ['65001:9'], largeCommunities: ['7:8:9'] }],
      });
      const e = await waitFor(async () => find(await exa!.rib('ipv4'), '10.203.0.1/32'), { what: 'route at ExaBGP' });
      assert.deepEqual(e, { prefix: '10.203.0.1/32', nextHops: [l.b4], communities: ['65001:9'], largeCommunities: ['7:8:9'] });
      await exa.shutdownNeighbor(l.b4);
      // ExaBGP reconnects at once: the log shows the session going down and up again.
      await waitFor(async () => /"state": "down"[^]*"state": "up"/.test(await exa!.log()), { what: 'ExaBGP session down, then up again' });
      await established(bird, l.a4);
      await waitFor(async () => find(await exa!.rib('ipv4'), '10.203.0.1/32'), { what: 'route at ExaBGP again' });
    } finally {
      await stopAll([exa, bird]);
    }
  });
});

test('FRR announces to GoBGP with MD5; route refresh from FRR reaches GoBGP', async () => {
  await withNamespaces('ilbg', 2, async ([a, b]) => {
    const l = await link(a!, b!, 104);
    let gob: Gobgp | undefined;
    let frr: Frr | undefined;
    try {
      gob = await Gobgp.start(a!, { asn: 65000, routerId: l.a4, localAddress: l.a4, neighbors: [{ address: l.b4, asn: 65001, password: 'x1' }] });
      frr = await Frr.start(b!, { asn: 65001, routerId: l.b4, localAddress: l.b4, neighbors: [{ address: l.a4, asn: 65000, password: 'x1' }], originate: [{ prefix: '10.204.0.0/24' }] }, { coalesceTimeMs: 0 });
      const e = await waitFor(async () => find(await gob!.rib('ipv4'), '10.204.0.0/24'), { what: 'route at GoBGP' });
      assert.deepEqual(e.nextHops, [l.b4]);
      assert.equal((await gob.sessions())[0]?.state, 'established');
      await frr.requestRouteRefresh(l.a4);
      await waitFor(async () => ((await gob!.received(l.b4)).refresh ?? 0) >= 1, { what: 'GoBGP counted a received ROUTE-REFRESH' });
    } finally {
      await stopAll([gob, frr]);
    }
  });
});

// ExaBGP and BIRD with TCP MD5, each side listening in turn, on IPv4 and IPv6: the harness sets
// the keys right for both (a failure here is the harness's or the daemons', not ironlb's).
for (const v6 of [false, true]) {
  for (const exaPassive of [false, true]) {
    test(`ExaBGP and BIRD with MD5 (${v6 ? 'IPv6' : 'IPv4'}, ${exaPassive ? 'ExaBGP listens' : 'ExaBGP dials'}): established, route carried`, async () => {
      await withNamespaces('ilbg', 2, async ([a, b]) => {
        const net = 110 + (v6 ? 2 : 0) + (exaPassive ? 1 : 0);
        const l = await link(a!, b!, net);
        const [A, B] = v6 ? [l.a6, l.b6] : [l.a4, l.b4];
        let bird: Bird | undefined;
        let exa: Exabgp | undefined;
        try {
          bird = await Bird.start(a!, { asn: 65000, routerId: l.a4, localAddress: A, neighbors: [{ address: B, asn: 65001, password: 'k3y', passive: !exaPassive }] });
          const prefix = v6 ? `fd00:${net}:1::1/128` : `10.${net}.1.1/32`;
          exa = await Exabgp.start(b!, { asn: 65001, routerId: l.b4, localAddress: B, neighbors: [{ address: A, asn: 65000, password: 'k3y', passive: exaPassive }], originate: [{ prefix }] });
          await established(bird, B);
          const b2 = bird;
          await waitFor(async () => find(await b2.rib(v6 ? 'ipv6' : 'ipv4'), prefix), { what: `${prefix} from ExaBGP at BIRD` });
        } catch (err) {
          throw new Error(`${(err as Error).message}\n--- exabgp:\n${exa?.output().slice(-1500)}`);
        } finally {
          await stopAll([bird, exa]);
        }
      });
    });
  }
}
