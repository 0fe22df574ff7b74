// The BGP engine: peers, their sessions and Adj-RIBs-Out, and the listener for passive opens.
// This is the API the speaker uses; nothing here knows about Kubernetes.
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { CeaseSub } from './codec/constants.ts';
import { canonicalPrefix, parseAddress } from './codec/prefix.ts';
import { AttrTable, type AttrSet } from './attr-set.ts';
import { refuse, Session, type ResolvedPeer } from './session.ts';
import { defaultSockets, unmapAddress, type BgpListener, type SocketFactory } from './socket.ts';
import { defaultRouterId } from './local-link.ts';
import { defaultLinkPeers, type LinkPeerSource } from './unnumbered/link-peers.ts';
import { logger, type Logger } from '../util/log.ts';
import type { EngineOptions, PeerConfig, PeerStatus, RouteAttributes, StateEvent } from './types.ts';

export const DEFAULT_PORT = 179;
const DEFAULT_HOLD = 90;
const DEFAULT_CONNECT_RETRY = 5;
/**
 * A large setRoutes works in steps of at most ROUTE_CHUNK routes or ROUTE_STEP_MS, whichever comes
 * first, then yields the event loop (docs/performance.md, "Event-loop blocking by large route
 * changes"). Tables up to ROUTE_CHUNK routes are taken at once.
 */
export const ROUTE_CHUNK = 4096;
const ROUTE_STEP_MS = 4;

interface Replacement {
  superseded: boolean;
  /** updateRoutes calls that arrived meanwhile, applied after the table is in. */
  queued: Array<ReadonlyArray<[string, AttrSet | null]>>;
  done: Promise<void>;
}

/** Settings that an established session can take without being reset. */
const LIVE_KEYS: ReadonlySet<keyof PeerConfig> = new Set(['connectRetryTime', 'passive', 'name']);

function validAsn(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1 || v > 0xffffffff) throw new Error(`${name} must be an integer 1..4294967295, got ${v}`);
}

function resolve(cfg: PeerConfig, engineRouterId: string | undefined): ResolvedPeer {
  if (!cfg.name) throw new Error('peer name is required');
  validAsn('localAsn', cfg.localAsn);
  if ((cfg.peerAsn === undefined) === (cfg.dynamicAsn === undefined)) {
    throw new Error(`peer ${cfg.name}: set exactly one of peerAsn and dynamicAsn`);
  }
  if (cfg.peerAsn !== undefined) validAsn('peerAsn', cfg.peerAsn);
  if (cfg.dynamicAsn !== undefined && cfg.dynamicAsn !== 'internal' && cfg.dynamicAsn !== 'external') {
    throw new Error(`peer ${cfg.name}: dynamicAsn must be "internal" or "external", got ${JSON.stringify(cfg.dynamicAsn)}`);
  }
  if ((cfg.peerAddress === undefined) === (cfg.interface === undefined)) {
    throw new Error(`peer ${cfg.name}: set exactly one of peerAddress and interface (BGP unnumbered)`);
  }
  if (cfg.peerAddress !== undefined) parseAddress(cfg.peerAddress);
  if (cfg.interface !== undefined) {
    if (!/^[^/%:\s]{1,15}$/.test(cfg.interface) || cfg.interface === '.' || cfg.interface === '..') throw new Error(`peer ${cfg.name}: interface must be a Linux interface name (1..15 characters, no "/", ":", "%" or spaces), got ${JSON.stringify(cfg.interface)}`);
    if (cfg.ebgpMultihop !== undefined && cfg.ebgpMultihop > 1) throw new Error(`peer ${cfg.name}: an unnumbered peer (interface) is on the link; ebgpMultihop does not apply`);
  }
  if (cfg.localAddress) parseAddress(cfg.localAddress);
  const holdTime = cfg.holdTime ?? DEFAULT_HOLD;
  if (!Number.isInteger(holdTime) || holdTime < 0 || holdTime > 65535 || holdTime === 1 || holdTime === 2) {
    throw new Error(`peer ${cfg.name}: holdTime must be 0 or 3..65535 seconds, got ${holdTime}`);
  }
  const connectRetryTime = cfg.connectRetryTime ?? DEFAULT_CONNECT_RETRY;
  if (!(connectRetryTime > 0)) throw new Error(`peer ${cfg.name}: connectRetryTime must be positive, got ${connectRetryTime}`);
  let routerId = cfg.routerId ?? engineRouterId;
  if (!routerId && cfg.localAddress && parseAddress(cfg.localAddress).length === 4) routerId = cfg.localAddress;
  routerId ??= defaultRouterId();
  if (!routerId || parseAddress(routerId).length !== 4) throw new Error(`peer ${cfg.name}: routerId must be an IPv4 address (set routerId on the engine or the peer)`);
  const families = cfg.families?.length ? [...new Set(cfg.families)] : (['IPv4', 'IPv6'] as const).slice();
  for (const f of families) if (f !== 'IPv4' && f !== 'IPv6') throw new Error(`peer ${cfg.name}: family must be IPv4 or IPv6, got ${String(f)}`);
  if (cfg.gracefulRestart && !(cfg.gracefulRestart.restartTime >= 0 && cfg.gracefulRestart.restartTime <= 4095)) {
    throw new Error(`peer ${cfg.name}: gracefulRestart.restartTime must be 0..4095 seconds`);
  }
  if (cfg.minTtl !== undefined && !(cfg.minTtl >= 1 && cfg.minTtl <= 255)) throw new Error(`peer ${cfg.name}: minTtl must be 1..255`);
  if (cfg.ebgpMultihop !== undefined && !(cfg.ebgpMultihop >= 1 && cfg.ebgpMultihop <= 255)) throw new Error(`peer ${cfg.name}: ebgpMultihop must be 1..255`);
  return { ...cfg, peerPort: cfg.peerPort ?? DEFAULT_PORT, holdTime, connectRetryTime, routerId, families };
}

