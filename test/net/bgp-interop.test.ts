// ironlb's BGP engine against BIRD 2, FRR bgpd, GoBGP and ExaBGP: eBGP over IPv4 transport and
// iBGP over IPv6 transport, each carrying IPv4 and IPv6 routes. The daemon runs in namespace
// "a"; ironlb runs as a child process in namespace "b" (test/support/peers/ironlb-child.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withNamespaces } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';
import { DAEMON_KINDS, IronlbSpeaker, link, startDaemon, type DaemonKind, type PeerDaemon, type RibEntry } from '../support/peers/index.ts';

const find = (rib: RibEntry[], prefix: string): RibEntry | undefined => rib.find((e) => e.prefix === prefix);

async function caseFor(kind: DaemonKind, net: number): Promise<void> {
  await withNamespaces('ilbg', 2, async ([a, b]) => {
    const l = await link(a!, b!, net, 1);
    const ibgpV6 = l.extraB[0]!.v6;
    const ibgpV4 = l.extraB[0]!.v4;
    let d: PeerDaemon | undefined;
    let s: IronlbSpeaker | undefined;
    try {
      d = await startDaemon(kind, a!, {
        asn: 65000, routerId: l.a4, localAddress: l.a4, localAddress6: l.a6,
        neighbors: [
          { address: l.b4, asn: 65001, families: ['ipv4', 'ipv6'], passive: true },
          { address: ibgpV6, asn: 65000, families: ['ipv4', 'ipv6'], passive: true },
        ],
      });
      s = await IronlbSpeaker.start(b!, { routerId: l.b4, listen: false });
      await s.addPeer({ name: 'ebgp', localAsn: 65001, peerAsn: 65000, peerAddress: l.a4, localAddress: l.b4, families: ['IPv4', 'IPv6'], connectRetryTime: 1 });
      await s.addPeer({ name: 'ibgp', localAsn: 65000, peerAsn: 65000, peerAddress: l.a6, localAddress: ibgpV6, families: ['IPv4', 'IPv6'], connectRetryTime: 1 });
      await s.established('ebgp');
      await s.established('ibgp');

      const e4 = `10.${net}.1.1/32`;
      const e6 = `fd00:${net}:1::1/128`;
      const i4 = `10.${net}.2.1/32`;
      const i6 = `fd00:${net}:2::1/128`;
      await s.announce('ebgp', e4, { communities: ['65001:100', '65001:7'], largeCommunities: ['65001:1:2'] });
      await s.announce('ebgp', e6, { nextHop: l.b6, communities: ['65001:600'], largeCommunities: ['65001:6:6'] });
      await s.announce('ibgp', i4, { nextHop: ibgpV4, localPref: 300, communities: ['65000:40'], largeCommunities: ['65000:4:4'] });
      await s.announce('ibgp', i6, { nextHop: ibgpV6, localPref: 250, communities: ['65000:60'] });

      const want = async (fam: 'ipv4' | 'ipv6', prefix: string): Promise<RibEntry> =>
        waitFor(async () => find(await d!.rib(fam), prefix), { what: `${prefix} in ${kind}'s RIB`, timeoutMs: 10_000, intervalMs: 100 });
      const got = {
        e4: await want('ipv4', e4), e6: await want('ipv6', e6), i4: await want('ipv4', i4), i6: await want('ipv6', i6),
      };
      assert.deepEqual(got.e4.nextHops, [l.b4]);
      assert.deepEqual(got.e4.communities, ['65001:100', '65001:7']);
      assert.deepEqual(got.e4.largeCommunities, ['65001:1:2']);
      assert.deepEqual(got.e6.nextHops, [l.b6]);
      assert.deepEqual(got.e6.communities, ['65001:600']);
      assert.deepEqual(got.e6.largeCommunities, ['65001:6:6']);
      assert.deepEqual(got.i4.nextHops, [ibgpV4]);
      assert.equal(got.i4.localPref, 300);
      assert.deepEqual(got.i4.communities, ['65000:40']);
      assert.deepEqual(got.i4.largeCommunities, ['65000:4:4']);
      assert.deepEqual(got.i6.nextHops, [ibgpV6]);
      assert.equal(got.i6.localPref, 250);
      assert.deepEqual(got.i6.communities, ['65000:60']);
      // LOCAL_PREF is never sent to an eBGP peer: the receiver shows no value or its default.
      assert.ok(got.e4.localPref === undefined || got.e4.localPref === 100, `eBGP route has local-pref ${got.e4.localPref}`);

      await s.withdraw('ebgp', e4);
      await s.withdraw('ebgp', e6);
      await s.withdraw('ibgp', i4);
      await s.withdraw('ibgp', i6);
      await waitFor(async () => (await d!.rib('ipv4')).length === 0 && (await d!.rib('ipv6')).length === 0,
        { what: `${kind}'s RIB empty after withdraw`, timeoutMs: 10_000, intervalMs: 100 });
      const sessions = await d.sessions();
      assert.ok(sessions.every((x) => x.state === 'established'), `sessions after withdraw: ${JSON.stringify(sessions)}`);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${kind} output:\n${d?.output().slice(-1500)}\n--- ironlb:\n${s?.output().slice(-1500)}`);
    } finally {
      await s?.close();
      await d?.stop();
    }
  });
}

DAEMON_KINDS.forEach((kind, i) => {
  test(`${kind}: eBGP (IPv4 transport) and iBGP (IPv6 transport) routes of both families appear with their attributes and go on withdraw`, async () => {
    await caseFor(kind, 140 + i);
  });
});
