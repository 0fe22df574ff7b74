// One interface's responder: raw sockets for ARP and ICMPv6, answering for exactly the addresses
// the announcer put in `v4`/`v6`. The answers themselves come from the native addon's responder
// thread (ResponderSocket: decode, table lookup, RFC checks and one send per request, never
// waking JavaScript); this class installs and removes the addresses there, keeps the kernel
// filters, the solicited-node memberships and MLD, sends the gratuitous messages, and turns the
// native counters into metrics. Nothing is queued, so a flood costs CPU but never memory or staleness.
import { ETH_P_ARP, ETH_P_IPV6, RESPONDER_DROP_REASONS, RESPONDER_IGNORE_REASONS, ResponderSocket, type BpfInsn, type NativeError, type PacketStats, type ResponderStats } from '../native/index.ts';
import { type Logger } from '../util/log.ts';
import { gratuitousArp, ipv4ToBytes } from './arp.ts';
import { parseMac } from './ethernet.ts';
import { GroupMembership } from './mld.ts';
import { ipv6ToBytes, multicastMac, solicitedNode, unsolicitedNa } from './ndp.ts';
import type { Layer2Metrics } from './metrics.ts';

// Kernel-side filters (classic BPF) so only requests for our own addresses wake us up: a flood
// of requests for other addresses is dropped in the kernel and cannot fill the socket buffer
// ahead of the requests we must answer. Above MAX_FILTERED addresses (jump offsets are 8-bit) the
// filter passes every ARP request / Neighbor Solicitation and the lookup happens in JavaScript.
const MAX_FILTERED = 200;
const RET_ALL: BpfInsn = { code: 0x06, jt: 0, jf: 0, k: 0x40000 };
const RET_NONE: BpfInsn = { code: 0x06, jt: 0, jf: 0, k: 0 };
const ldh = (k: number): BpfInsn => ({ code: 0x28, jt: 0, jf: 0, k });
const ldb = (k: number): BpfInsn => ({ code: 0x30, jt: 0, jf: 0, k });
const ldw = (k: number): BpfInsn => ({ code: 0x20, jt: 0, jf: 0, k });
const jeq = (k: number, jt: number, jf: number): BpfInsn => ({ code: 0x15, jt, jf, k });

/** Accepts when the 32-bit word at `offset` is one of `words`, after the `pre` checks. */
export function matchWords(pre: Array<{ load: BpfInsn; value: number }>, offset: number, words: number[]): BpfInsn[] {
  if (words.length === 0) return [RET_NONE];
  const P = pre.length;
  const prog: BpfInsn[] = [];
  if (words.length > MAX_FILTERED) {
    // checks, then RET_ALL at 2P, RET_NONE at 2P + 1
    pre.forEach((p, i) => prog.push(p.load, jeq(p.value, 0, 2 * P - 2 * i - 1)));
    prog.push(RET_ALL, RET_NONE);
    return prog;
  }
  const n = words.length;
  const drop = 2 * P + 1 + n; // RET_NONE; RET_ALL follows it
  pre.forEach((p, i) => prog.push(p.load, jeq(p.value, 0, drop - 2 * i - 2)));
  prog.push(ldw(offset));
  words.forEach((w, k) => prog.push(jeq(w >>> 0, n - k, 0)));
  prog.push(RET_NONE, RET_ALL);
  return prog;
}

/** ARP requests (op at byte 20) whose target IPv4 (byte 38) is one of ours. */
export function arpFilter(v4: Iterable<string>): BpfInsn[] {
  const words = [...new Set([...v4].map((ip) => ipv4ToBytes(ip).readUInt32BE(0)))];
  return matchWords([{ load: ldh(20), value: 1 }], 38, words);
}

/**
 * ICMPv6 (next header 58 at byte 20) NS (type 135 at byte 54) whose target's low 32 bits (byte 74)
 * match one of ours. Frames with a Hop-by-Hop or Destination Options header first (next header 0
 * or 60) pass whole: the ICMPv6 header is not at a fixed offset then, and the codec walks the
 * chain (such solicitations are rare; the kernel answers them, and so must we).
 */
export function nsFilter(v6: Iterable<string>): BpfInsn[] {
  const words = [...new Set([...v6].map((ip) => ipv6ToBytes(ip).readUInt32BE(12)))];
  if (words.length === 0) return [RET_NONE];
  return [
    ldb(20),
    jeq(0, 1, 0), // Hop-by-Hop: accept
    jeq(60, 0, 1), // Destination Options: accept
    RET_ALL,
    ...matchWords([{ load: ldb(20), value: 58 }, { load: ldb(54), value: 135 }], 74, words),
  ];
}

