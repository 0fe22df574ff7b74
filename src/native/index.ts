// The TypeScript face of ironlb's native addon (src/native/*.c): AF_PACKET sockets,
// interface facts, and TCP/UDP sockets with options Node cannot set (TCP MD5, TTL, min TTL,
// SO_BINDTODEVICE, received TTL). Errors are NativeError: `errno`, `code` and the failing call.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** An error from the addon: `code` like "EPERM", `errno` the positive errno, `syscall` the call. */
export interface NativeError extends Error {
  errno: number;
  code: string;
  syscall: string;
}

export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as Partial<NativeError>).errno === 'number' && typeof (e as Partial<NativeError>).code === 'string';
}

declare const handleBrand: unique symbol;
/** Opaque native handle (a napi external). */
type Handle = { readonly [handleBrand]: true };

interface RawSockOpts {
  family: 4 | 6;
  address?: string;
  port?: number;
  localAddress?: string;
  localPort?: number;
  ttl?: number;
  minTtl?: number;
  device?: string;
  md5?: { peer: string; key: Buffer };
  backlog?: number;
  reuseAddr?: boolean;
}

interface RawLink {
  index: number;
  name: string;
  flags: number;
  type: number;
  mac: string;
  mtu?: number;
  master: number;
  operState?: number;
  kind: string;
  slaveKind: string;
}

interface Addon extends WatchAddon {
  close(h: Handle): void;
  setRef(h: Handle, ref: boolean): void;
  handleFd(h: Handle): number;
  socketRef(fd: number): Handle;
  packetOpen(ifindex: number, ethertype: number, onFrame: (frame: Buffer, pktType: number) => void, onError: (err: NativeError) => void): Handle;
  packetSend(h: Handle, frame: Buffer): number;
  packetMembership(h: Handle, ifindex: number, mac: Buffer, add: boolean): void;
  packetSetFilter(h: Handle, program: Buffer): void;
  packetSetReceiveBuffer(h: Handle, bytes: number): number;
  packetStats(h: Handle): PacketStats;
  packetResponderOpen(ifindex: number, ethertype: number, onError: (err: NativeError) => void, realtimePriority?: number): Handle;
  packetAnswer(h: Handle, address: Buffer, mac: Buffer | null): boolean;
  packetResponderStats(h: Handle): ResponderStats;
  answerFrame(ethertype: number, frame: Buffer, pktType: number, address: Buffer | null, mac: Buffer | null): FrameVerdict;
  packetProbe(h: Handle, frame: Buffer, offset: number, pattern: Buffer, mask: Buffer, count: number, intervalMs: number, timeoutMs: number): Float64Array;
  interfaces(): RawLink[];
  parseLinkMessages(bytes: Buffer): RawLink[];
  linkWatch(onChange: (down: number[], overflow: boolean) => void): Handle;
  setTcpMd5(s: Handle, peer: string, key: Buffer | null): void;
  setTtl(s: Handle, ttl: number): void;
  setMinTtl(s: Handle, ttl: number): void;
  getTtl(s: Handle, min: boolean): number;
  setBindDevice(s: Handle, device: string): void;
  localAddress(s: Handle): { family: 4 | 6; address: string; port: number };
  tcpConnect(opts: RawSockOpts, cb: (err: NativeError | null, ref?: Handle) => void): Handle;
  tcpListen(opts: RawSockOpts): Handle;
  udpOpen(opts: RawSockOpts, onMessage: (payload: Buffer, address: string, port: number, ttl: number) => void): Handle;
  udpSend(h: Handle, payload: Buffer, address: string, port: number): number;
  setThreadRealtime(priority: number): void;
  threadScheduling(): ThreadScheduling;
}

/** Kernel counters of a packet socket since it opened (PACKET_STATISTICS, accumulated). */
export interface PacketStats {
  /** Frames that passed the filter, including dropped ones. */
  packets: number;
  /** Frames the kernel dropped because the receive buffer was full. */
  drops: number;
  /** SO_RCVBUF in effect, bytes (the kernel's doubled figure). */
  receiveBuffer: number;
}

