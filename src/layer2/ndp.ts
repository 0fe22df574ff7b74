// IPv6 Neighbor Discovery (RFC 4861) Neighbor Solicitation / Advertisement over Ethernet, with the
// ICMPv6 checksum (RFC 4443): pure encode/decode. The solicited-node group join itself is done by
// the kernel (see mld.ts), which sends real MLD reports.
import { addressToBytes, bytesToAddress } from '../util/address.ts';
import { ByteReader, ByteWriter } from '../util/bytes.ts';
import { ETH_HEADER_LEN, ETHERTYPE_IPV6, decodeEthernet, writeEthernet } from './ethernet.ts';

export const ICMPV6_NS = 135;
export const ICMPV6_NA = 136;
const IPV6_HEADER_LEN = 40;
const NEXT_HEADER_ICMPV6 = 58;
const NEXT_HEADER_HOP_BY_HOP = 0;
const NEXT_HEADER_ROUTING = 43;
const NEXT_HEADER_DEST_OPTS = 60;
/** Extension headers skipped before the ICMPv6 header, at most (a longer chain is dropped). */
export const MAX_EXTENSION_HEADERS = 4;
const OPT_SOURCE_LLA = 1;
const OPT_TARGET_LLA = 2;

export const NA_FLAG_ROUTER = 0x80;
export const NA_FLAG_SOLICITED = 0x40;
export const NA_FLAG_OVERRIDE = 0x20;

export const ALL_NODES = 'ff02::1';
export const ALL_NODES_MAC = Buffer.from([0x33, 0x33, 0, 0, 0, 1]);

export function ipv6ToBytes(ip: string): Buffer {
  let b: Buffer | undefined;
  try {
    b = addressToBytes(ip);
  } catch {
    /* reported below, as not IPv6 */
  }
  if (b?.length !== 16) throw new Error(`not an IPv6 address: "${ip}"`);
  return b;
}

export function bytesToIpv6(b: Buffer, off = 0): string {
  return bytesToAddress(b, 16, off);
}

/** ff02::1:ffXX:XXXX for an address (RFC 4291 2.7.1). */
export function solicitedNode(ip: string): string {
  const b = ipv6ToBytes(ip);
  const g = Buffer.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, b[13]!, b[14]!, b[15]!]);
  return bytesToIpv6(g);
}

/** 33:33 + the low 32 bits of a multicast IPv6 address (RFC 2464 7). */
export function multicastMac(group: string): Buffer {
  const b = ipv6ToBytes(group);
  return Buffer.from([0x33, 0x33, b[12]!, b[13]!, b[14]!, b[15]!]);
}

