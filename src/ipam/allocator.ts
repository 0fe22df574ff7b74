// The allocator: which Service holds which address, from which pool. Pure and synchronous: plain
// inputs, plain results, no clock, no I/O. Same calls in the same order give the same assignments
// (the lowest free address of the first eligible pool).
import { FAMILIES, formatAddress, parseAddress, type Address, type Family } from '../util/address.ts';
import { byPriority, compilePools, describeRestriction, poolAllows, type CompiledPool, type PoolFamily } from './pool.ts';
import { quote } from '../util/text.ts';
import { sameLabels } from '../util/selector.ts';
import { commonKey, hasKey, keyPort, packPorts, portKey, sameKeys } from './ports.ts';
import type {
  AssignResult,
  Assignment,
  ConfirmResult,
  IpFamilyPolicy,
  Labels,
  PoolSpec,
  PoolUsage,
  Port,
  Reason,
  Refusal,
  Repooled,
  Revoked,
  ServiceRequest,
  SetPoolsResult,
} from './types.ts';

const EMPTY: Labels = Object.freeze({});
const NONE: readonly never[] = Object.freeze([]);

/**
 * One address in use, by one Service or by several sharing it. Kept small (no text, no Map):
 * there is one per address in use, and they are most of the allocator's memory.
 */
class Entry {
  readonly family: Family;
  readonly value: bigint;
  pool: CompiledPool;
  /** The holders' requests; usually one, a few when shared (an array: lighter than a Map). */
  holders: readonly NormalizedRequest[] = NONE;
  /** The sharing key under which it is indexed ('' = not indexed). */
  indexedKey = '';
  constructor(family: Family, value: bigint, pool: CompiledPool) {
    this.family = family;
    this.value = value;
    this.pool = pool;
  }
  get text(): string {
    return formatAddress(this.family, this.value);
  }
}

/** A request with defaults applied and addresses parsed. */
interface NormalizedRequest {
  key: string;
  namespace: string;
  labels: Labels;
  nsLabels: Labels;
  requested: readonly Address[];
  pool: string | undefined;
  sharingKey: string;
  /** Effective backend key: only with externalTrafficPolicy Local. */
  backendKey: string;
  /** The ports, for Services with a few (NONE when portKeys holds them). */
  ports: readonly Port[];
  /** The ports packed (ports.ts), for Services with many (hostile ones included). */
  portKeys: Int32Array | undefined;
  policy: IpFamilyPolicy;
  families: readonly Family[];
}

interface Held {
  norm: NormalizedRequest;
  entries: Entry[];
}

interface RangeRef {
  lo: bigint;
  hi: bigint;
  pool: CompiledPool;
}

/** A choice made before committing: an address already in use (shared) or a free one. */
type AddressPick = { kind: 'shared'; entry: Entry } | { kind: 'free'; family: Family; value: bigint };

const refuse = (reason: Reason, message: string): Refusal => ({ ok: false, reason, message });

function isRefusal(x: object): x is Refusal {
  return (x as { ok?: unknown }).ok === false;
}

const portText = (p: Port): string => `${p.protocol}/${p.port}`;

/** A canonical backend key from a pod selector (sorted key=value pairs). */
export function backendKeyOf(selector: Readonly<Record<string, string>> | undefined): string {
  if (!selector) return '';
  return Object.keys(selector)
    .sort()
    .map((k) => `${k}=${selector[k]}`)
    .join(',');
}

export class Allocator {
  #pools: CompiledPool[] = [];
  #byName = new Map<string, CompiledPool>();
  /** Per family, every pool range sorted by start, for the address → pool lookup (binary search). */
  #ranges: Record<Family, RangeRef[]> = { IPv4: [], IPv6: [] };
  /** Addresses in use, per family, by value: "is it free" is one hash lookup. */
  #entries: Record<Family, Map<bigint, Entry>> = { IPv4: new Map(), IPv6: new Map() };
  #services = new Map<string, Held>();
  #bySharingKey = new Map<string, Set<Entry>>();