/** Why the native responder dropped a frame unanswered (RFC 826/5227/4861; "malformed": failed decoding or validity checks). */
export const RESPONDER_DROP_REASONS = ['malformed', 'sender-multicast', 'sender-broadcast', 'sender-mac-group', 'source-multicast', 'dad-not-solicited-node', 'destination-not-target'] as const;
export type ResponderDropReason = (typeof RESPONDER_DROP_REASONS)[number];
/**
 * Why the native responder left a frame unanswered without a rule refusing it: it asked nothing of
 * this socket ("not-request": an ARP reply, another ICMPv6 message; "other-host": addressed to
 * another host; "not-announced": another address; "gratuitous": someone's gratuitous ARP;
 * "own-frame": our own transmission looped back).
 */
export const RESPONDER_IGNORE_REASONS = ['not-request', 'other-host', 'not-announced', 'gratuitous', 'own-frame'] as const;
export type ResponderIgnoreReason = (typeof RESPONDER_IGNORE_REASONS)[number];

/** Counters of a responder socket since it opened (its thread counts; read any time). */
export interface ResponderStats {
  /** Addresses in its table now. */
  addresses: number;
  /** Frames read from the socket, whatever they were (our own transmissions included). */
  frames: number;
  /** Well-formed ARP requests / Neighbor Solicitations that passed the filter. */
  requests: number;
  /** Answers the kernel took. */
  replies: number;
  /** Answers the kernel refused (the send failed). */
  sendErrors: number;
  dropped: Record<ResponderDropReason, number>;
  ignored: Record<ResponderIgnoreReason, number>;
  /**
   * How its thread runs: "realtime" (SCHED_FIFO at the priority asked for), "demoted" (back at
   * normal priority for a second after a flood of frames), "inherited" (the process's scheduling:
   * no priority asked for, or refused without CAP_SYS_NICE).
   */
  scheduling: 'realtime' | 'demoted' | 'inherited';
  /** Times a flood (over 20,000 frames/s) sent the real-time thread back to normal priority. */
  realtimeDemotions: number;
}

/** The responder's verdict on one frame (answerFrame, for tests and fuzzing). */
export interface FrameVerdict {
  action: 'answer' | 'drop' | 'ignore';
  /** A well-formed request (counted in `requests`). */
  request: boolean;
  /** Why it was not answered: a drop reason, or an ignore reason ('own-frame' never: that is told before). */
  reason?: ResponderDropReason | ResponderIgnoreReason;
  reply?: Buffer;
}

// IRONLB_NATIVE_ADDON selects another build of the same source (the sanitizer build in
// test/native/sanitizers.test.ts); normally the node-gyp build next to this file.
const addonPath = process.env.IRONLB_NATIVE_ADDON || fileURLToPath(new URL('./build/Release/ironlb_native.node', import.meta.url));

function load(): Addon {
  if (!existsSync(addonPath)) {
    throw new Error(`ironlb native addon not built (${addonPath} missing): run ". scripts/setup.sh" to build it with node-gyp`);
  }
  return createRequire(import.meta.url)(addonPath) as Addon;
}

let cached: Addon | undefined;
function addon(): Addon {
  cached ??= load();
  return cached;
}

// ---------------------------------------------------------------------------------------------
// AF_PACKET

/** Ethernet packet types as the kernel reports them (linux/if_packet.h). */
export const PacketType = { host: 0, broadcast: 1, multicast: 2, otherHost: 3 } as const;

export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_ALL = 0x0003;

/** One classic BPF instruction (struct sock_filter). */
export interface BpfInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export function encodeBpf(prog: readonly BpfInsn[]): Buffer {
  const b = Buffer.alloc(prog.length * 8);
  prog.forEach((i, n) => {
    b.writeUInt16LE(i.code, n * 8);
    b.writeUInt8(i.jt, n * 8 + 2);
    b.writeUInt8(i.jf, n * 8 + 3);
    b.writeUInt32LE(i.k >>> 0, n * 8 + 4);
  });
  return b;
}

