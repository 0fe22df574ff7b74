// Each bench's figures as plots: plain results in, SVG files out (pure; the benches write them with
// plot-files.ts). One function per bench, named after it, so a test can give each a small fixed
// data set without running a bench (test/unit/bench-plots.test.ts). File names are the ones
// docs/performance.md embeds from docs/img/perf/.
import { escapeXml, formatNumber, lineChart, rangeChart, type LineSeries, type RangeRow } from './plot.ts';

/** Where a plot's figures come from, printed under it. */
export interface RunInfo {
  /** As typed, e.g. "node bench/ipam.ts --quick". */
  command: string;
  /** YYYY-MM-DD. */
  date: string;
  /** 1-minute load average at the start and the end of the run. */
  loadStart: number;
  loadEnd?: number;
}

export interface Plot {
  /** File name inside the plots folder. */
  file: string;
  svg: string;
}

export function provenance(info: RunInfo): string {
  const load = info.loadEnd === undefined ? info.loadStart.toFixed(1) : `${info.loadStart.toFixed(1)} at the start, ${info.loadEnd.toFixed(1)} at the end`;
  return `${info.command} · ${info.date} · 2 shared cores, load average (1 min) ${load}`;
}

export interface Summary {
  min: number;
  median: number;
  max: number;
}

/** Min, median (mean of the middle two for an even count) and max; refuses an empty list. */
export function summary(xs: readonly number[], what: string): Summary {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!s.length) throw new Error(`${what}: no samples to summarise`);
  const m = Math.floor(s.length / 2);
  return { min: s[0]!, median: s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2, max: s[s.length - 1]! };
}

const rowOf = (label: string, xs: readonly number[], extra: Partial<RangeRow> = {}): RangeRow => ({ label, ...summary(xs, label), values: xs.filter(Number.isFinite), ...extra });
const ms = (v: number): string => (v >= 1000 ? `${formatNumber(v / 1000)} s` : `${formatNumber(v)} ms`);
const MEDIAN_RANGE = 'bar = median, whisker = min–max, dots = runs';

// ---- bench/ipam.ts ---------------------------------------------------------------------------

export interface IpamRow {
  workload: string;
  n: number;
  ironlb: { p50Ms: number; p99Ms: number };
  linear: { p50Ms: number; p99Ms: number };
}

export function ipamPlots(rows: readonly IpamRow[], info: RunInfo): Plot[] {
  const workloads = [...new Set(rows.map((r) => r.workload))];
  const colours = [['#0072B2', '#D55E00'], ['#56B4E9', '#E69F00'], ['#009E73', '#CC79A7']];
  const series: LineSeries[] = [];
  workloads.forEach((w, k) => {
    const rs = rows.filter((r) => r.workload === w);
    const [cI, cL] = colours[k % colours.length]!;
    for (const [impl, colour] of [['ironlb', cI], ['linear scan', cL]] as const) {
      for (const q of ['p50', 'p99'] as const) {
        series.push({ name: `${impl} ${q}, ${w}`, color: colour!, dashed: q === 'p99', points: rs.map((r) => ({ x: r.n, y: (impl === 'ironlb' ? r.ironlb : r.linear)[`${q}Ms`] * 1000 })) });
      }
    }
  });
  const svg = lineChart({
    title: 'Allocator: cost of one allocation against the Services already allocated',
    subtitle: 'ironlb (free space as intervals in an AVL tree) and the linear-scan reference (MetalLB\'s approach); solid p50, dashed p99',
    footer: provenance(info),
    series,
    x: { label: 'Services (N)', scale: 'log', ticks: [...new Set(rows.map((r) => r.n))].map((n) => ({ value: n, label: formatNumber(n) })) },
    y: { label: 'µs per allocation', scale: 'log' },
  });
  return [{ file: 'ipam-allocation.svg', svg }];
}

// ---- bench/speaker-decide.ts ----------------------------------------------------------------

export interface DecideRow {
  services: number;
  nodes: number;
  cpuMs: readonly number[];
  wallMs: readonly number[];
}

