// `node testbed/tools/bfd.ts run ...`: runs a BFD session to a peer from the command line and
// reports state changes as JSON lines on stdout; JSON lines on stdin change the session
// ({"op":"update","profile":{...}}), ask for a snapshot ({"op":"snapshot"}) or close it
// ({"op":"close"}). A test-bench tool (the speaker runs BFD through BfdManager itself).
import { Command, InvalidArgumentError } from 'commander';
import { createInterface } from 'node:readline';
import type { BfdAuth, BfdAuthType } from '../../src/bfd/auth.ts';
import { BfdManager } from '../../src/bfd/manager.ts';
import type { BfdProfile, BfdSessionSpec } from '../../src/bfd/profile.ts';

function int(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`"${v}" is not an integer`);
  return n;
}

function parseAuth(v: string): BfdAuth {
  const m = /^([a-z0-9-]+):(\d+):(.+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('expected TYPE:KEYID:SECRET, e.g. keyed-sha1:1:s3cret');
  return { type: m[1] as BfdAuthType, keyId: Number(m[2]), secret: m[3]! };
}

interface RunOptions {
  peer: string;
  local?: string;
  key: string;
  rx?: number;
  tx?: number;
  mult?: number;
  passive?: boolean;
  multihop?: boolean;
  minTtl?: number;
  auth?: BfdAuth;
  interface?: string;
}

function out(o: unknown): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

export async function runBfd(o: RunOptions): Promise<void> {
  const profile: Partial<BfdProfile> = {};
  if (o.rx !== undefined) profile.receiveInterval = o.rx;
  if (o.tx !== undefined) profile.transmitInterval = o.tx;
  if (o.mult !== undefined) profile.detectMultiplier = o.mult;
  if (o.passive) profile.passiveMode = true;
  if (o.minTtl !== undefined) profile.minimumTtl = o.minTtl;
  let spec: BfdSessionSpec = {
    key: o.key, peerAddress: o.peer, profile,
    ...(o.local ? { localAddress: o.local } : {}), ...(o.multihop ? { multihop: true } : {}),
    ...(o.auth ? { auth: o.auth } : {}), ...(o.interface ? { interface: o.interface } : {}),
  };
  const bfd = new BfdManager();
  const t0 = Date.now();
  bfd.on('state', (e) => out({ event: 'state', t: Date.now() - t0, ...e }));
  await bfd.addSession(spec);
  out({ event: 'ready', ...(await bfd.transportInfo()) });
  let closing = false;
  const close = async (): Promise<void> => {
    if (closing) return;
    closing = true;
    await bfd.close();
    out({ event: 'closed' });
    process.exit(0);
  };
  process.once('SIGTERM', () => void close());
  process.once('SIGINT', () => void close());
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    void (async () => {
      try {
        const cmd = JSON.parse(line) as { op: string; profile?: Partial<BfdProfile>; adminDown?: boolean };
        if (cmd.op === 'update') {
          spec = { ...spec, profile: { ...spec.profile, ...cmd.profile }, ...(cmd.adminDown !== undefined ? { adminDown: cmd.adminDown } : {}) };
          await bfd.updateSession(spec);
          out({ event: 'updated' });
        } else if (cmd.op === 'snapshot') {
          out({ event: 'snapshot', sessions: await bfd.sessions() });
        } else if (cmd.op === 'close') {
          await close();
        } else {
          out({ event: 'error', message: `unknown op "${cmd.op}"; use update, snapshot or close` });
        }
      } catch (err) {
        out({ event: 'error', message: err instanceof Error ? err.message : String(err) });
      }
    })();
  });
}

function registerBfdCommand(program: Command): void {
  program.command('run')
    .description('run a BFD session to a peer; state changes as JSON lines on stdout, commands as JSON lines on stdin')
    .requiredOption('--peer <address>', 'peer address')
    .option('--local <address>', 'source address')
    .option('--key <name>', 'session name', 'cli')
    .option('--rx <ms>', 'receive interval, ms (default 300)', int)
    .option('--tx <ms>', 'transmit interval, ms (default 300)', int)
    .option('--mult <n>', 'detect multiplier (default 3)', int)
    .option('--passive', 'passive mode: wait for the peer to speak first')
    .option('--multihop', 'RFC 5883 multihop (UDP 4784)')
    .option('--min-ttl <n>', 'multihop: minimum received TTL (default 254)', int)
    .option('--auth <type:keyid:secret>', 'authentication: simple, keyed-md5, meticulous-keyed-md5, keyed-sha1, meticulous-keyed-sha1', parseAuth)
    .option('--interface <name>', 'bind to an interface (needs the native addon)')
    .action((o: RunOptions) => runBfd(o));
}

const program = new Command('bfd').description('BFD (RFC 5880/5881/5883) sessions from the command line, for tests and debugging');
registerBfdCommand(program);
await program.parseAsync(process.argv);
