// Incremental decisions at scale (issue 16, item 3): the IncrementalDecider the speaker runs, fed
// synthetic Kubernetes objects (Services, EndpointSlices, Nodes, a validated configuration) through
// the same facts path (serviceFacts/nodeFacts/policies): the first decision, then one Service
// changed (labels, endpoints, removed and added back, a new one), then a node lost and back.
// (bench/speaker-decide.ts measures decide(), the full recompute it replaces.)
// Wall time includes waiting for a core on a shared machine; CPU time is the decision's own cost.
// It runs as the image does: this file compiled (bench/support/compiled.ts) in a child process
// started with the chart's speaker Node options, which holds only what a speaker holds (the
// Kubernetes objects are made one at a time and dropped, as the informers' caches are not part of
// the decider); RSS figures are that process's own. --ts runs the sources in this process instead.
// Usage: node bench/speaker-incremental.ts [--services 100000] [--nodes 1000] [--ts]
//        [--node-args="..."] (instead of the chart's; note the =) [--heap-snapshot FILE]
// (--heap-snapshot writes one at the end, with the decider's state live, to see where its memory goes.)
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeHeapSnapshot } from 'node:v8';
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import { validateConfig, type ParsedConfig } from '../src/api/index.ts';
import { nodeFacts, policies, serviceFacts } from '../src/speaker/facts.ts';
import { IncrementalDecider } from '../src/speaker/incremental.ts';
import { compileBench, ownRss } from './support/compiled.ts';
import { watchGcPauses } from './support/gc-pauses.ts';

const { values: args } = parseArgs({
  options: {
    services: { type: 'string', default: '100000' },
    nodes: { type: 'string', default: '1000' },
    'heap-snapshot': { type: 'string' },
    ts: { type: 'boolean', default: false },
    child: { type: 'boolean', default: false },
    'node-args': { type: 'string' },
  },
});

if (!args.child && !args.ts) {
  // The parent: compile this file, run it as the speaker runs, report its figures.
  const { chartNodeOptions } = await import('../testbed/lab/image.ts');
  const nodeArgs = args['node-args'] !== undefined ? args['node-args'].split(' ').filter(Boolean) : chartNodeOptions('speaker');
  const built = await compileBench(fileURLToPath(import.meta.url));
  try {
    console.log(`compiled, node ${nodeArgs.join(' ')}`);
    const pass = ['--services', args.services, '--nodes', args.nodes, ...(args['heap-snapshot'] ? ['--heap-snapshot', args['heap-snapshot']] : [])];
    const r = spawnSync(process.execPath, [...nodeArgs, '--expose-gc', built.entry, '--child', ...pass], { stdio: 'inherit', timeout: 600_000 });
    if (r.status !== 0) throw new Error(`the bench child failed (status ${r.status}, signal ${r.signal})`);
  } finally {
    await built.remove();
  }
  process.exit(0);
}

const pct = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
};
const f2 = (x: number): string => x.toFixed(2);
const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;

const S = Number(args.services);
const N = Number(args.nodes);
const NS = 'ironlb-system';
const cfgResult = validateConfig([
  { kind: 'IPPool', metadata: { name: 'l2' }, spec: { addresses: ['10.64.0.0/14'] } },
  { kind: 'IPPool', metadata: { name: 'bgp' }, spec: { addresses: ['10.128.0.0/14'] } },
  { kind: 'L2Advertisement', metadata: { name: 'l2', namespace: NS }, spec: { pools: ['l2'] } },
  { kind: 'BGPAdvertisement', metadata: { name: 'b', namespace: NS }, spec: { pools: ['bgp'], communities: ['65000:1'] } },
  ...['r1', 'r2', 'r3'].map((name, i) => ({ kind: 'BGPPeer', metadata: { name, namespace: NS }, spec: { myASN: 64512, peerASN: 64500, peerAddress: `10.255.0.${i + 1}` } })),
]);
if (cfgResult.errors.length) throw new Error(`bench configuration invalid: ${JSON.stringify(cfgResult.errors)}`);
const config: ParsedConfig = cfgResult.config;

