// Which interfaces the announcer may use (pure), and a monitor that notices links appearing,
// vanishing, going down or changing MAC without a restart: rtnetlink change notifications through
// the native addon trigger an immediate re-read, and a slow poll (default 1 s) backs them up.
import os from 'node:os';
import ipaddr from 'ipaddr.js';
import { listInterfaces, LinkWatcher, type LinkInfo } from '../native/index.ts';

/** peers.md: interfaces that are never the node's LAN (containers, tunnels, CNI plumbing). */
export const DEFAULT_EXCLUDE_PATTERNS: readonly string[] = [
  'docker*', 'cbr*', 'dummy*', 'virbr*', 'lxcbr*', 'veth*', 'lo', 'cali*', 'tunl*', 'flannel*', 'kube-ipvs*',
  'cni*', 'nodelocaldns*', 'lxc*',
];

export interface SelectionConfig {
  /** Names or glob patterns ('*', '?') to use; default: every eligible interface. */
  interfaces?: readonly string[];
  /** Glob patterns never used (default DEFAULT_EXCLUDE_PATTERNS); names listed exactly in `interfaces` bypass them. */
  excludePatterns?: readonly string[];
}

export interface Prefix {
  address: string;
  prefixLength: number;
}

/** A link as the announcer sees it: facts plus its IPv4/IPv6 prefixes. */
export interface Iface {
  index: number;
  name: string;
  mac: string;
  link: LinkInfo;
  prefixes: Prefix[];
}

const globCache = new Map<string, RegExp>();
export function globMatch(pattern: string, name: string): boolean {
  let re = globCache.get(pattern);
  if (!re) {
    re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
    globCache.set(pattern, re);
  }
  return re.test(name);
}

/** Why a link is not used, or null when it is eligible. */
export function ineligibleReason(link: LinkInfo, cfg: SelectionConfig): string | null {
  const named = cfg.interfaces?.includes(link.name) ?? false;
  if (cfg.interfaces && !cfg.interfaces.some((p) => globMatch(p, link.name))) return 'not selected';
  if (!named && (cfg.excludePatterns ?? DEFAULT_EXCLUDE_PATTERNS).some((p) => globMatch(p, link.name))) return 'excluded by pattern';
  if (link.loopback) return 'loopback';
  if (!link.up) return 'down';
  if (!link.running || link.operState === 2) return 'no carrier';
  if (link.noarp) return 'NOARP';
  if (link.bondSlave) return 'bond slave';
  if (link.arpType !== 1 || !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/.test(link.mac) || link.mac === '00:00:00:00:00:00') return 'not Ethernet';
  return null;
}

/** True when one of the interface's prefixes contains `ip` (same family). */
export function subnetContains(prefixes: readonly Prefix[], ip: string): boolean {
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    addr = ipaddr.parse(ip);
  } catch {
    return false;
  }
  for (const p of prefixes) {
    try {
      const net = ipaddr.parse(p.address.split('%')[0]!);
      if (net.kind() !== addr.kind()) continue;
      if (net.kind() === 'ipv6' && (net as ipaddr.IPv6).range() === 'linkLocal') continue;
      if ((addr as ipaddr.IPv4).match(net as ipaddr.IPv4, p.prefixLength)) return true;
    } catch {
      /* unparsable entry: ignore */
    }
  }
  return false;
}

/** The current eligible interfaces, by name. */
export function readInterfaces(cfg: SelectionConfig): Map<string, Iface> {
  const addrs = os.networkInterfaces();
  const out = new Map<string, Iface>();
  for (const link of listInterfaces()) {
    if (ineligibleReason(link, cfg) !== null) continue;
    const prefixes = (addrs[link.name] ?? []).map((a) => ({ address: a.address, prefixLength: Number(a.cidr?.split('/')[1] ?? (a.family === 'IPv4' ? 32 : 128)) }));
    out.set(link.name, { index: link.index, name: link.name, mac: link.mac, link, prefixes });
  }
  return out;
}

export interface InterfaceChange {
  added: Iface[];
  removed: Iface[];
  /** Same name, but a new index or MAC: sockets must be reopened and neighbours told again. */
  replaced: Array<{ before: Iface; after: Iface }>;
  /** Only the prefixes changed. */
  readdressed: Iface[];
  /**
   * Same link before and after, but it went down (or its sockets failed) in between, however
   * briefly: sockets must be reopened and neighbours told again. Filled by InterfaceMonitor.
   */
  flapped: Iface[];
}

function samePrefixes(a: readonly Prefix[], b: readonly Prefix[]): boolean {
  return a.length === b.length && a.every((p, i) => p.address === b[i]?.address && p.prefixLength === b[i]?.prefixLength);
}