/** Receive buffer of each packet socket by default: room for bursts (see receiveBufferBytes). */
export const DEFAULT_RECEIVE_BUFFER = 4 * 1024 * 1024;

/** The answering threads' default SCHED_FIFO priority (below the owner watch's heartbeat thread, 10). */
export const DEFAULT_REALTIME_PRIORITY = 5;

export interface ResponderOptions {
  /** SO_RCVBUF(FORCE) of each packet socket, bytes. */
  receiveBufferBytes?: number;
  /**
   * SCHED_FIFO priority of the answering threads (1..99; 0: normal priority). Applied when the
   * process may (CAP_SYS_NICE), below the owner watch's heartbeat thread (10).
   */
  realtimePriority?: number;
  /** A socket reported an error (e.g. ENETDOWN on a link flap): the owner should reopen. */
  onSocketError?: (protocol: 'arp' | 'ndp', err: NativeError) => void;
}

export class InterfaceResponder {
  readonly name: string;
  readonly index: number;
  readonly mac: Buffer;
  /** Addresses answered on this interface (normalised text). Mutated by the announcer. */
  readonly v4 = new Set<string>();
  readonly v6 = new Set<string>();
  private arp: ResponderSocket | null = null;
  private ip6: ResponderSocket | null = null;
  private mld: GroupMembership | null = null;
  private readonly groups = new Map<string, number>();
  private readonly metrics: Layer2Metrics;
  private readonly log: Logger;
  private readonly opts: ResponderOptions;
  /** Kernel and responder counters already added to the metrics, per socket. */
  private readonly seen = new Map<ResponderSocket, { kernel: PacketStats; responder: ResponderStats }>();

  constructor(name: string, index: number, mac: string, metrics: Layer2Metrics, log: Logger, opts: ResponderOptions = {}) {
    this.name = name;
    this.index = index;
    this.mac = parseMac(mac);
    this.metrics = metrics;
    this.log = log.child({ interface: name });
    this.opts = opts;
  }

  /** Opens the sockets ahead of need, so acquiring an address costs only the sends. Idempotent. */
  open(): void {
    if (!this.arp) {
      const s = new ResponderSocket(this.index, ETH_P_ARP, (err) => this.onSocketError('arp', s, err), this.opts.realtimePriority ?? DEFAULT_REALTIME_PRIORITY);
      this.arp = s;
      this.sizeBuffer(s, 'arp');
      for (const ip of this.v4) s.answer(ipv4ToBytes(ip), this.mac);
      s.setFilter(arpFilter(this.v4));
    }
    if (!this.ip6) {
      const s = new ResponderSocket(this.index, ETH_P_IPV6, (err) => this.onSocketError('ndp', s, err), this.opts.realtimePriority ?? DEFAULT_REALTIME_PRIORITY);
      this.ip6 = s;
      this.sizeBuffer(s, 'ndp');
      for (const ip of this.v6) s.answer(ipv6ToBytes(ip), this.mac);
      s.setFilter(nsFilter(this.v6));
      this.mld = new GroupMembership(this.name);
    }
  }

  /**
   * Adds what the kernel (frames received, dropped for a full buffer) and the native responder
   * (requests, replies, send errors, drops and ignored frames by reason) counted since the last call to the metrics.
   */
  collectStats(): void {
    for (const [s, protocol] of [[this.arp, 'arp'], [this.ip6, 'ndp']] as const) {
      if (!s || s.closed) continue;
      const kernel = s.stats();
      const responder = s.responderStats();
      const before = this.seen.get(s);
      const labels = { interface: this.name, protocol };
      const add = (c: Layer2Metrics['requests'], now: number, was = 0): void => {
        if (now > was) c.inc(labels, now - was);
      };
      add(this.metrics.receiveDrops, kernel.drops, before?.kernel.drops);
      add(this.metrics.receivedFrames, kernel.packets, before?.kernel.packets);
      add(this.metrics.requests, responder.requests, before?.responder.requests);
      add(this.metrics.replies, responder.replies, before?.responder.replies);
      add(this.metrics.sendErrors, responder.sendErrors, before?.responder.sendErrors);
      for (const reason of RESPONDER_DROP_REASONS) {
        const n = responder.dropped[reason] - (before?.responder.dropped[reason] ?? 0);
        if (n > 0) this.metrics.dropped.inc({ ...labels, reason }, n);
      }
      for (const reason of RESPONDER_IGNORE_REASONS) {
        const n = responder.ignored[reason] - (before?.responder.ignored[reason] ?? 0);
        if (n > 0) this.metrics.ignored.inc({ ...labels, reason }, n);
      }
      this.metrics.receiveBuffer.set(labels, kernel.receiveBuffer);
      this.metrics.responderRealtime.set(labels, responder.scheduling === 'realtime' ? 1 : 0);
      add(this.metrics.responderDemotions, responder.realtimeDemotions, before?.responder.realtimeDemotions);
      this.seen.set(s, { kernel, responder });
    }
  }

