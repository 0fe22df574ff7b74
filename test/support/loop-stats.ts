// Event-loop blocking, for scale tests and benches: the loop delay (which on a loaded machine also
// counts waiting for a core), this process's own CPU between two ticks of a 2 ms timer (its own
// work, apart from the scheduler's; GC helper threads included) and the main thread's alone (the
// loop's own work and GC pauses on it; Linux, from /proc/thread-self/schedstat in ns).
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface LoopStats {
  /** Starts a new measuring window. */
  reset(): void;
  /**
   * Largest and 99th-percentile loop delay, and the largest own CPU between two ticks, in ms: of
   * the process, and of the main thread alone (NaN where /proc/thread-self/schedstat is missing).
   */
  read(): { maxMs: number; p99Ms: number; cpuMaxMs: number; mainCpuMaxMs: number };
}

/** The calling thread's CPU time in ns (schedstat's first field), or NaN. */
function threadCpuNs(): number {
  try {
    return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ', 1)[0]);
  } catch {
    return NaN;
  }
}

export function startLoopStats(): LoopStats {
  const loop = monitorEventLoopDelay({ resolution: 2 });
  loop.enable();
  let cpuMax = 0;
  let mainMax = 0;
  let lastCpu = process.cpuUsage();
  let lastMain = threadCpuNs();
  setInterval(() => {
    const now = process.cpuUsage();
    const main = threadCpuNs();
    cpuMax = Math.max(cpuMax, (now.user - lastCpu.user + now.system - lastCpu.system) / 1000);
    mainMax = Math.max(mainMax, (main - lastMain) / 1e6);
    lastCpu = now;
    lastMain = main;
  }, 2).unref();
  return {
    reset() {
      loop.reset();
      cpuMax = 0;
      mainMax = 0;
      lastCpu = process.cpuUsage();
      lastMain = threadCpuNs();
    },
    read: () => ({ maxMs: loop.max / 1e6, p99Ms: loop.percentile(99) / 1e6, cpuMaxMs: cpuMax, mainCpuMaxMs: mainMax }),
  };
}
