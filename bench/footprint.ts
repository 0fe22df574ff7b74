// What ironlb costs to run: memory and CPU of the speaker (one per node) and the controller, as the
// image runs them (dist/, the chart's Node options: testbed/lab/image.ts), on the lab (testbed/lab:
// real kube-apiserver, BIRD with BGP and BFD to every node, the example Services).
//
// Per process, from /proc: RSS (median and range of 1 s samples; peak = VmHWM), CPU as % of one core.
// Phases, for each cluster size in --nodes:
//   idle      the example configuration and 3 Services, nothing changing (--idle-s)
//   churn     --churn-rate Service changes per second (a create, then a delete, alternately; BGP pool,
//             no endpoints) for --churn-s
//   node lost the last node stops (link down, processes killed); the others over --lost-s
//   bulk      --services more Services (a pool of their own, no advertisement: allocated, cached by
//             every speaker, announced by none), then idle again
// Also: module count, import time and RSS after import of each process's module graph (and of bare
// Node and of @kubernetes/client-node alone: the floor), start-up time (process start → the
// speaker's "membership running" / the controller's "caches synced" log line), and where the heap
// goes (a heap snapshot of one speaker and of the controller at the end: self size by constructor).
// Usage: node bench/footprint.ts [--nodes 3,10] [--idle-s 30] [--churn-rate 2] [--churn-s 30]
//        [--lost-s 20] [--services 1000] [--net 160] [--node-args="--max-old-space-size=64"]
//        [--speaker-args="--membership-probe-interval 200"] [--bfd-ms 300 (BFDProfile's default)]
//        [--no-snapshot] [--json FILE]      (root; ~5 minutes per cluster size on a busy machine)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ANNOTATION_ADDRESS_POOL } from '../src/api/index.ts';
import { Lab } from '../testbed/lab/index.ts';
import { chartNodeOptions, DIST_CLI, ensureDist } from '../testbed/lab/image.ts';
import { waitFor } from '../test/support/wait.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '3,10' },
    'idle-s': { type: 'string', default: '30' },
    'churn-rate': { type: 'string', default: '2' },
    'churn-s': { type: 'string', default: '30' },
    'lost-s': { type: 'string', default: '20' },
    services: { type: 'string', default: '1000' },
    net: { type: 'string', default: '160' },
    'node-args': { type: 'string', default: '' },
    'speaker-args': { type: 'string', default: '' },
    'bfd-ms': { type: 'string', default: '300' },
    'no-snapshot': { type: 'boolean', default: false },
    'imports-only': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const sizes = values.nodes.split(',').map(Number);
const idleS = Number(values['idle-s']);
const churnRate = Number(values['churn-rate']);
const churnS = Number(values['churn-s']);
const lostS = Number(values['lost-s']);
const bulk = Number(values.services);
const extraNodeArgs = values['node-args'].split(' ').filter(Boolean);
const speakerArgs = values['speaker-args'].split(' ').filter(Boolean);
const bfdMs = Number(values['bfd-ms']);
const MiB = 1024 * 1024;
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' / ');
const out: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, speakerNodeOptions: chartNodeOptions('speaker'), controllerNodeOptions: chartNodeOptions('controller'), extraNodeArgs, speakerArgs, bfdMs, runs: [] as unknown[] };
const say = (s: string): void => void process.stdout.write(`${s}\n`);

// ---- /proc -------------------------------------------------------------------------------------

const TICK_MS = 10; // USER_HZ is 100 on Linux
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * TICK_MS;
}
function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN);
}
const BOOT_MS = Number(/^btime (\d+)/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]) * 1000;
function startedAt(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return BOOT_MS + Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) * TICK_MS;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};

interface ProcFigures { name: string; rssMiB: { median: number; min: number; max: number }; peakMiB: number; cpuPct: number }

