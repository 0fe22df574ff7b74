// Event-loop blocking, for scale tests and benches: the loop delay (which on a loaded machine also
// counts waiting for a core) and this process's own CPU between two ticks of a 2 ms timer (its own
// work, apart from the scheduler's).
import { monitorEventLoopDelay } from 'node:perf_hooks';

export interface LoopStats {
  /** Starts a new measuring window. */
  reset(): void;
  /** Largest and 99th-percentile loop delay, and the largest own CPU between two ticks, in ms. */
  read(): { maxMs: number; p99Ms: number; cpuMaxMs: number };
}

export function startLoopStats(): LoopStats {
  const loop = monitorEventLoopDelay({ resolution: 2 });
  loop.enable();
  let cpuMax = 0;
  let lastCpu = process.cpuUsage();
  setInterval(() => {
    const now = process.cpuUsage();
    cpuMax = Math.max(cpuMax, (now.user - lastCpu.user + now.system - lastCpu.system) / 1000);
    lastCpu = now;
  }, 2).unref();
  return {
    reset() {
      loop.reset();
      cpuMax = 0;
      lastCpu = process.cpuUsage();
    },
    read: () => ({ maxMs: loop.max / 1e6, p99Ms: loop.percentile(99) / 1e6, cpuMaxMs: cpuMax }),
  };
}