function sameSession(a: ResolvedPeer, b: ResolvedPeer): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)] as Array<keyof PeerConfig>);
  for (const k of keys) {
    if (LIVE_KEYS.has(k)) continue;
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return false;
  }
  return true;
}

export interface BgpEngineEvents {
  state: [StateEvent];
}

export class BgpEngine extends EventEmitter<BgpEngineEvents> {
  private readonly opts: EngineOptions;
  private readonly log: Logger;
  private readonly sessions = new Map<string, Session>();
  private readonly attrs = new AttrTable();
  private readonly replacing = new Map<string, Replacement>();
  private readonly sockets: () => Promise<SocketFactory>;
  private listener: BgpListener | undefined;
  private readonly listening: Promise<void>;
  private closed = false;
  private listenerTtl255 = false;
  /** Unnumbered peers' interfaces: one neighbour source each, shared by the peers on it. */
  private readonly links = new Map<string, { source: LinkPeerSource; users: number; keys: Set<string> }>();

  constructor(opts: EngineOptions = {}) {
    super();
    this.opts = opts;
    this.log = opts.logger ?? logger('bgp');
    if (opts.routerId !== undefined && parseAddress(opts.routerId).length !== 4) throw new Error(`routerId must be an IPv4 address, got "${opts.routerId}"`);
    const factory = opts.sockets;
    this.sockets = factory ? () => Promise.resolve(factory) : defaultSockets;
    this.listening = this.startListener();
    // Logged in startListener; ready() still reports it to whoever asks.
    this.listening.catch(() => {});
  }

  private async startListener(): Promise<void> {
    const l = this.opts.listen === undefined ? { address: '::', port: DEFAULT_PORT } : this.opts.listen;
    if (l === false) return;
    try {
      const f = await this.sockets();
      const listener = await f.listen(l, (s) => this.onIncoming(s));
      if (this.closed) {
        await listener.close();
        return;
      }
      this.listener = listener;
      for (const s of this.sessions.values()) this.applyPassword(s.config);
      this.log.info({ address: l.address, port: listener.port, sockets: f.name }, 'listening for BGP peers');
    } catch (e) {
      // Active sessions still work; peers that only connect to us will not.
      this.log.error({ err: (e as Error).message, address: l.address, port: l.port }, 'cannot listen for BGP peers; sessions will only connect out');
      throw e;
    }
  }

  /** Resolves when the listener is up (rejects if it could not bind). */
  ready(): Promise<void> {
    return this.listening;
  }

  /** The listening port, once ready (useful with port 0). */
  get port(): number | undefined {
    return this.listener?.port;
  }

  private onIncoming(socket: net.Socket): void {
    // Link-local peers come with their interface as scope ("fe80::1%eth0"): unnumbered peers match on it.
    const remote = unmapAddress(socket.remoteAddress ?? '');
    for (const s of this.sessions.values()) {
      if (s.matches(remote)) {
        s.acceptIncoming(socket);
        return;
      }
    }
    this.log.info({ remote }, 'connection from an unknown address refused');
    refuse(socket);
  }

