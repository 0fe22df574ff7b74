// The controller at scale on the real control plane (issue 16 item 4, issue 13 item 6): the real
// `ironlb controller` process (its own ServiceAccount, the chart's RBAC, default flags but no
// leader election) against the testbed's kube-apiserver and etcd, with up to 100,000 Services.
//
// For each size (ascending; Services accumulate):
//   seed:     Services that already hold an address (status ingress + ironlb's condition, as a
//             previous controller left them) are written, plus one "late" Service without one;
//   restart:  the controller starts; time until it is ready (every held address confirmed) and
//             until the late Service has an address, which must not be one held before; its CPU,
//             RSS and peak RSS; healthz latency throughout;
//   events:   with the controller idle, U label updates of held Services (a decision each, no
//             write) and C new Services (a decision, a status patch and an Event each): the
//             controller's CPU per event, to compare across sizes.
// After the last size, hostile Services (12 with 10,000 ports under one sharing key, 200 KB
// annotations, invalid requests, 100 asking for one address) and churn (creates, updates, deletes
// for --churn-seconds) with healthz probed every 50 ms from a worker thread; then one more restart
// with all of that in place. The controller must never exit.
//
// Seeding: `--seed etcd` (default) writes the Services and their ClusterIP IPAddress objects
// straight into etcd as JSON, modelled on one Service made through the API (same defaults,
// managedFields included): 100,000 in about a minute instead of half an hour through admission.
// `--seed api` creates them through the API server (64 in flight) and patches their status.
// The Service CIDR is widened to a /12 so that 100,000 ClusterIPs fit.
//
// Usage: node bench/controller-scale.ts [--sizes 10000,100000] [--seed etcd|api] [--updates 500]
//          [--creates 100] [--churn-seconds 60] [--churn-rate 20] [--no-hostile]
//          [--sources] [--restarts 1]
// --restarts N repeats the last restart (with the hostile Services in place) N times, for medians;
// with CONTROLLER_BASELINE=path/to/another/dist/cli/main.js they alternate between that build
// (first) and this one, on the same control plane (a before/after comparison under the same load);
// CONTROLLER_BASELINE_NODE_OPTIONS="..." gives the baseline other Node options than the chart's
// (this build, unless CONTROLLER_BASELINE is set too).
// The controller runs as the image runs it: dist/ (scripts/build-dist.sh) with the chart's Node
// options (testbed/lab/image.ts); --sources runs the TypeScript sources (Node's type stripping
// costs it some 100 MiB of RSS). CONTROLLER_NODE_ARGS are added after the chart's
// ("--cpu-prof --cpu-prof-dir=DIR" profiles the controller, "--heapsnapshot-signal=SIGUSR2" lets
// one take heap snapshots).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PatchStrategy, setHeaderOptions, type V1Service } from '@kubernetes/client-node';
import { componentClients, startTestApiServer, type TestApiServer } from '../test/support/apiserver.ts';
import { freePort } from '../testbed/controlplane.ts';
import { chartNodeOptions, DIST_CLI, ensureDist } from '../testbed/lab/image.ts';
import { makeClients, statusCode, type Clients } from '../src/k8s/index.ts';
import { apiMetrics, fmtProbe, load, Prober, procStats, RssSampler, seedServicesEtcd, serviceTemplates, sleep, type SeedService, type Templates } from './scale-support.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000' },
    seed: { type: 'string', default: 'etcd' },
    updates: { type: 'string', default: '500' },
    creates: { type: 'string', default: '100' },
    'churn-seconds': { type: 'string', default: '60' },
    'churn-rate': { type: 'string', default: '20' },
    'no-hostile': { type: 'boolean', default: false },
    sources: { type: 'boolean', default: false },
    restarts: { type: 'string', default: '1' },
    namespaces: { type: 'string', default: '100' },
  },
});
const SIZES = values.sizes.split(',').map((x) => Math.max(10, Math.min(200_000, Number(x)))).sort((a, b) => a - b);
const UPDATES = Math.max(0, Number(values.updates));
const CREATES = Math.max(0, Number(values.creates));
const CHURN_S = Math.max(0, Number(values['churn-seconds']));
const CHURN_RATE = Math.max(1, Number(values['churn-rate']));
const NAMESPACES = Math.max(1, Number(values.namespaces));
const RESTARTS = Math.max(1, Math.min(20, Number(values.restarts)));
const BASELINE_OPTIONS = process.env.CONTROLLER_BASELINE_NODE_OPTIONS?.split(' ').filter(Boolean);
const BASELINE = process.env.CONTROLLER_BASELINE ?? (BASELINE_OPTIONS ? '' : undefined);
if (values.seed !== 'etcd' && values.seed !== 'api') throw new Error(`--seed must be etcd or api, got ${values.seed}`);

