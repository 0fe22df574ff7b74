// Shared by the scale benches (bench/controller-scale.ts, bench/api-load.ts): a process's CPU and
// memory from /proc, health probes timed from a worker thread (so the bench's own busy spells do
// not count as the probed process's latency), seeding objects straight into etcd, and the API
// server's own request and watch metrics.
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { Worker } from 'node:worker_threads';
import { randomUUID } from 'node:crypto';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { ControlPlane } from '../testbed/controlplane.ts';
import type { TestApiServer } from '../test/support/apiserver.ts';
import type { Clients } from '../src/k8s/index.ts';

export const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const TICK_MS = 10; // USER_HZ 100

/** CPU (user + system, ms) and memory (RSS, peak RSS; MiB) of a process. */
export function procStats(pid: number): { cpuMs: number; rssMiB: number; hwmMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuMs = (Number(f[11]) + Number(f[12])) * TICK_MS;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
  return { cpuMs, rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
}

/** Samples a process's RSS every `everyMs`, keeping the peak and the last value. */
export class RssSampler {
  peakMiB = 0;
  lastMiB = 0;
  #t: NodeJS.Timeout;
  constructor(pid: number, everyMs = 250) {
    this.#t = setInterval(() => {
      try {
        const s = procStats(pid);
        this.lastMiB = s.rssMiB;
        this.peakMiB = Math.max(this.peakMiB, s.rssMiB);
      } catch {
        // the process is gone; the caller notices by other means
      }
    }, everyMs);
    this.#t.unref();
  }
  resetPeak(): void {
    this.peakMiB = this.lastMiB;
  }
  stop(): void {
    clearInterval(this.#t);
  }
}

export interface ProbeStats {
  n: number;
  failed: number;
  p50: number;
  p99: number;
  max: number;
}

/** Percentiles of a sample (nearest rank). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

const PROBER = `
const { parentPort, workerData } = require('node:worker_threads');
const http = require('node:http');
const agent = new http.Agent({ keepAlive: false });
let samples = [], failed = 0, stopped = false;
function once() {
  if (stopped) return;
  const t0 = performance.now();
  const req = http.get(workerData.url, { agent, timeout: workerData.timeoutMs }, (res) => {
    res.resume();
    res.on('end', () => { samples.push(performance.now() - t0); if (res.statusCode !== 200) failed++; next(); });
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', () => { samples.push(performance.now() - t0); failed++; next(); });
}
function next() { setTimeout(once, workerData.everyMs); }
parentPort.on('message', (m) => {
  if (m === 'take') { parentPort.postMessage({ samples, failed }); samples = []; failed = 0; }
  if (m === 'stop') { stopped = true; parentPort.close(); }
});
once();
`;

/**
 * GETs `url` every `everyMs` from a worker thread (its own event loop), one at a time, each timed
 * from the request to the end of the response; a refused or timed-out probe counts as failed with
 * its time.
 */
export class Prober {
  #w: Worker;
  constructor(url: string, everyMs = 50, timeoutMs = 5_000) {
    this.#w = new Worker(PROBER, { eval: true, workerData: { url, everyMs, timeoutMs } });
  }
  /** The probes since the last take. */
  take(): Promise<ProbeStats> {
    return new Promise((resolve) => {
      this.#w.once('message', (m: { samples: number[]; failed: number }) => {
        const s = [...m.samples].sort((a, b) => a - b);
        resolve({ n: s.length, failed: m.failed, p50: percentile(s, 50), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN });
      });
      this.#w.postMessage('take');
    });
  }
  async stop(): Promise<void> {
    this.#w.postMessage('stop');
    await this.#w.terminate();
  }
}

export const fmtProbe = (p: ProbeStats): string => `${p.p50.toFixed(1)} / ${p.p99.toFixed(1)} / ${p.max.toFixed(0)} ms (${p.n} probes, ${p.failed} failed)`;

/** etcd's client URL, read from its command line (the control plane does not publish it). */
export function etcdUrl(cp: ControlPlane): string {
  const pid = cp.etcd.pid;
  if (pid === undefined) throw new Error('etcd is not running');
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  const flag = args.find((a) => a.startsWith('--listen-client-urls='));
  if (!flag) throw new Error('etcd has no --listen-client-urls flag');
  return flag.slice(flag.indexOf('=') + 1).split(',')[0] as string;
}

/**
 * Writes objects straight into etcd under the keys the API server reads, JSON-encoded (the API
 * server decodes JSON as well as its own protobuf), `perTxn` puts per transaction (etcd allows
 * 128), `inFlight` transactions at once. The API server's watch cache sees them as writes.
 * This bypasses admission and validation: the caller writes objects the API server would accept.
 */
export async function etcdPut(url: string, entries: ReadonlyArray<readonly [key: string, value: unknown]>, perTxn = 100, inFlight = 4): Promise<void> {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  let next = 0;
  const batches = Math.ceil(entries.length / perTxn);
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let b = next++; b < batches; b = next++) {
        const success = entries.slice(b * perTxn, (b + 1) * perTxn).map(([k, v]) => ({ request_put: { key: b64(k), value: b64(JSON.stringify(v)) } }));
        const res = await fetch(`${url}/v3/kv/txn`, { method: 'POST', body: JSON.stringify({ success }), signal: AbortSignal.timeout(60_000) });
        if (!res.ok) throw new Error(`etcd txn answered ${res.status}: ${await res.text()}`);
      }
    }),
  );
}

/** RFC 3339 without fractions, as Kubernetes writes creationTimestamp. */
export const k8sTime = (d = new Date()): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

