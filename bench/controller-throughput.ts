// Allocation throughput of the controller against the real kube-apiserver (testbed control plane,
// ironlb installed by helm, the controller as its own ServiceAccount):
//   backlog: N LoadBalancer Services exist, the controller starts; time until all have addresses;
//   live:    the controller runs, N Services are created (32 creates in flight); time from the
//            first create until all have addresses.
// Target (issue 13 item 8): at least 500 Services per second end to end at N = 10,000.
// Services are made without NodePorts (allocateLoadBalancerNodePorts: false): a real API server has
// 2,768 of them in its default range, the in-repo stand-in had no limit.
// The seeding rate (32 creates in flight, one shared connection) is the API server's own create
// rate in the same run: the ceiling for the live scenario, where creates and the controller's
// writes share it. Writes per Service are counted with a watch (MODIFIED events of the backlog's
// Services) and by listing the Events written.
// What each phase cost (seeding, backlog, live): CPU of the controller (this process), of
// kube-apiserver and of etcd from /proc, per Service and per API request; the API server's request
// counts and mean latency by verb (apiserver_request_duration_seconds), its APF queueing, and
// etcd's WAL fsyncs (etcd_disk_wal_fsync_duration_seconds).
// etcd fsyncs its log as in production (--fsync, the default); --no-fsync runs it as the test
// control plane does (--unsafe-no-fsync), a test-bed choice.
// --own-events: every first assignment its own Event, as before bursts were summarised (with
// --qps 500 --burst 1000, the client limit of then: the "before" of docs/performance.md).
// --http1: the controller's calls on HTTP/1.1 connections instead of HTTP/2 streams.
// --seed etcd: the backlog written straight into etcd (bench/scale-support.ts), when the machine is
// too loaded to create 10,000 Services through the API server in minutes; default api.
// Usage: node bench/controller-throughput.ts [--services N] [--concurrency N] [--no-live] [--no-fsync] [--own-events] [--qps N] [--burst N] [--http1] [--seed api|etcd] [--pprof DIR] [--plots DIR]
// --pprof DIR: a 20 s CPU profile of kube-apiserver during the backlog (go tool pprof -top DIR/...).
// Plot: DIR/controller-throughput.svg, Services/s beside the API server's create rate (default
// docs/img/perf; --plots '' for none).
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Watch, type CoreV1Event, type V1Service } from '@kubernetes/client-node';
import { componentClients, startTestApiServer, type TestApiServer } from '../test/support/apiserver.ts';
import { tool } from '../testbed/tools.ts';
import { Controller, COMPONENT, CONTROLLER_RATE_LIMIT } from '../src/controller/index.ts';
import { DEFAULT_NAMESPACE } from '../src/api/index.ts';
import { makeClients, statusCode, type Clients } from '../src/k8s/index.ts';
import { drawFigure } from './support/figures.ts';
import { endRun, plotsOption, startRun, writePlots } from './support/plot-files.ts';
import { apiMetrics, etcdMetrics, procStats, seedServicesEtcd, serviceTemplates } from './scale-support.ts';
import { waitFor } from '../test/support/wait.ts';

const { values } = parseArgs({ options: { services: { type: 'string', default: '10000' }, concurrency: { type: 'string', default: '64' }, 'no-live': { type: 'boolean', default: false }, 'no-fsync': { type: 'boolean', default: false }, pprof: { type: 'string', default: '' }, 'own-events': { type: 'boolean', default: false }, http1: { type: 'boolean', default: false }, seed: { type: 'string', default: 'api' }, qps: { type: 'string', default: String(CONTROLLER_RATE_LIMIT.qps) }, burst: { type: 'string', default: String(CONTROLLER_RATE_LIMIT.burst) }, ...plotsOption } });
const info = startRun();
const N = Math.max(100, Math.min(100_000, Number(values.services)));
const CONCURRENCY = Math.max(1, Number(values.concurrency));
const RATE_LIMIT = { qps: Math.max(1, Number(values.qps)), burst: Math.max(1, Number(values.burst)) };

const body = (ns: string, i: number): V1Service => ({ metadata: { name: `s-${i}`, namespace: ns }, spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }], selector: { app: `a${i}` } } });

async function createAll(admin: Clients, ns: string, inFlight = 32): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < N; i = next++) await create(admin, ns, i);
    }),
  );
}

