// Allocation throughput of the controller against the real kube-apiserver (testbed control plane,
// ironlb installed by helm, the controller as its own ServiceAccount):
//   backlog: N LoadBalancer Services exist, the controller starts; time until all have addresses;
//   live:    the controller runs, N Services are created (32 creates in flight); time from the
//            first create until all have addresses.
// Target (issue 13 item 8): at least 500 Services per second end to end at N = 10,000.
// Services are made without NodePorts (allocateLoadBalancerNodePorts: false): a real API server has
// 2,768 of them in its default range, the in-repo stand-in had no limit.
// Usage: node bench/controller-throughput.ts [--services N] [--concurrency N]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type { V1Service } from '@kubernetes/client-node';
import { componentClients, startTestApiServer, type TestApiServer } from '../test/support/apiserver.ts';
import { Controller } from '../src/controller/index.ts';
import { DEFAULT_NAMESPACE } from '../src/api/index.ts';

const { values } = parseArgs({ options: { services: { type: 'string', default: '10000' }, concurrency: { type: 'string', default: '64' } } });
const N = Math.max(100, Math.min(100_000, Number(values.services)));
const CONCURRENCY = Math.max(1, Number(values.concurrency));

const body = (ns: string, i: number): V1Service => ({ metadata: { name: `s-${i}`, namespace: ns }, spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }], selector: { app: `a${i}` } } });

async function createAll(api: TestApiServer, ns: string, inFlight = 32): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < N; i = next++) await api.core.createNamespacedService({ namespace: ns, body: body(ns, i) });
    }),
  );
}

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
const results: string[] = [];
try {
  await api.custom.createClusterCustomObject({ group: 'ironlb.io', version: 'v1alpha1', plural: 'ippools', body: { apiVersion: 'ironlb.io/v1alpha1', kind: 'IPPool', metadata: { name: 'big' }, spec: { addresses: ['10.64.0.0/14'] } } });
  const clients = await componentClients(api, 'controller');
  for (const ns of ['backlog', 'live']) await api.core.createNamespace({ body: { metadata: { name: ns } } });

  // Backlog.
  let t = Date.now();
  await createAll(api, 'backlog');
  const seedMs = Date.now() - t;
  const cpu0 = process.cpuUsage();
  t = Date.now();
  const c = new Controller({ clients, namespace: DEFAULT_NAMESPACE, identity: 'bench', leaderElection: false, concurrency: CONCURRENCY });
  await c.start();
  await until(c, N, 600_000);
  const backlogMs = Date.now() - t;
  const cpuB = process.cpuUsage(cpu0);
  results.push(`| backlog: ${N} Services, controller starts | ${backlogMs} | ${((N / backlogMs) * 1000).toFixed(0)} | ${((cpuB.user + cpuB.system) / 1000).toFixed(0)} |`);

  // Live.
  const cpu1 = process.cpuUsage();
  t = Date.now();
  await createAll(api, 'live');
  const createdMs = Date.now() - t;
  await until(c, 2 * N, 600_000);
  const liveMs = Date.now() - t;
  const cpuL = process.cpuUsage(cpu1);
  results.push(`| live: ${N} Services created while it runs (creates took ${createdMs} ms) | ${liveMs} | ${((N / liveMs) * 1000).toFixed(0)} | ${((cpuL.user + cpuL.system) / 1000).toFixed(0)} (creates included) |`);
  await c.stop();
  process.stdout.write(
    `| scenario | ms until all have addresses | Services/s | CPU ms (this process) |\n|---|---|---|---|\n${results.join('\n')}\n\n` +
      `write concurrency ${CONCURRENCY}; seeding ${N} Services took ${seedMs} ms (${((N / seedMs) * 1000).toFixed(0)}/s, 32 in flight: the API server's own rate here); ` +
      `peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (bench and controller in one process); load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n`,
  );
} finally {
  await api.close();
}
