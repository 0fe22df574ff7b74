// The speaker side of bench/speaker-routes.ts, run in a namespace as its own process: S synthetic
// Services (Services, EndpointSlices, Nodes and a validated configuration through the speaker's
// facts path), the incremental decider, the speaker's BGP reconciler and engine, one BGP peer.
// Reports as JSON lines on stdout; waits for a line on stdin between phases.
// Usage: node bench/speaker-routes-child.ts '{"services":100000,"nodes":100,"peer":"10.61.0.1","local":"10.61.0.2"}'
import { startLoopStats } from '../test/support/loop-stats.ts';
import { readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { writeHeapSnapshot } from 'node:v8';
import type { V1EndpointSlice, V1Service } from '@kubernetes/client-node';
import { validateConfig } from '../src/api/index.ts';
import { BgpEngine } from '../src/bgp/index.ts';
import { BgpReconciler } from '../src/speaker/bgp-reconciler.ts';
import { nodeFacts, policies, serviceFacts } from '../src/speaker/facts.ts';
import { IncrementalDecider } from '../src/speaker/incremental.ts';
import { logger } from '../src/util/log.ts';
import { watchGcPauses } from './support/gc-pauses.ts';

const o = JSON.parse(process.argv[2] ?? '{}') as { services: number; nodes: number; peer: string; local: string; heapSnapshot?: string };
const NS = 'ironlb-system';
const out = (x: unknown): void => void process.stdout.write(`${JSON.stringify(x)}\n`);
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const next = async (): Promise<void> => void (await lines.next());

const loop = startLoopStats();
// The phase's largest RSS, sampled every 5 ms, with the heap and external memory at that moment
// (VmHWM says how high, this says what it was made of).
let top = process.memoryUsage();
setInterval(() => {
  const m = process.memoryUsage();
  if (m.rss > top.rss) top = m;
}, 5).unref();
// Each phase's own peak RSS: VmHWM, reset at the start of the phase (writing 5 to clear_refs also
// resets getrusage's maxrss, so the run's peak is the largest phase peak).
const hwmMiB = (): number => Math.round(Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'latin1'))?.[1]) / 1024);
let runPeakMiB = 0;
const gcs = watchGcPauses();
const reset = async (): Promise<void> => {
  await new Promise((r) => setTimeout(r, 20));
  runPeakMiB = Math.max(runPeakMiB, hwmMiB());
  writeFileSync('/proc/self/clear_refs', '5');
  loop.reset();
  gcs.reset();
  top = process.memoryUsage();
  await new Promise((r) => setTimeout(r, 10));
};
const mib = (b: number): number => Math.round(b / 2 ** 20);
const stats = () => ({
  loopMaxMs: loop.read().maxMs,
  loopP99Ms: loop.read().p99Ms,
  ownCpuMaxMs: loop.read().cpuMaxMs,
  mainCpuMaxMs: loop.read().mainCpuMaxMs,
  gc: gcs.read(),
  rssMiB: mib(process.memoryUsage().rss),
  phasePeakRssMiB: hwmMiB(),
  peakRssMiB: Math.max(runPeakMiB, hwmMiB()),
  heapMiB: mib(process.memoryUsage().heapUsed),
  phaseTop: { rssMiB: mib(top.rss), heapTotalMiB: mib(top.heapTotal), heapUsedMiB: mib(top.heapUsed), externalMiB: mib(top.external) },
});

