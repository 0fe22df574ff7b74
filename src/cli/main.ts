// The ironlb command: one binary, one subcommand per component or tool.
// Each subcommand lives in its own module and registers itself on the program.
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { registerApiServer } from './apiserver.ts';
import { registerController } from './controller.ts';
import { registerSpeaker } from './speaker.ts';
import { registerBfdCommand } from '../bfd/cli.ts';
import { registerMembershipCommand } from '../membership/cli.ts';
import { registerValidate } from './validate.ts';
import { registerStatus } from './status.ts';
import { registerMigrate } from './migrate.ts';
import { registerLayer2Command } from '../layer2/cli.ts';
import { registerLab } from './lab.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export function buildProgram(): Command {
  const program = new Command('ironlb')
    .description('ironlb: Services of type LoadBalancer for bare-metal Kubernetes (Layer 2 and BGP)')
    .version(pkg.version)
    .showHelpAfterError();
  // Subcommands are added here as they ship; README lists them.
  registerApiServer(program);
  registerController(program);
  registerSpeaker(program);
  registerBfdCommand(program);
  registerMembershipCommand(program);
  registerValidate(program);
  registerStatus(program);
  registerMigrate(program);
  registerLayer2Command(program);
  registerLab(program);
  return program;
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  await buildProgram().parseAsync(process.argv);
}