  private applyPassword(cfg: ResolvedPeer, remove = false): void {
    if (!this.listener) return;
    if (!remove && cfg.minTtl !== undefined && !this.listenerTtl255) {
      // GTSM peers must see our SYN-ACK with TTL 255 already; harmless for the other peers.
      try {
        if (!this.listener.setTtl) throw new Error('TTL on the listening socket needs the native addon (src/native)');
        this.listener.setTtl(255);
        this.listenerTtl255 = true;
      } catch (e) {
        this.log.error({ peer: cfg.name, err: (e as Error).message }, 'cannot set TTL 255 on the listener for GTSM');
      }
    }
    if (cfg.peerAddress === undefined) {
      this.applyLinkPasswords(cfg, remove);
      return;
    }
    try {
      if (remove) {
        if (cfg.password !== undefined) this.listener.setPassword(cfg.peerAddress, undefined);
      } else if (cfg.password !== undefined) this.listener.setPassword(cfg.peerAddress, cfg.password);
    } catch (e) {
      this.log.error({ peer: cfg.name, err: (e as Error).message }, 'cannot set the TCP MD5 key on the listener');
    }
  }

  /**
   * Unnumbered peers with a password: the listener takes the key for every neighbour learned on
   * the interface (the key is per address; the neighbour is known only once heard).
   */
  private applyLinkPasswords(cfg: ResolvedPeer, remove: boolean): void {
    const link = cfg.interface !== undefined ? this.links.get(cfg.interface) : undefined;
    if (!link || !this.listener || cfg.password === undefined) return;
    const want = remove ? [] : link.source.peers.map((a) => `${a}%${link.source.ifname}`);
    try {
      for (const k of link.keys) if (!want.includes(k)) this.listener.setPassword(k, undefined);
      for (const k of want) if (!link.keys.has(k)) this.listener.setPassword(k, cfg.password);
      link.keys = new Set(want);
    } catch (e) {
      this.log.error({ peer: cfg.name, err: (e as Error).message }, 'cannot set the TCP MD5 key on the listener for a link-local neighbour');
    }
  }

  private acquireLink(ifname: string): LinkPeerSource {
    let l = this.links.get(ifname);
    if (!l) {
      const source = (this.opts.linkPeers ?? defaultLinkPeers)(ifname, this.log);
      l = { source, users: 0, keys: new Set() };
      this.links.set(ifname, l);
      source.on('change', () => {
        for (const s of this.sessions.values()) if (s.config.interface === ifname) this.applyLinkPasswords(s.config, false);
      });
    }
    l.users++;
    return l.source;
  }

  private releaseLink(ifname: string | undefined): void {
    const l = ifname === undefined ? undefined : this.links.get(ifname);
    if (!l || ifname === undefined) return;
    if (--l.users > 0) return;
    this.links.delete(ifname);
    l.source.close();
  }

  addPeer(cfg: PeerConfig): void {
    if (this.closed) throw new Error('the BGP engine is closed');
    if (this.sessions.has(cfg.name)) throw new Error(`peer "${cfg.name}" already exists; use updatePeer to change it`);
    const resolved = resolve(cfg, this.opts.routerId);
    const session = new Session(resolved, {
      sockets: this.sockets,
      log: this.log,
      onState: (ev) => this.emit('state', ev),
      ...(resolved.interface !== undefined ? { link: this.acquireLink(resolved.interface) } : {}),
    });
    this.sessions.set(cfg.name, session);
    this.applyPassword(resolved);
    session.start();
  }

  /** Changes a peer; the session is reset only when a session-level setting changed. */
  async updatePeer(cfg: PeerConfig): Promise<void> {
    const s = this.session(cfg.name);
    const next = resolve(cfg, this.opts.routerId);
    if (sameSession(s.config, next)) {
      s.reconfigure(next);
      return;
    }
    this.applyPassword(s.config, true);
    await s.stop(CeaseSub.OTHER_CONFIG_CHANGE);
    if (s.config.interface !== next.interface) {
      const before = s.config.interface;
      s.setLink(next.interface !== undefined ? this.acquireLink(next.interface) : undefined);
      this.releaseLink(before);
    }
    s.reconfigure(next);
    this.applyPassword(next);
    s.start();
  }

  /** Sends Cease (peer de-configured) and forgets the peer. */
  async removePeer(name: string): Promise<void> {
    const s = this.session(name);
    this.sessions.delete(name);
    this.applyPassword(s.config, true);
    await s.stop(CeaseSub.PEER_DECONFIGURED);
    s.setLink(undefined);
    this.releaseLink(s.config.interface);
    s.forgetMetrics();
  }

