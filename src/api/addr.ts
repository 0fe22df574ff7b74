// The API's address policy (reserved space, largest pool entries) on top of the address vocabulary
// (src/util/address.ts), and Go-style durations ("90s").
import { parseRange, rangeSize, type Family } from '../util/address.ts';

/** True for addresses that must never be handed out: unspecified, loopback, multicast, link-local. */
export function reservedKind(family: Family, v: bigint): string | undefined {
  if (family === 'IPv4') {
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
  IPv4: { size: 1n << 24n, prefix: 8 },
  IPv6: { size: 1n << 80n, prefix: 48 },
};

/** Address space that can never be a service address (also in the IPPool CRD's CEL rules). */
export const RESERVED: ReadonlyArray<{ family: Family; first: bigint; last: bigint; cidr: string; what: string }> = [
  { family: 'IPv4', first: 0n, last: 0x00ffffffn, cidr: '0.0.0.0/8', what: '0.0.0.0/8 ("this network")' },
  { family: 'IPv4', first: 0x7f000000n, last: 0x7fffffffn, cidr: '127.0.0.0/8', what: 'loopback 127.0.0.0/8' },
  { family: 'IPv4', first: 0xa9fe0000n, last: 0xa9feffffn, cidr: '169.254.0.0/16', what: 'link-local 169.254.0.0/16' },
  { family: 'IPv4', first: 0xe0000000n, last: 0xffffffffn, cidr: '224.0.0.0/3', what: 'multicast and reserved 224.0.0.0/3' },
  { family: 'IPv6', first: 0n, last: 1n, cidr: '::/127', what: 'unspecified/loopback ::/127' },
  { family: 'IPv6', first: 0xfe80n << 112n, last: (0xfebfn << 112n) | ((1n << 112n) - 1n), cidr: 'fe80::/10', what: 'link-local fe80::/10' },
  { family: 'IPv6', first: 0xffn << 120n, last: (1n << 128n) - 1n, cidr: 'ff00::/8', what: 'multicast ff00::/8' },
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
    return `is too large (${rangeSize(r)} addresses); an ${r.family} range may hold at most 2^${max.size.toString(2).length - 1} addresses (a /${max.prefix}); list the part you use`;
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
