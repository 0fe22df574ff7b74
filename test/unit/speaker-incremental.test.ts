// Property test: the incremental decider equals decide() (the full recompute) after every step of
// random change sequences (services added, removed and changed, endpoints, nodes lost and back,
// node labels and NetworkUnavailable, configuration), and it reports every view that changed.
// Seeded (no fast-check in the tree): a failure prints the seed and step to replay.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decide, type BgpPolicy, type Decision, type L2Policy, type NodeFacts, type PeerFacts, type ServiceFacts } from '../../src/speaker/decide.ts';
import { IncrementalDecider, type Policies } from '../../src/speaker/incremental.ts';
import { prng } from '../support/prng.ts';

const rng = prng;

const NODES = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

function scenario(seed: number) {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const chance = (p: number): boolean => r() < p;
  const subset = <T>(xs: readonly T[], p: number): T[] => xs.filter(() => chance(p));
  // Few addresses, so services share them (multi-service units) and units come and go.
  const ipPool = [...Array.from({ length: 40 }, (_, i) => `10.0.${i >> 4}.${i & 15}`), '10.1.0.1', '10.1.0.2', 'fd00::1', 'fd00::2', '192.168.9.1'];
  const node = (name: string): NodeFacts => {
    const n: NodeFacts = { name, labels: { 'kubernetes.io/hostname': name, zone: pick(['z1', 'z2']) }, networkUnavailable: chance(0.1) };
    if (chance(0.08)) n.labels = { ...n.labels, 'node.kubernetes.io/exclude-from-external-load-balancers': '' };
    const sub = pick([undefined, ['10.0.0.0/16'], ['10.0.0.0/16', 'fd00::/64'], ['10.1.0.0/24'], []]);
    if (sub !== undefined) n.subnets = sub;
    return n;
  };
  const service = (key: string): ServiceFacts => {
    const ips = chance(0.1) ? [] : chance(0.15) ? [pick(ipPool), pick(ipPool)] : [pick(ipPool)];
    return {
      key,
      labels: { app: pick(['x', 'y']) },
      ips: [...new Set(ips)],
      pool: pick(['p1', 'p2', 'p3']),
      externalTrafficPolicy: chance(0.3) ? 'Local' : 'Cluster',
      endpointNodes: new Set(subset(NODES, 0.4)),
      hasServingEndpoint: chance(0.9),
    };
  };
  const policies = (): Policies => {
    const l2: L2Policy[] = Array.from({ length: pick([0, 1, 1, 2]) }, (_, i) => ({
      name: `l2-${i}`,
      pools: chance(0.3) ? null : new Set(subset(['p1', 'p2', 'p3'], 0.6)),
      nodeSelectors: chance(0.7) ? [] : [{ matchLabels: { zone: pick(['z1', 'z2']) } }],
      serviceSelectors: chance(0.8) ? [] : [{ matchLabels: { app: 'x' } }],
      interfaces: chance(0.7) ? [] : [pick(['eth0', 'eth1'])],
    }));
    const peers: PeerFacts[] = Array.from({ length: pick([0, 1, 2, 3]) }, (_, i) => ({ name: `peer${i}`, nodeSelectors: chance(0.6) ? [] : [{ matchLabels: { zone: pick(['z1', 'z2']) } }] }));
    const bgp: BgpPolicy[] = Array.from({ length: pick([0, 1, 2]) }, (_, i) => {
      const ad: BgpPolicy = {
        name: `bgp-${i}`,
        pools: chance(0.3) ? null : new Set(subset(['p1', 'p2', 'p3'], 0.6)),
        nodeSelectors: chance(0.7) ? [] : [{ matchLabels: { zone: pick(['z1', 'z2']) } }],
        serviceSelectors: chance(0.8) ? [] : [{ matchLabels: { app: 'y' } }],
        communities: subset(['65000:1', '65000:2'], 0.5),
        largeCommunities: subset(['65000:1:1'], 0.3),
        peers: chance(0.6) ? [] : subset(peers.map((p) => p.name), 0.5),
      };
      if (chance(0.4)) ad.localPref = pick([0, 100, 200]);
      if (chance(0.3)) ad.aggregationLength = pick([24, 30]);
      if (chance(0.2)) ad.aggregationLengthV6 = 64;
      return ad;
    });
    return { l2, bgp, peers };
  };
  return { r, pick, chance, node, service, policies };
}

/** "peer prefix" → the route's attributes (what goes on the wire). */
const routeMap = (d: Decision): Map<string, string> => {
  const m = new Map<string, string>();
  for (const [peer, routes] of d.bgp) for (const [prefix, r] of routes) m.set(`${peer} ${prefix}`, JSON.stringify([r.localPref, r.communities, r.largeCommunities]));
  return m;
};
const views = (d: Decision): Map<string, string> => new Map([...d.services].map(([k, v]) => [k, JSON.stringify(v)]));

