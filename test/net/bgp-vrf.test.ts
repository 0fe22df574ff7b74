// VRF: a BGPPeer with `vrf` runs its session bound to the VRF device (SO_BINDTODEVICE before the
// SYN), so it reaches a peer only routed inside the VRF, with a source address of the VRF. The
// router (BIRD) is in one namespace; ironlb's namespace has its link enslaved to VRF "red", so the
// default VRF has no route to the router. Needs a kernel with VRF support (CONFIG_NET_VRF);
// without it the test is skipped and says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { Netns, withNamespaces } from '../support/netns.ts';
import { waitFor } from '../support/wait.ts';
import { Bird, IronlbSpeaker, link } from '../support/peers/index.ts';
import { validateConfig, type ParsedConfig } from '../../src/api/index.ts';
import { peerConfigFor } from '../../src/speaker/bgp-reconciler.ts';
import type { PeerConfig } from '../../src/bgp/index.ts';

const WATCH_MS = 2000;

/** Whether this kernel can create a VRF device (checked in a namespace of our own). */
async function vrfSupport(): Promise<string | undefined> {
  const ns = await Netns.create('ilbv');
  try {
    await ns.ip('link', 'add', 'v', 'type', 'vrf', 'table', '10');
    return undefined;
  } catch (err) {
    return `this kernel cannot create VRF devices (CONFIG_NET_VRF): "ip link add v type vrf table 10" failed: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    await ns.destroy();
  }
}

function peerFromCrd(name: string, spec: Record<string, unknown>): PeerConfig {
  const r = validateConfig([{ kind: 'BGPPeer', metadata: { name, namespace: 'ironlb-system' }, spec: { myASN: 65001, peerASN: 65000, connectTime: '1s', ...spec } }]);
  assert.deepEqual(r.errors, []);
  const cfg = peerConfigFor((r.config as ParsedConfig).bgpPeers.get(name)!, { nodeName: 'n1', labels: {}, preserveOnShutdown: false });
  assert.ok(!('message' in cfg), JSON.stringify(cfg));
  return cfg;
}

test('VRF: a BGPPeer with vrf is bound to the VRF device, sources from the VRF and establishes; without vrf it cannot reach the peer', async (t) => {
  const missing = await vrfSupport();
  if (missing) {
    t.skip(missing);
    return;
  }
  await withNamespaces('ilbg', 2, async ([a, b]) => {
    const net = 184;
    const l = await link(a!, b!, net);
    // eth0 (and its connected routes) into VRF red: the default VRF has no route to the router.
    await b!.ip('link', 'add', 'red', 'type', 'vrf', 'table', '10');
    await b!.ip('link', 'set', 'red', 'up');
    await b!.ip('link', 'set', 'eth0', 'master', 'red');
    let bird: Bird | undefined;
    let s: IronlbSpeaker | undefined;
    try {
      bird = await Bird.start(a!, { asn: 65000, routerId: l.a4, localAddress: l.a4, neighbors: [{ address: l.b4, asn: 65001, passive: true }] });
      s = await IronlbSpeaker.start(b!, { routerId: l.b4, listen: false });
      const inVrf = peerFromCrd('in-vrf', { peerAddress: l.a4, vrf: 'red' });
      assert.equal(inVrf.device, 'red', 'vrf becomes the session device');
      assert.equal(inVrf.localAddress, undefined, 'no source address given: the VRF gives it');
      await s.addPeer({ ...inVrf, routerId: l.b4 });
      await s.announce('in-vrf', `10.${net}.1.1/32`);
      await s.established('in-vrf');
      assert.equal((await s.peerStatus('in-vrf')).localAddress, l.b4, 'source address: the VRF interface\'s');
      const e = await waitFor(async () => (await bird!.rib('ipv4')).find((x) => x.prefix === `10.${net}.1.1/32`), { what: 'route over the VRF session at BIRD', timeoutMs: 20_000 });
      assert.deepEqual(e.nextHops, [l.b4]);
      // The same peer without vrf: the default VRF has no route to it, so it never establishes.
      await s.removePeer('in-vrf');
      await s.addPeer({ ...peerFromCrd('no-vrf', { peerAddress: l.a4 }), routerId: l.b4 });
      const deadline = Date.now() + WATCH_MS;
      let rounds = 0;
      while (Date.now() < deadline && rounds++ < 50) {
        assert.notEqual((await s.peerStatus('no-vrf')).state, 'Established', 'established outside the VRF');
        await delay(100);
      }
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- bird:\n${bird?.output().slice(-1000)}\n--- ironlb:\n${s?.output().slice(-1500)}`);
    } finally {
      await s?.close();
      await bird?.stop();
    }
  });
});
