// `ironlb validate -f FILE...`: offline check of ironlb configuration files, as the controller
// would judge them, with file:line:column for every problem. Exit status 1 when any error.
import type { Command } from 'commander';
import { summary } from './commands.ts';
import { DEFAULT_NAMESPACE } from '../api/index.ts';
import { expandFiles, formatProblem, validateFiles } from '../install/validate.ts';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description(summary('validate'))
    .requiredOption('-f, --filename <file...>', 'YAML files or folders of them to check ("-" reads standard input); all files form one configuration')
    .option('-n, --namespace <ns>', 'the namespace ironlb reads its configuration from', DEFAULT_NAMESPACE)
    .option('-q, --quiet', 'print only problems')
    .action((o: { filename: string[]; namespace: string; quiet?: boolean }) => {
      const r = validateFiles(expandFiles(o.filename), { namespace: o.namespace });
      for (const p of r.problems) (p.severity === 'error' ? process.stderr : process.stdout).write(`${formatProblem(p)}\n`);
      const errors = r.problems.filter((p) => p.severity === 'error').length;
      if (errors) {
        process.stderr.write(`${errors} error(s) in ${r.objects} ironlb object(s)\n`);
        process.exitCode = 1;
      } else if (!o.quiet) process.stdout.write(`ok: ${r.objects} ironlb object(s) valid\n`);
    });
}