  /**
   * Replaces the pool configuration. On a configuration error nothing changes. Assignments that the
   * new pools no longer allow (address gone, pool restricted, avoidBuggyIPs, ...) are released and
   * returned, so the caller can assign those Services again; the others keep their addresses.
   * Turning autoAssign off does not revoke anything: it only stops new automatic assignments.
   */
  setPools(specs: readonly PoolSpec[]): SetPoolsResult {
    const { pools, errors } = compilePools(specs);
    if (errors.length > 0) return { ok: false, errors };
    const oldPoolOf = new Map<string, string>();
    for (const [key, held] of this.#services) oldPoolOf.set(key, held.entries[0]?.pool.name ?? '');
    this.#installPools(pools);
    const revoked: Revoked[] = [];
    const kept: Array<[string, Held]> = [];
    for (const [key, held] of this.#services) {
      const texts = held.entries.map((e) => e.text);
      const check = this.#checkHeld(held.norm, held.entries, false);
      if (isRefusal(check)) {
        revoked.push({ key, pool: oldPoolOf.get(key) ?? '', addresses: texts, reason: check.reason, message: check.message });
      } else kept.push([key, held]);
    }
    // Rebuild the index from the kept Services only: the new pools' free space starts full.
    this.#services = new Map();
    this.#entries = { IPv4: new Map(), IPv6: new Map() };
    this.#bySharingKey = new Map();
    const repooled: Repooled[] = [];
    for (const [key, held] of kept) {
      const addrs = held.entries.map((e): Address => ({ family: e.family, value: e.value }));
      const pool = this.#poolOf(addrs[0] as Address) as CompiledPool;
      this.#commit(held.norm, pool, addrs.map((a): AddressPick => this.#pickAddress(a)));
      const from = oldPoolOf.get(key) ?? '';
      if (from !== pool.name) repooled.push({ key, from, to: pool.name, addresses: held.entries.map((e) => e.text) });
    }
    return { ok: true, revoked, repooled };
  }

  /**
   * Gives a Service its addresses: the requested ones, or automatically the lowest free address
   * of the first eligible pool per family. Idempotent: a Service whose current assignment still
   * fits its request keeps it (changed: false). An assignment that no longer fits is released
   * first, also when no new one can be made.
   */
  assign(req: ServiceRequest): AssignResult {
    const prev = this.#services.get(req.key);
    const prevTexts = prev ? prev.entries.map((e) => e.text) : [];
    const n = normalize(req);
    if (isRefusal(n)) {
      if (prev) this.#release(req.key);
      return { ...n, released: prevTexts };
    }
    if (prev) {
      const check = this.#checkHeld(n, prev.entries, true);
      if (!isRefusal(check)) {
        // Still fits and nothing of the request changed (a restart decides every Service again; an
        // edit of a field the allocator does not read): the assignment stays as it is. Replacing
        // its objects made, at 100,000 Services, most of the old generation's garbage and so of the
        // collector's pauses. Shared addresses take the general path (it also reorders holders).
        if (prev.entries.every((e) => e.holders.length === 1 && e.pool === check) && sameRequest(prev.norm, n) && !this.#preferDualUpgrade(n, check, prev.entries)) {
          return { ok: true, key: n.key, pool: check.name, addresses: prevTexts, changed: false, released: [] };
        }
        // Still fits: refresh what may change without moving (ports, labels, sharing key).
        this.#release(n.key);
        const pool = check;
        const picks = prev.entries.map((e): AddressPick => this.#pickAddress({ family: e.family, value: e.value }));
        const upgrade = this.#preferDualUpgrade(n, pool, prev.entries);
        if (upgrade) picks.push(upgrade);
        const a = this.#commit(n, pool, picks);
        return { ok: true, ...a, changed: upgrade !== undefined, released: [] };
      }
      this.#release(n.key);
    }
    const r = n.requested.length > 0 ? this.#assignRequested(n) : this.#assignAuto(n);
    if (!r.ok) return { ...r, released: prevTexts };
    const a = this.#commit(n, r.pool, r.picks);
    const released = prevTexts.filter((t) => !a.addresses.includes(t));
    const changed = !prev || released.length > 0 || a.addresses.length !== prevTexts.length;
    return { ok: true, ...a, changed, released };
  }

  /**
   * Start-up: re-registers the addresses a Service already holds (from its status), if they are
   * still valid for it and not already taken; call it for every Service holding addresses before
   * any `assign`, so a restart never moves or duplicates an address. A refusal says why; the
   * caller should then `assign` the Service afresh. An earlier registration of the same Service
   * is replaced (released first), whether or not this one succeeds.
   */
  confirm(req: ServiceRequest, existing: readonly string[]): ConfirmResult {
    this.#release(req.key);
    const n = normalize(req);
    if (isRefusal(n)) return n;
    const addrs = parseList(existing, `Service ${n.key} holds`);
    if (isRefusal(addrs)) return addrs;
    if (addrs.length === 0) return refuse('InvalidRequest', `Service ${n.key} holds no address to confirm; call assign instead`);
    if (n.requested.length > 0) {
      const want = n.requested.map((a) => formatAddress(a.family, a.value)).sort();
      const have = addrs.map((a) => formatAddress(a.family, a.value)).sort();
      if (want.join(',') !== have.join(',')) {
        return refuse(
          'RequestMismatch',
          `Service ${n.key} holds ${have.join(', ')} but requests ${want.join(', ')}; it will be given the requested address`,
        );
      }
    }
    const pseudo = addrs.map((a) => this.#entries[a.family].get(a.value) ?? new Entry(a.family, a.value, undefined as never));
    const check = this.#checkHeld(n, pseudo, true);
    if (isRefusal(check)) return check;
    return { ok: true, ...this.#commit(n, check, addrs.map((a) => this.#pickAddress(a))) };
  }

  /** Frees a Service's addresses (a shared address stays in use by the others). Returns them. */
  release(key: string): string[] {
    return this.#release(key);
  }

  /** The Service's current assignment, if any. */
  lookup(key: string): Assignment | undefined {
    const held = this.#services.get(key);
    if (!held) return undefined;
    return { key, pool: held.entries[0]?.pool.name ?? '', addresses: held.entries.map((e) => e.text) };
  }

  /** The Services holding an address (sorted), empty when it is free or not an address. */
  holders(address: string): string[] {
    const a = parseAddress(address.trim());
    if (!a) return [];
    const e = this.#entries[a.family].get(a.value);
    return e ? e.holders.map((h) => h.key).sort() : [];
  }

  /** The name of the pool containing an address, if any. */
  poolFor(address: string): string | undefined {
    const a = parseAddress(address.trim());
    return a ? this.#poolOf(a)?.name : undefined;
  }

  /** Assigned and available addresses per family of one pool; undefined for an unknown pool. */
  poolUsage(pool: string): PoolUsage | undefined {
    const p = this.#byName.get(pool);
    if (!p) return undefined;
    const usage = (f: PoolFamily | undefined) => {
      if (!f) return { total: 0n, assigned: 0n, available: 0n };
      return { total: f.total, assigned: f.total - f.free.size, available: f.free.size };
    };
    return { pool, IPv4: usage(p.families.IPv4), IPv6: usage(p.families.IPv6) };
  }

  /** Names of the configured pools, in the order given to setPools. */
  poolNames(): string[] {
    return this.#pools.map((p) => p.name);
  }

  /** Every current assignment, sorted by Service key. */
  assignments(): Assignment[] {
    return [...this.#services.keys()].sort().map((k) => this.lookup(k) as Assignment);
  }

  /** Free-space intervals of a pool family (a fragmentation measure, for diagnostics and tests). */
  freeIntervals(pool: string, family: Family): number {
    return this.#byName.get(pool)?.families[family]?.free.intervals ?? 0;
  }

  // ---- internals -------------------------------------------------------------------------------

  #installPools(pools: CompiledPool[]): void {
    this.#pools = pools;
    this.#byName = new Map(pools.map((p) => [p.name, p]));
    const ranges: Record<Family, RangeRef[]> = { IPv4: [], IPv6: [] };
    for (const p of pools) for (const r of p.ranges) ranges[r.family].push({ lo: r.first, hi: r.last, pool: p });
    for (const f of FAMILIES) ranges[f].sort((a, b) => (a.lo < b.lo ? -1 : a.lo > b.lo ? 1 : 0));
    this.#ranges = ranges;
  }

  #poolOf(a: Address): CompiledPool | undefined {
    const rs = this.#ranges[a.family];
    let lo = 0;
    let hi = rs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = rs[mid] as RangeRef;
      if (a.value < r.lo) hi = mid - 1;
      else if (a.value > r.hi) lo = mid + 1;
      else return r.pool;
    }
    return undefined;
  }

  #pickAddress(a: Address): AddressPick {
    const e = this.#entries[a.family].get(a.value);
    return e ? { kind: 'shared', entry: e } : { kind: 'free', family: a.family, value: a.value };
  }

  /**
   * Whether addresses (held or to be confirmed) are valid for a Service under the current pools:
   * one pool, allowed for the Service, usable, fitting the family policy and, with `sharing`, the
   * sharing rules. Returns the pool, or a refusal.
   */
  #checkHeld(n: NormalizedRequest, entries: readonly Entry[], sharing: boolean): CompiledPool | Refusal {
    let pool: CompiledPool | undefined;
    for (const e of entries) {
      const p = this.#poolOf(e);
      if (!p) return refuse('NotInAnyPool', `${e.text} of Service ${n.key} is no longer in any pool; the Service needs a new address`);
      if (pool && p !== pool) {
        return refuse('AddressesInDifferentPools', `${entries.map((x) => x.text).join(' and ')} of Service ${n.key} are in different pools ("${pool.name}", "${p.name}"); both families must come from one pool`);
      }
      pool = p;
      if (!p.families[e.family]?.space.usable(e.value)) {
        return refuse('BuggyAddress', `${e.text} ends in .0 or .255 and pool "${p.name}" has avoidBuggyIPs; the Service needs another address`);
      }
    }
    if (!pool) return refuse('InvalidRequest', `Service ${n.key} holds no address`);
    if (n.requested.length > 0) {
      const want = n.requested.map((a) => formatAddress(a.family, a.value)).sort().join(', ');
      const have = entries.map((e) => e.text).sort().join(', ');
      if (want !== have) return refuse('RequestMismatch', `Service ${n.key} holds ${have} but requests ${want}; it needs the requested address`);
    }
    const poolCheck = this.#poolFits(n, pool, entries.map((e) => e.text).join(', '));
    if (poolCheck) return poolCheck;
    const fam = familyFit(n, entries.map((e) => e.family));
    if (fam) return fam;
    if (sharing) {
      for (const e of entries) {
        const s = sharingRefusal(e, n);
        if (s) return s;
      }
    }
    return pool;
  }

