// Where the benches write their plots, and the provenance each plot carries (command, date, load
// average): the one impure helper next to the pure figures (figures.ts, plot.ts).
// Every bench takes `--plots DIR` (default docs/img/perf in this checkout, the folder
// docs/performance.md embeds them from; `--plots ''` writes none).
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plot, RunInfo } from './figures.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_PLOTS_DIR = join(ROOT, 'docs', 'img', 'perf');

/** The parseArgs option every bench adds. */
export const plotsOption = { plots: { type: 'string', default: DEFAULT_PLOTS_DIR } } as const;

/** The command as typed (relative to the checkout), today's date and the load average now. */
export function startRun(): RunInfo {
  const script = relative(ROOT, process.argv[1] ?? '') || 'bench';
  const args = process.argv.slice(2).map((a) => (/^[\w./,=:@%+-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`));
  return { command: ['node', script, ...args].join(' '), date: new Date().toISOString().slice(0, 10), loadStart: loadavg()[0]! };
}

/** Writes the plots into `dir` (none when dir is ''), with the load average at the end of the run. */
export function writePlots(dir: string, plots: readonly Plot[]): string[] {
  if (!dir) return [];
  const abs = isAbsolute(dir) ? dir : resolve(dir);
  mkdirSync(abs, { recursive: true });
  const written: string[] = [];
  for (const p of plots) {
    const file = join(abs, p.file);
    writeFileSync(file, p.svg);
    written.push(file);
  }
  const shown = (f: string): string => (relative(process.cwd(), f).startsWith('..') ? f : relative(process.cwd(), f));
  if (written.length) process.stderr.write(`plots: ${written.map(shown).join(', ')}\n`);
  return written;
}

/** The run's end: load average now, for the plots' footers. */
export function endRun(info: RunInfo): RunInfo {
  return { ...info, loadEnd: loadavg()[0]! };
}
