// Pools compiled from their specs: parsed ranges, the free space per family, and the rules that
// decide which Services a pool may serve. Configuration errors name the pool, the field and the value.
import { matchesAny } from '../util/selector.ts';
import { isBuggyIPv4 } from './address.ts';
import { parseRange, type AddressRange, type Family } from '../util/address.ts';
import { FreeIntervals } from './intervals.ts';
import type { AllocateTo, Labels, PoolError, PoolSpec } from './types.ts';

/**
 * With avoidBuggyIPs, IPv4 addresses are numbered skipping every .0 and .255 (254 per /24), so the
 * free-space tree never sees them: no scanning past them, and requests for them are refused up front.
 * Otherwise an address is its own index.
 */
export interface IndexSpace {
  readonly skipsBuggy: boolean;
  /** True when the address may be handed out at all. */
  usable(v: bigint): boolean;
  toIndex(v: bigint): bigint;
  fromIndex(i: bigint): bigint;
  /** The index range of the usable addresses in [lo, hi], or undefined when there are none. */
  indexRange(lo: bigint, hi: bigint): [bigint, bigint] | undefined;
}

const identity: IndexSpace = {
  skipsBuggy: false,
  usable: () => true,
  toIndex: (v) => v,
  fromIndex: (i) => i,
  indexRange: (lo, hi) => [lo, hi],
};

const skipBuggy: IndexSpace = {
  skipsBuggy: true,
  usable: (v) => !isBuggyIPv4(v),
  toIndex: (v) => (v >> 8n) * 254n + (v & 255n) - 1n,
  fromIndex: (i) => ((i / 254n) << 8n) | ((i % 254n) + 1n),
  indexRange(lo, hi) {
    const lastLo = lo & 255n;
    const first = lastLo === 0n ? lo + 1n : lastLo === 255n ? lo + 2n : lo;
    const lastHi = hi & 255n;
    const last = lastHi === 255n ? hi - 1n : lastHi === 0n ? hi - 2n : hi;
    if (first > last) return undefined;
    return [this.toIndex(first), this.toIndex(last)];
  },
};

/** Free space and size of one family of one pool. */
export interface PoolFamily {
  readonly space: IndexSpace;
  /** Addresses the pool can hand out in this family (set once when the pool is compiled). */
  total: bigint;
  readonly free: FreeIntervals;
}

export interface CompiledPool {
  readonly name: string;
  readonly spec: PoolSpec;
  readonly autoAssign: boolean;
  readonly avoidBuggyIPs: boolean;
  readonly priority: number | undefined;
  /** True when allocateTo restricts the pool to some namespaces or Services. */
  readonly restricted: boolean;
  readonly ranges: readonly AddressRange[];
  readonly families: Readonly<Record<Family, PoolFamily | undefined>>;
}

const RANGE_HELP = 'a CIDR (10.0.0.0/24, fd00::/64), a range (10.0.0.10-10.0.0.20) or one address';

function isRestricted(a: AllocateTo | undefined): boolean {
  if (!a) return false;
  return (a.namespaces?.length ?? 0) > 0 || (a.namespaceSelectors?.length ?? 0) > 0 || (a.serviceSelectors?.length ?? 0) > 0;
}

/**
 * Whether a pool may serve a Service: the namespace condition (listed namespace OR a matching
 * namespace selector, when either is given) AND the service selectors (when given).
 */
export function poolAllows(pool: CompiledPool, namespace: string, nsLabels: Labels, svcLabels: Labels): boolean {
  const a = pool.spec.allocateTo;
  if (!a || !pool.restricted) return true;
  const names = a.namespaces ?? [];
  const nsSel = a.namespaceSelectors ?? [];
  if (names.length > 0 || nsSel.length > 0) {
    const byName = names.includes(namespace);
    const byLabel = nsSel.length > 0 && matchesAny(nsSel, nsLabels);
    if (!byName && !byLabel) return false;
  }
  return matchesAny(a.serviceSelectors, svcLabels);
}

/** Human description of a pool's restrictions, for refusal messages. */
export function describeRestriction(pool: CompiledPool): string {
  const a = pool.spec.allocateTo ?? {};
  const parts: string[] = [];
  if (a.namespaces?.length) parts.push(`namespaces [${a.namespaces.join(', ')}]`);
  if (a.namespaceSelectors?.length) parts.push(`namespaces labelled ${JSON.stringify(a.namespaceSelectors)}`);
  if (a.serviceSelectors?.length) parts.push(`Services labelled ${JSON.stringify(a.serviceSelectors)}`);
  return parts.join(' and ');
}

