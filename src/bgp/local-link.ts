// Facts about local addresses the session needs: the link-local address to send with IPv6 next
// hops when the peer is on-link (RFC 2545 §3), and a router ID when none is configured.
import os from 'node:os';
import { parseAddress } from './codec/prefix.ts';

function inSubnet(addr: Buffer, net: Buffer, len: number): boolean {
  if (addr.length !== net.length) return false;
  for (let i = 0; i < addr.length && len > 0; i++, len -= 8) {
    const mask = len >= 8 ? 0xff : (0xff << (8 - len)) & 0xff;
    if (((addr[i] ?? 0) & mask) !== ((net[i] ?? 0) & mask)) return false;
  }
  return true;
}

/**
 * The link-local address of the interface that holds `localAddress`, when `peerAddress` is in
 * one of that interface's subnets of the same family (directly connected); undefined otherwise.
 */
export function linkLocalFor(localAddress: string, peerAddress: string, ifaces = os.networkInterfaces()): Buffer | undefined {
  let local: Buffer;
  let peer: Buffer;
  try {
    local = parseAddress(localAddress);
    peer = parseAddress(peerAddress);
  } catch {
    return undefined;
  }
  if (local.length !== peer.length) return undefined;
  const fam = local.length === 4 ? 'IPv4' : 'IPv6';
  for (const list of Object.values(ifaces)) {
    if (!list) continue;
    const mine = list.find((a) => a.family === fam && parseAddress(a.address).equals(local));
    if (!mine) continue;
    const onLink = list.some((a) => {
      if (a.family !== fam || !a.cidr) return false;
      const len = Number(a.cidr.split('/')[1]);
      return inSubnet(peer, parseAddress(a.address), len);
    });
    if (!onLink) return undefined;
    const ll = list.find((a) => a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80:'));
    return ll ? parseAddress(ll.address) : undefined;
  }
  return undefined;
}

/**
 * Addresses of the interface that holds `localAddress`: its first IPv4, its first global IPv6
 * and its link-local. The default next hop of the other family than the session's.
 */
export function interfaceAddresses(localAddress: string, ifaces = os.networkInterfaces()): { ipv4?: Buffer; ipv6?: Buffer; linkLocal?: Buffer } {
  let local: Buffer;
  try {
    local = parseAddress(localAddress);
  } catch {
    return {};
  }
  for (const list of Object.values(ifaces)) {
    if (!list || !list.some((a) => parseAddress(a.address).equals(local))) continue;
    return addressesOf(list);
  }
  return {};
}

/** Addresses of the interface named `name` (as interfaceAddresses): next hops of an unnumbered session. */
export function addressesOfInterface(name: string, ifaces = os.networkInterfaces()): { ipv4?: Buffer; ipv6?: Buffer; linkLocal?: Buffer } {
  return addressesOf(ifaces[name] ?? []);
}

/** The first IPv4, global IPv6 and link-local IPv6 address of one interface's list (os.networkInterfaces()). */
function addressesOf(list: readonly os.NetworkInterfaceInfo[]): { ipv4?: Buffer; ipv6?: Buffer; linkLocal?: Buffer } {
  const out: { ipv4?: Buffer; ipv6?: Buffer; linkLocal?: Buffer } = {};
  const v4 = list.find((a) => a.family === 'IPv4');
  const v6 = list.find((a) => a.family === 'IPv6' && !a.address.toLowerCase().startsWith('fe80:') && a.address !== '::1');
  const ll = list.find((a) => a.family === 'IPv6' && a.address.toLowerCase().startsWith('fe80:'));
  if (v4) out.ipv4 = parseAddress(v4.address);
  if (v6) out.ipv6 = parseAddress(v6.address);
  // Node may print a link-local address with its zone (fe80::1%eth0); the bytes exclude it.
  if (ll) out.linkLocal = parseAddress(ll.address.split('%')[0] as string);
  return out;
}

/** A router ID from the host's addresses: the first non-internal IPv4, else the first IPv4. */
export function defaultRouterId(ifaces = os.networkInterfaces()): string | undefined {
  const all = Object.values(ifaces).flatMap((l) => l ?? []).filter((a) => a.family === 'IPv4');
  return (all.find((a) => !a.internal) ?? all[0])?.address;
}