function run(seed: number, steps: number, stats: { cascades: number; full: number }): void {
  const sc = scenario(seed);
  const self = sc.pick(NODES);
  const loadFactor = sc.pick([1.0, 1.0, 1.25, 2]);
  const inc = new IncrementalDecider(self, loadFactor);
  let pol = sc.policies();
  inc.setPolicies(pol);
  const nodes = new Map<string, NodeFacts>();
  for (const n of NODES) if (sc.chance(0.9)) nodes.set(n, sc.node(n));
  for (const n of nodes.values()) inc.setNode(n);
  let alive = new Set([...nodes.keys()].filter(() => sc.chance(0.85)));
  inc.setAlive(alive);
  const services = new Map<string, ServiceFacts>();
  const nSvc = Math.floor(sc.r() * 60);
  for (let i = 0; i < nSvc; i++) {
    const s = sc.service(`ns/s${i}`);
    services.set(s.key, s);
    inc.setService(s);
  }
  let prev = new Map<string, string>();
  let prevRoutes = new Map<string, string>();
  for (let step = 0; step < steps; step++) {
    const where = `seed ${seed} step ${step}`;
    const res = inc.decide();
    if (res.fullL2) stats.full++;
    else stats.cascades++;
    const full = decide({ self, nodes: [...nodes.values()], alive, services: [...services.values()], ...pol, loadFactor });
    assert.deepStrictEqual(res.decision, full, `incremental differs from decide() at ${where}`);
    const now = views(full);
    const reported = new Set(res.changed);
    for (const keys of res.sharedChanged) for (const k of keys) reported.add(k);
    for (const [k, v] of now) if (prev.get(k) !== v) assert.ok(reported.has(k), `${where}: view of ${k} changed but was not reported`);
    for (const k of prev.keys()) if (!now.has(k)) assert.ok(res.changed.has(k), `${where}: ${k} removed but not reported`);
    prev = now;
    // Every route that changed (attributes, added, removed) is among the reported prefixes.
    const routesNow = routeMap(full);
    if (res.bgpChanges !== 'all') {
      for (const [k, v] of routesNow) if (prevRoutes.get(k) !== v) assert.ok(res.bgpChanges.get(k.split(' ')[0] as string)?.has(k.split(' ')[1] as string), `${where}: route ${k} changed but was not reported`);
      for (const k of prevRoutes.keys()) if (!routesNow.has(k)) assert.ok(res.bgpChanges.get(k.split(' ')[0] as string)?.has(k.split(' ')[1] as string), `${where}: route ${k} removed but not reported`);
    }
    prevRoutes = routesNow;
    // One to three changes per decision.
    const changes = 1 + Math.floor(sc.r() * 3);
    for (let c = 0; c < changes; c++) {
      const op = sc.r();
      if (op < 0.35) {
        const key = `ns/s${Math.floor(sc.r() * 70)}`;
        const s = sc.service(key);
        services.set(key, s);
        inc.setService(s);
      } else if (op < 0.5) {
        const key = sc.pick([...services.keys(), 'ns/none']);
        services.delete(key);
        inc.forgetService(key);
      } else if (op < 0.62) {
        // Endpoints only (the common EndpointSlice change).
        const old = services.get(sc.pick([...services.keys(), 'ns/none']));
        if (!old) continue;
        const s = { ...old, endpointNodes: new Set([...NODES].filter(() => sc.chance(0.4))), hasServingEndpoint: sc.chance(0.9) };
        services.set(s.key, s);
        inc.setService(s);
      } else if (op < 0.78) {
        // A node lost or back (membership).
        const n = sc.pick(NODES);
        alive = new Set(alive);
        if (alive.has(n)) alive.delete(n);
        else alive.add(n);
        inc.setAlive(alive);
      } else if (op < 0.86) {
        const n = sc.pick(NODES);
        const old = nodes.get(n);
        if (old && sc.chance(0.5)) {
          const next = { ...old, networkUnavailable: !old.networkUnavailable };
          nodes.set(n, next);
          inc.setNode(next);
        } else if (old && sc.chance(0.3)) {
          nodes.delete(n);
          inc.forgetNode(n);
        } else {
          const next = sc.node(n);
          nodes.set(n, next);
          inc.setNode(next);
        }
      } else if (op < 0.9) {
        pol = sc.policies();
        inc.setPolicies(pol);
      } else {
        // Same facts again (a no-op update).
        const old = services.get(sc.pick([...services.keys(), 'ns/none']));
        if (old) inc.setService({ ...old });
      }
    }
  }
}

test('incremental decisions equal decide() over random change sequences', () => {
  const stats = { cascades: 0, full: 0 };
  const seeds = Number(process.env.IRONLB_PROPERTY_SEEDS ?? 150);
  const base = Number(process.env.IRONLB_PROPERTY_SEED ?? 1);
  const deadline = Date.now() + 20_000;
  for (let seed = base; seed < base + seeds && Date.now() < deadline; seed++) run(seed, 40, stats);
  // Both paths exercised: cascades (the cap unchanged) and placing everything again.
  assert.ok(stats.cascades > 500, `cascade path taken ${stats.cascades} times`);
  assert.ok(stats.full > 100, `full path taken ${stats.full} times`);
});

