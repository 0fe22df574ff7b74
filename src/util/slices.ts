// Long synchronous work cut into slices: the event loop gets a turn every SLICE_MS, so health
// probes, watch events and API responses are served while a restart goes through 100,000 Services.

/** Longest stretch of work before the event loop gets a turn. */
export const SLICE_MS = 10;

export class Slicer {
  #since = performance.now();
  readonly #sliceMs: number;
  constructor(sliceMs = SLICE_MS) {
    this.#sliceMs = sliceMs;
  }
  /** Resolves at once, or on the next turn of the event loop once the slice's time has passed. */
  async turn(): Promise<void> {
    if (performance.now() - this.#since < this.#sliceMs) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.#since = performance.now();
  }
}

/** Items sorted per run before the runs are merged; a run of this size sorts in about a millisecond. */
const RUN = 1024;

/**
 * The same result as `[...items].sort(cmp)` (stable), with the event loop given a turn between
 * slices: runs are sorted with Array.prototype.sort, then merged pairwise. Sorting 100,000 Services
 * at once held the loop for 100-600 ms.
 */
export async function sortInSlices<T>(items: readonly T[], cmp: (a: T, b: T) => number, slicer: Slicer = new Slicer()): Promise<T[]> {
  let a = items.slice();
  const n = a.length;
  for (let lo = 0; lo < n; lo += RUN) {
    const run = a.slice(lo, lo + RUN).sort(cmp);
    for (let k = 0; k < run.length; k++) a[lo + k] = run[k] as T;
    await slicer.turn();
  }
  let b = new Array<T>(n);
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      // The left item on ties: stable.
      while (i < mid && j < hi) {
        b[k++] = cmp(a[j] as T, a[i] as T) < 0 ? (a[j++] as T) : (a[i++] as T);
        if ((k & (RUN - 1)) === 0) await slicer.turn();
      }
      while (i < mid) b[k++] = a[i++] as T;
      while (j < hi) b[k++] = a[j++] as T;
    }
    [a, b] = [b, a];
  }
  return a;
}
