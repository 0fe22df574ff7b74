// `ironlb layer2 interfaces`: which interfaces Layer 2 mode would use on this host, and why not
// (the test bench's `node testbed/tools/layer2-announce.ts` answers for addresses by hand).
import { Command } from 'commander';
import { summary } from './commands.ts';
import { listInterfaces } from '../native/index.ts';
import { DEFAULT_EXCLUDE_PATTERNS, ineligibleReason, type SelectionConfig } from '../layer2/interface-monitor.ts';

/** The interface selection flags, shared with the test bench's announcer tool. */
export interface SelectionFlags {
  interface?: string[];
  exclude?: string[];
}

export function selection(o: SelectionFlags): SelectionConfig {
  const s: SelectionConfig = {};
  if (o.interface?.length) s.interfaces = o.interface;
  if (o.exclude) s.excludePatterns = o.exclude.filter((p) => p !== '');
  return s;
}

export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function registerLayer2Command(program: Command): void {
  const l2 = program.command('layer2').description(summary('layer2'));
  l2.command('interfaces')
    .description('list links and whether Layer 2 mode would answer on them')
    .option('-i, --interface <name-or-glob>', 'use only these interfaces (repeatable)', collect)
    .option('-x, --exclude <glob>', `exclusion pattern (repeatable; default: ${DEFAULT_EXCLUDE_PATTERNS.join(' ')}; "" for none)`, collect)
    .option('--json', 'JSON output')
    .action((o: SelectionFlags & { json?: boolean }) => {
      const sel = selection(o);
      const rows = listInterfaces().map((l) => ({ name: l.name, index: l.index, mac: l.mac, kind: l.kind, master: l.master ?? '', eligible: ineligibleReason(l, sel) === null, reason: ineligibleReason(l, sel) ?? '' }));
      if (o.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      for (const r of rows) process.stdout.write(`${r.name.padEnd(16)} ${r.mac.padEnd(18)} ${(r.kind || '-').padEnd(8)} ${r.eligible ? 'eligible' : `skipped: ${r.reason}`}\n`);
    });
}