export function speakerDecidePlots(rows: readonly DecideRow[], info: RunInfo): Plot[] {
  const pts = (pick: (r: DecideRow) => readonly number[]) => rows.map((r) => {
    const s = summary(pick(r), `decide ${r.services}`);
    return { x: r.services, y: s.median, lo: s.min, hi: s.max };
  });
  const svg = lineChart({
    title: 'Speaker: cost of one decide() over all Services',
    subtitle: 'pure, in-process; point = median, whisker = min–max of the repeats; wall time includes waiting for a core',
    footer: provenance(info),
    series: [{ name: 'CPU time', points: pts((r) => r.cpuMs) }, { name: 'wall time', dashed: true, points: pts((r) => r.wallMs) }],
    x: { label: 'Services (and nodes)', scale: 'log', ticks: rows.map((r) => ({ value: r.services, label: `${formatNumber(r.services)} / ${r.nodes} nodes` })) },
    y: { label: 'ms per decision', scale: 'log' },
  });
  return [{ file: 'speaker-decide.svg', svg }];
}

// ---- bench/membership-sim.ts ----------------------------------------------------------------

export interface MembershipSimRow {
  members: number;
  /** Share of datagrams dropped, 0 to 1. */
  loss: number;
  /** Per run: ms from the kill until the last (first) other member declared it down. */
  last: readonly number[];
  first: readonly number[];
}

export function membershipSimPlots(rows: readonly MembershipSimRow[], info: RunInfo): Plot[] {
  const series: LineSeries[] = [];
  const losses = [...new Set(rows.map((r) => r.loss))].sort((a, b) => a - b);
  const palette = ['#0072B2', '#D55E00', '#009E73', '#CC79A7'];
  losses.forEach((loss, k) => {
    const rs = rows.filter((r) => r.loss === loss).sort((a, b) => a.members - b.members);
    const at = `${formatNumber(loss * 100)} % loss`;
    for (const [name, pick, dashed] of [[`last member to learn, ${at}`, (r: MembershipSimRow) => r.last, false], [`first member to learn, ${at}`, (r: MembershipSimRow) => r.first, true]] as const) {
      series.push({ name, dashed, color: palette[k % palette.length]!, points: rs.map((r) => ({ x: r.members, y: summary(pick(r), name).median, lo: summary(pick(r), name).min, hi: summary(pick(r), name).max })) });
    }
  });
  const svg = lineChart({
    title: 'Membership (simulated): a killed member declared dead, against the cluster size',
    subtitle: 'fake clock, 1 ms links, seeded loss; point = median over the kills, whisker = min–max',
    footer: provenance(info),
    series,
    x: { label: 'members', scale: 'linear', ticks: [...new Set(rows.map((r) => r.members))].map((m) => ({ value: m, label: String(m) })) },
    y: { label: 'ms from the kill', scale: 'linear' },
    refs: [{ value: 1000, label: 'failover budget 1 s' }],
  });
  return [{ file: 'membership-sim.svg', svg }];
}

// ---- bench/membership.ts (real UDP, namespaces) ---------------------------------------------

export function membershipPlots(members: number, allObservers: readonly number[], lastObserver: readonly number[], info: RunInfo): Plot[] {
  const svg = rangeChart({
    title: `Membership on real UDP: a killed member declared dead (${members} members, ${lastObserver.length} kills)`,
    subtitle: 'one process per network namespace on a bridge; bar = median, whisker = min–max, dots = detections',
    footer: provenance(info),
    rows: [rowOf('every observer of every kill', allObservers), rowOf('the last observer of each kill', lastObserver)],
    x: { label: 'ms from the kill', scale: 'linear' },
    refs: [{ value: 1000, label: 'failover budget 1 s' }],
  });
  return [{ file: 'membership.svg', svg }];
}

// ---- bench/bgp.ts ----------------------------------------------------------------------------

export interface BgpResult {
  sender: string;
  n: number;
  loadMs: number;
  withdrawMs: number;
  peakRssMb: number;
}

export const BGP_COLOURS: Readonly<Record<string, string>> = { ironlb: '#0072B2', 'ironlb-ts': '#56B4E9', gobgp: '#009E73', frr: '#D55E00', 'frr-coalesce': '#E69F00' };

