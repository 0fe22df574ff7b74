// One peer's session: sockets, timers and the FSM (fsm.ts) put together. Its parts live beside it:
// the connections (connection.ts), our OPEN (open-message.ts), collision handling (collision.ts),
// what an established session runs with (negotiation.ts) and its routes on the wire (route-sender.ts).
// The engine tells a session what to do (its routes, reconfigure, reset, shutdown); it does not
// reach into the session's Adj-RIB-Out.
import type net from 'node:net';
import { Afi, CeaseSub, Err, MAX_EXTENDED_MESSAGE, SAFI_UNICAST, notificationName } from './codec/constants.ts';
import { BgpError } from './codec/errors.ts';
import { emptyCapabilities } from './codec/capabilities.ts';
import { decodeMessage, encodeKeepalive, encodeNotification, MessageReader, type BgpMessage, type UpdateMessage } from './codec/messages.ts';
import { parseAddress } from './codec/prefix.ts';
import type { DecodeContext } from './codec/attributes.ts';
import { initialState, step, type Action, type FsmConfig, type FsmEvent, type State } from './fsm.ts';
import type { RibBulk } from './adj-rib-out.ts';
import type { AttrSet } from './attr-set.ts';
import { UpdateEncoder } from './update-builder.ts';
import type { LinkPeerSource } from './unnumbered/link-peers.ts';
import { unmapAddress, type SocketFactory } from './socket.ts';
import type { Logger } from '../util/log.ts';
import type { Family, NegotiatedCapabilities, PeerConfig, PeerCounters, PeerStatus, StateEvent } from './types.ts';
import { bgpMetrics } from './metrics.ts';
import { isIbgp } from './open-check.ts';
import { CLOSE_GRACE_MS, Conn, refuse } from './connection.ts';
import { offeredFamilies, openMessage } from './open-message.ts';
import { resolveCollision } from './collision.ts';
import { negotiate } from './negotiation.ts';
import { RouteSender } from './route-sender.ts';

export { refuse } from './connection.ts';
export { FLUSH_BATCH } from './route-sender.ts';

/** A PeerConfig with every default filled in. */
export interface ResolvedPeer extends PeerConfig {
  peerPort: number;
  holdTime: number;
  connectRetryTime: number;
  routerId: string;
  families: Family[];
}

const CONNECT_TIMEOUT_MS = 30_000;
const MAX_RETRY_TIME = 60;

function jitter(seconds: number): number {
  // RFC 4271 §10: jitter the keepalive and connect-retry timers by up to 25% downwards.
  return seconds * (0.75 + Math.random() * 0.25);
}

function emptyCounters(): PeerCounters {
  return {
    messagesIn: 0, messagesOut: 0, updatesIn: 0, updatesOut: 0, prefixesAnnouncedIn: 0, prefixesWithdrawnIn: 0,
    prefixesAnnouncedOut: 0, prefixesWithdrawnOut: 0, treatAsWithdraw: 0, attributesDiscarded: 0,
    notificationsIn: 0, notificationsOut: 0, routeRefreshIn: 0, endOfRibIn: 0, establishedTransitions: 0, connectAttempts: 0,
  };
}

export interface SessionDeps {
  sockets: () => Promise<SocketFactory>;
  /** Unnumbered peers (cfg.interface): the link-local neighbours of the interface. */
  link?: LinkPeerSource;
  log: Logger;
  onState: (ev: StateEvent) => void;
}

export class Session {
  #cfg: ResolvedPeer;
  private fsmCfg: FsmConfig;
  private current = new Conn(initialState()); // the connection the session runs on
  private colliding: Conn | undefined; // a second connection (the peer's, accepted during ours): collision resolution keeps one
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly deps: SessionDeps;
  private readonly log: Logger;
  private counters = emptyCounters();
  private readonly routes: RouteSender;
  private establishedAt = 0;
  private negotiated: NegotiatedCapabilities | undefined;
  private localAddress: string | undefined;
  private firstSession = true;
  private lastError: string | undefined;
  private readonly closing = new Set<Promise<void>>();
  private warnedOffers = new Set<string>();
  private link: LinkPeerSource | undefined;
  /** The peer address of the last connection (unnumbered: the learned "fe80::..%if"). */
  private remote: string | undefined;
  /** Unnumbered: which of the link's neighbours the next attempt goes to. */
  private candidate = 0;
  private readonly onLinkChange = (): void => {
    this.candidate = 0;
    this.connectNow();
  };