/**
 * A socket held through a native handle: ref/unref as node:net sockets have, an idempotent
 * close, and the check that it is still open before each call.
 */
abstract class NativeSocket {
  protected handle: Handle | null;
  private readonly kind: string;

  protected constructor(kind: string, handle: Handle) {
    this.kind = kind;
    this.handle = handle;
  }

  get closed(): boolean {
    return this.handle === null;
  }

  ref(): this {
    if (this.handle) addon().setRef(this.handle, true);
    return this;
  }

  unref(): this {
    if (this.handle) addon().setRef(this.handle, false);
    return this;
  }

  /** Closes the fd at once; idempotent. */
  close(): void {
    if (this.handle) addon().close(this.handle);
    this.handle = null;
  }

  protected live(call: string): Handle {
    if (!this.handle) throw closedError(`${this.kind}.${call}`);
    return this.handle;
  }
}

/** What every raw Ethernet socket can do: send, multicast membership, filter, buffer, counters. */
abstract class RawPacketSocket extends NativeSocket {
  readonly ifindex: number;
  readonly ethertype: number;

  protected constructor(kind: string, handle: Handle, ifindex: number, ethertype: number) {
    super(kind, handle);
    this.ifindex = ifindex;
    this.ethertype = ethertype;
  }

  send(frame: Buffer): number {
    return addon().packetSend(this.live('send'), frame);
  }

  /** Receive frames sent to this multicast MAC (e.g. an IPv6 solicited-node group). */
  addMembership(mac: Buffer): void {
    addon().packetMembership(this.live('addMembership'), this.ifindex, mac, true);
  }

  dropMembership(mac: Buffer): void {
    addon().packetMembership(this.live('dropMembership'), this.ifindex, mac, false);
  }

  setFilter(prog: readonly BpfInsn[]): void {
    addon().packetSetFilter(this.live('setFilter'), encodeBpf(prog));
  }

  /**
   * Sizes the receive buffer for bursts (SO_RCVBUFFORCE with CAP_NET_ADMIN, else SO_RCVBUF capped
   * at net.core.rmem_max). Returns the size in effect (the kernel reports twice the request).
   */
  setReceiveBuffer(bytes: number): number {
    return addon().packetSetReceiveBuffer(this.live('setReceiveBuffer'), bytes);
  }

  /** Frames received and dropped by the kernel (buffer full) since the socket opened. */
  stats(): PacketStats {
    return addon().packetStats(this.live('stats'));
  }
}

/**
 * A raw Ethernet socket bound to one interface and ethertype. Frames arrive on `onFrame` (full
 * frame with Ethernet header; our own transmissions are filtered out). At most 256 frames are read
 * per readiness event. Referenced (keeps the process alive) until close() or unref().
 */
export class PacketSocket extends RawPacketSocket {
  /**
   * `onError` hears socket errors (ENETDOWN when the link goes down, ...). The socket keeps
   * receiving after one, but what it missed is unknown: owners should reopen and re-announce.
   */
  constructor(ifindex: number, ethertype: number, onFrame: (frame: Buffer, pktType: number) => void, onError: (err: NativeError) => void = () => {}) {
    super('PacketSocket', addon().packetOpen(ifindex, ethertype, onFrame, onError), ifindex, ethertype);
  }

  /**
   * A latency probe timed in C (as arping is): sends `frame` `count` times, `intervalMs` apart, and
   * times each until a received frame has `pattern` at `offset` (bytes compared where `mask` is
   * set): µs per request, NaN when nothing matched within `timeoutMs`. Blocks this thread for the
   * whole run, and reads the frames itself (`onFrame` does not see them): benchmarks only.
   */
  probe(frame: Buffer, match: { offset: number; pattern: Buffer; mask: Buffer }, count: number, intervalMs: number, timeoutMs: number): Float64Array {
    return addon().packetProbe(this.live('probe'), frame, match.offset, match.pattern, match.mask, count, intervalMs, timeoutMs);
  }
}