  /** Pool-level rules for addresses already chosen: requested pool name, restrictions. */
  #poolFits(n: NormalizedRequest, pool: CompiledPool, what: string): Refusal | undefined {
    if (n.pool !== undefined && n.pool !== pool.name) {
      if (!this.#byName.has(n.pool)) return unknownPool(n, this.#pools);
      return refuse('NotInRequestedPool', `${what} is in pool "${pool.name}", but Service ${n.key} asks for pool ${quote(n.pool)}; request an address of pool ${quote(n.pool)} or drop the pool annotation`);
    }
    if (!poolAllows(pool, n.namespace, n.nsLabels, n.labels)) {
      return refuse('PoolNotAllowed', `pool "${pool.name}" (holding ${what}) is restricted to ${describeRestriction(pool)}, which Service ${n.key} does not match; use another pool or change the pool's allocateTo`);
    }
    return undefined;
  }

  #assignRequested(n: NormalizedRequest): { ok: true; pool: CompiledPool; picks: AddressPick[] } | Refusal {
    let pool: CompiledPool | undefined;
    const texts = n.requested.map((a) => formatAddress(a.family, a.value));
    for (const [i, a] of n.requested.entries()) {
      const text = texts[i] as string;
      const p = this.#poolOf(a);
      if (!p) {
        return refuse('NotInAnyPool', `requested address ${text} of Service ${n.key} is in no pool; request an address inside a pool (${this.#poolSummary(a.family)}) or add it to one`);
      }
      if (pool && p !== pool) {
        return refuse('AddressesInDifferentPools', `requested addresses ${texts.join(' and ')} of Service ${n.key} are in different pools ("${pool.name}", "${p.name}"); request both from one pool`);
      }
      pool = p;
    }
    if (!pool) return refuse('InvalidRequest', `Service ${n.key} requests no address`);
    const fits = this.#poolFits(n, pool, `requested ${texts.join(', ')}`);
    if (fits) return fits;
    const picks: AddressPick[] = [];
    for (const [i, a] of n.requested.entries()) {
      const text = texts[i] as string;
      if (!pool.families[a.family]?.space.usable(a.value)) {
        return refuse('BuggyAddress', `requested address ${text} ends in .0 or .255 and pool "${pool.name}" has avoidBuggyIPs; request another address`);
      }
      const pick = this.#pickAddress(a);
      if (pick.kind === 'shared') {
        const s = sharingRefusal(pick.entry, n);
        if (s) return s;
      }
      picks.push(pick);
    }
    return { ok: true, pool, picks };
  }

  #assignAuto(n: NormalizedRequest): { ok: true; pool: CompiledPool; picks: AddressPick[] } | Refusal {
    let candidates: CompiledPool[];
    if (n.pool !== undefined) {
      const p = this.#byName.get(n.pool);
      if (!p) return unknownPool(n, this.#pools);
      const fits = this.#poolFits(n, p, 'its addresses');
      if (fits) return fits;
      candidates = [p];
    } else {
      const allowed = this.#pools.filter((p) => p.autoAssign && poolAllows(p, n.namespace, n.nsLabels, n.labels));
      candidates = [...allowed.filter((p) => p.restricted).sort(byPriority), ...allowed.filter((p) => !p.restricted).sort(byPriority)];
      if (candidates.length === 0) {
        return refuse('NoPoolMatches', `no pool may serve Service ${n.key} automatically: ${this.#pools.length === 0 ? 'no pool is configured' : 'every pool is restricted to other namespaces or Services, or has autoAssign false'}; add a pool that allows it, or name a pool or an address in the Service's annotations`);
      }
    }
    const poolList = () => candidates.map((p) => `"${p.name}"`).join(', ');
    const fullMsg = (fams: readonly Family[]) =>
      `every eligible pool (${poolList()}) is out of free ${fams.join(' + ')} addresses for Service ${n.key}; add addresses to a pool or delete unused Services`;
    const tryFamilies = (fams: readonly Family[]): { ok: true; pool: CompiledPool; picks: AddressPick[] } | 'none' | 'full' => {
      let any = false;
      for (const p of candidates) {
        if (!fams.every((f) => p.families[f])) continue;
        any = true;
        const picks: AddressPick[] = [];
        for (const f of fams) {
          const pick = this.#pickIn(p, f, n);
          if (!pick) break;
          picks.push(pick);
        }
        if (picks.length === fams.length) return { ok: true, pool: p, picks };
      }
      return any ? 'full' : 'none';
    };
    const dual = n.families.length === 2 ? n.families : (['IPv4', 'IPv6'] as const);
    if (n.policy === 'RequireDualStack') {
      const r = tryFamilies(dual);
      if (r === 'none') return refuse('DualStackUnavailable', `Service ${n.key} requires dual stack, but no eligible pool (${poolList()}) has both IPv4 and IPv6 addresses; add both families to one pool, or set ipFamilyPolicy to PreferDualStack`);
      if (r === 'full') return refuse('PoolExhausted', fullMsg(dual));
      return r;
    }
    if (n.policy === 'PreferDualStack' && n.families.length !== 1) {
      const r = tryFamilies(dual);
      if (typeof r !== 'string') return r;
    }
    const primary = n.families[0];
    if (primary) {
      const r = tryFamilies([primary]);
      if (r === 'none') return refuse('NoPoolMatches', `no eligible pool (${poolList()}) has ${primary} addresses for Service ${n.key}; add ${primary} addresses to a pool or change the Service's ipFamilies`);
      if (r === 'full') return refuse('PoolExhausted', fullMsg([primary]));
      return r;
    }
    // No family given: the first pool with a free address of either family, IPv4 first.
    for (const p of candidates) {
      for (const f of FAMILIES) {
        if (!p.families[f]) continue;
        const pick = this.#pickIn(p, f, n);
        if (pick) return { ok: true, pool: p, picks: [pick] };
      }
    }
    return refuse('PoolExhausted', fullMsg(['IPv4', 'IPv6']));
  }

  /** An address of family f in pool p for n: a compatible shared one first, else the lowest free. */
  #pickIn(p: CompiledPool, f: Family, n: NormalizedRequest): AddressPick | undefined {
    const pf = p.families[f];
    if (!pf) return undefined;
    if (n.sharingKey !== '') {
      let best: Entry | undefined;
      // Bounded by the number of addresses under this one sharing key.
      for (const e of this.#bySharingKey.get(n.sharingKey) ?? []) {
        if (e.pool !== p || e.family !== f) continue;
        if (sharingRefusal(e, n)) continue;
        if (!best || e.value < best.value) best = e;
      }
      if (best) return { kind: 'shared', entry: best };
    }
    const i = pf.free.lowest();
    if (i === undefined) return undefined;
    return { kind: 'free', family: f, value: pf.space.fromIndex(i) };
  }

  /** PreferDualStack Service holding one family, when dual stack is wanted: try to add the other. */
  #preferDualUpgrade(n: NormalizedRequest, pool: CompiledPool, entries: readonly Entry[]): AddressPick | undefined {
    if (n.policy !== 'PreferDualStack' || n.requested.length > 0 || entries.length !== 1 || n.families.length === 1) return undefined;
    const have = (entries[0] as Entry).family;
    const other: Family = have === 'IPv4' ? 'IPv6' : 'IPv4';
    return this.#pickIn(pool, other, n);
  }

  #commit(n: NormalizedRequest, pool: CompiledPool, picks: readonly AddressPick[]): Assignment {
    // Exact-size arrays (map, spread): an array grown by push reserves room for 17 elements.
    const entries = picks.map((pick) => {
      let e: Entry;
      if (pick.kind === 'shared') e = pick.entry;
      else {
        const pf = pool.families[pick.family] as PoolFamily;
        if (!pf.free.take(pf.space.toIndex(pick.value))) throw new Error(`internal: ${formatAddress(pick.family, pick.value)} is not free in pool ${pool.name}`);
        e = new Entry(pick.family, pick.value, pool);
        this.#entries[pick.family].set(pick.value, e);
      }
      const at = e.holders.findIndex((h) => h.key === n.key);
      e.holders = at >= 0 ? e.holders.map((h, j) => (j === at ? n : h)) : e.holders.length === 0 ? [n] : [...e.holders, n];
      this.#reindex(e);
      return e;
    });
    // Primary family first: the order of ipFamilies, IPv4 first when none is given.
    const order = n.families.length > 0 ? n.families : FAMILIES;
    entries.sort((a, b) => order.indexOf(a.family) - order.indexOf(b.family));
    this.#services.set(n.key, { norm: n, entries });
    return { key: n.key, pool: pool.name, addresses: entries.map((e) => e.text) };
  }

  #release(key: string): string[] {
    const held = this.#services.get(key);
    if (!held) return [];
    this.#services.delete(key);
    for (const e of held.entries) {
      e.holders = e.holders.filter((h) => h.key !== key);
      if (e.holders.length === 0) {
        const pf = e.pool.families[e.family] as PoolFamily;
        pf.free.give(pf.space.toIndex(e.value));
        this.#entries[e.family].delete(e.value);
      }
      this.#reindex(e);
    }
    return held.entries.map((e) => e.text);
  }

  /** Keeps the sharing-key index in step with an entry's holders. */
  #reindex(e: Entry): void {
    const key = e.holders[0]?.sharingKey ?? '';
    if (key === e.indexedKey) return;
    if (e.indexedKey !== '') {
      const set = this.#bySharingKey.get(e.indexedKey);
      set?.delete(e);
      if (set?.size === 0) this.#bySharingKey.delete(e.indexedKey);
    }
    if (key !== '') {
      let set = this.#bySharingKey.get(key);
      if (!set) this.#bySharingKey.set(key, (set = new Set()));
      set.add(e);
    }
    e.indexedKey = key;
  }

  #poolSummary(family: Family): string {
    const parts = this.#pools
      .filter((p) => p.families[family])
      .slice(0, 5)
      .map((p) => `${p.name}: ${p.ranges.filter((r) => r.family === family).map((r) => r.text).slice(0, 3).join(', ')}`);
    return parts.length > 0 ? `${family} pools: ${parts.join('; ')}` : `no pool has ${family} addresses`;
  }
}

