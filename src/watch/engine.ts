// The owner-watch engine: fast authenticated heartbeats between a node and the Layer 2 owners it
// would take over from. Transport and clock are injected (the worker gives it a UDP socket; unit
// tests a fake). A watched peer is declared down when no valid heartbeat arrived for
// intervalMs × multiplier; it is up again on its next valid heartbeat.
//
// Who sends to whom: a node sends heartbeats to the peers it watches (flag WATCHING) and to every
// peer that watched it within the last second. So the watched owner needs no configuration: a
// watcher's own heartbeats ask for its answer.
//
// Replay: each heartbeat carries the sender's epoch (start time), a sequence number and its clock.
// A receiver accepts, per sender, only a newer (epoch, seq) than the last accepted, with a timestamp
// within ±maxSkewMs of its own clock and an epoch not from the future; the MAC covers all of it and
// the receiver's name, so a heartbeat cannot be replayed later nor to another node.
import { FLAG_HOLDING, FLAG_WATCHING, decodeHeartbeat, encodeHeartbeat } from './codec.ts';

export interface WatchPeer {
  name: string;
  address: string;
  port: number;
  /** Watch this peer (detect its loss); otherwise it only gets heartbeats while it watches us. */
  watch: boolean;
  /** We announce addresses of this peer after a fast suspicion (told to it in our heartbeats). */
  holding: boolean;
}

export type PeerState = 'unknown' | 'up' | 'down';

/** A heartbeat to send: to whom, where, and the flags and takeover count it carries. */
export interface HeartbeatTarget {
  to: string;
  address: string;
  port: number;
  flags: number;
  takeovers: number;
}

export interface StateChange {
  name: string;
  state: 'up' | 'down';
  /** Time since the last valid heartbeat (ms) when declared down. */
  silentMs: number;
  /** When the engine declared it (its clock, ms): how long the news waited for the main thread. */
  at?: number;
  /**
   * On 'up' after a silence: where the silence came from. senderGapMs: between the sender's clock
   * readings in the last heartbeat before and the first after (large: the sender did not send);
   * transitMs: from the sender's clock to receipt of the first after (large: delivery was late).
   */
  gap?: { silentMs: number; senderGapMs: number; transitMs: number };
}

export interface WatchEngineOptions {
  self: string;
  keys: readonly Buffer[];
  intervalMs: number;
  multiplier: number;
  maxSkewMs?: number;
  now?: () => number;
  /** Transport for tick() (unit tests); the worker sends through the native thread instead (targets()). */
  send?: (msg: Buffer, address: string, port: number) => void;
  onState: (c: StateChange) => void;
  /** A peer that had taken over our addresses has released them: announce them again. */
  onReannounce: (from: string) => void;
}

interface Peer extends WatchPeer {
  state: PeerState;
  lastHeard: number;
  /** The sender's clock in the last accepted heartbeat. */
  lastTs: number;
  epoch: number;
  seq: number;
  /** Until when the peer watches us (its WATCHING heartbeats). */
  watchedUntil: number;
  /** Our fast takeovers of this peer (sent), and the peer's of ours we have seen. */
  takeovers: number;
  seenTakeovers: number;
}

export interface WatchStats {
  sent: number;
  received: number;
  rejected: Record<'mac' | 'unknown-peer' | 'wrong-receiver' | 'replay' | 'clock-skew' | 'address', number>;
  /** Checks skipped because this thread itself was late (its silence is not the peers'). */
  stalls: number;
  /** Silences not declared because every other peer was silent too (this node's problem, or the network's). */
  heldBack: number;
  /** The native sender thread's ticks more than one interval late, and its worst lateness (ms). */
  senderLateTicks?: number;
  senderMaxLateMs?: number;
}

const WATCHED_FOR_MS = 1000;

export class WatchEngine {
  readonly stats: WatchStats = { sent: 0, received: 0, rejected: { mac: 0, 'unknown-peer': 0, 'wrong-receiver': 0, replay: 0, 'clock-skew': 0, address: 0 }, stalls: 0, heldBack: 0 };
  #opts: WatchEngineOptions;
  #keys: Buffer[];
  #peers = new Map<string, Peer>();
  #now: () => number;
  #epoch: number;
  #seq = 0;
  #lastCheck: number | undefined;

  constructor(o: WatchEngineOptions) {
    if (!(o.intervalMs >= 1) || !(o.multiplier >= 2)) throw new Error(`owner watch: interval ${o.intervalMs} ms × ${o.multiplier}: use an interval of at least 1 ms and a multiplier of at least 2`);
    this.#opts = o;
    this.#keys = [...o.keys];
    this.#now = o.now ?? Date.now;
    this.#epoch = this.#now();
  }

  get detectMs(): number {
    return this.#opts.intervalMs * this.#opts.multiplier;
  }

  setKeys(keys: readonly Buffer[]): void {
    if (keys.length === 0) throw new Error('owner watch: no key');
    this.#keys = [...keys];
  }

