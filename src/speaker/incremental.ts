// Incremental decide(): the same Decision as decide() over the current facts, kept up to date as
// single Services, nodes, liveness or the configuration change, with work in proportion to what a
// change affects rather than to all Services. decide() stays the specification: a property test
// (test/unit/speaker-incremental.test.ts) checks that this equals it after random change sequences.
//
// Where the work goes:
// - Layer 2 units (services joined by shared addresses) are rebuilt only around the addresses of a
//   changed Service. Each unit's candidates are a class (its advertisements and segment: the nodes
//   eligible for every unit with the same class, computed once) minus dead nodes (and, for
//   externalTrafficPolicy Local, outside its endpoint nodes). Its rendezvous ranking is cached
//   (the best TOP_K eligible nodes), so choosing costs a few steps, not a hash per node.
// - Owners: bounded-load rendezvous (owner.ts) places units in key order; a unit takes its best
//   candidate under the cap (ceil(loadFactor * placeable units / nodes that are someone's
//   candidate)). So every unit is coupled to all units before it through the loads, across pools:
//   unit j's choice depends only on the loads, before j, of the candidates it ranks at or above its
//   owner (all of its candidates when every one was at the cap: a "fallback" unit). A change at one
//   unit changes the loads after it by -1 on one node (the hole) and +1 on another (the excess).
//   The only units whose choice can then change: the first later unit owned by the excess node
//   beyond its cap; a later unit that ranks the hole above its owner while the hole is now under
//   the cap (only in the window where the hole used to be exactly at the cap); fallback units. Each
//   such unit is re-chosen; if it moves, the hole or the excess moves with it (there are never more
//   than one of each), until they cancel. That is exact, not an approximation (see cascade()).
//   The cap itself depends on the number of placeable units and candidate nodes: when it changes
//   (a node lost or back; units added or removed crossing a multiple of the node count), every
//   unit is placed again in one pass.
// - BGP: Services with the same advertisements and externalTrafficPolicy Cluster share one list
//   of announcing nodes (updated in place when nodes change); this node's routes are kept per
//   peer and prefix with a count per contributing advertisement and Service, so one Service
//   changes only its own routes.
// - A rebuild (the first decision, the configuration or a node's labels or subnets changed) starts
//   from the facts; with decide({ budgetMs }) it runs in steps, into a new Decision, while callers
//   keep the previous one; changes fed meanwhile apply after it.
import { matchesAny } from '../util/selector.ts';
import {
  aggregate,
  nodeCanAnnounce,
  onSegment,
  poolCovered,
  union,
  whyNotAnnounced,
  type BgpPolicy,
  type BgpRoute,
  type Decision,
  type L2Announcement,
  type L2Policy,
  type NodeFacts,
  type PeerFacts,
  type ServiceFacts,
  type ServiceView,
} from './decide.ts';
import { DEFAULT_LOAD_FACTOR, hash32, score } from './owner.ts';
import { sortedIndex, sortedInsert, sortedRemove } from '../util/sorted.ts';

export interface Policies {
  l2: readonly L2Policy[];
  bgp: readonly BgpPolicy[];
  peers: readonly PeerFacts[];
}

export interface IncrementalResult {
  /** The whole decision, updated in place (the same object every time). */
  decision: Decision;
  /** Services whose view (owners, BGP nodes, reason) changed or which were removed. */
  changed: Set<string>;
  /**
   * Services whose view changed only in their shared list of BGP nodes (externalTrafficPolicy
   * Cluster services with the same advertisements share one list; a node lost changes it for all
   * of them): one iterable per list, not copied into `changed` (40k keys per node loss at 100k).
   */
  sharedChanged: Array<Iterable<string>>;
  /** Peers whose routes changed. */
  bgpPeers: Set<string>;
  /** Per peer, the prefixes whose route changed (added, removed, attributes), or 'all' after a rebuild. */
  bgpChanges: ReadonlyMap<string, ReadonlySet<string>> | 'all';
  /** Addresses whose Layer 2 announcement here changed (added, removed or different). */
  l2: Set<string>;
  /** Addresses this node took over in this decision, with their owner before (for failover metrics). */
  l2Previous: ReadonlyMap<string, string | undefined>;
  /** Whether every unit was placed again (the cap changed, nodes or configuration changed). */
  fullL2: boolean;
  /** More to do (a rebuild in steps, or changes that arrived during it): decide again soon. */
  more: boolean;
  /** A rebuild is in progress: `decision` is the previous one, unchanged; apply nothing new. */
  building: boolean;
}

/** Ranked eligible nodes cached per unit. */
const TOP_K = 8;
/** More changed units than this in one decision: place all again (cheaper than that many cascades). */
const MAX_CASCADES = 512;

interface L2Class {
  /** Per distinct advertisement list of the unit's services: some ad in each must select the node. */
  adsets: L2Policy[][];
  segBits: string;
  elig: Uint8Array;
  eligList: number[];
  /** Units of this class without a Local service (their candidates are the class's). */
  units: number;
  liveCount: number;
}

interface Unit {
  key: string;
  ips: string[];
  services: Svc[];
  cls: L2Class;
  /** Intersection of the endpoint nodes of the unit's Local services; null without any. */
  local: ReadonlySet<string> | null;
  /** Eligible nodes, when `local` narrows the class. */
  localElig: number[] | null;
  hash: number;
  top: number[] | null;
  truncated: boolean;
  owner: number;
  fallback: boolean;
  placeable: boolean;
  /** Its owner has been written into the views at least once. */
  published: boolean;
}

interface BgpGroup {
  ads: BgpPolicy[];
  /** Live nodes announcing a Cluster service of this group, sorted; shared by the views, updated in place. */
  nodes: string[];
  set: Set<string>;
  plan: PlanPair[] | null;
  planEpoch: number;
}

interface PlanPair {
  ad: BgpPolicy;
  peer: string;
}

/**
 * The contributions to a route made by more than one (advertisement, service, address): the
 * advertisements with their counts, and the services contributing more than once. A route with a
 * single contribution (nearly all: one Service, one advertisement) keeps none of this: it is only
 * its BgpRoute in the decision, its advertisement found from its one service's plan when needed
 * (~250 bytes less per route and peer: at 100k Services and 3 peers, ~70 MB).
 */
interface Contributions {
  ads: BgpPolicy[];
  adN: number[];
  /** Services contributing more than once (several advertisements or addresses): their counts. */
  multi: Map<string, number> | undefined;
  n: number;
}

interface RouteAttrs {
  localPref?: number;
  communities: string[];
  largeCommunities: string[];
}

const NO_NODES: string[] = [];
/** The owners of a service without any: one shared object (views replace it, never write into it). */
const NO_OWNERS = Object.freeze({}) as Record<string, string>;
const NO_ENDPOINTS: ReadonlySet<string> = new Set();

/**
 * A Service: its facts and its decided state in one object (one per Service, not two: ~3 MB at
 * 100k). `f` is the facts part, the object itself.
 */
class Svc implements ServiceFacts {
  readonly key: string;
  readonly labels: ServiceFacts['labels'];
  readonly ips: readonly string[];
  readonly pool: string;
  readonly externalTrafficPolicy: ServiceFacts['externalTrafficPolicy'];
  readonly endpointNodes: ReadonlySet<string>;
  readonly hasServingEndpoint: boolean;
  view: ServiceView = { l2Owners: NO_OWNERS, bgpNodes: NO_NODES };
  l2ads: L2Policy[];
  bgpads: BgpPolicy[];
  unit: Unit | undefined = undefined;
  group: BgpGroup | undefined = undefined;
  /** The plan this service's routes were added with (null: none). */
  plan: PlanPair[] | null = null;