function unknownPool(n: NormalizedRequest, pools: readonly CompiledPool[]): Refusal {
  const names = pools.map((p) => p.name).slice(0, 10).join(', ');
  return refuse('UnknownPool', `Service ${n.key} asks for pool ${quote(n.pool)}, which does not exist; name an existing pool (${names || 'none configured'}) or create it`);
}

/** Parses addresses: at most one per family. */
function parseList(texts: readonly string[], what: string): readonly Address[] | Refusal {
  if (texts.length === 0) return NONE;
  const out: Address[] = [];
  for (const t of texts) {
    const a = parseAddress(t.trim());
    if (!a) return refuse('InvalidRequest', `${what} ${quote(t)}, which is not an IP address; write a plain address such as 192.0.2.10 or 2001:db8::10`);
    const dup = out.find((x) => x.family === a.family);
    if (dup) {
      return refuse('InvalidRequest', `${what} two ${a.family} addresses (${formatAddress(dup.family, dup.value)}, ${formatAddress(a.family, a.value)}); at most one address per family is allowed`);
    }
    out.push(a);
  }
  return [...out]; // exact size: kept in the Service's request
}

const FAMILY_LISTS: ReadonlyArray<readonly Family[]> = ([[], ['IPv4'], ['IPv6'], ['IPv4', 'IPv6'], ['IPv6', 'IPv4']] as Family[][]).map((l) => Object.freeze(l));

