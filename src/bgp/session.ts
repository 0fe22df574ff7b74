// One peer's session: sockets, timers and the FSM (fsm.ts) put together, connection collision
// detection (RFC 4271 §6.8), and the Adj-RIB-Out flushed to the wire as soon as it changes.
import type net from 'node:net';
import { Afi, CeaseSub, Err, MAX_EXTENDED_MESSAGE, MAX_MESSAGE, SAFI_UNICAST, notificationName } from './codec/constants.ts';
import { BgpError } from './codec/errors.ts';
import { emptyCapabilities, ipv4OverIpv6, peerFamilies, type Capabilities } from './codec/capabilities.ts';
import { decodeMessage, encodeEndOfRib, encodeKeepalive, encodeNotification, encodeOpen, MessageReader, type BgpMessage, type UpdateMessage } from './codec/messages.ts';
import { isLinkLocal, parseAddress } from './codec/prefix.ts';
import type { DecodeContext } from './codec/attributes.ts';
import { initialState, step, type Action, type FsmConfig, type FsmEvent, type FsmState, type State } from './fsm.ts';
import { AdjRibOut, type RibChanges } from './adj-rib-out.ts';
import { UpdateEncoder, type EncodingContext } from './update-builder.ts';
import { addressesOfInterface, interfaceAddresses, linkLocalFor } from './local-link.ts';
import type { LinkPeerSource } from './unnumbered/link-peers.ts';
import { unmapAddress, type SocketFactory } from './socket.ts';
import type { Logger } from '../util/log.ts';
import type { Family, NegotiatedCapabilities, PeerConfig, PeerCounters, PeerStatus, StateEvent } from './types.ts';
import { bgpMetrics } from './metrics.ts';
import { isIbgp } from './open-check.ts';

/** A PeerConfig with every default filled in. */
export interface ResolvedPeer extends PeerConfig {
  peerPort: number;
  holdTime: number;
  connectRetryTime: number;
  routerId: string;
  families: Family[];
}

const FAMILY_AFI: Record<Family, number> = { IPv4: Afi.IPV4, IPv6: Afi.IPV6 };
const CONNECT_TIMEOUT_MS = 30_000;
/** How long a closing socket may take to flush its last message before it is destroyed. */
const CLOSE_GRACE_MS = 1_000;
const MAX_RETRY_TIME = 60;
/** A peer that stops reading gets its session reset before our send buffer grows past this. */
const MAX_SEND_BUFFER = 32 * 1024 * 1024;
/**
 * Route changes encoded per event-loop turn. A small change goes out whole at once; a large one
 * (a 100k-route table or its withdrawal) in turns of this many, so the loop (other sessions,
 * keepalives, BFD, membership) is never blocked for long: a few ms per turn on an idle core.
 */
export const FLUSH_BATCH = 4096;
/** Bytes queued on the socket above which the next batch waits for 'drain'. */
const SEND_HIGH_WATER = 256 * 1024;

function jitter(seconds: number): number {
  // RFC 4271 §10: jitter the keepalive and connect-retry timers by up to 25% downwards.
  return seconds * (0.75 + Math.random() * 0.25);
}

function ipNumber(a: string): number {
  const b = parseAddress(a);
  return b.length === 4 ? b.readUInt32BE(0) : 0;
}

function emptyCounters(): PeerCounters {
  return {
    messagesIn: 0, messagesOut: 0, updatesIn: 0, updatesOut: 0, prefixesAnnouncedIn: 0, prefixesWithdrawnIn: 0,
    prefixesAnnouncedOut: 0, prefixesWithdrawnOut: 0, treatAsWithdraw: 0, attributesDiscarded: 0,
    notificationsIn: 0, notificationsOut: 0, routeRefreshIn: 0, endOfRibIn: 0, establishedTransitions: 0, connectAttempts: 0,
  };
}

/** Refuses a connection with Cease "Connection Rejected" (RFC 4486 §3), then closes it. */
export function refuse(socket: net.Socket): void {
  socket.on('error', () => {});
  socket.end(encodeNotification(Err.CEASE, CeaseSub.CONNECTION_REJECTED));
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
}

