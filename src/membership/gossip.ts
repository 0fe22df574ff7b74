// Piggyback queue of membership updates: each update rides on outgoing messages a bounded number
// of times (the caller's limit, retransmitMult · ceil(log10(n + 1)), enough to reach every member
// with high probability), least-sent first. A newer update about a member replaces the older one.
//
// Entries sit in buckets by transmit count (each bucket in insertion order), with an index by member
// name, so taking k updates costs O(k) and enqueueing O(1) however long the queue is: at a cold start
// of 1,000 members every member queues ~1,000 "alive" updates and takes ~60 per message.
import { encodedUpdateSize, type Update } from './codec.ts';

interface Entry {
  key: string;
  update: Update;
  size: number;
  transmits: number;
}

/** Smallest encoded update (one-byte name, no `from`): below this budget nothing more fits. */
const MIN_UPDATE_BYTES = 12;

export class GossipQueue {
  private readonly entries = new Map<string, Entry>();
  private readonly byName = new Map<string, Set<string>>();
  /** buckets[t]: entries sent t times, oldest first. */
  private readonly buckets: Array<Set<Entry>> = [];

  get size(): number {
    return this.entries.size;
  }

  /** Queues an update. Suspicion confirmations by different members are kept apart. */
  enqueue(u: Update): void {
    const key = u.state === 'suspect' && u.from ? `${u.name}\0${u.from}` : u.name;
    // A new state about a member supersedes every queued entry about it, except other members'
    // confirmations of the same suspicion.
    const keys = this.byName.get(u.name);
    if (keys) {
      for (const k of keys) {
        const e = this.entries.get(k)!;
        const sameSuspicion = u.state === 'suspect' && e.update.state === 'suspect' && e.update.incarnation === u.incarnation;
        if (!sameSuspicion || k === key) this.remove(e);
      }
    }
    const e: Entry = { key, update: u, size: encodedUpdateSize(u), transmits: 0 };
    this.entries.set(key, e);
    let set = this.byName.get(u.name);
    if (!set) this.byName.set(u.name, (set = new Set()));
    set.add(key);
    this.bucket(0).add(e);
  }

  /**
   * Takes updates for one message within `budget` bytes, least-transmitted first, and counts the
   * transmission; entries sent `limit` times are dropped. `skip` excludes updates about a member.
   */
  take(budget: number, limit: number, skip?: string, maxCount = 255): Update[] {
    const chosen: Entry[] = [];
    let left = budget;
    for (let t = 0; t < this.buckets.length && left >= MIN_UPDATE_BYTES && chosen.length < maxCount; t++) {
      const b = this.buckets[t]!;
      for (const e of b) {
        if (left < MIN_UPDATE_BYTES || chosen.length >= maxCount) break;
        if (e.transmits >= limit) {
          // The cluster shrank since it was queued: it has been sent often enough.
          this.remove(e);
          continue;
        }
        if (e.update.name === skip || e.size > left) continue;
        left -= e.size;
        chosen.push(e);
      }
    }
    // Moved after the scan so that an entry is never taken twice for one message.
    const out: Update[] = [];
    for (const e of chosen) {
      out.push(e.update);
      this.buckets[e.transmits]!.delete(e);
      e.transmits++;
      if (e.transmits >= limit) this.remove(e, false);
      else this.bucket(e.transmits).add(e);
    }
    return out;
  }

  /** Forgets updates about members no longer listed. */
  retain(names: ReadonlySet<string>): void {
    for (const [name, keys] of this.byName) {
      if (names.has(name)) continue;
      for (const k of keys) this.remove(this.entries.get(k)!);
    }
  }

  private bucket(t: number): Set<Entry> {
    while (this.buckets.length <= t) this.buckets.push(new Set());
    return this.buckets[t]!;
  }

  private remove(e: Entry, inBucket = true): void {
    if (inBucket) this.buckets[e.transmits]?.delete(e);
    this.entries.delete(e.key);
    const set = this.byName.get(e.update.name);
    set?.delete(e.key);
    if (set?.size === 0) this.byName.delete(e.update.name);
  }
}
