// Messages between the owner-watch manager (main thread) and its worker.
import type { StateChange, WatchPeer, WatchStats } from './engine.ts';

export interface WorkerConfig {
  self: string;
  /** Address and UDP port to bind (the node's membership address). */
  address: string;
  port: number;
  intervalMs: number;
  multiplier: number;
  /** Raw membership keys (the first signs); the worker derives the heartbeat keys. */
  secrets: Uint8Array[];
  /**
   * Nice value for the worker thread (Linux: setpriority on its thread id). A heartbeat sender
   * that is not scheduled for the detection time looks dead: on a loaded node the thread must run
   * when due (as corosync runs its token thread at real-time priority). It uses little CPU.
   * Lowering below the process's nice needs CAP_SYS_NICE; without it the thread keeps the process's.
   */
  nice?: number;
}

export type Request =
  | { op: 'peers'; peers: WatchPeer[] }
  | { op: 'keys'; secrets: Uint8Array[] }
  | { op: 'stats'; id: number }
  | { op: 'close' };

export type Reply =
  | { type: 'ready'; port: number }
  | { type: 'failed'; error: string }
  | { type: 'priority'; nice: number; error?: string }
  | { type: 'state'; change: StateChange }
  | { type: 'reannounce'; from: string }
  | { type: 'stats'; id: number; stats: WatchStats };