/**
 * A raw socket (ETH_P_ARP or ETH_P_IPV6) whose own native thread answers ARP requests or Neighbor
 * Solicitations for the addresses installed with answer(), without waking JavaScript: the hot path
 * of Layer 2 mode. Policy stays in JavaScript (which addresses, gratuitous messages, MLD). After
 * forget() returns, the address is never answered again. No frame reaches JavaScript. Referenced
 * until close() or unref(); `onError` as for PacketSocket.
 */
export class ResponderSocket extends RawPacketSocket {
  /** `realtimePriority` 1..99: its thread answers at SCHED_FIFO when the process may (CAP_SYS_NICE); 0: normal priority. */
  constructor(ifindex: number, ethertype: typeof ETH_P_ARP | typeof ETH_P_IPV6, onError: (err: NativeError) => void = () => {}, realtimePriority = 0) {
    super('ResponderSocket', addon().packetResponderOpen(ifindex, ethertype, onError, realtimePriority), ifindex, ethertype);
  }

  /** Answers for `address` (4 bytes on an ARP socket, 16 on an IPv6 one) with `mac`. True if the table changed. */
  answer(address: Buffer, mac: Buffer): boolean {
    return addon().packetAnswer(this.live('answer'), address, mac);
  }

  /** Stops answering for `address`, at once. True if it was answered. */
  forget(address: Buffer): boolean {
    return addon().packetAnswer(this.live('forget'), address, null);
  }

  responderStats(): ResponderStats {
    return addon().packetResponderStats(this.live('responderStats'));
  }
}

/**
 * The native responder's verdict on one frame received with `pktType`, if it answered for
 * `address` (or nothing: null) at `mac`: what its thread would do, without a socket (tests, fuzzing).
 */
export function answerFrame(ethertype: typeof ETH_P_ARP | typeof ETH_P_IPV6, frame: Buffer, pktType: number, address: Buffer | null, mac: Buffer | null): FrameVerdict {
  return addon().answerFrame(ethertype, frame, pktType, address, mac);
}

function closedError(call: string): NativeError {
  const e = new Error(`${call}: socket is closed (EBADF); open a new one`) as NativeError;
  e.errno = 9;
  e.code = 'EBADF';
  e.syscall = call;
  return e;
}

// ---------------------------------------------------------------------------------------------
// interface facts

// linux/if.h flag bits
const IFF = {
  up: 0x1, broadcast: 0x2, loopback: 0x8, pointToPoint: 0x10, running: 0x40, noarp: 0x80,
  promisc: 0x100, master: 0x400, slave: 0x800, multicast: 0x1000, lowerUp: 0x10000,
} as const;

export interface LinkInfo {
  index: number;
  name: string;
  /** Lower-case colon-separated hardware address ("" when the link has none). */
  mac: string;
  mtu: number;
  /** Raw IFF_* flags. */
  flags: number;
  up: boolean;
  running: boolean;
  loopback: boolean;
  noarp: boolean;
  broadcast: boolean;
  multicast: boolean;
  pointToPoint: boolean;
  /** ifindex of the bond/bridge this link is enslaved to, 0 if none. */
  masterIndex: number;
  /** Name of that master, if it is in this namespace. */
  master?: string;
  /** Enslaved to a bond (IFF_SLAVE or slave kind "bond"): the bond itself answers, not the slave. */
  bondSlave: boolean;
  /** rtnetlink link kind: "veth", "bridge", "bond", "vlan", ... ("" for physical). */
  kind: string;
  /** ARPHRD_* type (1 = Ethernet). */
  arpType: number;
  /** RFC 2863 operational state (6 = up, 2 = down, 0 = unknown). */
  operState: number;
}

