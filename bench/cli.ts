// The ironlb command's start-up cost: wall time and CPU (user+system, children included) of
// `ironlb --help` and of `ironlb status` against a real control plane with ironlb installed and a
// few Services, as the sources run (bin/ironlb) and compiled (dist/, as the image runs).
// Targets on a quiet machine: help under 150 ms, status under 700 ms.
// Usage: node bench/cli.ts [--runs N] [--plots DIR]
// Plot: DIR/cli.svg, wall time per command and form with its target (default docs/img/perf; '' for none).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startTestApiServer } from '../test/support/apiserver.ts';
import { ROOT } from '../testbed/tools.ts';
import { drawFigure, type CliRow } from './support/figures.ts';
import { endRun, plotsOption, startRun, writePlots } from './support/plot-files.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' }, ...plotsOption } });
const info = startRun();
const plotRows: CliRow[] = [];
const runs = Math.max(3, Math.min(200, Number(values.runs)));

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): { wallMs: number; cpuMs: number } {
  // bash's `time` reports the child's user and system CPU; TIMEFORMAT keeps it machine-readable.
  const script = `TIMEFORMAT='%R %U %S'; { time ${[cmd, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')} >/dev/null 2>&1; } 2>&1`;
  const r = spawnSync('bash', ['-c', script], { env: { ...env, TIMEFORMAT: '%R %U %S' }, encoding: 'utf8', timeout: 60_000 });
  const [real, user, sys] = r.stdout.trim().split(/\s+/).slice(-3).map(Number);
  return { wallMs: (real ?? NaN) * 1000, cpuMs: ((user ?? NaN) + (sys ?? NaN)) * 1000 };
}

const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number;
};

function row(name: string, samples: Array<{ wallMs: number; cpuMs: number }>, target: number): string {
  const w = samples.map((s) => s.wallMs);
  const c = samples.map((s) => s.cpuMs);
  const p50 = q(w, 0.5);
  return `| ${name} | ${p50.toFixed(0)} | ${Math.min(...w).toFixed(0)}–${Math.max(...w).toFixed(0)} | ${q(c, 0.5).toFixed(0)} | ${target} | ${p50 <= target ? 'met' : `missed (x${(p50 / target).toFixed(2)})`} |`;
}

if (!existsSync(join(ROOT, 'dist/cli/main.js'))) {
  process.stderr.write('building dist/ (tsc -p tsconfig.build.json) for the compiled figures\n');
  execFileSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
}
const api = await startTestApiServer();
try {
  for (let i = 0; i < 5; i++) {
    await api.core.createNamespacedService({ namespace: 'default', body: { metadata: { name: `svc-${i}` }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }], selector: { app: 'x' } } } });
  }
  const env = { ...process.env, KUBECONFIG: api.kubeconfigPath };
  const forms: Array<[string, string, string[], string]> = [
    ['sources (bin/ironlb)', join(ROOT, 'bin/ironlb'), [], 'sources'],
    ['compiled (node dist/cli/main.js)', process.execPath, [join(ROOT, 'dist/cli/main.js')], 'compiled'],
  ];
  const lines = ['| command | wall p50 ms | wall range ms | CPU p50 ms | target ms | |', '|---|---|---|---|---|---|'];
  for (const [form, cmd, pre, short] of forms) {
    const help: Array<{ wallMs: number; cpuMs: number }> = [];
    const status: Array<{ wallMs: number; cpuMs: number }> = [];
    // Interleaved, so that load on the machine hits both alike.
    for (let i = 0; i < runs; i++) {
      help.push(timed(cmd, [...pre, '--help'], env));
      status.push(timed(cmd, [...pre, 'status'], env));
    }
    lines.push(row(`ironlb --help, ${form}`, help, 150), row(`ironlb status, ${form}`, status, 700));
    plotRows.push({ command: 'ironlb --help', form: short, wallMs: help.map((x) => x.wallMs), targetMs: 150 }, { command: 'ironlb status', form: short, wallMs: status.map((x) => x.wallMs), targetMs: 700 });
  }
  writePlots(values.plots, drawFigure('cliPlots', plotRows, endRun(info)));
  process.stdout.write(`${lines.join('\n')}\n\n${runs} runs each; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; Node ${process.version}\n`);
} finally {
  await api.close();
}
