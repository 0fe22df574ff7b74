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

export class AdjRibOut {
  readonly desired = new Map<string, AttrSet>();
  private readonly sent = new Map<string, AttrSet>();
  private dirty = new Set<string>();
  /**
   * Compare the whole of desired and sent at the next take(), instead of tracking each prefix in
   * `dirty`: after a new session or a whole-table replace, without a 100k-key set.
   */
  private fullScan = false;
  private up = false;

  get advertisedCount(): number {
    return this.sent.size;
  }

  get pending(): number {
    return this.fullScan ? this.desired.size + this.dirty.size : this.dirty.size;
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
    return this.replaceWith(routes.keys(), (p) => routes.get(p), (p) => routes.has(p));
  }

  /**
   * The same without building a map: `keys` are the new canonical prefixes, `attrsOf` gives each
   * one's attributes, `has` answers membership for deletions.
   */
  replaceWith(keys: Iterable<string>, attrsOf: (p: string) => AttrSet | undefined, has: (p: string) => boolean): boolean {
    let changed = false;
    for (const p of this.desired.keys()) {
      if (!has(p)) {
        this.desired.delete(p);
        changed = true;
      }
    }
    for (const p of keys) {
      const a = attrsOf(p);
      if (a && this.desired.get(p) !== a) {
        this.desired.set(p, a);
        changed = true;
      }
    }
    if (changed && this.up) {
      this.fullScan = true;
      this.dirty.clear();
    }
    return changed && this.up;
  }

  private mark(prefix: string): boolean {
    if (!this.up) return false;
    if (!this.fullScan) this.dirty.add(prefix);
    return true;
  }

  /** A new session: it knows nothing, so every desired route is pending. */
  sessionUp(): void {
    this.up = true;
    this.sent.clear();
    this.dirty.clear();
    this.fullScan = true;
  }

  sessionDown(): void {
    this.up = false;
    this.sent.clear();
    this.dirty.clear();
    this.fullScan = false;
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

  /** Takes the pending differences and records them as sent. */
  take(): RibChanges {
    const ch: RibChanges = { announce: { ipv4: new Map(), ipv6: new Map() }, withdraw: { ipv4: [], ipv6: [] } };
    if (this.fullScan) {
      this.fullScan = false;
      for (const p of this.sent.keys()) if (!this.desired.has(p)) this.takeOne(p, ch);
      for (const p of this.desired.keys()) this.takeOne(p, ch);
    }
    for (const p of this.dirty) this.takeOne(p, ch);
    this.dirty.clear();
    return ch;
  }

  private takeOne(p: string, ch: RibChanges): void {
    const want = this.desired.get(p);
    const had = this.sent.get(p);
    if (want === had) return;
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
  }

  /** Forgets that these were sent (they could not be encoded for this session). */
  unsend(prefixes: readonly string[]): void {
    for (const p of prefixes) this.sent.delete(p);
  }

  attrSetsInUse(into: Set<AttrSet>): void {
    for (const a of this.desired.values()) into.add(a);
  }
}
