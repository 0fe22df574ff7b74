// The BFD engine: sessions by key, the listening sockets (3784 single hop, 4784 multihop), one
// source socket per session (RFC 5881 section 4: source port 49152-65535, TTL 255), demultiplexing
// (RFC 5880 section 6.3) and the received-TTL checks. Runs inside the BFD worker (worker.ts), or
// in-process for tests.
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import { BfdDecodeError, decodeControl } from './packet.ts';
import { type BfdSessionSpec, validateSpec } from './profile.ts';
import { BfdSession, type Clock, type SessionSnapshot, type StateChange, type TimersChange } from './session.ts';
import { type BfdTransport, dgramTransport, familyOf, type UdpEndpoint, type UdpReceived } from './transport.ts';

export const SINGLE_HOP_PORT = 3784;
export const MULTI_HOP_PORT = 4784;

export interface EngineOptions {
  transport?: BfdTransport;
  /** Listening ports; 0 picks a free port (tests). */
  singleHopPort?: number;
  multiHopPort?: number;
  onState: (c: StateChange) => void;
  onTimers?: (t: TimersChange) => void;
  log?: Logger;
  clock?: Clock;
}

interface Entry {
  spec: BfdSessionSpec;
  session: BfdSession;
  tx: UdpEndpoint;
  demuxKey: string;
  minTtl: number;
}

interface Listener {
  endpoint: UdpEndpoint;
  users: number;
}

function norm(addr: string): string {
  const a = ipaddr.process(addr);
  return a.toString();
}

export class BfdEngine {
  private readonly transport: BfdTransport;
  private readonly ports: { single: number; multi: number };
  private readonly onState: (c: StateChange) => void;
  private readonly onTimers: (t: TimersChange) => void;
  private readonly log: Logger | undefined;
  private readonly clock: Clock | undefined;
  private readonly sessions = new Map<string, Entry>();
  private readonly byDiscr = new Map<number, Entry>();
  private readonly byPeer = new Map<string, Entry>();
  private readonly listeners = new Map<string, Promise<Listener>>();
  /** Serialises add/update/remove so concurrent calls for one key can't interleave. */
  private queue: Promise<unknown> = Promise.resolve();
  private droppedTotal = 0;