export function bgpPlots(results: readonly BgpResult[], info: RunInfo): Plot[] {
  const senders = [...new Set(results.map((r) => r.sender))];
  const sizes = [...new Set(results.map((r) => r.n))].sort((a, b) => a - b);
  const series = (pick: (r: BgpResult) => number): LineSeries[] => senders.map((s) => ({
    name: s,
    points: sizes.filter((n) => results.some((r) => r.sender === s && r.n === n)).map((n) => {
      const v = summary(results.filter((r) => r.sender === s && r.n === n).map(pick), `${s} at ${n}`);
      return { x: n, y: v.median, lo: v.min, hi: v.max };
    }),
  }));
  const x = { label: 'routes (N /32 prefixes)', scale: 'log' as const, ticks: sizes.map((n) => ({ value: n, label: formatNumber(n) })) };
  const sub = 'sender → BIRD 2 over a veth; point = median of the repeats, whisker = min–max';
  const footer = provenance(info);
  return [
    { file: 'bgp-load.svg', svg: lineChart({ title: 'BGP: Established → all N routes imported by BIRD', subtitle: sub, footer, series: series((r) => Math.max(r.loadMs, 1)), x, y: { label: 'ms (values under 1 ms drawn at 1)', scale: 'log' }, colors: BGP_COLOURS }) },
    { file: 'bgp-withdraw.svg', svg: lineChart({ title: 'BGP: withdraw-all command → BIRD holds 0 routes', subtitle: sub, footer, series: series((r) => Math.max(r.withdrawMs, 1)), x, y: { label: 'ms (values under 1 ms drawn at 1)', scale: 'log' }, colors: BGP_COLOURS }) },
    { file: 'bgp-rss.svg', svg: lineChart({ title: 'BGP: peak RSS of the sender process', subtitle: sub, footer, series: series((r) => r.peakRssMb), x, y: { label: 'MB (VmHWM)', scale: 'linear' }, refs: [{ value: 100, label: 'goal 100 MB' }], colors: BGP_COLOURS }) },
  ];
}

// ---- bench/bfd-jitter.ts ---------------------------------------------------------------------

export interface BfdJitterRow {
  /** "worker, idle", "main thread, busy 50 ms slices + GC". */
  label: string;
  gapMinMs: number;
  gapP50Ms: number;
  gapMaxMs: number;
  peerDowns: number;
}

export function bfdJitterPlots(rows: readonly BfdJitterRow[], info: RunInfo): Plot[] {
  const svg = rangeChart({
    title: 'BFD 100 ms × 3: gaps between packets arriving at the peer',
    subtitle: 'the sender jitters its interval to 75–100 ms; bar = median gap, whisker = min–max; a gap past 300 ms is a false Down at the peer',
    footer: provenance(info),
    rows: rows.map((r) => ({ label: `${r.label}${r.peerDowns ? ` (${r.peerDowns} peer Down${r.peerDowns > 1 ? 's' : ''})` : ''}`, min: r.gapMinMs, median: r.gapP50Ms, max: r.gapMaxMs })),
    x: { label: 'ms between packets at the peer', scale: 'linear' },
    refs: [{ value: 300, label: 'detection time 300 ms' }],
  });
  return [{ file: 'bfd-jitter.svg', svg }];
}

// ---- bench/layer2.ts -------------------------------------------------------------------------

export interface Layer2Latency {
  /** Per run, µs. */
  kernel: { p50: readonly number[]; p99: readonly number[] };
  ironlb: { p50: readonly number[]; p99: readonly number[] };
}

export interface Layer2Flood {
  setup: string;
  /** Share answered per run, 0 to 1. */
  answered: readonly number[];
}