/** The request's families as one of the shared lists (a repeated family counts once). */
function familyList(fams: readonly Family[]): readonly Family[] {
  const uniq = fams.length === 2 && fams[0] === fams[1] ? [fams[0] as Family] : fams;
  return FAMILY_LISTS.find((l) => l.length === uniq.length && l.every((f, i) => f === uniq[i])) ?? Object.freeze([...uniq]);
}

/** Short port lists shared between Services (most have one of a few); bounded, past it exact copies. */
const SHARED_PORTS_LIMIT = 10_000;
const sharedPortLists = new Map<string, readonly Port[]>();
function sharedPorts(list: readonly Port[]): readonly Port[] {
  const k = list.map(portText).join(',');
  const hit = sharedPortLists.get(k);
  if (hit) return hit;
  const copy = Object.freeze(list.map((p) => Object.freeze({ protocol: p.protocol, port: p.port })));
  if (sharedPortLists.size < SHARED_PORTS_LIMIT) sharedPortLists.set(k, copy);
  return copy;
}

function normalize(req: ServiceRequest): NormalizedRequest | Refusal {
  const key = req.key;
  if (!key) return refuse('InvalidRequest', 'the request has no Service key; pass "namespace/name"');
  const requested = parseList(req.requestedAddresses ?? [], `Service ${key} requests`);
  if (isRefusal(requested)) return requested;
  const policy = req.ipFamilyPolicy ?? 'SingleStack';
  // One NormalizedRequest is kept per Service: its family and port lists are shared with other Services where
  // equal, and its shape is one literal (fields added later spill into a separate property array).
  const families = familyList(req.ipFamilies ?? NONE);
  let ports: readonly Port[] = NONE;
  let portKeys: Int32Array | undefined;
  const given = req.packedPorts ?? (req.ports && req.ports.length > 0 ? packPorts(req.ports) : undefined);
  if (given === undefined && req.ports && req.ports.length > 0) {
    const bad = req.ports.find((p) => portKey(p) < 0) as Port;
    return refuse('InvalidRequest', `Service ${key} lists port ${quote(String(bad.port))}/${quote(String(bad.protocol))}; a port is an integer 0-65535 with protocol TCP, UDP or SCTP`);
  }
  if (given && given.length > PORT_SET_MIN) portKeys = given;
  else if (given && given.length > 0) ports = sharedPorts(Array.from(given, keyPort));
  const n: NormalizedRequest = {
    key,
    namespace: req.namespace,
    labels: req.labels ?? EMPTY,
    nsLabels: req.namespaceLabels ?? EMPTY,
    requested,
    pool: req.pool === '' ? undefined : req.pool,
    sharingKey: req.sharingKey ?? '',
    backendKey: req.externalTrafficPolicy === 'Local' ? (req.backendKey ?? '') : '',
    ports,
    portKeys,
    policy,
    families,
  };
  if (requested.length > 0) {
    const fam = familyFit(n, requested.map((a) => a.family), 'requests');
    if (fam) return fam;
  }
  return n;
}

