// BGP unnumbered: who is on the other end of an interface. The peer's IPv6 link-local address is
// learned from the Router Advertisements it sends on the link, and from the connections it makes
// to us; we send RAs of our own (Router Lifetime 0) so it learns ours the same way.
//
// Why RAs and not (only) the kernel's neighbour table: an RA names the router and its address
// without any traffic having flowed first, it is what unnumbered peers already send (FRR for
// every `neighbor IFNAME interface`, and switches running unnumbered fabrics), and its repetition
// re-teaches a changed address within one interval. The neighbour table holds an entry only
// after traffic, also for hosts that are no BGP speakers, and ages entries out. FRR itself
// learns its peer from RAs only, so sending ours is what makes it accept our connection.
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { ETH_P_IPV6, PacketSocket, isNativeError, listInterfaces, type BpfInsn } from '../../native/index.ts';
import { parseMac } from '../../layer2/ethernet.ts';
import type { Logger } from '../../util/log.ts';
import { ICMPV6_RA, ICMPV6_RS, decodeRouterMessage, encodeRouterAdvertisement, encodeRouterSolicitation } from './router-adv.ts';

/** Seconds between our RAs once the first few went out (FRR sends them every 10 s on BGP links). */
export const RA_INTERVAL_S = 10;
/** RAs sent a second apart when we start, so a peer that just came up learns us quickly. */
const INITIAL_RAS = 3;
/** A neighbour not heard from (RA or connection) for this long ranks behind fresher ones. */
const FRESH_MS = 3 * RA_INTERVAL_S * 1000 + 5_000;
/** Retry opening the interface (absent, down, no link-local yet) this often. */
const REOPEN_MS = 2_000;
/** At most one RA in answer to solicitations per this many ms. */
const RS_ANSWER_GAP_MS = 1_000;
/** Neighbours remembered per interface (a shared segment full of RA senders stays bounded). */
const MAX_NEIGHBOURS = 16;

export interface LinkPeerEvents {
  change: [];
}

/**
 * Link-local neighbours of one interface, freshest first. The engine asks `peers` when it
 * connects, tells `seen` about connections it accepted, and reconnects on 'change'.
 */
export interface LinkPeerSource extends EventEmitter<LinkPeerEvents> {
  readonly ifname: string;
  /** Candidate peer addresses (bare link-local text, no scope), most recently heard first. */
  readonly peers: readonly string[];
  /** Why no peer can be found yet (interface missing, no link-local address), if so. */
  readonly problem: string | undefined;
  /** A connection came from this link-local address on the interface. */
  seen(address: string): void;
  close(): void;
}

export type LinkPeerSourceFactory = (ifname: string, log: Logger) => LinkPeerSource;

const ldb = (k: number): BpfInsn => ({ code: 0x30, jt: 0, jf: 0, k });
const jeq = (k: number, jt: number, jf: number): BpfInsn => ({ code: 0x15, jt, jf, k });
const RET_ALL: BpfInsn = { code: 0x06, jt: 0, jf: 0, k: 0x40000 };
const RET_NONE: BpfInsn = { code: 0x06, jt: 0, jf: 0, k: 0 };
/** ICMPv6 (next header 58 at byte 20) RS or RA (type 133/134 at byte 54): nothing else wakes us. */
export const ROUTER_MESSAGE_FILTER: readonly BpfInsn[] = [
  ldb(20), jeq(58, 0, 4),
  ldb(54), jeq(133, 1, 0), jeq(134, 0, 1),
  RET_ALL, RET_NONE,
];

/** The kernel-facing source: a packet socket on the interface for RS/RA, our RAs on a timer. */
export class RouterAdvertisementPeers extends EventEmitter<LinkPeerEvents> implements LinkPeerSource {
  readonly ifname: string;
  problem: string | undefined;
  private readonly log: Logger;
  private readonly heard = new Map<string, number>();
  private sock: PacketSocket | undefined;
  private mac: Buffer | undefined;
  private linkLocal: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sent = 0;
  private lastAnswer = 0;
  private closed = false;

  constructor(ifname: string, log: Logger) {
    super();
    this.ifname = ifname;
    this.log = log.child({ interface: ifname });
    this.open();
  }

  get peers(): string[] {
    const now = Date.now();
    return [...this.heard].sort((a, b) => {
      const fa = now - a[1] < FRESH_MS ? 1 : 0;
      const fb = now - b[1] < FRESH_MS ? 1 : 0;
      return fb - fa || b[1] - a[1];
    }).map(([addr]) => addr);
  }

  seen(address: string): void {
    this.note(address);
  }