export function layer2Plots(latency: Layer2Latency | undefined, flood: readonly Layer2Flood[], floodLabel: string, info: RunInfo): Plot[] {
  const out: Plot[] = [];
  const footer = provenance(info);
  const colors = { kernel: '#7F7F7F', ironlb: '#0072B2' };
  if (latency) {
    const rows: RangeRow[] = [];
    for (const q of ['p50', 'p99'] as const) {
      for (const who of ['kernel', 'ironlb'] as const) rows.push(rowOf(`${who === 'kernel' ? 'Linux kernel' : 'ironlb announcer'}, ${q}`, latency[who][q], { series: who }));
    }
    out.push({ file: 'layer2-arp-latency.svg', svg: rangeChart({ title: 'Layer 2: ARP reply latency over a veth, one request at a time', subtitle: `the same raw-socket client for both; ${MEDIAN_RANGE}`, footer, rows, x: { label: 'µs from request to reply', scale: 'log' }, colors }) });
  }
  if (flood.length) {
    out.push({
      file: 'layer2-flood.svg',
      svg: rangeChart({
        title: `Layer 2: share of ARP requests answered under an open-loop flood (${floodLabel})`,
        subtitle: MEDIAN_RANGE,
        footer,
        rows: flood.map((f) => rowOf(f.setup, f.answered.map((a) => a * 100), { series: f.setup.startsWith('kernel') ? 'kernel' : 'ironlb' })),
        x: { label: '% of requests answered', scale: 'linear', min: 0, max: 100 },
        colors,
      }),
    });
  }
  return out;
}

// ---- bench/failover.ts (the lab) -------------------------------------------------------------

export function failoverPlots(samples: Readonly<Record<string, readonly number[]>>, info: RunInfo): Plot[] {
  const rows = Object.entries(samples).filter(([, xs]) => xs.length).map(([k, xs]) => rowOf(k, xs, { series: k.startsWith('L2') ? 'Layer 2 (LAN client)' : 'BGP (client behind the router)' }));
  const svg = rangeChart({
    title: 'Failover in the lab: failure → traffic only through other nodes',
    subtitle: `three nodes, BIRD router (ECMP, BFD 100 ms × 3); ${MEDIAN_RANGE.replace('runs', 'rounds')}`,
    footer: provenance(info),
    rows,
    x: { label: 'ms from the failure', scale: 'linear' },
    refs: [{ value: 1000, label: '1 s' }],
  });
  return [{ file: 'failover.svg', svg }];
}

// ---- bench/speaker-failover.ts ---------------------------------------------------------------

export interface SpeakerFailoverRounds {
  /** Per round: [ms until the new owner announced, ms until TCP answered again]. */
  kill: ReadonlyArray<readonly [number, number]>;
  term: ReadonlyArray<readonly [number, number]>;
}

export function speakerFailoverPlots(r: SpeakerFailoverRounds, info: RunInfo): Plot[] {
  const rows: RangeRow[] = [];
  for (const [sig, rounds] of [['owner SIGKILLed', r.kill], ['owner SIGTERMed', r.term]] as const) {
    const announce = rounds.map((x) => x[0]).filter(Number.isFinite);
    const tcp = rounds.map((x) => x[1]).filter(Number.isFinite);
    if (announce.length) rows.push(rowOf(`${sig}: new owner announces`, announce, { series: 'new owner announces' }));
    if (tcp.length) rows.push(rowOf(`${sig}: TCP answered again`, tcp, { series: 'TCP answered again' }));
  }
  const svg = rangeChart({
    title: 'Speaker failover, Layer 2: three speakers in namespaces, the owner stopped',
    subtitle: MEDIAN_RANGE.replace('runs', 'rounds'),
    footer: provenance(info),
    rows,
    x: { label: 'ms from the signal', scale: 'linear' },
    refs: [{ value: 1000, label: 'goal 1 s' }],
  });
  return [{ file: 'speaker-failover.svg', svg }];
}

// ---- bench/controller-throughput.ts ----------------------------------------------------------

export interface ControllerThroughput {
  services: number;
  backlogPerS: number;
  livePerS?: number;
  /** The API server's own create rate in the same run (32 creates in flight). */
  createsPerS: number;
}

