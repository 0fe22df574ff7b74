// Small, pure SVG charts for the benches' figures (docs/performance.md): a range chart (one row per
// measured case: bar to the median, whisker from min to max, a dot per sample) and a line chart of a
// cost against a size (point = median, whisker = range). Plain data in, an SVG string out: no DOM,
// no clock, no randomness, so the same figures always give the same bytes and the committed files
// only change when the figures do. Axes are logarithmic where the data spans decades.
// Why hand-written: the two chart kinds need ~300 lines; the headless SVG renderers on npm (Vega,
// Vega-Lite) bring some 50 packages (d3-*) into the shared node_modules for a bench-only need.

/** A value with a label, drawn as a dashed reference line (a goal, a timeout). */
export interface Mark {
  value: number;
  label: string;
}

export type ScaleKind = 'log' | 'linear' | 'auto';

export interface AxisSpec {
  /** Axis title, with the unit ("ms", "µs per allocation"). */
  label: string;
  /** 'auto' (default): logarithmic when every value is positive and max/min ≥ 50, else linear. */
  scale?: ScaleKind;
  /** Tick label text; default: a number with at most 3 significant digits and thousands separators. */
  format?: (v: number) => string;
  /** Forces the domain's ends (e.g. 0 and 100 for a percentage). */
  min?: number;
  max?: number;
}

/** One row of a range chart: a measured case over its samples. */
export interface RangeRow {
  label: string;
  /** Colour group, named in the legend (e.g. the implementation). */
  series?: string;
  min: number;
  median: number;
  max: number;
  /** The individual samples (rounds, runs), drawn as dots. */
  values?: readonly number[];
  /** This row's goal, drawn as a red tick. */
  target?: number;
}

interface ChartText {
  title: string;
  /** What the marks mean ("bar = median, whisker = min–max"). */
  subtitle?: string;
  /** Provenance: command, date, load average. Wrapped to the width. */
  footer?: string;
  /** Fixed colours per series name (so one implementation keeps its colour across charts). */
  colors?: Readonly<Record<string, string>>;
}

export interface RangeChartSpec extends ChartText {
  rows: readonly RangeRow[];
  x: AxisSpec;
  refs?: readonly Mark[];
}

export interface LinePoint {
  x: number;
  y: number;
  lo?: number;
  hi?: number;
}

export interface LineSeries {
  name: string;
  points: readonly LinePoint[];
  dashed?: boolean;
  /** Overrides the palette (e.g. p50 and p99 of one implementation in one colour). */
  color?: string;
}

export interface LineChartSpec extends ChartText {
  series: readonly LineSeries[];
  x: AxisSpec & { ticks?: ReadonlyArray<{ value: number; label: string }> };
  y: AxisSpec;
  /** Horizontal reference lines. */
  refs?: readonly Mark[];
}

/** Okabe-Ito colours (distinguishable with colour-blindness), in order of first use. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#7F7F7F', '#000000'] as const;

const W = 760;
const CHAR_W = 7.2; // width of a 12 px sans-serif character (DejaVu Sans, the widest common default), for layout only

// ---- text -------------------------------------------------------------------------------------

/** Text safe inside an element or a quoted attribute; characters XML 1.0 forbids become U+FFFD. */
export function escapeXml(s: string): string {
  return s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '\ufffd')
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** 1234567 → "1,234,567", 0.000123 → "0.000123", 12.34 → "12.3": at most 3 significant digits. */
export function formatNumber(v: number): string {
  if (v === 0) return '0';
  const sign = v < 0 ? '-' : '';
  const a = Math.abs(v);
  if (a >= 1000) return sign + Math.round(a).toString().replace(/\B(?=(\d{3})+$)/g, ',');
  return sign + String(Number(a.toPrecision(3)));
}

function wrap(text: string, maxChars: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const w of text.split(/\s+/).filter(Boolean)) {
    if (cur && cur.length + 1 + w.length > maxChars) {
      out.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) out.push(cur);
  return out;
}

const n1 = (v: number): string => (Math.round(v * 10) / 10).toFixed(1);

// ---- scales -----------------------------------------------------------------------------------

export interface Scale {
  kind: 'log' | 'linear';
  /** The domain after rounding out to decades (log) or nice steps (linear). */
  lo: number;
  hi: number;
  /** Maps a value to [0, 1] along the axis (clamped). */
  unit(v: number): number;
  ticks: number[];
}

