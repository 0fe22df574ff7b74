// Which local interfaces may carry a Layer 2 address (pure, over os.networkInterfaces()-shaped
// data): the interface whose subnet holds the address, or the advertisement's named interfaces.
import ipaddr from 'ipaddr.js';
import { DEFAULT_EXCLUDE_PATTERNS, globMatch } from '../layer2/interface-monitor.ts';

/** Interface names never used for Layer 2 by default: the announcer's own defaults. */
export const DEFAULT_EXCLUDE: readonly string[] = DEFAULT_EXCLUDE_PATTERNS;
export { globMatch };

export interface IfaceAddress {
  address: string;
  /** CIDR as os.networkInterfaces() reports it, e.g. "10.0.0.5/24". */
  cidr: string | null;
  internal: boolean;
}

export interface LocalSubnet {
  iface: string;
  /** Network CIDR, e.g. "10.0.0.0/24". */
  cidr: string;
}

export interface InterfaceFilter {
  /** Only these names/patterns, when non-empty. */
  include?: readonly string[];
  /** Never these names/patterns (default DEFAULT_EXCLUDE). */
  exclude?: readonly string[];
}

export function interfaceAllowed(name: string, f: InterfaceFilter): boolean {
  if (f.include?.length && !f.include.some((p) => globMatch(p, name))) return false;
  return !(f.exclude ?? DEFAULT_EXCLUDE).some((p) => globMatch(p, name));
}

/**
 * The subnets of allowed interfaces. Host routes (/32, /128: service addresses bound locally) and
 * link-local IPv6 are left out: they say nothing about which segment a node sits on.
 */
export function localSubnets(ifaces: Readonly<Record<string, readonly IfaceAddress[] | undefined>>, f: InterfaceFilter = {}): LocalSubnet[] {
  const out: LocalSubnet[] = [];
  const seen = new Set<string>();
  for (const [iface, addrs] of Object.entries(ifaces)) {
    if (!interfaceAllowed(iface, f)) continue;
    for (const a of addrs ?? []) {
      if (a.internal || !a.cidr) continue;
      let net: ipaddr.IPv4 | ipaddr.IPv6;
      let len: number;
      try {
        [net, len] = ipaddr.parseCIDR(a.cidr);
      } catch {
        continue;
      }
      if (len === (net.kind() === 'ipv4' ? 32 : 128)) continue;
      if (net.kind() === 'ipv6' && net.range() === 'linkLocal') continue;
      const base = net.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(a.cidr) : ipaddr.IPv6.networkAddressFromCIDR(a.cidr);
      const cidr = `${base.toString()}/${len}`;
      if (seen.has(`${iface} ${cidr}`)) continue;
      seen.add(`${iface} ${cidr}`);
      out.push({ iface, cidr });
    }
  }
  return out.sort((a, b) => (a.iface < b.iface ? -1 : a.iface > b.iface ? 1 : a.cidr < b.cidr ? -1 : a.cidr > b.cidr ? 1 : 0));
}

export function subnetHolds(cidr: string, ip: string): boolean {
  try {
    const addr = ipaddr.parse(ip);
    const [net, len] = ipaddr.parseCIDR(cidr);
    return addr.kind() === net.kind() && addr.match(net, len);
  } catch {
    return false;
  }
}

/**
 * Interfaces to announce `ip` on: the advertisement's named ones (patterns allowed) that exist here,
 * else every allowed interface with a subnet holding the address.
 */
export function interfacesFor(ip: string, named: readonly string[], subnets: readonly LocalSubnet[], present: readonly string[]): string[] {
  if (named.length > 0) return present.filter((n) => named.some((p) => globMatch(p, n))).sort();
  return [...new Set(subnets.filter((s) => subnetHolds(s.cidr, ip)).map((s) => s.iface))].sort();
}