export function controllerThroughputPlots(t: ControllerThroughput, info: RunInfo): Plot[] {
  const one = (label: string, v: number, series: string): RangeRow => ({ label, min: v, median: v, max: v, series });
  const rows = [one(`backlog: ${formatNumber(t.services)} Services exist, controller starts`, t.backlogPerS, 'controller')];
  if (t.livePerS !== undefined) rows.push(one(`live: ${formatNumber(t.services)} created while it runs`, t.livePerS, 'controller'));
  rows.push(one("the API server's own create rate (same run)", t.createsPerS, 'API server'));
  const svg = rangeChart({
    title: 'Controller: Services given addresses per second, real API server',
    subtitle: 'one run; the API server on the same 2 cores bounds both',
    footer: provenance(info),
    rows,
    x: { label: 'Services per second', scale: 'linear' },
    refs: [{ value: 500, label: 'target 500/s' }],
    colors: { controller: '#0072B2', 'API server': '#7F7F7F' },
  });
  return [{ file: 'controller-throughput.svg', svg }];
}

// ---- bench/cli.ts ----------------------------------------------------------------------------

export interface CliRow {
  command: string;
  form: string;
  wallMs: readonly number[];
  targetMs: number;
}

export function cliPlots(rows: readonly CliRow[], info: RunInfo): Plot[] {
  const svg = rangeChart({
    title: 'The ironlb command: wall time to run',
    subtitle: `${MEDIAN_RANGE}; red tick = target`,
    footer: provenance(info),
    rows: rows.map((r) => rowOf(`${r.command}, ${r.form}`, r.wallMs, { series: r.form, target: r.targetMs })),
    x: { label: 'ms wall time', scale: 'linear' },
  });
  return [{ file: 'cli.svg', svg }];
}

// ---- bench/compare.ts ------------------------------------------------------------------------

export interface CompareFailoverSample {
  failure: string;
  impl: string;
  /** null: not recovered / could not run. */
  ms: number | null;
}

export const COMPARE_COLOURS: Readonly<Record<string, string>> = { ironlb: '#0072B2', metallb: '#D55E00', 'metallb-frr': '#CC79A7', 'kube-vip': '#009E73' };

/** One row per (failure, implementation) in the order given, a dot per round, log time axis. */
export function compareFailoverSvg(title: string, samples: readonly CompareFailoverSample[], failures: readonly string[], impls: readonly string[], info?: RunInfo): string {
  const rows: RangeRow[] = [];
  for (const f of failures) {
    for (const i of impls) {
      // A log axis: a round under 1 ms is drawn at 1 ms.
      const xs = samples.filter((s) => s.failure === f && s.impl === i && s.ms !== null).map((s) => Math.max(1, s.ms!));
      if (xs.length) rows.push(rowOf(`${f} · ${i}`, xs, { series: i }));
    }
  }
  return rangeChart({
    title,
    subtitle: `per round; ${MEDIAN_RANGE.replace('runs', 'rounds')}`,
    ...(info ? { footer: provenance(info) } : {}),
    rows,
    x: { label: 'time from the failure', scale: 'log', format: ms },
    colors: COMPARE_COLOURS,
  });
}

/** compare.ts's two failover plots: `file` names the SVG (it sits next to docs/performance.md). */
export function compareFailoverPlots(file: string, title: string, samples: readonly CompareFailoverSample[], failures: readonly string[], impls: readonly string[], info?: RunInfo): Plot[] {
  return [{ file, svg: compareFailoverSvg(title, samples, failures, impls, info) }];
}

// ---- bench/api-load-scale.ts ------------------------------------------------------------------

export interface ApiLoadRow {
  speakers: number;
  services: number;
  /** Per node loss: API writes (PUT, POST, DELETE) and KiB of status written. */
  l2: { writes: number; statusKiB: number };
  bgp: { writes: number; statusKiB: number };
  /** Cold start of one speaker: MiB listed. */
  coldMiBPerSpeaker: number;
}