/**
 * The scale for `values` on `axis`. Log: the domain widens to whole decades, ticks on each decade
 * (and at 2 and 5 when there are at most two decades). Linear: ticks at 1, 2 or 5 × 10^k, about 5 of
 * them, the domain widened to whole ticks.
 */
export function makeScale(values: readonly number[], axis: AxisSpec, chart: string, includeZero = false): Scale {
  if (!values.length) throw new Error(`plot "${chart}": no values for the axis "${axis.label}"`);
  for (const v of values) if (!Number.isFinite(v)) throw new Error(`plot "${chart}": the axis "${axis.label}" got ${v}; leave out what was not measured`);
  let lo = Math.min(...values, ...(axis.min !== undefined ? [axis.min] : []));
  let hi = Math.max(...values, ...(axis.max !== undefined ? [axis.max] : []));
  const positive = lo > 0;
  const kind = axis.scale === 'log' || (axis.scale !== 'linear' && positive && hi / lo >= 50) ? 'log' : 'linear';
  if (kind === 'log') {
    if (!positive) throw new Error(`plot "${chart}": the log axis "${axis.label}" needs positive values, got ${formatNumber(lo)}; use scale 'linear'`);
    const d0 = Math.floor(Math.log10(axis.min ?? lo) + 1e-9);
    let d1 = Math.ceil(Math.log10(axis.max ?? hi) - 1e-9);
    if (d1 === d0) d1 = d0 + 1;
    const ticks: number[] = [];
    for (let d = d0; d <= d1; d++) {
      ticks.push(Number((10 ** d).toPrecision(12)));
      if (d1 - d0 <= 2 && d < d1) ticks.push(Number((2 * 10 ** d).toPrecision(12)), Number((5 * 10 ** d).toPrecision(12)));
    }
    const [l, h] = [10 ** d0, 10 ** d1];
    const span = Math.log10(h) - Math.log10(l);
    return { kind, lo: l, hi: h, ticks, unit: (v) => Math.min(1, Math.max(0, (Math.log10(Math.max(v, l)) - Math.log10(l)) / span)) };
  }
  if (includeZero) {
    lo = Math.min(lo, 0);
    hi = Math.max(hi, 0);
  }
  if (lo === hi) {
    if (lo === 0) hi = 1;
    else if (lo > 0) lo = 0;
    else hi = 0;
  }
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const l = axis.min ?? Math.floor(lo / step + 1e-9) * step;
  const h = axis.max ?? Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let t = Math.ceil(l / step - 1e-9) * step, k = 0; t <= h + step * 1e-9 && k < 100; t += step, k++) ticks.push(Number(t.toPrecision(12)));
  return { kind, lo: l, hi: h, ticks, unit: (v) => Math.min(1, Math.max(0, (v - l) / (h - l))) };
}

// ---- shared pieces ----------------------------------------------------------------------------

function colourOf(names: readonly string[], fixed: Readonly<Record<string, string>> | undefined): (name: string) => string {
  const map = new Map<string, string>();
  let k = 0;
  for (const n of names) {
    if (map.has(n)) continue;
    const c = fixed?.[n];
    if (c !== undefined) map.set(n, c);
    else map.set(n, PALETTE[k++ % PALETTE.length]!);
  }
  return (n) => map.get(n) ?? PALETTE[PALETTE.length - 2]!;
}

function refuseEmpty(chart: string, empty: boolean): void {
  if (!chart.trim()) throw new Error('plot: a chart needs a title');
  if (empty) throw new Error(`plot "${chart}": no data to plot; a bench writes a plot only for figures it measured`);
}

function checkFinite(chart: string, what: string, vs: ReadonlyArray<number | undefined>): void {
  for (const v of vs) if (v !== undefined && !Number.isFinite(v)) throw new Error(`plot "${chart}": ${what} has the value ${v}; leave out what was not measured`);
}