/** Samples every process each second for `seconds` (while `during` runs, if given). */
async function window(pids: Record<string, number>, seconds: number, during?: (stop: () => boolean) => Promise<void>): Promise<ProcFigures[]> {
  const names = Object.keys(pids);
  const rss = new Map<string, number[]>(names.map((n) => [n, []]));
  const cpu0 = new Map(names.map((n) => [n, cpuMs(pids[n]!)]));
  const t0 = Date.now();
  const end = t0 + seconds * 1000;
  const work = during?.(() => Date.now() >= end) ?? Promise.resolve();
  for (let i = 0; i < seconds + 5 && Date.now() < end; i++) {
    for (const n of names) rss.get(n)!.push(statusKb(pids[n]!, 'VmRSS') / 1024);
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(1000, end - Date.now()))));
  }
  await work;
  const ms = Date.now() - t0;
  return names.map((n) => {
    const xs = rss.get(n)!;
    return { name: n, rssMiB: { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) }, peakMiB: statusKb(pids[n]!, 'VmHWM') / 1024, cpuPct: ((cpuMs(pids[n]!) - cpu0.get(n)!) / ms) * 100 };
  });
}

function printWindow(title: string, figs: ProcFigures[]): void {
  const sp = figs.filter((f) => f.name !== 'controller');
  const c = figs.find((f) => f.name === 'controller');
  const r = (x: number): string => x.toFixed(0);
  say(`  ${title} (load ${load()})`);
  if (sp.length) {
    const med = sp.map((f) => f.rssMiB.median);
    const cpu = sp.map((f) => f.cpuPct);
    say(`    speakers (${sp.length}): RSS median ${r(median(med))} MiB (range ${r(Math.min(...sp.map((f) => f.rssMiB.min)))}-${r(Math.max(...sp.map((f) => f.rssMiB.max)))}), peak ${r(Math.max(...sp.map((f) => f.peakMiB)))} MiB; CPU median ${median(cpu).toFixed(2)}% of a core (range ${Math.min(...cpu).toFixed(2)}-${Math.max(...cpu).toFixed(2)})`);
  }
  if (c) say(`    controller: RSS median ${r(c.rssMiB.median)} MiB (range ${r(c.rssMiB.min)}-${r(c.rssMiB.max)}), peak ${r(c.peakMiB)} MiB; CPU ${c.cpuPct.toFixed(2)}% of a core`);
}

// ---- module graphs -------------------------------------------------------------------------------

// Counts every module resolved (ESM and CommonJS) in the child it is preloaded into.
const COUNTER = `data:text/javascript,${encodeURIComponent(`
import { registerHooks } from 'node:module';
const seen = new Set();
registerHooks({ resolve(s, c, next) { const r = next(s, c); seen.add(r.url); return r; } });
process.on('exit', () => process.stderr.write('MODULES ' + seen.size + '\\n'));`)}`;

interface ImportFigures { what: string; modules: number; importMs: number; rssMiB: number; heapMiB: number }

/** Imports `target` in a fresh node with the component's Node options; 3 runs, medians. */
function importWeight(what: string, target: string | undefined, nodeOptions: string[]): ImportFigures {
  const code = `const t = performance.now(); ${target ? `await import(${JSON.stringify(target)});` : ''} const ms = performance.now() - t;
    await new Promise((r) => setTimeout(r, 500)); const m = process.memoryUsage(); console.log(JSON.stringify({ ms, rss: m.rss, heap: m.heapUsed }));`;
  const runs: Array<{ ms: number; rss: number; heap: number }> = [];
  let modules = 0;
  for (let i = 0; i < 4; i++) {
    const counting = i === 0; // the hooks slow the import: count once, time the other three
    const r = spawnSync(process.execPath, [...nodeOptions, ...(counting ? ['--import', COUNTER] : []), '--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_ENV: 'production' } });
    if (r.status !== 0) throw new Error(`importing ${target}: ${r.stderr}`);
    if (counting) modules = Number(/MODULES (\d+)/.exec(r.stderr)?.[1] ?? NaN);
    else runs.push(JSON.parse(r.stdout) as { ms: number; rss: number; heap: number });
  }
  return { what, modules, importMs: median(runs.map((x) => x.ms)), rssMiB: median(runs.map((x) => x.rss)) / MiB, heapMiB: median(runs.map((x) => x.heap)) / MiB };
}

// ---- heap snapshots ------------------------------------------------------------------------------

interface HeapSummary { totalMiB: number; top: Array<{ type: string; count: number; selfMiB: number }> }

/** Self size by constructor (objects) or by node type (strings, code, arrays...), largest first. */
function summarizeSnapshot(file: string): HeapSummary {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as { snapshot: { meta: { node_fields: string[]; node_types: [string[]] } }; nodes: number[]; strings: string[] };
  const f = snap.snapshot.meta.node_fields;
  const width = f.length;
  const iType = f.indexOf('type');
  const iName = f.indexOf('name');
  const iSize = f.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const by = new Map<string, { count: number; size: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]!] ?? '?';
    const size = snap.nodes[i + iSize]!;
    total += size;
    const key = type === 'object' || type === 'closure' ? `${type === 'closure' ? 'closure ' : ''}${snap.strings[snap.nodes[i + iName]!] ?? '?'}` : `(${type})`;
    const e = by.get(key) ?? { count: 0, size: 0 };
    e.count++;
    e.size += size;
    by.set(key, e);
  }
  const top = [...by].sort((a, b) => b[1].size - a[1].size).slice(0, 15).map(([type, e]) => ({ type, count: e.count, selfMiB: e.size / MiB }));
  return { totalMiB: total / MiB, top };
}

