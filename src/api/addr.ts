// Address parsing for the API: strict IPv4/IPv6 literals, CIDRs and `start-end` ranges as bigints,
// so the validator and the allocator never re-parse text. Also Go-style durations ("90s").
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

export type Family = 4 | 6;

/** An inclusive range of addresses of one family. */
export interface AddrRange {
  family: Family;
  first: bigint;
  last: bigint;
  /** The text it came from, for messages. */
  text: string;
}

export const familyBits = (f: Family): number => (f === 4 ? 32 : 128);

/**
 * Parses a single address strictly (no zones, no shorthand IPv4, no leading zeros), as Go's
 * netip.ParseAddr does. IPv4-mapped IPv6 (::ffff:a.b.c.d) is parsed too; API fields refuse it
 * with parseApiIP, as Kubernetes' CEL ip() does.
 */
export function parseIP(text: string): { family: Family; value: bigint } | undefined {
  const kind = isIP(text);
  if (kind === 4) {
    const [a, b, c, d] = text.split('.').map(Number) as [number, number, number, number];
    return { family: 4, value: BigInt(((a << 24) >>> 0) + (b << 16) + (c << 8) + d) };
  }
  if (kind === 6 && !text.includes('%')) {
    // A dotted tail is rewritten as two hex groups first: ipaddr.js reads "::1.2.3.4" (IPv4-
    // compatible) as the IPv4-mapped ::ffff:1.2.3.4, where Go's netip (and so CEL) reads ::102:304.
    let hex = text;
    if (text.includes('.')) {
      const i = text.lastIndexOf(':');
      const v4 = parseIP(text.slice(i + 1));
      if (v4?.family !== 4) return undefined;
      const n = Number(v4.value);
      hex = `${text.slice(0, i + 1)}${((n >>> 16) & 0xffff).toString(16)}:${(n & 0xffff).toString(16)}`;
    }
    const bytes = ipaddr.IPv6.parse(hex).toByteArray();
    let v = 0n;
    for (const x of bytes) v = (v << 8n) | BigInt(x);
    return { family: 6, value: v };
  }
  return undefined;
}

/** parseIP, refusing IPv4-mapped IPv6 (::ffff:0:0/96) as Kubernetes' CEL isIP()/cidr() do. */
export function parseApiIP(text: string): { family: Family; value: bigint } | undefined {
  const ip = parseIP(text);
  return ip && !(ip.family === 6 && ip.value >> 32n === 0xffffn) ? ip : undefined;
}

/** Canonical text of an address (RFC 5952 for IPv6). */
export function formatIP(family: Family, value: bigint): string {
  if (family === 4) {
    const n = Number(value);
    return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
  }
  const bytes: number[] = [];
  for (let i = 15; i >= 0; i--) bytes.push(Number((value >> BigInt(i * 8)) & 255n));
  return ipaddr.fromByteArray(bytes).toString();
}

export type RangeParse = { ok: true; range: AddrRange } | { ok: false; reason: string };

const rangeHelp = 'a CIDR (10.0.0.0/24, fd00::/120) or a range start-end of one family (10.0.0.10-10.0.0.20)';

/** Parses `a.b.c.d/n`, `x::/n`, `start-end` or a single address (a /32 or /128). */
export function parseRange(text: string): RangeParse {
  const t = text.trim();
  if (t.includes('/')) {
    const [addr, lenText, extra] = t.split('/');
    const ip = addr !== undefined ? parseApiIP(addr) : undefined;
    // Prefix lengths without leading zeros: Go's netip.ParsePrefix (CEL cidr()) refuses "/024".
    if (!ip || extra !== undefined || lenText === undefined || !/^(0|[1-9][0-9]{0,2})$/.test(lenText)) {
      return { ok: false, reason: `is not a valid CIDR; expected ${rangeHelp}` };
    }
    const bits = familyBits(ip.family);
    const len = Number(lenText);
    if (len > bits) return { ok: false, reason: `has prefix length ${len}, longer than the ${bits} bits of an IPv${ip.family} address` };
    const hostBits = BigInt(bits - len);
    const mask = (1n << hostBits) - 1n;
    if ((ip.value & mask) !== 0n) {
      return { ok: false, reason: `has host bits set; the network address is ${formatIP(ip.family, ip.value & ~mask)}/${len}` };
    }
    return { ok: true, range: { family: ip.family, first: ip.value, last: ip.value | mask, text: t } };
  }
  if (t.includes('-')) {
    const parts = t.split('-').map((p) => p.trim());
    if (parts.length !== 2) return { ok: false, reason: `is not a valid range; expected ${rangeHelp}` };
    const a = parseApiIP(parts[0] as string);
    const b = parseApiIP(parts[1] as string);
    if (!a || !b) return { ok: false, reason: `is not a valid range: ${!a ? parts[0] : parts[1]} is not an IP address; expected ${rangeHelp}` };
    if (a.family !== b.family) return { ok: false, reason: 'mixes IPv4 and IPv6; a range must be of one family' };
    if (a.value > b.value) return { ok: false, reason: 'has its start after its end; write start-end with start <= end' };
    return { ok: true, range: { family: a.family, first: a.value, last: b.value, text: t } };
  }
  const ip = parseApiIP(t);
  if (!ip) return { ok: false, reason: `is not an address, CIDR or range; expected ${rangeHelp}` };
  return { ok: true, range: { family: ip.family, first: ip.value, last: ip.value, text: t } };
}