/** Title, subtitle and legend; returns the SVG lines and the y where the plot starts. */
function header(c: ChartText, legend: ReadonlyArray<{ name: string; color: string; dashed?: boolean }>, width: number): { out: string[]; y: number } {
  const out = [`<text x="10" y="20" font-size="14" font-weight="bold">${escapeXml(c.title)}</text>`];
  let y = 28;
  if (c.subtitle) {
    for (const l of wrap(c.subtitle, Math.floor((width - 20) / (CHAR_W * 0.95)))) {
      y += 15;
      out.push(`<text x="10" y="${y}" font-size="11" fill="#555">${escapeXml(l)}</text>`);
    }
  }
  if (legend.length) {
    y += 20;
    let x = 10;
    for (const e of legend) {
      const w = 28 + e.name.length * CHAR_W;
      if (x + w > width - 10 && x > 10) {
        x = 10;
        y += 18;
      }
      out.push(`<line x1="${x}" y1="${y - 4}" x2="${x + 18}" y2="${y - 4}" stroke="${e.color}" stroke-width="3"${e.dashed ? ' stroke-dasharray="5 3"' : ''}/>`, `<text x="${x + 23}" y="${y}">${escapeXml(e.name)}</text>`);
      x += w + 12;
    }
  }
  return { out, y: y + 16 };
}

function footerLines(footer: string | undefined, y: number, width: number): { out: string[]; y: number } {
  const out: string[] = [];
  if (!footer) return { out, y };
  for (const l of wrap(footer, Math.floor((width - 20) / (CHAR_W * 0.9)))) {
    y += 14;
    out.push(`<text x="10" y="${y}" font-size="10" fill="#666">${escapeXml(l)}</text>`);
  }
  return { out, y };
}