const { config, errors } = validateConfig([
  { kind: 'IPPool', metadata: { name: 'bgp' }, spec: { addresses: ['10.128.0.0/14'] } },
  { kind: 'BGPAdvertisement', metadata: { name: 'b', namespace: NS }, spec: { pools: ['bgp'], communities: ['65001:1'] } },
  { kind: 'BGPPeer', metadata: { name: 'r', namespace: NS }, spec: { myASN: 65001, peerASN: 65000, peerAddress: o.peer } },
]);
if (errors.length) throw new Error(JSON.stringify(errors));
const ipOf = (i: number): string => {
  const v = 0x0a800000 + 1 + i;
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
};
const service = (i: number, ip = ipOf(i)): V1Service => ({
  metadata: { namespace: `ns${i % 50}`, name: `svc-${i}`, labels: { app: `a${i % 20}` } },
  spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Cluster' },
  status: { loadBalancer: { ingress: [{ ip }] } },
});
const slice = (i: number): V1EndpointSlice => ({
  addressType: 'IPv4',
  metadata: { namespace: `ns${i % 50}`, name: `svc-${i}-x`, labels: { 'kubernetes.io/service-name': `svc-${i}` } },
  endpoints: [{ addresses: ['10.2.0.1'], nodeName: `node-${i % o.nodes}`, conditions: { ready: true } }],
});

const rss0 = process.memoryUsage().rss / 2 ** 20;
const quiet = logger('bench').child({}, { level: 'silent' });
const engine = new BgpEngine({ routerId: o.local, listen: false, logger: quiet });
const reconciler = new BgpReconciler({ engine, bfd: () => { throw new Error('no BFD in this bench'); } });
const dec = new IncrementalDecider('node-0');
const ctx = { nodeName: 'node-0', labels: {}, address4: o.local, preserveOnShutdown: false };

// Phase 1: the first decision and the whole table to the peer. (The facts are fed first, as
// the informers' initial lists would: that is not the decision's work.)
dec.setPolicies(policies(config));
for (let i = 0; i < o.nodes; i++) dec.setNode(nodeFacts({ metadata: { name: `node-${i}`, labels: {} }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }));
dec.setAlive(new Set(Array.from({ length: o.nodes }, (_, i) => `node-${i}`)));
for (let i = 0; i < o.services; i++) {
  const f = serviceFacts(service(i), [slice(i)], config);
  if (f) dec.setService(f);
}
const fed = stats();
await reset();
let t = performance.now();
// As the speaker does: the first decision in steps of ~10 ms, one per event-loop turn.
let r = dec.decide({ budgetMs: 10 });
let steps = 1;
while (r.building) {
  await new Promise((res) => setImmediate(res));
  r = dec.decide({ budgetMs: 10 });
  steps++;
}
const decideMs = performance.now() - t;
const firstBlock = stats();
await reset();
t = performance.now();
await reconciler.apply(config, ctx, r.decision.bgp, r.bgpChanges);
out({ phase: 'initial', fedTop: fed.phaseTop, decideMs, steps, decisionBlock: firstBlock, routes: r.decision.bgp.get('r')?.size, applyMs: performance.now() - t, rss0: Math.round(rss0) });
// The speaker keeps a decision's result only until the next one (here: none pending, nothing changed).
r = dec.decide();
await next(); // the peer holds every route
out({ phase: 'loaded', ...stats(), advertised: engine.peerStatus('r').routesAdvertised });
if (o.heapSnapshot) writeHeapSnapshot(o.heapSnapshot);

// Phase 2: steady state, 20 changes a second for 10 s: a Service moved to a new address (one
// route withdrawn, one announced), the speaker's own path (decide, then the reconciler's delta).
await reset();
const per: number[] = [];
let moved = 0;
for (let k = 0; k < 200; k++) {
  const i = (k * 7919) % o.services;
  t = performance.now();
  const f = serviceFacts(service(i, ipOf(o.services + k)), [slice(i)], config);
  if (f) dec.setService(f);
  r = dec.decide();
  await reconciler.apply(config, ctx, r.decision.bgp, r.bgpChanges);
  per.push(performance.now() - t);
  moved++;
  await new Promise((res) => setTimeout(res, 50));
}
per.sort((a, b) => a - b);
out({ phase: 'changes', moved, p50Ms: per[per.length >> 1], maxMs: per.at(-1), ...stats() });
await next();
// Phase 3: withdraw everything (the configuration no longer advertises the pool).
await reset();
await reconciler.apply(config, ctx, new Map(), 'all');
await next(); // the peer holds nothing
out({ phase: 'withdrawn', ...stats() });
await engine.close();
process.exit(0);