  constructor(o: EngineOptions) {
    this.transport = o.transport ?? dgramTransport;
    this.ports = { single: o.singleHopPort ?? SINGLE_HOP_PORT, multi: o.multiHopPort ?? MULTI_HOP_PORT };
    this.onState = o.onState;
    this.onTimers = o.onTimers ?? (() => {});
    this.log = o.log;
    this.clock = o.clock;
    if (!this.transport.receivesTtl) {
      this.log?.warn({ transport: this.transport.name }, 'received TTL is not checked (RFC 5881 GTSM): the native addon is not available');
    }
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => {});
    return p;
  }

  /** The actual listening port for a family and hop type (after binding port 0 in tests). */
  async listenPort(family: 4 | 6, multihop: boolean): Promise<number> {
    return (await this.listener(family, multihop, false)).endpoint.port;
  }

  private listener(family: 4 | 6, multihop: boolean, use: boolean): Promise<Listener> {
    const k = `${family}/${multihop ? 'mh' : 'sh'}`;
    let p = this.listeners.get(k);
    if (!p) {
      p = this.transport.open({
        family, port: multihop ? this.ports.multi : this.ports.single, ttl: 255,
        onMessage: (msg, from) => this.onPacket(msg, from, multihop),
      }).then((endpoint) => ({ endpoint, users: 0 }));
      this.listeners.set(k, p);
      p.catch(() => this.listeners.delete(k));
    }
    if (use) return p.then((l) => { l.users++; return l; });
    return p;
  }

  add(spec: BfdSessionSpec): Promise<void> {
    return this.serial(() => this.addNow(spec));
  }

  private async addNow(spec: BfdSessionSpec): Promise<void> {
    if (this.sessions.has(spec.key)) throw new Error(`BFD session ${spec.key} already exists; use updateSession to change it`);
    const profile = validateSpec(spec);
    const peer = norm(spec.peerAddress);
    const multihop = spec.multihop ?? false;
    const demuxKey = `${multihop ? 'mh' : 'sh'}|${peer}`;
    if (this.byPeer.has(demuxKey)) throw new Error(`a BFD session to ${peer} (${multihop ? 'multihop' : 'single hop'}) already exists; one session per peer`);
    const family = familyOf(peer);
    if (spec.localAddress && familyOf(spec.localAddress) !== family) throw new Error(`BFD session ${spec.key}: localAddress ${spec.localAddress} and peerAddress ${peer} are of different families`);
    if (profile.echoMode) this.log?.warn({ key: spec.key }, 'echo mode refused (needs the peer to forward packets addressed to us; see docs/performance.md BFD): running asynchronous mode only');
    await this.listener(family, multihop, true);
    const tx = await this.openSource(family, spec.localAddress, spec.interface);
    const dport = spec.peerPort ?? (multihop ? MULTI_HOP_PORT : SINGLE_HOP_PORT);
    let discr = 0;
    for (let i = 0; i < 100 && (discr === 0 || this.byDiscr.has(discr)); i++) discr = (Math.random() * 0xffffffff) >>> 0;
    const session = new BfdSession({
      key: spec.key, localDiscriminator: discr, profile, auth: spec.auth, adminDown: spec.adminDown,
      send: (buf) => tx.send(buf, dport, peer),
      onState: (c) => this.onState({ ...c, at: performance.timeOrigin + performance.now() }),
      onTimers: (t) => this.onTimers(t),
      onDrop: (reason) => this.dropped(reason, peer),
      ...(this.clock ? { clock: this.clock } : {}),
    });
    const e: Entry = { spec: { ...spec, peerAddress: peer }, session, tx, demuxKey, minTtl: profile.minimumTtl };
    this.sessions.set(spec.key, e);
    this.byDiscr.set(discr, e);
    this.byPeer.set(demuxKey, e);
    session.start();
    this.log?.info({ key: spec.key, peer, multihop, discriminator: discr, sourcePort: tx.port }, 'BFD session added');
  }

  /** RFC 5881 section 4: a source port in 49152-65535, fixed for the session's life. */
  private async openSource(family: 4 | 6, address: string | undefined, device: string | undefined): Promise<UdpEndpoint> {
    let last: unknown;
    for (let i = 0; i < 32; i++) {
      const port = 49152 + Math.floor(Math.random() * 16384);
      try {
        return await this.transport.open({ family, port, ttl: 255, onMessage: () => {}, ...(address ? { address } : {}), ...(device ? { device } : {}) });
      } catch (err) {
        last = err;
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
      }
    }
    throw new Error(`cannot open a BFD source socket${address ? ` on ${address}` : ''}: ${(last as Error)?.message ?? last}`);
  }

  update(spec: BfdSessionSpec): Promise<void> {
    return this.serial(async () => {
      const e = this.sessions.get(spec.key);
      if (!e) return this.addNow(spec);
      const profile = validateSpec(spec);
      const same = norm(spec.peerAddress) === e.spec.peerAddress && (spec.multihop ?? false) === (e.spec.multihop ?? false) &&
        spec.localAddress === e.spec.localAddress && spec.interface === e.spec.interface && spec.peerPort === e.spec.peerPort;
      if (!same) {
        // Hold the listener across the re-creation so it is not closed and re-bound.
        const family = familyOf(e.spec.peerAddress);
        const multihop = e.spec.multihop ?? false;
        await this.listener(family, multihop, true);
        try {
          await this.removeNow(spec.key);
          return await this.addNow(spec);
        } finally {
          await this.release(family, multihop);
        }
      }
      e.spec = { ...spec, peerAddress: e.spec.peerAddress };
      e.minTtl = profile.minimumTtl;
      e.session.update(profile, spec.auth);
      if ((spec.adminDown ?? false) !== (e.session.sessionState === 'AdminDown')) e.session.setAdminDown(spec.adminDown ?? false);
    });
  }

  remove(key: string): Promise<void> {
    return this.serial(() => this.removeNow(key));
  }

  private async removeNow(key: string): Promise<void> {
    const e = this.sessions.get(key);
    if (!e) return;
    e.session.close(true);
    this.sessions.delete(key);
    this.byDiscr.delete(e.session.localDiscr);
    this.byPeer.delete(e.demuxKey);
    await e.tx.close();
    await this.release(familyOf(e.spec.peerAddress), e.spec.multihop ?? false);
  }

  /** Drops one use of a listener, closing it with the last one. */
  private async release(family: 4 | 6, multihop: boolean): Promise<void> {
    const l = await this.listener(family, multihop, false);
    if (--l.users <= 0) {
      this.listeners.delete(`${family}/${multihop ? 'mh' : 'sh'}`);
      await l.endpoint.close();
    }
  }

  snapshot(): SessionSnapshot[] {
    return [...this.sessions.values()].map((e) => e.session.snapshot());
  }

  get dropped_total(): number {
    return this.droppedTotal;
  }

  private dropped(reason: string, from: string): void {
    this.droppedTotal++;
    this.log?.debug({ from, reason }, 'BFD packet dropped');
  }

  /** Exposed for tests: the receive path (decode, TTL check, demultiplex). */
  onPacket(msg: Buffer, from: UdpReceived, multihop: boolean): void {
    let pkt;
    try {
      pkt = decodeControl(msg);
    } catch (err) {
      if (err instanceof BfdDecodeError) return this.dropped(err.message, from.address);
      throw err;
    }
    let e: Entry | undefined;
    if (pkt.yourDiscriminator !== 0) {
      e = this.byDiscr.get(pkt.yourDiscriminator);
    } else {
      let peer: string;
      try { peer = norm(from.address); } catch { return this.dropped('bad source address', from.address); }
      e = this.byPeer.get(`${multihop ? 'mh' : 'sh'}|${peer}`);
    }
    if (!e) return this.dropped('no session for packet', from.address);
    if ((e.spec.multihop ?? false) !== multihop) return this.dropped('packet on the wrong port for the session', from.address);
    if (from.ttl !== undefined) {
      // RFC 5881 section 5 (GTSM): single hop only from a neighbour (TTL 255); multihop: profile minimum.
      if (!multihop && from.ttl !== 255) return this.dropped(`TTL ${from.ttl}, single hop requires 255`, from.address);
      if (multihop && from.ttl < e.minTtl) return this.dropped(`TTL ${from.ttl} below minimum ${e.minTtl}`, from.address);
    }
    e.session.receive(pkt, msg);
  }

  async close(): Promise<void> {
    await this.serial(async () => {
      for (const key of [...this.sessions.keys()]) await this.removeNow(key);
    });
  }
}
