// A lab node's speaker process, run inside the node's namespace: relays a loopback port of the
// namespace to the lab API server's Unix socket, writes a kubeconfig for it (the speaker
// ServiceAccount's, with the relay as server; TLS passes through), and runs
// `ironlb speaker` in this process (only that subcommand is loaded: the others cost start-up time).
// Usage: node testbed/lab/node-agent.ts --lab-dir DIR --node NAME -- <speaker flags>
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Command } from 'commander';
import { kubeconfigWithServer } from '../controlplane.ts';
import { registerSpeaker } from '../../src/cli/speaker.ts';
import { relayToUnixSocket } from './relay.ts';

const sep = process.argv.indexOf('--');
const own = sep < 0 ? process.argv.slice(2) : process.argv.slice(2, sep);
const speakerArgs = sep < 0 ? [] : process.argv.slice(sep + 1);
const { values } = parseArgs({ args: own, options: { 'lab-dir': { type: 'string' }, node: { type: 'string' } } });
const dir = values['lab-dir'];
const node = values.node;
if (!dir || !node) throw new Error('node-agent: --lab-dir and --node are required');

const socket = join(dir, 'api.sock');
const port = await relayToUnixSocket(socket);
const kubeconfig = join(dir, `kubeconfig-${node}`);
writeFileSync(kubeconfig, kubeconfigWithServer(readFileSync(join(dir, 'speaker.kubeconfig'), 'utf8'), `https://127.0.0.1:${port}`), { mode: 0o600 });
const program = new Command('ironlb');
registerSpeaker(program);
await program.parseAsync([process.execPath, 'ironlb', 'speaker', '--kubeconfig', kubeconfig, '--node-name', node, ...speakerArgs]);
