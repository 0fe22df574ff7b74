// `ironlb migrate --from metallb|openelb FILE...`: prints ironlb objects (YAML) and the Service
// annotation rewrites; warnings (settings without an equivalent) also go to standard error.
import type { Command } from 'commander';
import { summary } from './commands.ts';
import { readFileSync } from 'node:fs';
import { DEFAULT_NAMESPACE } from '../api/index.ts';
import { expandFiles } from '../install/validate.ts';
import { SOURCES, formatMigration, migrate, readObjects, type Source } from '../migrate/index.ts';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description(summary('migrate'))
    .requiredOption('--from <project>', `the configuration's project: ${SOURCES.join(' or ')}`)
    .argument('<file...>', 'YAML files (e.g. kubectl get ipaddresspools,l2advertisements,... -A -o yaml); "-" reads standard input')
    .option('-n, --namespace <ns>', 'namespace for ironlb\'s configuration objects', DEFAULT_NAMESPACE)
    .action((files: string[], o: { from: string; namespace: string }) => {
      if (!(SOURCES as readonly string[]).includes(o.from)) throw new Error(`--from must be ${SOURCES.join(' or ')}, got "${o.from}"`);
      const docs = expandFiles(files).flatMap((f) => readObjects(readFileSync(f === '-' ? 0 : f, 'utf8'), f));
      const r = migrate(o.from as Source, docs, { namespace: o.namespace });
      process.stdout.write(formatMigration(r, o.from as Source));
      for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
      process.stderr.write(`${r.objects.length} object(s), ${r.services.length} Service rewrite(s), ${r.warnings.length} warning(s)\n`);
    });
}
