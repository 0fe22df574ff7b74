// The Layer 2 announcer: given the desired set of addresses (desired state, diffed inside), answers
// ARP/NDP for them on the selected interfaces, tells neighbours at once on acquiring (gratuitous
// ARP + unsolicited NA, repeated), and stops answering at once on release.
import { EventEmitter } from 'node:events';
import ipaddr from 'ipaddr.js';
import { Registry } from 'prom-client';
import { logger, type Logger } from '../util/log.ts';
import { InterfaceMonitor, globMatch, subnetContains, type Iface, type InterfaceChange, type SelectionConfig } from './interface-monitor.ts';
import { layer2Metrics, type Layer2Metrics } from './metrics.ts';
import { InterfaceResponder, DEFAULT_RECEIVE_BUFFER } from './responder.ts';
import { gratuitousArp } from './arp.ts';
import { ZERO_MAC } from './ethernet.ts';
import { unsolicitedNa } from './ndp.ts';

export interface AnnouncerOptions extends SelectionConfig {
  /** Periodic gratuitous refresh of every address (switch FDB / router ARP ageing); 0 = off (default). */
  refreshIntervalMs?: number;
  /**
   * Gratuitous ARPs / unsolicited NAs sent per address on acquiring (and after a link flap), the
   * first at once. Default 3: RFC 4861 7.2.6 allows at most MAX_NEIGHBOR_ADVERTISEMENT (3)
   * unsolicited NAs; ARP uses the same count.
   */
  gratuitousCount?: number;
  /** Interval between those (default 1000 ms). */
  gratuitousIntervalMs?: number;
  /** Interface re-read interval backing up netlink notifications (default 1000 ms). */
  pollIntervalMs?: number;
  /**
   * Receive buffer of each packet socket (default 4 MiB): bursts of requests wait there while
   * the event loop is busy instead of being dropped. Needs CAP_NET_ADMIN above net.core.rmem_max.
   */
  receiveBufferBytes?: number;
  registry?: Registry;
  logger?: Logger;
}

export interface AddressOptions {
  /** Restrict to these interface names / glob patterns (within the announcer's selection). */
  interfaces?: readonly string[];
  /** Only on interfaces with an IPv4/IPv6 prefix containing the address. */
  requireSubnet?: boolean;
}

export interface AnnouncerEvents {
  /** An address is now answered on these interfaces (first time, or a new interface). */
  acquired: [{ address: string; interfaces: string[]; at: number }];
  /** An address is no longer answered anywhere. */
  released: [{ address: string; at: number }];
  /** The last gratuitous message of an acquisition's burst was sent (`count` in all). */
  announced: [{ address: string; interface: string; count: number; at: number }];
  /** Eligible interfaces changed. */
  interfaces: [{ added: string[]; removed: string[]; replaced: string[]; flapped: string[] }];
  error: [Error];
}

interface Burst {
  timer: NodeJS.Timeout;
  left: number;
}

/** Canonical text for an IP address (RFC 5952 for IPv6); throws a clear error otherwise. */
export function normaliseIp(ip: string): { text: string; family: 4 | 6 } {
  if (!ipaddr.isValid(ip)) throw new Error(`not an IP address: "${ip}"`);
  const a = ipaddr.process(ip); // v4-mapped IPv6 becomes IPv4
  return { text: a.toString(), family: a.kind() === 'ipv4' ? 4 : 6 };
}

/** RFC 4861 7.2.6 MAX_NEIGHBOR_ADVERTISEMENT. */
export const DEFAULT_GRATUITOUS_COUNT = 3;

export class Announcer extends EventEmitter<AnnouncerEvents> {
  readonly metrics: Layer2Metrics;
  private readonly opts: Required<Pick<AnnouncerOptions, 'gratuitousCount' | 'gratuitousIntervalMs' | 'refreshIntervalMs' | 'receiveBufferBytes'>>;
  private readonly log: Logger;
  private readonly monitor: InterfaceMonitor;
  private desired = new Map<string, { family: 4 | 6; opts: AddressOptions }>();
  /** address -> interfaces it is answered on */
  private readonly assigned = new Map<string, Set<string>>();
  private readonly responders = new Map<string, InterfaceResponder>();
  private readonly bursts = new Map<string, Burst>();
  private readonly refreshTimer: NodeJS.Timeout | null;
  private readonly unhookStats: () => void;
  private closed = false;