/** All links in this network namespace (one rtnetlink dump). */
export function listInterfaces(): LinkInfo[] {
  const raw = addon().interfaces();
  const byIndex = new Map(raw.map((r) => [r.index, r.name]));
  return raw.map((r) => {
    const info: LinkInfo = {
      index: r.index,
      name: r.name,
      mac: r.mac,
      mtu: r.mtu ?? 0,
      flags: r.flags,
      up: (r.flags & IFF.up) !== 0,
      running: (r.flags & IFF.running) !== 0,
      loopback: (r.flags & IFF.loopback) !== 0,
      noarp: (r.flags & IFF.noarp) !== 0,
      broadcast: (r.flags & IFF.broadcast) !== 0,
      multicast: (r.flags & IFF.multicast) !== 0,
      pointToPoint: (r.flags & IFF.pointToPoint) !== 0,
      masterIndex: r.master,
      bondSlave: (r.flags & IFF.slave) !== 0 || r.slaveKind === 'bond',
      kind: r.kind,
      arpType: r.type,
      operState: r.operState ?? 0,
    };
    const m = byIndex.get(r.master);
    if (r.master && m !== undefined) info.master = m;
    return info;
  });
}

/** What one burst of rtnetlink notifications showed. */
export interface LinkEvents {
  /** Indexes of links some notification showed down (not up, or without carrier), even if up again since. */
  down: number[];
  /** Notifications were lost (socket buffer overflow) or too many links went down: any link may have flapped. */
  overflow: boolean;
}

/** Links parsed from raw rtnetlink messages (the addon's bounded parser; for tests and fuzzing). */
export function parseLinkMessages(bytes: Buffer): Array<Pick<LinkInfo, 'index' | 'name' | 'mac' | 'flags'> & { mtu?: number; operState?: number; kind: string; master: number }> {
  return addon().parseLinkMessages(bytes);
}

/**
 * Calls `onChange` when links or addresses change (rtnetlink multicast), with the links seen down
 * in between: re-read the rest with listInterfaces(). Unreferenced by default (a watcher alone
 * does not keep the process alive).
 */
export class LinkWatcher {
  private handle: Handle | null;

  constructor(onChange: (e: LinkEvents) => void) {
    this.handle = addon().linkWatch((down, overflow) => onChange({ down, overflow }));
    addon().setRef(this.handle, false);
  }

  close(): void {
    if (this.handle) addon().close(this.handle);
    this.handle = null;
  }
}

// ---------------------------------------------------------------------------------------------
// TCP (BGP)

export interface TcpOptions {
  /** Peer (connect) or local (listen) address family. */
  family: 4 | 6;
  localAddress?: string;
  localPort?: number;
  /** IP_TTL / IPV6_UNICAST_HOPS of outgoing segments (eBGP multihop; 255 for GTSM). */
  ttl?: number;
  /** IP_MINTTL / IPV6_MINHOPCOUNT: drop segments arriving with a lower TTL (GTSM, RFC 5082). */
  minTtl?: number;
  /** SO_BINDTODEVICE (an interface or VRF name). */
  device?: string;
}

export interface TcpConnectOptions extends TcpOptions {
  address: string;
  port: number;
  /** TCP MD5 signature key (RFC 2385) for this peer, set before the SYN. */
  md5Key?: string | Buffer;
  /** Rejects with ETIMEDOUT after this long (the fd is closed). Default: the kernel's own timeout. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

function keyBuf(k: string | Buffer): Buffer {
  return typeof k === 'string' ? Buffer.from(k, 'utf8') : k;
}

function rawOpts(o: TcpOptions): RawSockOpts {
  const r: RawSockOpts = { family: o.family };
  if (o.localAddress !== undefined) r.localAddress = o.localAddress;
  if (o.localPort !== undefined) r.localPort = o.localPort;
  if (o.ttl !== undefined) r.ttl = o.ttl;
  if (o.minTtl !== undefined) r.minTtl = o.minTtl;
  if (o.device !== undefined) r.device = o.device;
  return r;
}

/**
 * A TCP socket made by (or handed to) the addon, referred to by a handle, never by a bare fd
 * number: the handle remembers which socket it is (its inode), so once the owner (the net.Socket
 * or net.Server wrapping `fd`) has closed it, every call throws EBADF instead of acting on
 * whatever socket later got the same number.
 */
export class TcpSocketRef {
  private handle: Handle | null;