  /** Replaces the peer list; state of peers kept is kept. */
  setPeers(list: readonly WatchPeer[]): void {
    const next = new Map<string, Peer>();
    for (const p of list) {
      if (p.name === this.#opts.self) continue;
      const old = this.#peers.get(p.name);
      if (old) {
        const takeovers = !old.holding && p.holding ? old.takeovers + 1 : old.takeovers;
        // A peer no longer watched forgets its state: watching it again starts from "unknown".
        const state = p.watch ? old.state : 'unknown';
        next.set(p.name, { ...old, ...p, state, takeovers });
      } else {
        next.set(p.name, { ...p, state: 'unknown', lastHeard: 0, lastTs: 0, epoch: 0, seq: 0, watchedUntil: 0, takeovers: p.holding ? 1 : 0, seenTakeovers: 0 });
      }
    }
    this.#peers = next;
  }

  state(name: string): PeerState | undefined {
    return this.#peers.get(name)?.state;
  }

  /**
   * Whom to send heartbeats to now (watched peers and peers watching us), with what flags. The
   * worker hands this list to the native sender thread (src/native/ironlb_watch.c), which sends
   * them every interval; tick() sends them from here (unit tests).
   */
  targets(now = this.#now()): HeartbeatTarget[] {
    const out: HeartbeatTarget[] = [];
    for (const p of this.#peers.values()) {
      if (!p.watch && p.watchedUntil < now) continue;
      out.push({ to: p.name, address: p.address, port: p.port, flags: (p.watch ? FLAG_WATCHING : 0) | (p.holding ? FLAG_HOLDING : 0), takeovers: p.takeovers });
    }
    return out;
  }

  /** One transmit interval: heartbeats to watched peers and to peers watching us. */
  tick(): void {
    const now = this.#now();
    const key = this.#keys[0];
    if (!key) return;
    for (const t of this.targets(now)) {
      const msg = encodeHeartbeat({ flags: t.flags, takeovers: t.takeovers, epoch: this.#epoch, seq: ++this.#seq >>> 0, timestamp: now, from: this.#opts.self, to: t.to }, key);
      this.stats.sent++;
      this.#opts.send?.(msg, t.address, t.port);
    }
  }

  /**
   * Detection. Call after received datagrams were read (the worker runs it in the check phase,
   * after the poll phase). When this thread itself was late by more than half the detection time,
   * its peers' silence may be its own: the check is skipped once, so the whole backlog is read first.
   */
  check(): void {
    const now = this.#now();
    const last = this.#lastCheck;
    this.#lastCheck = now;
    if (last !== undefined && now - last > this.detectMs / 2) {
      this.stats.stalls++;
      return;
    }
    // Peers that send to us: the watched ones that were up, and those watching us.
    const active = [...this.#peers.values()].filter((p) => (p.watch && p.state === 'up') || p.watchedUntil + WATCHED_FOR_MS >= now);
    for (const p of active) {
      if (!p.watch || p.state !== 'up') continue;
      const silent = now - p.lastHeard;
      if (silent <= this.detectMs) continue;
      // One silent owner among peers still heard is the owner's problem. When every peer went silent
      // at once, it is more likely ours (a receive path starved on a loaded host, a cut link): leave
      // the decision to membership, which asks others. With no other peer there is no such evidence.
      // "Heard" means: some other peer's heartbeat arrived after this one's last plus an interval,
      // so this node's receive path worked while the owner was silent (load-independent).
      const others = active.filter((q) => q !== p);
      if (others.length > 0 && !others.some((q) => q.lastHeard > p.lastHeard + this.#opts.intervalMs)) {
        this.stats.heldBack++;
        continue;
      }
      p.state = 'down';
      this.#opts.onState({ name: p.name, state: 'down', silentMs: silent, at: now });
    }
  }

  /** One datagram; `receivedAt`: when it arrived if not now (the native thread's receipt time). */
  receive(msg: Buffer, from: { address: string }, receivedAt?: number): void {
    const h = decodeHeartbeat(msg, this.#keys);
    if (!h) return void this.stats.rejected.mac++;
    if (h.to !== this.#opts.self) return void this.stats.rejected['wrong-receiver']++;
    const p = this.#peers.get(h.from);
    if (!p) return void this.stats.rejected['unknown-peer']++;
    if (normal(from.address) !== normal(p.address)) return void this.stats.rejected.address++;
    const now = receivedAt ?? this.#now();
    const skew = this.#opts.maxSkewMs ?? 30_000;
    if (Math.abs(now - h.timestamp) > skew || h.epoch > now + skew) return void this.stats.rejected['clock-skew']++;
    if (h.epoch < p.epoch || (h.epoch === p.epoch && h.seq <= p.seq)) return void this.stats.rejected.replay++;
    this.stats.received++;
    const gap = p.lastHeard > 0 && h.epoch === p.epoch ? { silentMs: now - p.lastHeard, senderGapMs: h.timestamp - p.lastTs, transitMs: now - h.timestamp } : undefined;
    p.epoch = h.epoch;
    p.seq = h.seq;
    p.lastHeard = now;
    p.lastTs = h.timestamp;
    if (h.flags & FLAG_WATCHING) p.watchedUntil = now + WATCHED_FOR_MS;
    // The peer released what it took over from us: clients that followed it must come back.
    if (h.takeovers !== p.seenTakeovers && !(h.flags & FLAG_HOLDING)) {
      p.seenTakeovers = h.takeovers;
      if (h.takeovers > 0) this.#opts.onReannounce(p.name);
    }
    if (p.watch && p.state !== 'up') {
      p.state = 'up';
      this.#opts.onState({ name: p.name, state: 'up', silentMs: 0, ...(gap ? { gap } : {}) });
    }
  }
}

function normal(a: string): string {
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}
