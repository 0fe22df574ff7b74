// CEL for the IPPool CRD's x-kubernetes-validations, generated here so the long expressions are
// written once, from the same tables (MAX_POOL_SIZE, RESERVED) as their TypeScript twin
// (poolEntryProblem and poolOverlap).
//
// Kubernetes' CEL has ip()/cidr() but no ordering of addresses, so every address becomes a
// sortable string key: "4" or "6" (the family) then its bits as '0'/'1' (32 or 128 of them).
// Within a family string order is address order; "4..." < "6..." keeps the families apart.
// Bit L of address a is 1 iff masking a to L bits gives a network outside a's /(L+1), and the
// bits are unrolled over literal prefix lengths because the API server's cost estimator only
// bounds strings it can size: anything from split(), string(int) or string(ip) counts as
// unbounded and makes a rule "too costly" (so no split, no string(), and no cel.bind either:
// `[init].map(v, body)[0]` binds v once).
import { MAX_POOL_SIZE, RESERVED } from './addr.ts';
import { familyBits, type Family } from '../util/address.ts';

let seq = 0;
/** A fresh variable name: nested comprehensions must not shadow each other. */
const v = (base: string) => `${base}${seq++}`;
const ones = (n: number) => `'${'1'.repeat(n)}'`;
const zeros = (n: number) => `'${'0'.repeat(n)}'`;

/** The bits of address text `a` (of a known family) as a '0'/'1' string. */
function bits(a: string, n: number): string {
  const out: string[] = [];
  for (let l = 0; l < n; l++) out.push(`(cidr(${a}+'/${l + 1}').masked().containsIP(cidr(${a}+'/${l}').masked().ip())?'0':'1')`);
  return out.join('+');
}

/** The key of address text `a` (a valid address). */
export const addrKey = (a: string) => {
  const z = v('z');
  return `[${a}].map(${z}, ip(${z}).family() == 4 ? '4' + ${bits(z, 32)} : '6' + ${bits(z, 128)})[0]`;
};

/** The key of an address value (for the RESERVED table and tests). */
export function keyOf(family: Family, value: bigint): string {
  return `${family === 'IPv4' ? 4 : 6}${value.toString(2).padStart(familyBits(family), '0')}`;
}

// Entry forms, on a trimmed entry text `t` (parseRange trims too). Parts by indexOf/substring,
// whose result sizes the estimator knows (split()'s it does not).
const isCidr = (t: string) => `${t}.contains('/')`;
const isRange = (t: string) => `(!${t}.contains('/') && ${t}.contains('-'))`;
const partA = (t: string) => `${t}.substring(0, ${t}.indexOf('-')).trim()`;
const partB = (t: string) => `${t}.substring(${t}.indexOf('-') + 1).trim()`;

/** The entry is a CIDR, a range of two addresses or one address (host bits and order aside). */
export const entryWellFormed = (t: string) =>
  `(${isCidr(t)} ? isCIDR(${t}) : ${t}.contains('-') ? (${t}.indexOf('-') == ${t}.lastIndexOf('-') && isIP(${partA(t)}) && isIP(${partB(t)})) : isIP(${t}))`;
/** For a well-formed entry: a range's two ends are of one family. */
export const entryOneFamily = (t: string) => `(!${isRange(t)} || ip(${partA(t)}).family() == ip(${partB(t)}).family())`;

/**
 * "firstKey|lastKey" of a well-formed, one-family entry (a CIDR's host bits are ignored). One
 * string, not a list: the estimator loses the element sizes of nested lists, not of strings (and
 * join() it never sizes). The key expression (11 KB of text) appears twice: first and end.
 */
export function entryPair(t: string): string {
  const f = v('f');
  const firstAddr = `(${isCidr(t)} ? ${t}.substring(0, ${t}.indexOf('/')) : ${t}.contains('-') ? ${partA(t)} : ${t})`;
  // A CIDR of prefix p: the first p bits, then all 0 (first) or all 1 (last).
  const p = `cidr(${t}).prefixLength()`;
  const head = `${f}.substring(0, 1 + ${p})`;
  const cidrPair = `${head} + ${zeros(128)}.substring(0, size(${f}) - 1 - ${p}) + '|' + ${head} + ${ones(128)}.substring(0, size(${f}) - 1 - ${p})`;
  return `[${addrKey(firstAddr)}].map(${f}, ${isRange(t)} ? ${f} + '|' + ${addrKey(partB(t))} : ${isCidr(t)} ? ${cidrPair} : ${f} + '|' + ${f})[0]`;
}

const first = (pair: string) => `${pair}.substring(0, ${pair}.indexOf('|'))`;
const last = (pair: string) => `${pair}.substring(${pair}.indexOf('|') + 1)`;

