// Route attributes, validated and interned: routes with equal attributes share one AttrSet, so
// 100k routes cost one object, and packing groups them by identity.
import { Origin as OriginCode } from './codec/constants.ts';
import { parseCommunity, parseLargeCommunity, type LargeCommunity } from './codec/communities.ts';
import { parseAddress } from './codec/prefix.ts';
import type { RouteAttributes } from './types.ts';

export interface AttrSet {
  readonly id: number;
  readonly key: string;
  readonly origin: number;
  readonly nextHop4?: Buffer;
  readonly nextHop6?: Buffer;
  readonly nextHop6LinkLocal?: Buffer;
  readonly med?: number;
  readonly localPref?: number;
  readonly communities: readonly number[];
  readonly largeCommunities: readonly LargeCommunity[];
}

const ORIGINS: Record<string, number> = { igp: OriginCode.IGP, egp: OriginCode.EGP, incomplete: OriginCode.INCOMPLETE };

function u32(name: string, v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`${name} must be an integer 0..4294967295, got ${v}`);
  return v;
}

export class AttrTable {
  private readonly byKey = new Map<string, AttrSet>();
  private readonly byObject = new WeakMap<RouteAttributes, AttrSet>();
  private nextId = 1;

  /** Validates and interns; throws an Error naming the bad field. */
  intern(a: RouteAttributes = {}): AttrSet {
    const cached = this.byObject.get(a);
    if (cached) return cached;
    let nh4: string | undefined;
    let nh6: string | undefined;
    let nhLL: string | undefined;
    if (typeof a.nextHop === 'string') {
      if (parseAddress(a.nextHop).length === 4) nh4 = a.nextHop;
      else nh6 = a.nextHop;
    } else if (a.nextHop) {
      nh4 = a.nextHop.ipv4;
      nh6 = a.nextHop.ipv6;
      nhLL = a.nextHop.ipv6LinkLocal;
    }
    const nextHop4 = nh4 !== undefined ? parseAddress(nh4) : undefined;
    if (nextHop4 && nextHop4.length !== 4) throw new Error(`nextHop.ipv4 "${nh4}" is not an IPv4 address`);
    const nextHop6 = nh6 !== undefined ? parseAddress(nh6) : undefined;
    if (nextHop6 && nextHop6.length !== 16) throw new Error(`nextHop.ipv6 "${nh6}" is not an IPv6 address`);
    const nextHop6LinkLocal = nhLL !== undefined ? parseAddress(nhLL) : undefined;
    if (nextHop6LinkLocal && (nextHop6LinkLocal.length !== 16 || nextHop6LinkLocal[0] !== 0xfe || ((nextHop6LinkLocal[1] ?? 0) & 0xc0) !== 0x80)) {
      throw new Error(`nextHop.ipv6LinkLocal "${nhLL}" is not an IPv6 link-local (fe80::/10) address`);
    }
    const origin = ORIGINS[a.origin ?? 'igp'];
    if (origin === undefined) throw new Error(`origin must be igp, egp or incomplete, got "${a.origin}"`);
    const med = u32('med', a.med);
    const localPref = u32('localPref', a.localPref);
    // Sorted and deduplicated so equal sets of communities give one AttrSet.
    const communities = [...new Set((a.communities ?? []).map(parseCommunity))].sort((x, y) => x - y);
    const largeCommunities = [...new Map((a.largeCommunities ?? []).map((t) => {
      const c = parseLargeCommunity(t);
      return [c.join(':'), c] as const;
    })).values()].sort((x, y) => x[0] - y[0] || x[1] - y[1] || x[2] - y[2]);
    const key = JSON.stringify([origin, nextHop4?.toString('hex'), nextHop6?.toString('hex'), nextHop6LinkLocal?.toString('hex'), med, localPref, communities, largeCommunities]);
    let set = this.byKey.get(key);
    if (!set) {
      const s: { -readonly [K in keyof AttrSet]: AttrSet[K] } = { id: this.nextId++, key, origin, communities, largeCommunities };
      if (nextHop4) s.nextHop4 = nextHop4;
      if (nextHop6) s.nextHop6 = nextHop6;
      if (nextHop6LinkLocal) s.nextHop6LinkLocal = nextHop6LinkLocal;
      if (med !== undefined) s.med = med;
      if (localPref !== undefined) s.localPref = localPref;
      set = s;
      this.byKey.set(key, set);
    }
    this.byObject.set(a, set);
    return set;
  }

  /** Forgets sets no route uses any more (called with the sets still in use). */
  retain(used: Set<AttrSet>): void {
    for (const [k, s] of this.byKey) if (!used.has(s)) this.byKey.delete(k);
  }

  get size(): number {
    return this.byKey.size;
  }
}