const ROOT = new URL('..', import.meta.url).pathname;
const POOL = 'big';
// 10.64.0.0/14: 262,144 addresses. Seeded Service i holds 10.66.0.0 + i (the upper half), so the
// addresses the controller hands out meanwhile (lowest free first, from 10.64.0.0) never collide
// with those seeded later; the 100 that conflict ask for the last address.
const POOL_CIDR = '10.64.0.0/14';
const HELD_BASE = 131_072;
const heldIP = (i: number) => `10.${64 + ((HELD_BASE + i) >> 16)}.${((HELD_BASE + i) >> 8) & 255}.${(HELD_BASE + i) & 255}`;
const CONTESTED_IP = '10.67.255.254';
// Seeded ClusterIPs: 10.100.0.0 + i, inside the /12 Service CIDR, away from where the template's fell.
const clusterIP = (i: number) => `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const nsOf = (i: number) => `scale-${i % NAMESPACES}`;
const nameOf = (i: number) => `s-${i}`;

const out: string[] = [];
const say = (line: string) => {
  out.push(line);
  process.stdout.write(`${line}\n`);
};
const rows: string[] = [];

// ---- seeding ------------------------------------------------------------------------------------

/** A seeded Service i as the etcd seeder writes it. */
const seedSpec = (i: number): SeedService => ({ namespace: nsOf(i), name: nameOf(i), clusterIP: clusterIP(i), ip: heldIP(i), labels: { app: `a${i}` } });

/** Runs `fn(i)` for i in [from, to) with `inFlight` at once; 429/5xx retried (at most 10 tries: a loaded API server answers 504). */
async function each(from: number, to: number, inFlight: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      for (let i = next++; i < to; i = next++) {
        for (let attempt = 1; ; attempt++) {
          try {
            await fn(i);
            break;
          } catch (err) {
            const code = statusCode(err);
            if (code === 409 && attempt > 1) break;
            if (attempt >= 10 || code === undefined || (code !== 429 && code < 500)) throw err;
            await sleep(500 * attempt);
          }
        }
      }
    }),
  );
}

const smp = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

async function seedApi(admin: Clients, from: number, to: number): Promise<void> {
  await each(from, to, 64, async (i) => {
    const name = nameOf(i);
    const namespace = nsOf(i);
    try {
      await admin.core.createNamespacedService({ namespace, body: { metadata: { name, labels: { app: `a${i}` } }, spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }], selector: { app: `a${i}` } } } });
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
    }
    await admin.core.patchNamespacedServiceStatus(
      { name, namespace, body: { status: { loadBalancer: { ingress: [{ ip: heldIP(i), ipMode: 'VIP' }] }, conditions: [{ type: 'ironlb.io/IPAllocated', status: 'True', reason: 'FromPool', message: POOL, lastTransitionTime: new Date().toISOString() }] } } },
      smp,
    );
  });
}

// ---- the controller process ---------------------------------------------------------------------

interface Running {
  child: ChildProcess;
  pid: number;
  health: string;
  metrics: string;
  exited: Promise<number | null>;
  exitCode: number | null | undefined;
}

let entry = join(ROOT, 'src/cli/main.ts');
let nodeOptions: string[] = [];

async function startController(kubeconfig: string, logFile: string, cli = entry, options = nodeOptions): Promise<Running> {
  const [mp, hp] = [await freePort(), await freePort()];
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(
    process.execPath,
    [...options, ...(process.env.CONTROLLER_NODE_ARGS ?? '').split(' ').filter(Boolean), cli, 'controller', '--kubeconfig', kubeconfig, '--no-leader-elect', '--identity', 'scale-bench', '--metrics-host', '127.0.0.1', '--metrics-port', String(mp), '--health-host', '127.0.0.1', '--health-port', String(hp)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const r: Running = {
    child,
    pid: child.pid as number,
    health: `http://127.0.0.1:${hp}`,
    metrics: `http://127.0.0.1:${mp}/metrics`,
    exitCode: undefined,
    exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
  };
  void r.exited.then((c) => (r.exitCode = c));
  return r;
}

