// OwnerWatch: the speaker's face of the owner watch (fast authenticated heartbeats to the Layer 2
// owners this node would take over from). The heartbeats run in a worker thread (worker.ts);
// the decision what to do with a suspicion stays with the speaker (src/speaker/speaker.ts).
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { StateChange, WatchPeer, WatchStats } from './engine.ts';
import type { Reply, Request, WatchPriority, WorkerConfig } from './messages.ts';

export { WatchEngine, type StateChange, type WatchPeer, type WatchStats, type PeerState } from './engine.ts';
export { deriveWatchKey, encodeHeartbeat, decodeHeartbeat, type Heartbeat } from './codec.ts';

export const DEFAULT_WATCH_PORT = 7948;
export const DEFAULT_WATCH_INTERVAL_MS = 20;
export const DEFAULT_WATCH_MULTIPLIER = 8;
export const DEFAULT_WATCH_NICE = -10;
export const DEFAULT_WATCH_RT_PRIORITY = 10;
export type { WatchPriority, WatchScheduling } from './messages.ts';

export type OwnerWatchOptions = WorkerConfig;

export interface OwnerWatchEvents {
  state: [StateChange];
  reannounce: [string];
  error: [Error];
}

export class OwnerWatch extends EventEmitter<OwnerWatchEvents> {
  readonly detectMs: number;
  #worker: Worker;
  #port = 0;
  #priority: WatchPriority = { scheduling: 'inherited', errors: [] };
  #closed = false;
  #statsId = 0;

  private constructor(o: OwnerWatchOptions) {
    super();
    this.detectMs = o.intervalMs * o.multiplier;
    const file = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url);
    this.#worker = new Worker(file, { workerData: o });
  }

  /** Starts the worker; rejects when it cannot bind its port. */
  static async start(o: OwnerWatchOptions): Promise<OwnerWatch> {
    const w = new OwnerWatch(o);
    await new Promise<void>((resolve, reject) => {
      const onMsg = (m: Reply): void => {
        if (m.type === 'ready') {
          w.#port = m.port;
          w.#priority = m.priority;
          resolve();
        } else if (m.type === 'failed') reject(new Error(m.error));
      };
      w.#worker.once('error', reject);
      w.#worker.on('message', onMsg);
      w.#worker.once('exit', (code) => reject(new Error(`owner-watch worker exited (code ${code})`)));
    });
    w.#worker.removeAllListeners('error');
    w.#worker.on('error', (err) => w.emit('error', err));
    w.#worker.on('message', (m: Reply) => {
      if (m.type === 'state') w.emit('state', m.change);
      else if (m.type === 'reannounce') w.emit('reannounce', m.from);
    });
    w.#worker.on('exit', (code) => {
      if (!w.#closed) w.emit('error', new Error(`owner-watch worker exited (code ${code})`));
    });
    return w;
  }

  get boundPort(): number {
    return this.#port;
  }

  /** How the heartbeat thread is scheduled (set once at start). */
  get priority(): WatchPriority {
    return this.#priority;
  }

  setPeers(peers: WatchPeer[]): void {
    this.#post({ op: 'peers', peers });
  }

  setKeys(secrets: readonly Buffer[]): void {
    this.#post({ op: 'keys', secrets: secrets.map((s) => new Uint8Array(s)) });
  }

  stats(): Promise<WatchStats> {
    const id = ++this.#statsId;
    return new Promise((resolve) => {
      const onMsg = (m: Reply): void => {
        if (m.type === 'stats' && m.id === id) {
          this.#worker.off('message', onMsg);
          resolve(m.stats);
        }
      };
      this.#worker.on('message', onMsg);
      this.#post({ op: 'stats', id });
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const gone = new Promise<void>((r) => this.#worker.once('exit', () => r()));
    this.#post({ op: 'close' });
    await Promise.race([gone, new Promise((r) => setTimeout(r, 2000).unref())]);
    await this.#worker.terminate();
  }

  #post(m: Request): void {
    if (!this.#closed || m.op === 'close') this.#worker.postMessage(m);
  }
}
