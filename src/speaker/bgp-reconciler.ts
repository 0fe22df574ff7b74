// Reconciles the BGP engine and BFD with what this node should announce: one session per BGPPeer
// whose node selectors match this node, the routes decide() gave each peer, and a BFD session per
// peer with a profile. Incremental: a peer's session is touched only when its own settings change
// (the engine resets it only for session-level changes), and routes go out as differences.
import type { BfdManager, BfdSessionSpec, BfdStateEvent } from '../bfd/index.ts';
import { ROUTE_CHUNK, type BgpEngine, type PeerConfig, type RouteAttributes, type SessionState, type StateEvent } from '../bgp/index.ts';
import type { ParsedBGPPeer, ParsedConfig } from '../api/index.ts';
import { matchesAny, type Labels } from '../util/selector.ts';
import { logger } from '../util/log.ts';
import { familyOf, type Family } from '../util/address.ts';
import type { BgpRoute } from './decide.ts';

/** Restart time we offer peers when graceful restart is on (seconds; as FRR's default). */
export const GR_RESTART_TIME = 120;

export interface PeerProblem {
  peer: string;
  message: string;
}

export interface BgpNodeContext {
  nodeName: string;
  labels: Labels;
  /** This node's InternalIP per family (router ID and default next hop). */
  address4?: string;
  address6?: string;
  /** Keep routes at peers across our restart (graceful restart shutdown). */
  preserveOnShutdown: boolean;
  /**
   * Families this node can give a next hop for (a global address of that family on an interface,
   * or an InternalIP). Every session also carries the other family's routes (MP-BGP) when the node
   * has its next hop; the engine takes it from the session interface. Unset: the peer's family only.
   */
  nextHopFamilies?: ReadonlySet<Family>;
}

/**
 * Address families a session with this peer carries: only its own with disableMP; both with
 * dualStackAddressFamily (and on unnumbered sessions, where IPv4 goes with IPv6 next hops);
 * otherwise its own, plus the other when the node has a next hop for it (the engine then checks
 * the session's own interface, per connection: familiesFromInterface).
 */
export function sessionFamilies(p: ParsedBGPPeer, ctx: BgpNodeContext): Family[] {
  if (p.disableMP) return [p.family];
  if (p.dualStackAddressFamily || p.interface !== undefined) return ['IPv4', 'IPv6'];
  const other = p.family === 'IPv4' ? 'IPv6' : 'IPv4';
  return ctx.nextHopFamilies?.has(other) ? ['IPv4', 'IPv6'] : [p.family];
}

/** The engine's peer settings for a BGPPeer on this node, or a problem that keeps it from running. */
export function peerConfigFor(p: ParsedBGPPeer, ctx: BgpNodeContext): PeerConfig | PeerProblem {
  if (p.peerASN === undefined && p.dynamicASN === undefined) {
    return { peer: p.name, message: 'neither peerASN nor dynamicASN is set; set one of them' };
  }
  const routerId = p.routerID ?? ctx.address4;
  const cfg: PeerConfig = {
    name: p.name,
    localAsn: p.myASN,
    ...(p.peerASN !== undefined ? { peerAsn: p.peerASN } : { dynamicAsn: p.dynamicASN }),
    // BGP unnumbered: the engine learns the peer's link-local address on the interface.
    ...(p.peerAddress !== undefined ? { peerAddress: p.peerAddress } : { interface: p.interface as string }),
    peerPort: p.peerPort,
    holdTime: Math.round(p.holdTimeMs / 1000),
    keepaliveTime: Math.max(p.holdTimeMs === 0 ? 0 : 1, Math.round(p.keepaliveTimeMs / 1000)),
    connectRetryTime: Math.max(1, p.connectTimeMs / 1000),
    families: sessionFamilies(p, ctx),
  };
  if (!p.disableMP && !p.dualStackAddressFamily && p.interface === undefined && cfg.families?.length === 2) cfg.familiesFromInterface = true;
  if (p.vrf !== undefined) cfg.device = p.vrf;
  if (p.holdTimeMs === 0) delete cfg.keepaliveTime;
  if (routerId !== undefined) cfg.routerId = routerId;
  if (p.sourceAddress !== undefined) cfg.localAddress = p.sourceAddress;
  if (p.password !== undefined) cfg.password = p.password;
  if (p.ebgpMultiHop) cfg.ebgpMultihop = 255;
  if (p.gracefulRestart) cfg.gracefulRestart = { restartTime: GR_RESTART_TIME, preserveOnShutdown: ctx.preserveOnShutdown };
  return cfg;
}

