// BGP benchmark (outside pass/fail): how fast ironlb, GoBGP and FRR bgpd fill and empty a BIRD
// receiver's table. Per run: the sender loads N /32 routes sharing one attribute set with a
// passive session; BIRD starts and connects; we time Established (BIRD's own log, µs) → BIRD
// holding N routes, then the withdraw command → BIRD holding 0. CPU seconds and peak RSS of
// the sender process come from /proc. Fresh daemons every run; medians and ranges over repeats.
//
// Usage (root): node bench/bgp.ts [--sizes 1000,10000,100000] [--repeats 3]
//               [--senders ironlb,gobgp,frr,frr-coalesce] [--ironlb-node-args="..."] [--json FILE]
//               [--plots DIR]   (DIR/bgp-load.svg, bgp-withdraw.svg, bgp-rss.svg; default
//               docs/img/perf, --plots '' for none)
// IRONLB_NETNS_PREFIX=ilbX names the network namespaces (default ilbg; must start with ilb).
// "ironlb" runs compiled JavaScript (tsc -p tsconfig.build.json, into a temp dir), the form the
// container image runs; "ironlb-ts" the TypeScript sources (Node's type stripping costs ~30 MB).
// --ironlb-node-args="...": Node.js options for both, e.g. --ironlb-node-args=--max-semi-space-size=1.
// "frr" runs with coalesce-time 0; "frr-coalesce" with FRR's default update-group coalescing.
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { withNamespaces, type Netns } from '../test/support/netns.ts';
import { waitFor } from '../test/support/wait.ts';
import { Bird, Frr, Gobgp, IronlbSpeaker, link, type DaemonConfig, type SpeakerProcess } from '../test/support/peers/index.ts';
import { mrtRib, nthAddress } from './bgp-mrt.ts';
import { compileBench } from './support/compiled.ts';
import { drawFigure, type RunInfo } from './support/figures.ts';
import { endRun, plotsOption, startRun, writePlots } from './support/plot-files.ts';

const SENDERS = ['ironlb', 'ironlb-ts', 'gobgp', 'frr', 'frr-coalesce'] as const;
type SenderName = (typeof SENDERS)[number];

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** How each ironlb variant runs (set in main). */
const ironlbProcess: Partial<Record<SenderName, SpeakerProcess>> = {};

interface Sender {
  pid: number;
  /** RSS before any route was loaded (ironlb only: the others load theirs at start-up). */
  baseRssMb?: number;
  /** Removes every route; resolves when the command has been issued. */
  withdrawAll(): Promise<void>;
  stop(): Promise<void>;
}

export interface RunResult {
  sender: SenderName;
  n: number;
  /** Established (BIRD log) → BIRD has imported N routes. */
  loadMs: number;
  /** Withdraw command issued → BIRD holds 0 routes. */
  withdrawMs: number;
  /** BIRD's first missing route → BIRD holds 0 routes (the command's own latency left out). */
  withdrawFromFirstMs: number;
  /** Sender CPU seconds from just before BIRD started until N routes were imported. */
  cpuLoadS: number;
  cpuWithdrawS: number;
  /** Sender CPU seconds over its whole life (start-up and loading its routes included). */
  cpuTotalS: number;
  peakRssMb: number;
  /** ironlb: RSS of the speaker process before its routes were loaded. */
  baseRssMb?: number;
}

const FIRST = '10.128.0.0';
const TICK = 100; // USER_HZ on Linux

async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK;
}

