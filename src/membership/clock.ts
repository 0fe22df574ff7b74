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
}

/** A manual clock: advance(ms) runs due timers in time order (ties in creation order). */
export class FakeClock implements Clock {
  private t: number;
  private nextId = 1;
  private readonly timers = new Map<number, FakeTimer>();

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    // Whole milliseconds, like a real clock, so timestamps stay integers.
    this.timers.set(id, { id, at: this.t + Math.max(0, Math.ceil(ms)), fn });
    return { id };
  }

  clearTimeout(h: TimerHandle | undefined): void {
    if (h) this.timers.delete((h as { id: number }).id);
  }

  defer(fn: () => void): void {
    this.setTimeout(fn, 0);
  }

  get pending(): number {
    return this.timers.size;
  }

  /** Advances time by ms, running every timer that falls due (bounded, to catch runaway loops). */
  advance(ms: number, maxRuns = 10_000_000): void {
    const end = this.t + ms;
    for (let runs = 0; ; runs++) {
      if (runs >= maxRuns) throw new Error(`FakeClock: more than ${maxRuns} timers in ${ms} ms; a timer loop is runaway`);
      let next: FakeTimer | undefined;
      for (const tm of this.timers.values()) {
        if (tm.at <= end && (!next || tm.at < next.at || (tm.at === next.at && tm.id < next.id))) next = tm;
      }
      if (!next) break;
      this.timers.delete(next.id);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = end;
  }
}
