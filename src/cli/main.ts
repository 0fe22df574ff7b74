// The ironlb command: one binary, one subcommand per component or tool. Only the table in
// commands.ts is loaded up front; the subcommand that runs is loaded then (help costs no more than
// the table, and a component loads only its own modules).
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { enableCompileCache } from 'node:module';
import { SUBCOMMANDS } from './commands.ts';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

function root(): Command {
  return new Command('ironlb').description('ironlb: Services of type LoadBalancer for bare-metal Kubernetes (Layer 2 and BGP)').version(pkg.version).showHelpAfterError();
}

/** Hands the whole command line to a program that has only this subcommand, fully registered. */
function stub(program: Command, name: string, description: string, run: (argv: string[]) => Promise<void>): void {
  program
    .command(name)
    .description(description)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .argument('[args...]')
    .action(async () => run(process.argv));
}

/** `ironlb` with every subcommand as a stub that loads its module when it runs. */
export function buildProgram(): Command {
  const program = root();
  for (const s of SUBCOMMANDS) {
    stub(program, s.name, s.summary, async (argv) => {
      const p = root();
      (await s.load())(p);
      await p.parseAsync(argv);
    });
  }
  // The lab is part of the test bench (testbed/), in a source checkout only.
  stub(program, 'lab', 'a whole cluster on this machine in network namespaces: control plane, controller, speakers, router, clients (root; source checkout only)', async (argv) => {
    const i = argv.indexOf('lab');
    const { runLab } = (await import(labModule()).catch(() => {
      throw new Error('ironlb lab needs a source checkout of ironlb (testbed/lab is not part of the image): run bin/ironlb lab from the repository');
    })) as { runLab(args: string[]): Promise<void> };
    await runLab(argv.slice(i + 1));
  });
  return program;
}

/** `ironlb` with every subcommand fully registered (all modules loaded): for tests and docs. */
export async function buildFullProgram(): Promise<Command> {
  const program = root();
  for (const s of SUBCOMMANDS) (await s.load())(program);
  return program;
}

/** Computed, so that the build (src/ only) does not follow it into the test bench. */
function labModule(): string {
  return new URL(['..', '..', 'testbed', 'lab', 'cli.ts'].join('/'), import.meta.url).href;
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  // Node keeps the compiled code of what a command loads on disk (os.tmpdir()/node-compile-cache,
  // or NODE_COMPILE_CACHE): @kubernetes/client-node alone takes ~0.4 s of CPU to compile on each
  // `ironlb status`. Where the directory cannot be written (a read-only root file system in a
  // pod) Node reports it in the return value and the command runs uncached.
  enableCompileCache();
  await buildProgram().parseAsync(process.argv);
}