  constructor(cfg: ResolvedPeer, deps: SessionDeps) {
    this.#cfg = cfg;
    this.deps = deps;
    this.log = deps.log.child({ peer: cfg.name, ...(cfg.interface !== undefined ? { interface: cfg.interface } : { peerAddress: cfg.peerAddress }) });
    this.fsmCfg = Session.fsmConfig(cfg);
    this.routes = new RouteSender({
      peer: cfg.name,
      log: this.log,
      counters: this.counters,
      socket: () => (this.current.fsm.state === 'Established' ? this.current.socket : undefined),
      write: (msg) => this.write(this.current, msg),
      overflow: (error) => this.dispatch(this.current, { type: 'MessageError', error }),
    });
    if (deps.link) this.setLink(deps.link);
  }

  /** The peer's settings, as the engine last gave them (read-only: change them with reconfigure). */
  get config(): Readonly<ResolvedPeer> {
    return this.#cfg;
  }

  private get cfg(): ResolvedPeer {
    return this.#cfg;
  }

  // -------------------------------------------------------------------------------------------
  // The routes the engine wants on this session

  /** Replaces this session's routes; the difference goes out. */
  setRoutes(routes: ReadonlyMap<string, AttrSet>): void {
    this.routes.replace(routes);
  }

  /** Sets (null: withdraws) some routes. */
  updateRoutes(changes: ReadonlyArray<readonly [string, AttrSet | null]>): void {
    this.routes.update(changes);
  }

  /**
   * A table replaced in steps: End-of-RIB waits for its end. Call flushRoutes between steps and
   * after end() (also when nothing changed: an End-of-RIB may have waited for the table).
   */
  beginRouteBulk(): RibBulk {
    return this.routes.beginBulk();
  }

  /** Sends what changed, at the end of this event-loop turn. */
  flushRoutes(): void {
    this.routes.scheduleFlush();
  }

  /** The prefixes this session should announce. */
  desiredPrefixes(): IterableIterator<string> {
    return this.routes.desiredPrefixes();
  }

  attrSetsInUse(into: Set<AttrSet>): void {
    this.routes.attrSetsInUse(into);
  }

  /** Unnumbered: the source of the interface's neighbours (another one when the interface changed). */
  setLink(link: LinkPeerSource | undefined): void {
    this.link?.off('change', this.onLinkChange);
    this.link = link;
    this.candidate = 0;
    link?.on('change', this.onLinkChange);
  }

  /** An IPv6 session: to an IPv6 peer address, or unnumbered (IPv6 link-local). */
  get ipv6Session(): boolean {
    return this.cfg.interface !== undefined || parseAddress(this.cfg.peerAddress ?? '').length === 16;
  }

  /** Whether an incoming connection from this (scoped) address belongs to this peer. */
  matches(remote: string): boolean {
    const c = this.cfg;
    if (c.interface === undefined) return c.peerAddress !== undefined && unmapAddress(c.peerAddress) === remote;
    const pct = remote.indexOf('%');
    return pct > 0 && remote.slice(pct + 1) === c.interface && remote.toLowerCase().startsWith('fe80:');
  }

  /** A new neighbour was learned: a session waiting to connect tries now rather than after its backoff. */
  private connectNow(): void {
    const m = this.current.fsm;
    if (m.stopped || this.fsmCfg.passive || this.current.connecting || this.current.socket) return;
    if (m.state !== 'Idle' && m.state !== 'Connect' && m.state !== 'Active') return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.dispatch(this.current, { type: 'ConnectRetryTimerExpires' });
  }