const ipOf = (i: number): string => {
  const base = i % 2 ? 0x0a400000 : 0x0a800000; // 10.64/14 (L2) or 10.128/14 (BGP)
  const v = base + 1 + Math.floor(i / 2);
  return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
};
const k8sNode = (i: number): V1Node => ({
  metadata: { name: `node-${i}`, labels: { 'kubernetes.io/hostname': `node-${i}`, zone: `z${i % 3}` } },
  status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: `10.1.${i >> 8}.${i & 255}` }] },
});
const k8sService = (i: number, app = `a${i % 20}`, ip = ipOf(i)): V1Service => ({
  metadata: { namespace: `ns${i % 50}`, name: `svc-${i}`, labels: { app } },
  spec: { type: 'LoadBalancer', externalTrafficPolicy: i % 5 === 0 ? 'Local' : 'Cluster' },
  status: { loadBalancer: { ingress: [{ ip }] } },
});
const k8sSlice = (i: number, a = i % N, b = (i + 1) % N): V1EndpointSlice => ({
  addressType: 'IPv4',
  metadata: { namespace: `ns${i % 50}`, name: `svc-${i}-x`, labels: { 'kubernetes.io/service-name': `svc-${i}` } },
  endpoints: [
    { addresses: ['10.2.0.1'], nodeName: `node-${a}`, conditions: { ready: true } },
    { addresses: ['10.2.0.2'], nodeName: `node-${b}`, conditions: { ready: true } },
  ],
});