async function snapshot(pid: number, dir: string): Promise<HeapSummary> {
  const before = new Set(existsSync(dir) ? readdirSync(dir) : []);
  process.kill(pid, 'SIGUSR2');
  const file = await waitFor(() => {
    const f = readdirSync(dir).find((x) => !before.has(x) && x.endsWith('.heapsnapshot'));
    if (!f) return undefined;
    const p = join(dir, f);
    const s1 = statSync(p).size;
    // Written when its size stops growing and the JSON ends.
    return s1 > 0 && readFileSync(p, 'utf8').trimEnd().endsWith('}') ? p : undefined;
  }, { what: `a heap snapshot of PID ${pid}`, timeoutMs: 120_000, intervalMs: 500 });
  const s = summarizeSnapshot(file);
  rmSync(file, { force: true });
  return s;
}

// ---- the lab runs ------------------------------------------------------------------------------

async function bulkServices(lab: Lab, n: number, net: number): Promise<number> {
  await lab.apply('IPPool', 'footprint-bulk', { addresses: [`10.${net}.16.0/20`] });
  const t0 = Date.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      const name = `bulk-${i}`;
      for (let attempt = 0; attempt < 5; attempt++) {
        try {
          await lab.core.createNamespacedService({ namespace: 'default', body: { metadata: { name, annotations: { [ANNOTATION_ADDRESS_POOL]: 'footprint-bulk' } }, spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }], selector: { app: name } } } });
          break;
        } catch (err) {
          if (attempt === 4) throw err;
          await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
        }
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  await waitFor(async () => {
    const l = await lab.core.listNamespacedService({ namespace: 'default' });
    return l.items.filter((s) => s.metadata?.name?.startsWith('bulk-') && s.status?.loadBalancer?.ingress?.length).length >= n || undefined;
  }, { what: `${n} bulk Services addressed`, timeoutMs: 20 * 60_000, intervalMs: 2000 });
  return Date.now() - t0;
}

/**
 * Waits until every process used under 3% of a core over 5 s (at most `maxS`): after a burst the
 * speakers work through the status objects it caused, and "idle" starts when they are done.
 */
async function settle(pids: Record<string, number>, maxS: number): Promise<number> {
  const t0 = Date.now();
  for (let i = 0; i < maxS / 5 + 1 && Date.now() - t0 < maxS * 1000; i++) {
    const c0 = Object.values(pids).map(cpuMs);
    await new Promise((r) => setTimeout(r, 5000));
    if (Object.values(pids).every((p, j) => (cpuMs(p) - c0[j]!) / 5000 < 0.03)) break;
  }
  return Date.now() - t0;
}

/** A create, then a delete, alternately, at `rate` per second until stop(); at most 8 alive. */
async function churn(lab: Lab, rate: number, stop: () => boolean): Promise<number> {
  const live: string[] = [];
  let changes = 0;
  for (let i = 0; i < 100_000 && !stop(); i++) {
    const t = Date.now();
    try {
      if (i % 2 === 0 || live.length === 0) {
        const name = `churn-${i}`;
        await lab.core.createNamespacedService({ namespace: 'default', body: { metadata: { name, annotations: { [ANNOTATION_ADDRESS_POOL]: 'lab-bgp' } }, spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }], selector: { app: name } } } });
        live.push(name);
      } else {
        await lab.core.deleteNamespacedService({ name: live.shift()!, namespace: 'default' });
      }
      changes++;
    } catch { /* an overloaded API server: the next change */ }
    await new Promise((r) => setTimeout(r, Math.max(0, 1000 / rate - (Date.now() - t))));
  }
  for (const name of live) await lab.core.deleteNamespacedService({ name, namespace: 'default' }).catch(() => undefined);
  return changes;
}