async function stopController(r: Running): Promise<void> {
  if (r.exitCode !== undefined) return;
  r.child.kill('SIGTERM');
  const t = setTimeout(() => r.child.kill('SIGKILL'), 15_000);
  await r.exited;
  clearTimeout(t);
}

async function metric(r: Running, name: string, label?: string): Promise<number> {
  const text = await (await fetch(r.metrics, { signal: AbortSignal.timeout(10_000) })).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{') && (!label || line.includes(label))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/** The JS heap as the controller's metrics give it: used / committed, external memory, the largest spaces. */
async function heapLine(r: Running): Promise<string> {
  const text = await (await fetch(r.metrics, { signal: AbortSignal.timeout(10_000) })).text();
  const v = (re: RegExp): number => Number(re.exec(text)?.[1] ?? NaN) / 2 ** 20;
  const spaces = [...text.matchAll(/^nodejs_heap_space_size_used_bytes\{[^}]*space="(\w+)"[^}]*\} (\S+)$/gm)].map((m) => [m[1] as string, Number(m[2]) / 2 ** 20] as const).filter(([, x]) => x >= 1).sort((a, b) => b[1] - a[1]);
  return `heap used ${v(/^nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m).toFixed(0)} / committed ${v(/^nodejs_heap_size_total_bytes(?:\{[^}]*\})? (\S+)$/m).toFixed(0)} MiB, external ${v(/^nodejs_external_memory_bytes(?:\{[^}]*\})? (\S+)$/m).toFixed(0)} MiB (${spaces.map(([k, x]) => `${k} ${x.toFixed(0)}`).join(', ')})`;
}

async function until<T>(what: string, timeoutMs: number, r: Running | undefined, fn: () => Promise<T | undefined>, everyMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (r && r.exitCode !== undefined) throw new Error(`the controller exited (code ${r.exitCode}) while waiting for ${what}`);
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(everyMs);
  }
}

/** Idle: nothing queued, and the decision count unchanged over a second. */
async function idle(r: Running, timeoutMs = 600_000): Promise<void> {
  let last = -1;
  await until('the controller idle', timeoutMs, r, async () => {
    const ready = (await (await fetch(`${r.health}/readyz`, { signal: AbortSignal.timeout(10_000) })).json()) as { ok: boolean; queued: number };
    const d = await metric(r, 'ironlb_controller_decisions_total');
    const quiet = ready.ok && ready.queued === 0 && d === last;
    last = d;
    return quiet ? true : undefined;
  }, 1000);
}

const mib = (x: number) => x.toFixed(0);