const gc = (globalThis as { gc?: () => void }).gc;
const rssMiB = (): number => {
  gc?.();
  return process.memoryUsage().rss / 2 ** 20;
};
const heapMiB = (): number => {
  gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
const gcs = watchGcPauses();
const heap0 = heapMiB();
const rss0 = rssMiB();
const nodeObjs = Array.from({ length: N }, (_, i) => k8sNode(i));

const dec = new IncrementalDecider('node-0');
let t = performance.now();
let c = process.cpuUsage();
dec.setPolicies(policies(config));
for (const n of nodeObjs) dec.setNode(nodeFacts(n, ['10.64.0.0/14', '10.128.0.0/14']));
dec.setAlive(new Set(nodeObjs.map((n) => n.metadata?.name ?? '')));
for (let i = 0; i < S; i++) {
  const f = serviceFacts(k8sService(i), [k8sSlice(i)], config);
  if (f) dec.setService(f);
}
let r = dec.decide();
const firstMs = performance.now() - t;
const firstCpu = cpuMs(process.cpuUsage(c));
let routes = 0;
for (const m of r.decision.bgp.values()) routes += m.size;
console.log(`incremental: ${S} services, ${N} nodes: first decision ${firstMs.toFixed(0)} ms wall, ${firstCpu.toFixed(0)} ms CPU; this node owns ${r.decision.l2.size} L2 addresses, ${routes} routes to 3 peers`);
// As the speaker runs: no forced GC before these (the heap V8 keeps is the speaker's RSS).
const afterFirst = await ownRss();
const gcFirst = gcs.read();

// One Service changed, each kind in turn, through serviceFacts as the speaker does.
const kinds = ['labels', 'endpoints', 'removed', 'added back', 'new'] as const;
const per = new Map<string, number[]>(kinds.map((k) => [k, []]));
const perCpu = new Map<string, number[]>(kinds.map((k) => [k, []]));
const full: Record<string, number> = {};
let next = S;
let rand = 12345;
const rnd = (n: number): number => {
  rand = (Math.imul(rand, 1103515245) + 12345) >>> 0;
  return rand % n;
};
const ROUNDS = 200;
for (let round = 0; round < ROUNDS; round++) {
  const i = rnd(S);
  for (const kind of kinds) {
    t = performance.now();
    c = process.cpuUsage();
    switch (kind) {
      case 'labels': {
        const f = serviceFacts(k8sService(i, `b${round % 7}`), [k8sSlice(i)], config);
        if (f) dec.setService(f);
        break;
      }
      case 'endpoints': {
        const f = serviceFacts(k8sService(i), [k8sSlice(i, rnd(N), rnd(N))], config);
        if (f) dec.setService(f);
        break;
      }
      case 'removed':
        dec.forgetService(`ns${i % 50}/svc-${i}`);
        break;
      case 'added back': {
        const f = serviceFacts(k8sService(i), [k8sSlice(i)], config);
        if (f) dec.setService(f);
        break;
      }
      case 'new': {
        const j = next++;
        const f = serviceFacts(k8sService(j), [k8sSlice(j)], config);
        if (f) dec.setService(f);
        break;
      }
    }
    r = dec.decide();
    perCpu.get(kind)?.push(cpuMs(process.cpuUsage(c)));
    per.get(kind)?.push(performance.now() - t);
    if (r.fullL2) full[kind] = (full[kind] ?? 0) + 1;
  }
}
for (const [kind, xs] of per) {
  const cs = perCpu.get(kind) ?? [];
  console.log(`  one Service ${kind.padEnd(10)}: wall p50 ${f2(pct(xs, 0.5))} ms, p99 ${f2(pct(xs, 0.99))} ms, max ${f2(Math.max(...xs))} ms; CPU p50 ${f2(pct(cs, 0.5))} ms, p99 ${f2(pct(cs, 0.99))} ms (${xs.length} runs${full[kind] ? `, ${full[kind]} placed every unit again: the cap changed` : ''})`);
}

// A node lost and back (membership), several nodes in turn.
const lost: number[] = [];
const back: number[] = [];
const backCpu: number[] = [];
const lostCpu: number[] = [];
const alive = new Set(nodeObjs.map((n) => n.metadata?.name ?? ''));
let moved = 0;
let sharedMoved = 0;
for (let k = 0; k < 10; k++) {
  const name = `node-${1 + rnd(N - 1)}`;
  alive.delete(name);
  t = performance.now();
  c = process.cpuUsage();
  dec.setAlive(alive);
  r = dec.decide();
  lostCpu.push(cpuMs(process.cpuUsage(c)));
  lost.push(performance.now() - t);
  moved += r.changed.size;
  for (const keys of r.sharedChanged) for (const _ of keys) sharedMoved++;
  alive.add(name);
  t = performance.now();
  c = process.cpuUsage();
  dec.setAlive(alive);
  dec.decide();
  backCpu.push(cpuMs(process.cpuUsage(c)));
  back.push(performance.now() - t);
}
console.log(`  node lost: p50 ${f2(pct(lost, 0.5))} ms, max ${f2(Math.max(...lost))} ms wall (CPU p50 ${f2(pct(lostCpu, 0.5))} ms); node back: p50 ${f2(pct(back, 0.5))} ms, max ${f2(Math.max(...back))} ms wall (CPU p50 ${f2(pct(backCpu, 0.5))} ms); ${Math.round(moved / 10)} Service views changed per loss, and ${Math.round(sharedMoved / 10)} by their shared BGP node list`);
const end = await ownRss();
const heapState = heapMiB();
const rssSettled = rssMiB();
const gcMax = (g: ReturnType<typeof gcs.read>): string => Object.entries(g).map(([k, v]) => `${k} ${v.n}× max ${v.maxMs} ms`).join(', ');
console.log(`  RSS of this process: ${afterFirst.rssMiB.toFixed(0)} MiB after the first decision, ${end.rssMiB.toFixed(0)} MiB at the end, peak ${end.peakMiB.toFixed(0)} MiB (${rss0.toFixed(0)} MiB at start; ${rssSettled.toFixed(0)} MiB after a forced full GC)`);
console.log(`  live heap: decider state ${(heapState - heap0).toFixed(0)} MiB (after a full GC); GC during the first decision: ${gcMax(gcFirst)}; over the whole run: ${gcMax(gcs.read())}`);
if (args['heap-snapshot']) {
  writeHeapSnapshot(args['heap-snapshot']);
  // Keeps the state reachable until the snapshot is written.
  console.log(`  heap snapshot: ${args['heap-snapshot']} (${dec.decide().decision.services.size} services)`);
}