  /**
   * Desired routes of a peer, as a whole: only the difference goes on the wire. A table of up to
   * ROUTE_CHUNK routes is taken at once; a larger one over several event-loop turns, ROUTE_CHUNK
   * routes per turn, so 100k routes never block the loop (BFD, membership and the other sessions
   * share it). With `pick`, `routes` may hold anything: pick gives a value's attributes, or
   * undefined to leave it out (the caller's own table, without a copy of it).
   *
   * The engine reads `routes` after this call returns, without a copy: for routes changed
   * meanwhile it may read either state, so send those with updateRoutes afterwards (they apply
   * after the table is in), or pass a map you do not change. Resolves when the table is the peer's
   * desired state (the wire follows); a bad route (of `routes` as it was when called) changes
   * nothing and throws (small table) or rejects (large). A later setRoutes for the peer supersedes a
   * running one (its promise resolves when the later one is in); updateRoutes, announce and
   * withdraw wait for it, in order.
   */
  setRoutes(peerName: string, routes: ReadonlyMap<string, RouteAttributes>): Promise<void>;
  setRoutes<V>(peerName: string, routes: ReadonlyMap<string, V>, pick: (v: V, prefix: string) => RouteAttributes | undefined): Promise<void>;
  setRoutes<V>(peerName: string, routes: ReadonlyMap<string, V>, pick: (v: V, prefix: string) => RouteAttributes | undefined = (v) => v as RouteAttributes): Promise<void> {
    const s = this.session(peerName);
    const running = this.replacing.get(peerName);
    if (running) running.superseded = true;
    if (routes.size <= ROUTE_CHUNK && !running) {
      // Throws at once on a bad route, as before chunking (callers that do not await still see it).
      this.replaceNow(s, routes, pick);
      return Promise.resolve();
    }
    const job: Replacement = { superseded: false, queued: [], done: Promise.resolve() };
    this.replacing.set(peerName, job);
    job.done = this.replaceChunked(peerName, s, routes, pick, job, running).finally(() => {
      if (this.replacing.get(peerName) === job) this.replacing.delete(peerName);
    });
    return job.done;
  }

  /** Small tables: validated into a map of canonical prefixes (a bad route changes nothing), then the difference taken. */
  private replaceNow<V>(s: Session, routes: ReadonlyMap<string, V>, pick: (v: V, prefix: string) => RouteAttributes | undefined): void {
    const intern = this.interner();
    const m = new Map<string, AttrSet>();
    for (const [p, v] of routes) {
      const a = pick(v, p);
      if (a !== undefined) m.set(canonicalPrefix(p), intern(a));
    }
    s.setRoutes(m);
    this.collectAttrs();
  }

  /** Routes usually share a few attribute objects: remember the last one to skip most lookups. */
  private interner(): (a: RouteAttributes) => AttrSet {
    let lastIn: RouteAttributes | undefined;
    let lastSet: AttrSet | undefined;
    return (a) => {
      if (a !== lastIn || !lastSet) {
        lastSet = this.attrs.intern(a);
        lastIn = a;
      }
      return lastSet;
    };
  }

  /**
   * A large table in bounded steps: validate all (nothing changes if one is bad), set each route,
   * then drop the prefixes the table no longer has; ROUTE_CHUNK routes per event-loop turn.
   */
  private async replaceChunked<V>(peer: string, s: Session, routes: ReadonlyMap<string, V>, pick: (v: V, prefix: string) => RouteAttributes | undefined, job: Replacement, before: Replacement | undefined): Promise<void> {
    // The superseded job stops at its next turn; wait for it so two never interleave.
    await before?.done.catch(() => {});
    try {
      await this.replaceSteps(peer, s, routes, pick, job);
    } catch (e) {
      // Nothing of the bad table was applied; changes that waited for it still apply.
      if (!job.superseded) for (const q of job.queued) this.applyUpdates(peer, q);
      throw e;
    }
  }

