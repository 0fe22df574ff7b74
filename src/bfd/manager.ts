// BfdManager: the speaker's face of BFD. Sessions run in a worker thread (worker.ts) so that
// 100 ms timers hold while the main thread is busy; this class forwards requests, re-emits state
// changes and keeps the metrics.
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Registry } from 'prom-client';
import { logger } from '../util/log.ts';
import type { Reply, Request, WorkerConfig } from './messages.ts';
import { BfdMetrics } from './metrics.ts';
import type { BfdState } from './packet.ts';
import { type BfdSessionSpec, validateSpec } from './profile.ts';
import type { SessionSnapshot, StateChange, TimersChange } from './session.ts';

export interface BfdManagerOptions extends WorkerConfig {
  registry?: Registry;
}

export type BfdStateEvent = StateChange;

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const log = logger('bfd');

export interface BfdManager {
  on(event: 'state', listener: (e: BfdStateEvent) => void): this;
  on(event: 'error', listener: (e: Error) => void): this;
  /** Negotiated detection time / transmit interval changed (bring-up, poll sequence, peer change). */
  on(event: 'timers', listener: (e: TimersChange) => void): this;
  once(event: 'state', listener: (e: BfdStateEvent) => void): this;
  off(event: 'state', listener: (e: BfdStateEvent) => void): this;
}

export class BfdManager extends EventEmitter {
  private readonly file: URL;
  private readonly cfg: WorkerConfig;
  private worker!: Worker;
  /** The running worker, once ready (re-created after a crash). */
  private current!: Promise<Worker>;
  private info: { transport: string; receivesTtl: boolean } | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly states = new Map<string, BfdState>();
  /** Sessions the worker has accepted: what a restarted worker is given again. */
  private readonly specs = new Map<string, BfdSessionSpec>();
  private readonly metrics: BfdMetrics | undefined;
  private nextId = 1;
  private closed = false;
  private crashes = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private cancelRestart: ((e: Error) => void) | undefined;

