// Adj-RIB-Out of one peer: the routes we want the peer to have (desired), what the current
// session has been told (sent), and which prefixes differ (dirty). Changes are taken as a batch,
// grouped by AttrSet so the encoder can pack them.
import type { AttrSet } from './attr-set.ts';
import { familyOf } from './update-builder.ts';
import type { Family } from './types.ts';

export interface RibChanges {
  /** Per family, prefixes to announce grouped by their attributes. */
  announce: Record<Family, Map<AttrSet, string[]>>;
  withdraw: Record<Family, string[]>;
}

export interface RibBulk {
  /** Whether some change is marked to go out (schedule a flush). */
  readonly marked: boolean;
  set(prefix: string, attrs: AttrSet): void;
  remove(prefix: string): void;
  /** Done: starts the scan when more changed than were marked. True when anything changed. */
  end(): boolean;
}

/** Changes of one replace() tracked one by one; more make the next take() scan the table. */
const MAX_MARKED = 1024;

export class AdjRibOut {
  readonly desired = new Map<string, AttrSet>();
  private readonly sent = new Map<string, AttrSet>();
  private dirty = new Set<string>();
  /**
   * Compares the whole of desired and sent across take() calls, instead of tracking each prefix
   * in `dirty`: after a new session or a whole-table replace, without a 100k-key set. Map
   * iterators stay valid while the maps change between takes; a prefix changed meanwhile also
   * goes into `dirty`, so a part already scanned is not missed.
   */
  private scan: Iterator<string> | undefined;
  private up = false;

  get advertisedCount(): number {
    return this.sent.size;
  }

  /** Whole-table changes in progress (the engine's chunked setRoutes): End-of-RIB waits for them. */
  private bulks = 0;

  get settling(): boolean {
    return this.bulks > 0;
  }

  /** True while changes wait to be taken. */
  get pending(): boolean {
    return this.scan !== undefined || this.dirty.size > 0;
  }

  /** Sets a route; returns true when the wire needs to change. */
  set(prefix: string, attrs: AttrSet): boolean {
    if (this.desired.get(prefix) === attrs) return false;
    this.desired.set(prefix, attrs);
    return this.mark(prefix);
  }

  remove(prefix: string): boolean {
    if (!this.desired.delete(prefix)) return false;
    return this.mark(prefix);
  }

  /** Makes `routes` the whole desired state; returns true when anything changed. */
  replace(routes: ReadonlyMap<string, AttrSet>): boolean {
    return this.replaceWith(routes, (a) => a);
  }

  /**
   * The same without building a map of AttrSets: `routes` has canonical prefixes as keys,
   * `attrsOf` turns each value into its AttrSet.
   */
  replaceWith<V>(routes: ReadonlyMap<string, V>, attrsOf: (v: V) => AttrSet): boolean {
    // A few changes are marked one by one, so they go out in the next turn without a scan of
    // the whole table; past MAX_MARKED a scan is cheaper than the set.
    let changes = 0;
    const changed = (p: string): void => {
      if (++changes <= MAX_MARKED && this.up) this.dirty.add(p);
    };
    if (routes.size === 0) {
      // Withdraw all: one clear instead of a lookup and a delete per route. A small table is
      // marked prefix by prefix like any change; a large one is found by the scan.
      if (this.desired.size <= MAX_MARKED) for (const p of this.desired.keys()) changed(p);
      else changes = this.desired.size;
      this.desired.clear();
    } else {
      for (const p of this.desired.keys()) {
        if (!routes.has(p)) {
          this.desired.delete(p);
          changed(p);
        }
      }
    }
    for (const [p, v] of routes) {
      const a = attrsOf(v);
      if (this.desired.get(p) !== a) {
        this.desired.set(p, a);
        changed(p);
      }
    }
    if (!this.up || changes === 0) return false;
    if (changes > MAX_MARKED) this.startScan();
    return true;
  }

  /**
   * A whole-table change made over several event-loop turns (the engine's chunked setRoutes): the
   * first MAX_MARKED changes are marked one by one (they go out at once), the rest are found by a
   * scan started by end(), as replaceWith does.
   */
  beginBulk(): RibBulk {
    let changes = 0;
    let marked = false;
    let open = true;
    this.bulks++;
    const changed = (p: string): void => {
      if (++changes <= MAX_MARKED && this.up) {
        this.dirty.add(p);
        marked = true;
      }
    };
    return {
      get marked() {
        return marked;
      },
      set: (p, a) => {
        if (this.desired.get(p) === a) return;
        this.desired.set(p, a);
        changed(p);
      },
      remove: (p) => {
        if (this.desired.delete(p)) changed(p);
      },
      end: () => {
        if (open) this.bulks--;
        open = false;
        if (!this.up || changes === 0) return false;
        if (changes > MAX_MARKED) this.startScan();
        return true;
      },
    };
  }

  private mark(prefix: string): boolean {
    if (!this.up) return false;
    this.dirty.add(prefix);
    return true;
  }

  private startScan(): void {
    this.dirty.clear();
    this.scan = this.scanAll();
  }

  private *scanAll(): Generator<string> {
    for (const p of this.sent.keys()) if (!this.desired.has(p)) yield p;
    yield* this.desired.keys();
  }

  /** A new session: it knows nothing, so every desired route is pending. */
  sessionUp(): void {
    this.up = true;
    this.sent.clear();
    this.startScan();
  }

  sessionDown(): void {
    this.up = false;
    this.sent.clear();
    this.dirty.clear();
    this.scan = undefined;
  }

  /** ROUTE-REFRESH: send the family's routes again. */
  refresh(family: Family): void {
    if (!this.up) return;
    for (const p of this.sent.keys()) {
      if (familyOf(p) === family) {
        this.sent.delete(p);
        this.dirty.add(p);
      }
    }
  }

  /**
   * Takes up to `limit` pending differences (all by default) and records them as sent; `pending`
   * tells whether more wait. Unchanged prefixes visited by a scan count a quarter, so a scan of a
   * large table that finds little to do also returns in bounded time.
   */
  take(limit = Infinity): RibChanges {
    const ch: RibChanges = { announce: { IPv4: new Map(), IPv6: new Map() }, withdraw: { IPv4: [], IPv6: [] } };
    let work = 0;
    const over = (): boolean => work >= limit;
    if (this.scan) {
      for (;;) {
        if (over()) return ch;
        const r = this.scan.next();
        if (r.done) {
          this.scan = undefined;
          break;
        }
        work += this.takeOne(r.value, ch) ? 1 : 0.25;
      }
    }
    for (const p of this.dirty) {
      if (over()) break;
      this.dirty.delete(p);
      if (this.takeOne(p, ch)) work++;
    }
    return ch;
  }

  private takeOne(p: string, ch: RibChanges): boolean {
    const want = this.desired.get(p);
    const had = this.sent.get(p);
    if (want === had) return false;
    const fam = familyOf(p);
    if (want === undefined) {
      this.sent.delete(p);
      ch.withdraw[fam].push(p);
    } else {
      this.sent.set(p, want);
      const group = ch.announce[fam].get(want);
      if (group) group.push(p);
      else ch.announce[fam].set(want, [p]);
    }
    return true;
  }

  /** Forgets that these were sent (they could not be encoded for this session). */
  unsend(prefixes: readonly string[]): void {
    for (const p of prefixes) this.sent.delete(p);
  }

  attrSetsInUse(into: Set<AttrSet>): void {
    for (const a of this.desired.values()) into.add(a);
  }
}
