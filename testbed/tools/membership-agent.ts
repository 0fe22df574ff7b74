// A stand-alone membership member: one Membership in one process, reporting on stdout as JSON
// lines and taking commands on stdin. For the lab, the net tests and the benchmark; the speaker
// embeds Membership directly.
//   node testbed/tools/membership-agent.ts --name n1 --address 10.0.0.1 --secret-file /path --peers n2=10.0.0.2:7947,...
// The key file is watched: a changed file rotates the keys in place (--keys-file: one key per line,
// the first signs; --secret-file: the whole file is one key).
// stdout: {"event":"ready"|"change"|"up"|"down"|"stats"|"left"|"keys"|"error", "t": ms, ...}
// stdin:  "stats" | "leave" | "peers n2=10.0.0.2:7947,..."
// SIGTERM: leave (tell the others at once), close, exit 0.
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { parseKeyList } from '../../src/membership/auth.ts';
import { Membership, DEFAULT_PORT, type Peer } from '../../src/membership/membership.ts';

export function parsePeers(spec: string): Peer[] {
  if (!spec.trim()) return [];
  return spec.split(',').map((item) => {
    const m = /^([^=]+)=(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(item.trim());
    if (!m) throw new Error(`bad peer "${item}": expected name=address[:port], IPv6 as name=[addr]:port`);
    const address = m[2]!.replace(/^\[|\]$/g, '');
    return m[3] ? { name: m[1]!, address, port: Number(m[3]) } : { name: m[1]!, address };
  });
}

function out(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, t: Date.now(), ...fields })}\n`);
}

async function counterTotal(registry: Registry, name: string): Promise<Record<string, number>> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return {};
  const res: Record<string, number> = {};
  for (const v of (await metric.get()).values) {
    const label = Object.values(v.labels).join(',') || 'total';
    res[label] = (res[label] ?? 0) + v.value;
  }
  return res;
}

export interface AgentOptions {
  name: string;
  address: string;
  port?: number;
  /** File holding the shared secret's bytes (a mounted Secret key); else IRONLB_MEMBERSHIP_SECRET (base64). */
  secretFile?: string;
  /** File with one key per line, the first signs (a key rotation); instead of secretFile. */
  keysFile?: string;
  /** How often the key file is checked for changes (ms). */
  keysPollMs?: number;
  /** name=address[:port],... */
  peers?: string;
}

export function parseAgentArgs(argv: string[]): AgentOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      name: { type: 'string' },
      address: { type: 'string' },
      port: { type: 'string', default: String(DEFAULT_PORT) },
      'secret-file': { type: 'string' },
      'keys-file': { type: 'string' },
      peers: { type: 'string', default: '' },
    },
  });
  if (!values.name || !values.address) throw new Error('--name and --address are required');
  if (values['secret-file'] && values['keys-file']) throw new Error('give --secret-file or --keys-file, not both');
  return { name: values.name, address: values.address, port: Number(values.port), secretFile: values['secret-file'], keysFile: values['keys-file'], peers: values.peers };
}

function readKeys(opts: AgentOptions): Buffer[] {
  if (opts.keysFile) return parseKeyList(readFileSync(opts.keysFile, 'utf8'));
  return [opts.secretFile ? readFileSync(opts.secretFile) : Buffer.from(process.env.IRONLB_MEMBERSHIP_SECRET ?? '', 'base64')];
}

export async function runAgent(opts: AgentOptions): Promise<void> {
  const registry = new Registry();
  const m = new Membership({ name: opts.name, address: opts.address, port: opts.port ?? DEFAULT_PORT, secrets: readKeys(opts), registry });
  const keyPath = opts.keysFile ?? opts.secretFile;
  if (keyPath) {
    // Polled (stat), not inotify: a mounted Secret is updated by swapping a symlink, which a watch
    // on the file itself misses.
    watchFile(keyPath, { interval: opts.keysPollMs ?? 500, persistent: false }, () => {
      try {
        const before = m.keyFingerprints.join(',');
        m.setKeys(readKeys(opts));
        if (m.keyFingerprints.join(',') !== before) out('keys', { keys: m.keyFingerprints });
      } catch (err) {
        out('error', { message: `keys not changed: ${err instanceof Error ? err.message : String(err)}` });
      }
    });
  }
  m.on('change', (alive) => out('change', { alive }));
  m.on('memberUp', (member) => out('up', { member }));
  m.on('memberDown', (member, reason) => out('down', { member, reason }));
  const startedAt = Date.now();
  const port = await m.start();
  m.setPeers(parsePeers(opts.peers ?? ''));
  out('ready', { port, alive: m.alive(), keys: m.keyFingerprints });

  const stats = async (): Promise<void> => {
    out('stats', {
      uptimeMs: Date.now() - startedAt,
      sent: (await counterTotal(registry, 'ironlb_membership_messages_sent_total')).total ?? 0,
      received: (await counterTotal(registry, 'ironlb_membership_messages_received_total')).total ?? 0,
      rejected: await counterTotal(registry, 'ironlb_membership_messages_rejected_total'),
      suspicions: (await counterTotal(registry, 'ironlb_membership_suspicions_total')).total ?? 0,
      refutations: (await counterTotal(registry, 'ironlb_membership_refutations_total')).total ?? 0,
      probeFailures: (await counterTotal(registry, 'ironlb_membership_probe_failures_total')).total ?? 0,
      localHealth: m.localHealth,
      authenticated: await counterTotal(registry, 'ironlb_membership_messages_authenticated_total'),
      unverified: (await counterTotal(registry, 'ironlb_membership_messages_unverified_total')).total ?? 0,
      receiveBufferBytes: (await counterTotal(registry, 'ironlb_membership_receive_buffer_bytes')).total ?? 0,
      keys: m.keyFingerprints,
      members: m.snapshot(),
    });
  };
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    if (keyPath) unwatchFile(keyPath);
    await m.leave();
    out('left');
    await m.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const [cmd, ...rest] = line.trim().split(/\s+/);
    if (cmd === 'stats') void stats();
    else if (cmd === 'leave') void stop();
    else if (cmd === 'peers') m.setPeers(parsePeers(rest.join('')));
    else if (cmd) out('error', { message: `unknown command "${cmd}": use stats, leave or peers` });
  });
}

const isMain = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  Promise.resolve().then(() => runAgent(parseAgentArgs(process.argv.slice(2)))).catch((err: unknown) => {
    process.stderr.write(`membership agent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
