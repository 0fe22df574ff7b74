// SWIM-style failure detection between speakers (Das et al. 2002, with Lifeguard's refinements):
// direct probes, indirect probes through k members, suspicion refuted by raising the incarnation,
// piggybacked gossip, and a graceful leave.
//
// Cost per member is independent of the cluster size: nothing is sent to every member. Changes
// spread as gossip (each update rides on probes and on gossip messages to `gossipFanout` random
// members every `gossipIntervalMs` while there is news, at most retransmitMult · ceil(log10(n + 1))
// times per member), and direct word goes only to the few members that must act at once: the
// suspect (to refute), its k ring successors (to check it now and confirm), the suspicion's
// originator (confirmations and refutations) and, for a death or a leave, the members named by the
// `mustHear` option (the speaker passes the nodes that take over the member's addresses). Every datagram is HMAC-authenticated and replay-checked.
// Sockets and time come in through Transport and Clock so the protocol runs on a fake clock in tests.
//
// Input from the network is never trusted to be sane: junk is dropped before the MAC (size, magic,
// version, names), incarnations and epochs beyond what the clock allows are dropped, a message
// counts only if it names this process's epoch (so captures from before a restart are answered,
// not believed), and any exception while handling a datagram is caught, counted and logged.
import { EventEmitter } from 'node:events';
import { Registry } from 'prom-client';
import { logger as makeLogger, type Logger } from '../util/log.ts';
import { deriveKey, keyFingerprint, openAny, seal, MAC_BYTES, MAX_KEYS } from './auth.ts';
import { realClock, type Clock, type TimerHandle } from './clock.ts';
import { decodeMessage, encodeMessage, encodedBaseSize, encodedUpdateSize, peekMessage, DecodeError, type Body, type MemberState, type Message, type Update } from './codec.ts';
import { GossipQueue } from './gossip.ts';
import { createMetrics, type MembershipMetrics, type RejectReason } from './metrics.ts';
import { ReplayGuard } from './replay.ts';
import { UdpTransport, type Datagram, type Transport } from './transport.ts';
import { sortedIndex, sortedInsert, sortedRemove } from '../util/sorted.ts';

export const DEFAULT_PORT = 7947;

/**
 * Timer defaults, chosen for "a killed speaker's addresses move in under 1 s" with no false
 * failover at 5% loss (measured figures in docs/performance.md, "Membership"):
 * - probe every 100 ms: with n members each one is probed ~once per 100 ms cluster-wide, so the
 *   first probe of a dead member comes ~50 ms after death on average. Cost: ~20 small datagrams/s
 *   per member, independent of cluster size.
 * - direct ack within 60 ms (LAN RTT is < 1 ms; the rest is event-loop slack on busy nodes), then a
 *   direct retry plus k = 3 indirect probes with 120 ms more: a live member is falsely suspected
 *   only if the retry and all indirect paths fail too (≈ 3e-4 per probe at 5% loss).
 * - suspicion lasts 1500 ms with no independent confirmation and shrinks to 250 ms once k other
 *   members confirm (Lifeguard's dynamic suspicion). The suspect's k ring successors are told at
 *   once and probe it, so a dead member is confirmed ~180 ms later and declared dead after 250 ms,
 *   while a falsely suspected one has 1.5 s to refute (it needs one round trip). Confirmations
 *   shorten a suspicion only while the suspect is silent: one still sending to us is alive and only
 *   its inbound path is failing (e.g. flooded), so it keeps the full 1.5 s to learn and refute.
 * - probe timers scale with a local health score (Lifeguard): a starved or isolated speaker
 *   slows down instead of accusing healthy peers.
 */
export interface Timing {
  probeIntervalMs: number;
  probeTimeoutMs: number;
  indirectTimeoutMs: number;
  indirectProbes: number;
  suspicionMinMs: number;
  suspicionMaxMs: number;
  /** How often one dead, departed or not-yet-seen member is pinged, so healed nodes rejoin. */
  deadProbeIntervalMs: number;
  /** Each update is sent at most retransmitMult · ceil(log10(n + 1)) times by each member. */
  retransmitMult: number;
  maxLocalHealth: number;
  /** While there is news to spread, a gossip message goes to gossipFanout random members this often. */
  gossipIntervalMs: number;
  gossipFanout: number;
  /** Members not yet heard from that are greeted per probe round (a cold start spreads its hellos). */
  joinProbes: number;
}

export const DEFAULT_TIMING: Timing = {
  probeIntervalMs: 100,
  probeTimeoutMs: 60,
  indirectTimeoutMs: 120,
  indirectProbes: 3,
  suspicionMinMs: 250,
  suspicionMaxMs: 1500,
  deadProbeIntervalMs: 250,
  // memberlist's LAN default: 16 sends per member at 1,000 members, 8 at 50 (each to a random member,
  // so a member misses an update with probability ≈ e^-16 resp. e^-8 before loss).
  retransmitMult: 4,
  // Lifeguard uses 8 with 1 s rounds; with 100 ms rounds a cap of 4 (timers ×5 at worst) still
  // keeps a starved member from accusing others while its own view stays within ~2 s of reality.
  maxLocalHealth: 4,
  // 3 members every 50 ms while there is news: a death reaches 1,000 members in ~8 rounds (0.4 s) at
  // 5% loss, at a cost of at most 60 small datagrams/s per member, and none in a quiet cluster.
  gossipIntervalMs: 50,
  gossipFanout: 3,
  // 8 per 100 ms round: a cold start of 1,000 members greets everyone within 12.5 s first-hand, and
  // gossip of who answered fills the views in well under that.
  joinProbes: 8,
};

export interface Peer {
  name: string;
  address: string;
  port?: number;
}