export function diffInterfaces(before: ReadonlyMap<string, Iface>, after: ReadonlyMap<string, Iface>): InterfaceChange {
  const c: InterfaceChange = { added: [], removed: [], replaced: [], readdressed: [], flapped: [] };
  for (const [name, a] of after) {
    const b = before.get(name);
    if (!b) c.added.push(a);
    else if (b.index !== a.index || b.mac !== a.mac) c.replaced.push({ before: b, after: a });
    else if (!samePrefixes(b.prefixes, a.prefixes)) c.readdressed.push(a);
  }
  for (const [name, b] of before) if (!after.has(name)) c.removed.push(b);
  return c;
}

/** Socket-error reopens of one interface are at most this frequent (a failing socket cannot spin). */
export const MIN_ERROR_REOPEN_INTERVAL_MS = 1000;

/**
 * Keeps the eligible interface set current and reports changes. Change notifications arrive from
 * rtnetlink at once; the poll is a safety net (and the only source if the watcher fails).
 * A link seen down in any notification is reported as flapped when the re-read finds it up again
 * with the same identity, so a down/up pair faster than the 5 ms coalescing is never lost; so is
 * a link whose sockets reported an error (flagSocketError).
 */
export class InterfaceMonitor {
  private current = new Map<string, Iface>();
  private readonly watcher: LinkWatcher | null;
  private readonly timer: NodeJS.Timeout;
  private pending: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly cfg: SelectionConfig;
  private readonly onChange: (c: InterfaceChange, now: ReadonlyMap<string, Iface>) => void;
  private readonly onError: (err: unknown) => void;
  /** Link indexes some notification showed down since the last re-read. */
  private readonly seenDown = new Set<number>();
  /** Notifications were lost: every link may have flapped. */
  private overflow = false;
  /** Interface names whose sockets failed, and when each was last reopened for that. */
  private readonly socketErrors = new Set<string>();
  private readonly lastErrorReopen = new Map<string, number>();

  constructor(cfg: SelectionConfig, pollIntervalMs: number, onChange: (c: InterfaceChange, now: ReadonlyMap<string, Iface>) => void, onError: (err: unknown) => void) {
    this.cfg = cfg;
    this.onChange = onChange;
    this.onError = onError;
    let watcher: LinkWatcher | null = null;
    try {
      watcher = new LinkWatcher((e) => {
        for (const i of e.down) this.seenDown.add(i);
        if (e.overflow) this.overflow = true;
        this.schedule();
      });
    } catch (err) {
      onError(err);
    }
    this.watcher = watcher;
    this.timer = setInterval(() => this.refreshSafe(), pollIntervalMs).unref();
  }

  get interfaces(): ReadonlyMap<string, Iface> {
    return this.current;
  }

  /** A socket on `name` failed: re-read soon, and reopen it if the link is (still or again) usable. */
  flagSocketError(name: string): void {
    this.socketErrors.add(name);
    this.schedule();
  }

  /** Re-reads interface facts now and reports differences. */
  refresh(): InterfaceChange {
    const next = readInterfaces(this.cfg);
    const change = diffInterfaces(this.current, next);
    const replaced = new Set(change.replaced.map((r) => r.after.name));
    const now = Date.now();
    for (const [name, after] of next) {
      if (!this.current.has(name) || replaced.has(name)) continue;
      let flapped = this.overflow || this.seenDown.has(after.index);
      if (!flapped && this.socketErrors.has(name)) {
        // Bounded: a socket failing again at once waits for the next poll.
        if (now - (this.lastErrorReopen.get(name) ?? 0) < MIN_ERROR_REOPEN_INTERVAL_MS) continue;
        flapped = true;
      }
      if (!flapped) continue;
      change.flapped.push(after);
      if (this.socketErrors.delete(name)) this.lastErrorReopen.set(name, now);
    }
    for (const name of this.socketErrors) if (!next.has(name)) this.socketErrors.delete(name); // gone or down: reopened when it returns
    this.seenDown.clear();
    this.overflow = false;
    this.current = next;
    if (change.added.length || change.removed.length || change.replaced.length || change.readdressed.length || change.flapped.length) this.onChange(change, next);
    return change;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    if (this.pending) clearTimeout(this.pending);
    this.watcher?.close();
  }

  /** Coalesces a burst of notifications into one re-read a few ms later. */
  private schedule(): void {
    if (!this.pending && !this.closed) this.pending = setTimeout(() => { this.pending = null; this.refreshSafe(); }, 5).unref();
  }

  private refreshSafe(): void {
    if (this.closed) return;
    try {
      this.refresh();
    } catch (err) {
      this.onError(err);
    }
  }
}
