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

/** Parses a single address strictly (no zones, no shorthand IPv4). */
export function parseIP(text: string): { family: Family; value: bigint } | undefined {
  const kind = isIP(text);
  if (kind === 4) {
    const [a, b, c, d] = text.split('.').map(Number) as [number, number, number, number];
    return { family: 4, value: BigInt(((a << 24) >>> 0) + (b << 16) + (c << 8) + d) };
  }
  if (kind === 6 && !text.includes('%')) {
    const bytes = ipaddr.IPv6.parse(text).toByteArray();
    let v = 0n;
    for (const x of bytes) v = (v << 8n) | BigInt(x);
    return { family: 6, value: v };
  }
  return undefined;
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
    const ip = addr !== undefined ? parseIP(addr) : undefined;
    if (!ip || extra !== undefined || lenText === undefined || !/^\d{1,3}$/.test(lenText)) {
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
    const a = parseIP(parts[0] as string);
    const b = parseIP(parts[1] as string);
    if (!a || !b) return { ok: false, reason: `is not a valid range: ${!a ? parts[0] : parts[1]} is not an IP address; expected ${rangeHelp}` };
    if (a.family !== b.family) return { ok: false, reason: 'mixes IPv4 and IPv6; a range must be of one family' };
    if (a.value > b.value) return { ok: false, reason: 'has its start after its end; write start-end with start <= end' };
    return { ok: true, range: { family: a.family, first: a.value, last: b.value, text: t } };
  }
  const ip = parseIP(t);
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

const unitMs: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
export const durationPattern = '^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$';

/** Go-style duration ("90s", "1m30s", "500ms") to milliseconds; undefined when malformed. */
export function parseDuration(text: string): number | undefined {
  if (!new RegExp(durationPattern).test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(/([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)/g)) total += Number(m[1]) * (unitMs[m[2] as string] as number);
  return Math.round(total);
}