async function statusMb(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number> {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
const peakRssMb = (pid: number): Promise<number> => statusMb(pid, 'VmHWM');
const rssMb = (pid: number): Promise<number> => statusMb(pid, 'VmRSS');

/** The N prefixes every sender announces. */
function prefixes(n: number): string[] {
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = `${nthAddress(FIRST, i)}/32`;
  return out;
}

async function startSender(name: SenderName, ns: Netns, n: number, self: string, peer: string): Promise<Sender> {
  const neighbor = { address: peer, asn: 65000, passive: true, gracefulRestart: false, families: ['ipv4' as const] };
  const cfg: DaemonConfig = { asn: 65001, routerId: self, localAddress: self, neighbors: [neighbor] };
  let baseRss: number | undefined;
  if (name === 'ironlb' || name === 'ironlb-ts') {
    const s = await IronlbSpeaker.start(ns, { routerId: self, listen: { address: self, port: 179 } }, ironlbProcess[name]);
    baseRss = await rssMb(s.pid);
    await s.call('addPeerRange', { name: 'r', localAsn: 65001, peerAsn: 65000, peerAddress: peer, localAddress: self, passive: true, families: ['IPv4'] }, FIRST, n, {});
    const st = await s.peerStatus('r');
    if (st.routesDesired !== n) throw new Error(`ironlb holds ${st.routesDesired} routes, wanted ${n}`);
    return { pid: s.pid, baseRssMb: baseRss, withdrawAll: () => s.setRoutes('r', new Map()), stop: () => s.close() };
  }
  if (name === 'gobgp') {
    const g = await Gobgp.start(ns, cfg);
    const file = join(g.dir, 'rib.mrt');
    await writeFile(file, mrtRib(FIRST, n, self, self, 65001));
    // The 3.10 CLI drops the last records when it exits before its stream drained: inject
    // again, skipping what arrived (`inject global FILE COUNT SKIP`), until all are there.
    let have = 0;
    for (let i = 0; i < 50 && have < n; i++) {
      await g.cli(['mrt', 'inject', 'global', file, String(n - have), String(have)], 300_000);
      const sum = JSON.parse(await g.cli(['-j', 'global', 'rib', 'summary', '-a', 'ipv4'])) as { num_destination?: number };
      have = sum.num_destination ?? 0;
    }
    if (have !== n) throw new Error(`GoBGP holds ${have} routes after MRT inject, wanted ${n}`);
    return { pid: g.pid, withdrawAll: async () => { await g.cli(['global', 'rib', '-a', 'ipv4', 'del', 'all'], 300_000); }, stop: () => g.stop() };
  }
  const f = await Frr.start(ns, { ...cfg, originate: prefixes(n).map((p) => ({ prefix: p })) }, {
    ...(name === 'frr' ? { coalesceTimeMs: 0 } : {}),
    preamble: ['route-map ILBG-DENY deny 10', 'exit', '!'],
  });
  await waitFor(async () => {
    // tableVersion counts processed route changes: N once every network is in (ribCount counts
    // tree nodes, not routes).
    const sum = JSON.parse(await f.show('show bgp ipv4 unicast summary json')) as { tableVersion?: number };
    return (sum.tableVersion ?? 0) >= n;
  }, { what: `FRR's own RIB holding ${n} networks`, timeoutMs: 300_000, intervalMs: 200 });
  return { pid: f.pid, withdrawAll: () => f.configure([`neighbor ${peer} route-map ILBG-DENY out`]), stop: () => f.stop() };
}

/** BIRD's "State changed to up" time for protocol n0, from its log (µs, wall clock). */
async function establishedAt(bird: Bird): Promise<number | undefined> {
  const log = await readFile(bird.logFile, 'utf8').catch(() => '');
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)\.(\d{6}) <TRACE> n0: State changed to up/m.exec(log);
  if (!m) return undefined;
  return new Date(`${m[1]}T${m[2]}`).getTime() + Number(m[3]) / 1000;
}

async function oneRun(name: SenderName, n: number, net: number): Promise<RunResult> {
  return withNamespaces(process.env.IRONLB_NETNS_PREFIX ?? 'ilbg', 2, async ([r, s]) => {
    const l = await link(r!, s!, net);
    let sender: Sender | undefined;
    let bird: Bird | undefined;
    const timeout = 60_000 + n * 2;
    try {
      sender = await startSender(name, s!, n, l.b4, l.a4);
      const c0 = await cpuSeconds(sender.pid);
      bird = await Bird.start(r!, {
        asn: 65000, routerId: l.a4, localAddress: l.a4, neighbors: [{ address: l.b4, asn: 65001, gracefulRestart: false }],
      }, { debugLog: true, receiveOnly: true });
      const b = bird;
      const full = await waitFor(async () => ((await b.importedCount(l.b4)) === n ? Date.now() : undefined),
        { what: `BIRD importing ${n} routes from ${name}`, timeoutMs: timeout, intervalMs: 5 });
      const c1 = await cpuSeconds(sender.pid);
      const est = await waitFor(() => establishedAt(b), { what: 'BIRD logging Established', timeoutMs: 5000 });

      const w0 = Date.now();
      await sender.withdrawAll();
      let firstDrop: number | undefined;
      const empty = await waitFor(async () => {
        const c = await b.importedCount(l.b4);
        if (c < n) firstDrop ??= Date.now();
        return c === 0 ? Date.now() : undefined;
      }, { what: `BIRD emptied by ${name}`, timeoutMs: timeout, intervalMs: 5 });
      const c2 = await cpuSeconds(sender.pid);
      return {
        sender: name, n,
        loadMs: full - est,
        withdrawMs: empty - w0,
        withdrawFromFirstMs: empty - (firstDrop ?? empty),
        cpuLoadS: c1 - c0,
        cpuWithdrawS: c2 - c1,
        cpuTotalS: c2,
        peakRssMb: await peakRssMb(sender.pid),
        ...(sender.baseRssMb !== undefined ? { baseRssMb: sender.baseRssMb } : {}),
      };
    } finally {
      await sender?.stop().catch(() => undefined);
      await bird?.stop().catch(() => undefined);
    }
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const fmt = (x: number, d = 0): string => x.toFixed(d);
const range = (xs: number[], d = 0): string => `${fmt(median(xs), d)} (${fmt(Math.min(...xs), d)}–${fmt(Math.max(...xs), d)})`;

export function summarize(results: RunResult[]): string {
  const lines: string[] = [];
  lines.push('| N | sender | Established → N at BIRD, ms | withdraw all, ms (command → 0) | from first drop → 0, ms | CPU s load | CPU s withdraw | CPU s total | peak RSS MB |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  const sizes = [...new Set(results.map((r) => r.n))].sort((a, b) => a - b);
  const senders = [...new Set(results.map((r) => r.sender))];
  for (const n of sizes) {
    for (const s of senders) {
      const rs = results.filter((r) => r.n === n && r.sender === s);
      if (!rs.length) continue;
      lines.push(`| ${n.toLocaleString('en')} | ${s} | ${range(rs.map((r) => r.loadMs))} | ${range(rs.map((r) => r.withdrawMs))} | ${range(rs.map((r) => r.withdrawFromFirstMs))} | ${range(rs.map((r) => r.cpuLoadS), 2)} | ${range(rs.map((r) => r.cpuWithdrawS), 2)} | ${range(rs.map((r) => r.cpuTotalS), 2)} | ${range(rs.map((r) => r.peakRssMb))} |`);
    }
  }
  for (const s of senders) {
    const base = results.filter((r) => r.sender === s && r.baseRssMb !== undefined);
    if (base.length) lines.push('', `${s} RSS before any route (Node.js + the engine's modules): ${range(base.map((r) => r.baseRssMb!))} MB.`);
  }
  lines.push('');
  lines.push('Ratios of medians (ironlb / other; below 1 = ironlb faster or smaller):');
  lines.push('');
  lines.push('| N | vs | load time | withdraw time | CPU load | peak RSS |');
  lines.push('|---|---|---|---|---|---|');
  for (const n of sizes) {
    const mine = results.filter((r) => r.n === n && r.sender === 'ironlb');
    if (!mine.length) continue;
    for (const o of senders.filter((x) => x !== 'ironlb')) {
      const other = results.filter((r) => r.n === n && r.sender === o);
      if (!other.length) continue;
      const ratio = (k: keyof RunResult): string => {
        const a = median(mine.map((r) => r[k] as number));
        const b = median(other.map((r) => r[k] as number));
        return b > 0 ? fmt(a / b, 2) : 'n/a';
      };
      lines.push(`| ${n.toLocaleString('en')} | ${o} | ${ratio('loadMs')} | ${ratio('withdrawMs')} | ${ratio('cpuLoadS')} | ${ratio('peakRssMb')} |`);
    }
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string', default: '1000,10000,100000' },
      repeats: { type: 'string', default: '3' },
      senders: { type: 'string', default: 'ironlb,gobgp,frr,frr-coalesce' },
      'ironlb-node-args': { type: 'string', default: '' },
      json: { type: 'string' },
      ...plotsOption,
    },
  });
  const info = startRun();
  const sizes = values.sizes.split(',').map(Number);
  const repeats = Number(values.repeats);
  const senders = values.senders.split(',') as SenderName[];
  for (const s of senders) if (!SENDERS.includes(s)) throw new Error(`unknown sender "${s}"; use ${SENDERS.join(', ')}`);
  const nodeArgs = values['ironlb-node-args'].split(' ').filter(Boolean);
  const build = senders.includes('ironlb') ? await compileBench(join(ROOT, 'test/support/peers/ironlb-child.ts')) : undefined;
  if (build) ironlbProcess.ironlb = { script: build.entry, nodeArgs };
  ironlbProcess['ironlb-ts'] = { nodeArgs };
  try {
    await runAll(sizes, repeats, senders, values.json, values.plots, info);
  } finally {
    await build?.remove();
  }
}

async function runAll(sizes: number[], repeats: number, senders: SenderName[], json: string | undefined, plots: string, info: RunInfo): Promise<void> {
  const results: RunResult[] = [];
  let net = 60;
  // Interleave senders within each repeat, so a burst of load on the shared machine hits all.
  for (const n of sizes) {
    for (let i = 0; i < repeats; i++) {
      for (const s of senders) {
        const r = await oneRun(s, n, net++ > 90 ? (net = 60) : net);
        results.push(r);
        console.error(`${s} N=${n} #${i + 1}: load ${fmt(r.loadMs)} ms, withdraw ${fmt(r.withdrawMs)} ms (${fmt(r.withdrawFromFirstMs)} from first drop), CPU ${fmt(r.cpuLoadS, 2)}+${fmt(r.cpuWithdrawS, 2)} s (total ${fmt(r.cpuTotalS, 2)}), peak RSS ${fmt(r.peakRssMb)} MB${r.baseRssMb !== undefined ? ` (${fmt(r.baseRssMb)} MB before routes)` : ''}`);
      }
    }
  }
  console.log(summarize(results));
  writePlots(plots, drawFigure('bgpPlots', results, endRun(info)));
  if (json) await writeFile(json, JSON.stringify(results, null, 1) + '\n');
}

if (import.meta.main) await main();