export { randomUUID };

export type MetricRow = { name: string; labels: Record<string, string>; value: number };

/** Prometheus text exposition, parsed into (name, labels, value) rows for the names asked. */
export function parseMetrics(text: string, names: readonly string[]): MetricRow[] {
  const out: MetricRow[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || !names.includes(m[1] as string)) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    out.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return out;
}

/** The API server's /metrics, parsed into (name, labels, value) rows for the names asked. */
export async function apiMetrics(cp: ControlPlane, names: readonly string[]): Promise<MetricRow[]> {
  return parseMetrics(await cp.kubectl(['get', '--raw', '/metrics'], { timeoutMs: 60_000 }), names);
}

/** etcd's /metrics, parsed likewise. */
export async function etcdMetrics(cp: ControlPlane, names: readonly string[]): Promise<MetricRow[]> {
  const res = await fetch(`${etcdUrl(cp)}/metrics`, { signal: AbortSignal.timeout(30_000) });
  if (!res.ok) throw new Error(`etcd /metrics answered ${res.status}`);
  return parseMetrics(await res.text(), names);
}

// ---- seeding Services straight into etcd ---------------------------------------------------------

export interface Templates {
  service: Record<string, unknown>;
  ipAddress: Record<string, unknown> | undefined;
  ipAddressPrefix: string | undefined;
}

/** One Service made through the API (status patched as the controller would), read back as the model for etcd seeding. */
export async function serviceTemplates(api: TestApiServer, admin: Clients, pool: string, ip: string): Promise<Templates> {
  await admin.core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'template', labels: { app: 'template' } }, spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }], selector: { app: 'template' } } } });
  await admin.core.patchNamespacedServiceStatus(
    { name: 'template', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip, ipMode: 'VIP' }] }, conditions: [{ type: 'ironlb.io/IPAllocated', status: 'True', reason: 'FromPool', message: pool, lastTransitionTime: new Date().toISOString() }] } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
  const service = JSON.parse(await api.kubectl(['get', 'service', 'template', '-n', 'default', '-o', 'json'])) as Record<string, unknown> & { spec: { clusterIP: string } };
  const cip = service.spec.clusterIP;
  // Where the IPAddress of its ClusterIP lives in etcd (the MultiCIDRServiceAllocator's objects).
  const url = etcdUrl(api.cp);
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  const res = (await (await fetch(`${url}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: b64('/registry/'), range_end: b64('/registry0'), keys_only: true }) })).json()) as { kvs?: Array<{ key: string }> };
  const keys = (res.kvs ?? []).map((k) => Buffer.from(k.key, 'base64').toString());
  const ipKey = keys.find((k) => k.endsWith(`/${cip}`));
  let ipAddress: Record<string, unknown> | undefined;
  if (ipKey) ipAddress = JSON.parse(await api.kubectl(['get', 'ipaddresses.networking.k8s.io', cip, '-o', 'json'])) as Record<string, unknown>;
  return { service, ipAddress, ipAddressPrefix: ipKey?.slice(0, -cip.length) };
}

export function strip(o: Record<string, unknown>): Record<string, unknown> {
  const m = { ...(o.metadata as Record<string, unknown>) };
  delete m.resourceVersion;
  return { ...o, metadata: m };
}

export interface SeedService {
  namespace: string;
  name: string;
  clusterIP: string;
  /** Its held load-balancer address; '' for none (a new Service, no status). */
  ip: string;
  labels: Record<string, string>;
}

/** Services from..to-1 (as `spec(i)` says) written into etcd with their ClusterIPs' IPAddress objects, modelled on the templates. */
export async function seedServicesEtcd(api: TestApiServer, t: Templates, from: number, to: number, spec: (i: number) => SeedService): Promise<void> {
  if (!t.ipAddress || !t.ipAddressPrefix) throw new Error('no IPAddress object found for the template ClusterIP: this API server uses the bitmap allocator; seed with --seed api');
  const svc = strip(t.service) as { metadata: Record<string, unknown>; spec: Record<string, unknown>; status: { loadBalancer: { ingress: Array<Record<string, unknown>> } } };
  const ipa = strip(t.ipAddress) as { metadata: Record<string, unknown>; spec: { parentRef: Record<string, unknown> } };
  const now = k8sTime();
  const entries: Array<[string, unknown]> = [];
  for (let i = from; i < to; i++) {
    const { namespace: ns, name, clusterIP: cip, ip, labels } = spec(i);
    // The IPAddress first: the API server's ClusterIP repair, seeing a Service before its IPAddress, would report it not allocated.
    entries.push([`${t.ipAddressPrefix}${cip}`, { ...ipa, metadata: { ...ipa.metadata, name: cip, uid: randomUUID(), creationTimestamp: now }, spec: { parentRef: { ...ipa.spec.parentRef, namespace: ns, name } } }]);
    entries.push([
      `/registry/services/specs/${ns}/${name}`,
      {
        ...svc,
        metadata: { ...svc.metadata, name, namespace: ns, uid: randomUUID(), creationTimestamp: now, labels },
        spec: { ...svc.spec, clusterIP: cip, clusterIPs: [cip], selector: labels },
        status: ip ? { ...svc.status, loadBalancer: { ingress: [{ ...svc.status.loadBalancer.ingress[0], ip }] } } : { loadBalancer: {} },
      },
    ]);
    if (entries.length >= 20_000) await etcdPut(etcdUrl(api.cp), entries.splice(0));
  }
  await etcdPut(etcdUrl(api.cp), entries);
}