/** One TCP connection (or connection attempt) with its own FSM state and hold/keepalive timers. */
class Conn {
  fsm: FsmState;
  socket: net.Socket | undefined;
  outgoing = false;
  reader = new MessageReader();
  hold: NodeJS.Timeout | undefined;
  keepalive: NodeJS.Timeout | undefined;
  peerCaps: Capabilities | undefined;
  connecting: AbortController | undefined;
  /** Families our OPEN offered on this connection. */
  offered: Family[] = [];

  constructor(fsm: FsmState) {
    this.fsm = fsm;
  }

  clearTimers(): void {
    clearTimeout(this.hold);
    clearTimeout(this.keepalive);
    this.hold = undefined;
    this.keepalive = undefined;
  }
}

export interface SessionDeps {
  sockets: () => Promise<SocketFactory>;
  /** Unnumbered peers (cfg.interface): the link-local neighbours of the interface. */
  link?: LinkPeerSource;
  log: Logger;
  onState: (ev: StateEvent) => void;
}

export class Session {
  cfg: ResolvedPeer;
  readonly rib = new AdjRibOut();
  private fsmCfg: FsmConfig;
  private main = new Conn(initialState());
  private extra: Conn | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly deps: SessionDeps;
  private readonly log: Logger;
  private counters = emptyCounters();
  private encoder: UpdateEncoder | undefined;
  private families = new Set<Family>();
  private establishedAt = 0;
  private negotiated: NegotiatedCapabilities | undefined;
  private localAddress: string | undefined;
  private firstSession = true;
  private flushScheduled = false;
  /** End-of-RIB goes out once the initial table has (it may take several turns). */
  private endOfRibDue = false;
  private lastError: string | undefined;
  private readonly closing = new Set<Promise<void>>();
  private warnedSkips = new Set<string>();
  /** Why routes of a family were not sent on this session (reported in status while up). */
  private notSent = new Map<Family, string>();
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
    this.cfg = cfg;
    this.deps = deps;
    this.log = deps.log.child({ peer: cfg.name, ...(cfg.interface !== undefined ? { interface: cfg.interface } : { peerAddress: cfg.peerAddress }) });
    this.fsmCfg = Session.fsmConfig(cfg);
    if (deps.link) this.setLink(deps.link);
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
    const m = this.main.fsm;
    if (m.stopped || this.fsmCfg.passive || this.main.connecting || this.main.socket) return;
    if (m.state !== 'Idle' && m.state !== 'Connect' && m.state !== 'Active') return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.dispatch(this.main, { type: 'ConnectRetryTimerExpires' });
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
    return this.main.fsm.state;
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
    this.cfg = cfg;
    this.fsmCfg = Session.fsmConfig(cfg);
    const m = this.main.fsm;
    const waiting = m.state === 'Idle' || m.state === 'Connect' || m.state === 'Active';
    if (!waiting || m.stopped) return;
    if (before.passive === this.fsmCfg.passive && before.connectRetryTime === this.fsmCfg.connectRetryTime) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (this.fsmCfg.passive) {
      // Drop any attempt under way and wait for the peer (Connect/Idle -> Active).
      if (m.state !== 'Active' || this.main.connecting) {
        this.dispatch(this.main, { type: 'Stop' });
        this.dispatch(this.main, { type: 'Start' });
      }
      return;
    }
    if (m.state === 'Connect' && this.main.connecting) {
      // An attempt is under way: let it finish, retry per the new time if it fails.
      this.timer(this.main, { type: 'startTimer', timer: 'connectRetry', seconds: this.fsmCfg.connectRetryTime });
      return;
    }
    // Active mode: try now; the FSM re-arms connect-retry from the new settings.
    this.dispatch(this.main, { type: 'ConnectRetryTimerExpires' });
  }

  start(): void {
    this.dispatch(this.main, { type: 'Start' });
  }

  /** Sends Cease with `subcode`, closes everything; resolves once the sockets are closed. */
  /** Drops this peer's metric series (the peer is gone). */
  forgetMetrics(): void {
    for (const m of Object.values(bgpMetrics)) m.remove({ peer: this.cfg.name });
  }

  async stop(subcode: number = CeaseSub.ADMIN_SHUTDOWN): Promise<void> {
    if (this.extra) this.dispatch(this.extra, { type: 'Stop', subcode });
    this.dispatch(this.main, { type: 'Stop', subcode });
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.settled();
  }

  /** Drops the session now (e.g. BFD Down) and reconnects per connect-retry. */
  reset(reason: string): void {
    if (this.extra) this.dispatch(this.extra, { type: 'Stop', subcode: CeaseSub.ADMIN_RESET });
    const s = this.main.fsm.state;
    if (s === 'Idle' || s === 'Connect' || s === 'Active') {
      // No session to drop: make the next attempt now rather than after a backoff.
      if (!this.main.fsm.stopped) {
        clearTimeout(this.retryTimer);
        this.retryTimer = undefined;
        this.dispatch(this.main, { type: 'ConnectRetryTimerExpires' });
      }
      return;
    }
    this.dispatch(this.main, { type: 'Reset', reason });
  }

  /**
   * Closes without NOTIFICATION so a graceful-restart peer keeps our routes as stale (RFC 4724
   * §4.1: the restarting speaker's TCP session just ends).
   */
  async dropForGracefulRestart(): Promise<void> {
    const prev = this.main.fsm.state;
    for (const c of [this.main, this.extra]) {
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
    this.extra = undefined;
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
    const m = this.main;
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
    if (this.extra) {
      // Already resolving one collision; a third connection is refused.
      refuse(socket);
      return;
    }
    const x = new Conn({ state: 'Active', stopped: false, connectRetryCounter: 0 });
    this.extra = x;
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
    if (conn === this.main) {
      // A reason belongs to a session ending, not to the steps of the next attempt.
      if (prev !== next) this.mainChanged(prev, next, next === 'Idle' || prev === 'Established' ? t.next.lastError : undefined);
    } else if (conn === this.extra && next === 'Idle') {
      this.extra = undefined;
    }
    if (prev === 'OpenSent' && next === 'OpenConfirm') this.afterOpen(conn);
    this.adoptExtra();
  }

  /**
   * The peer's connection (accepted while ours was under way) carries on as the session when
   * ours is gone: left as `extra`, it could reach Established unseen while the session waits
   * to reconnect, and the peer would refuse every new connection as a collision with it.
   */
  private adoptExtra(): void {
    const x = this.extra;
    const m = this.main.fsm;
    if (!x || x.fsm.state === 'Idle' || m.stopped) return;
    if (m.state !== 'Idle' && m.state !== 'Connect' && m.state !== 'Active') return;
    this.promoteExtra('silent', 'our connection failed; the peer\'s goes on');
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
        if (conn !== this.main) return;
        clearTimeout(this.retryTimer);
        this.retryTimer = start ? setTimeout(() => {
          this.retryTimer = undefined;
          this.dispatch(this.main, { type: 'ConnectRetryTimerExpires' });
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

  /**
   * The families to offer on a connection: the configured ones; with familiesFromInterface, a
   * family other than the session's only when the interface holding the connection's local
   * address has an address of it to give as next hop (an IPv6 one must be global).
   */
  private offeredFamilies(conn: Conn): Family[] {
    const c = this.cfg;
    // Unnumbered: IPv4 goes with the IPv6 link-local next hop (RFC 8950), whatever the interface holds.
    if (!c.familiesFromInterface || c.interface !== undefined) return c.families;
    const own: Family = this.ipv6Session ? 'IPv6' : 'IPv4';
    const local = unmapAddress(conn.socket?.localAddress ?? c.localAddress ?? '');
    const iface = local ? interfaceAddresses(local.split('%')[0] as string) : {};
    const offered = c.families.filter((f) => f === own || (f === 'IPv4' ? iface.ipv4 !== undefined : iface.ipv6 !== undefined));
    const dropped = c.families.filter((f) => !offered.includes(f));
    if (dropped.length && !this.warnedSkips.has(`offer:${dropped.join()}`)) {
      this.warnedSkips.add(`offer:${dropped.join()}`);
      this.log.info({ localAddress: local, dropped }, `not offering ${dropped.join(', ')}: the session interface has no address of that family for a next hop`);
    }
    return offered;
  }

  private openMessage(conn: Conn): Buffer {
    const c = this.cfg;
    const families = this.offeredFamilies(conn);
    conn.offered = families;
    const caps = emptyCapabilities();
    for (const f of families) caps.multiprotocol.push({ afi: FAMILY_AFI[f], safi: SAFI_UNICAST });
    // RFC 8950 on IPv6 sessions, so IPv4 routes can carry the IPv6 session address as next hop.
    if (families.includes('IPv4') && this.ipv6Session) caps.extendedNextHop = [{ afi: Afi.IPV4, safi: SAFI_UNICAST, nextHopAfi: Afi.IPV6 }];
    caps.routeRefresh = true;
    caps.extendedMessage = true;
    caps.fourOctetAs = c.localAsn;
    if (c.gracefulRestart) {
      caps.gracefulRestart = {
        // R: set on this process's first session, so a peer holding our stale routes does not wait for us.
        restarting: this.firstSession,
        notification: false,
        time: Math.min(Math.max(0, Math.round(c.gracefulRestart.restartTime)), 4095),
        families: families.map((f) => ({ afi: FAMILY_AFI[f], safi: SAFI_UNICAST, forwarding: true })),
      };
    }
    if (c.addPath) caps.addPath = families.map((f) => ({ afi: FAMILY_AFI[f], safi: SAFI_UNICAST, mode: 2 }));
    return encodeOpen({ asn: c.localAsn, holdTime: c.holdTime, bgpId: c.routerId, capabilities: caps });
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
        if (conn !== this.main || conn.fsm.state !== 'Established') return;
        this.counters.routeRefreshIn++;
        const fam: Family | undefined = msg.safi !== SAFI_UNICAST ? undefined : msg.afi === Afi.IPV4 ? 'IPv4' : msg.afi === Afi.IPV6 ? 'IPv6' : undefined;
        if (fam && this.families.has(fam)) {
          this.rib.refresh(fam);
          this.flush();
        }
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
    const other = conn === this.main ? this.extra : this.main;
    if (!other || !other.socket) return;
    const os = other.fsm.state;
    if (os !== 'OpenSent' && os !== 'OpenConfirm' && os !== 'Established') return;
    if (os === 'Established') {
      // A new OPEN while established: a graceful-restart peer that restarted (RFC 4724 §4.2)
      // replaces the old session; otherwise the new connection loses (RFC 4271 §6.8).
      if (conn.peerCaps?.gracefulRestart && conn === this.extra) this.promoteExtra('silent', 'peer restarted (graceful restart)');
      else this.dispatch(conn, { type: 'CollisionDump' });
      return;
    }
    const remoteId = conn.fsm.negotiated?.peerRouterId ?? '0.0.0.0';
    const keepIncoming = ipNumber(this.cfg.routerId) < ipNumber(remoteId);
    // Close the connection the lower BGP identifier initiated.
    let loser: Conn;
    if (conn.outgoing !== other.outgoing) loser = keepIncoming ? (conn.outgoing ? conn : other) : (conn.outgoing ? other : conn);
    else loser = other === this.main ? this.main : other; // both from the same side: keep the newer
    this.log.info({ keepIncoming, remoteId }, 'connection collision resolved');
    if (loser === this.main && this.extra) this.promoteExtra('collision', 'connection collision');
    else this.dispatch(loser, { type: 'CollisionDump' });
  }

  private promoteExtra(how: 'collision' | 'silent', reason: string): void {
    const old = this.main;
    const winner = this.extra;
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
    this.main = winner;
    this.extra = undefined;
    if (prev !== winner.fsm.state) this.mainChanged(prev, winner.fsm.state, reason);
  }

  private mainChanged(prev: State, next: State, reason: string | undefined): void {
    if (prev === 'Established') {
      this.rib.sessionDown();
      this.encoder = undefined;
      this.establishedAt = 0;
      this.flushScheduled = false;
      this.endOfRibDue = false;
      bgpMetrics.sessionUp.set({ peer: this.cfg.name }, 0);
      bgpMetrics.routesAdvertised.set({ peer: this.cfg.name }, 0);
    }
    if (reason && next === 'Idle' && !this.lastError) this.lastError = reason;
    if (next === 'Established') this.onEstablished();
    this.log.info({ from: prev, to: next, reason }, `session ${prev} -> ${next}`);
    this.deps.onState({ peer: this.cfg.name, state: next, previous: prev, ...(reason !== undefined && next !== 'Established' ? { reason } : {}) });
  }

  private onEstablished(): void {
    const conn = this.main;
    const caps = conn.peerCaps ?? emptyCapabilities();
    const sock = conn.socket;
    const local = unmapAddress(sock?.localAddress ?? this.cfg.localAddress ?? '0.0.0.0');
    this.localAddress = local;
    const theirs = peerFamilies(caps);
    this.families = new Set(conn.offered.filter((f) => theirs.some((x) => x.afi === FAMILY_AFI[f] && x.safi === SAFI_UNICAST)));
    const addPath = (f: Family): boolean => !!this.cfg.addPath && caps.addPath.some((x) => x.afi === FAMILY_AFI[f] && x.safi === SAFI_UNICAST && (x.mode & 1) !== 0);
    const ctx: EncodingContext = {
      localAsn: this.cfg.localAsn,
      ibgp: this.ibgp,
      fourOctetAs: caps.fourOctetAs !== undefined,
      maxSize: caps.extendedMessage ? MAX_EXTENDED_MESSAGE : MAX_MESSAGE,
      addPath: { IPv4: addPath('IPv4'), IPv6: addPath('IPv6') },
      // A link-local source comes with its scope ("fe80::1%eth0"): the bytes are the address.
      localAddress: parseAddress(local.split('%')[0] as string),
    };
    if (this.ipv6Session && ipv4OverIpv6(caps.extendedNextHop)) {
      ctx.ipv4WithIpv6NextHop = true;
    }
    if (this.cfg.interface !== undefined) {
      // Unnumbered: next hops from the interface itself. IPv6 routes (and IPv4 ones, RFC 8950)
      // go with its global IPv6 plus link-local (32 bytes) when it has a global address, else with
      // the link-local alone; IPv4 with the interface's IPv4 only when the peer lacks RFC 8950.
      const iface = addressesOfInterface(this.cfg.interface);
      // The session's own source when it is link-local (an interface may hold several).
      const ll = isLinkLocal(ctx.localAddress) ? ctx.localAddress : iface.linkLocal;
      if (ll) ctx.linkLocal6 = ll;
      if (iface.ipv6) ctx.ipv6Global = iface.ipv6;
      if (!ctx.ipv4WithIpv6NextHop && iface.ipv4) ctx.otherFamilyNextHop = iface.ipv4;
    } else {
      const peerAddress = this.cfg.peerAddress as string;
      const iface = interfaceAddresses(local.split('%')[0] as string);
      const other = ctx.localAddress.length === 4 ? iface.ipv6 : iface.ipv4;
      if (other) ctx.otherFamilyNextHop = other;
      // A link-local next hop only when the peer is on-link (RFC 2545 §3): in one of the subnets of
      // the session's interface; on an IPv4 session only along with the interface's global IPv6.
      if (this.cfg.ebgpMultihop === undefined || this.cfg.ebgpMultihop <= 1) {
        const ll = ctx.localAddress.length === 16 || iface.ipv6 ? linkLocalFor(local.split('%')[0] as string, peerAddress) : undefined;
        if (ll) ctx.linkLocal6 = ll;
      }
    }
    this.notSent.clear();
    this.candidate = 0;
    this.encoder = new UpdateEncoder(ctx);
    const n = conn.fsm.negotiated;
    const neg: NegotiatedCapabilities = {
      fourOctetAs: ctx.fourOctetAs,
      families: [...this.families],
      routeRefresh: caps.routeRefresh,
      extendedMessage: caps.extendedMessage,
      extendedNextHop: !!ctx.ipv4WithIpv6NextHop,
      gracefulRestart: !!(caps.gracefulRestart && this.cfg.gracefulRestart),
      addPath: (['IPv4', 'IPv6'] as const).filter((f) => ctx.addPath[f]),
      holdTime: n?.holdTime ?? 0,
      keepaliveTime: n?.keepaliveTime ?? 0,
    };
    if (caps.gracefulRestart) neg.peerRestartTime = caps.gracefulRestart.time;
    this.negotiated = neg;
    this.establishedAt = Date.now();
    this.counters.establishedTransitions++;
    this.firstSession = false;
    this.lastError = undefined;
    bgpMetrics.sessionUp.set({ peer: this.cfg.name }, 1);
    this.rib.sessionUp();
    this.endOfRibDue = true;
    this.flush();
  }

  // -------------------------------------------------------------------------------------------
  // Sending routes

  /** Called after the RIB changed: sends at the end of this tick, batching same-tick changes. */
  scheduleFlush(): void {
    if (this.flushScheduled || this.main.fsm.state !== 'Established') return;
    this.flushScheduled = true;
    setImmediate(() => {
      if (!this.flushScheduled) return;
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const conn = this.main;
    const enc = this.encoder;
    if (conn.fsm.state !== 'Established' || !conn.socket || !enc) return;
    const ch = this.rib.take(FLUSH_BATCH);
    this.send(conn, enc, ch);
    if (conn.fsm.state !== 'Established') return;
    if (this.rib.pending) {
      // The rest in the next turn, after whatever else waits on the loop; when the peer reads
      // slower than we encode, after the socket drained, so encoded UPDATEs do not pile up here.
      const sock = conn.socket;
      if (sock && sock.writableLength > SEND_HIGH_WATER) {
        this.flushScheduled = true;
        sock.once('drain', () => {
          if (!this.flushScheduled) return;
          this.flushScheduled = false;
          this.flush();
        });
      } else this.scheduleFlush();
      return;
    }
    if (this.endOfRibDue && !this.rib.settling) {
      // (Not while a large setRoutes is still filling the table: the engine flushes again after.)
      // End-of-RIB after the initial table (RFC 4724 §2 recommends it even without graceful restart).
      this.endOfRibDue = false;
      for (const f of this.families) this.write(conn, encodeEndOfRib(FAMILY_AFI[f]));
    }
  }

  private send(conn: Conn, enc: UpdateEncoder, ch: RibChanges): void {
    const out: Buffer[] = [];
    let announced = 0;
    let withdrawn = 0;
    for (const fam of ['IPv4', 'IPv6'] as const) {
      const usable = this.families.has(fam);
      if (usable && ch.withdraw[fam].length) {
        enc.withdraw(fam, ch.withdraw[fam], out);
        withdrawn += ch.withdraw[fam].length;
      }
      for (const [set, prefixes] of ch.announce[fam]) {
        const r = usable ? enc.announce(fam, set, prefixes, out) : { skipped: prefixes.length, reason: `${fam} unicast is not negotiated with this peer` };
        if (r.skipped) {
          this.rib.unsend(prefixes);
          if (r.reason) this.notSent.set(fam, r.reason);
          if (r.reason && !this.warnedSkips.has(r.reason)) {
            this.warnedSkips.add(r.reason);
            this.log.warn({ routes: r.skipped }, `routes not sent: ${r.reason}`);
          }
        } else announced += prefixes.length;
      }
    }
    const s = conn.socket;
    if (!out.length || !s) return;
    s.cork();
    for (const m of out) s.write(m);
    s.uncork();
    const c = this.counters;
    c.messagesOut += out.length;
    c.updatesOut += out.length;
    c.prefixesAnnouncedOut += announced;
    c.prefixesWithdrawnOut += withdrawn;
    bgpMetrics.updatesSent.inc({ peer: this.cfg.name }, out.length);
    bgpMetrics.routesAdvertised.set({ peer: this.cfg.name }, this.rib.advertisedCount);
    if (s.writableLength > MAX_SEND_BUFFER) {
      this.dispatch(conn, { type: 'MessageError', error: new BgpError(Err.CEASE, CeaseSub.OUT_OF_RESOURCES, `peer is not reading: ${s.writableLength} bytes wait to be sent`) });
    }
  }

  status(): PeerStatus {
    const st: PeerStatus = {
      name: this.cfg.name,
      peerAddress: this.cfg.peerAddress ?? this.remote ?? '',
      state: this.main.fsm.state,
      uptimeMs: this.establishedAt ? Date.now() - this.establishedAt : 0,
      routesDesired: this.rib.desired.size,
      routesAdvertised: this.rib.advertisedCount,
      counters: { ...this.counters },
    };
    const n = this.main.fsm.negotiated;
    if (n && this.main.fsm.state !== 'Idle') st.peerRouterId = n.peerRouterId;
    const asn = this.cfg.peerAsn ?? (n && this.main.fsm.state !== 'Idle' ? n.peerAsn : undefined);
    if (asn !== undefined) st.peerAsn = asn;
    if (this.cfg.interface !== undefined) st.interface = this.cfg.interface;
    if (this.state === 'Established') {
      if (this.notSent.size) st.notSent = [...this.notSent.values()];
      if (this.negotiated) st.negotiated = this.negotiated;
      if (this.localAddress) st.localAddress = this.localAddress;
    }
    const err = this.lastError ?? this.main.fsm.lastError;
    if (err) st.lastError = err;
    return st;
  }
}