export function bfdSpecFor(p: ParsedBGPPeer, config: ParsedConfig): BfdSessionSpec | undefined {
  if (p.bfdProfile === undefined || p.peerAddress === undefined) return undefined;
  const prof = config.bfdProfiles.get(p.bfdProfile);
  if (!prof) return undefined;
  const spec: BfdSessionSpec = {
    key: p.name,
    peerAddress: p.peerAddress,
    multihop: p.ebgpMultiHop,
    profile: {
      receiveInterval: prof.receiveInterval,
      transmitInterval: prof.transmitInterval,
      detectMultiplier: prof.detectMultiplier,
      echoMode: prof.echoMode,
      echoInterval: prof.echoInterval,
      passiveMode: prof.passiveMode,
      minimumTtl: prof.minimumTtl,
    },
  };
  if (p.sourceAddress !== undefined) spec.localAddress = p.sourceAddress;
  return spec;
}


/**
 * What changed in the routes since the last apply (the incremental decider's answer): per peer the
 * prefixes, or 'all'. Without it, apply compares whole tables (and needs no engine.updateRoutes).
 */
export type RouteChanges = ReadonlyMap<string, ReadonlySet<string>> | 'all';

const NO_ROUTES: ReadonlyMap<string, BgpRoute> = new Map();

/** Engine attributes of a decided route; routes sharing attribute arrays share one object. */
function attributesOf(): (r: BgpRoute) => RouteAttributes {
  let last: BgpRoute | undefined;
  let lastAttrs: RouteAttributes = {};
  return (r) => {
    if (last && r.localPref === last.localPref && r.communities === last.communities && r.largeCommunities === last.largeCommunities) return lastAttrs;
    const a: RouteAttributes = {};
    if (r.localPref !== undefined) a.localPref = r.localPref;
    if (r.communities.length) a.communities = r.communities;
    if (r.largeCommunities.length) a.largeCommunities = r.largeCommunities;
    last = r;
    lastAttrs = a;
    return a;
  };
}

export interface BgpReconcilerOptions {
  engine: BgpEngine;
  /** Created on first need (a worker thread), so nodes without BFD peers pay nothing. */
  bfd: () => BfdManager;
  onSessionState?: (ev: StateEvent) => void;
  onBfdState?: (peer: string, state: BfdStateEvent['state']) => void;
}

export class BgpReconciler {
  #opts: BgpReconcilerOptions;
  #log = logger('speaker-bgp');
  #peers = new Map<string, string>(); // name → JSON of the applied PeerConfig
  #families = new Map<string, ReadonlySet<Family>>();
  #routes = new Map<string, string>(); // name → JSON of the applied routes ('' after changes)
  /** Route changes reported since the last apply ran (applies queue; the routes map is live). */
  #pending: Map<string, Set<string>> | 'all' | undefined;
  #latest: { config: ParsedConfig; ctx: BgpNodeContext; routes: ReadonlyMap<string, ReadonlyMap<string, BgpRoute>> } | undefined;
  #routeFamilies = new Map<string, string>(); // name → families its routes were last set for
  #bfd = new Map<string, string>(); // name → JSON of the applied BFD spec
  #bfdManager: BfdManager | undefined;
  #bfdUp = new Set<string>();
  #bfdWarned = new Set<string>();
  #chain: Promise<void> = Promise.resolve();
  problems: PeerProblem[] = [];

  constructor(o: BgpReconcilerOptions) {
    this.#opts = o;
    o.engine.on('state', (ev) => o.onSessionState?.(ev));
  }