test('incremental: many units at the cap (cascades through full nodes) equal decide()', () => {
  // 120 single-address Cluster services on 5 nodes, load factor 1: every node ends at the cap, so
  // a change ripples through later units. Changes keep the unit count (and so the cap) constant.
  const r = rng(7);
  const nodes: NodeFacts[] = ['a', 'b', 'c', 'd', 'e'].map((name) => ({ name, labels: {}, networkUnavailable: false }));
  const alive = new Set(nodes.map((n) => n.name));
  const pol: Policies = { l2: [{ name: 'l2', pools: null, nodeSelectors: [], serviceSelectors: [], interfaces: [] }], bgp: [], peers: [] };
  const mk = (i: number, ip: string, local?: string[]): ServiceFacts => ({
    key: `ns/s${i}`, labels: {}, ips: [ip], pool: 'p', externalTrafficPolicy: local ? 'Local' : 'Cluster', endpointNodes: new Set(local ?? []), hasServingEndpoint: true,
  });
  const services = new Map<string, ServiceFacts>();
  const inc = new IncrementalDecider('a', 1.0);
  inc.setPolicies(pol);
  for (const n of nodes) inc.setNode(n);
  inc.setAlive(alive);
  for (let i = 0; i < 120; i++) {
    const s = mk(i, `10.0.${i >> 8}.${i & 255}`);
    services.set(s.key, s);
    inc.setService(s);
  }
  let cascades = 0;
  for (let step = 0; step < 300; step++) {
    const res = inc.decide();
    if (!res.fullL2) cascades++;
    assert.deepStrictEqual(res.decision, decide({ self: 'a', nodes, alive, services: [...services.values()], ...pol, loadFactor: 1.0 }), `step ${step}`);
    // Move one service to a fresh address (remove one unit, add one) or narrow it to Local.
    const i = Math.floor(r() * 120);
    const local = r() < 0.3 ? ['a', 'b', 'c', 'd', 'e'].filter(() => r() < 0.5) : undefined;
    const s = mk(i, `10.${1 + Math.floor(r() * 3)}.${Math.floor(r() * 256)}.${Math.floor(r() * 256)}`, local);
    if ([...services.values()].some((x) => x.ips[0] === s.ips[0])) continue;
    services.set(s.key, s);
    inc.setService(s);
  }
  assert.ok(cascades > 250, `cascade path taken ${cascades} times`);
});

test('a rebuild in steps (decide with a time budget) keeps the previous decision until complete; changes meanwhile apply after', () => {
  for (let seed = 500; seed < 530; seed++) {
    const sc = scenario(seed);
    const self = sc.pick(NODES);
    const inc = new IncrementalDecider(self);
    let pol = sc.policies();
    inc.setPolicies(pol);
    const nodes = new Map(NODES.map((n) => [n, sc.node(n)] as const));
    for (const n of nodes.values()) inc.setNode(n);
    let alive = new Set(NODES);
    inc.setAlive(alive);
    const services = new Map<string, ServiceFacts>();
    for (let i = 0; i < 400; i++) {
      const s = sc.service(`ns/s${i}`);
      services.set(s.key, s);
      inc.setService(s);
    }
    const full = (): Decision => decide({ self, nodes: [...nodes.values()], alive, services: [...services.values()], ...pol });
    // The first decision in steps: "building" until done, then complete.
    let steps = 0;
    let res = inc.decide({ budgetMs: 0 });
    while (res.more && steps++ < 100_000) {
      if (!res.building) break;
      res = inc.decide({ budgetMs: 0 });
    }
    assert.ok(steps > 1, `seed ${seed}: built in ${steps} steps`);
    assert.deepStrictEqual(res.decision, full(), `seed ${seed}: first decision`);
    const before = full();
    // A configuration change: the previous decision stays while the new one is built; a
    // Service and a node's liveness change meanwhile.
    pol = sc.policies();
    inc.setPolicies(pol);
    res = inc.decide({ budgetMs: 0 });
    assert.ok(res.building, `seed ${seed}: rebuilding`);
    assert.deepStrictEqual(res.decision, before, `seed ${seed}: previous decision kept while building`);
    const s = sc.service('ns/s7');
    services.set(s.key, s);
    inc.setService(s);
    alive = new Set([...alive].filter((n) => n !== NODES[1]));
    inc.setAlive(alive);
    for (steps = 0; (res.more || res.building) && steps < 100_000; steps++) res = inc.decide({ budgetMs: 0 });
    assert.deepStrictEqual(res.decision, full(), `seed ${seed}: after the rebuild and the changes meanwhile`);
  }
});
