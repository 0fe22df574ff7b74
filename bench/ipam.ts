// Allocator benchmark: N Services (1k / 10k / 100k) into IPv4 /16 ranges and IPv6 /64 pools, per
// allocation p50/p99 latency and heap per Service, beside a linear-scan reference allocator (the
// MetalLB approach: walk the pool from its first address until one is not in use) and the ratio.
//
// Run: node bench/ipam.ts [--quick] [--plots DIR]     (--quick: 1k and 10k only)
// Plot: DIR/ipam-allocation.svg (default docs/img/perf; --plots '' for none).
//
// The reference is O(addresses in use) per allocation, so a full 100k run would take minutes of
// CPU on a shared machine; at 100k it is measured on a uniform sample of allocations (each timed
// one at the fill level it would have in the full run, the rest of the state pre-loaded untimed).
// Per-allocation latency depends only on the fill level, so the sample's percentiles estimate the
// full run's.
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { parseArgs } from 'node:util';
import { runInNewContext } from 'node:vm';
import { Allocator, type Family, type PoolSpec } from '../src/ipam/index.ts';
import { drawFigure, type IpamRow } from './support/figures.ts';
import { endRun, plotsOption, startRun, writePlots } from './support/plot-files.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

interface Result {
  p50: number;
  p99: number;
  bytesPerSvc: number;
  totalMs: number;
  sampled: number;
}

interface Workload {
  label: string;
  family: Family;
  pools: PoolSpec[];
  /** Ranges in address order, for the reference allocator. */
  ranges: Array<[bigint, bigint]>;
}

const workloads: Workload[] = [
  {
    label: 'IPv4, two /16 ranges',
    family: 'IPv4',
    pools: [{ name: 'v4', addresses: ['10.0.0.0/16', '10.1.0.0/16'] }],
    ranges: [
      [0x0a000000n, 0x0a00ffffn],
      [0x0a010000n, 0x0a01ffffn],
    ],
  },
  {
    label: 'IPv6, /64 pool',
    family: 'IPv6',
    pools: [{ name: 'v6', addresses: ['fd00:0:0:1::/64'] }],
    ranges: [[0xfd000000000000010000000000000000n, 0xfd00000000000001ffffffffffffffffn]],
  },
];

function benchIronlb(w: Workload, n: number): Result {
  const before = heapAfterGc();
  const a = new Allocator();
  a.setPools(w.pools);
  const times = new Float64Array(n);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    const r = a.assign({ key: `ns/svc-${i}`, namespace: 'ns', ipFamilies: [w.family] });
    times[i] = performance.now() - s;
    if (!r.ok) throw new Error(`ironlb allocation ${i} failed: ${r.message}`);
  }
  const totalMs = performance.now() - t0;
  const after = heapAfterGc();
  const sorted = [...times].sort((x, y) => x - y);
  const res = { p50: percentile(sorted, 50), p99: percentile(sorted, 99), bytesPerSvc: (after - before) / n, totalMs, sampled: n };
  if (a.lookup('ns/svc-0') === undefined) throw new Error('lost an assignment');
  return res;
}

/** The reference: a set of used addresses and a walk from the pool's first address. */
class LinearScan {
  readonly used = new Set<bigint>();
  readonly bySvc = new Map<string, bigint>();
  readonly ranges: ReadonlyArray<[bigint, bigint]>;
  constructor(ranges: ReadonlyArray<[bigint, bigint]>) {
    this.ranges = ranges;
  }
  allocate(key: string): bigint | undefined {
    for (const [lo, hi] of this.ranges) {
      for (let ip = lo; ip <= hi; ip++) {
        if (!this.used.has(ip)) {
          this.used.add(ip);
          this.bySvc.set(key, ip);
          return ip;
        }
      }
    }
    return undefined;
  }
  /** Pre-loads the state the full run would have after `k` sequential allocations (untimed). */
  preload(from: number, to: number): void {
    for (let i = from; i < to; i++) {
      const ip = this.nth(i);
      this.used.add(ip);
      this.bySvc.set(`ns/svc-${i}`, ip);
    }
  }
  nth(i: number): bigint {
    let k = BigInt(i);
    for (const [lo, hi] of this.ranges) {
      if (k <= hi - lo) return lo + k;
      k -= hi - lo + 1n;
    }
    throw new Error('pool too small');
  }
}

function benchLinear(w: Workload, n: number, samples: number): Result {
  const before = heapAfterGc();
  const ref = new LinearScan(w.ranges);
  const times: number[] = [];
  const t0 = performance.now();
  if (samples >= n) {
    for (let i = 0; i < n; i++) {
      const s = performance.now();
      const ip = ref.allocate(`ns/svc-${i}`);
      times.push(performance.now() - s);
      if (ip === undefined) throw new Error('reference ran out of addresses');
    }
  } else {
    // Uniform sample of fill levels: allocation i is timed with exactly i addresses in use.
    const step = n / samples;
    let filled = 0;
    for (let j = 0; j < samples; j++) {
      const i = Math.floor(j * step);
      ref.preload(filled, i);
      const s = performance.now();
      const ip = ref.allocate(`ns/svc-${i}`);
      times.push(performance.now() - s);
      if (ip !== ref.nth(i)) throw new Error('reference sample out of step');
      filled = i + 1;
    }
    ref.preload(filled, n);
  }
  const totalMs = performance.now() - t0;
  const after = heapAfterGc();
  if (ref.bySvc.size !== n) throw new Error('reference lost an assignment');
  times.sort((x, y) => x - y);
  return { p50: percentile(times, 50), p99: percentile(times, 99), bytesPerSvc: (after - before) / n, totalMs, sampled: times.length };
}

const us = (ms: number): string => `${(ms * 1000).toFixed(2)} µs`;
const pad = (s: string, w: number): string => s.padStart(w);

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, ...plotsOption } });
const run = startRun();
const plotRows: IpamRow[] = [];
const sizes = args.quick ? [1_000, 10_000] : [1_000, 10_000, 100_000];
console.log(`node ${process.version}, ${process.arch}; per-allocation latency and retained heap per Service`);
console.log(
  ['workload'.padEnd(22), pad('N', 7), pad('ironlb p50', 12), pad('p99', 12), pad('B/svc', 7), pad('linear p50', 13), pad('p99', 13), pad('B/svc', 7), pad('p50 ×', 9), pad('p99 ×', 9), '  linear timed'].join(' '),
);
for (const w of workloads) {
  for (const n of sizes) {
    // Warm the JIT on a small run first so the first row is not dominated by compilation.
    benchIronlb(w, 500);
    const mine = benchIronlb(w, n);
    const ref = benchLinear(w, n, n <= 10_000 ? n : 2_000);
    plotRows.push({ workload: w.label, n, ironlb: { p50Ms: mine.p50, p99Ms: mine.p99 }, linear: { p50Ms: ref.p50, p99Ms: ref.p99 } });
    console.log(
      [
        w.label.padEnd(22),
        pad(String(n), 7),
        pad(us(mine.p50), 12),
        pad(us(mine.p99), 12),
        pad(mine.bytesPerSvc.toFixed(0), 7),
        pad(us(ref.p50), 13),
        pad(us(ref.p99), 13),
        pad(ref.bytesPerSvc.toFixed(0), 7),
        pad((ref.p50 / mine.p50).toFixed(1), 9),
        pad((ref.p99 / mine.p99).toFixed(1), 9),
        `  ${ref.sampled === n ? 'all' : `${ref.sampled} sampled`}`,
      ].join(' '),
    );
  }
}
writePlots(args.plots, drawFigure('ipamPlots', plotRows, endRun(run)));
