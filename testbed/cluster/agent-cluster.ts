// A cluster of membership agents, each in its own network namespace on a bridge: shared by the
// net tests (test/net/membership-*.test.ts) and the benchmark (bench/membership.ts).
// Traffic stays inside the namespaces created here; destroy() removes them, also after a failure.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { Netns, bridge } from './netns.ts';
import { waitFor } from './wait.ts';
import { isRunning, killChild } from './child.ts';

const AGENT = new URL('../tools/membership-agent.ts', import.meta.url).pathname;
const PORT = 7947;
/**
 * Bound for waits that include starting agent processes (not a timing assertion): a Node process
 * needs ~0.5 s of CPU to start, which took up to 16 s on this 2-core machine at load 24.
 */
export const STARTUP_MS = 90_000;

export interface AgentEvent {
  event: string;
  t: number;
  alive?: string[];
  member?: string;
  reason?: string;
  [k: string]: unknown;
}

export interface AgentStats {
  uptimeMs: number;
  sent: number;
  received: number;
  rejected: Record<string, number>;
  suspicions: number;
  refutations: number;
  probeFailures: number;
  localHealth: number;
  authenticated?: Record<string, number>;
  unverified?: number;
  receiveBufferBytes?: number;
  keys?: string[];
}

export class Agent {
  readonly name: string;
  readonly ns: Netns;
  readonly address: string;
  readonly events: AgentEvent[] = [];
  proc: ChildProcess | undefined;
  alive: string[] = [];
  stderr = '';

  constructor(name: string, ns: Netns, address: string) {
    this.name = name;
    this.ns = ns;
    this.address = address;
  }

  get running(): boolean {
    return isRunning(this.proc);
  }

  /** Starts the agent; `keys` is ['--secret-file', path] or ['--keys-file', path]. */
  start(keys: string[], peers: string): void {
    const proc = this.ns.spawn(process.execPath, [AGENT, '--name', this.name, '--address', this.address, '--port', String(PORT), ...keys, '--peers', peers], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, IRONLB_LOG_LEVEL: 'warn' },
    });
    this.proc = proc;
    this.alive = [];
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (!line.startsWith('{"event"')) return;
      const e = JSON.parse(line) as AgentEvent;
      this.events.push(e);
      if (e.alive) this.alive = e.alive;
    });
    proc.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
  }

  command(line: string): void {
    this.proc?.stdin?.write(`${line}\n`);
  }

  async stats(): Promise<AgentStats> {
    const from = this.events.length;
    this.command('stats');
    const e = await waitFor(() => this.events.slice(from).find((x) => x.event === 'stats'), { what: `stats from ${this.name}`, timeoutMs: 30_000, intervalMs: 20 });
    return e as unknown as AgentStats;
  }

  /** Kills the process at once (no leave) and waits for it to be gone; returns the kill time. */
  kill(): Promise<number> {
    return killChild(this.proc);
  }

  downs(member: string, since = 0): AgentEvent[] {
    return this.events.filter((e) => e.event === 'down' && e.member === member && e.t >= since);
  }
}

export interface ClusterOptions {
  /** Namespace prefix, "ilbm" for membership. */
  prefix: string;
  size: number;
  /** Members (by index) that get a different secret. */
  wrongSecret?: number[];
  subnet?: string;
  /** Each member reads its own key list file (writeKeys), watched for changes, instead of the shared secret. */
  keyLists?: string[];
}

export class AgentCluster {
  readonly agents: Agent[] = [];
  private readonly namespaces: Netns[] = [];
  private plug: ((host: Netns, hostIf: string, portIf: string) => Promise<void>) | undefined;
  private prefix = '';
  private subnet = '';
  private keyFiles = new Map<Agent, string>();
  private readonly dir = mkdtempSync(join(tmpdir(), 'ilbm-'));
  private secretFile = '';
  private wrongFile = '';
  private peers = '';

  private constructor() {}

  static async create(opts: ClusterOptions): Promise<AgentCluster> {
    const c = new AgentCluster();
    try {
      await c.setup(opts);
    } catch (err) {
      await c.destroy();
      throw err;
    }
    return c;
  }