/** ICMPv6 checksum over the pseudo-header and the message (with its checksum field zero). */
export function icmpv6Checksum(src: Buffer, dst: Buffer, msg: Buffer): number {
  let sum = 0;
  const add16 = (b: Buffer, len: number): void => {
    for (let i = 0; i + 1 < len; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
    if (len & 1) sum += b[len - 1]! << 8;
  };
  add16(src, 16);
  add16(dst, 16);
  sum += (msg.length >>> 16) + (msg.length & 0xffff);
  sum += NEXT_HEADER_ICMPV6;
  add16(msg, msg.length);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export interface NdpMessage {
  ethDst: Buffer;
  ethSrc: Buffer;
  /** IPv6 source and destination (compressed text). */
  src: string;
  dst: string;
  hopLimit: number;
  type: typeof ICMPV6_NS | typeof ICMPV6_NA;
  /** NA flags byte (R, S, O); 0 for NS. */
  flags: number;
  target: string;
  /** Source (NS) or target (NA) link-layer address option, if present. */
  lla?: Buffer;
  /** Extension headers (next-header values) the message came behind, in order; [] for none. */
  extensionHeaders: number[];
}

/**
 * Walks the IPv6 extension header chain from the fixed header to the upper-layer header
 * (RFC 8200 4): Hop-by-Hop (first only), Destination Options and Routing are skipped; anything
 * else (Fragment: ND is never fragmented; ESP/AH; No Next Header) ends the walk with null.
 * Bounded: at most MAX_EXTENSION_HEADERS headers, each inside `end`.
 */
export function skipExtensionHeaders(frame: Buffer, ipOffset: number, end: number): { next: number; offset: number; headers: number[] } | null {
  let next = frame[ipOffset + 6]!;
  let off = ipOffset + IPV6_HEADER_LEN;
  const headers: number[] = [];
  for (let i = 0; i <= MAX_EXTENSION_HEADERS; i++) {
    if (next === NEXT_HEADER_ICMPV6) return { next, offset: off, headers };
    if (i === MAX_EXTENSION_HEADERS) return null;
    const known = next === NEXT_HEADER_HOP_BY_HOP ? i === 0 : next === NEXT_HEADER_DEST_OPTS || next === NEXT_HEADER_ROUTING;
    if (!known || off + 8 > end) return null;
    const len = (frame[off + 1]! + 1) * 8;
    if (off + len > end) return null;
    headers.push(next);
    next = frame[off]!;
    off += len;
  }
  return null;
}

/**
 * Decodes NS/NA in an Ethernet frame and validates it as RFC 4861 7.1 asks: hop limit 255,
 * code 0, valid checksum, sane option lengths, target not multicast, no source link-layer option
 * when the source is unspecified. Null for anything else; never throws.
 */
export function decodeNdp(frame: Buffer): NdpMessage | null {
  try {
    return decodeNdpUnsafe(frame);
  } catch {
    return null;
  }
}

function decodeNdpUnsafe(frame: Buffer): NdpMessage | null {
  const eth = decodeEthernet(frame);
  if (!eth || eth.ethertype !== ETHERTYPE_IPV6) return null;
  const ip = ETH_HEADER_LEN;
  if (frame.length < ip + IPV6_HEADER_LEN + 24) return null;
  const h = new ByteReader(frame, undefined, ip);
  if (h.u8('version') >> 4 !== 6) return null;
  h.skip(3, 'traffic class and flow label');
  const payloadLen = h.u16('payload length');
  const end = ip + IPV6_HEADER_LEN + payloadLen;
  if (end > frame.length) return null;
  h.skip(1, 'next header');
  const hopLimit = h.u8('hop limit');
  const srcB = h.bytes(16, 'source');
  const dstB = h.bytes(16, 'destination');
  const chain = skipExtensionHeaders(frame, ip, end);
  if (!chain) return null;
  const icmp = chain.offset;
  if (end - icmp < 24) return null;
  if (hopLimit !== 255) return null;
  // The checksum covers the ICMPv6 message only: its length excludes the extension headers.
  const r = new ByteReader(frame, undefined, icmp, end);
  const msg = frame.subarray(icmp, end);
  const type = r.u8('ICMPv6 type');
  if ((type !== ICMPV6_NS && type !== ICMPV6_NA) || r.u8('ICMPv6 code') !== 0) return null;
  if (icmpv6Checksum(srcB, dstB, zeroChecksum(msg)) !== r.u16('checksum')) return null;
  const flags = r.u8('flags');
  r.skip(3, 'reserved');
  const targetB = r.bytes(16, 'target');
  if (targetB[0] === 0xff) return null;
  let lla: Buffer | undefined;
  // Options: each at least 8 bytes and inside the message (a bad length throws, and decodeNdp drops it).
  while (r.remaining > 0) {
    const t = r.u8('option type');
    const len = r.u8('option length') * 8;
    if (len === 0) return null;
    const value = r.bytes(len - 2, 'option');
    if ((type === ICMPV6_NS && t === OPT_SOURCE_LLA) || (type === ICMPV6_NA && t === OPT_TARGET_LLA)) lla = value.subarray(0, 6);
  }
  const src = bytesToIpv6(srcB);
  if (type === ICMPV6_NS && src === '::' && lla) return null;
  const m: NdpMessage = {
    ethDst: eth.dst,
    ethSrc: eth.src,
    src,
    dst: bytesToIpv6(dstB),
    hopLimit,
    type,
    flags: type === ICMPV6_NA ? flags : 0,
    target: bytesToIpv6(targetB),
    extensionHeaders: chain.headers,
  };
  if (lla) m.lla = lla;
  return m;
}

/** Why a Neighbor Solicitation must not be answered, or null when it may be. */
export type NsDropReason = 'source-multicast' | 'dad-not-solicited-node' | 'destination-not-target';

/**
 * RFC 4861 7.1.1 beyond what decodeNdp checks: a multicast source is never valid (RFC 4291
 * 2.7); a DAD probe (unspecified source) must be sent to the target's solicited-node group; any
 * other solicitation goes to that group (resolution) or to the target itself (a unicast
 * reachability probe).
 */
export function nsDropReason(ns: NdpMessage): NsDropReason | null {
  if (ipv6ToBytes(ns.src)[0] === 0xff) return 'source-multicast'; // ff00::/8 (not "ff::", which is 00ff::)
  const group = solicitedNode(ns.target);
  if (ns.src === '::') return ns.dst === group ? null : 'dad-not-solicited-node';
  if (ns.dst !== group && ns.dst !== ns.target) return 'destination-not-target';
  return null;
}

function zeroChecksum(msg: Buffer): Buffer {
  const c = Buffer.from(msg);
  c.writeUInt16BE(0, 2);
  return c;
}

export interface NdpFields {
  ethDst: Buffer;
  ethSrc: Buffer;
  src: string;
  dst: string;
  type: typeof ICMPV6_NS | typeof ICMPV6_NA;
  flags?: number;
  target: string;
  /** Link-layer option: source (NS) or target (NA). Omitted when undefined. */
  lla?: Buffer;
  /** Always 255 for ND; settable only so tests can build invalid frames. */
  hopLimit?: number;
  /** Extension headers to put before the ICMPv6 header (each 8 bytes of PadN), e.g. [0] for Hop-by-Hop. */
  extensionHeaders?: readonly number[];
}

/** Encodes an NS or NA with hop limit 255 and a correct ICMPv6 checksum. */
export function encodeNdp(p: NdpFields): Buffer {
  const msgLen = 24 + (p.lla ? 8 : 0);
  const ext = p.extensionHeaders ?? [];
  const f = Buffer.alloc(ETH_HEADER_LEN + IPV6_HEADER_LEN + ext.length * 8 + msgLen);
  const srcB = ipv6ToBytes(p.src);
  const dstB = ipv6ToBytes(p.dst);
  const w = writeEthernet(f, p.ethDst, p.ethSrc, ETHERTYPE_IPV6);
  w.u32(0x60000000).u16(ext.length * 8 + msgLen).u8(ext[0] ?? NEXT_HEADER_ICMPV6).u8(p.hopLimit ?? 255).bytes(srcB).bytes(dstB);
  ext.forEach((_, i) => {
    // Next header, length 0 (8 bytes), and a PadN option covering the remaining 4 bytes.
    w.u8(ext[i + 1] ?? NEXT_HEADER_ICMPV6).u8(0).u8(1).u8(4).fill(0, 4);
  });
  const icmp = w.offset;
  w.u8(p.type).u8(0).u16(0).u8(p.type === ICMPV6_NA ? (p.flags ?? 0) : 0).fill(0, 3).bytes(ipv6ToBytes(p.target));
  if (p.lla) w.u8(p.type === ICMPV6_NS ? OPT_SOURCE_LLA : OPT_TARGET_LLA).u8(1).bytes(p.lla.subarray(0, 6));
  const msg = f.subarray(icmp);
  msg.writeUInt16BE(icmpv6Checksum(srcB, dstB, msg), 2);
  return f;
}

/**
 * The NA answering `ns` for `target` (owned by us at `mac`): Solicited + Override, Router = 0,
 * sent to the solicitor at its link-layer option, or at the frame's Ethernet source when the probe
 * carried none (unicast reachability probes may omit it, RFC 4861 7.2.4). A DAD probe (source ::)
 * is answered to all-nodes without Solicited, as 7.2.4 asks.
 */
export function naReply(ns: NdpMessage, mac: Buffer, target: string): Buffer {
  if (ns.src === '::') {
    return encodeNdp({ ethDst: ALL_NODES_MAC, ethSrc: mac, src: target, dst: ALL_NODES, type: ICMPV6_NA, flags: NA_FLAG_OVERRIDE, target, lla: mac });
  }
  return encodeNdp({
    ethDst: ns.lla ?? ns.ethSrc,
    ethSrc: mac,
    src: target,
    dst: ns.src,
    type: ICMPV6_NA,
    flags: NA_FLAG_SOLICITED | NA_FLAG_OVERRIDE,
    target,
    lla: mac,
  });
}

/** Unsolicited NA to all-nodes with Override: neighbours replace their cached link-layer address. */
export function unsolicitedNa(mac: Buffer, target: string): Buffer {
  return encodeNdp({ ethDst: ALL_NODES_MAC, ethSrc: mac, src: target, dst: ALL_NODES, type: ICMPV6_NA, flags: NA_FLAG_OVERRIDE, target, lla: mac });
}
