// Draws the benches' plots again from the data each SVG carries (bench/support/figures.ts,
// drawFigure), with the current plotting code: a change of style needs no bench run, and the
// figures stay those of the run the caption names.
//   node bench/replot.ts [FILE.svg | DIR ...]     (default: docs/img/perf and docs/performance-compare-*.svg)
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { redraw } from './support/figures.ts';
import { DEFAULT_PLOTS_DIR } from './support/plot-files.ts';

const targets = process.argv.slice(2);
const docs = join(DEFAULT_PLOTS_DIR, '..', '..');
const files = (targets.length ? targets : [DEFAULT_PLOTS_DIR, ...readdirSync(docs).filter((f) => /^performance-compare-.*\.svg$/.test(f)).map((f) => join(docs, f))])
  .flatMap((t) => (statSync(t).isDirectory() ? readdirSync(t).filter((f) => f.endsWith('.svg')).map((f) => join(t, f)) : [t]));
let changed = 0;
for (const f of files) {
  const old = readFileSync(f, 'utf8');
  const next = redraw(old, basename(f));
  if (next === undefined) {
    process.stderr.write(`${f}: no figure data (written before drawFigure, or not by a bench); run its bench again\n`);
    continue;
  }
  if (next !== old) {
    writeFileSync(f, next);
    changed++;
  }
}
process.stderr.write(`replot: ${changed} of ${files.length} redrawn\n`);