/** API cost per node loss against the cluster size (Services fixed) and against the Services (nodes fixed). */
export function apiLoadPlots(rows: readonly ApiLoadRow[], fixedServices: number, fixedSpeakers: number, info: RunInfo): Plot[] {
  const chart = (file: string, title: string, pick: readonly ApiLoadRow[], x: (r: ApiLoadRow) => number, xLabel: string): Plot => {
    const sorted = [...pick].sort((a, b) => x(a) - x(b));
    const line = (name: string, y: (r: ApiLoadRow) => number, color: string, dashed = false): LineSeries => ({ name, color, dashed, points: sorted.map((r) => ({ x: x(r), y: Math.max(0.1, y(r)) })) });
    const svg = lineChart({
      title,
      subtitle: 'one node lost; Layer 2: owners moved, GET + PUT + Event each; BGP: the lost node\'s NodeAnnouncement removed and the Services it wrote given a new writer. Cold start: MiB one speaker lists',
      footer: provenance(info),
      series: [
        line('Layer 2: API writes', (r) => r.l2.writes, '#0072B2'),
        line('Layer 2: KiB of status written', (r) => r.l2.statusKiB, '#0072B2', true),
        line('BGP: API writes', (r) => r.bgp.writes, '#D55E00'),
        line('BGP: KiB of status written', (r) => r.bgp.statusKiB, '#D55E00', true),
        line('cold start: MiB listed per speaker', (r) => r.coldMiBPerSpeaker, '#009E73'),
      ],
      x: { label: xLabel, scale: 'log', ticks: sorted.map((r) => ({ value: x(r), label: formatNumber(x(r)) })) },
      y: { label: 'per node loss (writes, KiB); per speaker (MiB)', scale: 'log' },
    });
    return { file, svg };
  };
  return [
    chart('api-load-nodes.svg', `API server: cost of a node loss against the nodes (${formatNumber(fixedServices)} Services)`, rows.filter((r) => r.services === fixedServices), (r) => r.speakers, 'nodes (speakers)'),
    chart('api-load-services.svg', `API server: cost of a node loss against the Services (${formatNumber(fixedSpeakers)} nodes)`, rows.filter((r) => r.speakers === fixedSpeakers), (r) => r.services, 'Services'),
  ];
}

// ---- the figures' own data -----------------------------------------------------------------------

/** Every bench's figure function, by name. */
export const FIGURES = {
  ipamPlots, speakerDecidePlots, membershipSimPlots, membershipPlots, bgpPlots, bfdJitterPlots, layer2Plots,
  failoverPlots, speakerFailoverPlots, controllerThroughputPlots, cliPlots, compareFailoverPlots, apiLoadPlots,
} as const;
export type FigureName = keyof typeof FIGURES;

const META_OPEN = '<metadata id="ironlb-figure">';

/**
 * Draws figure `name` and embeds its name and arguments (JSON) in each SVG, so that
 * `node bench/replot.ts` can draw it again with newer plotting code without running the bench.
 */
export function drawFigure<K extends FigureName>(name: K, ...args: Parameters<(typeof FIGURES)[K]>): Plot[] {
  const plots = (FIGURES[name] as (...a: unknown[]) => Plot[])(...args);
  const meta = `${META_OPEN}${escapeXml(JSON.stringify({ figure: name, args }))}</metadata>`;
  return plots.map((p) => ({ file: p.file, svg: p.svg.replace('</title>\n', `</title>\n${meta}\n`) }));
}

/** The figure an SVG written by drawFigure came from, or undefined for any other file. */
export function figureOf(svg: string): { figure: FigureName; args: unknown[] } | undefined {
  const i = svg.indexOf(META_OPEN);
  if (i < 0) return undefined;
  const body = svg.slice(i + META_OPEN.length, svg.indexOf('</metadata>', i));
  const json = body.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);
  const v = JSON.parse(json) as { figure?: unknown; args?: unknown };
  if (typeof v.figure !== 'string' || !(v.figure in FIGURES) || !Array.isArray(v.args)) throw new Error(`the SVG's figure data names no known figure (${String(v.figure)}); bench/support/figures.ts lists them`);
  return { figure: v.figure as FigureName, args: v.args };
}

/** Draws an SVG written by drawFigure again from its embedded data (the file named `file`). */
export function redraw(svg: string, file: string): string | undefined {
  const f = figureOf(svg);
  if (!f) return undefined;
  const p = (drawFigure as (n: FigureName, ...a: unknown[]) => Plot[])(f.figure, ...f.args).find((x) => x.file === file);
  if (!p) throw new Error(`figure ${f.figure} no longer draws ${file}`);
  return p.svg;
}
