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
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private readonly states = new Map<string, BfdState>();
  private readonly metrics: BfdMetrics | undefined;
  private nextId = 1;
  private closed = false;
  private exited: Error | undefined;
  private readonly ready: Promise<{ transport: string; receivesTtl: boolean }>;

  constructor(o: BfdManagerOptions = {}) {
    super();
    this.metrics = o.registry ? new BfdMetrics(o.registry) : undefined;
    this.metrics?.setStates([]);
    // Under a build the sources are .js; under type stripping they are .ts.
    const file = import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js';
    const cfg: WorkerConfig = { singleHopPort: o.singleHopPort, multiHopPort: o.multiHopPort };
    this.worker = new Worker(new URL(file, import.meta.url), { workerData: cfg });
    let readyResolve!: (v: { transport: string; receivesTtl: boolean }) => void;
    this.ready = new Promise((r) => { readyResolve = r; });
    this.worker.on('message', (m: Reply) => {
      if (m.type === 'ready') return readyResolve({ transport: m.transport, receivesTtl: m.receivesTtl });
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
    this.worker.on('error', (err) => {
      log.error({ err }, 'BFD worker failed');
      this.exited = err;
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
    this.worker.on('exit', (code) => {
      const err = this.exited ?? new Error(`BFD worker exited (code ${code})`);
      this.exited = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    });
  }

  private onState(c: StateChange): void {
    if (!this.states.has(c.key)) return; // removed meanwhile
    this.states.set(c.key, c.state);
    this.metrics?.change(c.key, c.state, c.diagnostic, c.detectionTimeMs, c.detectedAfterMs);
    this.metrics?.setStates(this.states.values());
    this.emit('state', c);
  }

  private request<T>(req: DistributiveOmit<Request, 'id'>): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`BFD worker is not running: ${this.exited.message}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...req, id } as Request);
    });
  }

  /** Which transport the worker uses and whether received TTLs are checked. */
  transportInfo(): Promise<{ transport: string; receivesTtl: boolean }> {
    return this.ready;
  }

  async addSession(spec: BfdSessionSpec): Promise<void> {
    validateSpec(spec); // fail fast with the caller's stack
    if (this.closed) throw new Error('BfdManager is closed');
    if (this.states.has(spec.key)) throw new Error(`BFD session ${spec.key} already exists; use updateSession to change it`);
    this.states.set(spec.key, spec.adminDown ? 'AdminDown' : 'Down');
    this.metrics?.setStates(this.states.values());
    try {
      await this.request({ op: 'add', spec });
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
  }

  /** Removes a session, telling the peer AdminDown first so its side goes down without a timeout. */
  async removeSession(key: string): Promise<void> {
    if (!this.states.delete(key)) return;
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
    if (!this.exited) {
      try {
        await this.request({ op: 'close' });
      } catch { /* worker already gone */ }
    }
    await this.worker.terminate();
    this.states.clear();
  }
}
