// Piggyback queue of membership updates: each update rides on outgoing messages a bounded number
// of times (retransmitMult · ceil(log2(n + 1)), enough to infect every member with high
// probability), least-sent first. A newer update about a member replaces the older one.
import { encodedUpdateSize, type Update } from './codec.ts';

interface Entry {
  update: Update;
  transmits: number;
  /** Insertion order, for a stable tie-break. */
  order: number;
}

export class GossipQueue {
  private readonly entries = new Map<string, Entry>();
  private order = 0;

  get size(): number {
    return this.entries.size;
  }

  /** Queues an update. Suspicion confirmations by different members are kept apart. */
  enqueue(u: Update): void {
    const key = u.state === 'suspect' && u.from ? `${u.name}\0${u.from}` : u.name;
    // A new state about a member supersedes every queued entry about it, except other members'
    // confirmations of the same suspicion.
    for (const [k, e] of this.entries) {
      if (e.update.name !== u.name) continue;
      const sameSuspicion = u.state === 'suspect' && e.update.state === 'suspect' && e.update.incarnation === u.incarnation;
      if (!sameSuspicion) this.entries.delete(k);
    }
    this.entries.set(key, { update: u, transmits: 0, order: this.order++ });
  }

  /**
   * Takes updates for one message within `budget` bytes, least-transmitted first, and counts the
   * transmission; entries sent `limit` times are dropped. `skip` excludes updates about a member.
   */
  take(budget: number, limit: number, skip?: string, maxCount = 255): Update[] {
    const list = [...this.entries.entries()].sort((a, b) => a[1].transmits - b[1].transmits || a[1].order - b[1].order);
    const out: Update[] = [];
    let used = 0;
    for (const [key, e] of list) {
      if (out.length >= maxCount) break;
      if (e.update.name === skip) continue;
      const size = encodedUpdateSize(e.update);
      if (used + size > budget) continue;
      used += size;
      out.push(e.update);
      if (++e.transmits >= limit) this.entries.delete(key);
    }
    return out;
  }

  /** Forgets updates about members no longer listed. */
  retain(names: ReadonlySet<string>): void {
    for (const [k, e] of this.entries) if (!names.has(e.update.name)) this.entries.delete(k);
  }
}