/** For the first and last keys of an entry (first <= last): it holds at most MAX_POOL_SIZE addresses. */
function sizeOk(f: string, l: string): string {
  const perFamily = (fam: Family) => {
    const p = MAX_POOL_SIZE[fam].prefix;
    if (MAX_POOL_SIZE[fam].size !== 1n << BigInt(familyBits(fam) - p)) throw new Error(`MAX_POOL_SIZE[${fam}] must be a power of two`);
    // last - first < 2^(bits-p) iff both are in one /p, or in adjacent ones with the low part
    // of last below that of first. Adjacent /p prefixes read P 0 1..1 and P 1 0..0.
    const [ah, bh, i] = [`${f}.substring(1, ${p + 1})`, `${l}.substring(1, ${p + 1})`, v('i')];
    const adjacent = `[${Array.from({ length: p }, (_, n) => n).join(', ')}].exists(${i}, ${ah}.substring(0, ${p - 1} - ${i}) == ${bh}.substring(0, ${p - 1} - ${i}) && ${ah}.substring(${p - 1} - ${i}, ${p} - ${i}) == '0' && ${bh}.substring(${p - 1} - ${i}, ${p} - ${i}) == '1' && ${ah}.substring(${p} - ${i}) == ${ones(p)}.substring(0, ${i}) && ${bh}.substring(${p} - ${i}) == ${zeros(p)}.substring(0, ${i}))`;
    return `(${ah} == ${bh} || (${adjacent} && ${l}.substring(${p + 1}) < ${f}.substring(${p + 1})))`;
  };
  return `(${f}.startsWith('4') ? ${perFamily('IPv4')} : ${perFamily('IPv6')})`;
}

const RESERVED_KEYS = `[${RESERVED.map((r) => `'${keyOf(r.family, r.first)}|${keyOf(r.family, r.last)}'`).join(', ')}]`;

export interface CelRule {
  rule: string;
  message: string;
}

/** The rules on one IPPool entry (self: the entry's text). */
export function poolEntryRules(): CelRule[] {
  const t = v('t');
  const wf = entryWellFormed(t);
  const ok = `${wf} && ${entryOneFamily(t)}`;
  const on = (body: string) => `[self.trim()].all(${t}, ${body})`;
  // Binds f, l: the entry's first and last keys.
  const withKeys = (p: (f: string, l: string) => string) => {
    const [pr, f, l] = [v('pr'), v('f'), v('l')];
    return `[${entryPair(t)}].all(${pr}, [${first(pr)}].all(${f}, [${last(pr)}].all(${l}, ${p(f, l)})))`;
  };
  const r = v('r');
  return [
    { rule: on(wf), message: 'must be a CIDR (10.0.0.0/24, fd00::/120), a range start-end of one family (10.0.0.10-10.0.0.20) or one address' },
    { rule: on(`!(${isRange(t)} && ${wf}) || ${entryOneFamily(t)}`), message: 'mixes IPv4 and IPv6; a range must be of one family' },
    { rule: on(`!(${isCidr(t)} && isCIDR(${t})) || cidr(${t}) == cidr(${t}).masked()`), message: 'has host bits set; write the network address of the CIDR (e.g. 10.0.0.0/24, not 10.0.0.1/24)' },
    { rule: on(`!(${isRange(t)} && ${ok}) || ${withKeys((f, l) => `${f} <= ${l}`)}`), message: 'has its start after its end; write start-end with start <= end' },
    {
      rule: on(`!(${ok}) || ${withKeys((f, l) => `${l} < ${f} || ${sizeOk(f, l)}`)}`),
      message: `is too large: an IPv4 entry may hold at most 2^${familyBits('IPv4') - MAX_POOL_SIZE.IPv4.prefix} addresses (a /${MAX_POOL_SIZE.IPv4.prefix}), an IPv6 entry 2^${familyBits('IPv6') - MAX_POOL_SIZE.IPv6.prefix} (a /${MAX_POOL_SIZE.IPv6.prefix}); list the part you use`,
    },
    {
      rule: on(`!(${ok}) || ${withKeys((f, l) => `${l} < ${f} || ${RESERVED_KEYS}.all(${r}, ${l} < ${first(r)} || ${last(r)} < ${f})`)}`),
      message: `overlaps reserved address space (${RESERVED.map((x) => x.cidr).join(', ')}), which cannot be a service address; use unicast addresses`,
    },
  ];
}

/**
 * The rule on an IPPool spec: its entries do not overlap each other. Pairwise comparison would
 * need the list of keys bound to a variable, and the estimator loses the sizes inside a bound
 * list, so: tag every entry's first key "a" and last key "b", sort them all; entries are
 * disjoint (as closed ranges) iff the tags then alternate a, b, a, b... Each entry's keys are
 * taken low-high, so a backwards range (refused by its own rule) is not also reported here.
 */
export function poolOverlapRule(): CelRule {
  const [a, t] = [v('a'), v('t')];
  const good = `self.addresses.map(${a}, ${a}.trim()).filter(${t}, ${entryWellFormed(t)} && ${entryOneFamily(t)})`;
  const [t2, pr, i, e] = [v('t'), v('pr'), v('i'), v('e')];
  const lo = `(${first(pr)} < ${last(pr)} ? ${first(pr)} : ${last(pr)})`;
  const hi = `(${first(pr)} < ${last(pr)} ? ${last(pr)} : ${first(pr)})`;
  const ends = `${good}.map(${t2}, [${entryPair(t2)}].map(${pr}, [${lo} + 'a', ${hi} + 'b'])[0]).flatten()`;
  return {
    rule: `${ends}.sort().all(${i}, ${e}, ${e}.endsWith(${i} % 2 == 0 ? 'a' : 'b'))`,
    message: 'has entries that overlap each other; the entries of a pool must not overlap (remove or narrow one)',
  };
}