const sameList = <T>(a: readonly T[], b: readonly T[], eq: (x: T, y: T) => boolean): boolean => a === b || (a.length === b.length && a.every((x, i) => eq(x, b[i] as T)));

/** Whether two normalized requests ask for the same thing (every field the allocator reads). */
function sameRequest(a: NormalizedRequest, b: NormalizedRequest): boolean {
  return (
    a.key === b.key &&
    a.namespace === b.namespace &&
    a.pool === b.pool &&
    a.sharingKey === b.sharingKey &&
    a.backendKey === b.backendKey &&
    a.policy === b.policy &&
    sameList(a.families, b.families, (x, y) => x === y) &&
    sameList(a.requested, b.requested, (x, y) => x.family === y.family && x.value === y.value) &&
    sameList(a.ports, b.ports, (x, y) => x.protocol === y.protocol && x.port === y.port) &&
    sameKeys(a.portKeys, b.portKeys) &&
    sameLabels(a.labels, b.labels) &&
    sameLabels(a.nsLabels, b.nsLabels)
  );
}

/** Whether a set of address families fits the Service's ipFamilyPolicy and ipFamilies. */
function familyFit(n: NormalizedRequest, fams: readonly Family[], verb = 'holds'): Refusal | undefined {
  const list = fams.join(' + ');
  const outside = fams.find((f) => n.families.length > 0 && !n.families.includes(f));
  if (outside) {
    return refuse('FamilyMismatch', `Service ${n.key} ${verb} an ${outside} address but its ipFamilies are [${n.families.join(', ')}]; use an address of those families or change ipFamilies`);
  }
  if (n.policy === 'SingleStack' && fams.length > 1) {
    return refuse('FamilyMismatch', `Service ${n.key} is SingleStack but ${verb} ${list} addresses; use one address, or set ipFamilyPolicy to PreferDualStack or RequireDualStack`);
  }
  if (n.policy === 'SingleStack' && n.families[0] && fams[0] !== n.families[0]) {
    return refuse('FamilyMismatch', `Service ${n.key} is SingleStack ${n.families[0]} but ${verb} an ${fams[0]} address; use an ${n.families[0]} address`);
  }
  if (n.policy === 'RequireDualStack' && fams.length < 2) {
    return refuse('FamilyMismatch', `Service ${n.key} requires dual stack but ${verb} only ${list}; it needs one IPv4 and one IPv6 address from one pool (request both, or none)`);
  }
  return undefined;
}