/** Timer settings may be given flat (`probeIntervalMs: 200`) or grouped (`timing: { ... }`). */
export interface MembershipOptions extends Partial<Timing> {
  /** This node's name (the Kubernetes Node name). */
  name: string;
  /** Address other members reach this one at; also the bind address unless bindAddress is set. */
  address: string;
  port?: number;
  bindAddress?: string;
  /** Shared secret bytes (from a Kubernetes Secret); at least 16 bytes. Or give `secrets`. */
  secret?: Uint8Array;
  /** Several secrets during a key rotation: the first signs, all are accepted (see setKeys). */
  secrets?: readonly Uint8Array[];
  /** SO_RCVBUF asked for the UDP socket (default 4 MiB; the kernel caps it at net.core.rmem_max). */
  receiveBufferBytes?: number;
  registry?: Registry;
  logger?: Logger;
  timing?: Partial<Timing>;
  /**
   * Accepted clock difference between members (default 30 s): message timestamps must be within it,
   * epochs at most this far ahead.
   */
  maxClockSkewMs?: number;
  transport?: Transport;
  clock?: Clock;
  random?: () => number;
  /**
   * Members that must hear at once (not through gossip) that `member` died or left: the speaker
   * passes the nodes that would take over its addresses. At most MAX_DIRECT are used.
   */
  mustHear?: (member: string) => Iterable<string>;
}

export type DownReason = 'dead' | 'left' | 'removed';

export interface MembershipEvents {
  change: [alive: string[]];
  memberUp: [name: string];
  memberDown: [name: string, reason: DownReason];
  /**
   * Another member says this node is dead (refuted or not: a claim below the incarnation this node
   * has already refuted with still means that member declared it dead and may have taken over what
   * it announced).
   */
  declaredDead: [by: string];
}

/** A member's state as one speaker sees it: 'unknown' until first heard of. */
export type LocalState = MemberState | 'unknown';

export interface MemberInfo {
  name: string;
  state: LocalState;
  incarnation: number;
}

interface Suspicion {
  start: number;
  confirmers: Set<string>;
  timer?: TimerHandle;
  /** When our own last-chance probe of an unconfirmed suspicion began (0 = not yet), and how often. */
  lastChance: number;
  chances: number;
}

interface Member {
  name: string;
  address: string;
  port: number;
  state: LocalState;
  incarnation: number;
  /** Clock time of the last authenticated message from this member itself (0 = never). */
  lastHeard: number;
  suspicion?: Suspicion;
  /** The member's process epoch, from its last authenticated message (0 = unknown): sent back as toEpoch. */
  epoch: number;
  /** Wire version it speaks: 1 until a version 2 message is heard (a speaker of the previous release). */
  wire: 1 | 2;
  /** Clock time of the last ping sent in answer to an unverified message (rate limit). */
  lastHello: number;
  /** Clock time of the last answer to one of our probes (directly or through a helper). */
  lastAck: number;
}

interface Probe {
  id: number;
  target: string;
  timer?: TimerHandle;
  helpers: number;
  nacks: number;
}

interface Relay {
  origin: string;
  /** The requester's epoch as its request named it (it may not have heard from us before). */
  originEpoch: number;
  originProbeId: number;
  target: string;
  timer: TimerHandle;
}

/** Room for updates in one datagram: stays under a 1500-byte MTU with IPv6 and UDP headers. */
const MAX_PACKET = 1400;
/** At most this many members get direct word of one event (besides gossip). */
const MAX_DIRECT = 16;

/**
 * How far an incarnation may run ahead of the clock. Incarnations start at the process's start time
 * (ms) and grow by one per refutation, so an honest one stays below now + skew + the refutations of
 * its lifetime; an hour's worth at one per ms is far beyond that, and far below 2^53 (the codec's
 * limit), so a refutation (+1) can never overflow. Claims beyond it are dropped as out-of-range.
 */
const INCARNATION_HEADROOM_MS = 3_600_000;
export class Membership extends EventEmitter<MembershipEvents> {
  readonly name: string;
  readonly address: string;
  readonly timing: Timing;
  readonly metrics: MembershipMetrics;
  private port: number;
  /** Derived keys: [0] signs, all open. */
  private keys: Buffer[];
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly transport: Transport;
  private readonly replay: ReplayGuard;
  private readonly maxSkewMs: number;
  private readonly gossip = new GossipQueue();
  private readonly members = new Map<string, Member>();
  private readonly probes = new Map<number, Probe>();
  private readonly probing = new Set<string>();
  private readonly relays = new Map<number, Relay>();
  /** This process's epoch (its start time, ms): other members name it in what they send here. */
  readonly epoch: number;
  private incarnation: number;
  private seq = 0;
  private nextProbeId = 1;
  private health = 0;
  private probeOrder: string[] = [];
  private deadOrder: string[] = [];
  /** Members not heard from yet, to greet joinProbes per round (shuffled). */
  private helloQueue: string[] = [];
  private tickTimer: TimerHandle | undefined;
  private gossipTimer: TimerHandle | undefined;
  private lastDeadProbe = 0;
  /** Sorted names of live members (alive or suspect), self included; kept up to date on every change. */
  private readonly live: string[];
  /** The live set changed since the last 'change' event. */
  private liveChanged = false;
  private readonly mustHear: ((member: string) => Iterable<string>) | undefined;
  private running = false;
  private leaving = false;

