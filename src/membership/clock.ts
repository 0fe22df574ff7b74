// Time source for the protocol, injectable so unit tests run deterministically on a fake clock.

/** Opaque handle of a scheduled timer. */
export type TimerHandle = object;

export interface Clock {
  /** Wall clock in ms (timestamps on the wire, detection times). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(h: TimerHandle | undefined): void;
  /**
   * Runs fn after pending I/O has been handled. A timer that fires late because the event loop was
   * busy runs before the socket is read; deferring the verdict lets an ack that already arrived count.
   */
  defer(fn: () => void): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    // Unref'd: the socket keeps a running member alive; timers alone must not block exit.
    return setTimeout(fn, ms).unref();
  },
  clearTimeout(h) {
    if (h) clearTimeout(h as NodeJS.Timeout);
  },
  defer(fn) {
    setImmediate(fn);
  },
};

interface FakeTimer {
  id: number;
  at: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A manual clock: advance(ms) runs due timers in time order (ties in creation order). Timers sit in
 * a binary heap keyed by (at, id), so a simulation with many thousands of pending timers pays
 * O(log n) per timer, not a scan of all of them; cancelled timers are skipped when they surface.
 */
export class FakeClock implements Clock {
  private t: number;
  private nextId = 1;
  private readonly heap: FakeTimer[] = [];
  private live = 0;

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    // Whole milliseconds, like a real clock, so timestamps stay integers.
    const tm: FakeTimer = { id: this.nextId++, at: this.t + Math.max(0, Math.ceil(ms)), fn, cancelled: false };
    this.push(tm);
    this.live++;
    return tm;
  }

  clearTimeout(h: TimerHandle | undefined): void {
    const tm = h as FakeTimer | undefined;
    if (!tm || tm.cancelled) return;
    tm.cancelled = true;
    this.live--;
  }

  defer(fn: () => void): void {
    this.setTimeout(fn, 0);
  }

  get pending(): number {
    return this.live;
  }

  /** Advances time by ms, running every timer that falls due (bounded, to catch runaway loops). */
  advance(ms: number, maxRuns = 10_000_000): void {
    const end = this.t + ms;
    for (let runs = 0; ; runs++) {
      if (runs >= maxRuns) throw new Error(`FakeClock: more than ${maxRuns} timers in ${ms} ms; a timer loop is runaway`);
      const next = this.heap[0];
      if (!next || next.at > end) break;
      this.pop();
      if (next.cancelled) {
        runs--;
        continue;
      }
      next.cancelled = true; // fired: a later clearTimeout is a no-op
      this.live--;
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
  }

  private static less(a: FakeTimer, b: FakeTimer): boolean {
    return a.at < b.at || (a.at === b.at && a.id < b.id);
  }

  private push(tm: FakeTimer): void {
    const h = this.heap;
    let i = h.length;
    h.push(tm);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!FakeClock.less(tm, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = tm;
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && FakeClock.less(h[r]!, h[l]!) ? r : l;
      if (!FakeClock.less(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
}
