// Garbage-collection pauses of this process (perf_hooks 'gc' entries): the longest and the total
// per kind since the last reset, to tell a GC pause from the process's own work in loop delays.
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

const KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

export interface GcPauses {
  reset(): void;
  /** Per kind: count, longest and total pause in ms. */
  read(): Record<string, { n: number; maxMs: number; totalMs: number }>;
}

export function watchGcPauses(): GcPauses {
  let by: Record<string, { n: number; maxMs: number; totalMs: number }> = {};
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = KINDS[(e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other';
      const k = (by[kind] ??= { n: 0, maxMs: 0, totalMs: 0 });
      k.n++;
      k.maxMs = Math.max(k.maxMs, Math.round(e.duration * 10) / 10);
      k.totalMs = Math.round((k.totalMs + e.duration) * 10) / 10;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  return {
    reset: () => void (by = {}),
    read: () => structuredClone(by),
  };
}
