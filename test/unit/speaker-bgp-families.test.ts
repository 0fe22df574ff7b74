// Address families per session: every session carries its peer's family, and the other family too
// (MP-BGP) when the node has a next hop for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { validateConfig, type ParsedConfig } from '../../src/api/index.ts';
import type { BgpEngine, PeerConfig, RouteAttributes } from '../../src/bgp/index.ts';
import type { BfdManager } from '../../src/bfd/index.ts';
import { BgpReconciler, peerConfigFor, sessionFamilies, type BgpNodeContext } from '../../src/speaker/bgp-reconciler.ts';
import type { BgpRoute } from '../../src/speaker/decide.ts';

const ns = 'ironlb-system';
function config(): ParsedConfig {
  const r = validateConfig([
    { kind: 'IPPool', metadata: { name: 'p1' }, spec: { addresses: ['10.0.0.100-10.0.0.120', 'fd00::100/124'] } },
    { kind: 'BGPPeer', metadata: { name: 'v4', namespace: ns }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '10.0.0.1' } },
    { kind: 'BGPPeer', metadata: { name: 'v6', namespace: ns }, spec: { myASN: 64512, peerASN: 64500, peerAddress: 'fd00::1' } },
  ]);
  assert.deepEqual(r.errors, []);
  return r.config as ParsedConfig;
}

const ctx = (fams: Array<'IPv4' | 'IPv6'> | undefined): BgpNodeContext => ({ nodeName: 'n1', labels: {}, address4: '10.0.0.11', preserveOnShutdown: false, ...(fams ? { nextHopFamilies: new Set(fams) } : {}) });

test('session families: the peer\'s own, plus the other when the node has a next hop for it', () => {
  const c = config();
  const v4 = c.bgpPeers.get('v4');
  const v6 = c.bgpPeers.get('v6');
  assert.ok(v4 && v6);
  const table: Array<[string, Array<'IPv4' | 'IPv6'> | undefined, Array<'IPv4' | 'IPv6'>, Array<'IPv4' | 'IPv6'>]> = [
    ['unknown next hops: own family only', undefined, ['IPv4'], ['IPv6']],
    ['IPv4 only on the node', ['IPv4'], ['IPv4'], ['IPv4', 'IPv6']],
    ['IPv6 only on the node', ['IPv6'], ['IPv4', 'IPv6'], ['IPv6']],
    ['dual-stack node: both everywhere', ['IPv4', 'IPv6'], ['IPv4', 'IPv6'], ['IPv4', 'IPv6']],
  ];
  for (const [why, fams, want4, want6] of table) {
    assert.deepEqual(sessionFamilies(v4, ctx(fams)), want4, `v4 peer, ${why}`);
    assert.deepEqual(sessionFamilies(v6, ctx(fams)), want6, `v6 peer, ${why}`);
  }
  const cfg = peerConfigFor(v4, ctx(['IPv4', 'IPv6']));
  assert.ok(!('message' in cfg));
  assert.deepEqual(cfg.families, ['IPv4', 'IPv6']);
});

test('session families per BGPPeer: disableMP (own family only), dualStackAddressFamily (both always), default (both, checked per session interface)', () => {
  const r = validateConfig([
    { kind: 'BGPPeer', metadata: { name: 'mp-off', namespace: ns }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '10.0.0.1', disableMP: true } },
    { kind: 'BGPPeer', metadata: { name: 'dual', namespace: ns }, spec: { myASN: 64512, peerASN: 64500, peerAddress: 'fd00::1', dualStackAddressFamily: true } },
    { kind: 'BGPPeer', metadata: { name: 'auto', namespace: ns }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '10.0.0.1' } },
  ]);
  assert.deepEqual(r.errors, []);
  const c = r.config as ParsedConfig;
  const get = (n: string): PeerConfig => {
    const x = peerConfigFor(c.bgpPeers.get(n)!, ctx(['IPv4', 'IPv6']));
    assert.ok(!('message' in x), JSON.stringify(x));
    return x;
  };
  assert.deepEqual(get('mp-off').families, ['IPv4'], 'disableMP: only the session family, even on a dual-stack node');
  assert.equal(get('mp-off').familiesFromInterface, undefined);
  assert.deepEqual(sessionFamilies(c.bgpPeers.get('dual')!, ctx(['IPv6'])), ['IPv4', 'IPv6'], 'dualStackAddressFamily: both, even on a node with no IPv4 next hop');
  assert.equal(get('dual').familiesFromInterface, undefined, 'dual stack: no interface check');
  assert.deepEqual(get('auto').families, ['IPv4', 'IPv6']);
  assert.equal(get('auto').familiesFromInterface, true, 'default: the engine checks the session interface');
  const both = validateConfig([{ kind: 'BGPPeer', metadata: { name: 'x', namespace: ns }, spec: { myASN: 1, peerASN: 2, peerAddress: '10.0.0.1', disableMP: true, dualStackAddressFamily: true } }]);
  assert.match(both.errors.map((e) => e.message).join('; '), /exclude each other/);
});

