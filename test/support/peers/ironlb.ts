// The test side of ironlb-child.ts: an ironlb BGP engine in its own process inside a namespace.
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import type { Netns } from '../netns.ts';
import { waitFor } from '../wait.ts';
import type { EngineOptions, PeerConfig, PeerStatus, RouteAttributes, StateEvent } from '../../../src/bgp/index.ts';

const child = join(dirname(fileURLToPath(import.meta.url)), 'ironlb-child.ts');

/** How the speaker process runs: by default ironlb-child.ts from the sources. */
export interface SpeakerProcess {
  /** Another build of ironlb-child (benchmarks: the compiled JavaScript, as deployed). */
  script?: string;
  /** Node.js options before the script (e.g. V8 heap flags). */
  nodeArgs?: string[];
}

interface Reply { id?: number; ok?: boolean; result?: unknown; error?: string; event?: string }

export class IronlbSpeaker {
  readonly ns: Netns;
  readonly proc: ChildProcess;
  /** Every state event, in order. */
  readonly states: StateEvent[] = [];
  private out = '';
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private exited = false;
  private readonly exitPromise: Promise<void>;

  private constructor(ns: Netns, opts: Omit<EngineOptions, 'logger' | 'sockets'>, proc: SpeakerProcess) {
    this.ns = ns;
    // IRONLB_LOG_LEVEL=debug in the environment shows the engine's logs in output().
    this.proc = ns.spawn(process.execPath, [...(proc.nodeArgs ?? []), proc.script ?? child, JSON.stringify(opts)], { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.proc.stdout! }).on('line', (line) => this.onLine(line));
    this.proc.stderr!.on('data', (d: Buffer) => {
      this.out = (this.out + d.toString()).slice(-32_000);
    });
    this.exitPromise = new Promise((resolve) => this.proc.once('exit', () => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`ironlb speaker exited: ${this.out.slice(-2000)}`));
      this.pending.clear();
      resolve();
    }));
  }

  static async start(ns: Netns, opts: Omit<EngineOptions, 'logger' | 'sockets'> = {}, proc: SpeakerProcess = {}): Promise<IronlbSpeaker> {
    const s = new IronlbSpeaker(ns, opts, proc);
    await s.call('ready');
    return s;
  }

  get pid(): number {
    return this.proc.pid ?? -1;
  }

  private onLine(line: string): void {
    let m: Reply & Partial<StateEvent>;
    try {
      m = JSON.parse(line) as Reply & Partial<StateEvent>;
    } catch {
      this.out = (this.out + line + '\n').slice(-32_000);
      return;
    }
    if (m.event === 'state') {
      this.states.push({ peer: m.peer!, state: m.state!, previous: m.previous!, ...(m.reason ? { reason: m.reason } : {}) });
      return;
    }
    if (m.id === undefined) return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new Error(m.error ?? 'ironlb speaker command failed'));
  }

  call(op: string, ...args: unknown[]): Promise<unknown> {
    if (this.exited) return Promise.reject(new Error(`ironlb speaker has exited: ${this.out.slice(-2000)}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.proc.stdin!.write(JSON.stringify({ id, op, args }) + '\n');
    });
  }

  /** Adds a peer; `routes`, if given, are in its Adj-RIB-Out before the session comes up. */
  async addPeer(cfg: PeerConfig, routes?: Map<string, RouteAttributes>): Promise<void> {
    await this.call('addPeer', cfg, ...(routes ? [[...routes]] : []));
  }
  async removePeer(name: string): Promise<void> { await this.call('removePeer', name); }
  async resetPeer(name: string, reason: string): Promise<void> { await this.call('resetPeer', name, reason); }
  async announce(peer: string, prefix: string, attrs: RouteAttributes = {}): Promise<void> { await this.call('announce', peer, prefix, attrs); }
  async withdraw(peer: string, prefix: string): Promise<void> { await this.call('withdraw', peer, prefix); }
  async setRoutes(peer: string, routes: Map<string, RouteAttributes>): Promise<void> { await this.call('setRoutes', peer, [...routes]); }
  async peerStatus(name: string): Promise<PeerStatus> { return (await this.call('peerStatus', name)) as PeerStatus; }
  async usage(): Promise<{ rss: number; cpu: { user: number; system: number } }> {
    return (await this.call('usage')) as { rss: number; cpu: { user: number; system: number } };
  }

  async established(peer: string, timeoutMs = 20_000): Promise<void> {
    await waitFor(async () => (await this.peerStatus(peer)).state === 'Established', { what: `ironlb session ${peer} Established`, timeoutMs, intervalMs: 50 });
  }

  /** Closes the engine (NOTIFICATION Cease to each peer, or none with gracefulRestart) and exits. */
  async close(opts: { gracefulRestart?: boolean } = {}): Promise<void> {
    if (this.exited) return;
    await this.call('close', opts).catch(() => undefined);
    await this.wait(5000);
  }

  /** SIGKILL: a crashed speaker (the kernel still closes its TCP connections with FIN). */
  async kill(): Promise<void> {
    if (this.exited) return;
    this.proc.kill('SIGKILL');
    await this.exitPromise;
  }

  private async wait(ms: number): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    await Promise.race([this.exitPromise, new Promise<void>((r) => { t = setTimeout(r, ms); })]);
    clearTimeout(t);
    if (!this.exited) await this.kill();
  }

  output(): string {
    return this.out;
  }
}
