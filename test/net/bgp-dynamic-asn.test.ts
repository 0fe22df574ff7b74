// Dynamic ASN (MetalLB's dynamicASN) against real peers: a session configured with
// `dynamicAsn: internal` takes the peer's AS from its OPEN when it is our own (iBGP: LOCAL_PREF,
// empty AS_PATH), `external` when it is another (eBGP: our AS on the path); the wrong kind is
// refused with OPEN Message Error / Bad Peer AS (2/2) and never establishes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { withNamespaces } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';
import { Bird, IronlbSpeaker, link, sessionState, startDaemon, type DaemonKind, type PeerDaemon } from '../support/peers/index.ts';

const WATCH_MS = 3000;

async function dynamicCase(kind: DaemonKind, net: number): Promise<void> {
  await withNamespaces('ilbg', 2, async ([a, b]) => {
    const l = await link(a!, b!, net, 2);
    const ibgpAddr = l.b4;
    const ebgpAddr = l.extraB[0]!.v4;
    const wrongAddr = l.extraB[1]!.v4;
    let d: PeerDaemon | undefined;
    let s: IronlbSpeaker | undefined;
    try {
      // The daemon (AS 65000) knows each of ironlb's addresses with a fixed AS; ironlb knows none.
      d = await startDaemon(kind, a!, {
        asn: 65000, routerId: l.a4, localAddress: l.a4,
        neighbors: [
          { address: ibgpAddr, asn: 65000, passive: true },
          { address: ebgpAddr, asn: 65001, passive: true },
          { address: wrongAddr, asn: 65002, passive: true },
        ],
      });
      s = await IronlbSpeaker.start(b!, { routerId: ibgpAddr, listen: false });
      const common = { peerAddress: l.a4, connectRetryTime: 1, families: ['IPv4' as const] };
      await s.addPeer({ name: 'int', localAsn: 65000, dynamicAsn: 'internal', localAddress: ibgpAddr, routerId: ibgpAddr, ...common });
      await s.addPeer({ name: 'ext', localAsn: 65001, dynamicAsn: 'external', localAddress: ebgpAddr, routerId: ebgpAddr, ...common });
      // ironlb says "internal" (AS 65002 for itself) but the daemon speaks AS 65000: refused.
      await s.addPeer({ name: 'wrong', localAsn: 65002, dynamicAsn: 'internal', localAddress: wrongAddr, routerId: wrongAddr, ...common });
      await s.announce('int', `10.${net}.1.1/32`, { localPref: 300 });
      await s.announce('ext', `10.${net}.2.2/32`);
      await s.announce('wrong', `10.${net}.3.3/32`);
      await s.established('int');
      await s.established('ext');
      assert.equal((await s.peerStatus('int')).peerAsn, 65000, 'AS learned from the iBGP OPEN');
      assert.equal((await s.peerStatus('ext')).peerAsn, 65000, 'AS learned from the eBGP OPEN');
      const rib = await waitFor(async () => {
        const r = await d!.rib('ipv4');
        return r.some((e) => e.prefix === `10.${net}.1.1/32`) && r.some((e) => e.prefix === `10.${net}.2.2/32`) ? r : undefined;
      }, { what: `both dynamic-ASN routes at ${kind}`, timeoutMs: 20_000 });
      const ibgpRoute = rib.find((e) => e.prefix === `10.${net}.1.1/32`)!;
      assert.equal(ibgpRoute.localPref, 300, 'iBGP: LOCAL_PREF sent');
      assert.deepEqual(ibgpRoute.nextHops, [ibgpAddr]);
      assert.deepEqual(rib.find((e) => e.prefix === `10.${net}.2.2/32`)!.nextHops, [ebgpAddr]);
      // The wrong kind: ironlb sends 2/2 and neither side ever reaches Established.
      const st = await waitFor(async () => {
        const x = await s!.peerStatus('wrong');
        return /Bad Peer AS/.test(x.lastError ?? '') ? x : undefined;
      }, { what: 'ironlb refusing the daemon AS on a dynamicAsn internal session', timeoutMs: 20_000 });
      assert.match(st.lastError ?? '', /sent NOTIFICATION OPEN Message Error\/Bad Peer AS \(2\/2\): peer AS 65000 is not our AS 65002/);
      if (d instanceof Bird) {
        const lines = await d.command(`show protocols all ${d.neighborProtocol(wrongAddr)}`);
        assert.ok(lines.some((x) => /Last error:\s+Received: Bad peer AS/i.test(x)), `BIRD's last error: ${lines.join(' | ')}`);
      }
      const deadline = Date.now() + WATCH_MS;
      let rounds = 0;
      while (Date.now() < deadline && rounds++ < 100) {
        assert.notEqual(await sessionState(d, wrongAddr), 'established', `${kind} established with the wrong dynamic ASN kind`);
        await delay(200);
      }
      assert.ok(!s.states.some((e) => e.peer === 'wrong' && e.state === 'Established'), 'ironlb reported Established for the wrong kind');
      assert.ok(!(await d.rib('ipv4')).some((e) => e.prefix === `10.${net}.3.3/32`), 'a route crossed the refused session');
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${kind}:\n${d?.output().slice(-1500)}\n--- ironlb:\n${s?.output().slice(-1500)}`);
    } finally {
      await s?.close();
      await d?.stop();
    }
  });
}

test('dynamic ASN with BIRD: internal and external establish with the right attributes; the wrong kind gets Bad Peer AS', () => dynamicCase('bird', 180));
test('dynamic ASN with GoBGP: internal and external establish with the right attributes; the wrong kind gets Bad Peer AS', () => dynamicCase('gobgp', 181));
