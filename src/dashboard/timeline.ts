// The dashboard's timeline: ownership changes of Services (from ServiceAnnouncement watch events)
// and node events (faults injected from the page, Node Ready changes), with failover durations.
// A failover's duration runs from the earliest sign the old node was gone that the dashboard has
// (a fault injected from the page, or the Node's Ready condition turning False) to the watch event
// that shows the new owner: it includes detection, the takeover and the status write.
// Pure apart from the clock passed in: tested without a cluster.

export type TimelineKind = 'fault' | 'node' | 'failover' | 'moved' | 'announced' | 'unannounced';

export interface TimelineEntry {
  /** Milliseconds since the epoch. */
  time: number;
  kind: TimelineKind;
  text: string;
  service?: string;
  node?: string;
  from?: string[];
  to?: string[];
  durationMs?: number;
}

export interface TimelineOptions {
  /** Entries kept (oldest dropped). Default 200. */
  limit?: number;
  /** How long a node-down mark explains a later ownership change. Default 120 s. */
  downWindowMs?: number;
}

const list = (xs: readonly string[]): string => (xs.length ? xs.join(', ') : 'nobody');
const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

export class Timeline {
  readonly #opts: Required<TimelineOptions>;
  readonly #entries: TimelineEntry[] = [];
  readonly #owners = new Map<string, string[]>();
  readonly #unannouncedSince = new Map<string, number>();
  readonly #downAt = new Map<string, number>();
  #primed = false;

  constructor(o: TimelineOptions = {}) {
    this.#opts = { limit: o.limit ?? 200, downWindowMs: o.downWindowMs ?? 120_000 };
  }

  /** Newest first. */
  entries(): TimelineEntry[] {
    return [...this.#entries].reverse();
  }

  /** After the first list: from now on every change is an entry (the initial state is not news). */
  prime(): void {
    this.#primed = true;
  }

  #add(e: TimelineEntry): void {
    this.#entries.push(e);
    if (this.#entries.length > this.#opts.limit) this.#entries.splice(0, this.#entries.length - this.#opts.limit);
  }

  /** A fault injected from the page (lab) or a node seen down: later takeovers from it are failovers. */
  nodeDown(node: string, time: number, text: string, kind: 'fault' | 'node' = 'node'): void {
    if (!this.#downAt.has(node)) this.#downAt.set(node, time);
    this.#add({ time, kind, node, text });
  }

  /** The node is back (fault healed, Ready again). */
  nodeUp(node: string, time: number, text: string, kind: 'fault' | 'node' = 'node'): void {
    this.#downAt.delete(node);
    this.#add({ time, kind, node, text });
  }

  /** A Service's announcing nodes as its ServiceAnnouncement now says (empty: announced by nobody, or deleted). */
  announcement(service: string, nodes: readonly string[], time: number): TimelineEntry | undefined {
    const next = [...new Set(nodes)].sort();
    const prev = this.#owners.get(service);
    this.#owners.set(service, next);
    if (!this.#primed) {
      if (!next.length) this.#unannouncedSince.set(service, time);
      return undefined;
    }
    if (prev !== undefined && prev.join(',') === next.join(',')) return undefined;
    const before = prev ?? [];
    let e: TimelineEntry;
    if (!next.length) {
      this.#unannouncedSince.set(service, time);
      e = { time, kind: 'unannounced', service, from: before, to: [], text: `${service}: announced by nobody (was ${list(before)})` };
    } else {
      const gone = before.filter((n) => !next.includes(n));
      const downs = gone.map((n) => this.#downAt.get(n)).filter((t): t is number => t !== undefined && time - t <= this.#opts.downWindowMs);
      const since = this.#unannouncedSince.get(service);
      this.#unannouncedSince.delete(service);
      if (downs.length) {
        const d = time - Math.min(...downs);
        e = { time, kind: 'failover', service, from: before, to: next, durationMs: d, text: `${service}: ${list(gone)} → ${list(next)} (failover, ${seconds(d)} after ${list(gone)} went down)` };
      } else if (!before.length && since !== undefined && prev !== undefined) {
        const d = time - since;
        e = { time, kind: 'announced', service, from: [], to: next, durationMs: d, text: `${service}: announced by ${list(next)} after ${seconds(d)} without an announcement` };
      } else if (!before.length) {
        e = { time, kind: 'announced', service, from: [], to: next, text: `${service}: announced by ${list(next)}` };
      } else {
        e = { time, kind: 'moved', service, from: before, to: next, text: `${service}: ${list(before)} → ${list(next)}` };
      }
    }
    this.#add(e);
    return e;
  }

  /** The Service's ServiceAnnouncement was deleted (the Service is gone or no longer ours). */
  forget(service: string): void {
    this.#owners.delete(service);
    this.#unannouncedSince.delete(service);
  }
}
