// BGP unnumbered against FRR and BIRD, from the BGPPeer object to the router's kernel: a MetalLB
// FRR-mode BGPPeer with `interface` and dynamicASN, migrated by `ironlb migrate`, on a link with no address
// but the IPv6 link-local ones. The session runs between the link-local addresses; the router
// installs the IPv4 route via the IPv6 link-local next hop (RFC 8950) and the IPv6 route; a
// withdrawn route and a removed peer's routes leave the router's table.
// - FRR (`neighbor eth0 interface`, with zebra): learns our address from our RAs; we learn its
//   from its RAs and connect.
// - BIRD (`neighbor fe80::..%eth0`, no RAs): connects to us; we learn it from that connection.
//   Until then the peer's status says what it waits for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { veth, withNamespaces, type Netns } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';
import { IronlbSpeaker, startDaemon, type DaemonKind, type PeerDaemon } from '../support/peers/index.ts';
import { validateConfig, type ParsedConfig } from '../../src/api/index.ts';
import { peerConfigFor } from '../../src/speaker/bgp-reconciler.ts';
import { migrate, readObjects } from '../../src/migrate/index.ts';
import type { PeerConfig } from '../../src/bgp/index.ts';

/** The interface's link-local address once duplicate address detection has finished. */
async function linkLocal(ns: Netns, dev: string): Promise<string> {
  return waitFor(async () => {
    const out = await ns.ip('-6', '-o', 'addr', 'show', 'dev', dev, 'scope', 'link');
    if (out.includes('tentative')) return undefined;
    return /inet6 (fe80:[0-9a-f:]+)\//.exec(out)?.[1];
  }, { what: `link-local address of ${dev} in ${ns.name}`, timeoutMs: 10_000, intervalMs: 100 });
}

function peerFromCrd(name: string, spec: Record<string, unknown>, routerId: string): PeerConfig {
  const r = validateConfig([{ kind: 'BGPPeer', metadata: { name, namespace: 'ironlb-system' }, spec: { myASN: 65001, connectTime: '1s', ...spec } }]);
  assert.deepEqual(r.errors, []);
  const cfg = peerConfigFor((r.config as ParsedConfig).bgpPeers.get(name)!, { nodeName: 'n1', labels: {}, address4: routerId, preserveOnShutdown: false });
  assert.ok(!('message' in cfg), JSON.stringify(cfg));
  return cfg;
}

/** A MetalLB FRR-mode unnumbered BGPPeer, through `ironlb migrate`, validated, as the speaker configures it. */
function peerFromMetallb(routerId: string): PeerConfig {
  const metallb = `
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: { name: tor, namespace: metallb-system }
spec: { myASN: 65001, dynamicASN: external, interface: eth0, connectTime: 1s }
`;
  const m = migrate('metallb', readObjects(metallb, 'metallb.yaml'));
  assert.deepEqual(m.warnings, []);
  const r = validateConfig(m.objects as never[]);
  assert.deepEqual(r.errors, []);
  const cfg = peerConfigFor((r.config as ParsedConfig).bgpPeers.get('tor')!, { nodeName: 'n1', labels: {}, address4: routerId, preserveOnShutdown: false });
  assert.ok(!('message' in cfg), JSON.stringify(cfg));
  return cfg;
}