  private async setup(opts: ClusterOptions): Promise<void> {
    const subnet = opts.subnet ?? '10.77.0';
    this.prefix = opts.prefix;
    this.subnet = subnet;
    const sw = await Netns.create(opts.prefix);
    this.namespaces.push(sw);
    const plug = await bridge(sw);
    this.plug = plug;
    for (let i = 0; i < opts.size; i++) {
      const ns = await Netns.create(opts.prefix);
      this.namespaces.push(ns);
      await plug(ns, 'eth0', `p${i}`);
      const address = `${subnet}.${i + 1}`;
      await ns.ip('addr', 'add', `${address}/24`, 'dev', 'eth0');
      this.agents.push(new Agent(`m${i}`, ns, address));
    }
    this.secretFile = join(this.dir, 'secret');
    this.wrongFile = join(this.dir, 'wrong');
    writeFileSync(this.secretFile, randomBytes(32), { mode: 0o600 });
    writeFileSync(this.wrongFile, randomBytes(32), { mode: 0o600 });
    this.peers = this.agents.map((a) => `${a.name}=${a.address}:${PORT}`).join(',');
    const wrong = new Set(opts.wrongSecret ?? []);
    if (opts.keyLists) {
      for (const a of this.agents) {
        const file = join(this.dir, `keys-${a.name}`);
        writeFileSync(file, `${opts.keyLists.join('\n')}\n`, { mode: 0o600 });
        this.keyFiles.set(a, file);
      }
    }
    this.agents.forEach((a, i) => a.start(this.keyArgs(a, wrong.has(i)), this.peers));
  }

  private keyArgs(a: Agent, wrong = false): string[] {
    const list = this.keyFiles.get(a);
    if (list) return ['--keys-file', list];
    return ['--secret-file', wrong ? this.wrongFile : this.secretFile];
  }

  /** Restarts a stopped agent with the right secret (or its key list). */
  restart(a: Agent): void {
    a.start(this.keyArgs(a), this.peers);
  }

  /** Rewrites an agent's key list file (keyLists clusters); the agent picks it up without a restart. */
  writeKeys(a: Agent, keys: string[]): void {
    const file = this.keyFiles.get(a);
    if (!file) throw new Error(`agent ${a.name} has no key list file: create the cluster with keyLists`);
    writeFileSync(file, `${keys.join('\n')}\n`, { mode: 0o600 });
  }

  /** One more namespace on the bridge (not a member), at `${subnet}.${host}`, e.g. a traffic source. */
  async addHost(host: number): Promise<{ ns: Netns; address: string }> {
    if (!this.plug) throw new Error('cluster not set up');
    const ns = await Netns.create(this.prefix);
    this.namespaces.push(ns);
    await this.plug(ns, 'eth0', `h${host}`);
    const address = `${this.subnet}.${host}`;
    await ns.ip('addr', 'add', `${address}/24`, 'dev', 'eth0');
    return { ns, address };
  }

  /** Drops `percent`% of received UDP in every member's namespace (nftables; netem is not available). */
  async setLoss(percent: number): Promise<void> {
    for (const a of this.agents) {
      await a.ns.exec('nft', ['add', 'table', 'inet', 'ilbm']);
      await a.ns.exec('nft', ['add', 'chain', 'inet', 'ilbm', 'in', '{ type filter hook input priority 0 ; }']);
      await a.ns.exec('nft', ['add', 'rule', 'inet', 'ilbm', 'in', 'meta', 'l4proto', 'udp', 'numgen', 'random', 'mod', '100', '<', String(percent), 'drop']);
    }
  }

  /** Waits until every running agent in `who` sees exactly `expected` alive. */
  async waitViews(who: Agent[], expected: string[], timeoutMs: number, what: string): Promise<number> {
    const start = Date.now();
    const want = [...expected].sort().join(',');
    try {
      const r = await waitFor(() => who.find((a) => !a.running) ?? who.every((a) => a.alive.join(',') === want), { what, timeoutMs, intervalMs: 10 });
      if (r !== true) throw new Error(`agent ${r.name} is not running: ${r.stderr.trim().slice(-800) || 'no stderr'}`);
    } catch (err) {
      const views = who.map((a) => `${a.name}=[${a.alive.join(',')}]`).join(' ');
      // What each member saw and dropped, to tell a network problem from a protocol one.
      const stats = await Promise.all(who.filter((a) => a.running).map(async (a) => {
        try {
          const s = await a.stats();
          return `${a.name}: sent ${s.sent} received ${s.received} rejected ${JSON.stringify(s.rejected)} members ${JSON.stringify((s as unknown as { members: unknown }).members)}`;
        } catch {
          return `${a.name}: no stats`;
        }
      }));
      throw new Error(`${(err as Error).message}; views: ${views}\n${stats.join('\n')}`);
    }
    return Date.now() - start;
  }

  async destroy(): Promise<void> {
    for (const a of this.agents) if (a.running) a.proc?.kill('SIGKILL');
    await Promise.all(this.namespaces.map((n) => n.destroy()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
