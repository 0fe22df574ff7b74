// The one address vocabulary: a Family, addresses as (family, bigint), and the parsing and
// formatting of addresses, prefixes and pool ranges that the API, the allocator, BGP and Layer 2
// share. One representation for IPv4 and IPv6, so ranges, sizes and arithmetic work the same for a
// /24 and an IPv6 /8. Parsing is strict, as Go's netip (and so Kubernetes' CEL ip()/cidr()): no
// zones, no shorthand IPv4 ("10.1"), no leading zeros, no surrounding spaces — an address that
// means something else than it looks like is worse than a clear refusal.
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Kubernetes' names (Service spec.ipFamilies). */
export type Family = 'IPv4' | 'IPv6';
export const FAMILIES: readonly Family[] = ['IPv4', 'IPv6'];

export interface Address {
  readonly family: Family;
  readonly value: bigint;
}

export const FAMILY_BITS: Readonly<Record<Family, number>> = { IPv4: 32, IPv6: 128 };
export const FAMILY_MAX: Readonly<Record<Family, bigint>> = { IPv4: (1n << 32n) - 1n, IPv6: (1n << 128n) - 1n };
export const familyBits = (f: Family): number => FAMILY_BITS[f];

/** The family of address text, without a full parse (for choosing a socket type or a codec). */
export function familyOf(text: string): Family {
  return text.includes(':') ? 'IPv6' : 'IPv4';
}

/**
 * Parses one address strictly (Go's netip.ParseAddr). IPv4-mapped IPv6 (::ffff:a.b.c.d) is parsed
 * too; API fields refuse it with parseApiAddress, as Kubernetes' CEL ip() does.
 */
export function parseAddress(text: string): Address | undefined {
  const kind = isIP(text);
  if (kind === 4) {
    const [a, b, c, d] = text.split('.').map(Number) as [number, number, number, number];
    return { family: 'IPv4', value: BigInt(((a << 24) >>> 0) + (b << 16) + (c << 8) + d) };
  }
  if (kind === 6 && !text.includes('%')) {
    // A dotted tail is rewritten as two hex groups first: ipaddr.js reads "::1.2.3.4" (IPv4-
    // compatible) as the IPv4-mapped ::ffff:1.2.3.4, where Go's netip (and so CEL) reads ::102:304.
    let hex = text;
    if (text.includes('.')) {
      const i = text.lastIndexOf(':');
      const v4 = parseAddress(text.slice(i + 1));
      if (v4?.family !== 'IPv4') return undefined;
      const n = Number(v4.value);
      hex = `${text.slice(0, i + 1)}${((n >>> 16) & 0xffff).toString(16)}:${(n & 0xffff).toString(16)}`;
    }
    return { family: 'IPv6', value: bytesToBigint(ipaddr.IPv6.parse(hex).toByteArray()) };
  }
  return undefined;
}

/** parseAddress, refusing IPv4-mapped IPv6 (::ffff:0:0/96) as Kubernetes' CEL isIP()/cidr() do. */
export function parseApiAddress(text: string): Address | undefined {
  const ip = parseAddress(text);
  return ip && !(ip.family === 'IPv6' && ip.value >> 32n === 0xffffn) ? ip : undefined;
}

/** The canonical text of user-entered `text` (spaces around it allowed) if it parses, else undefined. */
export function canonicalAddress(text: string): string | undefined {
  const a = parseAddress(text.trim());
  return a ? formatAddress(a.family, a.value) : undefined;
}

/**
 * Canonical text: dotted quad, or RFC 5952 (lower case, longest zero run compressed). Written out
 * rather than through ipaddr.js, whose formatter is three times slower: the allocator formats an
 * address for every assignment.
 */
export function formatAddress(family: Family, value: bigint): string {
  if (family === 'IPv4') {
    const n = Number(value);
    return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // Longest run of at least two zero hextets, the first one on a tie (RFC 5952 section 4.2).
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]): string => a.map((x) => x.toString(16)).join(':');
  if (bestStart === -1) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

export function formatAddr(a: Address): string {
  return formatAddress(a.family, a.value);
}

