// Address families per BGPPeer against BIRD and FRR, from the BGPPeer object to the wire
// (validateConfig -> peerConfigFor -> engine in a namespace):
// - disableMP: an IPv4 session carries IPv4 only, though the router offers IPv6 on it too;
// - dualStackAddressFamily: one IPv4 session carries both families, IPv6 with the interface's
//   global IPv6 as next hop;
// - default: the other family only when the session's own interface has an address of it. The
//   node has a global IPv6 on another interface (so the node-wide check says yes); the session's
//   interface has none, so IPv6 is not offered on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withNamespaces } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';
import { IronlbSpeaker, link, startDaemon, type DaemonKind, type PeerDaemon, type RibEntry } from '../support/peers/index.ts';
import { validateConfig, type ParsedConfig } from '../../src/api/index.ts';
import { peerConfigFor } from '../../src/speaker/bgp-reconciler.ts';
import type { PeerConfig } from '../../src/bgp/index.ts';

const NS = 'ironlb-system';

function peerFromCrd(name: string, spec: Record<string, unknown>, localAddress: string): PeerConfig {
  const r = validateConfig([{ kind: 'BGPPeer', metadata: { name, namespace: NS }, spec: { myASN: 65001, peerASN: 65000, connectTime: '1s', ...spec } }]);
  assert.deepEqual(r.errors, []);
  const p = (r.config as ParsedConfig).bgpPeers.get(name)!;
  // A dual-stack node: the node-wide next-hop check finds both families.
  const cfg = peerConfigFor(p, { nodeName: 'n1', labels: {}, address4: localAddress, preserveOnShutdown: false, nextHopFamilies: new Set(['IPv4', 'IPv6'] as const) });
  assert.ok(!('message' in cfg), JSON.stringify(cfg));
  return { ...cfg, localAddress, routerId: localAddress };
}

async function familiesCase(kind: DaemonKind, net: number): Promise<void> {
  await withNamespaces('ilbg', 2, async ([a, b]) => {
    const l = await link(a!, b!, net, 2);
    const mpOff = l.b4;
    const dual = l.extraB[0]!.v4;
    const auto = l.extraB[1]!.v4;
    let d: PeerDaemon | undefined;
    let s: IronlbSpeaker | undefined;
    const has = (rib: RibEntry[], p: string): RibEntry | undefined => rib.find((e) => e.prefix === p);
    try {
      d = await startDaemon(kind, a!, {
        asn: 65000, routerId: l.a4, localAddress: l.a4,
        neighbors: [mpOff, dual, auto].map((address) => ({ address, asn: 65001, passive: true, families: ['ipv4', 'ipv6'] as Array<'ipv4' | 'ipv6'> })),
      });
      s = await IronlbSpeaker.start(b!, { routerId: mpOff, listen: false });
      await s.addPeer(peerFromCrd('mp-off', { peerAddress: l.a4, disableMP: true }, mpOff));
      await s.addPeer(peerFromCrd('dual', { peerAddress: l.a4, dualStackAddressFamily: true }, dual));
      // FRR's bgpd runs without zebra here, so it knows no interfaces and drops an MP_REACH with a
      // link-local next hop (then resets on a parse error, FRR 8.4): give it the global one only.
      const v6Attrs = kind === 'frr' ? { nextHop: { ipv6: l.b6 } } : {};
      for (const [peer, i] of [['mp-off', 1], ['dual', 2]] as const) {
        await s.announce(peer, `10.${net}.${i}.1/32`);
        await s.announce(peer, `fd00:${net}:${i}::1/128`, v6Attrs);
      }
      await s.established('mp-off');
      await s.established('dual');
      assert.deepEqual((await s.peerStatus('mp-off')).negotiated?.families, ['IPv4'], 'disableMP: IPv4 only on the IPv4 session');
      assert.deepEqual((await s.peerStatus('dual')).negotiated?.families, ['IPv4', 'IPv6'], 'dualStackAddressFamily: both');
      const v6 = await waitFor(async () => has(await d!.rib('ipv6'), `fd00:${net}:2::1/128`), { what: `IPv6 route over the dual-stack IPv4 session at ${kind}`, timeoutMs: 20_000 });
      assert.ok(v6.nextHops.some((h) => h.startsWith(`fd00:${net}::`)), `IPv6 next hop: a global address of the session interface, got ${v6.nextHops.join(',')}`);
      const v4 = await waitFor(async () => {
        const r = await d!.rib('ipv4');
        return has(r, `10.${net}.1.1/32`) && has(r, `10.${net}.2.1/32`) ? r : undefined;
      }, { what: `IPv4 routes of both sessions at ${kind}`, timeoutMs: 20_000 });
      assert.deepEqual(has(v4, `10.${net}.1.1/32`)?.nextHops, [mpOff]);
      // Both routes of mp-off went out in the same turn: with its IPv4 there, an IPv6 would be too.
      assert.equal(has(await d.rib('ipv6'), `fd00:${net}:1::1/128`), undefined, 'no IPv6 route over the disableMP session');

      // Per session interface: eth0 loses its global IPv6 addresses; another interface of the
      // node keeps one (so the node-wide check still says "IPv6 next hop available").
      for (const addr of [l.b6, ...l.extraB.map((x) => x.v6)]) await b!.ip('addr', 'del', `${addr}/64`, 'dev', 'eth0');
      await b!.ip('link', 'add', 'x0', 'type', 'veth', 'peer', 'name', 'x1');
      await b!.ip('link', 'set', 'x0', 'up');
      await b!.ip('link', 'set', 'x1', 'up');
      await b!.ip('addr', 'add', `fd00:${net}:99::2/64`, 'dev', 'x0', 'nodad');
      const autoCfg = peerFromCrd('auto', { peerAddress: l.a4 }, auto);
      assert.deepEqual(autoCfg.families, ['IPv4', 'IPv6'], 'the node-wide check offers both');
      await s.addPeer(autoCfg);
      await s.announce('auto', `10.${net}.3.1/32`);
      await s.announce('auto', `fd00:${net}:3::1/128`);
      await s.established('auto');
      assert.deepEqual((await s.peerStatus('auto')).negotiated?.families, ['IPv4'], 'IPv6 not offered: the session interface (eth0) has no global IPv6');
      await waitFor(async () => has(await d!.rib('ipv4'), `10.${net}.3.1/32`), { what: `IPv4 route of the default session at ${kind}`, timeoutMs: 20_000 });
      assert.equal(has(await d.rib('ipv6'), `fd00:${net}:3::1/128`), undefined, 'no IPv6 route without an IPv6 next hop on the session interface');
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${kind}:\n${d?.output().slice(-1500)}\n--- ironlb:\n${s?.output().slice(-1500)}`);
    } finally {
      await s?.close();
      await d?.stop();
    }
  });
}

test('address families with BIRD: disableMP, dualStackAddressFamily, and the per-interface default', () => familiesCase('bird', 182));
test('address families with FRR: disableMP, dualStackAddressFamily, and the per-interface default', () => familiesCase('frr', 183));
