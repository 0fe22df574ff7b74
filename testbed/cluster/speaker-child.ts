// One `ironlb speaker` as a child of a test (testbed/cluster/speaker-cluster.ts), inside a node's
// network namespace. The API server listens on loopback in the test's namespace; this child relays a
// loopback TCP port of its own namespace to the Unix socket the harness forwards to the server (the
// filesystem is shared, loopback is not), then runs the speaker's subcommand against that port.
//
// Usage: node testbed/cluster/speaker-child.ts --api-socket PATH --kubeconfig PATH --dir DIR -- <speaker args>
//   (the kubeconfig's server is replaced by the relay's loopback address; TLS passes through)
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { relayToUnixSocket } from '../lab/relay.ts';
import { kubeconfigWithServer } from '../controlplane.ts';

export const SPEAKER_CHILD = fileURLToPath(import.meta.url);

async function runChild(argv: string[]): Promise<void> {
  const sep = argv.indexOf('--');
  const own = argv.slice(0, sep);
  const speakerArgs = argv.slice(sep + 1);
  const opt = (k: string): string => {
    const i = own.indexOf(k);
    if (i < 0 || own[i + 1] === undefined) throw new Error(`speaker child: ${k} is required`);
    return own[i + 1] as string;
  };
  const port = await relayToUnixSocket(opt('--api-socket'));
  const kubeconfig = join(opt('--dir'), `kubeconfig-${process.pid}`);
  writeFileSync(kubeconfig, kubeconfigWithServer(readFileSync(opt('--kubeconfig'), 'utf8'), `https://127.0.0.1:${port}`));
  // Only the speaker's subcommand: loading every other one costs seconds on a busy machine.
  const { Command } = await import('commander');
  const { registerSpeaker } = await import('../../src/cli/speaker.ts');
  const program = new Command('ironlb');
  registerSpeaker(program);
  await program.parseAsync([process.execPath, 'ironlb', 'speaker', '--kubeconfig', kubeconfig, ...speakerArgs]);
}

if (process.argv[1] === SPEAKER_CHILD) {
  runChild(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`speaker child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(2);
  });
}