  private sizeBuffer(s: ResponderSocket, protocol: 'arp' | 'ndp'): void {
    const want = this.opts.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER;
    try {
      const got = s.setReceiveBuffer(want);
      this.metrics.receiveBuffer.set({ interface: this.name, protocol }, got);
      // The kernel reports twice what it was granted (bookkeeping); less means rmem_max capped it.
      if (got < 2 * want) this.log.warn({ protocol, requested: want, effective: got }, 'packet socket receive buffer smaller than asked (no CAP_NET_ADMIN for SO_RCVBUFFORCE and net.core.rmem_max is lower): bursts of requests may be dropped; raise net.core.rmem_max');
    } catch (err) {
      this.log.warn({ err, protocol, requested: want }, 'could not size the packet socket receive buffer; bursts of requests may be dropped');
    }
  }

  private onSocketError(protocol: 'arp' | 'ndp', s: ResponderSocket, err: NativeError): void {
    if (s.closed) return;
    this.metrics.socketErrors.inc({ interface: this.name, protocol });
    this.log.warn({ protocol, code: err.code, err: err.message }, 'packet socket error; reopening the interface\'s sockets and announcing again');
    this.opts.onSocketError?.(protocol, err);
  }

  addV4(ip: string): void {
    this.open();
    if (this.v4.has(ip)) return;
    this.v4.add(ip);
    this.arp?.answer(ipv4ToBytes(ip), this.mac);
    this.arp?.setFilter(arpFilter(this.v4));
  }

  /** Stops answering for `ip` on this interface: no answer leaves after this returns. */
  removeV4(ip: string): void {
    if (!this.v4.delete(ip)) return;
    this.arp?.forget(ipv4ToBytes(ip));
    this.arp?.setFilter(arpFilter(this.v4));
  }

  addV6(ip: string): void {
    this.open();
    if (this.v6.has(ip) || !this.ip6) return;
    this.v6.add(ip);
    this.ip6.answer(ipv6ToBytes(ip), this.mac);
    this.ip6.setFilter(nsFilter(this.v6));
    const g = solicitedNode(ip);
    const n = this.groups.get(g) ?? 0;
    this.groups.set(g, n + 1);
    if (n === 0) {
      try {
        this.ip6.addMembership(multicastMac(g));
      } catch (err) {
        this.log.warn({ err, group: g }, 'could not add the solicited-node MAC to the packet socket');
      }
      this.mld?.join(g);
    }
  }

  /** Stops answering for `ip` on this interface (as removeV4), then leaves its group if no other address needs it. */
  removeV6(ip: string): void {
    if (!this.v6.delete(ip)) return;
    this.ip6?.forget(ipv6ToBytes(ip));
    try {
      this.ip6?.setFilter(nsFilter(this.v6));
    } catch (err) {
      this.log.warn({ err }, 'could not update the NS filter');
    }
    const g = solicitedNode(ip);
    const n = this.groups.get(g) ?? 0;
    if (n > 1) {
      this.groups.set(g, n - 1);
      return;
    }
    this.groups.delete(g);
    this.mld?.leave(g);
    try {
      this.ip6?.dropMembership(multicastMac(g));
    } catch {
      /* socket already gone */
    }
  }

  /** Gratuitous ARP (request and reply) or an unsolicited NA for one address. */
  announce(ip: string, family: 4 | 6): void {
    if (family === 4) {
      for (const f of gratuitousArp(this.mac, ip)) this.send(this.arp, f, 'arp', this.metrics.gratuitous);
    } else {
      this.send(this.ip6, unsolicitedNa(this.mac, ip), 'ndp', this.metrics.gratuitous);
    }
  }

  close(): void {
    try {
      this.collectStats();
    } catch {
      /* counters of a socket already gone */
    }
    this.seen.clear();
    this.arp?.close();
    this.ip6?.close();
    this.mld?.close();
    this.arp = this.ip6 = null;
    this.mld = null;
    this.v4.clear();
    this.v6.clear();
    this.groups.clear();
  }

  /** Sends one frame; true when the kernel took it. `counter` (if any) counts it at once. */
  private send(sock: ResponderSocket | null, frame: Buffer, protocol: 'arp' | 'ndp', counter: Layer2Metrics['replies'] | null): boolean {
    if (!sock || sock.closed) return false;
    try {
      sock.send(frame);
      counter?.inc({ interface: this.name, protocol });
      return true;
    } catch (err) {
      this.metrics.sendErrors.inc({ interface: this.name, protocol });
      this.log.warn({ err, protocol }, 'sending a frame failed');
      return false;
    }
  }
}