async function unnumberedCase(kind: DaemonKind, net: number): Promise<void> {
  await withNamespaces('ilbu', 2, async ([a, b]) => {
    // Router in a, ironlb in b; eth0 has nothing but link-local addresses on either side.
    await veth(a!, 'eth0', b!, 'eth0');
    const [llA, llB] = [await linkLocal(a!, 'eth0'), await linkLocal(b!, 'eth0')];
    const v4 = `10.${net}.1.1/32`;
    const v4b = `10.${net}.2.1/32`;
    const v6 = `fd00:${net}:1::1/128`;
    let d: PeerDaemon | undefined;
    let s: IronlbSpeaker | undefined;
    const route = async (family: '-4' | '-6', prefix: string): Promise<string> => (await a!.ip(family, 'route', 'show', prefix.replace(/\/(32|128)$/, ''))).trim();
    try {
      s = await IronlbSpeaker.start(b!, { routerId: `10.${net}.255.2` });
      const cfg = peerFromMetallb(`10.${net}.255.2`);
      assert.equal(cfg.interface, 'eth0');
      assert.deepEqual(cfg.families, ['IPv4', 'IPv6'], 'unnumbered sessions carry both families');
      await s.addPeer(cfg, new Map([[v4, {}], [v4b, {}], [v6, {}]]));
      // No router yet: the status says what the session waits for.
      await waitFor(async () => /no BGP neighbour heard on eth0 yet/.test((await s!.peerStatus('tor')).lastError ?? ''), { what: 'status naming the missing neighbour', timeoutMs: 10_000 });

      d = await startDaemon(kind, a!, {
        asn: 65000, routerId: `10.${net}.255.1`, localAddress: '::',
        neighbors: [{ address: llB, interface: 'eth0', asn: 65001, families: ['ipv4', 'ipv6'] }],
      }, { frr: { zebra: true, preamble: ['log stdout debugging', 'debug bgp neighbor-events'] }, bird: { kernelEcmp: true } });
      await s.established('tor', 30_000);
      const st = await s.peerStatus('tor');
      assert.equal(st.peerAddress, `${llA}%eth0`, 'the peer address learned on the link');
      assert.equal(st.interface, 'eth0');
      assert.equal(st.peerAsn, 65000, 'dynamic ASN learned from the OPEN');
      assert.equal(st.localAddress, `${llB}%eth0`);
      assert.equal(st.negotiated?.extendedNextHop, true, 'RFC 8950 negotiated');
      assert.deepEqual(st.negotiated?.families, ['IPv4', 'IPv6']);

      // The router's kernel: IPv4 via the IPv6 link-local (RTA_VIA), IPv6 via the link-local.
      const r4 = await waitFor(async () => {
        const r = await route('-4', v4);
        return r.includes(`via inet6 ${llB} dev eth0`) ? r : undefined;
      }, { what: `${kind} installs ${v4} via inet6 ${llB}`, timeoutMs: 20_000 });
      assert.match(r4, new RegExp(`proto (bgp|bird)`));
      await waitFor(async () => (await route('-6', v6)).includes(`via ${llB} dev eth0`), { what: `${kind} installs ${v6} via ${llB}`, timeoutMs: 20_000 });
      const rib = await d.rib('ipv4');
      assert.ok(rib.find((e) => e.prefix === v4)?.nextHops.some((h) => h.startsWith('fe80:') || h === '::'), `router's RIB has ${v4} with an IPv6 next hop: ${JSON.stringify(rib)}`);

      // Withdraw one IPv4 route (MP_UNREACH_NLRI, AFI 1), then remove the peer: all gone.
      await s.withdraw('tor', v4);
      await waitFor(async () => (await route('-4', v4)) === '', { what: `${kind} removes withdrawn ${v4}`, timeoutMs: 20_000 });
      assert.notEqual(await route('-4', v4b), '', 'the other IPv4 route stays');
      await s.removePeer('tor');
      await waitFor(async () => (await route('-4', v4b)) === '' && (await route('-6', v6)) === '', { what: `${kind} removes the routes of the removed peer`, timeoutMs: 20_000 });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- ${kind}:\n${d?.output().slice(-6000)}\n--- ironlb:\n${s?.output().slice(-2500)}`);
    } finally {
      await s?.close();
      await d?.stop();
    }
  });
}

test('BGP unnumbered with FRR: the router, then the node, gets a new link-local address; the session comes back between the new addresses', async () => {
  await withNamespaces('ilbu', 2, async ([a, b]) => {
    await veth(a!, 'eth0', b!, 'eth0');
    const [llA, llB] = [await linkLocal(a!, 'eth0'), await linkLocal(b!, 'eth0')];
    const net = 193;
    const v4 = `10.${net}.1.1/32`;
    let d: PeerDaemon | undefined;
    let s: IronlbSpeaker | undefined;
    try {
      d = await startDaemon('frr', a!, {
        asn: 65000, routerId: `10.${net}.255.1`, localAddress: '::',
        neighbors: [{ address: llB, interface: 'eth0', asn: 65001, families: ['ipv4', 'ipv6'], holdTime: 6 }],
      }, { frr: { zebra: true } });
      s = await IronlbSpeaker.start(b!, { routerId: `10.${net}.255.2` });
      await s.addPeer(peerFromCrd('tor', { interface: 'eth0', dynamicASN: 'external', holdTime: '6s', keepaliveTime: '2s' }, `10.${net}.255.2`), new Map([[v4, {}]]));
      await s.established('tor', 30_000);
      assert.equal((await s.peerStatus('tor')).peerAddress, `${llA}%eth0`);
      // The router's side of the link changes its address (a replaced router, a new MAC).
      const fresh = 'fe80::a:193';
      await a!.ip('-6', 'addr', 'add', `${fresh}/64`, 'dev', 'eth0', 'nodad');
      await a!.ip('-6', 'addr', 'del', `${llA}/64`, 'dev', 'eth0');
      await waitFor(async () => {
        const st = await s!.peerStatus('tor');
        return st.state === 'Established' && st.peerAddress === `${fresh}%eth0`;
      }, { what: `session re-established with the router's new address ${fresh}`, timeoutMs: 60_000, intervalMs: 200 });
      await waitFor(async () => (await a!.ip('-4', 'route', 'show', v4.replace('/32', ''))).includes(`via inet6 ${llB} dev eth0`), { what: `${v4} installed again`, timeoutMs: 20_000 });
      // Now our side: FRR learns our new address from our next RA (sent at once when we notice).
      const ours = 'fe80::b:193';
      await b!.ip('-6', 'addr', 'add', `${ours}/64`, 'dev', 'eth0', 'nodad');
      await b!.ip('-6', 'addr', 'del', `${llB}/64`, 'dev', 'eth0');
      await waitFor(async () => {
        const st = await s!.peerStatus('tor');
        return st.state === 'Established' && st.localAddress === `${ours}%eth0`;
      }, { what: `session re-established from our new address ${ours}`, timeoutMs: 60_000, intervalMs: 200 });
      await waitFor(async () => (await a!.ip('-4', 'route', 'show', v4.replace('/32', ''))).includes(`via inet6 ${ours} dev eth0`), { what: `${v4} installed via our new address`, timeoutMs: 20_000 });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- frr:\n${d?.output().slice(-2500)}\n--- ironlb:\n${s?.output().slice(-2500)}`);
    } finally {
      await s?.close();
      await d?.stop();
    }
  });
});

test('BGP unnumbered with FRR (neighbor eth0 interface): link-local session, IPv4 via inet6 link-local and IPv6 routes in the kernel, withdrawals', () => unnumberedCase('frr', 191));
test('BGP unnumbered with BIRD (neighbor fe80::..%eth0, extended next hop): learned from its connection, routes in the kernel, withdrawals', () => unnumberedCase('bird', 192));

test('BGP unnumbered with BIRD without extended next hop: IPv6 routes go, IPv4 routes are held back and the status says why', async () => {
  await withNamespaces('ilbu', 2, async ([a, b]) => {
    await veth(a!, 'eth0', b!, 'eth0');
    const llB = await linkLocal(b!, 'eth0');
    await linkLocal(a!, 'eth0');
    const net = 194;
    let d: PeerDaemon | undefined;
    let s: IronlbSpeaker | undefined;
    try {
      s = await IronlbSpeaker.start(b!, { routerId: `10.${net}.255.2` });
      await s.addPeer(peerFromCrd('tor', { interface: 'eth0', peerASN: 65000 }, `10.${net}.255.2`), new Map([[`10.${net}.1.1/32`, {}], [`fd00:${net}:1::1/128`, {}]]));
      d = await startDaemon('bird', a!, {
        asn: 65000, routerId: `10.${net}.255.1`, localAddress: '::',
        neighbors: [{ address: llB, interface: 'eth0', asn: 65001, families: ['ipv4', 'ipv6'], extendedNextHop: false }],
      }, { bird: { kernelEcmp: true } });
      await s.established('tor', 30_000);
      await waitFor(async () => (await a!.ip('-6', 'route', 'show', `fd00:${net}:1::1`)).includes(`via ${llB} dev eth0`), { what: 'the IPv6 route installed', timeoutMs: 20_000 });
      const st = await s.peerStatus('tor');
      assert.equal(st.negotiated?.extendedNextHop, false);
      assert.match((st.notSent ?? []).join('; '), /need the extended next hop capability \(RFC 8950\), which the peer did not offer/);
      assert.equal(st.routesAdvertised, 1, 'only the IPv6 route is on the wire');
      assert.equal(await a!.ip('-4', 'route', 'show', `10.${net}.1.1`), '', 'no IPv4 route at the router');
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- bird:\n${d?.output().slice(-2500)}\n--- ironlb:\n${s?.output().slice(-2500)}`);
    } finally {
      await s?.close();
      await d?.stop();
    }
  });
});
