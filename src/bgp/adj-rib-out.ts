// Adj-RIB-Out of one peer: the routes we want the peer to have (desired), what the current
// session has been told (sent, kept as its difference from desired), and which prefixes differ
// (dirty). Changes are taken as a batch,
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
  #desired = new Map<string, AttrSet>();
  /**
   * What the session has been told, as its difference from `desired`: prefixes whose sent
   * attributes are not the desired ones, with those sent (null: none). Once `synced`, every other
   * prefix was sent as desired; before (a new session's first pass), none was. In the steady state
   * it is empty: no second map of every route (3.5 MB at 100k).
   */
  private differ = new Map<string, AttrSet | null>();
  private synced = false;
  private sentCount = 0;
  /** Changes to desired or sent, counted: a settle check in progress starts over after one. */
  private changes = 0;
  /** The settle check in steps (see settleSteps), and the change count when it last failed. */
  private settling_: Iterator<boolean> | undefined;
  private settleFailedAt = -1;
  private dirty = new Set<string>();
  /**
   * Compares the whole of desired and sent across take() calls, instead of tracking each prefix
   * in `dirty`: after a new session or a whole-table replace, without a 100k-key set. Map
   * iterators stay valid while the maps change between takes; a prefix changed meanwhile also
   * goes into `dirty`, so a part already scanned is not missed.
   */
  private scan: Iterator<string> | undefined;
  private up = false;

  /** The routes we want the peer to have. */
  get desired(): ReadonlyMap<string, AttrSet> {
    return this.#desired;
  }

  get advertisedCount(): number {
    return this.sentCount;
  }

  private sentOf(p: string): AttrSet | undefined {
    const d = this.differ.get(p);
    if (d !== undefined) return d ?? undefined;
    return this.synced ? this.#desired.get(p) : undefined;
  }

  /** Records what was sent for `p` (undefined: nothing). */
  private setSent(p: string, v: AttrSet | undefined): void {
    this.changes++;
    const had = this.sentOf(p);
    if (had === undefined && v !== undefined) this.sentCount++;
    else if (had !== undefined && v === undefined) this.sentCount--;
    this.keep(p, v);
  }

  /** Stores a prefix's sent attributes as a difference, or none when desired implies them. */
  private keep(p: string, sent: AttrSet | undefined): void {
    if (sent === (this.synced ? this.#desired.get(p) : undefined)) this.differ.delete(p);
    else this.differ.set(p, sent ?? null);
  }

  /** Changes a prefix's desired attributes (undefined: none), keeping what was sent. */
  private want(p: string, a: AttrSet | undefined): void {
    this.changes++;
    const sent = this.sentOf(p);
    if (a === undefined) this.#desired.delete(p);
    else this.#desired.set(p, a);
    if (this.synced) this.keep(p, sent);
  }

  /** Whole-table changes in progress (the engine's chunked setRoutes): End-of-RIB waits for them. */
  private bulks = 0;

  get settling(): boolean {
    return this.bulks > 0;
  }

  /** True while changes wait to be taken. */
  get pending(): boolean {
    return this.scan !== undefined || this.dirty.size > 0 || this.settleDue;
  }

  /** A new session's record of what it was sent can be dropped (checked in take(), in steps). */
  private get settleDue(): boolean {
    return !this.synced && this.up && this.settleFailedAt !== this.changes;
  }

  /** Sets a route; returns true when the wire needs to change. */
  set(prefix: string, attrs: AttrSet): boolean {
    if (this.#desired.get(prefix) === attrs) return false;
    this.want(prefix, attrs);
    return this.mark(prefix);
  }

  remove(prefix: string): boolean {
    if (!this.#desired.has(prefix)) return false;
    this.want(prefix, undefined);
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
      if (this.#desired.size <= MAX_MARKED) for (const p of this.#desired.keys()) changed(p);
      else changes = this.#desired.size;
      if (this.synced) {
        // What was sent becomes all difference: the desired map itself, with the differences
        // applied (few in the steady state), instead of a copy of 100k routes.
        const sent: Map<string, AttrSet | null> = this.#desired;
        for (const [p, d] of this.differ) {
          if (d === null) sent.delete(p);
          else sent.set(p, d);
        }
        this.differ = sent;
        this.#desired = new Map();
        this.changes++;
      } else {
        this.#desired.clear();
        this.changes++;
      }
    } else {
      for (const p of this.#desired.keys()) {
        if (!routes.has(p)) {
          this.want(p, undefined);
          changed(p);
        }
      }
    }
    for (const [p, v] of routes) {
      const a = attrsOf(v);
      if (this.#desired.get(p) !== a) {
        this.want(p, a);
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
        if (this.#desired.get(p) === a) return;
        this.want(p, a);
        changed(p);
      },
      remove: (p) => {
        if (!this.#desired.has(p)) return;
        this.want(p, undefined);
        changed(p);
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
    // Sent and no longer desired: only differences can be.
    for (const [p, a] of this.differ) if (a !== null && !this.#desired.has(p)) yield p;
    yield* this.#desired.keys();
  }

  /** A new session: it knows nothing, so every desired route is pending. */
  sessionUp(): void {
    this.up = true;
    this.forgetSent();
    this.startScan();
  }

  sessionDown(): void {
    this.up = false;
    this.forgetSent();
    this.dirty.clear();
    this.scan = undefined;
  }

  private forgetSent(): void {
    this.differ.clear();
    this.synced = false;
    this.sentCount = 0;
    this.changes++;
    this.settling_ = undefined;
  }

  /**
   * After a new session's first pass every route is recorded as sent, one by one. Once nothing is
   * pending, this checks in steps (yielding true per prefix) that exactly the desired routes were
   * sent; then the record is dropped at once and what is sent is implied by desired from then on.
   * A change meanwhile starts the check over; if the check fails (routes that could not be sent)
   * the record stays, and the check runs again after the next change.
   */
  private *settleSteps(): Generator<boolean> {
    const at = this.changes;
    let ok = this.differ.size === this.#desired.size;
    for (const [p, a] of this.#desired) {
      if (!ok) break;
      yield true;
      if (this.changes !== at) return;
      if (this.differ.get(p) !== a) ok = false;
    }
    if (this.changes !== at) return;
    if (!ok) {
      this.settleFailedAt = at;
      return;
    }
    this.differ = new Map();
    this.synced = true;
  }

  /** ROUTE-REFRESH: send the family's routes again. */
  refresh(family: Family): void {
    if (!this.up) return;
    const sent: string[] = [];
    for (const [p, a] of this.differ) if (a !== null) sent.push(p);
    if (this.synced) for (const p of this.#desired.keys()) if (!this.differ.has(p)) sent.push(p);
    for (const p of sent) {
      if (familyOf(p) === family) {
        this.setSent(p, undefined);
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
    // Nothing left to send: drop a new session's record of what it was sent, in steps.
    while (!over() && this.scan === undefined && this.dirty.size === 0 && this.settleDue) {
      this.settling_ ??= this.settleSteps();
      const r = this.settling_.next();
      if (r.done) this.settling_ = undefined;
      else work += 0.25;
    }
    return ch;
  }

  private takeOne(p: string, ch: RibChanges): boolean {
    const want = this.#desired.get(p);
    const had = this.sentOf(p);
    if (want === had) return false;
    const fam = familyOf(p);
    this.setSent(p, want);
    if (want === undefined) {
      ch.withdraw[fam].push(p);
    } else {
      const group = ch.announce[fam].get(want);
      if (group) group.push(p);
      else ch.announce[fam].set(want, [p]);
    }
    return true;
  }

  /** Forgets that these were sent (they could not be encoded for this session). */
  unsend(prefixes: readonly string[]): void {
    for (const p of prefixes) this.setSent(p, undefined);
  }

  attrSetsInUse(into: Set<AttrSet>): void {
    for (const a of this.#desired.values()) into.add(a);
  }
}