  /** The address to connect to: the configured one, or the next learned neighbour of the interface. */
  private target(): string {
    const c = this.cfg;
    if (c.peerAddress !== undefined) return c.peerAddress;
    const link = this.link;
    const peers = link?.peers ?? [];
    if (!peers.length) {
      const why = link?.problem ?? `no BGP neighbour heard on ${c.interface} yet: waiting for its router advertisement (FRR sends them for "neighbor ${c.interface} interface"; BIRD with "protocol radv") or for it to connect to us`;
      throw new Error(why);
    }
    // Each round tries the neighbours freshest first; a new round begins after the backoff.
    if (this.candidate >= peers.length) this.candidate = 0;
    const a = peers[this.candidate++] as string;
    return `${a}%${c.interface}`;
  }

  static fsmConfig(cfg: ResolvedPeer): FsmConfig {
    const f: FsmConfig = {
      localAsn: cfg.localAsn, routerId: cfg.routerId, holdTime: cfg.holdTime,
      passive: cfg.passive ?? false, connectRetryTime: cfg.connectRetryTime, maxRetryTime: MAX_RETRY_TIME,
    };
    if (cfg.peerAsn !== undefined) f.peerAsn = cfg.peerAsn;
    if (cfg.dynamicAsn !== undefined) f.dynamicAsn = cfg.dynamicAsn;
    if (cfg.keepaliveTime !== undefined) f.keepaliveTime = cfg.keepaliveTime;
    return f;
  }

  get state(): State {
    return this.current.fsm.state;
  }

  get ibgp(): boolean {
    return isIbgp(this.cfg);
  }