export interface CompileResult {
  pools: CompiledPool[];
  errors: PoolError[];
}

/** Compiles and validates pool specs: names, address entries, overlaps within and across pools. */
export function compilePools(specs: readonly PoolSpec[]): CompileResult {
  const errors: PoolError[] = [];
  const pools: CompiledPool[] = [];
  const seen = new Set<string>();
  const all: Array<AddressRange & { pool: string }> = [];
  for (const spec of specs) {
    const name = spec.name;
    if (!name) {
      errors.push({ pool: '', field: 'metadata.name', value: '', message: 'pool has no name; give every pool a unique name' });
      continue;
    }
    if (seen.has(name)) {
      errors.push({ pool: name, field: 'metadata.name', value: name, message: `pool name "${name}" is used twice; pool names must be unique` });
      continue;
    }
    seen.add(name);
    const prio = spec.allocateTo?.priority;
    if (prio !== undefined && (!Number.isInteger(prio) || prio < 0)) {
      errors.push({ pool: name, field: 'spec.allocateTo.priority', value: String(prio), message: 'priority must be a non-negative integer (lower is tried first)' });
    }
    if (spec.addresses.length === 0) {
      errors.push({ pool: name, field: 'spec.addresses', value: '[]', message: `pool "${name}" has no addresses; list at least one ${RANGE_HELP}` });
    }
    const ranges: AddressRange[] = [];
    spec.addresses.forEach((text, i) => {
      const p = parseRange(text);
      if (!p.ok) {
        errors.push({ pool: name, field: `spec.addresses[${i}]`, value: text, message: `"${text}" ${p.reason}` });
      } else {
        ranges.push(p.range);
        all.push({ ...p.range, pool: name });
      }
    });
    const avoid = spec.avoidBuggyIPs === true;
    const families: Record<Family, PoolFamily | undefined> = { IPv4: undefined, IPv6: undefined };
    for (const family of ['IPv4', 'IPv6'] as const) {
      const mine = ranges.filter((r) => r.family === family);
      if (mine.length === 0) continue;
      const space = avoid && family === 'IPv4' ? skipBuggy : identity;
      families[family] = { space, total: 0n, free: new FreeIntervals() };
    }
    pools.push({
      name,
      spec,
      autoAssign: spec.autoAssign !== false,
      avoidBuggyIPs: avoid,
      priority: prio,
      restricted: isRestricted(spec.allocateTo),
      ranges,
      families,
    });
  }
  // Overlaps: sort every range by family then start; a range overlaps its predecessor iff it starts
  // at or before the furthest end seen so far.
  all.sort((a, b) => (a.family !== b.family ? (a.family < b.family ? -1 : 1) : a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  let prev: (AddressRange & { pool: string }) | undefined;
  for (const r of all) {
    if (prev && prev.family === r.family && r.first <= prev.last) {
      const where = prev.pool === r.pool ? `another entry of pool "${r.pool}"` : `pool "${prev.pool}"`;
      errors.push({
        pool: r.pool,
        field: 'spec.addresses',
        value: r.text,
        message: `"${r.text}" overlaps "${prev.text}" of ${where}; pools and their entries must not overlap, remove or narrow one of them`,
      });
    }
    if (!prev || prev.family !== r.family || r.last > prev.last) prev = r;
  }
  if (errors.length > 0) return { pools: [], errors };
  // Free space: every usable address of every range, before any assignment is re-applied.
  for (const p of pools) {
    for (const family of ['IPv4', 'IPv6'] as const) {
      const f = p.families[family];
      if (!f) continue;
      let total = 0n;
      for (const r of p.ranges) {
        if (r.family !== family) continue;
        const ir = f.space.indexRange(r.first, r.last);
        if (!ir) continue;
        f.free.addRange(ir[0], ir[1]);
        total += ir[1] - ir[0] + 1n;
      }
      f.total = total;
    }
  }
  return { pools, errors };
}

/** Orders pools for automatic assignment: by priority (unset last), then by name. */
export function byPriority(a: CompiledPool, b: CompiledPool): number {
  const pa = a.priority ?? Number.POSITIVE_INFINITY;
  const pb = b.priority ?? Number.POSITIVE_INFINITY;
  if (pa !== pb) return pa < pb ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}