  constructor(options: AnnouncerOptions = {}) {
    super();
    this.opts = {
      gratuitousCount: Math.max(1, options.gratuitousCount ?? DEFAULT_GRATUITOUS_COUNT),
      gratuitousIntervalMs: Math.max(10, options.gratuitousIntervalMs ?? 1000),
      refreshIntervalMs: options.refreshIntervalMs ?? 0,
      receiveBufferBytes: options.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER,
    };
    this.log = options.logger ?? logger('layer2');
    this.metrics = layer2Metrics(options.registry ?? new Registry());
    this.unhookStats = this.metrics.onCollect(() => {
      for (const r of this.responders.values()) r.collectStats();
    });
    const sel: SelectionConfig = {};
    if (options.interfaces) sel.interfaces = options.interfaces;
    if (options.excludePatterns) sel.excludePatterns = options.excludePatterns;
    this.monitor = new InterfaceMonitor(sel, options.pollIntervalMs ?? 1000, (c, now) => this.onInterfaces(c, now), (err) => this.fail(err));
    this.monitor.refresh();
    this.reconcile();
    // Warm the send path's code so the first takeover is not paid in JIT time.
    gratuitousArp(ZERO_MAC, '0.0.0.0');
    unsolicitedNa(ZERO_MAC, '::1');
    this.refreshTimer = this.opts.refreshIntervalMs > 0 ? setInterval(() => this.refreshAll(), this.opts.refreshIntervalMs).unref() : null;
  }

  /** Replaces the set of announced addresses. Invalid addresses throw before anything changes. */
  setAddresses(addresses: ReadonlyMap<string, AddressOptions>): void {
    if (this.closed) throw new Error('Announcer.setAddresses after close(): create a new Announcer');
    const next = new Map<string, { family: 4 | 6; opts: AddressOptions }>();
    for (const [ip, opts] of addresses) {
      const n = normaliseIp(ip);
      next.set(n.text, { family: n.family, opts });
    }
    this.desired = next;
    this.reconcile();
  }

  /** Address -> interfaces it is currently answered on. */
  announced(): Map<string, string[]> {
    return new Map([...this.assigned].map(([a, s]) => [a, [...s].sort()]));
  }

  /** Eligible interfaces right now. */
  interfaces(): string[] {
    return [...this.monitor.interfaces.keys()].sort();
  }

  /** Re-reads interfaces at once (normally notifications and the poll do this). */
  refreshInterfaces(): void {
    this.monitor.refresh();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unhookStats();
    this.monitor.close();
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    for (const b of this.bursts.values()) clearTimeout(b.timer);
    this.bursts.clear();
    for (const r of this.responders.values()) r.close();
    this.responders.clear();
    this.assigned.clear();
  }

  private targets(ip: string, opts: AddressOptions, ifaces: ReadonlyMap<string, Iface>): Set<string> {
    const out = new Set<string>();
    for (const i of ifaces.values()) {
      if (opts.interfaces && !opts.interfaces.some((p) => globMatch(p, i.name))) continue;
      if (opts.requireSubnet && !subnetContains(i.prefixes, ip)) continue;
      out.add(i.name);
    }
    return out;
  }

  private reconcile(): void {
    if (this.closed) return;
    const ifaces = this.monitor.interfaces;
    const now = Date.now();
    // Withdrawals first, so release is immediate.
    for (const [ip, on] of this.assigned) {
      const d = this.desired.get(ip);
      const want = d ? this.targets(ip, d.opts, ifaces) : new Set<string>();
      for (const name of [...on]) {
        if (want.has(name) && this.responders.has(name)) continue;
        this.unassign(ip, name);
        on.delete(name);
      }
      if (on.size === 0) {
        this.assigned.delete(ip);
        this.emit('released', { address: ip, at: now });
      }
    }
    for (const [ip, d] of this.desired) {
      const want = this.targets(ip, d.opts, ifaces);
      let on = this.assigned.get(ip);
      const added: string[] = [];
      for (const name of want) {
        if (on?.has(name)) continue;
        const iface = ifaces.get(name);
        if (!iface) continue;
        if (!this.assign(ip, d.family, iface)) continue;
        if (!on) {
          on = new Set();
          this.assigned.set(ip, on);
        }
        on.add(name);
        added.push(name);
      }
      if (added.length) this.emit('acquired', { address: ip, interfaces: added.sort(), at: now });
    }
    // Every eligible interface keeps open sockets, ready for the next takeover; only interfaces
    // that left the selection lose theirs.
    for (const [name, r] of this.responders) {
      if (!ifaces.has(name)) {
        r.close();
        this.responders.delete(name);
      }
    }
    for (const iface of ifaces.values()) {
      try {
        this.responder(iface).open();
      } catch (err) {
        this.fail(new Error(`cannot open raw sockets on ${iface.name}: ${(err as Error).message}`, { cause: err }));
      }
    }
  }

