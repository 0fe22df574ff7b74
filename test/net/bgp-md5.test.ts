// TCP MD5 (RFC 2385) against BIRD, FRR and GoBGP: the right key establishes and carries routes;
// a wrong key never establishes (watched on both sides for several connect-retry rounds).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { withNamespaces } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';
import { IronlbSpeaker, link, sessionState, startDaemon, type DaemonKind, type PeerDaemon } from '../support/peers/index.ts';

const WATCH_MS = 4000;

async function md5Case(kind: DaemonKind, net: number): Promise<void> {
  await withNamespaces('ilbg', 2, async ([a, b]) => {
    const l = await link(a!, b!, net, 1);
    const good = l.b4;
    const bad = l.extraB[0]!.v4;
    let d: PeerDaemon | undefined;
    let s: IronlbSpeaker | undefined;
    try {
      d = await startDaemon(kind, a!, {
        asn: 65000, routerId: l.a4, localAddress: l.a4,
        neighbors: [
          { address: good, asn: 65001, password: 's3cret-one', passive: true },
          { address: bad, asn: 65001, password: 's3cret-two', passive: true },
        ],
      });
      s = await IronlbSpeaker.start(b!, { routerId: good, listen: false });
      await s.addPeer({ name: 'good', localAsn: 65001, peerAsn: 65000, peerAddress: l.a4, localAddress: good, password: 's3cret-one', connectRetryTime: 1, families: ['IPv4'] });
      await s.addPeer({ name: 'bad', localAsn: 65001, peerAsn: 65000, peerAddress: l.a4, localAddress: bad, password: 'not-the-key', connectRetryTime: 1, families: ['IPv4'] });
      await s.announce('good', `10.${net}.5.5/32`);
      await s.announce('bad', `10.${net}.6.6/32`);
      await s.established('good');
      await waitFor(async () => (await d!.rib('ipv4')).some((e) => e.prefix === `10.${net}.5.5/32`), { what: `route over the MD5 session at ${kind}` });
      // The wrong key: the daemon's kernel drops the SYNs, so nothing ever establishes.
      const deadline = Date.now() + WATCH_MS;
      let rounds = 0;
      while (Date.now() < deadline && rounds++ < 100) {
        assert.notEqual(await sessionState(d, bad), 'established', `${kind} established with a wrong MD5 key`);
        assert.notEqual((await s.peerStatus('bad')).state, 'Established', `ironlb established with a wrong MD5 key to ${kind}`);
        await delay(200);
      }
      assert.ok(!s.states.some((e) => e.peer === 'bad' && e.state === 'Established'), 'ironlb reported Established for the wrong key');
      assert.ok(!(await d.rib('ipv4')).some((e) => e.prefix === `10.${net}.6.6/32`), 'a route crossed the wrong-key session');
      // The connection attempts really happened (so "never established" means refused, not idle).
      const st = await s.peerStatus('bad');
      assert.ok(st.state !== 'Idle' || st.lastError, `wrong-key peer never tried: ${JSON.stringify(st)}`);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${kind}:\n${d?.output().slice(-1000)}\n--- ironlb:\n${s?.output().slice(-1500)}`);
    } finally {
      await s?.close();
      await d?.stop();
    }
  });
}

test('MD5 with BIRD: right key establishes, wrong key never does', () => md5Case('bird', 170));
test('MD5 with FRR: right key establishes, wrong key never does', () => md5Case('frr', 171));
test('MD5 with GoBGP: right key establishes, wrong key never does', () => md5Case('gobgp', 172));
test('MD5 with ExaBGP: right key establishes, wrong key never does', () => md5Case('exabgp', 174));

test('MD5 on the listening side: BIRD dials a passive ironlb with the key; a wrong key is refused', async () => {
  await withNamespaces('ilbg', 2, async ([a, b]) => {
    const l = await link(a!, b!, 173, 1);
    const good = l.b4;
    const bad = l.extraB[0]!.v4;
    let d: PeerDaemon | undefined;
    let s: IronlbSpeaker | undefined;
    try {
      s = await IronlbSpeaker.start(b!, { routerId: good, listen: { address: '0.0.0.0', port: 179 } });
      await s.addPeer({ name: 'good', localAsn: 65001, peerAsn: 65000, peerAddress: l.a4, localAddress: good, password: 'k-good', passive: true, families: ['IPv4'] });
      await s.announce('good', '10.173.5.5/32');
      // BIRD dials both of ironlb's addresses; the second with a key ironlb does not have for it.
      d = await startDaemon('bird', a!, {
        asn: 65000, routerId: l.a4, localAddress: l.a4,
        neighbors: [{ address: good, asn: 65001, password: 'k-good' }, { address: bad, asn: 65001, password: 'k-other' }],
      });
      await s.established('good');
      await waitFor(async () => (await d!.rib('ipv4')).some((e) => e.prefix === '10.173.5.5/32'), { what: 'route over the passive MD5 session' });
      const deadline = Date.now() + WATCH_MS;
      let rounds = 0;
      while (Date.now() < deadline && rounds++ < 100) {
        assert.notEqual(await sessionState(d, bad), 'established', 'BIRD established to an address without a key');
        await delay(200);
      }
    } finally {
      await s?.close();
      await d?.stop();
    }
  });
});