  /** Wraps a handle from the addon. */
  private constructor(handle: Handle) {
    this.handle = handle;
  }

  /** @internal */
  static fromHandle(h: Handle): TcpSocketRef {
    return new TcpSocketRef(h);
  }

  /** A reference to a socket opened elsewhere (e.g. `socketFd(netSocket)`), taken while it is open. */
  static fromFd(fd: number): TcpSocketRef {
    return new TcpSocketRef(addon().socketRef(fd));
  }

  /** The fd number, to hand the socket to node:net (`new net.Socket({ fd })`, `server.listen({ fd })`). Checked like every call. */
  get fd(): number {
    return addon().handleFd(this.live('fd'));
  }

  setTtl(ttl: number): void {
    addon().setTtl(this.live('setTtl'), ttl);
  }

  setMinTtl(minTtl: number): void {
    addon().setMinTtl(this.live('setMinTtl'), minTtl);
  }

  /** The TTL (or with min=true the minimum TTL) in effect. */
  getTtl(min = false): number {
    return addon().getTtl(this.live('getTtl'), min);
  }

  /** Adds (key) or removes (null) the MD5 key for a peer. */
  setTcpMd5(peerAddress: string, key: string | Buffer | null): void {
    addon().setTcpMd5(this.live('setTcpMd5'), peerAddress, key === null ? null : keyBuf(key));
  }

  setBindDevice(device: string): void {
    addon().setBindDevice(this.live('setBindDevice'), device);
  }

  localAddress(): { family: 4 | 6; address: string; port: number } {
    return addon().localAddress(this.live('localAddress'));
  }

  /** Forgets the socket (does not close it: its owner does). Later calls throw EBADF. */
  release(): void {
    if (this.handle) addon().close(this.handle);
    this.handle = null;
  }

  private live(call: string): Handle {
    if (!this.handle) throw closedError(`TcpSocketRef.${call}`);
    return this.handle;
  }
}

/** A socket, always by reference: a bare fd number could name another socket after a close. */
export type SocketLike = TcpSocketRef;

function ref(s: SocketLike): TcpSocketRef {
  return s;
}

/**
 * Non-blocking connect with every option applied before the SYN; resolves with a reference to
 * the connected socket (wrap it: `new net.Socket({ fd: ref.fd, readable: true, writable: true })`).
 */
export function tcpConnectSocket(opts: TcpConnectOptions): Promise<TcpSocketRef> {
  const raw = rawOpts(opts);
  raw.address = opts.address;
  raw.port = opts.port;
  if (opts.md5Key !== undefined) raw.md5 = { peer: opts.address, key: keyBuf(opts.md5Key) };
  return new Promise<TcpSocketRef>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (): void => {
      done = true;
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    let handle: Handle | undefined;
    const cancel = (e: Error): void => {
      if (done) return;
      finish();
      if (handle) addon().close(handle);
      reject(e);
    };
    const onAbort = (): void => cancel(Object.assign(new Error(`tcpConnect to ${opts.address}:${opts.port} aborted`), { name: 'AbortError', code: 'ABORT_ERR' }));
    try {
      handle = addon().tcpConnect(raw, (err, h) => {
        if (done) return;
        finish();
        if (err || !h) {
          const e = err ?? new Error(`tcpConnect to ${opts.address}:${opts.port}: no socket returned`);
          e.message = `${e.message} (to ${opts.address}:${opts.port})`;
          reject(e);
        } else resolve(TcpSocketRef.fromHandle(h));
      });
    } catch (e) {
      finish();
      reject(e);
      return;
    }
    if (opts.timeoutMs !== undefined) {
      timer = setTimeout(() => {
        const e = new Error(`tcpConnect to ${opts.address}:${opts.port}: no answer within ${opts.timeoutMs} ms (ETIMEDOUT)`) as NativeError;
        e.errno = 110;
        e.code = 'ETIMEDOUT';
        e.syscall = 'tcpConnect';
        cancel(e);
      }, opts.timeoutMs);
    }
    if (opts.signal) {
      if (opts.signal.aborted) onAbort();
      else opts.signal.addEventListener('abort', onAbort, { once: true });
    }
  });
}

