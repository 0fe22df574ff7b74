// The ironlb command: one binary, one subcommand per component or tool.
// Each subcommand lives in its own module and registers itself on the program.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { registerController } from './controller.ts';
import { registerSpeaker } from './speaker.ts';
import { registerBfdCommand } from '../bfd/cli.ts';
import { registerMembershipCommand } from '../membership/cli.ts';
import { registerValidate } from './validate.ts';
import { registerStatus } from './status.ts';
import { registerDashboard } from './dashboard.ts';
import { registerMigrate } from './migrate.ts';
import { registerLayer2Command } from '../layer2/cli.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('ironlb')
    .description('ironlb: Services of type LoadBalancer for bare-metal Kubernetes (Layer 2 and BGP)')
    .version(pkg.version)
    .showHelpAfterError();
  // Subcommands are added here as they ship; README lists them.
  registerController(program);
  registerSpeaker(program);
  registerBfdCommand(program);
  registerMembershipCommand(program);
  registerValidate(program);
  registerStatus(program);
  registerDashboard(program);
  registerMigrate(program);
  registerLayer2Command(program);
  // The lab is part of the test bench (testbed/), in a source checkout only: loaded when run.
  program
    .command('lab')
    .description('a whole cluster on this machine in network namespaces: control plane, controller, speakers, router, clients (root; source checkout only)')
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async () => {
      const i = process.argv.indexOf('lab');
      const { runLab } = (await import(labModule()).catch(() => {
        throw new Error('ironlb lab needs a source checkout of ironlb (testbed/lab is not part of the image): run bin/ironlb lab from the repository');
      })) as { runLab(argv: string[]): Promise<void> };
      await runLab(process.argv.slice(i + 1));
    });  return program;
}

/** Computed, so that the build (src/ only) does not follow it into the test bench. */
function labModule(): string {
  return new URL(['..', '..', 'testbed', 'lab', 'cli.ts'].join('/'), import.meta.url).href;
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  await buildProgram().parseAsync(process.argv);
}