// ---- the run ------------------------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), 'ironlb-scale-'));
if (!values.sources) {
  await ensureDist();
  entry = DIST_CLI;
  nodeOptions = chartNodeOptions('controller');
}
const loadStart = load();
const t00 = Date.now();
const api = await startTestApiServer({ apiServerArgs: ['--service-cluster-ip-range=10.96.0.0/12,fd00:10:96::/108'] });
let running: Running | undefined;
let prober: Prober | undefined;
try {
  const admin = makeClients(api.kc, { userAgent: 'scale-bench' });
  await api.custom.createClusterCustomObject({ group: 'ironlb.io', version: 'v1alpha1', plural: 'ippools', body: { apiVersion: 'ironlb.io/v1alpha1', kind: 'IPPool', metadata: { name: POOL }, spec: { addresses: [POOL_CIDR] } } });
  await each(0, NAMESPACES, 16, (i) => admin.core.createNamespace({ body: { metadata: { name: `scale-${i}`, labels: { team: `t${i % 7}` } } } }));
  const tpl = values.seed === 'etcd' ? await serviceTemplates(api, admin, POOL, '10.67.255.253') : undefined;
  const { kubeconfigPath } = await componentClients(api, 'controller');
  const logFile = join(dir, 'controller.log');
  say(`# controller at scale: sizes ${SIZES.join(', ')}, seeding through ${values.seed}, ${NAMESPACES} namespaces, the controller ${values.sources ? 'from the TypeScript sources' : `compiled, node ${[...nodeOptions, process.env.CONTROLLER_NODE_ARGS ?? ''].join(' ').trim()}`}; load average ${loadStart}`);

  let seeded = 0;
  let extra = 0; // Services made through the API beyond the seeded ones (late, created, hostile)
  for (const size of SIZES) {
    // Seed.
    let t = Date.now();
    if (values.seed === 'etcd') await seedServicesEtcd(api, tpl as Templates, seeded, size, seedSpec);
    else await seedApi(admin, seeded, size);
    const seedMs = Date.now() - t;
    const seedN = size - seeded;
    seeded = size;
    // Until the API server serves all of them (its watch cache has caught up).
    await until(`${size} Services listed`, 300_000, undefined, async () => {
      const l = await admin.core.listServiceForAllNamespaces({ limit: 1 });
      const n = (l.metadata?.remainingItemCount ?? 0) + l.items.length;
      return n >= size ? true : undefined;
    }, 1000);
    say(`seeded ${size} Services (${seedMs} ms, ${((1000 * seedN) / Math.max(1, seedMs)).toFixed(0)}/s through ${values.seed}); load ${load()}`);
    const late = `late-${size}`;
    await admin.core.createNamespacedService({ namespace: 'default', body: { metadata: { name: late }, spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }], selector: { app: late } } } });
    extra++;

    // Restart.
    const cpuLoad0 = load();
    t = Date.now();
    running = await startController(kubeconfigPath, logFile);
    const rss = new RssSampler(running.pid);
    const r = running;
    await until('health server up', 120_000, r, async () => ((await fetch(`${r.health}/healthz`, { signal: AbortSignal.timeout(5000) })).ok ? true : undefined), 100);
    const upMs = Date.now() - t;
    // Probed from when it listens (before, a probe is refused: the process is still loading).
    prober = new Prober(`${running.health}/healthz`);
    await until('ready', 600_000, r, async () => ((await fetch(`${r.health}/readyz`, { signal: AbortSignal.timeout(5000) })).ok ? true : undefined), 100);
    const readyMs = Date.now() - t;
    const lateIP = await until('the late Service served', 600_000, r, async () => (await admin.core.readNamespacedService({ name: late, namespace: 'default' })).status?.loadBalancer?.ingress?.[0]?.ip, 100);
    const lateMs = Date.now() - t;
    await idle(r);
    const idleMs = Date.now() - t;
    const probesRestart = await prober.take();
    const st = procStats(r.pid);
    // Held addresses are heldIP(0..size-1); the late one must be none of them.
    const lateNum = lateIP.split('.').map(Number).reduce((a, b) => a * 256 + b, 0) - (10 * 2 ** 24 + 64 * 2 ** 16) - HELD_BASE;
    const lateIsHeld = lateNum >= 0 && lateNum < size;
    const movedCheck = await admin.core.readNamespacedService({ name: nameOf(size - 1), namespace: nsOf(size - 1) });
    const kept = movedCheck.status?.loadBalancer?.ingress?.[0]?.ip === heldIP(size - 1);
    say(
      `restart at ${size}: health server up ${upMs} ms, ready (every held address confirmed) ${readyMs} ms, late Service served ${lateMs} ms (${lateIP}${lateIsHeld ? ', AN ADDRESS HELD BEFORE' : ', not a held address'}), idle ${idleMs} ms; ` +
        `CPU ${st.cpuMs} ms; RSS ${mib(st.rssMiB)} MiB, peak ${mib(st.hwmMiB)} MiB; healthz p50/p99/max ${fmtProbe(probesRestart)}; last Service kept its address: ${kept}; load ${cpuLoad0} → ${load()}`,
    );

    // Steady-state events. The controller's CPU while idle but probed and polled as below (its
    // health server and /metrics) is measured first and taken off each phase's CPU.
    const evLoad0 = load();
    const b0 = procStats(r.pid).cpuMs;
    const bt0 = Date.now();
    for (let i = 0; i < 10; i++) {
      await metric(r, 'ironlb_controller_decisions_total');
      await sleep(1000);
    }
    const idleRate = (procStats(r.pid).cpuMs - b0) / (Date.now() - bt0);
    const heapMiB = (await metric(r, 'nodejs_heap_size_used_bytes')) / 2 ** 20;
    let c0 = procStats(r.pid).cpuMs;
    let d0 = await metric(r, 'ironlb_controller_decisions_total');
    t = Date.now();
    await each(0, UPDATES, 16, (k) => {
      const i = Math.floor((k * size) / Math.max(1, UPDATES));
      return admin.core.patchNamespacedService({ name: nameOf(i), namespace: nsOf(i), body: { metadata: { labels: { app: `a${i}`, touched: `${size}-${k}` } } } }, smp);
    });
    await until('updates decided', 300_000, r, async () => ((await metric(r, 'ironlb_controller_decisions_total')) >= d0 + UPDATES ? true : undefined), 1000);
    const updMs = Date.now() - t;
    const updCpu = procStats(r.pid).cpuMs - c0 - idleRate * updMs;
    await idle(r);
    c0 = procStats(r.pid).cpuMs;
    d0 = await metric(r, 'ironlb_controller_allocations_total', 'result="allocated"');
    t = Date.now();
    await each(0, CREATES, 16, (k) => admin.core.createNamespacedService({ namespace: nsOf(k), body: { metadata: { name: `new-${size}-${k}` }, spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }], selector: { app: `n${k}` } } } }));
    extra += CREATES;
    await until('creates allocated', 300_000, r, async () => ((await metric(r, 'ironlb_controller_allocations_total', 'result="allocated"')) >= d0 + CREATES ? true : undefined), 1000);
    const crMs = Date.now() - t;
    const crCpu = procStats(r.pid).cpuMs - c0 - idleRate * crMs;
    await idle(r);
    const probesEvents = await prober.take();
    const st2 = procStats(r.pid);
    say(
      `events at ${size}: ${UPDATES} label updates ${(updCpu / Math.max(1, UPDATES)).toFixed(2)} ms CPU each (${updMs} ms); ${CREATES} new Services ${(crCpu / Math.max(1, CREATES)).toFixed(2)} ms CPU each (${crMs} ms); ` +
        `idle (probed) ${(idleRate * 1000).toFixed(0)} ms CPU per s, taken off; JS heap used ${mib(heapMiB)} MiB, RSS ${mib(st2.rssMiB)} MiB; healthz ${fmtProbe(probesEvents)}; load ${evLoad0} → ${load()}`,
    );
    rows.push(
      `| ${size.toLocaleString('en')} (+${extra} through the API) | ${readyMs.toLocaleString('en')} | ${lateMs.toLocaleString('en')} | ${st.cpuMs.toLocaleString('en')} | ${mib(st.rssMiB)} / ${mib(st.hwmMiB)} | ${probesRestart.p99.toFixed(0)} / ${probesRestart.max.toFixed(0)} | ${(updCpu / Math.max(1, UPDATES)).toFixed(2)} | ${(crCpu / Math.max(1, CREATES)).toFixed(2)} | ${mib(st2.rssMiB)} (heap ${mib(heapMiB)}) | ${cpuLoad0} → ${load()} |`,
    );

    const last = size === SIZES[SIZES.length - 1];
    if (last && !values['no-hostile']) {
      // Hostile Services, then churn.
      const hLoad0 = load();
      rss.resetPeak();
      await prober.take();
      c0 = procStats(r.pid).cpuMs;
      t = Date.now();
      const hostile: Array<{ name: string; body: V1Service }> = [];
      const lb = (name: string, spec: Partial<NonNullable<V1Service['spec']>> = {}, annotations?: Record<string, string>): V1Service => ({
        metadata: { name, ...(annotations ? { annotations } : {}) },
        spec: { type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, ports: [{ port: 80 }], selector: { app: name }, ...spec },
      });
      for (let j = 0; j < 12; j++) {
        const proto = j < 6 ? 'TCP' : 'UDP';
        const base = (j % 6) * 10_000;
        hostile.push({ name: `ports-${j}`, body: lb(`ports-${j}`, { ports: Array.from({ length: 10_000 }, (_, k) => ({ name: `p${k}`, port: base + k + 1, protocol: proto })) }, { 'ironlb.io/allow-shared-ip': 'hostile-ports' }) });
      }
      const blob = 'x'.repeat(200 * 1024);
      for (let j = 0; j < 50; j++) hostile.push({ name: `blob-${j}`, body: lb(`blob-${j}`, {}, { 'example.com/blob': blob }) });
      for (let j = 0; j < 20; j++) hostile.push({ name: `bigkey-${j}`, body: lb(`bigkey-${j}`, { ports: [{ port: 1000 + j }] }, { 'ironlb.io/allow-shared-ip': `k${'y'.repeat(100 * 1024)}` }) });
      const invalid: Array<[Partial<NonNullable<V1Service['spec']>>, Record<string, string> | undefined]> = [
        [{}, { 'ironlb.io/loadBalancerIPs': 'not-an-ip' }],
        [{ loadBalancerIP: '10.64.9.9' }, { 'ironlb.io/loadBalancerIPs': '10.64.9.8' }],
        [{}, { 'ironlb.io/address-pool': 'no-such-pool' }],
        [{}, { 'ironlb.io/loadBalancerIPs': '192.0.2.1' }],
        [{ ipFamilies: ['IPv6'], ipFamilyPolicy: 'SingleStack' }, undefined],
      ];
      for (let j = 0; j < 100; j++) {
        const [spec, ann] = invalid[j % invalid.length] as (typeof invalid)[number];
        hostile.push({ name: `invalid-${j}`, body: lb(`invalid-${j}`, spec, ann) });
      }
      for (let j = 0; j < 100; j++) hostile.push({ name: `contest-${j}`, body: lb(`contest-${j}`, {}, { 'ironlb.io/loadBalancerIPs': CONTESTED_IP }) });
      let refused = 0;
      await each(0, hostile.length, 8, async (k) => {
        const h = hostile[k] as (typeof hostile)[number];
        try {
          await admin.core.createNamespacedService({ namespace: 'hostile', body: h.body });
        } catch (err) {
          if (statusCode(err) === 404) {
            await admin.core.createNamespace({ body: { metadata: { name: 'hostile' } } }).catch(() => undefined);
            throw Object.assign(new Error('namespace created; retry'), { code: 503 });
          }
          if (statusCode(err) === 422 || statusCode(err) === 400) refused++;
          else throw err;
        }
      });
      extra += hostile.length - refused;
      await idle(r);
      const hostileMs = Date.now() - t;
      const hostileCpu = procStats(r.pid).cpuMs - c0;
      const shared = new Set<string>();
      for (let j = 0; j < 12; j++) {
        const s = await admin.core.readNamespacedService({ name: `ports-${j}`, namespace: 'hostile' });
        shared.add(s.status?.loadBalancer?.ingress?.[0]?.ip ?? 'none');
      }
      let contestWinners = 0;
      for (let j = 0; j < 100; j++) if ((await admin.core.readNamespacedService({ name: `contest-${j}`, namespace: 'hostile' })).status?.loadBalancer?.ingress?.length) contestWinners++;
      const probesHostile = await prober.take();
      say(
        `hostile at ${size}: ${hostile.length - refused} Services made (${refused} refused by the API server) and decided in ${hostileMs} ms, controller CPU ${hostileCpu} ms; the 12 × 10,000-port Services share ${[...shared].join(', ')}; ` +
          `${contestWinners} of 100 contenders got ${CONTESTED_IP}; RSS peak ${mib(rss.peakMiB)} MiB; healthz ${fmtProbe(probesHostile)}; load ${hLoad0} → ${load()}`,
      );

      // Churn: creates and deletes of short-lived Services, label updates of held ones.
      const cLoad0 = load();
      rss.resetPeak();
      c0 = procStats(r.pid).cpuMs;
      d0 = await metric(r, 'ironlb_controller_decisions_total');
      const churnEnd = Date.now() + CHURN_S * 1000;
      let ops = 0;
      let k = 0;
      const live: string[] = [];
      while (Date.now() < churnEnd && r.exitCode === undefined) {
        const tick = Date.now();
        const batch: Array<Promise<unknown>> = [];
        for (let b = 0; b < CHURN_RATE; b++, k++) {
          const kind = k % 3;
          if (kind === 0) {
            const name = `churn-${k}`;
            live.push(name);
            batch.push(admin.core.createNamespacedService({ namespace: 'hostile', body: lb(name, { ports: [{ port: 80 }] }) }));
          } else if (kind === 1 && live.length > 20) {
            const name = live.shift() as string;
            batch.push(admin.core.deleteNamespacedService({ name, namespace: 'hostile' }));
          } else {
            const i = (k * 7919) % size;
            batch.push(admin.core.patchNamespacedService({ name: nameOf(i), namespace: nsOf(i), body: { metadata: { labels: { app: `a${i}`, churn: String(k) } } } }, smp));
          }
        }
        const res = await Promise.allSettled(batch);
        ops += res.filter((x) => x.status === 'fulfilled').length;
        await sleep(Math.max(0, 1000 - (Date.now() - tick)));
      }
      await idle(r);
      const churnCpu = procStats(r.pid).cpuMs - c0;
      const churnDecisions = (await metric(r, 'ironlb_controller_decisions_total')) - d0;
      const probesChurn = await prober.take();
      say(
        `churn at ${size}: ${ops} API operations in ${CHURN_S} s (${CHURN_RATE}/s: creates, deletes, label updates), ${churnDecisions} decisions, controller CPU ${churnCpu} ms (${(churnCpu / (CHURN_S * 1000) * 100).toFixed(1)}% of a core); ` +
          `RSS peak ${mib(rss.peakMiB)} MiB; healthz ${fmtProbe(probesChurn)}; load ${cLoad0} → ${load()}`,
      );
      rows.push(`| hostile + churn at ${size.toLocaleString('en')} | | | ${(hostileCpu + churnCpu).toLocaleString('en')} | ${mib(rss.peakMiB)} (peak) | ${probesChurn.p99.toFixed(0)} / ${Math.max(probesHostile.max, probesChurn.max).toFixed(0)} (p99 of churn / max) | | | ${mib(procStats(r.pid).rssMiB)} | ${hLoad0} → ${load()} |`);

      // And restarts with all of it in place.
      rss.stop();
      await prober.stop();
      prober = undefined;
      await stopController(r);
      const alternate = BASELINE !== undefined;
      for (let n = 0; n < RESTARTS * (alternate ? 2 : 1); n++) {
        const base = alternate && n % 2 === 0;
        const which = alternate ? (base ? `baseline${BASELINE_OPTIONS ? ` (node ${BASELINE_OPTIONS.join(' ')})` : ''}` : 'this build') : '';
        const rLoad0 = load();
        t = Date.now();
        running = await startController(kubeconfigPath, logFile, base && BASELINE ? BASELINE : entry, base && BASELINE_OPTIONS ? BASELINE_OPTIONS : nodeOptions);
        const r2 = running;
        const rss2 = new RssSampler(r2.pid);
        await until('health server up', 120_000, r2, async () => ((await fetch(`${r2.health}/healthz`, { signal: AbortSignal.timeout(5000) })).ok ? true : undefined), 100);
        prober = new Prober(`${r2.health}/healthz`);
        await until('ready again', 600_000, r2, async () => ((await fetch(`${r2.health}/readyz`, { signal: AbortSignal.timeout(5000) })).ok ? true : undefined), 100);
        const ready2 = Date.now() - t;
        await idle(r2);
        const st3 = procStats(r2.pid);
        const probes2 = await prober.take();
        say(`restart with hostile Services at ${size}${which ? ` (${which})` : ''}: ready ${ready2} ms; CPU ${st3.cpuMs} ms; RSS ${mib(st3.rssMiB)} MiB, peak ${mib(st3.hwmMiB)} MiB (${await heapLine(r2).catch(() => 'heap: no metrics')}); healthz ${fmtProbe(probes2)}; load ${rLoad0} → ${load()}`);
        rows.push(`| restart with hostile Services, ${size.toLocaleString('en')}${which ? `, ${which}` : ''} | ${ready2.toLocaleString('en')} | | ${st3.cpuMs.toLocaleString('en')} | ${mib(st3.rssMiB)} / ${mib(st3.hwmMiB)} | ${probes2.p50.toFixed(0)} / ${probes2.p99.toFixed(0)} / ${probes2.max.toFixed(0)} (p50 / p99 / max) | | | | ${rLoad0} → ${load()} |`);
        rss2.stop();
        if (n < RESTARTS * (alternate ? 2 : 1) - 1) {
          await prober.stop();
          prober = undefined;
          await stopController(r2);
          if (r2.exitCode !== 0 && r2.exitCode !== null) throw new Error(`the controller exited with ${r2.exitCode}; log ${logFile}`);
        }
      }
    } else rss.stop();
    await prober?.stop();
    prober = undefined;
    await stopController(running);
    if (running.exitCode !== 0 && running.exitCode !== null) throw new Error(`the controller exited with ${running.exitCode}; log ${logFile}`);
  }
  const reqs = await apiMetrics(api.cp, ['apiserver_request_total']);
  const byUA = reqs.filter((m) => m.labels.resource === 'services' && m.labels.subresource === 'status').reduce((a, m) => a + m.value, 0);
  say(`API server: ${byUA} Service status requests in the run (all clients)`);
  process.stdout.write(
    `\n| Services | ready ms (held confirmed) | late Service served ms | controller CPU ms to idle | RSS / peak MiB | healthz p99 / max ms | CPU ms per label update | CPU ms per new Service | RSS after events MiB | load average |\n|---|---|---|---|---|---|---|---|---|---|\n${rows.join('\n')}\n\n` +
      `total ${((Date.now() - t00) / 1000).toFixed(0)} s; load average at the start ${loadStart}, at the end ${load()}; controller log ${logFile}\n`,
  );
} catch (err) {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await prober?.stop().catch(() => undefined);
  if (running) await stopController(running).catch(() => undefined);
  await api.close();
  // The controller's log stays (its path is printed).
}