  /** Peer names with a session on this node. */
  get peers(): string[] {
    return [...this.#peers.keys()];
  }

  get bfdManager(): BfdManager | undefined {
    return this.#bfdManager;
  }

  /**
   * Applies a configuration and this node's routes per peer. Serialised: calls queue behind each
   * other, so the engine sees changes in order.
   */
  apply(config: ParsedConfig, ctx: BgpNodeContext, routes: ReadonlyMap<string, ReadonlyMap<string, BgpRoute>>, changes?: RouteChanges): Promise<void> {
    if (changes !== undefined) this.#note(changes);
    // A queued apply runs with the newest arguments: it takes every change noted so far, so it must
    // also take the routes those changes describe (an older call's routes would be sent as current
    // and the newer changes, already taken, never).
    this.#latest = { config, ctx, routes };
    const next = this.#chain.then(() => {
      const l = this.#latest ?? { config, ctx, routes };
      return this.#apply(l.config, l.ctx, l.routes, changes !== undefined);
    });
    this.#chain = next.catch(() => {});
    return next;
  }

  #note(changes: RouteChanges): void {
    if (this.#pending === 'all') return;
    if (changes === 'all') {
      this.#pending = 'all';
      return;
    }
    this.#pending ??= new Map();
    for (const [peer, prefixes] of changes) {
      let set = this.#pending.get(peer);
      if (!set) this.#pending.set(peer, (set = new Set()));
      for (const p of prefixes) set.add(p);
    }
  }

  async #apply(config: ParsedConfig, ctx: BgpNodeContext, routes: ReadonlyMap<string, ReadonlyMap<string, BgpRoute>>, incremental: boolean): Promise<void> {
    const changes = incremental ? (this.#pending ?? new Map<string, Set<string>>()) : undefined;
    this.#pending = undefined;
    try {
      await this.#applySteps(config, ctx, routes, changes);
    } catch (err) {
      // Whatever this apply did not get to goes out whole next time.
      if (incremental) this.#pending = 'all';
      throw err;
    }
  }

  async #applySteps(config: ParsedConfig, ctx: BgpNodeContext, routes: ReadonlyMap<string, ReadonlyMap<string, BgpRoute>>, changes: RouteChanges | undefined): Promise<void> {
    const engine = this.#opts.engine;
    const reconfigured = new Set<string>();
    const wanted = new Map<string, PeerConfig>();
    const problems: PeerProblem[] = [];
    for (const p of config.bgpPeers.values()) {
      if (!matchesAny(p.nodeSelectors, ctx.labels)) continue;
      const c = peerConfigFor(p, ctx);
      if ('message' in c) problems.push(c);
      else {
        wanted.set(p.name, c);
        this.#families.set(p.name, new Set(sessionFamilies(p, ctx)));
      }
    }
    this.problems = problems;
    for (const name of [...this.#peers.keys()]) {
      if (wanted.has(name)) continue;
      await this.#removeBfd(name);
      this.#peers.delete(name);
      this.#routes.delete(name);
      this.#routeFamilies.delete(name);
      this.#log.info({ peer: name }, 'BGP peer removed');
      await engine.removePeer(name).catch((err: unknown) => this.#log.warn({ peer: name, err: String(err) }, 'cannot remove BGP peer'));
    }
    for (const [name, cfg] of wanted) {
      const key = JSON.stringify(cfg);
      const prev = this.#peers.get(name);
      if (prev === key) continue;
      try {
        if (prev === undefined) {
          engine.addPeer(cfg);
          this.#log.info({ peer: name, address: cfg.peerAddress, interface: cfg.interface, asn: cfg.peerAsn ?? cfg.dynamicAsn }, 'BGP peer added');
        } else {
          await engine.updatePeer(cfg);
          this.#log.info({ peer: name }, 'BGP peer changed');
        }
        this.#peers.set(name, key);
        reconfigured.add(name);
      } catch (err) {
        problems.push({ peer: name, message: `cannot configure the session: ${err instanceof Error ? err.message : String(err)}` });
      }
    }
    for (const name of this.#peers.keys()) {
      const families = this.#families.get(name) ?? new Set<Family>(['IPv4']);
      const famKey = [...families].sort().join();
      const attrsOf = attributesOf();
      if (changes !== undefined && changes !== 'all' && !reconfigured.has(name) && this.#routes.has(name) && this.#routeFamilies.get(name) === famKey) {
        // The incremental path: only the prefixes that changed, each as it is now.
        const prefixes = changes.get(name);
        if (!prefixes?.size) continue;
        const delta = new Map<string, RouteAttributes | null>();
        const mine = routes.get(name);
        for (const p of prefixes) {
          const r = mine?.get(p);
          delta.set(p, r && families.has(familyOf(p)) ? attrsOf(r) : null);
        }
        engine.updateRoutes(name, delta);
        continue;
      }
      // The peer's routes, of the families the session carries, as the engine's attributes.
      const mine = routes.get(name) ?? NO_ROUTES;
      const pick = (r: BgpRoute, p: string): RouteAttributes | undefined => (families.has(familyOf(p)) ? attrsOf(r) : undefined);
      this.#routeFamilies.set(name, famKey);
      if (changes === undefined) {
        // Whole tables compared (callers without change tracking): unchanged, nothing to do.
        const m = new Map<string, RouteAttributes>();
        let n = 0;
        for (const [prefix, r] of mine) {
          const a = pick(r, prefix);
          if (a) m.set(prefix, a);
          // Built in steps, as the engine takes it: the loop runs.
          if (++n % ROUTE_CHUNK === 0) await new Promise((res) => setImmediate(res));
        }
        const key = JSON.stringify([...m].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
        if (this.#routes.get(name) === key) continue;
        this.#routes.set(name, key);
        await engine.setRoutes(name, m);
        continue;
      }
      this.#routes.set(name, '');
      // The decision's own map, not a copy of 100k routes: the engine reads it over several turns
      // (awaited, so a bad route fails this apply); what changes meanwhile is noted in #pending
      // and goes out with updateRoutes after it.
      await engine.setRoutes(name, mine, pick);
    }
    // BFD, per peer with a profile.
    for (const name of [...this.#bfd.keys()]) {
      const p = config.bgpPeers.get(name);
      if (!this.#peers.has(name) || !p || bfdSpecFor(p, config) === undefined) await this.#removeBfd(name);
    }
    for (const name of this.#peers.keys()) {
      const p = config.bgpPeers.get(name);
      if (p?.interface !== undefined && p.bfdProfile !== undefined && !this.#bfdWarned.has(name)) {
        this.#bfdWarned.add(name);
        this.#log.warn({ peer: name, interface: p.interface }, 'BFD is not run with unnumbered BGP peers yet; the session relies on its hold timer');
      }
      const spec = p && bfdSpecFor(p, config);
      if (!spec) continue;
      const key = JSON.stringify(spec);
      if (this.#bfd.get(name) === key) continue;
      try {
        await this.#manager().updateSession(spec);
        this.#bfd.set(name, key);
      } catch (err) {
        problems.push({ peer: name, message: `cannot start BFD: ${err instanceof Error ? err.message : String(err)}` });
      }
    }
  }

  #manager(): BfdManager {
    if (!this.#bfdManager) {
      const m = this.#opts.bfd();
      m.on('state', (e: BfdStateEvent) => {
        this.#opts.onBfdState?.(e.key, e.state);
        if (e.state === 'Up') this.#bfdUp.add(e.key);
        else if (this.#bfdUp.delete(e.key) && this.#peers.has(e.key)) {
          // The path is dead: drop the BGP session now rather than after the hold time.
          this.#log.warn({ peer: e.key, state: e.state }, 'BFD down: resetting the BGP session');
          try {
            this.#opts.engine.resetPeer(e.key, `BFD ${e.state}`);
          } catch (err) {
            this.#log.warn({ peer: e.key, err: String(err) }, 'cannot reset BGP peer');
          }
        }
      });
      m.on('error', (err: Error) => this.#log.error({ err: err.message }, 'BFD failed'));
      this.#bfdManager = m;
    }
    return this.#bfdManager;
  }

  async #removeBfd(name: string): Promise<void> {
    if (!this.#bfd.delete(name)) return;
    this.#bfdUp.delete(name);
    await this.#bfdManager?.removeSession(name).catch(() => {});
  }

  sessionState(name: string): SessionState | undefined {
    try {
      return this.#opts.engine.peerStatus(name).state;
    } catch {
      return undefined;
    }
  }

  /** Waits for queued changes, then closes the engine (withdrawing, or keeping routes through GR). */
  async close(gracefulRestart: boolean): Promise<void> {
    await this.#chain;
    await this.#opts.engine.close({ gracefulRestart });
    if (this.#bfdManager) await this.#bfdManager.close();
  }
}