  constructor(opts: MembershipOptions) {
    super();
    this.name = opts.name;
    this.address = opts.address;
    this.port = opts.port ?? DEFAULT_PORT;
    const flat: Partial<Timing> = {};
    for (const k of Object.keys(DEFAULT_TIMING) as Array<keyof Timing>) if (opts[k] !== undefined) flat[k] = opts[k];
    this.timing = { ...DEFAULT_TIMING, ...flat, ...opts.timing };
    for (const [k, v] of Object.entries(this.timing)) {
      if (!Number.isFinite(v) || v < 0) throw new Error(`membership: timing ${k} must be a non-negative number, got ${v}`);
    }
    if (this.timing.suspicionMinMs > this.timing.suspicionMaxMs) throw new Error('membership: suspicionMinMs must not exceed suspicionMaxMs');
    if ((opts.secret === undefined) === (opts.secrets === undefined)) throw new Error('membership: give exactly one of secret or secrets');
    this.keys = Membership.deriveKeys(opts.secrets ?? [opts.secret!]);
    this.clock = opts.clock ?? realClock;
    this.random = opts.random ?? Math.random;
    this.log = opts.logger ?? makeLogger('membership', { node: opts.name });
    this.transport = opts.transport ?? new UdpTransport(opts.bindAddress ?? opts.address, this.port, {
      onError: (err) => this.log.debug({ err: err.message }, 'socket error'),
      ...(opts.receiveBufferBytes !== undefined ? { receiveBufferBytes: opts.receiveBufferBytes } : {}),
    });
    this.maxSkewMs = opts.maxClockSkewMs ?? 30_000;
    this.replay = new ReplayGuard({ maxSkewMs: this.maxSkewMs });
    // Epoch and first incarnation from the clock: a restarted speaker always outranks its past self.
    this.epoch = Math.floor(this.clock.now());
    this.incarnation = this.epoch;
    this.live = [this.name];
    this.mustHear = opts.mustHear;
    this.metrics = createMetrics(opts.registry ?? new Registry(), {
      states: () => this.countStates(),
      health: () => this.health,
      keys: () => this.keys.length,
      receiveBuffer: () => this.transport.receiveBufferSize?.(),
    });
  }

  private static deriveKeys(secrets: readonly Uint8Array[]): Buffer[] {
    if (secrets.length === 0 || secrets.length > MAX_KEYS) throw new Error(`membership: give 1 to ${MAX_KEYS} secrets (two during a key rotation), got ${secrets.length}`);
    return secrets.map((s) => deriveKey(s));
  }

  /**
   * Replaces the keys without a restart (key rotation): the first signs, all are accepted. Rotate
   * in three steps, each once every member has the previous one: [old, new], then [new, old], then
   * [new]. Throws (and keeps the current keys) if a secret is unusable.
   */
  setKeys(secrets: readonly Uint8Array[]): void {
    const keys = Membership.deriveKeys(secrets);
    const same = keys.length === this.keys.length && keys.every((k, i) => k.equals(this.keys[i]!));
    if (same) return;
    this.keys = keys;
    this.log.info({ signing: keyFingerprint(keys[0]!), accepted: keys.map(keyFingerprint) }, 'membership keys changed');
  }

  /** Fingerprints of the keys in use (first = signing), for status and tests. */
  get keyFingerprints(): string[] {
    return this.keys.map(keyFingerprint);
  }

  /** Binds the socket and starts probing; resolves with the bound port. */
  async start(): Promise<number> {
    this.port = await this.transport.bind((d) => this.onDatagram(d));
    this.running = true;
    const rcvbuf = this.transport.receiveBufferSize?.();
    // Linux reports twice the size granted; below 1 MiB the kernel's net.core.rmem_max capped it.
    if (rcvbuf !== undefined && rcvbuf < 1024 * 1024) {
      this.log.warn({ receiveBufferBytes: rcvbuf }, 'membership socket got a small receive buffer: a burst of junk datagrams can push members\' packets out; raise net.core.rmem_max to at least 4194304 on this node');
    }
    this.liveChanged = false;
    // Peers set before start are greeted from the first round on (joinProbes per round).
    this.scheduleTick(0);
    this.log.info({ port: this.port, timing: this.timing }, 'membership started');
    return this.port;
  }

  /** The members to watch, from the API (Nodes): name, address and optional port. Self is ignored. */
  setPeers(list: readonly Peer[]): void {
    const wanted = new Set<string>();
    const added: string[] = [];
    for (const p of list) {
      if (p.name === this.name) continue;
      wanted.add(p.name);
      const m = this.members.get(p.name);
      if (m) {
        m.address = p.address;
        m.port = p.port ?? DEFAULT_PORT;
      } else {
        const nm: Member = { name: p.name, address: p.address, port: p.port ?? DEFAULT_PORT, state: 'unknown', incarnation: 0, lastHeard: 0, epoch: 0, wire: 2, lastHello: -Infinity, lastAck: 0 };
        this.members.set(p.name, nm);
        // Join: greet it within a few rounds rather than on the slow round over unseen members.
        added.push(p.name);
      }
    }
    if (added.length) {
      this.helloQueue.push(...this.shuffle(added));
      // The first few at once: a small cluster (or one new node) converges in one round trip.
      if (this.running && !this.leaving) this.greet();
    }
    for (const [name, m] of this.members) {
      if (wanted.has(name)) continue;
      this.clearSuspicion(m);
      const wasUp = m.state === 'alive' || m.state === 'suspect';
      if (wasUp) this.markUp(name, false);
      this.members.delete(name);
      if (wasUp) this.emit('memberDown', name, 'removed');
    }
    const keep = new Set([...wanted, this.name]);
    this.gossip.retain(keep);
    this.replay.retain(keep);
    this.emitChange();
  }

  /** Sorted names of live members (alive or suspected), self included. */
  alive(): string[] {
    return [...this.live];
  }

  /** Keeps the sorted live list in step with a member going up or down (binary search, no re-sort). */
  private markUp(name: string, up: boolean): void {
    if (up ? sortedInsert(this.live, name) : sortedRemove(this.live, name)) this.liveChanged = true;
  }

  /** Position of a name in the sorted live list, or -1. */
  private livePos(name: string): number {
    return sortedIndex(this.live, name);
  }