  constructor(o: BfdManagerOptions = {}) {
    super();
    this.metrics = o.registry ? new BfdMetrics(o.registry) : undefined;
    this.metrics?.setStates([]);
    // Under a build the sources are .js; under type stripping they are .ts.
    this.file = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);
    this.cfg = { singleHopPort: o.singleHopPort, multiHopPort: o.multiHopPort };
    this.current = this.spawn();
    this.current.catch(() => {});
  }

  /** Starts a worker; resolves when it is ready and holds every accepted session again. */
  private spawn(): Promise<Worker> {
    const w = new Worker(this.file, { workerData: this.cfg });
    this.worker = w;
    const startedAt = Date.now();
    let failed: Error | undefined;
    const ready = new Promise<Worker>((resolve, reject) => {
      w.on('message', (m: Reply) => {
        if (m.type === 'ready') {
          this.info = { transport: m.transport, receivesTtl: m.receivesTtl };
          return resolve(w);
        }
        if (m.type === 'state') return this.onState(m.change);
        if (m.type === 'timers') {
          if (!this.states.has(m.change.key)) return;
          this.metrics?.timers(m.change.key, m.change.detectionTimeMs);
          this.emit('timers', m.change);
          return;
        }
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.result);
        else p.reject(new Error(m.error));
      });
      w.on('error', (err) => {
        failed = err;
        log.error({ err }, 'BFD worker failed');
        if (this.listenerCount('error') > 0) this.emit('error', err);
      });
      w.on('exit', (code) => {
        const err = failed ?? new Error(`BFD worker exited (code ${code})`);
        reject(err);
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        if (!this.closed && w === this.worker) this.restart(err, Date.now() - startedAt);
      });
    });
    return ready.then(async (worker) => {
      for (const spec of this.specs.values()) {
        try {
          await this.post(worker, { op: 'add', spec });
        } catch (err) {
          log.error({ key: spec.key, err: (err as Error).message }, 'BFD session not restored after a worker restart');
        }
      }
      return worker;
    });
  }

  /**
   * The worker died: every session it held is down (the peers will time out). Report that, then
   * start a new worker after a back-off (1 s doubling to 32 s while crashes repeat within a minute).
   */
  private restart(err: Error, ranMs: number): void {
    this.crashes = ranMs > 60_000 ? 1 : this.crashes + 1;
    const delay = 1000 * 2 ** Math.min(5, this.crashes - 1);
    log.error({ err: err.message, restartInMs: delay, sessions: this.specs.size }, 'BFD worker stopped; restarting it');
    for (const [key, state] of this.states) {
      if (state === 'Down' || state === 'AdminDown') continue;
      this.onState({ key, state: 'Down', previous: state, diagnostic: 'WorkerRestarted', diagnosticCode: 0, detectionTimeMs: 0 });
    }
    let resolveNext!: (w: Worker) => void;
    let rejectNext!: (e: Error) => void;
    this.current = new Promise<Worker>((res, rej) => { resolveNext = res; rejectNext = rej; });
    this.current.catch(() => {});
    this.cancelRestart = rejectNext;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.cancelRestart = undefined;
      if (this.closed) return rejectNext(new Error('BfdManager is closed'));
      this.spawn().then(resolveNext, rejectNext);
    }, delay);
  }

  private post<T>(w: Worker, req: DistributiveOmit<Request, 'id'>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      w.postMessage({ ...req, id } as Request);
    });
  }

  private onState(c: StateChange): void {
    if (!this.states.has(c.key)) return; // removed meanwhile
    this.states.set(c.key, c.state);
    this.metrics?.change(c.key, c.state, c.diagnostic, c.detectionTimeMs, c.detectedAfterMs);
    this.metrics?.setStates(this.states.values());
    this.emit('state', c);
  }

  private async request<T>(req: DistributiveOmit<Request, 'id'>): Promise<T> {
    const w = await this.current;
    return this.post<T>(w, req);
  }

  /** Which transport the worker uses and whether received TTLs are checked. */
  async transportInfo(): Promise<{ transport: string; receivesTtl: boolean }> {
    await this.current;
    return this.info!;
  }

  async addSession(spec: BfdSessionSpec): Promise<void> {
    validateSpec(spec); // fail fast with the caller's stack
    if (this.closed) throw new Error('BfdManager is closed');
    if (this.states.has(spec.key)) throw new Error(`BFD session ${spec.key} already exists; use updateSession to change it`);
    this.states.set(spec.key, spec.adminDown ? 'AdminDown' : 'Down');
    this.metrics?.setStates(this.states.values());
    try {
      await this.request({ op: 'add', spec });
      if (this.states.has(spec.key)) this.specs.set(spec.key, spec);
    } catch (err) {
      this.states.delete(spec.key);
      this.metrics?.setStates(this.states.values());
      throw err;
    }
  }

  /** Changes a session; timer changes renegotiate with a poll sequence, without a flap. */
  async updateSession(spec: BfdSessionSpec): Promise<void> {
    validateSpec(spec);
    if (!this.states.has(spec.key)) return this.addSession(spec);
    await this.request({ op: 'update', spec });
    if (this.states.has(spec.key)) this.specs.set(spec.key, spec);
  }

  /** Removes a session, telling the peer AdminDown first so its side goes down without a timeout. */
  async removeSession(key: string): Promise<void> {
    if (!this.states.delete(key)) return;
    this.specs.delete(key);
    this.metrics?.removed(key);
    this.metrics?.setStates(this.states.values());
    await this.request({ op: 'remove', key });
  }

  /** The last known state of a session, or undefined if there is none. */
  state(key: string): BfdState | undefined {
    return this.states.get(key);
  }

  sessions(): Promise<SessionSnapshot[]> {
    return this.request({ op: 'snapshot' });
  }

  /** The port a listener is bound to (tests bind port 0). */
  listenPort(family: 4 | 6, multihop = false): Promise<number> {
    return this.request({ op: 'listenPort', family, multihop });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.restartTimer) {
      clearTimeout(this.restartTimer);
      this.cancelRestart?.(new Error('BfdManager is closed'));
    } else {
      try {
        // Sends AdminDown to every peer so they go down without waiting for a timeout.
        await this.request({ op: 'close' });
      } catch { /* worker already gone */ }
    }
    await this.worker.terminate();
    this.states.clear();
    this.specs.clear();
  }
}