export function rangeSize(r: AddrRange): bigint {
  return r.last - r.first + 1n;
}

/** The minimal list of CIDRs covering a range exactly, as [network, prefixLength]. */
export function rangeToCidrs(r: AddrRange): Array<{ network: bigint; prefix: number }> {
  const bits = familyBits(r.family);
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

/** True for addresses that must never be handed out: unspecified, loopback, multicast, link-local. */
export function reservedKind(family: Family, v: bigint): string | undefined {
  if (family === 4) {
    const top = Number(v >> 24n);
    if (v === 0n) return 'the unspecified address';
    if (top === 127) return 'loopback (127.0.0.0/8)';
    if (top >= 224 && top <= 239) return 'multicast (224.0.0.0/4)';
    if (v >> 16n === 0xa9fen) return 'link-local (169.254.0.0/16)';
    if (v === 0xffffffffn) return 'the broadcast address';
    return undefined;
  }
  if (v === 0n) return 'the unspecified address';
  if (v === 1n) return 'loopback (::1)';
  if (v >> 120n === 0xffn) return 'multicast (ff00::/8)';
  if (v >> 118n === 0x3fan) return 'link-local (fe80::/10)';
  return undefined;
}

/** Largest pool entries accepted: bigger ones are almost surely a typo (0.0.0.0/0, fd00::/8). */
export const MAX_POOL_SIZE: Record<Family, { size: bigint; prefix: number }> = {
  4: { size: 1n << 24n, prefix: 8 },
  6: { size: 1n << 80n, prefix: 48 },
};

/** Address space that can never be a service address (also in the IPPool CRD's CEL rules). */
export const RESERVED: ReadonlyArray<{ family: Family; first: bigint; last: bigint; cidr: string; what: string }> = [
  { family: 4, first: 0n, last: 0x00ffffffn, cidr: '0.0.0.0/8', what: '0.0.0.0/8 ("this network")' },
  { family: 4, first: 0x7f000000n, last: 0x7fffffffn, cidr: '127.0.0.0/8', what: 'loopback 127.0.0.0/8' },
  { family: 4, first: 0xa9fe0000n, last: 0xa9feffffn, cidr: '169.254.0.0/16', what: 'link-local 169.254.0.0/16' },
  { family: 4, first: 0xe0000000n, last: 0xffffffffn, cidr: '224.0.0.0/3', what: 'multicast and reserved 224.0.0.0/3' },
  { family: 6, first: 0n, last: 1n, cidr: '::/127', what: 'unspecified/loopback ::/127' },
  { family: 6, first: 0xfe80n << 112n, last: (0xfebfn << 112n) | ((1n << 112n) - 1n), cidr: 'fe80::/10', what: 'link-local fe80::/10' },
  { family: 6, first: 0xffn << 120n, last: (1n << 128n) - 1n, cidr: 'ff00::/8', what: 'multicast ff00::/8' },
];

/**
 * Why a pool entry cannot be used, or undefined: malformed (parseRange), too large (MAX_POOL_SIZE)
 * or overlapping RESERVED space. The same checks as the IPPool CRD's CEL rules on an entry.
 */
export function poolEntryProblem(text: string): string | undefined {
  const p = parseRange(text);
  if (!p.ok) return p.reason;
  const r = p.range;
  const max = MAX_POOL_SIZE[r.family];
  if (rangeSize(r) > max.size) {
    return `is too large (${rangeSize(r)} addresses); an IPv${r.family} range may hold at most 2^${max.size.toString(2).length - 1} addresses (a /${max.prefix}); list the part you use`;
  }
  const bad = RESERVED.find((x) => x.family === r.family && r.first <= x.last && x.first <= r.last);
  if (bad) return `overlaps ${bad.what}, which cannot be a service address; use unicast addresses`;
  return undefined;
}

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const unitNs: Record<string, bigint> = { ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n };
export const durationPattern = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';

/** Go-style duration ("90s", "1m30s", "500ms") to milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (!new RegExp(durationPattern).test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) total += Number(m[1]) * (unitMs[m[2] as string] as number);
  return Math.round(total);
}

/**
 * Exact nanoseconds of a duration, as CEL's duration() (Go's time.ParseDuration) reads it:
 * fractions below a nanosecond are dropped. For bounds checks that must agree with the CRD's rules.
 */
export function parseDurationNs(text: string): bigint | undefined {
  if (!new RegExp(durationPattern).test(text)) return undefined;
  let total = 0n;
  for (const m of text.matchAll(/([0-9]+)(?:\.([0-9]+))?(ms|s|m|h)/g)) {
    const unit = unitNs[m[3] as string] as bigint;
    const frac = m[2] ?? '';
    total += BigInt(m[1] as string) * unit + (frac ? (BigInt(frac) * unit) / 10n ** BigInt(frac.length) : 0n);
  }
  return total;
}