  /**
   * Applies settings that need no new session (the caller decides which those are). They still
   * take effect now: a session that is not up yet starts over in its new mode (passive or active)
   * or with its new connect-retry time, rather than waiting for a timer that may never fire.
   */
  reconfigure(cfg: ResolvedPeer): void {
    const before = this.fsmCfg;
    this.#cfg = cfg;
    this.fsmCfg = Session.fsmConfig(cfg);
    const m = this.current.fsm;
    const waiting = m.state === 'Idle' || m.state === 'Connect' || m.state === 'Active';
    if (!waiting || m.stopped) return;
    if (before.passive === this.fsmCfg.passive && before.connectRetryTime === this.fsmCfg.connectRetryTime) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.fsmCfg.passive) {
      // Drop any attempt under way and wait for the peer (Connect/Idle -> Active).
      if (m.state !== 'Active' || this.current.connecting) {
        this.dispatch(this.current, { type: 'Stop' });
        this.dispatch(this.current, { type: 'Start' });
      }
      return;
    }
    if (m.state === 'Connect' && this.current.connecting) {
      // An attempt is under way: let it finish, retry per the new time if it fails.
      this.timer(this.current, { type: 'startTimer', timer: 'connectRetry', seconds: this.fsmCfg.connectRetryTime });
      return;
    }
    // Active mode: try now; the FSM re-arms connect-retry from the new settings.
    this.dispatch(this.current, { type: 'ConnectRetryTimerExpires' });
  }

  start(): void {
    this.dispatch(this.current, { type: 'Start' });
  }

  /** Drops this peer's metric series (the peer is gone). */
  forgetMetrics(): void {
    for (const m of Object.values(bgpMetrics)) m.remove({ peer: this.cfg.name });
  }

  /**
   * Ends the session for good: with graceful restart (`gracefulRestart`, else the peer's
   * preserveOnShutdown) by just closing, so the peer keeps our routes as stale until we are
   * back; otherwise with Cease, so it drops them now.
   */
  shutdown(gracefulRestart?: boolean): Promise<void> {
    const gr = gracefulRestart ?? this.cfg.gracefulRestart?.preserveOnShutdown ?? false;
    return gr && this.cfg.gracefulRestart ? this.dropForGracefulRestart() : this.stop(CeaseSub.ADMIN_SHUTDOWN);
  }

  async stop(subcode: number = CeaseSub.ADMIN_SHUTDOWN): Promise<void> {
    if (this.colliding) this.dispatch(this.colliding, { type: 'Stop', subcode });
    this.dispatch(this.current, { type: 'Stop', subcode });
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.settled();
  }

  /** Drops the session now (e.g. BFD Down) and reconnects per connect-retry. */
  reset(reason: string): void {
    if (this.colliding) this.dispatch(this.colliding, { type: 'Stop', subcode: CeaseSub.ADMIN_RESET });
    const s = this.current.fsm.state;
    if (s === 'Idle' || s === 'Connect' || s === 'Active') {
      // No session to drop: make the next attempt now rather than after a backoff.
      if (!this.current.fsm.stopped) {
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        this.dispatch(this.current, { type: 'ConnectRetryTimerExpires' });
      }
      return;
    }
    this.dispatch(this.current, { type: 'Reset', reason });
  }

  /**
   * Closes without NOTIFICATION so a graceful-restart peer keeps our routes as stale (RFC 4724
   * §4.1: the restarting speaker's TCP session just ends).
   */
  async dropForGracefulRestart(): Promise<void> {
    const prev = this.current.fsm.state;
    for (const c of [this.current, this.colliding]) {
      if (!c) continue;
      c.connecting?.abort();
      c.clearTimers();
      if (c.socket) {
        const s = c.socket;
        c.socket = undefined;
        s.removeAllListeners('data');
        s.on('error', () => {});
        this.closing.add(new Promise<void>((resolve) => {
          s.once('close', () => resolve());
          s.destroy();
        }));
      }
      c.fsm = { ...initialState(), lastError: 'closed for graceful restart' };
    }
    this.colliding = undefined;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (prev !== 'Idle') this.mainChanged(prev, 'Idle', 'closed for graceful restart');
    await this.settled();
  }

  private async settled(): Promise<void> {
    const all = [...this.closing];
    if (!all.length) return;
    let t: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(all), new Promise<void>((r) => (t = setTimeout(r, CLOSE_GRACE_MS + 200)))]);
    clearTimeout(t);
  }

  /** A connection the listener accepted from this peer's address. */
  acceptIncoming(socket: net.Socket): void {
    this.tuneAccepted(socket);
    const m = this.current;
    const s = m.fsm.state;
    if (m.fsm.stopped) {
      refuse(socket);
      return;
    }
    if (s === 'Idle' || s === 'Connect' || s === 'Active') {
      // Our own attempt (if any) is abandoned: the peer's connection is already up.
      m.connecting?.abort();
      m.connecting = undefined;
      if (m.socket) this.closeSocket(m, false);
      this.attach(m, socket, false);
      this.dispatch(m, { type: 'TcpConnected', incoming: true });
      return;
    }
    if (this.colliding) {
      // Already resolving one collision; a third connection is refused.
      refuse(socket);
      return;
    }
    const x = new Conn({ state: 'Active', stopped: false, connectRetryCounter: 0 });
    this.colliding = x;
    this.attach(x, socket, false);
    this.dispatch(x, { type: 'TcpConnected', incoming: true });
  }

  /** The TTL this peer's packets go out with (undefined: the system default). */
  private ttlOptions(): { ttl?: number; minTtl?: number } {
    const c = this.cfg;
    if (c.minTtl !== undefined) return { ttl: 255, minTtl: c.minTtl };
    if (c.ebgpMultihop !== undefined) return { ttl: c.ebgpMultihop };
    return {};
  }

  private tuneAccepted(socket: net.Socket): void {
    const opts = this.ttlOptions();
    if (opts.ttl === undefined && opts.minTtl === undefined) return;
    void this.deps.sockets().then((f) => {
      try {
        if (!f.tune) throw new Error('TTL options on accepted connections need the native addon (src/native)');
        f.tune(socket, opts);
      } catch (e) {
        // GTSM cannot be honoured: refuse the connection rather than run without it.
        this.log.error({ err: (e as Error).message }, 'cannot set TTL options on an accepted connection; closing it');
        socket.destroy();
      }
    });
  }

  // -------------------------------------------------------------------------------------------
  // FSM plumbing

  private dispatch(conn: Conn, ev: FsmEvent): void {
    const prev = conn.fsm.state;
    const t = step(conn.fsm, this.fsmCfg, ev);
    conn.fsm = t.next;
    for (const a of t.actions) {
      this.exec(conn, a);
      // Say why we sent it (e.g. which AS the peer offered), not only which NOTIFICATION.
      if (a.type === 'sendNotification' && t.next.lastError && t.next.state === 'Idle') this.lastError += `: ${t.next.lastError}`;
    }
    const next = t.next.state;
    if (conn === this.current) {
      // A reason belongs to a session ending, not to the steps of the next attempt.
      if (prev !== next) this.mainChanged(prev, next, next === 'Idle' || prev === 'Established' ? t.next.lastError : undefined);
    } else if (conn === this.colliding && next === 'Idle') {
      this.colliding = undefined;
    }
    if (prev === 'OpenSent' && next === 'OpenConfirm') this.afterOpen(conn);
    this.adoptColliding();
  }

  /**
   * The peer's connection (accepted while ours was under way) carries on as the session when
   * ours is gone: left as `colliding`, it could reach Established unseen while the session waits
   * to reconnect, and the peer would refuse every new connection as a collision with it.
   */
  private adoptColliding(): void {
    const x = this.colliding;
    const m = this.current.fsm;
    if (!x || x.fsm.state === 'Idle' || m.stopped) return;
    if (m.state !== 'Idle' && m.state !== 'Connect' && m.state !== 'Active') return;
    this.promoteColliding('silent', 'our connection failed; the peer\'s goes on');
  }

  private exec(conn: Conn, a: Action): void {
    switch (a.type) {
      case 'connect':
        this.connect(conn);
        return;
      case 'closeConnection':
        conn.connecting?.abort();
        conn.connecting = undefined;
        if (conn.socket) this.closeSocket(conn, true);
        return;
      case 'sendOpen':
        this.write(conn, this.openMessage(conn));
        return;
      case 'sendKeepalive':
        this.write(conn, encodeKeepalive());
        return;
      case 'sendNotification':
        this.counters.notificationsOut++;
        this.lastError = `sent NOTIFICATION ${notificationName(a.code, a.subcode)}`;
        this.log.warn({ code: a.code, subcode: a.subcode }, `sending NOTIFICATION ${notificationName(a.code, a.subcode)}`);
        this.write(conn, encodeNotification(a.code, a.subcode, a.data));
        return;
      case 'startTimer':
      case 'stopTimer':
        this.timer(conn, a);
        return;
    }
  }

  private timer(conn: Conn, a: Extract<Action, { type: 'startTimer' | 'stopTimer' }>): void {
    const start = a.type === 'startTimer';
    const ms = start ? Math.max(1, Math.round((a.timer === 'hold' ? a.seconds : jitter(a.seconds)) * 1000)) : 0;
    switch (a.timer) {
      case 'connectRetry':
        if (conn !== this.current) return;
        clearTimeout(this.retryTimer);
        this.retryTimer = start ? setTimeout(() => {
          this.retryTimer = undefined;
          this.dispatch(this.current, { type: 'ConnectRetryTimerExpires' });
        }, ms) : undefined;
        return;
      case 'hold':
        clearTimeout(conn.hold);
        conn.hold = start ? setTimeout(() => this.dispatch(conn, { type: 'HoldTimerExpires' }), ms) : undefined;
        return;
      case 'keepalive':
        clearTimeout(conn.keepalive);
        conn.keepalive = start ? setTimeout(() => this.dispatch(conn, { type: 'KeepaliveTimerExpires' }), ms) : undefined;
        return;
    }
  }

  private connect(conn: Conn): void {
    const ac = new AbortController();
    conn.connecting = ac;
    this.counters.connectAttempts++;
    const c = this.cfg;
    let host: string;
    try {
      host = this.target();
    } catch (e) {
      // Reported like a failed connection (after this transition), so the FSM waits in Active.
      const reason = (e as Error).message;
      void Promise.resolve().then(() => {
        if (conn.connecting !== ac) return;
        conn.connecting = undefined;
        this.dispatch(conn, { type: 'TcpFails', reason });
      });
      return;
    }
    const req: Parameters<SocketFactory['connect']>[0] = { host, port: c.peerPort, timeoutMs: CONNECT_TIMEOUT_MS };
    if (c.localAddress) req.localAddress = c.localAddress;
    if (c.password !== undefined) req.password = c.password;
    if (c.device !== undefined) req.device = c.device;
    const ttl = this.ttlOptions();
    if (ttl.ttl !== undefined) req.ttl = ttl.ttl;
    if (ttl.minTtl !== undefined) req.minTtl = ttl.minTtl;
    this.deps.sockets()
      .then((f) => f.connect(req, ac.signal))
      .then(
        (sock) => {
          if (conn.connecting !== ac || ac.signal.aborted) {
            sock.destroy();
            return;
          }
          conn.connecting = undefined;
          this.attach(conn, sock, true);
          this.dispatch(conn, { type: 'TcpConnected', incoming: false });
        },
        (err: Error) => {
          if (conn.connecting !== ac) return;
          conn.connecting = undefined;
          this.log.debug({ err: err.message, host }, 'connect failed');
          this.dispatch(conn, { type: 'TcpFails', reason: `connect failed: ${err.message}` });
          // Unnumbered: the link's other neighbours get their try now; a new round waits for the backoff.
          if (this.link && this.candidate < this.link.peers.length) setImmediate(() => this.connectNow());
        },
      );
  }

  private attach(conn: Conn, sock: net.Socket, outgoing: boolean): void {
    conn.socket = sock;
    conn.outgoing = outgoing;
    if (sock.remoteAddress) this.remote = unmapAddress(sock.remoteAddress);
    if (this.link && sock.remoteAddress) this.link.seen(sock.remoteAddress.split('%')[0] as string);
    conn.reader = new MessageReader();
    conn.peerCaps = undefined;
    sock.setNoDelay(true);
    sock.on('data', (d: Buffer) => this.onData(conn, sock, d));
    sock.on('error', (e: Error) => {
      if (conn.socket === sock) this.dispatch(conn, { type: 'TcpFails', reason: `connection error: ${e.message}` });
    });
    sock.on('close', () => {
      if (conn.socket === sock) this.dispatch(conn, { type: 'TcpFails', reason: 'connection closed by the peer' });
    });
  }

  /** Detaches and closes a socket, letting a last message (NOTIFICATION) flush first. */
  private closeSocket(conn: Conn, graceful: boolean): void {
    const s = conn.socket;
    if (!s) return;
    conn.socket = undefined;
    s.removeAllListeners('data');
    s.on('error', () => {});
    const p = new Promise<void>((resolve) => {
      if (s.destroyed) return resolve();
      const t = setTimeout(() => s.destroy(), graceful ? CLOSE_GRACE_MS : 0);
      t.unref();
      s.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      if (graceful) s.end();
      else s.destroy();
    });
    this.closing.add(p);
    void p.then(() => this.closing.delete(p));
  }

  private write(conn: Conn, msg: Buffer): void {
    const s = conn.socket;
    if (!s || s.destroyed) return;
    s.write(msg);
    this.counters.messagesOut++;
  }

  private openMessage(conn: Conn): Buffer {
    const local = unmapAddress(conn.socket?.localAddress ?? this.cfg.localAddress ?? '');
    const { offered, dropped } = offeredFamilies(this.cfg, this.ipv6Session, local);
    if (dropped.length && !this.warnedOffers.has(dropped.join())) {
      this.warnedOffers.add(dropped.join());
      this.log.info({ localAddress: local, dropped }, `not offering ${dropped.join(', ')}: the session interface has no address of that family for a next hop`);
    }
    conn.offered = offered;
    return openMessage(this.cfg, offered, this.ipv6Session, this.firstSession);
  }

  // -------------------------------------------------------------------------------------------
  // Receiving

  private decodeContext(conn: Conn): DecodeContext {
    return { fourOctetAs: conn.peerCaps?.fourOctetAs !== undefined, ibgp: this.ibgp, addPathReceive: () => false };
  }

  private onData(conn: Conn, sock: net.Socket, chunk: Buffer): void {
    if (conn.socket !== sock) return;
    conn.reader.push(chunk);
    // Bounded: each turn consumes a whole message from what is buffered, or stops.
    for (;;) {
      let msg: BgpMessage;
      try {
        const raw = conn.reader.next();
        if (!raw) return;
        this.counters.messagesIn++;
        msg = decodeMessage(raw, this.decodeContext(conn));
      } catch (e) {
        const err = e instanceof BgpError ? e : new BgpError(Err.CEASE, 0, `internal error decoding a message: ${(e as Error).message}`);
        this.dispatch(conn, { type: 'MessageError', error: err });
        return;
      }
      this.receive(conn, msg);
      if (conn.socket !== sock) return;
    }
  }

  private receive(conn: Conn, msg: BgpMessage): void {
    switch (msg.type) {
      case 'open':
        conn.peerCaps = msg.capabilities;
        this.dispatch(conn, { type: 'OpenReceived', open: msg });
        if (conn.fsm.state === 'OpenConfirm' && msg.capabilities.extendedMessage) conn.reader.maxSize = MAX_EXTENDED_MESSAGE;
        return;
      case 'keepalive':
        this.dispatch(conn, { type: 'KeepaliveReceived' });
        return;
      case 'update':
        this.dispatch(conn, { type: 'UpdateReceived' });
        if (conn.fsm.state === 'Established') this.account(msg);
        return;
      case 'notification':
        this.counters.notificationsIn++;
        this.lastError = `peer sent NOTIFICATION ${notificationName(msg.code, msg.subcode)}`;
        this.log.warn({ code: msg.code, subcode: msg.subcode }, `received NOTIFICATION ${notificationName(msg.code, msg.subcode)}`);
        this.dispatch(conn, { type: 'NotificationReceived', code: msg.code, subcode: msg.subcode });
        return;
      case 'route-refresh': {
        this.dispatch(conn, { type: 'RouteRefreshReceived' });
        if (conn !== this.current || conn.fsm.state !== 'Established') return;
        this.counters.routeRefreshIn++;
        const fam: Family | undefined = msg.safi !== SAFI_UNICAST ? undefined : msg.afi === Afi.IPV4 ? 'IPv4' : msg.afi === Afi.IPV6 ? 'IPv6' : undefined;
        if (fam) this.routes.refresh(fam);
        return;
      }
    }
  }

  /** Received routes are not used (we only announce), but validated and counted. */
  private account(m: UpdateMessage): void {
    const c = this.counters;
    c.updatesIn++;
    if (m.endOfRib) {
      c.endOfRibIn++;
      return;
    }
    for (const p of m.problems) {
      if (p.action === 'attribute-discard') c.attributesDiscarded++;
    }
    const announced = m.nlri.length + (m.attrs.mpReach?.nlri.length ?? 0);
    const withdrawn = m.withdrawn.length + (m.attrs.mpUnreach?.withdrawn.length ?? 0);
    if (m.treatAsWithdraw) {
      c.treatAsWithdraw++;
      c.prefixesWithdrawnIn += announced + withdrawn;
      this.log.warn({ problems: m.problems }, 'UPDATE treated as withdraw (RFC 7606)');
    } else {
      c.prefixesAnnouncedIn += announced;
      c.prefixesWithdrawnIn += withdrawn;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Collision detection and session changes

  private afterOpen(conn: Conn): void {
    const r = resolveCollision(conn, this.current, this.colliding, this.cfg.routerId);
    if (r.kind === 'none') return;
    if (r.keepIncoming !== undefined) this.log.info({ keepIncoming: r.keepIncoming, remoteId: r.remoteId }, 'connection collision resolved');
    if (r.kind === 'promote') this.promoteColliding(r.how, r.reason);
    else this.dispatch(r.loser, { type: 'CollisionDump' });
  }

  private promoteColliding(how: 'collision' | 'silent', reason: string): void {
    const old = this.current;
    const winner = this.colliding;
    if (!winner) return;
    const prev = old.fsm.state;
    if (how === 'collision') {
      this.write(old, encodeNotification(Err.CEASE, CeaseSub.COLLISION_RESOLUTION));
      this.counters.notificationsOut++;
    }
    old.connecting?.abort();
    old.connecting = undefined;
    old.clearTimers();
    if (old.socket) this.closeSocket(old, how === 'collision');
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.current = winner;
    this.colliding = undefined;
    if (prev !== winner.fsm.state) this.mainChanged(prev, winner.fsm.state, reason);
  }

  private mainChanged(prev: State, next: State, reason: string | undefined): void {
    if (prev === 'Established') {
      this.routes.down();
      this.establishedAt = 0;
      bgpMetrics.sessionUp.set({ peer: this.cfg.name }, 0);
    }
    if (reason && next === 'Idle' && !this.lastError) this.lastError = reason;
    if (next === 'Established') this.onEstablished();
    this.log.info({ from: prev, to: next, reason }, `session ${prev} -> ${next}`);
    this.deps.onState({ peer: this.cfg.name, state: next, previous: prev, ...(reason !== undefined && next !== 'Established' ? { reason } : {}) });
  }

  private onEstablished(): void {
    const conn = this.current;
    const local = unmapAddress(conn.socket?.localAddress ?? this.cfg.localAddress ?? '0.0.0.0');
    this.localAddress = local;
    const n = negotiate({
      cfg: this.cfg,
      ibgp: this.ibgp,
      ipv6Session: this.ipv6Session,
      caps: conn.peerCaps ?? emptyCapabilities(),
      offered: conn.offered,
      localAddress: local,
      timers: conn.fsm.negotiated,
    });
    this.candidate = 0;
    this.negotiated = n.capabilities;
    this.establishedAt = Date.now();
    this.counters.establishedTransitions++;
    this.firstSession = false;
    this.lastError = undefined;
    bgpMetrics.sessionUp.set({ peer: this.cfg.name }, 1);
    this.routes.up(new UpdateEncoder(n.encoding), n.families);
  }

  status(): PeerStatus {
    const st: PeerStatus = {
      name: this.cfg.name,
      peerAddress: this.cfg.peerAddress ?? this.remote ?? '',
      state: this.current.fsm.state,
      uptimeMs: this.establishedAt ? Date.now() - this.establishedAt : 0,
      routesDesired: this.routes.desiredCount,
      routesAdvertised: this.routes.advertisedCount,
      counters: { ...this.counters },
    };
    const n = this.current.fsm.negotiated;
    if (n && this.current.fsm.state !== 'Idle') st.peerRouterId = n.peerRouterId;
    const asn = this.cfg.peerAsn ?? (n && this.current.fsm.state !== 'Idle' ? n.peerAsn : undefined);
    if (asn !== undefined) st.peerAsn = asn;
    if (this.cfg.interface !== undefined) st.interface = this.cfg.interface;
    if (this.state === 'Established') {
      const notSent = this.routes.notSent;
      if (notSent.length) st.notSent = notSent;
      if (this.negotiated) st.negotiated = this.negotiated;
      if (this.localAddress) st.localAddress = this.localAddress;
    }
    const err = this.lastError ?? this.current.fsm.lastError;
    if (err) st.lastError = err;
    return st;
  }
}