  constructor(f: ServiceFacts, l2ads: L2Policy[], bgpads: BgpPolicy[]) {
    this.key = f.key;
    this.labels = f.labels;
    this.ips = f.ips;
    this.pool = f.pool;
    this.externalTrafficPolicy = f.externalTrafficPolicy;
    this.endpointNodes = f.endpointNodes;
    this.hasServingEndpoint = f.hasServingEndpoint;
    this.l2ads = l2ads;
    this.bgpads = bgpads;
  }

  get f(): ServiceFacts {
    return this;
  }
}


function lowerBound(list: readonly Unit[], key: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as Unit).key < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
/** First index whose key is greater than `key`. */
function upperBound(list: readonly Unit[], key: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as Unit).key <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
function insertSorted(list: Unit[], u: Unit): void {
  list.splice(lowerBound(list, u.key), 0, u);
}
function removeSorted(list: Unit[], u: Unit): void {
  const i = lowerBound(list, u.key);
  if (list[i] === u) list.splice(i, 1);
}
const sameStrings = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
const endpointOk = (f: ServiceFacts, node: string): boolean => f.externalTrafficPolicy !== 'Local' || f.endpointNodes.has(node);

export class IncrementalDecider {
  readonly self: string;
  readonly loadFactor: number;
  #pol: Policies = { l2: [], bgp: [], peers: [] };
  #nodes = new Map<string, NodeFacts>();
  #alive = new Set<string>();
  #svcs = new Map<string, Svc>();
  /**
   * During a rebuild: every Service's facts as of its start (#svcs is being refilled). Otherwise
   * the facts are those of #svcs with #pendingSvcs applied: no second 100k-entry map.
   */
  #rebuildFacts: Map<string, ServiceFacts> | undefined;
  /** The decision being kept (during a rebuild in steps: being built). */
  #decision: Decision = { l2: new Map(), bgp: new Map(), services: new Map() };
  /** The decision callers see: the last complete one. */
  #visible: Decision = this.#decision;
  /** A rebuild going on over several decide() calls (decide with a time budget). */
  #building: Generator<void, void> | undefined;
  #lastUnannounced = 0;

  // pending changes
  #full = true;
  #livenessDirty = false;
  #pendingSvcs = new Map<string, ServiceFacts | null>();

  // node-level derived state
  #idx = new Map<string, number>();
  #names: string[] = [];
  #hashes: number[] = [];
  #live = new Uint8Array(0);
  #liveList: NodeFacts[] = [];
  #l2AdNodes = new Map<L2Policy, Set<string>>();
  #bgpAdNodes = new Map<BgpPolicy, Set<string>>();
  #peersOf = new Map<string, PeerFacts[]>();
  /** Distinct published subnet lists of nodes → bit position in a unit's segment signature. */
  #segLists = new Map<string, number>();
  #segListOf: number[] = [];

  // Layer 2
  #classes = new Map<string, L2Class>();
  /** Services holding each address (most addresses have one: no set for them). */
  #ipSvcs = new Map<string, Svc | Set<Svc>>();
  #ipUnit = new Map<string, Unit>();
  #order: Unit[] = [];
  #owned: Unit[][] = [];
  #fallbacks: Unit[] = [];
  #cover = new Int32Array(0);
  #unionCount = 0;
  #placeable = 0;
  #cap = 0;

  // BGP
  #groups = new Map<string, BgpGroup>();
  /** Local services announced over BGP, by endpoint node: a node's liveness touches only its own. */
  #localBgp = new Map<string, Set<Svc>>();
  /** Routes with more than one contribution (the others have one: see Contributions). */
  #contrib = new Map<BgpRoute, Contributions>();
  #attrs = new Map<string, RouteAttrs>();
  #planEpoch = 0;
  #unannounced = new Set<Svc>();

  // per-decision outputs
  #changed = new Set<string>();
  #shared: BgpGroup[] = [];
  #bgpPeers = new Set<string>();
  #bgpChanges = new Map<string, Set<string>>();
  #bgpAll = false;
  #l2Changed = new Set<string>();
  #l2Previous = new Map<string, string | undefined>();

  constructor(self: string, loadFactor = DEFAULT_LOAD_FACTOR) {
    this.self = self;
    this.loadFactor = loadFactor;
  }

  // ---- inputs ----------------------------------------------------------------------------------

  setPolicies(p: Policies): void {
    this.#pol = p;
    this.#full = true;
  }

