// Router Solicitation / Router Advertisement (RFC 4861 §4.1, §4.2) over Ethernet: pure encode and
// decode. BGP unnumbered peers find each other's link-local address this way: each side sends RAs
// on the interface (FRR does so for every `neighbor IFNAME interface`), whose IPv6 source is the
// address to peer with. Ours carry Router Lifetime 0, so no host takes us as its default router.
import { ETH_HEADER_LEN, ETHERTYPE_IPV6, decodeEthernet, writeEthernet } from '../../layer2/ethernet.ts';
import { bytesToIpv6, icmpv6Checksum, ipv6ToBytes, multicastMac } from '../../layer2/ndp.ts';
import { isLinkLocal } from '../codec/prefix.ts';

export const ICMPV6_RS = 133;
export const ICMPV6_RA = 134;
export const ALL_NODES = 'ff02::1';
export const ALL_ROUTERS = 'ff02::2';
const IPV6_HEADER_LEN = 40;
const NEXT_HEADER_ICMPV6 = 58;
const OPT_SOURCE_LLA = 1;
const RA_FIXED = 16;
const RS_FIXED = 8;

export interface RouterMessage {
  type: typeof ICMPV6_RS | typeof ICMPV6_RA;
  /** IPv6 source: the sender's link-local address (compressed text, no scope). */
  src: string;
  dst: string;
  /** RA only: seconds this router may be a default router (0: not one). */
  routerLifetime: number;
  /** Source link-layer address option, when present. */
  lla?: Buffer;
}


function frame(type: number, ethSrc: Buffer, src: string, dst: string, body: Buffer): Buffer {
  const msg = Buffer.alloc(body.length + 8);
  body.copy(msg);
  msg[0] = type;
  msg[msg.length - 8] = OPT_SOURCE_LLA;
  msg[msg.length - 7] = 1;
  ethSrc.copy(msg, msg.length - 6, 0, 6);
  const srcB = ipv6ToBytes(src);
  const dstB = ipv6ToBytes(dst);
  msg.writeUInt16BE(icmpv6Checksum(srcB, dstB, msg), 2);
  const f = Buffer.alloc(ETH_HEADER_LEN + IPV6_HEADER_LEN + msg.length);
  writeEthernet(f, multicastMac(dst), ethSrc, ETHERTYPE_IPV6);
  const ip = ETH_HEADER_LEN;
  f.writeUInt32BE(0x60000000, ip);
  f.writeUInt16BE(msg.length, ip + 4);
  f[ip + 6] = NEXT_HEADER_ICMPV6;
  f[ip + 7] = 255; // RFC 4861 §6.1: receivers drop ND messages that crossed a router
  srcB.copy(f, ip + 8);
  dstB.copy(f, ip + 24);
  msg.copy(f, ip + IPV6_HEADER_LEN);
  return f;
}

/**
 * An RA to all-nodes from our link-local `src`: Router Lifetime `lifetime` (0: not a default
 * router), no prefixes, hop limit and timers unspecified (0), with our MAC as source option.
 */
export function encodeRouterAdvertisement(mac: Buffer, src: string, lifetime = 0): Buffer {
  const body = Buffer.alloc(RA_FIXED);
  body.writeUInt16BE(lifetime & 0xffff, 6);
  return frame(ICMPV6_RA, mac, src, ALL_NODES, body);
}

/** An RS to all-routers: routers answer with an RA at once instead of at their next interval. */
export function encodeRouterSolicitation(mac: Buffer, src: string): Buffer {
  return frame(ICMPV6_RS, mac, src, ALL_ROUTERS, Buffer.alloc(RS_FIXED));
}

/**
 * Decodes an RS or RA in an Ethernet frame, validated as RFC 4861 §6.1 asks: hop limit 255, code
 * 0, valid checksum, length, option lengths non-zero and inside the message; an RA's source must
 * be link-local (§6.1.2). Extension headers are not walked (ND messages carry none in practice).
 * Null for anything else; never throws.
 */
export function decodeRouterMessage(f: Buffer): RouterMessage | null {
  try {
    return decodeUnsafe(f);
  } catch {
    return null;
  }
}

function decodeUnsafe(f: Buffer): RouterMessage | null {
  const eth = decodeEthernet(f);
  if (!eth || eth.ethertype !== ETHERTYPE_IPV6) return null;
  const ip = ETH_HEADER_LEN;
  if (f.length < ip + IPV6_HEADER_LEN + RS_FIXED) return null;
  if ((f[ip] ?? 0) >> 4 !== 6 || f[ip + 6] !== NEXT_HEADER_ICMPV6 || f[ip + 7] !== 255) return null;
  const end = ip + IPV6_HEADER_LEN + f.readUInt16BE(ip + 4);
  if (end > f.length) return null;
  const msg = f.subarray(ip + IPV6_HEADER_LEN, end);
  const type = msg[0];
  if ((type !== ICMPV6_RA && type !== ICMPV6_RS) || msg[1] !== 0) return null;
  const fixed = type === ICMPV6_RA ? RA_FIXED : RS_FIXED;
  if (msg.length < fixed) return null;
  const srcB = f.subarray(ip + 8, ip + 24);
  const dstB = f.subarray(ip + 24, ip + 40);
  const zeroed = Buffer.from(msg);
  zeroed.writeUInt16BE(0, 2);
  if (icmpv6Checksum(srcB, dstB, zeroed) !== msg.readUInt16BE(2)) return null;
  if (type === ICMPV6_RA && !isLinkLocal(srcB)) return null;
  let lla: Buffer | undefined;
  for (let o = fixed; o < msg.length; ) {
    if (o + 2 > msg.length) return null;
    const len = (msg[o + 1] ?? 0) * 8;
    if (len === 0 || o + len > msg.length) return null;
    if (msg[o] === OPT_SOURCE_LLA && len >= 8) lla = Buffer.from(msg.subarray(o + 2, o + 8));
    o += len;
  }
  const m: RouterMessage = { type, src: bytesToIpv6(srcB), dst: bytesToIpv6(dstB), routerLifetime: type === ICMPV6_RA ? msg.readUInt16BE(6) : 0 };
  if (lla) m.lla = lla;
  return m;
}
