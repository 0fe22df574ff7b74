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
// Usage: node bench/controller-throughput.ts [--services N] [--concurrency N] [--no-live] [--plots DIR]
// Plot: DIR/controller-throughput.svg, Services/s beside the API server's create rate (default
// docs/img/perf; --plots '' for none).
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Watch, type V1Service } from '@kubernetes/client-node';
import { componentClients, startTestApiServer } from '../test/support/apiserver.ts';
import { Controller, CONTROLLER_RATE_LIMIT } from '../src/controller/index.ts';
import { DEFAULT_NAMESPACE } from '../src/api/index.ts';
import { makeClients, statusCode, type Clients } from '../src/k8s/index.ts';
import { drawFigure } from './support/figures.ts';
import { endRun, plotsOption, startRun, writePlots } from './support/plot-files.ts';

const { values } = parseArgs({ options: { services: { type: 'string', default: '10000' }, concurrency: { type: 'string', default: '64' }, 'no-live': { type: 'boolean', default: false }, ...plotsOption } });
const info = startRun();
const N = Math.max(100, Math.min(100_000, Number(values.services)));
const CONCURRENCY = Math.max(1, Number(values.concurrency));

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

const api = await startTestApiServer();
// The admin's clients with one shared connection (as the controller's): the seeding rate is then
// the API server's, not this process's TLS handshakes.
const admin = makeClients(api.kc);
const results: string[] = [];
const loadStart = load();
try {
  await api.custom.createClusterCustomObject({ group: 'ironlb.io', version: 'v1alpha1', plural: 'ippools', body: { apiVersion: 'ironlb.io/v1alpha1', kind: 'IPPool', metadata: { name: 'big' }, spec: { addresses: ['10.64.0.0/14'] } } });
  // As the controller command makes them: shared connections and its default rate limit.
  const clients = makeClients((await componentClients(api, 'controller')).kc, { rateLimit: CONTROLLER_RATE_LIMIT });
  for (const ns of ['backlog', 'live']) await api.core.createNamespace({ body: { metadata: { name: ns } } });

  // Backlog.
  let t = Date.now();
  await createAll(admin, 'backlog');
  const seedMs = Date.now() - t;
  let modified = 0;
  const watch = await new Watch(api.kc).watch('/api/v1/namespaces/backlog/services', {}, (type) => {
    if (type === 'MODIFIED') modified++;
  }, () => undefined);
  const cpu0 = process.cpuUsage();
  t = Date.now();
  const c = new Controller({ clients, namespace: DEFAULT_NAMESPACE, identity: 'bench', leaderElection: false, concurrency: CONCURRENCY });
  await c.start();
  await until(c, N, 600_000);
  const backlogMs = Date.now() - t;
  const cpuB = process.cpuUsage(cpu0);
  const loadBacklog = load();
  const events = (await admin.core.listNamespacedEvent({ namespace: 'backlog' })).items.length;
  watch.abort();
  const cpuMsB = (cpuB.user + cpuB.system) / 1000;
  results.push(`| backlog: ${N} Services, controller starts | ${backlogMs} | ${((N / backlogMs) * 1000).toFixed(0)} | ${cpuMsB.toFixed(0)} (${(cpuMsB / N).toFixed(2)} per Service) | ${(modified / N).toFixed(2)} Service writes + ${(events / N).toFixed(2)} Events per Service | ${loadBacklog} |`);

  // Live.
  let livePerS: number | undefined;
  if (values['no-live']) results.push('| live: not run (--no-live) | | | | | |');
  else {
    const cpu1 = process.cpuUsage();
    t = Date.now();
    await createAll(admin, 'live');
    const createdMs = Date.now() - t;
    await until(c, 2 * N, 600_000);
    const liveMs = Date.now() - t;
    const cpuL = process.cpuUsage(cpu1);
    livePerS = (N / liveMs) * 1000;
    results.push(`| live: ${N} Services created while it runs (creates took ${createdMs} ms) | ${liveMs} | ${((N / liveMs) * 1000).toFixed(0)} | ${((cpuL.user + cpuL.system) / 1000).toFixed(0)} (creates included) | | ${load()} |`);
  }
  await c.stop();
  writePlots(values.plots, drawFigure('controllerThroughputPlots', { services: N, backlogPerS: (N / backlogMs) * 1000, ...(livePerS !== undefined ? { livePerS } : {}), createsPerS: (N / seedMs) * 1000 }, endRun(info)));
  process.stdout.write(
    `| scenario | ms until all have addresses | Services/s | CPU ms (this process) | API writes | load average at the end |\n|---|---|---|---|---|---|\n${results.join('\n')}\n\n` +
      `write concurrency ${CONCURRENCY}; creates retried after 429/5xx: ${retries}; seeding ${N} Services took ${seedMs} ms (${((N / seedMs) * 1000).toFixed(0)}/s, 32 in flight: the API server's own create rate in this run); ` +
      `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (bench and controller in one process); load average at the start ${loadStart}, at the end ${load()}\n`,
  );
} finally {
  await api.close();
}