  setNode(n: NodeFacts): void {
    const old = this.#nodes.get(n.name);
    this.#nodes.set(n.name, n);
    if (this.#full) return;
    // Only NetworkUnavailable or the exclusion changed: like liveness. Anything else (labels,
    // subnets, a new node) changes eligibility classes and rankings: rebuild.
    if (old && JSON.stringify(old.labels) === JSON.stringify(n.labels) && JSON.stringify(old.subnets) === JSON.stringify(n.subnets)) {
      if (old.networkUnavailable !== n.networkUnavailable) this.#livenessDirty = true;
      return;
    }
    this.#full = true;
  }

  forgetNode(name: string): void {
    if (!this.#nodes.delete(name)) return;
    this.#full = true;
  }

  setAlive(alive: ReadonlySet<string>): void {
    if (alive.size === this.#alive.size && [...alive].every((a) => this.#alive.has(a))) return;
    this.#alive = new Set(alive);
    this.#livenessDirty = true;
  }

  setService(f: ServiceFacts): void {
    const c = compactFacts(f);
    this.#pendingSvcs.set(f.key, c);
  }

  forgetService(key: string): void {
    this.#pendingSvcs.set(key, null);
  }

  /** The facts kept for a service (Cluster services without their endpoint nodes). */
  service(key: string): ServiceFacts | undefined {
    const p = this.#pendingSvcs.get(key);
    if (p !== undefined) return p ?? undefined;
    return this.#rebuildFacts ? this.#rebuildFacts.get(key) : this.#svcs.get(key)?.f;
  }

  node(name: string): NodeFacts | undefined {
    return this.#nodes.get(name);
  }

  get nodeCount(): number {
    return this.#nodes.size;
  }

  /** Services with an address and a serving endpoint that no node announces (the metric). */
  unannouncedCount(): number {
    if (this.#building) return this.#lastUnannounced;
    let n = 0;
    for (const s of this.#unannounced) if (s.f.ips.length > 0 && s.f.hasServingEndpoint) n++;
    this.#lastUnannounced = n;
    return n;
  }

  /** Services no node announces (their view has a reason). */
  *unannounced(): Generator<string> {
    for (const s of this.#unannounced) yield s.f.key;
  }

  /** Current facts (for tests and the full-recompute comparison). */
  facts(): { nodes: NodeFacts[]; alive: Set<string>; services: ServiceFacts[]; policies: Policies } {
    return { nodes: [...this.#nodes.values()], alive: new Set(this.#alive), services: [...this.#currentFacts().values()], policies: this.#pol };
  }

  /** Service facts with the pending changes applied. */
  #currentFacts(): Map<string, ServiceFacts> {
    const m = new Map<string, ServiceFacts>();
    if (this.#rebuildFacts) for (const [k, f] of this.#rebuildFacts) m.set(k, f);
    else for (const [k, sv] of this.#svcs) m.set(k, sv.f);
    for (const [k, f] of this.#pendingSvcs) {
      if (f) m.set(k, f);
      else m.delete(k);
    }
    return m;
  }

  // ---- deciding --------------------------------------------------------------------------------

  /**
   * Brings the decision up to date. With `budgetMs`, a rebuild (configuration or node facts
   * changed, the first decision) runs in steps of about that long: until it is done the result is
   * the previous decision with nothing changed and `more` set (call again in a later event-loop
   * turn); changes fed meanwhile apply after it.
   */
  decide(opts: { budgetMs?: number } = {}): IncrementalResult {
    const until = performance.now() + (opts.budgetMs ?? Infinity);
    if (this.#full) {
      // Start (or start over): everything from the facts.
      this.#full = false;
      this.#livenessDirty = false;
      this.#resetOutputs(true);
      this.#building = this.#rebuildSteps();
    }
    if (this.#building) {
      for (let r = this.#building.next(); !r.done; r = this.#building.next()) {
        if (performance.now() > until) return this.#result(false, true);
      }
      this.#building = undefined;
      this.#rebuildFacts = undefined;
      this.#visible = this.#decision;
      return this.#result(true, this.#pendingSvcs.size > 0 || this.#livenessDirty || this.#full);
    }
    this.#resetOutputs(false);
    let fullL2 = false;
    const liveness = this.#livenessDirty;
    this.#livenessDirty = false;
    if (liveness) this.#applyLiveness();
    const pending = this.#pendingSvcs;
    this.#pendingSvcs = new Map();
    const removed: Unit[] = [];
    const added: Unit[] = [];
    for (const [key, f] of pending) this.#updateService(key, f, removed, added);
    const cap = this.#computeCap();
    if (liveness || cap !== this.#cap || removed.length + added.length > MAX_CASCADES) {
      for (const u of removed) this.#dropUnit(u, false);
      for (const u of added) this.#order.splice(lowerBound(this.#order, u.key), 0, u);
      this.#cap = cap;
      this.#assignAll();
      fullL2 = true;
    } else {
      for (const u of removed) this.#dropUnit(u, true);
      for (const u of added) this.#addUnit(u);
    }
    if (liveness) this.#refreshReasons();
    return this.#result(fullL2, false);
  }

  #resetOutputs(all: boolean): void {
    this.#changed = new Set();
    this.#shared = [];
    this.#bgpPeers = new Set();
    this.#bgpChanges = new Map();
    this.#bgpAll = all;
    this.#l2Changed = new Set();
    this.#l2Previous = new Map();
  }

  #result(fullL2: boolean, more: boolean): IncrementalResult {
    if (more && this.#building) {
      // Mid-rebuild: the previous decision, unchanged.
      return { decision: this.#visible, changed: new Set(), sharedChanged: [], bgpPeers: new Set(), bgpChanges: new Map(), l2: new Set(), l2Previous: new Map(), fullL2: false, more: true, building: true };
    }
    const svcs = this.#svcs;
    const shared = this.#shared.map((g) => clusterKeysOf(svcs, g));
    const r: IncrementalResult = {
      decision: this.#visible,
      changed: this.#changed,
      sharedChanged: shared,
      bgpPeers: this.#bgpPeers,
      bgpChanges: this.#bgpAll ? 'all' : this.#bgpChanges,
      l2: this.#l2Changed,
      l2Previous: this.#l2Previous,
      fullL2,
      more,
      building: false,
    };
    // The caller's now: not kept here until the next decision (after a rebuild, 100k keys).
    this.#resetOutputs(false);
    return r;
  }

  // ---- node-level state ------------------------------------------------------------------------

  #nodeIndex(name: string): number {
    let i = this.#idx.get(name);
    if (i === undefined) {
      i = this.#names.length;
      this.#idx.set(name, i);
      this.#names.push(name);
      this.#hashes.push(hash32(name));
    }
    return i;
  }

  #computeLiveness(): void {
    const n = this.#names.length;
    if (this.#live.length < n) this.#live = new Uint8Array(n * 2);
    this.#live.fill(0);
    this.#liveList = [];
    for (const node of this.#nodes.values()) {
      if (!this.#alive.has(node.name) || !nodeCanAnnounce(node)) continue;
      this.#live[this.#nodeIndex(node.name)] = 1;
      this.#liveList.push(node);
      if (!this.#peersOf.has(node.name)) this.#peersOf.set(node.name, this.#pol.peers.filter((p) => matchesAny(p.nodeSelectors, node.labels)));
    }
    if (this.#live.length < this.#names.length) {
      const grown = new Uint8Array(this.#names.length * 2);
      grown.set(this.#live);
      this.#live = grown;
    }
  }

  #isLive(i: number): boolean {
    return this.#live[i] === 1;
  }

  /**
   * Everything from the facts (configuration or node facts changed, the first decision), into a
   * new Decision; yields every few hundred items so decide() can spread it over turns.
   */
  *#rebuildSteps(): Generator<void, void> {
    // Every view counts as changed (comparing 100k views costs more than it saves).
    const old = this.#visible;
    const oldL2 = new Map<string, string>();
    for (const [ip, a] of old.l2) oldL2.set(ip, JSON.stringify(a));
    const oldBgp = new Set(old.bgp.keys());
    yield;

    const facts = (this.#rebuildFacts = this.#currentFacts());
    this.#pendingSvcs = new Map();
    for (const n of this.#nodes.values()) this.#nodeIndex(n.name);
    this.#peersOf = new Map();
    this.#computeLiveness();
    this.#l2AdNodes = new Map(this.#pol.l2.map((ad) => [ad, this.#matchNodes(ad.nodeSelectors)]));
    this.#bgpAdNodes = new Map(this.#pol.bgp.map((ad) => [ad, this.#matchNodes(ad.nodeSelectors)]));
    this.#segLists = new Map();
    this.#segListOf = [];
    for (const n of this.#nodes.values()) {
      if (n.subnets === undefined) continue;
      const k = n.subnets.join(',');
      if (!this.#segLists.has(k)) this.#segLists.set(k, this.#segLists.size);
      this.#segListOf[this.#nodeIndex(n.name)] = this.#segLists.get(k) as number;
    }
    this.#classes = new Map();
    this.#ipSvcs = new Map();
    this.#ipUnit = new Map();
    this.#order = [];
    this.#owned = [];
    this.#fallbacks = [];
    this.#cover = new Int32Array(this.#names.length);
    this.#unionCount = 0;
    this.#placeable = 0;
    this.#groups = new Map();
    this.#localBgp = new Map();
    this.#contrib = new Map();
    this.#attrs = new Map();
    this.#attrs1 = new Map();
    this.#adLists = new Map();
    this.#unannounced = new Set();
    this.#svcs = new Map();
    // A new object: callers keep the previous decision until this one is complete.
    const d: Decision = (this.#decision = { l2: new Map(), bgp: new Map(), services: new Map() });

    const units: Unit[] = [];
    let n = 0;
    for (const f of facts.values()) {
      const s = this.#newSvc(f);
      this.#svcs.set(f.key, s);
      d.services.set(f.key, s.view);
      if (this.#l2Eligible(s)) for (const ip of f.ips) this.#ipAdd(ip, s);
      this.#bgpAttach(s);
      if (++n % 256 === 0) yield;
    }
    const seen = new Set<string>();
    for (const ip of this.#ipSvcs.keys()) {
      if (seen.has(ip)) continue;
      const comp = this.#component(ip, seen);
      units.push(this.#newUnit(comp.ips, comp.services));
      if (++n % 256 === 0) yield;
    }
    units.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield;
    for (const u of units) {
      this.#registerUnit(u);
      if (++n % 1024 === 0) yield;
    }
    this.#order = units;
    this.#cap = this.#computeCap();
    yield* this.#assignSteps(true);
    for (const s of this.#svcs.values()) {
      this.#refreshReason(s);
      if (++n % 1024 === 0) yield;
    }

    for (const k of d.services.keys()) {
      this.#changed.add(k);
      if (++n % 4096 === 0) yield;
    }
    // The previous decision stays unchanged (callers see it) until this one is complete.
    for (const k of old.services.keys()) {
      this.#changed.add(k);
      if (++n % 4096 === 0) yield;
    }
    for (const [ip, a] of d.l2) if (oldL2.get(ip) !== JSON.stringify(a)) this.#l2Changed.add(ip);
    for (const ip of oldL2.keys()) if (!d.l2.has(ip)) this.#l2Changed.add(ip);
    for (const p of oldBgp) this.#bgpPeers.add(p);
    for (const p of d.bgp.keys()) this.#bgpPeers.add(p);
  }

  #matchNodes(sels: L2Policy['nodeSelectors']): Set<string> {
    const out = new Set<string>();
    for (const n of this.#nodes.values()) if (matchesAny(sels, n.labels)) out.add(n.name);
    return out;
  }

  /** Liveness changed (membership, NetworkUnavailable): classes' live counts, placeability, BGP node lists. */
  #applyLiveness(): void {
    const wasLive = this.#live.slice();
    const wasSelfLive = this.#isLive(this.#idx.get(this.self) ?? -1);
    this.#computeLiveness();
    for (const c of this.#classes.values()) c.liveCount = c.eligList.reduce((n, i) => n + (this.#isLive(i) ? 1 : 0), 0);
    this.#unionCount = 0;
    for (let i = 0; i < this.#names.length; i++) if (this.#isLive(i) && (this.#cover[i] ?? 0) > 0) this.#unionCount++;
    this.#placeable = 0;
    for (const u of this.#order) {
      u.placeable = this.#unitPlaceable(u);
      if (u.placeable) this.#placeable++;
    }
    // BGP: shared node lists in place (their Cluster members are reported as one shared change);
    // Local services only where a node that joined or left a list is one of their endpoints; this
    // node's own routes if its state changed.
    const touchedLocal = new Set<Svc>();
    for (const g of this.#groups.values()) {
      const next = this.#groupNodes(g.ads);
      if (sameStrings(next, g.nodes)) continue;
      const emptiness = (g.nodes.length === 0) !== (next.length === 0);
      const nextSet = new Set(next);
      const diff = [...g.nodes.filter((n) => !nextSet.has(n)), ...next.filter((n) => !g.set.has(n))];
      g.nodes.length = 0;
      for (const n of next) g.nodes.push(n);
      g.set = nextSet;
      this.#shared.push(g);
      if (emptiness) for (const s of this.#svcs.values()) if (s.group === g && s.f.externalTrafficPolicy !== 'Local') this.#refreshReason(s);
      for (const n of diff) for (const s of this.#localBgp.get(n) ?? []) if (s.group === g) touchedLocal.add(s);
    }
    for (const s of touchedLocal) {
      const next = this.#localNodes(s);
      if (sameStrings(next, s.view.bgpNodes)) continue;
      s.view.bgpNodes = next;
      this.#changed.add(s.f.key);
      this.#refreshReason(s);
    }
    const selfIdx = this.#idx.get(this.self) ?? -1;
    if (wasSelfLive !== this.#isLive(selfIdx) || (selfIdx >= 0 && wasLive[selfIdx] !== this.#live[selfIdx])) {
      this.#planEpoch++;
      for (const s of this.#svcs.values()) this.#setContributions(s);
    }
  }

  #refreshReasons(): void {
    for (const s of this.#unannounced) this.#refreshReason(s);
  }

  // ---- services --------------------------------------------------------------------------------

  #newSvc(f: ServiceFacts): Svc {
    return new Svc(
      f,
      this.#interned(this.#pol.l2.filter((ad) => poolCovered(ad, f.pool) && matchesAny(ad.serviceSelectors, f.labels)), this.#pol.l2),
      this.#interned(this.#pol.bgp.filter((ad) => poolCovered(ad, f.pool) && matchesAny(ad.serviceSelectors, f.labels)), this.#pol.bgp),
    );
  }

  #adLists = new Map<string, readonly object[]>();
  /** One shared array per distinct list of advertisements. */
  #interned<T extends object>(ads: T[], all: readonly T[]): T[] {
    const key = `${all === (this.#pol.l2 as readonly object[]) ? 'l' : 'b'}${ads.map((ad) => all.indexOf(ad)).join(',')}`;
    const had = this.#adLists.get(key);
    if (had) return had as T[];
    this.#adLists.set(key, ads);
    return ads;
  }

  #l2Eligible(s: Svc): boolean {
    return s.f.hasServingEndpoint && s.l2ads.length > 0;
  }

  #updateService(key: string, f: ServiceFacts | null, removed: Unit[], added: Unit[]): void {
    const old = this.#svcs.get(key);
    const touched = new Set<string>();
    if (old) {
      if (old.unit) for (const ip of old.unit.ips) touched.add(ip);
      if (this.#l2Eligible(old)) for (const ip of old.f.ips) this.#ipRemove(ip, old);
      this.#bgpDetach(old);
      this.#unannounced.delete(old);
      this.#svcs.delete(key);
      this.#decision.services.delete(key);
    }
    this.#changed.add(key);
    let s: Svc | undefined;
    if (f) {
      s = this.#newSvc(f);
      this.#svcs.set(key, s);
      this.#decision.services.set(key, s.view);
      if (this.#l2Eligible(s)) for (const ip of f.ips) {
        this.#ipAdd(ip, s);
        touched.add(ip);
      }
      this.#bgpAttach(s);
    }
    // Units around the touched addresses: the old ones go, the components found now come.
    const oldUnits = new Set<Unit>();
    for (const ip of touched) {
      const u = this.#ipUnit.get(ip);
      if (u) oldUnits.add(u);
    }
    const seen = new Set<string>();
    const comps: Array<{ ips: string[]; services: Svc[] }> = [];
    for (const ip of touched) {
      if (seen.has(ip) || !this.#ipSvcs.has(ip)) continue;
      comps.push(this.#component(ip, seen));
    }
    for (const u of oldUnits) {
      const pendingAdd = added.indexOf(u);
      if (pendingAdd >= 0) {
        // Created by an earlier change in this batch and not placed yet: just forget it.
        added.splice(pendingAdd, 1);
        this.#unregisterUnit(u);
        continue;
      }
      // A unit being replaced by an equal one (same addresses, class and endpoint nodes) keeps its
      // owner: only its services change.
      const same = comps.findIndex((c) => c.ips[0] === u.key && sameStrings(c.ips, u.ips));
      if (same >= 0) {
        const c = comps[same] as { ips: string[]; services: Svc[] };
        const nu = this.#newUnit(c.ips, c.services);
        if (nu.cls === u.cls && sameSet(nu.local, u.local)) {
          comps.splice(same, 1);
          this.#unregisterUnit(u);
          u.services = nu.services;
          this.#registerUnit(u);
          this.#publishUnit(u);
          continue;
        }
      }
      removed.push(u);
      this.#unregisterUnit(u);
    }
    for (const c of comps) {
      const u = this.#newUnit(c.ips, c.services);
      this.#registerUnit(u);
      added.push(u);
    }
    if (s && !s.unit) this.#refreshReason(s);
  }

  #ipAdd(ip: string, s: Svc): void {
    const cur = this.#ipSvcs.get(ip);
    if (cur === undefined || cur === s) this.#ipSvcs.set(ip, s);
    else if (cur instanceof Set) cur.add(s);
    else this.#ipSvcs.set(ip, new Set([cur, s]));
  }

  #ipRemove(ip: string, s: Svc): void {
    const cur = this.#ipSvcs.get(ip);
    if (cur === s) this.#ipSvcs.delete(ip);
    else if (cur instanceof Set) {
      cur.delete(s);
      if (cur.size === 1) this.#ipSvcs.set(ip, [...cur][0] as Svc);
    }
  }

  #ipServices(ip: string): Iterable<Svc> {
    const cur = this.#ipSvcs.get(ip);
    return cur === undefined ? [] : cur instanceof Set ? cur : [cur];
  }

  /** The addresses and services connected to `ip` through shared addresses. */
  #component(ip: string, seen: Set<string>): { ips: string[]; services: Svc[] } {
    const ips: string[] = [];
    const services = new Set<Svc>();
    const stack = [ip];
    seen.add(ip);
    while (stack.length) {
      const x = stack.pop() as string;
      ips.push(x);
      for (const s of this.#ipServices(x)) {
        if (services.has(s)) continue;
        services.add(s);
        for (const y of s.f.ips) {
          if (seen.has(y)) continue;
          seen.add(y);
          stack.push(y);
        }
      }
    }
    ips.sort();
    return { ips: ips.length === 1 ? [ip] : ips.slice(), services: [...services] };
  }

  // ---- Layer 2 units ---------------------------------------------------------------------------

  #newUnit(ips: string[], services: Svc[]): Unit {
    const lists = new Map<string, L2Policy[]>();
    let local: ReadonlySet<string> | null = null;
    for (const s of services) {
      const k = s.l2ads.map((ad) => this.#pol.l2.indexOf(ad)).join(',');
      lists.set(k, s.l2ads);
      if (s.f.externalTrafficPolicy !== 'Local') continue;
      local = intersect(local, s.f.endpointNodes);
    }
    const adKeys = [...lists.keys()].sort();
    let segBits = '';
    for (const list of this.#segLists.keys()) segBits += onSegment({ name: '', labels: {}, networkUnavailable: false, subnets: list.split(',').filter(Boolean) }, ips) ? '1' : '0';
    const ck = `${adKeys.join('|')}#${segBits}`;
    let cls = this.#classes.get(ck);
    if (!cls) {
      cls = this.#newClass(adKeys.map((k) => lists.get(k) as L2Policy[]), segBits);
      this.#classes.set(ck, cls);
    }
    const u: Unit = { key: ips[0] as string, ips, services: services.sort((a, b) => (a.f.key < b.f.key ? -1 : a.f.key > b.f.key ? 1 : 0)), cls, local, localElig: null, hash: hash32(ips[0] as string), top: null, truncated: false, owner: -1, fallback: false, placeable: false, published: false };
    if (local !== null) {
      const elig: number[] = [];
      for (const n of local) {
        const i = this.#idx.get(n);
        if (i !== undefined && cls.elig[i] === 1) elig.push(i);
      }
      u.localElig = elig;
    }
    return u;
  }

  #newClass(adsets: L2Policy[][], segBits: string): L2Class {
    const elig = new Uint8Array(this.#names.length);
    const eligList: number[] = [];
    let liveCount = 0;
    for (const n of this.#nodes.values()) {
      const i = this.#nodeIndex(n.name);
      const seg = n.subnets === undefined || segBits[this.#segListOf[i] ?? -1] === '1';
      const ok = adsets.every((ads) => ads.some((ad) => this.#l2AdNodes.get(ad)?.has(n.name) === true && (ad.interfaces.length > 0 || seg)));
      if (!ok) continue;
      elig[i] = 1;
      eligList.push(i);
      if (this.#isLive(i)) liveCount++;
    }
    return { adsets, segBits, elig, eligList, units: 0, liveCount };
  }

  #eligList(u: Unit): number[] {
    return u.localElig ?? u.cls.eligList;
  }

  #unitPlaceable(u: Unit): boolean {
    if (u.localElig === null) return u.cls.liveCount > 0;
    return u.localElig.some((i) => this.#isLive(i));
  }

  /** Counts the unit into the candidate-node union and placeable units; maps its addresses. */
  #registerUnit(u: Unit): void {
    for (const ip of u.ips) this.#ipUnit.set(ip, u);
    for (const s of u.services) s.unit = u;
    if (u.localElig === null) {
      if (u.cls.units++ === 0) for (const i of u.cls.eligList) this.#coverAdd(i, 1);
    } else for (const i of u.localElig) this.#coverAdd(i, 1);
    u.placeable = this.#unitPlaceable(u);
    if (u.placeable) this.#placeable++;
  }

  #unregisterUnit(u: Unit): void {
    for (const ip of u.ips) if (this.#ipUnit.get(ip) === u) this.#ipUnit.delete(ip);
    for (const s of u.services) if (s.unit === u) s.unit = undefined;
    if (u.localElig === null) {
      if (--u.cls.units === 0) for (const i of u.cls.eligList) this.#coverAdd(i, -1);
    } else for (const i of u.localElig) this.#coverAdd(i, -1);
    if (u.placeable) this.#placeable--;
  }

  #coverAdd(i: number, d: number): void {
    if (this.#cover.length <= i) {
      const grown = new Int32Array(this.#names.length * 2);
      grown.set(this.#cover);
      this.#cover = grown;
    }
    const before = this.#cover[i] as number;
    this.#cover[i] = before + d;
    if (!this.#isLive(i)) return;
    if (before === 0 && d > 0) this.#unionCount++;
    else if (before + d === 0 && d < 0) this.#unionCount--;
  }

  #computeCap(): number {
    return this.#unionCount === 0 ? 0 : Math.max(1, Math.ceil((this.loadFactor * this.#placeable) / this.#unionCount));
  }

  /** a ranks before b for the unit (b < 0: a wins). */
  #better(a: number, b: number, uh: number): boolean {
    if (b < 0) return true;
    const sa = score(this.#hashes[a] as number, uh);
    const sb = score(this.#hashes[b] as number, uh);
    return sa > sb || (sa === sb && (this.#names[a] as string) < (this.#names[b] as string));
  }

  #top(u: Unit): number[] {
    if (u.top) return u.top;
    // One score per eligible node, kept alongside the best TOP_K (this runs for every unit once).
    const top: number[] = [];
    const scores: number[] = [];
    const elig = this.#eligList(u);
    const uh = u.hash;
    const hashes = this.#hashes;
    const names = this.#names;
    for (const i of elig) {
      const sc = score(hashes[i] as number, uh);
      if (top.length === TOP_K) {
        const last = scores[TOP_K - 1] as number;
        if (sc < last || (sc === last && (names[i] as string) > (names[top[TOP_K - 1] as number] as string))) continue;
      }
      let at = top.length;
      while (at > 0) {
        const o = scores[at - 1] as number;
        if (sc > o || (sc === o && (names[i] as string) < (names[top[at - 1] as number] as string))) at--;
        else break;
      }
      top.splice(at, 0, i);
      scores.splice(at, 0, sc);
      if (top.length > TOP_K) {
        top.pop();
        scores.pop();
      }
    }
    u.top = top.slice();
    u.truncated = elig.length > TOP_K;
    return u.top;
  }

  #isCandidate(u: Unit, i: number): boolean {
    if (!this.#isLive(i) || u.cls.elig[i] !== 1) return false;
    return u.local === null || u.local.has(this.#names[i] as string);
  }

  /**
   * The unit's owner given each node's load before it: its best-ranked candidate under the cap,
   * else (fallback) its least-loaded candidate, ties to the better ranked. -1: no candidate.
   */
  #choose(u: Unit, load: (i: number) => number, nonFull?: Set<number>): { owner: number; fallback: boolean } {
    const cap = this.#cap;
    for (const i of this.#top(u)) if (this.#isLive(i) && load(i) < cap) return { owner: i, fallback: false };
    const elig = this.#eligList(u);
    if (u.truncated) {
      let best = -1;
      const pool: Iterable<number> = nonFull && nonFull.size * 4 < elig.length ? nonFull : elig;
      for (const i of pool) {
        if (!this.#isCandidate(u, i) || load(i) >= cap) continue;
        if (this.#better(i, best, u.hash)) best = i;
      }
      if (best >= 0) return { owner: best, fallback: false };
    }
    let best = -1;
    let bestLoad = Infinity;
    for (const i of elig) {
      if (!this.#isLive(i)) continue;
      const l = load(i);
      if (l < bestLoad || (l === bestLoad && this.#better(i, best, u.hash))) {
        best = i;
        bestLoad = l;
      }
    }
    return { owner: best, fallback: best >= 0 };
  }

  #ownedOf(i: number): Unit[] {
    let l = this.#owned[i];
    if (!l) this.#owned[i] = l = [];
    return l;
  }

  /** Places every unit in key order (the cap changed, or liveness). */
  #assignAll(): void {
    for (const _ of this.#assignSteps(false));
  }

  /** The same, yielding every 1,024 units (inside a rebuild in steps). */
  *#assignSteps(initial: boolean): Generator<void, void> {
    const loads = new Int32Array(this.#names.length);
    const cap = this.#cap;
    const nonFull = new Set<number>();
    for (let i = 0; i < this.#names.length; i++) if (this.#isLive(i) && (this.#cover[i] ?? 0) > 0) nonFull.add(i);
    const owned: Unit[][] = [];
    this.#fallbacks = [];
    const load = (i: number): number => loads[i] as number;
    let placed = 0;
    for (const u of this.#order) {
      const was = u.owner;
      const r = u.placeable ? this.#choose(u, load, nonFull) : { owner: -1, fallback: false };
      u.owner = r.owner;
      u.fallback = r.fallback;
      if (r.fallback) this.#fallbacks.push(u);
      if (r.owner >= 0) {
        (owned[r.owner] ??= []).push(u);
        const l = (loads[r.owner] = (loads[r.owner] as number) + 1);
        if (l >= cap) nonFull.delete(r.owner);
      }
      if (initial || !u.published || was !== u.owner) this.#publishUnit(u, initial || !u.published ? undefined : was);
      if (initial && ++placed % 128 === 0) yield;
    }
    this.#owned = owned;
  }

  /** Removes a unit; with `cascade`, re-places the units its removal affects. */
  #dropUnit(u: Unit, cascade: boolean): void {
    const at = lowerBound(this.#order, u.key);
    if (this.#order[at] === u) this.#order.splice(at, 1);
    if (u.fallback) removeSorted(this.#fallbacks, u);
    const was = u.owner;
    if (was >= 0) removeSorted(this.#ownedOf(was), u);
    this.#unpublishUnit(u);
    u.owner = -1;
    if (cascade && was >= 0) this.#cascade(u.key, new Map([[was, -1]]));
  }

  #addUnit(u: Unit): void {
    insertSorted(this.#order, u);
    const r = u.placeable ? this.#choose(u, (i) => lowerBound(this.#ownedOf(i), u.key)) : { owner: -1, fallback: false };
    u.owner = r.owner;
    u.fallback = r.fallback;
    if (r.fallback) insertSorted(this.#fallbacks, u);
    this.#publishUnit(u);
    if (r.owner < 0) return;
    insertSorted(this.#ownedOf(r.owner), u);
    this.#cascade(u.key, new Map([[r.owner, 1]]));
  }

  /**
   * After a change at key `from` left the loads of later units off by `delta` (node → ±1),
   * re-places exactly the later units whose choice can change, in key order (see the file comment).
   */
  #cascade(from: string, delta: Map<number, number>): void {
    const cap = this.#cap;
    let p = from;
    for (let guard = 0; guard <= this.#order.length + 1; guard++) {
      for (const [n, d] of delta) if (d === 0) delta.delete(n);
      if (delta.size === 0) return;
      let next: Unit | undefined;
      const consider = (u: Unit | undefined): void => {
        if (u && (!next || u.key < next.key)) next = u;
      };
      for (const [n, d] of delta) {
        const list = this.#ownedOf(n);
        if (d > 0) {
          // The excess node is at the cap sooner: its first unit after p that now finds it full.
          consider(list[Math.max(upperBound(list, p), cap)]);
        } else {
          // The hole: units that skipped n because it was full, where it is now under the cap.
          const lowCount = cap + d; // loads before j in [cap + d, cap - 1] were full, are not now
          if (lowCount < 0 || list.length < lowCount) continue;
          const startKey = lowCount >= 1 ? (list[lowCount - 1] as Unit).key : undefined;
          let i = upperBound(this.#order, p);
          if (startKey !== undefined) i = Math.max(i, upperBound(this.#order, startKey));
          const endUnit = list[cap - 1];
          const end = endUnit ? upperBound(this.#order, endUnit.key) : this.#order.length;
          const limit = next ? lowerBound(this.#order, (next as Unit).key) : end;
          for (; i < Math.min(end, limit); i++) {
            const u = this.#order[i] as Unit;
            if (u.owner < 0 || u.owner === n || u.fallback) continue;
            if (this.#isCandidate(u, n) && this.#better(n, u.owner, u.hash)) {
              consider(u);
              break;
            }
          }
        }
      }
      // Fallback units weigh every candidate's load.
      for (let i = upperBound(this.#fallbacks, p); i < this.#fallbacks.length; i++) {
        const u = this.#fallbacks[i] as Unit;
        if (next && u.key >= (next as Unit).key) break;
        if ([...delta.keys()].some((n) => this.#isCandidate(u, n))) {
          consider(u);
          break;
        }
      }
      const u = next as Unit | undefined;
      if (!u) return;
      p = u.key;
      const r = this.#choose(u, (i) => lowerBound(this.#ownedOf(i), u.key));
      if (r.fallback !== u.fallback) {
        if (r.fallback) insertSorted(this.#fallbacks, u);
        else removeSorted(this.#fallbacks, u);
        u.fallback = r.fallback;
      }
      if (r.owner === u.owner) continue;
      const was = u.owner;
      if (was >= 0) {
        removeSorted(this.#ownedOf(was), u);
        delta.set(was, (delta.get(was) ?? 0) - 1);
      }
      if (r.owner >= 0) {
        insertSorted(this.#ownedOf(r.owner), u);
        delta.set(r.owner, (delta.get(r.owner) ?? 0) + 1);
      }
      u.owner = r.owner;
      this.#publishUnit(u, was);
    }
    throw new Error('incremental decide: owner cascade did not settle (a bug): restart the speaker');
  }

  /** Writes a unit's owner into its services' views and this node's announcements. */
  #publishUnit(u: Unit, was?: number): void {
    u.published = true;
    const owner = u.owner >= 0 ? (this.#names[u.owner] as string) : undefined;
    for (const s of u.services) {
      const had = s.view.l2Owners;
      if (owner !== undefined && hasKeys(had)) {
        // Same addresses, new owner: in place (a fresh object per service is a new hidden class each).
        for (const ip of s.f.ips) had[ip] = owner;
      } else {
        let owners = NO_OWNERS;
        if (owner !== undefined) {
          owners = {};
          for (const ip of s.f.ips) owners[ip] = owner;
        }
        s.view.l2Owners = owners;
        this.#refreshReason(s);
      }
      this.#changed.add(s.f.key);
    }
    const selfNode = this.#nodes.get(this.self);
    const mine = owner === this.self && selfNode !== undefined;
    const wasMine = was !== undefined && was >= 0 && this.#names[was] === this.self;
    if (mine && was !== undefined && !wasMine) {
      const before = was >= 0 ? this.#names[was] : undefined;
      for (const ip of u.ips) this.#l2Previous.set(ip, before);
    }
    if (mine) {
      const ifaces = new Set<string>();
      let any = false;
      for (const s of u.services) {
        for (const ad of s.l2ads) {
          if (this.#l2AdNodes.get(ad)?.has(this.self) !== true) continue;
          if (ad.interfaces.length === 0) any = true;
          for (const i of ad.interfaces) ifaces.add(i);
        }
      }
      const ann: L2Announcement = { services: u.services.map((s) => s.f.key), interfaces: any ? [] : [...ifaces].sort() };
      for (const ip of u.ips) {
        this.#decision.l2.set(ip, ann);
        this.#l2Changed.add(ip);
      }
    } else if (wasMine || was === undefined) {
      for (const ip of u.ips) {
        if (this.#decision.l2.delete(ip)) this.#l2Changed.add(ip);
      }
    }
  }

  #unpublishUnit(u: Unit): void {
    // A unit that replaces this one publishes its addresses after (drops come before adds).
    for (const ip of u.ips) if (this.#decision.l2.delete(ip)) this.#l2Changed.add(ip);
    for (const s of u.services) {
      if (s.unit !== undefined && s.unit !== u) continue;
      if (hasKeys(s.view.l2Owners)) {
        s.view.l2Owners = NO_OWNERS;
        this.#changed.add(s.f.key);
      }
      this.#refreshReason(s);
    }
  }

  // ---- BGP -------------------------------------------------------------------------------------

  #groupNodes(ads: readonly BgpPolicy[]): string[] {
    const out: string[] = [];
    for (const node of this.#liveList) {
      const nodeAds = ads.filter((ad) => this.#bgpAdNodes.get(ad)?.has(node.name));
      if (nodeAds.length === 0) continue;
      const peers = this.#peersOf.get(node.name) ?? [];
      if (nodeAds.some((ad) => peers.some((p) => ad.peers.length === 0 || ad.peers.includes(p.name)))) out.push(node.name);
    }
    return out.sort();
  }

  #localNodes(s: Svc): string[] {
    const g = s.group as BgpGroup;
    const out: string[] = [];
    for (const n of s.f.endpointNodes) if (g.set.has(n)) out.push(n);
    return out.sort();
  }

  #bgpAttach(s: Svc): void {
    if (!s.f.hasServingEndpoint || s.f.ips.length === 0 || s.bgpads.length === 0) {
      s.view.bgpNodes = [];
      return;
    }
    const key = s.bgpads.map((ad) => this.#pol.bgp.indexOf(ad)).join(',');
    let g = this.#groups.get(key);
    if (!g) {
      const nodes = this.#groupNodes(s.bgpads);
      this.#groups.set(key, (g = { ads: s.bgpads, nodes, set: new Set(nodes), plan: null, planEpoch: -1 }));
    }
    s.group = g;
    if (s.f.externalTrafficPolicy === 'Local') {
      for (const n of s.f.endpointNodes) {
        let set = this.#localBgp.get(n);
        if (!set) this.#localBgp.set(n, (set = new Set()));
        set.add(s);
      }
      s.view.bgpNodes = this.#localNodes(s);
    } else s.view.bgpNodes = g.nodes;
    this.#setContributions(s);
  }

  #bgpDetach(s: Svc): void {
    if (s.f.externalTrafficPolicy === 'Local') {
      for (const n of s.f.endpointNodes) {
        const set = this.#localBgp.get(n);
        set?.delete(s);
        if (set?.size === 0) this.#localBgp.delete(n);
      }
    }
    s.group = undefined;
    this.#applyPlan(s, null);
  }

  /** The (advertisement, peer) pairs this node announces a group's services with. */
  #plan(g: BgpGroup): PlanPair[] {
    if (g.plan && g.planEpoch === this.#planEpoch) return g.plan;
    const pairs: PlanPair[] = [];
    const self = this.self;
    if (g.set.has(self)) {
      const peers = this.#peersOf.get(self) ?? [];
      for (const ad of g.ads) {
        if (this.#bgpAdNodes.get(ad)?.has(self) !== true) continue;
        for (const peer of peers) if (ad.peers.length === 0 || ad.peers.includes(peer.name)) pairs.push({ ad, peer: peer.name });
      }
    }
    g.plan = pairs;
    g.planEpoch = this.#planEpoch;
    return pairs;
  }

  /** This node's routes for the service: its group's plan (if it may announce here) times its addresses. */
  #setContributions(s: Svc): void {
    const g = s.group;
    const next = g && endpointOk(s.f, this.self) ? this.#plan(g) : null;
    this.#applyPlan(s, next !== null && next.length > 0 ? next : null);
  }

  #applyPlan(s: Svc, next: PlanPair[] | null): void {
    const old = s.plan;
    if (old === next) return;
    s.plan = next;
    const key = s.f.key;
    const bgp = this.#decision.bgp;
    let prefixesOf: BgpPolicy | undefined;
    let prefixes: readonly string[] = NO_NODES;
    const prefixesFor = (ad: BgpPolicy): readonly string[] => {
      if (prefixesOf !== ad) {
        prefixesOf = ad;
        prefixes = s.f.ips.length === 1 ? [aggregate(s.f.ips[0] as string, ad.aggregationLength, ad.aggregationLengthV6)] : s.f.ips.map((ip) => aggregate(ip, ad.aggregationLength, ad.aggregationLengthV6));
      }
      return prefixes;
    };
    for (const { ad, peer } of old ?? []) {
      const routes = bgp.get(peer);
      for (const prefix of prefixesFor(ad)) {
        const route = routes?.get(prefix);
        if (!route || !routes) continue;
        const c = this.#contrib.get(route);
        if (c === undefined || c.n === 1) {
          // Its only contribution: the route goes.
          this.#contrib.delete(route);
          routes.delete(prefix);
          if (routes.size === 0) bgp.delete(peer);
        } else {
          const i = c.ads.indexOf(ad);
          if (i >= 0 && --(c.adN[i] as number) === 0) {
            // Exact-size copies: arrays grown by push keep spare room.
            c.ads = c.ads.filter((_, k) => k !== i);
            c.adN = c.adN.filter((_, k) => k !== i);
          }
          const m = c.multi?.get(key);
          if (m !== undefined) {
            if (m > 2) c.multi?.set(key, m - 1);
            else c.multi?.delete(key);
          } else sortedRemove(route.services, key);
          c.n--;
          this.#setAttrs(route, this.#routeAttrs(c.ads));
        }
        this.#routeChanged(peer, prefix);
      }
    }
    // Routes this call created with one contribution, and its advertisement (this service's plan
    // is `next` already, so it cannot tell which pair made them).
    let mine: Map<BgpRoute, BgpPolicy> | undefined;
    for (const { ad, peer } of next ?? []) {
      let routes = bgp.get(peer);
      if (!routes) bgp.set(peer, (routes = new Map()));
      for (const prefix of prefixesFor(ad)) {
        const route = routes.get(prefix);
        this.#routeChanged(peer, prefix);
        if (!route) {
          const attrs = this.#routeAttrs1(ad);
          const r: BgpRoute = attrs.localPref === undefined
            ? { communities: attrs.communities, largeCommunities: attrs.largeCommunities, services: [key] }
            : { localPref: attrs.localPref, communities: attrs.communities, largeCommunities: attrs.largeCommunities, services: [key] };
          routes.set(prefix, r);
          if ((next?.length ?? 0) > 1 || s.f.ips.length > 1) (mine ??= new Map()).set(r, ad);
          continue;
        }
        let c = this.#contrib.get(route);
        if (c === undefined) {
          // A second contribution: record the first one's.
          const first = mine?.get(route) ?? this.#onlyAd(route, peer, prefix);
          c = { ads: [first], adN: [1], multi: undefined, n: 1 };
          this.#contrib.set(route, c);
        }
        const i = c.ads.indexOf(ad);
        if (i >= 0) c.adN = c.adN.map((x, k) => (k === i ? x + 1 : x));
        else {
          c.ads = c.ads.concat(ad);
          c.adN = c.adN.concat(1);
        }
        if (sortedIndex(route.services, key) >= 0) {
          c.multi ??= new Map();
          c.multi.set(key, (c.multi.get(key) ?? 1) + 1);
        } else sortedInsert(route.services, key);
        c.n++;
        this.#setAttrs(route, this.#routeAttrs(c.ads));
      }
    }
  }

  #routeChanged(peer: string, prefix: string): void {
    this.#bgpPeers.add(peer);
    if (this.#bgpAll) return;
    let set = this.#bgpChanges.get(peer);
    if (!set) this.#bgpChanges.set(peer, (set = new Set()));
    set.add(prefix);
  }

  /** The advertisement of a route's only contribution: the pair of its one service's plan that makes it. */
  #onlyAd(route: BgpRoute, peer: string, prefix: string): BgpPolicy {
    const s = this.#svcs.get(route.services[0] as string);
    for (const p of s?.plan ?? []) {
      if (p.peer !== peer) continue;
      for (const ip of s?.f.ips ?? []) if (aggregate(ip, p.ad.aggregationLength, p.ad.aggregationLengthV6) === prefix) return p.ad;
    }
    throw new Error(`incremental decide: no contribution found for route ${prefix} to ${peer} (a bug): restart the speaker`);
  }

  #setAttrs(route: BgpRoute, attrs: RouteAttrs): void {
    if (attrs.localPref === undefined) delete route.localPref;
    else route.localPref = attrs.localPref;
    route.communities = attrs.communities;
    route.largeCommunities = attrs.largeCommunities;
  }

  #attrs1 = new Map<BgpPolicy, RouteAttrs>();
  /** #routeAttrs of one advertisement, without building its key (nearly every route). */
  #routeAttrs1(ad: BgpPolicy): RouteAttrs {
    let a = this.#attrs1.get(ad);
    if (!a) this.#attrs1.set(ad, (a = this.#routeAttrs([ad])));
    return a;
  }

  /** A route's attributes from its contributing advertisements, as decide() merges them (shared arrays). */
  #routeAttrs(ads: readonly BgpPolicy[]): RouteAttrs {
    const key = ads.map((ad) => this.#pol.bgp.indexOf(ad)).sort((a, b) => a - b).join(',');
    let a = this.#attrs.get(key);
    if (a) return a;
    let lp: number | undefined;
    let comm: string[] = [];
    let large: string[] = [];
    for (const ad of ads) {
      if (ad.localPref !== undefined) lp = Math.max(lp ?? 0, ad.localPref);
      if (ad.communities.length) comm = union(comm, ad.communities);
      if (ad.largeCommunities.length) large = union(large, ad.largeCommunities);
    }
    a = { communities: comm, largeCommunities: large, ...(lp !== undefined ? { localPref: lp } : {}) };
    this.#attrs.set(key, a);
    return a;
  }

  // ---- reasons ---------------------------------------------------------------------------------

  #refreshReason(s: Svc): void {
    const v = s.view;
    const announced = v.bgpNodes.length > 0 || hasKeys(v.l2Owners);
    const reason = announced ? undefined : whyNotAnnounced(s.f, this.#pol, this.#liveList);
    if (announced) this.#unannounced.delete(s);
    else this.#unannounced.add(s);
    if (reason === v.reason) return;
    if (reason === undefined) delete v.reason;
    else v.reason = reason;
    this.#changed.add(s.f.key);
  }
}

function sameSet(a: ReadonlySet<string> | null, b: ReadonlySet<string> | null): boolean {
  if (a === null || b === null) return a === b;
  return a.size === b.size && [...a].every((x) => b.has(x));
}

function intersect(a: ReadonlySet<string> | null, b: ReadonlySet<string>): ReadonlySet<string> {
  if (a === null) return b;
  const out = new Set<string>();
  for (const x of a) if (b.has(x)) out.add(x);
  return out;
}

/**
 * The facts kept per service, compact: Cluster services never look at their endpoint nodes (no
 * set kept), arrays without spare room, properties in the object. Matters at 100k services.
 */
function compactFacts(f: ServiceFacts): ServiceFacts {
  return {
    key: f.key,
    labels: f.labels,
    ips: f.ips.length === 1 ? [f.ips[0] as string] : f.ips.slice(),
    pool: f.pool,
    externalTrafficPolicy: f.externalTrafficPolicy,
    endpointNodes: f.externalTrafficPolicy === 'Local' ? f.endpointNodes : NO_ENDPOINTS,
    hasServingEndpoint: f.hasServingEndpoint,
  };
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}

/**
 * The Cluster services of a BGP group (they share its node list), found when asked: a set of
 * members per group would cost ~25 bytes per Service, and only a node lost or back asks.
 */
function* clusterKeysOf(svcs: ReadonlyMap<string, Svc>, g: BgpGroup): Generator<string> {
  for (const s of svcs.values()) if (s.group === g && s.f.externalTrafficPolicy !== 'Local') yield s.f.key;
}