export interface TcpListenOptions extends TcpOptions {
  /** Port to listen on (0 or absent: ephemeral; read it back with localAddress()). */
  localPort?: number;
  backlog?: number;
  /** Initial MD5 keys by peer address; more with setTcpMd5() at any time. */
  md5Keys?: ReadonlyMap<string, string | Buffer>;
}

/** A listening TCP socket (SO_REUSEADDR) with the options applied (`server.listen({ fd: ref.fd })`). */
export function tcpListenSocket(opts: TcpListenOptions): TcpSocketRef {
  const raw = rawOpts(opts);
  if (opts.backlog !== undefined) raw.backlog = opts.backlog;
  const r = TcpSocketRef.fromHandle(addon().tcpListen(raw));
  for (const [peer, key] of opts.md5Keys ?? []) r.setTcpMd5(peer, key);
  return r;
}

// The functions below take a TcpSocketRef (see SocketLike).

/** Adds (key) or removes (null) the MD5 key for a peer on a listening or unconnected socket. */
export function setTcpMd5(s: SocketLike, peerAddress: string, key: string | Buffer | null): void {
  ref(s).setTcpMd5(peerAddress, key);
}

export function setTtl(s: SocketLike, ttl: number): void {
  ref(s).setTtl(ttl);
}

export function setMinTtl(s: SocketLike, minTtl: number): void {
  ref(s).setMinTtl(minTtl);
}

/** The TTL (or with min=true the minimum TTL) set on a socket. */
export function getTtl(s: SocketLike, min = false): number {
  return ref(s).getTtl(min);
}

export function setBindDevice(s: SocketLike, device: string): void {
  ref(s).setBindDevice(device);
}

export function localAddress(s: SocketLike): { family: 4 | 6; address: string; port: number } {
  return ref(s).localAddress();
}

// ---------------------------------------------------------------------------------------------
// UDP with received TTL (BFD)

export interface UdpMessage {
  payload: Buffer;
  address: string;
  port: number;
  /** TTL / hop limit the datagram arrived with (-1 if the kernel did not report it). */
  ttl: number;
}

export interface UdpOptions {
  family: 4 | 6;
  localAddress?: string;
  localPort?: number;
  /** TTL / hop limit of sent datagrams (255 for single-hop BFD, RFC 5881). */
  ttl?: number;
  device?: string;
  /** SO_REUSEADDR (several sessions sharing the well-known receive port). */
  reuseAddr?: boolean;
}

/** A UDP socket that reports each datagram's received TTL. Referenced until close() or unref(). */
export class UdpSocket extends NativeSocket {
  readonly family: 4 | 6;

  constructor(opts: UdpOptions, onMessage: (m: UdpMessage) => void) {
    const raw: RawSockOpts = { family: opts.family };
    if (opts.localAddress !== undefined) raw.localAddress = opts.localAddress;
    if (opts.localPort !== undefined) raw.localPort = opts.localPort;
    if (opts.ttl !== undefined) raw.ttl = opts.ttl;
    if (opts.device !== undefined) raw.device = opts.device;
    if (opts.reuseAddr) raw.reuseAddr = true;
    super('UdpSocket', addon().udpOpen(raw, (payload, address, port, ttl) => onMessage({ payload, address, port, ttl })));
    this.family = opts.family;
  }

  send(payload: Buffer, address: string, port: number): number {
    return addon().udpSend(this.live('send'), payload, address, port);
  }

  get fd(): number {
    return addon().handleFd(this.live('fd'));
  }

  setTtl(ttl: number): void {
    addon().setTtl(this.live('setTtl'), ttl);
  }

  getTtl(min = false): number {
    return addon().getTtl(this.live('getTtl'), min);
  }