/**
 * One create, retried (at most 5 times) when an overloaded API server answers 429 or 5xx (a 504
 * "context deadline exceeded" ended a 10,000-Service run here); 409 after such a retry means the
 * first attempt got through.
 */
async function create(admin: Clients, ns: string, i: number): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.core.createNamespacedService({ namespace: ns, body: body(ns, i) });
      return;
    } catch (err) {
      const code = statusCode(err);
      if (code === 409 && attempt > 1) return;
      if (attempt >= 5 || code === undefined || (code !== 429 && code < 500)) throw err;
      retries++;
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }
}
let retries = 0;

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

async function allocated(c: Controller): Promise<number> {
  return (await c.metrics.allocations.get()).values.find((v) => v.labels.result === 'allocated')?.value ?? 0;
}

async function until(c: Controller, want: number, deadlineMs: number): Promise<void> {
  const end = Date.now() + deadlineMs;
  while ((await allocated(c)) < want) {
    if (Date.now() > end) throw new Error(`only ${await allocated(c)} of ${want} allocated within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  await c.idle();
}

interface Sample {
  at: number;
  ctlMs: number;
  apiMs: number;
  etcdMs: number;
  /** Per "VERB resource[/subresource]" (watches left out): requests and seconds spent. */
  req: Map<string, { n: number; s: number }>;
  apfWait: { n: number; s: number };
  fsync: { n: number; s: number };
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function sample(api: TestApiServer): Promise<Sample> {
  const at = Date.now();
  const ctlMs = cpuMs();
  const apiMs = procStats(api.cp.apiserver.pid ?? 0).cpuMs;
  const etcdMs = procStats(api.cp.etcd.pid ?? 0).cpuMs;
  const rows = await apiMetrics(api.cp, ['apiserver_request_duration_seconds_sum', 'apiserver_request_duration_seconds_count', 'apiserver_flowcontrol_request_wait_duration_seconds_sum', 'apiserver_flowcontrol_request_wait_duration_seconds_count']);
  const req = new Map<string, { n: number; s: number }>();
  const apfWait = { n: 0, s: 0 };
  for (const r of rows) {
    const count = r.name.endsWith('_count');
    if (r.name.startsWith('apiserver_flowcontrol')) {
      if (count) apfWait.n += r.value;
      else apfWait.s += r.value;
      continue;
    }
    if (r.labels.verb === 'WATCH' || r.labels.verb === 'CONNECT') continue;
    const k = `${r.labels.verb} ${r.labels.resource}${r.labels.subresource ? `/${r.labels.subresource}` : ''}`;
    const e = req.get(k) ?? { n: 0, s: 0 };
    if (count) e.n += r.value;
    else e.s += r.value;
    req.set(k, e);
  }
  const fsync = { n: 0, s: 0 };
  for (const r of await etcdMetrics(api.cp, ['etcd_disk_wal_fsync_duration_seconds_sum', 'etcd_disk_wal_fsync_duration_seconds_count'])) {
    if (r.name.endsWith('_count')) fsync.n += r.value;
    else fsync.s += r.value;
  }
  return { at, ctlMs, apiMs, etcdMs, req, apfWait, fsync };
}

/** What a phase cost, per Service and per API request, as one line of text. */
function costs(phase: string, a: Sample, b: Sample, services: number): string {
  const per = (x: number) => (x / services).toFixed(2);
  let requests = 0;
  const verbs: string[] = [];
  for (const [k, v] of b.req) {
    const n = v.n - (a.req.get(k)?.n ?? 0);
    const sec = v.s - (a.req.get(k)?.s ?? 0);
    requests += n;
    if (n >= services / 20) verbs.push(`${k} ${n} (mean ${((sec / n) * 1000).toFixed(1)} ms)`);
  }
  const apiMs = b.apiMs - a.apiMs;
  const waits = b.apfWait.n - a.apfWait.n;
  const fs = b.fsync.n - a.fsync.n;
  // The three together on 2 cores and nothing else: the rate this CPU cost allows.
  const totalMs = (b.ctlMs - a.ctlMs + apiMs + (b.etcdMs - a.etcdMs)) / services;
  return (
    `${phase}: ${((b.at - a.at) / 1000).toFixed(1)} s; CPU ms per Service: controller ${per(b.ctlMs - a.ctlMs)}, kube-apiserver ${per(apiMs)}, etcd ${per(b.etcdMs - a.etcdMs)}, together ${totalMs.toFixed(2)} (${(2000 / totalMs).toFixed(0)}/s on 2 cores of its own); ` +
    `API requests ${requests} (${(requests / services).toFixed(2)} per Service, ${requests ? (apiMs / requests).toFixed(2) : '-'} ms API server CPU each): ${verbs.join('; ')}; ` +
    `APF wait mean ${waits ? (((b.apfWait.s - a.apfWait.s) / waits) * 1000).toFixed(2) : '-'} ms; etcd WAL fsyncs ${fs} (mean ${fs ? (((b.fsync.s - a.fsync.s) / fs) * 1000).toFixed(2) : '-'} ms); load ${load()}`
  );
}

/** A CPU profile of kube-apiserver (needs --profiling), written to `file` (go tool pprof -top FILE). */
function profileApiServer(api: TestApiServer, seconds: number, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(tool('kubernetes', 'kubectl'), ['get', '--raw', `/debug/pprof/profile?seconds=${seconds}`], { env: api.cp.env, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: (seconds + 60) * 1000 }, (err, out) => {
      if (err) reject(err);
      else {
        writeFileSync(file, out);
        resolve();
      }
    });
  });
}

// A /12 of ClusterIPs: the etcd seeding gives the backlog 10.100.0.0 onwards.
const api = await startTestApiServer({ etcdFsync: !values['no-fsync'], apiServerArgs: ['--service-cluster-ip-range=10.96.0.0/12,fd00:10:96::/108', ...(values.pprof ? ['--profiling=true'] : [])] });
// The admin's clients with one shared connection (as the controller's): the seeding rate is then
// the API server's, not this process's TLS handshakes.
const admin = makeClients(api.kc);
const results: string[] = [];
const costLines: string[] = [];
const loadStart = load();
try {
  await api.custom.createClusterCustomObject({ group: 'ironlb.io', version: 'v1alpha1', plural: 'ippools', body: { apiVersion: 'ironlb.io/v1alpha1', kind: 'IPPool', metadata: { name: 'big' }, spec: { addresses: ['10.64.0.0/14'] } } });
  // As the controller command makes them: shared connections and its rate limit (default as the command's).
  const clients = makeClients((await componentClients(api, 'controller')).kc, { rateLimit: RATE_LIMIT, http1: values.http1 });
  for (const ns of ['backlog', 'live']) await api.core.createNamespace({ body: { metadata: { name: ns } } });

  // Backlog.
  let s0 = await sample(api);
  let t = Date.now();
  if (values.seed === 'etcd') {
    const tpl = await serviceTemplates(api, admin, 'big', '10.67.255.254');
    await admin.core.deleteNamespacedService({ name: 'template', namespace: 'default' });
    await seedServicesEtcd(api, tpl, 0, N, (i) => ({ namespace: 'backlog', name: `s-${i}`, clusterIP: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`, ip: '', labels: { app: `a${i}` } }));
    await waitFor(async () => ((await admin.core.listNamespacedService({ namespace: 'backlog', limit: 1 })).metadata?.remainingItemCount ?? 0) + 1 >= N || undefined, { what: 'the seeded backlog listed', timeoutMs: 120_000, intervalMs: 500 });
  } else await createAll(admin, 'backlog');
  const seedMs = Date.now() - t;
  let s1 = await sample(api);
  costLines.push(costs(values.seed === 'etcd' ? `seeding (${N} Services written into etcd)` : `seeding (${N} creates, 32 in flight)`, s0, s1, N));
  process.stdout.write(`progress: ${costLines.at(-1)}\n`);
  let modified = 0;
  const watch = await new Watch(api.kc).watch('/api/v1/namespaces/backlog/services', {}, (type) => {
    if (type === 'MODIFIED') modified++;
  }, () => undefined);
  s0 = await sample(api);
  const cpu0 = process.cpuUsage();
  t = Date.now();
  const c = new Controller({ clients, namespace: DEFAULT_NAMESPACE, identity: 'bench', leaderElection: false, concurrency: CONCURRENCY, ...(values['own-events'] ? { allocationEvents: { burst: 1e9 } } : {}) });
  const profiled = values.pprof ? (mkdirSync(values.pprof, { recursive: true }), profileApiServer(api, 20, join(values.pprof, 'kube-apiserver-backlog.pprof'))) : undefined;
  await c.start();
  await until(c, N, 600_000);
  const backlogMs = Date.now() - t;
  const cpuB = process.cpuUsage(cpu0);
  const loadBacklog = load();
  await c.idle();
  s1 = await sample(api);
  costLines.push(costs(`backlog (${N} Services, from the controller's start until idle)`, s0, s1, N));
  await profiled;
  // The Services' own Events, and the summaries of a burst on the IPPool (src/controller/allocation-events.ts).
  // (Only the controller's: the API server's ClusterIP repair writes Events about etcd-seeded Services.)
  const ours = (e: CoreV1Event) => e.reportingComponent === COMPONENT;
  const own = (await admin.core.listNamespacedEvent({ namespace: 'backlog' })).items.filter(ours).length;
  const summaries = (await admin.core.listNamespacedEvent({ namespace: 'default' })).items.filter((e) => ours(e) && e.involvedObject.kind === 'IPPool' && e.reason === 'IPAllocated').length;
  const events = own + summaries;
  watch.abort();
  const cpuMsB = (cpuB.user + cpuB.system) / 1000;
  process.stdout.write(`progress: ${costLines.at(-1)}\n`);
  results.push(`| backlog: ${N} Services, controller starts | ${backlogMs} | ${((N / backlogMs) * 1000).toFixed(0)} | ${cpuMsB.toFixed(0)} (${(cpuMsB / N).toFixed(2)} per Service) | ${(modified / N).toFixed(2)} Service writes + ${(events / N).toFixed(2)} Events per Service (${own} own, ${summaries} summaries) | ${loadBacklog} |`);
  process.stdout.write(`progress: ${results.at(-1)}\n`);

  // Live.
  let livePerS: number | undefined;
  if (values['no-live']) results.push('| live: not run (--no-live) | | | | | |');
  else {
    s0 = await sample(api);
    const cpu1 = process.cpuUsage();
    t = Date.now();
    await createAll(admin, 'live');
    const createdMs = Date.now() - t;
    await until(c, 2 * N, 600_000);
    const liveMs = Date.now() - t;
    const cpuL = process.cpuUsage(cpu1);
    livePerS = (N / liveMs) * 1000;
    results.push(`| live: ${N} Services created while it runs (creates took ${createdMs} ms) | ${liveMs} | ${((N / liveMs) * 1000).toFixed(0)} | ${((cpuL.user + cpuL.system) / 1000).toFixed(0)} (creates included) | | ${load()} |`);
    await c.idle();
    s1 = await sample(api);
    costLines.push(costs(`live (${N} creates and their allocations; controller CPU includes the creates)`, s0, s1, N));
  }
  await c.stop();
  // The plot sets the rates beside the API server's create rate, which an etcd-seeded run has not measured.
  if (values.seed !== 'etcd') writePlots(values.plots, drawFigure('controllerThroughputPlots', { services: N, backlogPerS: (N / backlogMs) * 1000, ...(livePerS !== undefined ? { livePerS } : {}), createsPerS: (N / seedMs) * 1000 }, endRun(info)));
  process.stdout.write(
    `| scenario | ms until all have addresses | Services/s | CPU ms (this process) | API writes | load average at the end |\n|---|---|---|---|---|---|\n${results.join('\n')}\n\n` +
      `write concurrency ${CONCURRENCY}; client rate limit ${RATE_LIMIT.qps}/s burst ${RATE_LIMIT.burst}; ${values['own-events'] ? 'every first assignment its own Event (--own-events)' : 'a burst of first assignments summarised per pool'}; the controller on ${values.http1 ? 'HTTP/1.1' : 'HTTP/2'}; etcd ${values['no-fsync'] ? '--unsafe-no-fsync (test-bed choice)' : 'fsyncs its log (as in production)'}; creates retried after 429/5xx: ${retries}; seeding ${N} Services took ${seedMs} ms (${((N / seedMs) * 1000).toFixed(0)}/s, ${values.seed === 'etcd' ? 'written into etcd' : "32 in flight: the API server's own create rate in this run"}); ` +
      `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (bench and controller in one process); load average at the start ${loadStart}, at the end ${load()}\n\n` +
      costLines.map((l) => `- ${l}`).join('\n') +
      '\n',
  );
} finally {
  await api.close();
}