function svgDoc(title: string, height: number, body: string[]): string {
  const h = Math.ceil(height);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="${W}" height="${h}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

// ---- range chart ------------------------------------------------------------------------------

/** Rows of measured cases: a light bar to the median, a whisker from min to max, the samples as dots. */
export function rangeChart(c: RangeChartSpec): string {
  refuseEmpty(c.title, c.rows.length === 0);
  for (const r of c.rows) {
    checkFinite(c.title, `row "${r.label}"`, [r.min, r.median, r.max, r.target, ...(r.values ?? [])]);
    if (!(r.min <= r.median && r.median <= r.max)) throw new Error(`plot "${c.title}": row "${r.label}" needs min ≤ median ≤ max, got ${r.min}, ${r.median}, ${r.max}`);
  }
  const all = c.rows.flatMap((r) => [r.min, r.median, r.max, ...(r.values ?? []), ...(r.target !== undefined ? [r.target] : [])]).concat((c.refs ?? []).map((m) => m.value));
  const scale = makeScale(all, c.x, c.title, true);
  const seriesNames = c.rows.map((r) => r.series).filter((s): s is string => s !== undefined);
  const colour = colourOf(seriesNames, c.colors);
  const legend = [...new Set(seriesNames)].map((name) => ({ name, color: colour(name) }));
  const { out, y: top0 } = header(c, legend.length > 1 ? legend : [], W);
  const labelW = Math.min(420, Math.max(...c.rows.map((r) => r.label.length)) * CHAR_W + 16);
  const left = 10 + labelW;
  const right = W - 24;
  const rowH = 24;
  const top = top0 + (c.refs?.length ? 14 : 0);
  const x = (v: number): string => n1(left + scale.unit(v) * (right - left));
  const bottom = top + c.rows.length * rowH;
  for (const t of scale.ticks) out.push(`<line x1="${x(t)}" y1="${top - 4}" x2="${x(t)}" y2="${bottom + 4}" stroke="#e3e3e3"/>`);
  const origin = scale.kind === 'log' ? scale.lo : Math.max(scale.lo, Math.min(0, scale.hi));
  c.rows.forEach((r, k) => {
    const cy = top + k * rowH + rowH / 2;
    const col = r.series !== undefined ? colour(r.series) : PALETTE[0];
    const tip = `${r.label}: median ${formatNumber(r.median)} (${formatNumber(r.min)}–${formatNumber(r.max)})${r.values ? `, n=${r.values.length}` : ''}`;
    out.push(`<g><title>${escapeXml(tip)}</title>`);
    out.push(`<text x="10" y="${n1(cy + 4)}">${escapeXml(r.label)}</text>`);
    const x0 = Number(x(origin));
    const xm = Number(x(r.median));
    out.push(`<rect x="${n1(Math.min(x0, xm))}" y="${n1(cy - 6)}" width="${n1(Math.abs(xm - x0))}" height="12" fill="${col}" fill-opacity="0.22"/>`);
    out.push(`<line x1="${x(r.min)}" y1="${n1(cy)}" x2="${x(r.max)}" y2="${n1(cy)}" stroke="${col}" stroke-width="1.5"/>`);
    for (const e of [r.min, r.max]) out.push(`<line x1="${x(e)}" y1="${n1(cy - 4)}" x2="${x(e)}" y2="${n1(cy + 4)}" stroke="${col}" stroke-width="1.5"/>`);
    for (const v of r.values ?? []) out.push(`<circle cx="${x(v)}" cy="${n1(cy)}" r="3" fill="${col}" fill-opacity="0.65"/>`);
    out.push(`<line x1="${x(r.median)}" y1="${n1(cy - 8)}" x2="${x(r.median)}" y2="${n1(cy + 8)}" stroke="#000" stroke-width="2"/>`);
    if (r.target !== undefined) out.push(`<line x1="${x(r.target)}" y1="${n1(cy - 9)}" x2="${x(r.target)}" y2="${n1(cy + 9)}" stroke="#c00000" stroke-width="2.5"><title>${escapeXml(`target ${formatNumber(r.target)}`)}</title></line>`);
    out.push('</g>');
  });
  for (const m of c.refs ?? []) {
    // The label hangs inward near either end, so it is never cut by the edge of the image.
    const at = Number(x(m.value));
    const half = (m.label.length * CHAR_W * 0.85) / 2;
    const anchor = at + half > W - 6 ? 'end' : at - half < left ? 'start' : 'middle';
    out.push(`<line x1="${x(m.value)}" y1="${top - 6}" x2="${x(m.value)}" y2="${bottom + 4}" stroke="#c00000" stroke-dasharray="4 3"/>`, `<text x="${x(m.value)}" y="${top - 9}" font-size="10" fill="#c00000" text-anchor="${anchor}">${escapeXml(m.label)}</text>`);
  }
  const fmt = c.x.format ?? formatNumber;
  for (const t of scale.ticks) out.push(`<text x="${x(t)}" y="${bottom + 18}" font-size="11" text-anchor="middle">${escapeXml(fmt(t))}</text>`);
  out.push(`<text x="${n1((left + right) / 2)}" y="${bottom + 36}" text-anchor="middle">${escapeXml(`${c.x.label}${scale.kind === 'log' ? ' (log scale)' : ''}`)}</text>`);
  const f = footerLines(c.footer, bottom + 40, W);
  out.push(...f.out);
  return svgDoc(c.title, f.y + 10, out);
}

// ---- line chart -------------------------------------------------------------------------------

/** A cost against a size: one line per series, point = median, whisker = lo–hi where given. */
export function lineChart(c: LineChartSpec): string {
  refuseEmpty(c.title, c.series.every((s) => s.points.length === 0));
  for (const s of c.series) {
    for (const p of s.points) {
      checkFinite(c.title, `series "${s.name}"`, [p.x, p.y, p.lo, p.hi]);
      if ((p.lo !== undefined && p.lo > p.y) || (p.hi !== undefined && p.hi < p.y)) throw new Error(`plot "${c.title}": series "${s.name}" at x=${p.x} needs lo ≤ y ≤ hi, got ${p.lo}, ${p.y}, ${p.hi}`);
    }
  }
  const series = c.series.filter((s) => s.points.length);
  const pts = series.flatMap((s) => s.points);
  const xs = makeScale(pts.map((p) => p.x).concat((c.x.ticks ?? []).map((t) => t.value)), c.x, c.title);
  const ys = makeScale(pts.flatMap((p) => [p.y, ...(p.lo !== undefined ? [p.lo] : []), ...(p.hi !== undefined ? [p.hi] : [])]).concat((c.refs ?? []).map((m) => m.value)), c.y, c.title, true);
  const colour = colourOf(series.map((s) => s.name), c.colors);
  const col = (s: LineSeries): string => s.color ?? colour(s.name);
  const { out, y: top } = header(c, series.map((s) => ({ name: s.name, color: col(s), ...(s.dashed ? { dashed: true } : {}) })), W);
  const yFmt = c.y.format ?? formatNumber;
  const left = 20 + Math.max(...ys.ticks.map((t) => yFmt(t).length)) * CHAR_W + 8;
  const right = W - 30;
  const bottom = top + 300;
  const pad = 18; // keeps the first and last points (and their whiskers) off the frame
  const px = (v: number): number => left + pad + xs.unit(v) * (right - left - 2 * pad);
  const py = (v: number): number => bottom - ys.unit(v) * (bottom - top);
  for (const t of ys.ticks) out.push(`<line x1="${n1(left)}" y1="${n1(py(t))}" x2="${n1(right)}" y2="${n1(py(t))}" stroke="#e3e3e3"/>`, `<text x="${n1(left - 6)}" y="${n1(py(t) + 4)}" font-size="11" text-anchor="end">${escapeXml(yFmt(t))}</text>`);
  const xTicks = c.x.ticks ?? xs.ticks.map((t) => ({ value: t, label: (c.x.format ?? formatNumber)(t) }));
  for (const t of xTicks) out.push(`<line x1="${n1(px(t.value))}" y1="${n1(top)}" x2="${n1(px(t.value))}" y2="${n1(bottom)}" stroke="#e3e3e3"/>`, `<text x="${n1(px(t.value))}" y="${n1(bottom + 16)}" font-size="11" text-anchor="middle">${escapeXml(t.label)}</text>`);
  out.push(`<rect x="${n1(left)}" y="${n1(top)}" width="${n1(right - left)}" height="${n1(bottom - top)}" fill="none" stroke="#999"/>`);
  for (const m of c.refs ?? []) out.push(`<line x1="${n1(left)}" y1="${n1(py(m.value))}" x2="${n1(right)}" y2="${n1(py(m.value))}" stroke="#c00000" stroke-dasharray="4 3"/>`, `<text x="${n1(right - 4)}" y="${n1(py(m.value) - 4)}" font-size="10" fill="#c00000" text-anchor="end">${escapeXml(m.label)}</text>`);
  series.forEach((s, k) => {
    const sorted = [...s.points].sort((a, b) => a.x - b.x);
    const colr = col(s);
    // Series side by side around each x, so overlapping whiskers stay apart.
    const dodge = (k - (series.length - 1) / 2) * Math.min(4, 24 / series.length);
    out.push(`<g><title>${escapeXml(s.name)}</title>`);
    if (sorted.length > 1) out.push(`<polyline points="${sorted.map((p) => `${n1(px(p.x) + dodge)},${n1(py(p.y))}`).join(' ')}" fill="none" stroke="${colr}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    for (const p of sorted) {
      const cx = n1(px(p.x) + dodge);
      if (p.lo !== undefined || p.hi !== undefined) {
        const [a, b] = [py(p.lo ?? p.y), py(p.hi ?? p.y)];
        out.push(`<line x1="${cx}" y1="${n1(a)}" x2="${cx}" y2="${n1(b)}" stroke="${colr}" stroke-width="1.5"/>`);
        for (const e of [a, b]) out.push(`<line x1="${n1(px(p.x) + dodge - 4)}" y1="${n1(e)}" x2="${n1(px(p.x) + dodge + 4)}" y2="${n1(e)}" stroke="${colr}" stroke-width="1.5"/>`);
      }
      const tip = `${s.name}: ${formatNumber(p.y)} at ${formatNumber(p.x)}${p.lo !== undefined || p.hi !== undefined ? ` (${formatNumber(p.lo ?? p.y)}–${formatNumber(p.hi ?? p.y)})` : ''}`;
      out.push(`<circle cx="${cx}" cy="${n1(py(p.y))}" r="3.5" fill="${colr}"><title>${escapeXml(tip)}</title></circle>`);
    }
    out.push('</g>');
  });
  out.push(`<text x="${n1((left + right) / 2)}" y="${n1(bottom + 34)}" text-anchor="middle">${escapeXml(`${c.x.label}${xs.kind === 'log' ? ' (log scale)' : ''}`)}</text>`);
  const ymid = n1((top + bottom) / 2);
  out.push(`<text x="14" y="${ymid}" text-anchor="middle" transform="rotate(-90 14 ${ymid})">${escapeXml(`${c.y.label}${ys.kind === 'log' ? ' (log scale)' : ''}`)}</text>`);
  const f = footerLines(c.footer, bottom + 40, W);
  out.push(...f.out);
  return svgDoc(c.title, f.y + 10, out);
}