  private note(address: string): void {
    if (address === this.linkLocal) return;
    const known = this.heard.has(address);
    this.heard.delete(address);
    this.heard.set(address, Date.now());
    if (this.heard.size > MAX_NEIGHBOURS) this.heard.delete(this.heard.keys().next().value as string);
    if (!known) {
      this.log.info({ neighbour: address }, `BGP unnumbered: neighbour ${address} on ${this.ifname}`);
      // A router that just came up learns us now, not at our next interval: FRR accepts our
      // connection only once it has heard an RA from us.
      this.answer();
      // Later, not inside the caller (which may be attaching the very connection that taught us).
      setImmediate(() => this.emit('change'));
    }
  }

  private open(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    try {
      const link = listInterfaces().find((l) => l.name === this.ifname);
      if (!link) throw new Error(`interface ${this.ifname} does not exist on this node`);
      if (!link.up) throw new Error(`interface ${this.ifname} is down`);
      const ll = this.ownLinkLocal();
      if (!ll) throw new Error(`interface ${this.ifname} has no IPv6 link-local address yet (IPv6 disabled on it, or duplicate address detection still running)`);
      this.mac = parseMac(link.mac);
      this.linkLocal = ll;
      this.closeSocket();
      const sock = new PacketSocket(link.index, ETH_P_IPV6, (f) => this.onFrame(f), (err) => this.onError(err));
      sock.setFilter(ROUTER_MESSAGE_FILTER);
      sock.unref();
      this.sock = sock;
      this.problem = undefined;
      this.sent = 0;
      // Ask routers to advertise now rather than at their next interval, and advertise ourselves.
      this.send(encodeRouterSolicitation(this.mac, this.linkLocal));
      this.advertise();
    } catch (e) {
      let msg = (e as Error).message;
      if (isNativeError(e) && (e.code === 'EPERM' || e.code === 'EACCES')) msg += ': sending and hearing Router Advertisements needs CAP_NET_RAW (the chart\'s speaker has it; a speaker run by hand needs it too)';
      if (this.problem !== msg) this.log.warn({ err: msg }, `BGP unnumbered: cannot watch ${this.ifname} yet; retrying`);
      this.problem = msg;
      this.closeSocket();
      this.timer = setTimeout(() => this.open(), REOPEN_MS).unref();
    }
  }

  private ownLinkLocal(): string | undefined {
    const ll = (os.networkInterfaces()[this.ifname] ?? []).find((a) => a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80:'));
    return ll?.address.split('%')[0];
  }

  private advertise(): void {
    if (this.closed || !this.mac || !this.linkLocal) return;
    // Our address changed (a new MAC, an address replaced): start over, so RAs carry the new one.
    if (this.ownLinkLocal() !== this.linkLocal) {
      this.log.info({ before: this.linkLocal }, `BGP unnumbered: the link-local address of ${this.ifname} changed`);
      this.open();
      return;
    }
    this.send(encodeRouterAdvertisement(this.mac, this.linkLocal));
    this.sent++;
    this.timer = setTimeout(() => this.advertise(), this.sent < INITIAL_RAS ? 1000 : RA_INTERVAL_S * 1000).unref();
  }

  private send(frame: Buffer): void {
    try {
      this.sock?.send(frame);
    } catch (e) {
      this.onError(e as Error);
    }
  }

  private onFrame(f: Buffer): void {
    const m = decodeRouterMessage(f);
    if (!m || m.src === this.linkLocal) return;
    if (m.type === ICMPV6_RA) this.note(m.src);
    else if (m.type === ICMPV6_RS) this.answer();
  }

  /** An RA out of turn (a solicitation, a new neighbour), at most one per RS_ANSWER_GAP_MS. */
  private answer(): void {
    if (!this.mac || !this.linkLocal || Date.now() - this.lastAnswer < RS_ANSWER_GAP_MS) return;
    this.lastAnswer = Date.now();
    this.send(encodeRouterAdvertisement(this.mac, this.linkLocal));
  }

  private onError(err: Error): void {
    if (this.closed) return;
    // Link down or gone: reopen (which re-reads the address and MAC) until it is back.
    this.log.warn({ err: err.message }, `BGP unnumbered: socket on ${this.ifname} failed; reopening`);
    this.closeSocket();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), REOPEN_MS).unref();
  }

  private closeSocket(): void {
    this.sock?.close();
    this.sock = undefined;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.closeSocket();
    this.removeAllListeners();
  }
}

export const defaultLinkPeers: LinkPeerSourceFactory = (ifname, log) => new RouterAdvertisementPeers(ifname, log);