  /** Every member's state as seen here (for status and debugging). */
  snapshot(): MemberInfo[] {
    const out: MemberInfo[] = [{ name: this.name, state: this.leaving ? 'left' : 'alive', incarnation: this.incarnation }];
    for (const m of this.members.values()) out.push({ name: m.name, state: m.state, incarnation: m.incarnation });
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get localHealth(): number {
    return this.health;
  }

  get boundPort(): number {
    return this.port;
  }

  /**
   * Says goodbye (call on SIGTERM), then stops probing. The goodbye goes directly to the members
   * that must act (mustHear: the nodes taking over this one's addresses), to this member's k ring
   * successors and to 2 · gossipFanout random members, which spread it as gossip; in a cluster of
   * up to ~10 members that is everyone.
   */
  async leave(): Promise<void> {
    if (this.leaving || !this.running) return;
    this.leaving = true;
    this.clock.clearTimeout(this.tickTimer);
    this.clock.clearTimeout(this.gossipTimer);
    const bye: Update = { name: this.name, state: 'left', incarnation: this.incarnation };
    const to = this.directSet(this.name, 2 * this.timing.gossipFanout);
    // Twice: a lost goodbye would cost a full failure detection.
    for (let i = 0; i < 2; i++) {
      for (const m of to) this.sendRaw(m, { type: 'gossip' }, [bye]);
    }
    this.log.info({ told: to.length }, 'left the membership');
  }

  async close(): Promise<void> {
    this.running = false;
    this.leaving = true;
    this.clock.clearTimeout(this.tickTimer);
    this.clock.clearTimeout(this.gossipTimer);
    this.gossipTimer = undefined;
    for (const p of this.probes.values()) this.clock.clearTimeout(p.timer);
    for (const r of this.relays.values()) this.clock.clearTimeout(r.timer);
    for (const m of this.members.values()) this.clearSuspicion(m);
    this.probes.clear();
    this.probing.clear();
    this.relays.clear();
    await this.transport.close();
  }

  // ---- probing -------------------------------------------------------------------------------

  /** Probe ids travel as u32: wrap before they would be truncated on the wire. */
  private newProbeId(): number {
    const id = this.nextProbeId;
    this.nextProbeId = id >= 0xffffffff ? 1 : id + 1;
    return id;
  }

  private scale(): number {
    return 1 + this.health;
  }

  /** Schedules fn on the clock; an exception in it is logged, never thrown into the event loop. */
  private after(fn: () => void, ms: number): TimerHandle {
    return this.clock.setTimeout(() => this.safely('timer', fn), ms);
  }

  private later(fn: () => void): void {
    this.clock.defer(() => this.safely('timer', fn));
  }

  private safely(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.stack : String(err), in: what }, 'membership: unexpected error (a bug; please report it); continuing');
    }
  }

  private scheduleTick(ms: number): void {
    this.tickTimer = this.after(() => this.tick(), ms);
  }

  private tick(): void {
    if (!this.running || this.leaving) return;
    const target = this.nextProbeTarget();
    if (target) this.startProbe(target);
    this.greet();
    const now = this.clock.now();
    if (now - this.lastDeadProbe >= this.timing.deadProbeIntervalMs) {
      this.lastDeadProbe = now;
      const d = this.nextDeadTarget();
      if (d) this.send(d, { type: 'ping', probeId: this.newProbeId() });
    }
    // Ticks fall on wall-clock round boundaries so that every member works on the same round.
    const interval = this.timing.probeIntervalMs;
    const next = interval * this.scale() - (this.clock.now() % interval);
    this.scheduleTick(Math.max(1, Math.round(next)));
  }

  /**
   * The probe schedule: in round r (wall clock / interval) the member at position p of the sorted
   * live list probes position p + 1 + (r mod (n - 1)). With converged views every live member is
   * probed by exactly one other member in every round, so a death is noticed within one interval
   * (random SWIM orders leave a p99 of ~4-5 intervals at 20 members) and over n - 1 rounds each
   * member probes every other one. Falls back to a random round-robin when that target is busy.
   */
  private nextProbeTarget(): Member | undefined {
    const live = this.live;
    if (live.length > 1) {
      const r = Math.floor(this.clock.now() / this.timing.probeIntervalMs);
      const p = this.livePos(this.name);
      const name = live[(p + 1 + (r % (live.length - 1))) % live.length]!;
      const m = this.members.get(name);
      if (m && !this.probing.has(name)) return m;
    }
    for (let pass = 0; pass < 2; pass++) {
      while (this.probeOrder.length) {
        const m = this.members.get(this.probeOrder.shift()!);
        if (m && (m.state === 'alive' || m.state === 'suspect') && !this.probing.has(m.name)) return m;
      }
      this.probeOrder = this.shuffle([...this.members.values()].filter((m) => m.state === 'alive' || m.state === 'suspect').map((m) => m.name));
    }
    return undefined;
  }

  /** Greets up to joinProbes members not heard from yet (each once; then the dead-probe round covers them). */
  private greet(): void {
    let sent = 0;
    while (sent < this.timing.joinProbes && this.helloQueue.length) {
      const m = this.members.get(this.helloQueue.pop()!);
      if (!m || m.state !== 'unknown') continue;
      this.send(m, { type: 'ping', probeId: this.newProbeId() });
      sent++;
    }
  }

  /**
   * The k members after `name` in the sorted live ring, skipping self and `skip`: the ones that check
   * a suspect at once. Every member computes the same set from (nearly) the same view, so a member
   * hearing a suspicion through gossip knows whether it is one of them, with nothing on the wire.
   */
  private ringSuccessors(name: string, k: number, skip?: string): string[] {
    const a = this.live;
    const out: string[] = [];
    let p = this.livePos(name);
    if (p < 0) {
      // Not live here (any more): start where it would sit.
      let lo = 0;
      let hi = a.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (a[mid]! < name) lo = mid + 1;
        else hi = mid;
      }
      p = lo - 1;
    }
    for (let i = 1; i <= a.length && out.length < k; i++) {
      const n = a[(p + i + a.length) % a.length]!;
      if (n !== name && n !== this.name && n !== skip) out.push(n);
    }
    return out;
  }

  /** Is this member one of the k that check `suspect` at once when `accuser` suspects it? */
  private isChecker(suspect: string, accuser: string): boolean {
    const a = this.live;
    const k = this.timing.indirectProbes;
    const p = this.livePos(suspect);
    if (p < 0) return false;
    for (let i = 1, seen = 0; i <= a.length && seen < k; i++) {
      const n = a[(p + i) % a.length]!;
      if (n === suspect || n === accuser) continue;
      if (n === this.name) return true;
      seen++;
    }
    return false;
  }

  /**
   * Members to tell directly about `subject` leaving or dying: mustHear(subject), its ring
   * successors and `random` random live members; at most MAX_DIRECT, never self or the subject.
   */
  private directSet(subject: string, random: number): Member[] {
    const names = new Set<string>();
    if (this.mustHear) {
      try {
        for (const n of this.mustHear(subject)) {
          if (names.size >= MAX_DIRECT) break;
          names.add(n);
        }
      } catch (err) {
        this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'membership: mustHear failed; relying on gossip alone');
      }
    }
    for (const n of this.ringSuccessors(subject, this.timing.indirectProbes)) names.add(n);
    for (const n of this.randomLive(random, subject)) names.add(n);
    const out: Member[] = [];
    for (const n of names) {
      if (out.length >= MAX_DIRECT) break;
      const m = this.members.get(n);
      if (m && n !== subject && m.state !== 'left') out.push(m);
    }
    return out;
  }

  /** Up to k distinct random live members other than self and `skip` (bounded tries, no list copy). */
  private randomLive(k: number, skip?: string): string[] {
    const a = this.live;
    const out: string[] = [];
    if (a.length <= 1) return out;
    for (let tries = 0; out.length < k && tries < 4 * k + 8; tries++) {
      const n = a[Math.floor(this.random() * a.length)]!;
      if (n !== this.name && n !== skip && !out.includes(n)) out.push(n);
    }
    return out;
  }

  /** Starts gossip rounds if there is news and none are running. */
  private kickGossip(): void {
    if (this.gossipTimer || !this.running || this.leaving || this.gossip.size === 0) return;
    this.gossipTimer = this.after(() => this.gossipRound(), this.timing.gossipIntervalMs);
  }

  /** One gossip round: a message to gossipFanout random live members, while the queue has news. */
  private gossipRound(): void {
    this.gossipTimer = undefined;
    if (!this.running || this.leaving || this.gossip.size === 0) return;
    // Members whose process we know (epoch) first: one that has not heard from us yet would only
    // answer a gossip message with a hello and ignore its content.
    const picks = this.randomLive(2 * this.timing.gossipFanout);
    picks.sort((a, b) => Number(this.members.get(b)!.epoch !== 0) - Number(this.members.get(a)!.epoch !== 0));
    for (const n of picks.slice(0, this.timing.gossipFanout)) {
      if (this.gossip.size === 0) break;
      this.send(this.members.get(n)!, { type: 'gossip' });
    }
    this.kickGossip();
  }

  private nextDeadTarget(): Member | undefined {
    for (let pass = 0; pass < 2; pass++) {
      while (this.deadOrder.length) {
        const m = this.members.get(this.deadOrder.shift()!);
        if (m && m.state !== 'alive' && m.state !== 'suspect') return m;
      }
      this.deadOrder = this.shuffle([...this.members.values()].filter((m) => m.state !== 'alive' && m.state !== 'suspect').map((m) => m.name));
    }
    return undefined;
  }

  private shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }

  private startProbe(m: Member): void {
    const probe: Probe = { id: this.newProbeId(), target: m.name, helpers: 0, nacks: 0 };
    this.probes.set(probe.id, probe);
    this.probing.add(m.name);
    this.metrics.probes.inc();
    this.send(m, { type: 'ping', probeId: probe.id });
    const wait = this.timing.probeTimeoutMs * this.scale();
    const due = this.clock.now() + wait;
    probe.timer = this.after(() => this.later(() => this.onDirectTimeout(probe, due)), wait);
  }

  private onDirectTimeout(probe: Probe, due: number): void {
    if (!this.probes.has(probe.id)) return;
    const m = this.members.get(probe.target);
    if (!m || !this.running || this.leaving) return this.endProbe(probe);
    // Fired far too late: this process was starved, which says more about us than about the target.
    if (this.clock.now() - due > this.timing.probeTimeoutMs) this.adjustHealth(+1);
    const helpers: Member[] = [];
    for (const n of this.randomLive(this.timing.indirectProbes + 2, m.name)) {
      const h = this.members.get(n);
      if (h && h.state === 'alive' && helpers.length < this.timing.indirectProbes) helpers.push(h);
    }
    for (const h of helpers) this.send(h, { type: 'pingReq', probeId: probe.id, target: m.name });
    probe.helpers = helpers.length;
    this.send(m, { type: 'ping', probeId: probe.id });
    const wait = this.timing.indirectTimeoutMs * this.scale();
    probe.timer = this.after(() => this.later(() => this.onIndirectTimeout(probe)), wait);
  }

  private onIndirectTimeout(probe: Probe): void {
    if (!this.probes.has(probe.id)) return;
    this.endProbe(probe);
    const m = this.members.get(probe.target);
    if (!m || !this.running || this.leaving) return;
    this.metrics.probeFailures.inc();
    // Lifeguard: helpers that answered neither ack nor nack point at our own network or CPU.
    if (probe.nacks < probe.helpers) this.adjustHealth(+1);
    if (m.state === 'alive') {
      this.log.debug({ member: m.name }, 'probe failed; suspecting');
      this.suspect(m, m.incarnation, this.name);
    } else if (m.state === 'suspect' && m.suspicion && !m.suspicion.confirmers.has(this.name)) {
      const others = [...m.suspicion.confirmers];
      this.confirm(m, this.name);
      this.spread({ name: m.name, state: 'suspect', incarnation: m.incarnation, from: this.name });
      // The members already suspecting it count confirmations: tell them now, the rest by gossip.
      this.tell(others);
    }
  }

  private endProbe(probe: Probe): void {
    this.clock.clearTimeout(probe.timer);
    this.probes.delete(probe.id);
    this.probing.delete(probe.target);
  }

  private adjustHealth(delta: number): void {
    this.health = Math.max(0, Math.min(this.timing.maxLocalHealth, this.health + delta));
  }

  // ---- state changes -------------------------------------------------------------------------

  private suspect(m: Member, incarnation: number, from: string): void {
    const wasUp = m.state === 'alive' || m.state === 'suspect';
    this.clearSuspicion(m);
    m.state = 'suspect';
    m.incarnation = incarnation;
    m.suspicion = { start: this.clock.now(), confirmers: new Set([from]), lastChance: 0, chances: 0 };
    this.armSuspicion(m);
    this.metrics.suspicions.inc();
    this.spread({ name: m.name, state: 'suspect', incarnation, from });
    if (!wasUp) this.markUp(m.name, true);
    if (from === this.name) {
      // Tell the suspect (so it refutes) and its k ring successors (so they check it and confirm)
      // right away; everyone else hears through gossip.
      this.tell([m.name, ...this.ringSuccessors(m.name, this.timing.indirectProbes)]);
    } else if (this.isChecker(m.name, from) && !this.probing.has(m.name) && this.running && !this.leaving) {
      // One of the suspect's ring successors: check it now, to confirm or to help the refutation.
      this.startProbe(m);
    }
    if (!wasUp) this.emitUp(m);
    this.emitChange();
  }

  /** Counts an independent confirmation of a suspicion and shortens its timeout. */
  private confirm(m: Member, from: string): boolean {
    const s = m.suspicion;
    if (!s || s.confirmers.has(from)) return false;
    s.confirmers.add(from);
    this.armSuspicion(m);
    return true;
  }

  private suspicionTimeout(confirmations: number): number {
    const { suspicionMinMs: min, suspicionMaxMs: max, indirectProbes } = this.timing;
    const live = this.live.length;
    const k = Math.min(indirectProbes, live - 2);
    // Two-member clusters have nobody to confirm: a middle value keeps detection near 1 s.
    if (k < 1) return Math.min(max, 2 * min);
    const frac = Math.log(Math.min(confirmations, k) + 1) / Math.log(k + 1);
    return Math.max(min, max - (max - min) * frac);
  }

  private armSuspicion(m: Member): void {
    const s = m.suspicion;
    if (!s) return;
    this.clock.clearTimeout(s.timer);
    const deadline = s.start + this.suspicionTimeout(s.confirmers.size - 1);
    s.timer = this.after(() => this.later(() => this.onSuspicionTimeout(m, s)), Math.max(0, Math.ceil(deadline - this.clock.now())));
  }

  private onSuspicionTimeout(m: Member, s: Suspicion): void {
    if (m.suspicion !== s || m.state !== 'suspect' || !this.running) return;
    // Heard from it first-hand since the suspicion began: wait out the unconfirmed timeout, no longer.
    const full = s.start + this.timing.suspicionMaxMs;
    if (m.lastHeard > s.start && this.clock.now() < full) {
      s.timer = this.after(() => this.later(() => this.onSuspicionTimeout(m, s)), Math.ceil(full - this.clock.now()));
      return;
    }
    // Nobody confirmed the one accusation we heard (through gossip): before failing it over on
    // that alone, probe it ourselves. Its refutation may not have reached us (at a cold start most
    // gossip partners cannot verify each other yet), and our ping carries the suspicion, so a live
    // suspect that had not heard of it refutes now. A failed probe confirms it and ends this at once.
    const unconfirmed = s.confirmers.size === 1 && !s.confirmers.has(this.name);
    const answered = s.lastChance > 0 && m.lastAck > s.lastChance;
    if (unconfirmed && !this.leaving && (s.lastChance === 0 || (answered && s.chances < 3))) {
      s.lastChance = this.clock.now();
      s.chances++;
      if (!this.probing.has(m.name)) this.startProbe(m);
      const wait = (this.timing.probeTimeoutMs + this.timing.indirectTimeoutMs) * this.scale() + this.timing.probeTimeoutMs;
      s.timer = this.after(() => this.later(() => this.onSuspicionTimeout(m, s)), Math.ceil(wait));
      return;
    }
    this.declareDown(m, m.incarnation, 'dead');
    // Our own verdict (not relayed): the members that act on it hear it directly, the rest by gossip.
    if (!this.leaving) for (const d of this.directSet(m.name, 0)) this.send(d, { type: 'gossip' });
  }

  private clearSuspicion(m: Member): void {
    if (m.suspicion) this.clock.clearTimeout(m.suspicion.timer);
    m.suspicion = undefined;
  }

  private declareDown(m: Member, incarnation: number, state: 'dead' | 'left'): void {
    const wasUp = m.state === 'alive' || m.state === 'suspect';
    this.clearSuspicion(m);
    m.state = state;
    m.incarnation = incarnation;
    // Relayed as "dead": only the member itself may say "left" (receivers do not believe a relayed
    // one, see applyUpdate), while a relayed death is checked against what the receiver heard.
    this.spread({ name: m.name, state: 'dead', incarnation });
    if (wasUp) {
      this.markUp(m.name, false);
      if (state === 'dead' && m.lastHeard > 0) this.metrics.detection.observe((this.clock.now() - m.lastHeard) / 1000);
      this.log.info({ member: m.name, state, silentMs: m.lastHeard ? this.clock.now() - m.lastHeard : undefined }, 'member down');
      this.emit('memberDown', m.name, state);
      this.emitChange();
    }
  }

  private setAlive(m: Member, incarnation: number): void {
    const wasUp = m.state === 'alive' || m.state === 'suspect';
    this.clearSuspicion(m);
    m.state = 'alive';
    m.incarnation = incarnation;
    this.spread({ name: m.name, state: 'alive', incarnation });
    if (!wasUp) {
      this.markUp(m.name, true);
      this.log.info({ member: m.name, incarnation }, 'member up');
      this.emitUp(m);
    }
    this.emitChange();
  }

  private emitUp(m: Member): void {
    this.emit('memberUp', m.name);
  }

  private emitChange(): void {
    if (!this.liveChanged) return;
    this.liveChanged = false;
    if (this.listenerCount('change') > 0) this.emit('change', this.alive());
  }

  private refute(claimed: number, accusers: readonly string[], claim: 'suspect' | 'dead' | 'left'): void {
    this.incarnation = Math.max(this.incarnation, claimed) + 1;
    this.metrics.refutations.inc();
    // Being suspected means our acks are not getting through in time: slow our own probing down.
    this.adjustHealth(+1);
    this.log.info({ incarnation: this.incarnation, claim }, 'refuting a suspicion about this node');
    this.spread({ name: this.name, state: 'alive', incarnation: this.incarnation });
    // The accusers first (their suspicion timers run), everyone else through gossip.
    this.tell(accusers);
  }

  /** First-hand evidence: an authenticated, fresh message from the member itself. */
  private observeAlive(m: Member, incarnation: number): void {
    m.lastHeard = this.clock.now();
    if (m.state === 'unknown' || incarnation > m.incarnation) this.setAlive(m, incarnation);
  }

  private applyUpdate(u: Update, via: string): void {
    if (u.name === this.name) {
      if (u.state === 'dead' && !this.leaving) this.emit('declaredDead', u.from ?? via);
      if (!this.leaving && u.state !== 'alive' && u.incarnation >= this.incarnation) this.refute(u.incarnation, u.from && u.from !== via ? [via, u.from] : [via], u.state);
      return;
    }
    const m = this.members.get(u.name);
    if (!m) return;
    const up = m.state === 'alive' || m.state === 'suspect';
    switch (u.state) {
      case 'alive':
        if (m.state === 'unknown' || u.incarnation > m.incarnation) this.setAlive(m, u.incarnation);
        return;
      case 'suspect': {
        if (m.state === 'unknown') return; // not seen yet: our own probes will tell
        if ((m.state === 'alive' && u.incarnation >= m.incarnation) || u.incarnation > m.incarnation) {
          this.suspect(m, u.incarnation, u.from ?? via);
        } else if (m.state === 'suspect' && u.incarnation === m.incarnation) {
          if (this.confirm(m, u.from ?? via)) this.spread({ ...u, from: u.from ?? via });
        }
        return;
      }
      case 'dead':
      case 'left': {
        // Only the member itself can say it left: a relayed or forged "left" would take it out with
        // no suspicion for it to refute.
        if (u.state === 'left' && via !== u.name) return;
        const newer = up ? u.incarnation >= m.incarnation : u.incarnation > m.incarnation || m.state === 'unknown';
        if (!newer) return;
        const recent = m.lastHeard > 0 && this.clock.now() - m.lastHeard < this.timing.suspicionMinMs;
        if (u.state === 'dead' && up && recent) {
          // We heard from it moments ago: treat the claim as a suspicion, which it can refute,
          // rather than failing over on someone else's stale view (e.g. a node healing from a cut).
          if (m.state === 'alive' || u.incarnation > m.incarnation) this.suspect(m, u.incarnation, via);
          else this.confirm(m, via);
          return;
        }
        this.declareDown(m, u.incarnation, u.state);
        return;
      }
    }
  }

  // ---- receiving -----------------------------------------------------------------------------

  private reject(reason: RejectReason, d: Datagram, detail?: string): void {
    this.metrics.rejected.inc({ reason });
    // Checked first: under a flood the log call's arguments alone would cost more than the drop.
    if (this.log.isLevelEnabled('debug')) this.log.debug({ reason, from: `${d.address}:${d.port}`, detail }, 'message rejected');
  }

  private onDatagram(d: Datagram): void {
    this.metrics.received.inc();
    if (!this.running || this.leaving) return;
    try {
      this.receive(d);
    } catch (err) {
      // A bug reached by some input: drop this datagram, keep the member running.
      this.metrics.rejected.inc({ reason: 'error' });
      this.log.error({ err: err instanceof Error ? err.stack : String(err), from: `${d.address}:${d.port}` }, 'membership: error while handling a datagram (a bug; please report it); dropped it');
    }
  }

  /** Highest incarnation or epoch believable now (see INCARNATION_HEADROOM_MS). */
  private ceiling(): number {
    return this.clock.now() + this.maxSkewMs + INCARNATION_HEADROOM_MS;
  }

  private receive(d: Datagram): void {
    // Cheap checks first, so junk costs no HMAC (one per accepted key).
    const peek = peekMessage(d.data, MAC_BYTES, MAX_PACKET);
    if (!peek.ok) return this.reject(peek.reason, d);
    if (peek.to !== this.name) return this.reject('misdirected', d, peek.to);
    const sender = this.members.get(peek.from);
    if (!sender) return this.reject('unknown-sender', d, peek.from);
    const opened = openAny(this.keys, d.data);
    if (!opened) return this.reject('auth', d);
    this.metrics.authenticated.inc({ key: opened.keyIndex === 0 ? 'signing' : 'other' });
    let msg: Message;
    try {
      msg = decodeMessage(opened.body);
    } catch (err) {
      return this.reject('malformed', d, err instanceof DecodeError ? err.message : String(err));
    }
    const ceiling = this.ceiling();
    if (msg.incarnation > ceiling || msg.updates.some((u) => u.incarnation > ceiling)) return this.reject('out-of-range', d, msg.from);
    const verdict = this.replay.check(msg.from, msg.epoch, msg.seq, msg.timestamp, this.clock.now());
    if (verdict !== 'ok') return this.reject(verdict, d, msg.from);
    if (msg.toEpoch !== undefined && msg.toEpoch !== this.epoch) return this.unverified(sender, msg);
    sender.wire = msg.toEpoch === undefined ? 1 : 2;
    sender.epoch = msg.epoch;
    this.observeAlive(sender, msg.incarnation);
    for (const u of msg.updates) this.applyUpdate(u, msg.from);
    this.handleBody(sender, msg.body);
  }

  /**
   * A message that does not name this process's epoch: the sender has not heard from this process
   * yet (first contact after either restarted), or it is a capture from before this process started.
   * Nothing in it is believed or remembered: a ping is answered and the sender is pinged, both
   * naming the epoch the message claims (they tell the sender ours), so a live sender is verified
   * within one round trip and a forged or replayed one changes nothing here.
   */
  private unverified(sender: Member, msg: Message): void {
    this.metrics.unverified.inc();
    const ping = msg.body.type === 'ping';
    if (msg.body.type === 'ping') this.send(sender, { type: 'ack', probeId: msg.body.probeId, subject: this.name }, msg.epoch);
    // An indirect probe request is served too: it only makes us ping a member and answer naming the
    // requester's epoch, so a replayed one changes nothing here, while refusing it would fail the
    // indirect probes of every member that has not heard from us yet (most of them at a cold start
    // of a large cluster) and turn lost direct pings into suspicions.
    if (msg.body.type === 'pingReq' && !this.leaving) this.relay(sender, msg.body, msg.epoch);
    // A ping or an indirect probe request from a member live here only lacks our epoch, which the
    // answer carries; no hello needed (at a cold start, most first probes are of members known only
    // through gossip).
    const answered = ping || msg.body.type === 'pingReq';
    if (answered && (sender.epoch === msg.epoch || sender.state === 'alive' || sender.state === 'suspect')) return;
    const now = this.clock.now();
    if (now - sender.lastHello >= this.timing.probeTimeoutMs && !this.leaving) {
      sender.lastHello = now;
      this.send(sender, { type: 'ping', probeId: this.newProbeId() }, msg.epoch);
    }
  }

  /** Pings `target` for `sender` (an indirect probe); the answer goes back naming `originEpoch`. */
  private relay(sender: Member, b: { probeId: number; target: string }, originEpoch: number): void {
    const target = this.members.get(b.target);
    if (!target || target.name === sender.name) return;
    const id = this.newProbeId();
    // Nack before the requester gives up (Lifeguard: 80% of its wait), so it learns we are fine.
    const timer = this.after(() => {
      if (!this.relays.delete(id)) return;
      this.send(sender, { type: 'nack', probeId: b.probeId, subject: b.target }, originEpoch);
    }, this.timing.indirectTimeoutMs * 0.8);
    this.relays.set(id, { origin: sender.name, originEpoch, originProbeId: b.probeId, target: b.target, timer });
    this.send(target, { type: 'ping', probeId: id });
  }

  private handleBody(sender: Member, b: Body): void {
    switch (b.type) {
      case 'ping':
        this.send(sender, { type: 'ack', probeId: b.probeId, subject: this.name });
        return;
      case 'ack': {
        const relay = this.relays.get(b.probeId);
        if (relay && relay.target === b.subject) {
          this.clock.clearTimeout(relay.timer);
          this.relays.delete(b.probeId);
          const origin = this.members.get(relay.origin);
          if (origin) this.send(origin, { type: 'ack', probeId: relay.originProbeId, subject: relay.target }, relay.originEpoch);
          return;
        }
        const probe = this.probes.get(b.probeId);
        if (probe && probe.target === b.subject) {
          this.endProbe(probe);
          this.adjustHealth(-1);
          const t = this.members.get(probe.target);
          if (t) t.lastAck = this.clock.now();
        }
        return;
      }
      case 'nack': {
        const probe = this.probes.get(b.probeId);
        if (probe && probe.target === b.subject) probe.nacks++;
        return;
      }
      case 'pingReq':
        this.relay(sender, b, sender.epoch);
        return;
      case 'gossip':
        return;
    }
  }

  // ---- sending -------------------------------------------------------------------------------

  /** Queues an update for gossip and makes sure gossip rounds run. */
  private spread(u: Update): void {
    this.gossip.enqueue(u);
    this.kickGossip();
  }

  /** Sends a gossip message (carrying the newest updates) directly to a few named members now. */
  private tell(names: Iterable<string>): void {
    if (!this.running || this.leaving) return;
    let n = 0;
    for (const name of names) {
      if (n++ >= MAX_DIRECT) break;
      const m = this.members.get(name);
      if (m && m.state !== 'left') this.send(m, { type: 'gossip' });
    }
  }

  /** Sends to a member; `toEpoch` overrides the epoch we know for it (answers to unverified messages). */
  private send(m: Member, body: Body, toEpoch?: number): void {
    // Updates about the receiver itself go first: if we think it suspect or dead, it must learn
    // that to refute (this is how a healed node and its peers find each other again).
    const first: Update[] = [];
    if (m.state === 'suspect' || m.state === 'dead' || m.state === 'left') first.push({ name: m.name, state: m.state, incarnation: m.incarnation });
    this.sendRaw(m, body, first, toEpoch);
  }

  private sendRaw(m: Member, body: Body, first: Update[], toEpochOverride?: number): void {
    // A member that spoke version 1 (previous release) gets version 1, which has no toEpoch.
    const toEpoch = toEpochOverride ?? (m.wire === 1 ? undefined : m.epoch);
    const base = encodedBaseSize({ from: this.name, to: m.name, toEpoch }, body);
    let budget = MAX_PACKET - MAC_BYTES - base;
    for (const u of first) budget -= encodedUpdateSize(u);
    const limit = this.timing.retransmitMult * Math.ceil(Math.log10(this.members.size + 2));
    const updates = [...first, ...this.gossip.take(Math.max(0, budget), limit, first.length ? m.name : undefined, 255 - first.length)];
    const msg: Message = {
      from: this.name,
      to: m.name,
      epoch: this.epoch,
      ...(toEpoch === undefined ? {} : { toEpoch }),
      seq: ++this.seq,
      timestamp: Math.floor(this.clock.now()),
      incarnation: this.incarnation,
      body,
      updates,
    };
    this.transport.send(seal(this.keys[0]!, encodeMessage(msg)), m.address, m.port);
    this.metrics.sent.inc();
  }

  private countStates(): Record<string, number> {
    const c: Record<string, number> = { alive: 1, suspect: 0, dead: 0, left: 0, unknown: 0 };
    for (const m of this.members.values()) c[m.state] = (c[m.state] ?? 0) + 1;
    return c;
  }
}