/** Network-order bytes (4 or 16) of an address. */
export function addressBytes(a: Address): Buffer {
  const n = FAMILY_BITS[a.family] / 8;
  const out = Buffer.alloc(n);
  let v = a.value;
  for (let i = n - 1; i >= 0; i--, v >>= 8n) out[i] = Number(v & 255n);
  return out;
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/**
 * Wire form (4 or 16 bytes) of address text, for codecs; throws a readable error when invalid.
 * Laxer than parseAddress where the wire does not care: a zone (fe80::1%eth0) is local to the
 * host and dropped, and leading zeros in IPv4 octets are read as decimal.
 */
export function addressToBytes(text: string): Buffer {
  const m = IPV4_RE.exec(text);
  if (m) {
    const b = Buffer.allocUnsafe(4);
    for (let i = 0; i < 4; i++) {
      const v = Number(m[i + 1]);
      if (v > 255) throw new Error(`invalid IPv4 address "${text}": octet ${v} is over 255`);
      b[i] = v;
    }
    return b;
  }
  if (text.includes(':')) {
    const bare = text.split('%')[0] ?? text;
    if (ipaddr.IPv6.isValid(bare)) return Buffer.from(ipaddr.IPv6.parse(bare).toByteArray());
  }
  throw new Error(`invalid IP address "${text}": expected dotted IPv4 or IPv6 text`);
}

/**
 * Text of 4 or 16 wire bytes (from `off`): dotted quad, or RFC 5952 with IPv4-mapped addresses in
 * their mixed form (::ffff:192.0.2.1, RFC 5952 section 5), as routers print them.
 */
export function bytesToAddress(b: Uint8Array, length: 4 | 16 = b.length === 4 ? 4 : 16, off = 0): string {
  if (length === 4) return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
  if (b.length < off + 16) throw new RangeError(`an IPv6 address has 16 bytes, got ${b.length - off}`);
  let mapped = b[off + 10] === 0xff && b[off + 11] === 0xff;
  for (let i = 0; mapped && i < 10; i++) mapped = b[off + i] === 0;
  if (mapped) return `::ffff:${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  return ipaddr.fromByteArray(Array.from(b.subarray(off, off + 16))).toString();
}

/** The address of network-order bytes (4 for IPv4, 16 for IPv6). */
export function addressFromBytes(b: Uint8Array): Address {
  if (b.length !== 4 && b.length !== 16) throw new RangeError(`an address is 4 or 16 bytes, got ${b.length}`);
  return { family: b.length === 4 ? 'IPv4' : 'IPv6', value: bytesToBigint(b) };
}

function bytesToBigint(b: ArrayLike<number>): bigint {
  let v = 0n;
  for (let i = 0; i < b.length; i++) v = (v << 8n) | BigInt(b[i] as number);
  return v;
}

/** An inclusive range of addresses of one family. */
export interface AddressRange {
  family: Family;
  first: bigint;
  last: bigint;
  /** The text it came from, for messages. */
  text: string;
}

export type RangeParse = { ok: true; range: AddressRange } | { ok: false; reason: string };

const RANGE_HELP = 'a CIDR (10.0.0.0/24, fd00::/120) or a range start-end of one family (10.0.0.10-10.0.0.20)';

/**
 * Parses a pool entry: `a.b.c.d/n`, `x::/n`, `start-end` or a single address (a /32 or /128),
 * trimmed. IPv4-mapped IPv6 is refused, as in API fields. The reason omits the value, which the
 * caller names.
 */
export function parseRange(text: string): RangeParse {
  const t = text.trim();
  if (t.includes('/')) {
    const [addr, lenText, extra] = t.split('/');
    const ip = addr !== undefined ? parseApiAddress(addr) : undefined;
    // Prefix lengths without leading zeros: Go's netip.ParsePrefix (CEL cidr()) refuses "/024".
    if (!ip || extra !== undefined || lenText === undefined || !/^(0|[1-9][0-9]{0,2})$/.test(lenText)) {
      return { ok: false, reason: `is not a valid CIDR; expected ${RANGE_HELP}` };
    }
    const bits = FAMILY_BITS[ip.family];
    const len = Number(lenText);
    if (len > bits) return { ok: false, reason: `has prefix length ${len}, longer than the ${bits} bits of an ${ip.family} address` };
    const mask = (1n << BigInt(bits - len)) - 1n;
    if ((ip.value & mask) !== 0n) {
      return { ok: false, reason: `has host bits set; the network address is ${formatAddress(ip.family, ip.value & ~mask)}/${len}` };
    }
    return { ok: true, range: { family: ip.family, first: ip.value, last: ip.value | mask, text: t } };
  }
  if (t.includes('-')) {
    const parts = t.split('-').map((p) => p.trim());
    if (parts.length !== 2) return { ok: false, reason: `is not a valid range; expected ${RANGE_HELP}` };
    const a = parseApiAddress(parts[0] as string);
    const b = parseApiAddress(parts[1] as string);
    if (!a || !b) return { ok: false, reason: `is not a valid range: ${JSON.stringify(!a ? parts[0] : parts[1])} is not an IP address; expected ${RANGE_HELP}` };
    if (a.family !== b.family) return { ok: false, reason: 'mixes IPv4 and IPv6; a range must be of one family' };
    if (a.value > b.value) return { ok: false, reason: 'has its start after its end; write start-end with start <= end' };
    return { ok: true, range: { family: a.family, first: a.value, last: b.value, text: t } };
  }
  const ip = parseApiAddress(t);
  if (!ip) return { ok: false, reason: `is not an address, CIDR or range; expected ${RANGE_HELP}` };
  return { ok: true, range: { family: ip.family, first: ip.value, last: ip.value, text: t } };
}

export function rangeSize(r: AddressRange): bigint {
  return r.last - r.first + 1n;
}

/** The minimal list of CIDRs covering a range exactly, as [network, prefixLength]. */
export function rangeToCidrs(r: AddressRange): Array<{ network: bigint; prefix: number }> {
  const bits = FAMILY_BITS[r.family];
  const out: Array<{ network: bigint; prefix: number }> = [];
  let cur = r.first;
  // At most 2 * bits blocks, so this loop is bounded.
  for (let guard = 0; cur <= r.last && guard < 2 * bits + 2; guard++) {
    let size = 0;
    while (size < bits && (cur & ((1n << BigInt(size + 1)) - 1n)) === 0n && cur + (1n << BigInt(size + 1)) - 1n <= r.last) size++;
    out.push({ network: cur, prefix: bits - size });
    cur += 1n << BigInt(size);
  }
  return out;
}