  private async replaceSteps<V>(peer: string, s: Session, routes: ReadonlyMap<string, V>, pick: (v: V, prefix: string) => RouteAttributes | undefined, job: Replacement): Promise<void> {
    // Held from the start: a session coming up meanwhile sends End-of-RIB only after the table.
    const bulk = s.beginRouteBulk();
    let started = performance.now();
    let n = 0;
    /**
     * Runs `fn` on items until they run out (true) or this turn's share is used up (false; checked
     * every 256). A plain loop over the map's keys: no entry arrays or generator steps per route,
     * which at 100k routes per pass would be megabytes of garbage.
     */
    const turn = (items: Iterator<string>, fn: (p: string) => void): boolean => {
      for (;;) {
        const r = items.next();
        if (r.done) return true;
        fn(r.value);
        if (++n % 256 === 0 && (n % ROUTE_CHUNK === 0 || performance.now() - started > ROUTE_STEP_MS)) return false;
      }
    };
    /** All of `items`, yielding the loop between turns; false when this job should stop (superseded, engine closed). */
    const each = async (items: Iterator<string>, fn: (p: string) => void): Promise<boolean> => {
      while (!turn(items, fn)) {
        if (bulk.marked) s.flushRoutes();
        await new Promise((r) => setImmediate(r));
        started = performance.now();
        if (job.superseded || this.closed) return false;
      }
      return true;
    };
    let count = 0;
    try {
      const intern = this.interner();
      const renamed = new Map<string, string>(); // canonical → given, for keys not in canonical form
      const validate = (p: string): void => {
        const a = pick(routes.get(p) as V, p);
        if (a === undefined) return;
        const c = canonicalPrefix(p);
        if (c !== p) renamed.set(c, p);
        intern(a);
      };
      const set = (p: string): void => {
        const a = pick(routes.get(p) as V, p);
        if (a === undefined) return;
        bulk.set(renamed.size && canonicalPrefix(p) !== p ? canonicalPrefix(p) : p, intern(a));
        count++;
      };
      // Deleting from a Map while iterating it is safe; entries set above are all in `routes`.
      const drop = (p: string): void => {
        const v = routes.get(p);
        if ((v === undefined || pick(v, p) === undefined) && !renamed.has(p)) bulk.remove(p);
      };
      if (!(await each(routes.keys(), validate)) || !(await each(routes.keys(), set)) || !(await each(s.desiredPrefixes(), drop))) return;
    } finally {
      bulk.end();
      // Also when nothing changed: an End-of-RIB may have waited for the table (rib.settling).
      s.flushRoutes();
    }
    this.collectAttrs();
    // Changes made meanwhile by updateRoutes/announce/withdraw, in order.
    for (const q of job.queued) this.applyUpdates(peer, q);
    this.log.debug({ peer, routes: count }, 'route table replaced');
  }

  /**
   * Changes some routes of a peer (null: withdraw): the speaker's incremental path, costing the
   * size of the change. Validated first (throws, changing nothing, on a bad route). Waits behind a
   * running setRoutes of the peer.
   */
  updateRoutes(peerName: string, changes: ReadonlyMap<string, RouteAttributes | null>): void {
    this.session(peerName);
    const intern = this.interner();
    const checked: Array<[string, AttrSet | null]> = [];
    for (const [p, a] of changes) checked.push([canonicalPrefix(p), a === null ? null : intern(a)]);
    const running = this.replacing.get(peerName);
    if (running) running.queued.push(checked);
    else this.applyUpdates(peerName, checked);
  }

  private applyUpdates(peerName: string, changes: ReadonlyArray<[string, AttrSet | null]>): void {
    const s = this.sessions.get(peerName);
    if (!s) return;
    s.updateRoutes(changes);
    this.collectAttrs();
  }

  announce(peerName: string, prefix: string, attrs: RouteAttributes = {}): void {
    this.updateRoutes(peerName, new Map([[prefix, attrs]]));
  }

  withdraw(peerName: string, prefix: string): void {
    this.updateRoutes(peerName, new Map([[prefix, null]]));
  }

  /** Drops the session at once (e.g. BFD Down); it reconnects per connect-retry. */
  resetPeer(name: string, reason: string): void {
    this.session(name).reset(reason);
  }

  peerStatus(name: string): PeerStatus {
    return this.session(name).status();
  }

  peers(): PeerStatus[] {
    return [...this.sessions.values()].map((s) => s.status());
  }

  /**
   * Closes every session and the listener. With graceful restart (or a peer's
   * preserveOnShutdown) the connection just ends, so the peer keeps our routes as stale until we
   * come back; otherwise Cease tells the peer to drop them now.
   */
  async close(opts: { gracefulRestart?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.shutdown(opts.gracefulRestart)));
    for (const l of this.links.values()) l.source.close();
    this.links.clear();
    await this.listening.catch(() => {});
    await this.listener?.close();
    this.listener = undefined;
  }

  private session(name: string): Session {
    const s = this.sessions.get(name);
    if (!s) throw new Error(`no BGP peer named "${name}"; add it with addPeer first`);
    return s;
  }

  private collectCount = 0;
  /** Drops interned attribute sets no route uses, now and then (they are few, but unbounded otherwise). */
  private collectAttrs(): void {
    if (++this.collectCount % 64 !== 0 && this.attrs.size < 10_000) return;
    const used = new Set<AttrSet>();
    for (const s of this.sessions.values()) s.attrSetsInUse(used);
    this.attrs.retain(used);
  }
}