/** ms from process start to the first log line matching `re` (after `from` bytes). */
function startupMs(pid: number, log: string, re: RegExp): number {
  for (const line of readFileSync(log, 'utf8').split('\n')) {
    if (!re.test(line)) continue;
    try {
      return (JSON.parse(line) as { time: number }).time - startedAt(pid);
    } catch { /* not JSON */ }
  }
  return NaN;
}

async function run(nodes: number, net: number): Promise<Record<string, unknown>> {
  const dir = mkdtempSync('/tmp/ilbm-foot-');
  const snaps = join(dir, 'snapshots');
  mkdirSync(snaps);
  const nodeArgs = [...extraNodeArgs, ...(values['no-snapshot'] ? [] : ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${snaps}`])];
  const r: Record<string, unknown> = { nodes, loadStart: load() };
  say(`\n== ${nodes} nodes (lab 10.${net}.0.0/16; load ${load()})`);
  const t0 = Date.now();
  const lab = await Lab.up({ prefix: `ilbmf${net}`, dir: join(dir, 'lab'), nodes, net, nodeArgs, speakerArgs, startTimeoutS: 300, progress: (l) => say(`  lab: ${l}`) });
  try {
    say(`  lab up in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    await lab.applyExample();
    // The lab's BFD profile is 100 ms x 3; the bench runs BFDProfile's defaults (300 ms x 3) unless told.
    await lab.apply('BFDProfile', 'lab-fast', { receiveInterval: bfdMs, transmitInterval: bfdMs, detectMultiplier: 3 });
    await lab.waitAddresses('hello-bgp', 1, 120_000);
    await waitFor(async () => {
      const s = await lab.sessions();
      return s.filter((x) => /Established/i.test(x.state) || /up/i.test(x.state)).length >= 2 * nodes || undefined;
    }, { what: `${2 * nodes} BGP sessions Established`, timeoutMs: 180_000, intervalMs: 1000 });
    const pid = (k: string): number => lab.state.pids[k]!;
    const procs = (): Record<string, number> => Object.fromEntries([['controller', pid('controller')], ...lab.plan.nodes.filter((n) => lab.speakerRunning(n.index)).map((n) => [n.name, pid(`${n.name}-speaker`)])]);
    const starts = lab.plan.nodes.map((n) => startupMs(pid(`${n.name}-speaker`), join(lab.dir, 'logs', `${n.name}-speaker.log`), /membership running/));
    r.startupMs = { speakerMedian: median(starts), speakerMax: Math.max(...starts), controller: startupMs(pid('controller'), join(lab.dir, 'logs', 'controller.log'), /caches synced/) };
    say(`  start-up to ready: speakers median ${median(starts).toFixed(0)} ms (max ${Math.max(...starts).toFixed(0)}), controller ${(r.startupMs as { controller: number }).controller.toFixed(0)} ms (to caches synced)`);
    await new Promise((res) => setTimeout(res, 10_000));

    const idle = await window(procs(), idleS);
    printWindow(`idle, 3 Services, ${idleS} s`, idle);
    r.idle = { figures: idle, load: load() };

    let changes = 0;
    const ch = await window(procs(), churnS, async (stop) => void (changes = await churn(lab, churnRate, stop)));
    printWindow(`churn, ${(changes / churnS).toFixed(1)} Service changes/s (${changes} in ${churnS} s)`, ch);
    r.churn = { figures: ch, changes, seconds: churnS, load: load() };
    await new Promise((res) => setTimeout(res, 5000));

    const lost = nodes - 1;
    const before = procs();
    await lab.killNode(lost);
    delete before[lab.node(lost).name];
    const nl = await window(before, lostS);
    printWindow(`node ${lab.node(lost).name} lost, the next ${lostS} s`, nl);
    r.nodeLost = { figures: nl, seconds: lostS, load: load() };
    await lab.reviveNode(lost, 300_000);
    await new Promise((res) => setTimeout(res, 10_000));

    if (bulk > 0) {
      const p0 = procs();
      const c0 = Object.fromEntries(Object.entries(p0).map(([k, v]) => [k, cpuMs(v)]));
      const ms = await bulkServices(lab, bulk, net);
      const used = Object.fromEntries(Object.entries(p0).map(([k, v]) => [k, cpuMs(v) - c0[k]!]));
      const sp = Object.entries(used).filter(([k]) => k !== 'controller').map(([, v]) => v);
      say(`  ${bulk} more Services created and addressed in ${(ms / 1000).toFixed(0)} s; CPU meanwhile: controller ${used.controller} ms (${(used.controller! / bulk).toFixed(1)} ms per Service, peak RSS ${(statusKb(p0.controller!, 'VmHWM') / 1024).toFixed(0)} MiB), speakers median ${median(sp)} ms (load ${load()})`);
      const settledMs = await settle(procs(), 300);
      say(`  settled (every process under 3% of a core over 5 s) ${(settledMs / 1000).toFixed(0)} s after the last address`);
      const b = await window(procs(), idleS);
      printWindow(`idle with ${bulk + 3} Services, ${idleS} s`, b);
      r.bulkIdle = { figures: b, services: bulk + 3, createMs: ms, cpuMsDuringCreate: used, settledMs, load: load() };
    }

    if (!values['no-snapshot']) {
      for (const [name, p] of [['node0 speaker', pid('node0-speaker')], ['controller', pid('controller')]] as const) {
        const s = await snapshot(p, snaps);
        say(`  heap of the ${name} (snapshot, live objects): ${s.totalMiB.toFixed(1)} MiB; largest by self size:`);
        for (const t of s.top) say(`    ${t.selfMiB.toFixed(2).padStart(7)} MiB  ${String(t.count).padStart(7)}  ${t.type}`);
        r[`heap ${name}`] = s;
      }
    }
    r.loadEnd = load();
    return r;
  } finally {
    await lab.destroy().catch((err: unknown) => say(`  lab down failed: ${String(err)}`));
    rmSync(dir, { recursive: true, force: true });
  }
}

await ensureDist();
say(`ironlb footprint (Node ${process.version}; speaker node options: ${chartNodeOptions('speaker').join(' ') || '(none)'}; controller: ${chartNodeOptions('controller').join(' ') || '(none)'}${extraNodeArgs.length ? `; extra: ${extraNodeArgs.join(' ')}` : ''}; speaker flags: ${speakerArgs.join(' ') || '(defaults)'}; BFD ${bfdMs} ms x 3; load ${load()})`);
say('\nmodule graphs: modules resolved, import time, RSS and heap after import (median of 3)');
const speakerOpts = [...chartNodeOptions('speaker'), ...extraNodeArgs];
const controllerOpts = [...chartNodeOptions('controller'), ...extraNodeArgs];
const dist = (p: string): string => new URL(`../dist/${p}`, import.meta.url).href;
const graphs = [
  importWeight('bare node (speaker options)', undefined, speakerOpts),
  importWeight('@kubernetes/client-node alone', '@kubernetes/client-node', speakerOpts),
  importWeight('speaker (dist/cli/speaker.js)', dist('cli/speaker.js'), speakerOpts),
  importWeight('BFD worker graph (dist/bfd/engine.js)', dist('bfd/engine.js'), speakerOpts),
  importWeight('controller (dist/cli/controller.js)', dist('cli/controller.js'), controllerOpts),
];
for (const g of graphs) say(`  ${g.what.padEnd(40)} ${String(g.modules).padStart(5)} modules  ${g.importMs.toFixed(0).padStart(5)} ms  RSS ${g.rssMiB.toFixed(1)} MiB  heap ${g.heapMiB.toFixed(1)} MiB`);
out.imports = graphs;
void DIST_CLI;

if (!values['imports-only']) {
  for (const [i, n] of sizes.entries()) (out.runs as unknown[]).push(await run(n, Number(values.net) + i));
}
if (values.json) writeFileSync(values.json, `${JSON.stringify(out, null, 2)}\n`);
