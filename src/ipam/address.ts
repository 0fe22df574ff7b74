// IP addresses as (family, bigint): one representation for IPv4 and IPv6 so that ranges, sizes and
// arithmetic work the same for a /24 and an IPv6 /8. Parsing is strict (no shorthand such as "10.1",
// no leading zeros, no zone IDs) because a pool or a request that means something else than it
// looks like is worse than a clear refusal.

export type Family = 'IPv4' | 'IPv6';

export interface Address {
  readonly family: Family;
  readonly value: bigint;
}

export const FAMILY_BITS: Readonly<Record<Family, number>> = { IPv4: 32, IPv6: 128 };
export const FAMILY_MAX: Readonly<Record<Family, bigint>> = { IPv4: (1n << 32n) - 1n, IPv6: (1n << 128n) - 1n };

const V4_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEXTET = /^[0-9a-fA-F]{1,4}$/;

function parseV4(s: string): bigint | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!V4_OCTET.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseHextets(s: string): bigint[] | undefined {
  if (s === '') return [];
  const out: bigint[] = [];
  for (const h of s.split(':')) {
    if (!HEXTET.test(h)) return undefined;
    out.push(BigInt(parseInt(h, 16)));
  }
  return out;
}

function parseV6(s: string): bigint | undefined {
  if (s.length > 45) return undefined;
  let text = s;
  let tail: bigint[] = [];
  // An embedded IPv4 address (::ffff:1.2.3.4) stands for the last two hextets.
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) !== -1) {
    const v4 = parseV4(text.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [v4 >> 16n, v4 & 0xffffn];
    text = text.slice(0, lastColon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const dbl = text.indexOf('::');
  let groups: bigint[];
  if (dbl === -1) {
    const g = parseHextets(text);
    if (!g) return undefined;
    groups = [...g, ...tail];
    if (groups.length !== 8) return undefined;
  } else {
    if (text.indexOf('::', dbl + 1) !== -1) return undefined;
    const head = parseHextets(text.slice(0, dbl));
    const rest = parseHextets(text.slice(dbl + 2));
    if (!head || !rest) return undefined;
    const known = head.length + rest.length + tail.length;
    if (known > 7) return undefined;
    groups = [...head, ...new Array<bigint>(8 - known).fill(0n), ...rest, ...tail];
  }
  let v = 0n;
  for (const g of groups) v = (v << 16n) | g;
  return v;
}

/** Parses one IPv4 or IPv6 address; undefined when it is not a plain, fully written address. */
export function parseAddress(text: string): Address | undefined {
  const s = text.trim();
  if (s.includes(':')) {
    const v = parseV6(s);
    return v === undefined ? undefined : { family: 'IPv6', value: v };
  }
  const v = parseV4(s);
  return v === undefined ? undefined : { family: 'IPv4', value: v };
}

/** Canonical text: dotted quad, or RFC 5952 (lower case, longest zero run compressed). */
export function formatAddress(family: Family, value: bigint): string {
  if (family === 'IPv4') {
    return `${(value >> 24n) & 255n}.${(value >> 16n) & 255n}.${(value >> 8n) & 255n}.${value & 255n}`;
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

/** The canonical text of `text` if it parses, else undefined. */
export function canonicalAddress(text: string): string | undefined {
  const a = parseAddress(text);
  return a ? formatAddr(a) : undefined;
}

/** MetalLB's avoidBuggyIPs: an IPv4 address ending in .0 or .255 confuses some old firmwares. */
export function isBuggyIPv4(value: bigint): boolean {
  const last = value & 255n;
  return last === 0n || last === 255n;
}