  private responder(iface: Iface): InterfaceResponder {
    let r = this.responders.get(iface.name);
    if (!r) {
      const name = iface.name;
      r = new InterfaceResponder(name, iface.index, iface.mac, this.metrics, this.log, {
        receiveBufferBytes: this.opts.receiveBufferBytes,
        onSocketError: () => this.monitor.flagSocketError(name),
      });
      this.responders.set(iface.name, r);
    }
    return r;
  }

  private assign(ip: string, family: 4 | 6, iface: Iface): boolean {
    try {
      const r = this.responder(iface);
      if (family === 4) r.addV4(ip);
      else r.addV6(ip);
      this.startBurst(ip, family, r);
      return true;
    } catch (err) {
      this.fail(new Error(`cannot announce ${ip} on ${iface.name}: ${(err as Error).message}`, { cause: err }));
      return false;
    }
  }

  private unassign(ip: string, name: string): void {
    const key = `${ip}|${name}`;
    const b = this.bursts.get(key);
    if (b) clearTimeout(b.timer);
    this.bursts.delete(key);
    const r = this.responders.get(name);
    if (!r) return;
    r.removeV4(ip);
    r.removeV6(ip);
  }

  private startBurst(ip: string, family: 4 | 6, r: InterfaceResponder): void {
    const key = `${ip}|${r.name}`;
    const old = this.bursts.get(key);
    if (old) clearTimeout(old.timer);
    r.announce(ip, family);
    const count = this.opts.gratuitousCount;
    if (count <= 1) {
      this.emit('announced', { address: ip, interface: r.name, count: 1, at: Date.now() });
      return;
    }
    const burst: Burst = { left: count - 1, timer: undefined as unknown as NodeJS.Timeout };
    const tick = (): void => {
      if (this.responders.get(r.name) !== r || this.closed) return;
      r.announce(ip, family);
      burst.left--;
      if (burst.left > 0) burst.timer = setTimeout(tick, this.opts.gratuitousIntervalMs).unref();
      else {
        this.bursts.delete(key);
        this.emit('announced', { address: ip, interface: r.name, count, at: Date.now() });
      }
    };
    burst.timer = setTimeout(tick, this.opts.gratuitousIntervalMs).unref();
    this.bursts.set(key, burst);
  }

  /** A new burst of gratuitous ARP / unsolicited NA for every address answered (e.g. after another node announced them). */
  reannounce(): void {
    if (this.closed) return;
    for (const [ip, on] of this.assigned) {
      const family = this.desired.get(ip)?.family ?? 4;
      for (const name of on) {
        const r = this.responders.get(name);
        if (r) this.startBurst(ip, family, r);
      }
    }
  }

  private refreshAll(): void {
    for (const [ip, on] of this.assigned) {
      const family = this.desired.get(ip)?.family ?? 4;
      for (const name of on) this.responders.get(name)?.announce(ip, family);
    }
  }

  private onInterfaces(c: InterfaceChange, now: ReadonlyMap<string, Iface>): void {
    // A vanished, replaced (new index / MAC) or flapped interface loses its sockets; reconcile
    // reopens the ones still eligible with fresh sockets and announces again (with the new MAC).
    for (const gone of [...c.removed, ...c.replaced.map((x) => x.before), ...c.flapped]) {
      const r = this.responders.get(gone.name);
      if (r) {
        r.close();
        this.responders.delete(gone.name);
      }
      for (const [ip, on] of this.assigned) {
        if (!on.has(gone.name)) continue;
        const key = `${ip}|${gone.name}`;
        const b = this.bursts.get(key);
        if (b) clearTimeout(b.timer);
        this.bursts.delete(key);
        on.delete(gone.name);
      }
    }
    this.log.info({ added: c.added.map((i) => i.name), removed: c.removed.map((i) => i.name), replaced: c.replaced.map((x) => x.after.name), flapped: c.flapped.map((i) => i.name), eligible: [...now.keys()] }, 'interfaces changed');
    if (now.size === 0) this.log.warn({}, 'no eligible interface: nothing is answered until one comes up (see `ironlb layer2 interfaces`)');
    this.emit('interfaces', { added: c.added.map((i) => i.name), removed: c.removed.map((i) => i.name), replaced: c.replaced.map((x) => x.after.name), flapped: c.flapped.map((i) => i.name) });
    this.reconcile();
  }

  private fail(err: unknown): void {
    const e = err instanceof Error ? err : new Error(String(err));
    this.log.error({ err: e }, 'layer 2 announcer error');
    if (this.listenerCount('error') > 0) this.emit('error', e);
  }
}