  localAddress(): { family: 4 | 6; address: string; port: number } {
    return addon().localAddress(this.live('localAddress'));
  }
}

// ---------------------------------------------------------------------------------------------
// Scheduling (src/native/ironlb_sched.c)

/** The calling thread's scheduling policy ("fifo", "rr", "other", "batch", "idle") and real-time priority (0 if none). */
export interface ThreadScheduling {
  policy: string;
  priority: number;
}

/**
 * Puts the CALLING thread (not the process) under SCHED_FIFO at `priority` (1..99), not inherited
 * by children. Throws a NativeError (EPERM without CAP_SYS_NICE) otherwise.
 */
export function setThreadRealtime(priority: number): void {
  addon().setThreadRealtime(priority);
}

export function threadScheduling(): ThreadScheduling {
  return addon().threadScheduling();
}

// ---------------------------------------------------------------------------------------------
// Owner-watch wire (src/native/ironlb_watch.c): heartbeats sent and received on a native thread

export interface WatchWireOptions {
  family: 4 | 6;
  address: string;
  /** 0: any free port. */
  port: number;
  /** This node's name (the heartbeats' sender). */
  self: string;
  intervalMs: number;
  /** SCHED_FIFO priority of the thread (1..99); 0: none. Refused without CAP_SYS_NICE, then `nice` applies. */
  realtimePriority: number;
  nice?: number;
}

/** One heartbeat to send every interval (src/watch/codec.ts fields the JS side decides). */
export interface WatchTarget {
  to: string;
  address: string;
  port: number;
  flags: number;
  takeovers: number;
}

/** A datagram whose MAC verified with one of the keys, with the thread's receipt time (ms, as Date.now). */
export interface WatchReceived {
  packet: Buffer;
  address: string;
  receivedAt: number;
}

export interface WatchWireStats {
  sent: number;
  sendErrors: number;
  verified: number;
  rejectedMac: number;
  /** Verified datagrams dropped because the JS side did not drain the queue (2048) in time. */
  dropped: number;
  ticks: number;
  /** Ticks the thread ran more than one interval late, and the worst lateness (ms). */
  lateTicks: number;
  maxLateMs: number;
}

interface WatchAddon {
  watchOpen(o: WatchWireOptions): Handle;
  watchInfo(h: Handle): { port: number; scheduling: 'realtime' | 'nice' | 'inherited'; errors: string[] };
  watchSetKeys(h: Handle, keys: Buffer[]): void;
  watchSetTargets(h: Handle, targets: WatchTarget[]): void;
  watchDrain(h: Handle): WatchReceived[];
  watchStats(h: Handle): WatchWireStats;
  watchClose(h: Handle): void;
}

/**
 * The owner watch's heartbeat thread: sends to the targets every interval and queues the
 * authenticated datagrams it receives, whatever the JavaScript threads are doing. Throws a
 * NativeError when the socket cannot be bound (e.g. EADDRINUSE).
 */
export class WatchWire {
  readonly #a: WatchAddon;
  readonly #h: Handle;
  private constructor(a: WatchAddon, h: Handle) {
    this.#a = a;
    this.#h = h;
  }

  static open(o: WatchWireOptions): WatchWire {
    const a = addon();
    return new WatchWire(a, a.watchOpen(o));
  }

  /** Bound port and how the thread is scheduled (errors: what was refused). */
  info(): { port: number; scheduling: 'realtime' | 'nice' | 'inherited'; errors: string[] } {
    return this.#a.watchInfo(this.#h);
  }

  setKeys(keys: Buffer[]): void {
    this.#a.watchSetKeys(this.#h, keys);
  }

  setTargets(targets: WatchTarget[]): void {
    this.#a.watchSetTargets(this.#h, targets);
  }

  drain(): WatchReceived[] {
    return this.#a.watchDrain(this.#h);
  }

  stats(): WatchWireStats {
    return this.#a.watchStats(this.#h);
  }

  close(): void {
    this.#a.watchClose(this.#h);
  }
}