test('vrf becomes the session device; an unnumbered peer (interface) runs over the interface with both families', () => {
  const r = validateConfig([
    { kind: 'BGPPeer', metadata: { name: 'red', namespace: ns }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '10.0.0.1', vrf: 'red' } },
    { kind: 'BGPPeer', metadata: { name: 'unnumbered', namespace: ns }, spec: { myASN: 64512, dynamicASN: 'external', interface: 'eth1' } },
  ]);
  assert.deepEqual(r.errors, []);
  const c = r.config as ParsedConfig;
  const red = peerConfigFor(c.bgpPeers.get('red')!, ctx(['IPv4']));
  assert.ok(!('message' in red));
  assert.equal(red.device, 'red');
  assert.equal(c.bgpPeers.get('unnumbered')!.family, 'IPv6', 'unnumbered sessions are IPv6 link-local');
  for (const fams of [['IPv4'] as Array<'IPv4' | 'IPv6'>, ['IPv6'] as Array<'IPv4' | 'IPv6'>, undefined]) {
    const un = peerConfigFor(c.bgpPeers.get('unnumbered')!, ctx(fams));
    assert.ok(!('message' in un), JSON.stringify(un));
    assert.equal(un.interface, 'eth1');
    assert.equal(un.peerAddress, undefined, 'the engine learns the address on the link');
    assert.equal(un.dynamicAsn, 'external');
    // IPv4 goes with the IPv6 link-local next hop (RFC 8950), whatever the node's addresses.
    assert.deepEqual(un.families, ['IPv4', 'IPv6']);
    assert.equal(un.familiesFromInterface, undefined);
    assert.equal(un.routerId, '10.0.0.11', 'router ID from the node InternalIP');
  }
});

/** Records what the reconciler asks of the engine (the engine itself is tested in test/unit/bgp-*). */
class FakeEngine extends EventEmitter {
  peers = new Map<string, PeerConfig>();
  routes = new Map<string, string[]>();
  updates = 0;
  addPeer(cfg: PeerConfig): void {
    this.peers.set(cfg.name, cfg);
  }
  async updatePeer(cfg: PeerConfig): Promise<void> {
    this.updates++;
    this.peers.set(cfg.name, cfg);
  }
  async removePeer(name: string): Promise<void> {
    this.peers.delete(name);
  }
  setRoutes(name: string, m: ReadonlyMap<string, RouteAttributes>): void {
    this.routes.set(name, [...m.keys()].sort());
  }
}

test('reconciler: IPv6 service routes go over the IPv4 session when the node has an IPv6 next hop, and back off when it has none', async () => {
  const engine = new FakeEngine();
  const r = new BgpReconciler({ engine: engine as unknown as BgpEngine, bfd: () => assert.fail('no BFD profile here') as unknown as BfdManager });
  const route: BgpRoute = { communities: [], largeCommunities: [], services: ['default/s'] };
  const routes = new Map([
    ['v4', new Map([['10.0.0.100/32', route], ['fd00::100/128', route]])],
    ['v6', new Map([['10.0.0.100/32', route], ['fd00::100/128', route]])],
  ]);
  await r.apply(config(), ctx(['IPv4', 'IPv6']), routes);
  assert.deepEqual(engine.peers.get('v4')?.families, ['IPv4', 'IPv6']);
  assert.deepEqual(engine.routes.get('v4'), ['10.0.0.100/32', 'fd00::100/128']);
  assert.deepEqual(engine.routes.get('v6'), ['10.0.0.100/32', 'fd00::100/128']);

  // The same input again changes nothing (no session reset).
  await r.apply(config(), ctx(['IPv4', 'IPv6']), routes);
  assert.equal(engine.updates, 0);

  // The IPv6 address goes away: each session keeps its own family's routes only.
  await r.apply(config(), ctx(['IPv4']), routes);
  assert.deepEqual(engine.peers.get('v4')?.families, ['IPv4']);
  assert.deepEqual(engine.routes.get('v4'), ['10.0.0.100/32']);
  assert.deepEqual(engine.peers.get('v6')?.families, ['IPv4', 'IPv6']);
  assert.deepEqual(engine.routes.get('v6'), ['10.0.0.100/32', 'fd00::100/128']);
  assert.equal(engine.updates, 1, 'only the session whose families changed is updated');
});

test('reconciler: applies queued behind a slow one send the newest routes with every change noted meanwhile (none lost)', async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((res) => { release = res; });
  class SlowEngine extends FakeEngine {
    block = false;
    override async updatePeer(cfg: PeerConfig): Promise<void> {
      if (this.block) await gate;
      await super.updatePeer(cfg);
    }
    updateRoutes(name: string, delta: ReadonlyMap<string, RouteAttributes | null>): void {
      const now = new Set(this.routes.get(name) ?? []);
      for (const [p, a] of delta) if (a === null) now.delete(p); else now.add(p);
      this.routes.set(name, [...now].sort());
    }
  }
  const engine = new SlowEngine();
  const r = new BgpReconciler({ engine: engine as unknown as BgpEngine, bfd: () => assert.fail('no BFD profile here') as unknown as BfdManager });
  const none = new Map<string, Map<string, BgpRoute>>();
  await r.apply(config(), ctx(['IPv4', 'IPv6']), none, 'all');
  assert.deepEqual(engine.routes.get('v4'), []);
  // A session change that takes a while (the engine's updatePeer), then, while it runs, a rebuild
  // with no routes yet and the change that brings the Service's route.
  engine.block = true;
  const a = r.apply(config(), ctx(['IPv4']), none, 'all');
  await new Promise((res) => setImmediate(res));
  const b = r.apply(config(), ctx(['IPv4']), none, 'all');
  const route: BgpRoute = { communities: [], largeCommunities: [], services: ['default/s'] };
  const c = r.apply(config(), ctx(['IPv4']), new Map([['v4', new Map([['10.0.0.100/32', route]])], ['v6', new Map([['10.0.0.100/32', route]])]]), new Map([['v4', new Set(['10.0.0.100/32'])], ['v6', new Set(['10.0.0.100/32'])]]));
  release();
  await Promise.all([a, b, c]);
  assert.deepEqual(engine.routes.get('v4'), ['10.0.0.100/32'], 'the route of the last change reached the engine');
  assert.deepEqual(engine.routes.get('v6'), ['10.0.0.100/32']);
});