/** Beyond this many ports a Service's ports are kept packed (linear scans stay tiny below). */
const PORT_SET_MIN = 16;

/**
 * A port both Services use, or undefined: two packed lists are merged, a short list is looked up in
 * a packed one, so two Services with 10,000 ports each cost 20,000 steps, not 10^8.
 */
function portClash(a: NormalizedRequest, b: NormalizedRequest): Port | undefined {
  if (a.portKeys && b.portKeys) {
    const k = commonKey(a.portKeys, b.portKeys);
    return k < 0 ? undefined : keyPort(k);
  }
  if (a.portKeys || b.portKeys) {
    const [keys, list] = a.portKeys ? [a.portKeys, b.ports] : [b.portKeys as Int32Array, a.ports];
    return list.find((p) => hasKey(keys, portKey(p)));
  }
  return a.ports.find((p) => b.ports.some((o) => o.protocol === p.protocol && o.port === p.port));
}

/** Whether Service n may use address e alongside its current holders (other than n itself). */
function sharingRefusal(e: Entry, n: NormalizedRequest): Refusal | undefined {
  for (const other of e.holders) {
    const otherKey = other.key;
    if (otherKey === n.key) continue;
    if (other.sharingKey === '') {
      return refuse('AddressInUse', `${e.text} is in use by Service ${otherKey}, which does not allow sharing; pick another address, or give both Services the same sharing key`);
    }
    if (n.sharingKey === '') {
      return refuse('AddressInUse', `${e.text} is in use by Service ${otherKey}; to share it, give Service ${n.key} the same sharing key (${quote(other.sharingKey)})`);
    }
    if (other.sharingKey !== n.sharingKey) {
      return refuse('SharingKeyMismatch', `${e.text} is shared under sharing key ${quote(other.sharingKey)} (Service ${otherKey}), not ${quote(n.sharingKey)}; use the same sharing key or another address`);
    }
    if (other.backendKey !== n.backendKey) {
      return refuse('BackendKeyMismatch', `${e.text} is shared by Service ${otherKey} with other backends (pod selector ${quote(other.backendKey)} vs ${quote(n.backendKey)}); with externalTrafficPolicy Local, Services sharing an address must select the same pods`);
    }
    const clash = portClash(n, other);
    if (clash) return refuse('PortConflict', `port ${portText(clash)} on ${e.text} is already used by Service ${otherKey}; Services sharing an address must use different ports`);
  }
  return undefined;
}
