// Adj-RIB-Out of one peer: the routes we want the peer to have (desired), what the current
// session has been told (sent: a mark on each desired route sent as it is, and the differences
// from desired), and which prefixes differ (dirty). Changes are taken as a batch, grouped by
// AttrSet so the encoder can pack them.
import type { AttrSet } from './attr-set.ts';
import { familyOf } from './update-builder.ts';
import { MapView } from '../util/map-view.ts';
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

/**
 * A desired route that the current session was sent as it is: its attribute set, marked. One mark
 * per attribute set and session, so marking a route costs no memory; a new session makes every
 * earlier mark stale (not sent) at once.
 */
class Sent {
  readonly set: AttrSet;
  readonly session: number;
  constructor(set: AttrSet, session: number) {
    this.set = set;
    this.session = session;
  }
}

type Entry = AttrSet | Sent;

const attrsOf = (e: Entry): AttrSet => (e instanceof Sent ? e.set : e);

export class AdjRibOut {
  /**
   * The routes we want the peer to have, each marked (Sent) when the session was sent exactly
   * that: what was sent is kept in this map's values, without a second map of every route.
   */
  #desired = new Map<string, Entry>();
  /**
   * What the session was sent where the desired routes do not say it: prefixes sent something
   * other than their desired attributes, or no longer desired (a current mark: sent that; any
   * other value: nothing sent). Never holds a prefix whose desired entry is a current mark. Empty
   * in the steady state.
   */
  private differ = new Map<string, Entry>();
  /** The current session (marks of others are stale), and its marks by attribute set (weakly: sets no route uses go). */
  private session = 0;
  private marks = new WeakMap<AttrSet, Sent>();
  private sentCount = 0;
  private dirty = new Set<string>();
  /**
   * Compares the whole of desired and sent across take() calls, instead of tracking each prefix
   * in `dirty`: after a new session or a whole-table replace, without a 100k-key set. Map
   * iterators stay valid while the maps change between takes; a prefix changed meanwhile also
   * goes into `dirty`, so a part already scanned is not missed.
   */
  private scan: Iterator<string> | undefined;
  private up = false;

  /** The routes we want the peer to have (a read-only view, not a copy). */
  get desired(): ReadonlyMap<string, AttrSet> {
    return new MapView(this.#desired, attrsOf, { keepsAll: true });
  }

  get desiredCount(): number {
    return this.#desired.size;
  }

  desiredPrefixes(): IterableIterator<string> {
    return this.#desired.keys();
  }

  get advertisedCount(): number {
    return this.sentCount;
  }

  /** What an entry says was sent (a current mark), or undefined. */
  private sentIn(e: Entry | undefined): AttrSet | undefined {
    return e instanceof Sent && e.session === this.session ? e.set : undefined;
  }

  private markOf(a: AttrSet): Sent {
    let m = this.marks.get(a);
    if (!m) this.marks.set(a, (m = new Sent(a, this.session)));
    return m;
  }

  private sentOf(p: string): AttrSet | undefined {
    const d = this.differ.get(p);
    return this.sentIn(d !== undefined ? d : this.#desired.get(p));
  }

  /** Records what was sent for `p` (undefined: nothing). */
  private setSent(p: string, v: AttrSet | undefined): void {
    const had = this.sentOf(p);
    if (had === undefined && v !== undefined) this.sentCount++;
    else if (had !== undefined && v === undefined) this.sentCount--;
    this.keep(p, v);
  }

  /** Stores a prefix's sent attributes: as a mark on its desired entry when they are the desired ones, else in `differ`. */
  private keep(p: string, sent: AttrSet | undefined): void {
    const e = this.#desired.get(p);
    if (e !== undefined) {
      const want = attrsOf(e);
      if (sent === want) {
        this.#desired.set(p, this.markOf(want));
        this.differ.delete(p);
        return;
      }
      if (e !== want) this.#desired.set(p, want);
    }
    if (sent === undefined) this.differ.delete(p);
    else this.differ.set(p, this.markOf(sent));
  }

  /** Changes a prefix's desired attributes (undefined: none), keeping what was sent. */
  private want(p: string, a: AttrSet | undefined): void {
    const sent = this.sentOf(p);
    if (a === undefined) this.#desired.delete(p);
    else this.#desired.set(p, a);
    this.keep(p, sent);
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
    const e = this.#desired.get(prefix);
    if (e !== undefined && attrsOf(e) === attrs) return false;
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
      if (this.sentCount > 0) {
        // What was sent becomes all difference: the desired map itself (its marks say what was
        // sent), with the differences applied (few in the steady state), instead of a copy of
        // 100k routes. Entries without a current mark say "not sent"; the scan drops them.
        const sent = this.#desired;
        for (const [p, d] of this.differ) sent.set(p, d);
        this.differ = sent;
        this.#desired = new Map();
      } else {
        this.#desired.clear();
        this.differ.clear();
      }
    } else {
      for (const p of this.#desired.keys()) {
        if (!routes.has(p)) {
          this.want(p, undefined);
          changed(p);
        }
      }
    }
    for (const [p, a] of routes) {
      const e = this.#desired.get(p);
      if (e === undefined || attrsOf(e) !== a) {
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
   * scan started by end(), as replace does.
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
        const e = this.#desired.get(p);
        if (e !== undefined && attrsOf(e) === a) return;
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
    // Sent and no longer desired: only differences can be. Entries saying "not sent" (left by a
    // withdraw-all) are dropped on the way.
    for (const [p, a] of this.differ) {
      if (this.sentIn(a) === undefined) this.differ.delete(p);
      else if (!this.#desired.has(p)) yield p;
    }
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

  /** Nothing was sent: a new session's marks are all new, so every earlier one is stale at once. */
  private forgetSent(): void {
    this.differ = new Map();
    this.session++;
    this.marks = new WeakMap();
    this.sentCount = 0;
  }

  /** ROUTE-REFRESH: send the family's routes again. */
  refresh(family: Family): void {
    if (!this.up) return;
    const sent: string[] = [];
    for (const [p, a] of this.differ) if (this.sentIn(a)) sent.push(p);
    for (const [p, a] of this.#desired) if (this.sentIn(a)) sent.push(p);
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
    return ch;
  }

  private takeOne(p: string, ch: RibChanges): boolean {
    const e = this.#desired.get(p);
    const want = e === undefined ? undefined : attrsOf(e);
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
    for (const e of this.#desired.values()) into.add(attrsOf(e));
  }
}
