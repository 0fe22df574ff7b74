// `ironlb layer2 interfaces`: which interfaces Layer 2 mode would use on this host, and why not.
// `ironlb layer2 announce IP...`: answers ARP/NDP for the addresses until interrupted (a lab and
// debugging tool; the speaker drives the Announcer itself).
import { Command } from 'commander';
import { summary } from '../cli/commands.ts';
import { listInterfaces } from '../native/index.ts';
import { Announcer } from './announcer.ts';
import { DEFAULT_EXCLUDE_PATTERNS, ineligibleReason, type SelectionConfig } from './interfaces.ts';

interface SelectionFlags {
  interface?: string[];
  exclude?: string[];
}

function selection(o: SelectionFlags): SelectionConfig {
  const s: SelectionConfig = {};
  if (o.interface?.length) s.interfaces = o.interface;
  if (o.exclude) s.excludePatterns = o.exclude.filter((p) => p !== '');
  return s;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

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
  l2.command('announce')
    .description('answer ARP/NDP for the given addresses until interrupted')
    .argument('<ip...>', 'addresses to announce')
    .option('-i, --interface <name-or-glob>', 'use only these interfaces (repeatable)', collect)
    .option('-x, --exclude <glob>', 'exclusion pattern (repeatable; "" for none)', collect)
    .option('--refresh <ms>', 'periodic gratuitous refresh interval (0 = off)', '0')
    .action((ips: string[], o: SelectionFlags & { refresh: string }) => {
      const a = new Announcer({ ...selection(o), refreshIntervalMs: Number(o.refresh) });
      a.on('acquired', (e) => process.stdout.write(`${JSON.stringify({ event: 'acquired', ...e })}\n`));
      a.on('released', (e) => process.stdout.write(`${JSON.stringify({ event: 'released', ...e })}\n`));
      a.on('interfaces', (e) => process.stdout.write(`${JSON.stringify({ event: 'interfaces', ...e })}\n`));
      a.setAddresses(new Map(ips.map((ip) => [ip, {}])));
      const stop = (): void => {
        a.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
