// The benches' plots (bench/support/plot.ts, bench/support/figures.ts): valid SVG as an XML parser
// reads it, scales, escaping, refusal of empty or unmeasured data, deterministic output, and each
// bench's plot function on a small fixed data set (no bench runs here).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { escapeXml, formatNumber, lineChart, makeScale, rangeChart } from '../../bench/support/plot.ts';
import * as figures from '../../bench/support/figures.ts';
import type { Plot, RunInfo } from '../../bench/support/figures.ts';

/**
 * Parses each document with expat (Python's xml.dom.minidom; python3 is a set-up package) in one
 * process, an XML parser independent of the code that wrote the SVG. Returns per document the root
 * element's name and namespace, the element count and all text, or the parser's error.
 */
function parseXml(docs: readonly string[]): Array<{ root?: string; ns?: string; elements?: number; text?: string; error?: string }> {
  const py = `
import json, sys, xml.dom.minidom as m
out = []
for d in json.load(sys.stdin):
    try:
        doc = m.parseString(d.encode('utf-8'))
        r = doc.documentElement
        out.append({'root': r.tagName, 'ns': r.getAttribute('xmlns'), 'elements': len(doc.getElementsByTagName('*')),
                    'text': ''.join(n.data for e in doc.getElementsByTagName('*') for n in e.childNodes if n.nodeType == n.TEXT_NODE)})
    except Exception as e:
        out.append({'error': str(e)})
print(json.dumps(out))
`;
  const r = spawnSync('python3', ['-c', py], { input: JSON.stringify(docs), encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`python3 could not parse: ${r.stderr || r.error?.message} (scripts/setup.sh installs python3)`);
  return JSON.parse(r.stdout) as Array<{ root?: string; ns?: string; elements?: number; text?: string; error?: string }>;
}

function assertSvg(docs: readonly string[]): void {
  const parsed = parseXml(docs);
  parsed.forEach((p, i) => {
    assert.equal(p.error, undefined, `document ${i} is not well-formed XML: ${p.error}\n${docs[i]!.slice(0, 400)}`);
    assert.equal(p.root, 'svg');
    assert.equal(p.ns, 'http://www.w3.org/2000/svg');
    assert.ok(p.elements! > 5);
  });
}

const info: RunInfo = { command: 'node bench/x.ts --quick', date: '2026-12-02', loadStart: 3.52, loadEnd: 4.1 };

test('plot: a range chart and a line chart are SVG documents an XML parser accepts', () => {
  const r = rangeChart({ title: 'rows', subtitle: 'sub', footer: 'node bench/x.ts · 2026-12-02', rows: [{ label: 'a', series: 'one', min: 1, median: 2, max: 5, values: [1, 2, 5], target: 3 }, { label: 'b', series: 'two', min: 2, median: 3, max: 4 }], x: { label: 'ms' }, refs: [{ value: 4, label: 'goal' }] });
  const l = lineChart({ title: 'lines', series: [{ name: 's', points: [{ x: 10, y: 1, lo: 0.5, hi: 2 }, { x: 1000, y: 100 }] }, { name: 't', dashed: true, points: [{ x: 10, y: 3 }] }], x: { label: 'N' }, y: { label: 'ms' }, refs: [{ value: 50, label: 'limit' }] });
  assertSvg([r, l]);
  assert.match(l, /<polyline points="[\d., ]+"/);
  assert.match(l, /stroke-dasharray/);
});

test('plot: text is escaped in elements and attributes, and characters XML forbids are replaced', () => {
  assert.equal(escapeXml(`<a href="x">&'`), '&lt;a href=&quot;x&quot;&gt;&amp;&apos;');
  assert.equal(escapeXml('bell\u0007 nul\u0000 lone\ud800'), 'bell\ufffd nul\ufffd lone\ufffd');
  assert.equal(escapeXml('ünï 😀 µs – ×'), 'ünï 😀 µs – ×');
  const hostile = `</text><script>alert("x")</script> & ' \u0001`;
  const svg = rangeChart({ title: hostile, subtitle: hostile, footer: hostile, rows: [{ label: hostile, series: hostile, min: 1, median: 1, max: 1 }, { label: 'b', series: 'other', min: 1, median: 2, max: 2 }], x: { label: hostile }, refs: [{ value: 1, label: hostile }] });
  assert.doesNotMatch(svg, /<script/);
  const [p] = parseXml([svg]);
  assert.equal(p!.error, undefined, p!.error);
  assert.ok(p!.text!.includes('</text><script>alert("x")</script> & \''), 'the parsed text reads as the original');
});

test('plot: empty data, NaN and inconsistent ranges are refused with a message naming the chart', () => {
  assert.throws(() => rangeChart({ title: 'empty rows', rows: [], x: { label: 'ms' } }), /plot "empty rows": no data to plot/);
  assert.throws(() => lineChart({ title: 'empty lines', series: [{ name: 's', points: [] }], x: { label: 'N' }, y: { label: 'ms' } }), /plot "empty lines": no data to plot/);
  assert.throws(() => lineChart({ title: 'no series', series: [], x: { label: 'N' }, y: { label: 'ms' } }), /no data to plot/);
  assert.throws(() => rangeChart({ title: 'nan', rows: [{ label: 'r', min: 1, median: NaN, max: 2 }], x: { label: 'ms' } }), /plot "nan": row "r" has the value NaN; leave out what was not measured/);
  assert.throws(() => rangeChart({ title: 'order', rows: [{ label: 'r', min: 3, median: 2, max: 4 }], x: { label: 'ms' } }), /min ≤ median ≤ max/);
  assert.throws(() => lineChart({ title: 'log0', series: [{ name: 's', points: [{ x: 1, y: 0 }, { x: 2, y: 5 }] }], x: { label: 'N' }, y: { label: 'ms', scale: 'log' } }), /plot "log0": the log axis "ms" needs positive values, got 0; use scale 'linear'/);
  assert.throws(() => rangeChart({ title: ' ', rows: [{ label: 'r', min: 1, median: 1, max: 1 }], x: { label: 'ms' } }), /a chart needs a title/);
  assert.throws(() => figures.summary([NaN], 'what'), /what: no samples to summarise/);
});

test('plot: scales go logarithmic over decades, linear otherwise, with nice ticks', () => {
  const log = makeScale([2, 13_000], { label: 'µs' }, 't');
  assert.equal(log.kind, 'log');
  assert.deepEqual([log.lo, log.hi], [1, 100_000]);
  assert.deepEqual(log.ticks, [1, 10, 100, 1000, 10_000, 100_000]);
  assert.equal(log.unit(1), 0);
  assert.equal(log.unit(100_000), 1);
  assert.ok(Math.abs(log.unit(1000) - 0.6) < 1e-12);
  const narrow = makeScale([3, 40], { label: 'ms', scale: 'log' }, 't');
  assert.deepEqual(narrow.ticks, [1, 2, 5, 10, 20, 50, 100]);
  const lin = makeScale([480, 530], { label: 'ms' }, 't', true);
  assert.equal(lin.kind, 'linear');
  assert.deepEqual([lin.lo, lin.hi], [0, 600]);
  assert.deepEqual(lin.ticks, [0, 200, 400, 600]);
  assert.equal(lin.unit(300), 0.5);
  assert.deepEqual(makeScale([75, 428], { label: 'ms' }, 't', true).ticks, [0, 100, 200, 300, 400, 500]);
  const pct = makeScale([32, 76], { label: '%', min: 0, max: 100 }, 't');
  assert.deepEqual([pct.lo, pct.hi, pct.ticks[0], pct.ticks.at(-1)], [0, 100, 0, 100]);
  const one = makeScale([5], { label: 'x' }, 't');
  assert.equal(one.lo, 0);
  assert.ok(one.hi >= 5);
  const small = makeScale([0.29, 0.33], { label: 'ms', scale: 'linear' }, 't');
  assert.ok(small.ticks.every((t) => String(t).length < 8), `ticks without float noise: ${small.ticks.join(' ')}`);
  assert.deepEqual(['0', '1,234,567', '12.3', '0.000123', '-4,200'], [0, 1234567, 12.34, 0.000123, -4200].map(formatNumber));
});

test('plot: the same data gives the same bytes', () => {
  const spec = { title: 't', rows: [{ label: 'a', min: 1.23456, median: 2.5, max: 9.87654, values: [1.23456, 2.5, 9.87654] }], x: { label: 'ms' } };
  assert.equal(rangeChart(spec), rangeChart(structuredClone(spec)));
  assert.doesNotMatch(rangeChart(spec), / (?:x|y|x1|x2|y1|y2|cx|cy|width)="-?\d+\.\d{2,}"/, 'coordinates rounded to 0.1');
});

test("bench plots: each bench's plot function writes valid SVGs from a small fixed data set", () => {
  const plots: Array<[string, Plot[]]> = [
    ['ipam', figures.drawFigure('ipamPlots', [1000, 10_000].flatMap((n) => ['IPv4, two /16 ranges', 'IPv6, /64 pool'].map((workload) => ({ workload, n, ironlb: { p50Ms: 0.003, p99Ms: 0.05 }, linear: { p50Ms: n / 1e5, p99Ms: n / 1e4 } }))), info)],
    ['speaker-decide', figures.drawFigure('speakerDecidePlots', [{ services: 100, nodes: 3, cpuMs: [0.29, 0.3, 0.5], wallMs: [0.33, 0.4, 1] }, { services: 1000, nodes: 10, cpuMs: [7.1, 8], wallMs: [27, 30] }], info)],
    ['membership-sim', figures.drawFigure('membershipSimPlots', [3, 5, 20].flatMap((members) => [0, 0.05].map((loss) => ({ members, loss, last: [480, 500, 530], first: [300, 310, 320] }))), info)],
    ['membership', figures.drawFigure('membershipPlots', 5, [547, 600, 804, 520], [600, 804], info)],
    ['bgp', figures.drawFigure('bgpPlots', [1000, 10_000].flatMap((n) => ['ironlb', 'gobgp', 'frr'].flatMap((sender) => [1, 2].map((k) => ({ sender, n, loadMs: n / 100 + k, withdrawMs: k === 1 ? 0 : 10, peakRssMb: 90 + k })))), info)],
    ['bfd-jitter', figures.drawFigure('bfdJitterPlots', [{ label: 'worker, idle', gapMinMs: 75, gapP50Ms: 89, gapMaxMs: 161, peerDowns: 0 }, { label: 'main thread, busy', gapMinMs: 40, gapP50Ms: 110, gapMaxMs: 428, peerDowns: 3 }], info)],
    ['layer2', figures.drawFigure('layer2Plots', { kernel: { p50: [12, 18, 15], p99: [757, 700, 800] }, ironlb: { p50: [45, 62, 43], p99: [2500, 2000, 3000] } }, [{ setup: 'kernel', answered: [1, 1, 0.6] }, { setup: 'ironlb, 212 KB buffer (before)', answered: [0.71, 0.38, 0.97] }], '67,000/s for 2 s', info)],
    ['layer2 flood only', figures.drawFigure('layer2Plots', undefined, [{ setup: 'kernel', answered: [1] }], '67,000/s for 2 s', info)],
    ['failover', figures.drawFigure('failoverPlots', { 'L2, speaker killed': [530, 639, 464], 'BGP, speaker killed': [85, 312, 4], 'L2, link cut': [600], 'BGP, link cut': [] }, info)],
    ['speaker-failover', figures.drawFigure('speakerFailoverPlots', { kill: [[539, 573], [754, 877], [NaN, 1095]], term: [[67, 118]] }, info)],
    ['controller-throughput', figures.drawFigure('controllerThroughputPlots', { services: 2000, backlogPerS: 36, livePerS: 20, createsPerS: 53 }, info)],
    ['api-load', figures.drawFigure('apiLoadPlots', [[100, 3000], [300, 3000], [300, 1000]].map(([speakers, services]) => ({ speakers: speakers!, services: services!, l2: { writes: services! / 10, statusKiB: services! / 50 }, bgp: { writes: 3, statusKiB: 0.5 }, coldMiBPerSpeaker: services! / 500 })), 3000, 300, info)],
    ['cli', figures.drawFigure('cliPlots', [{ command: 'ironlb --help', form: 'sources', wallMs: [125, 107, 168], targetMs: 150 }, { command: 'ironlb status', form: 'compiled', wallMs: [949, 737, 1300], targetMs: 700 }], info)],
    ['compare', figures.drawFigure('compareFailoverPlots', 'performance-compare-l2.svg', 'L2', [{ failure: 'power-off', impl: 'ironlb', ms: 683 }, { failure: 'power-off', impl: 'metallb', ms: 5618 }, { failure: 'power-off', impl: 'metallb', ms: null }, { failure: 'graceful', impl: 'ironlb', ms: 0 }], ['power-off', 'graceful'], ['ironlb', 'metallb'])],
  ];
  const docs: string[] = [];
  for (const [bench, ps] of plots) {
    assert.ok(ps.length >= 1, `${bench} made no plot`);
    for (const p of ps) {
      assert.match(p.file, /^[a-z0-9-]+\.svg$/, `${bench}: file name ${p.file}`);
      if (bench !== 'compare') assert.ok(p.svg.includes('node bench/x.ts --quick · 2026-12-02'), `${bench}: ${p.file} names the command and the date`);
      docs.push(p.svg);
    }
  }
  assertSvg(docs);
  const files = plots.flatMap(([, ps]) => ps.map((p) => p.file));
  assert.equal(new Set(files).size, files.length - 1, 'one file name per figure (the layer2 flood-only case repeats one)');
  const drawn = new Set(plots.flatMap(([, ps]) => ps.map((p) => figures.figureOf(p.svg)?.figure)));
  assert.deepEqual([...drawn].sort(), Object.keys(figures.FIGURES).sort(), 'every figure function has a fixed data set here');
  // bench/replot.ts: each SVG carries its data and draws again to the same bytes.
  for (const [, ps] of plots) for (const p of ps) assert.equal(figures.redraw(p.svg, p.file), p.svg, p.file);
});

test('bench plots: figure data survives hostile text, and SVGs without it are left alone', () => {
  const label = `</metadata><x>&amp; "'`;
  const [p] = figures.drawFigure('cliPlots', [{ command: label, form: 'sources', wallMs: [1, 2, NaN], targetMs: 3 }], info);
  assertSvg([p!.svg]);
  const f = figures.figureOf(p!.svg)!;
  assert.equal(f.figure, 'cliPlots');
  assert.equal((f.args[0] as Array<{ command: string }>)[0]!.command, label);
  assert.equal(figures.redraw(p!.svg, 'cli.svg'), p!.svg, 'NaN samples (null in JSON) are left out alike');
  assert.equal(figures.redraw(rangeChart({ title: 't', rows: [{ label: 'a', min: 1, median: 1, max: 1 }], x: { label: 'x' } }), 'x.svg'), undefined);
  assert.throws(() => figures.redraw(p!.svg, 'other.svg'), /figure cliPlots no longer draws other.svg/);
});
