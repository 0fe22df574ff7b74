// The API server's cost of a node loss against the cluster size and the Service count: runs
// bench/api-load.ts once per size (each with its own API server and etcd) and plots the figures
// (docs/performance.md, "Scale"). Runs one at a time; each size takes ~1–6 min here.
//   node bench/api-load-scale.ts [--nodes 100,300,1000] [--services 1000,3000,10000]
//        [--fixed-services 3000] [--fixed-nodes 300] [--steady-seconds 10] [--plots DIR]
// Sizes: every node count with --fixed-services Services, every Service count on --fixed-nodes nodes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { drawFigure, type ApiLoadRow } from './support/figures.ts';
import { endRun, plotsOption, startRun, writePlots } from './support/plot-files.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '100,300,1000' },
    services: { type: 'string', default: '1000,3000,10000' },
    'fixed-services': { type: 'string', default: '3000' },
    'fixed-nodes': { type: 'string', default: '300' },
    'steady-seconds': { type: 'string', default: '10' },
    ...plotsOption,
  },
});
const list = (s: string) => s.split(',').map(Number).filter((n) => n > 0);
const fixedS = Number(values['fixed-services']);
const fixedK = Number(values['fixed-nodes']);
const sizes = new Map<string, [number, number]>();
for (const k of list(values.nodes)) sizes.set(`${k}x${fixedS}`, [k, fixedS]);
for (const s of list(values.services)) sizes.set(`${fixedK}x${s}`, [fixedK, s]);

const run = startRun();
const dir = mkdtempSync(join(tmpdir(), 'ironlb-api-load-'));
const file = join(dir, 'results.jsonl');
const bench = join(dirname(fileURLToPath(import.meta.url)), 'api-load.ts');
try {
  for (const [k, s] of [...sizes.values()].sort((a, b) => a[0] * a[1] - b[0] * b[1])) {
    process.stdout.write(`## ${k} nodes, ${s} Services\n`);
    const listers = String(Math.min(k, 20));
    const r = spawnSync(process.execPath, [bench, '--speakers', String(k), '--services', String(s), '--list-speakers', listers, '--steady-seconds', values['steady-seconds'], '--result', file], { stdio: 'inherit', timeout: 20 * 60_000 });
    if (r.status !== 0) throw new Error(`bench/api-load.ts at ${k} nodes and ${s} Services failed (exit ${r.status ?? r.signal}); see its output above`);
  }
  const rows = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ApiLoadRow);
  for (const r of rows) process.stdout.write(`${r.speakers} nodes, ${r.services} Services: L2 ${r.l2.writes} writes, ${r.l2.statusKiB.toFixed(1)} KiB; BGP ${r.bgp.writes} writes, ${r.bgp.statusKiB.toFixed(1)} KiB; cold start ${r.coldMiBPerSpeaker.toFixed(2)} MiB per speaker\n`);
  writePlots(values.plots, drawFigure('apiLoadPlots', rows, fixedS, fixedK, endRun(run)));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
