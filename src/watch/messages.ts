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
   * Used only when real-time scheduling (below) is off or refused.
   */
  nice?: number;
  /**
   * SCHED_FIFO priority (1..99) for the worker thread; 0 or unset: none. A nice value gives a
   * thread a larger share of the CPU, not the next turn: on the loaded test host a thread at nice
   * -10 still went unscheduled for over 100 ms, one at SCHED_FIFO never over 20 ms
   * (docs/performance.md). Needs CAP_SYS_NICE; refused, the worker falls back to `nice`.
   */
  realtimePriority?: number;
}

/** How the heartbeat thread is scheduled: real-time, raised nice, or as the process (nothing applied). */
export type WatchScheduling = 'realtime' | 'nice' | 'inherited';

/** What the heartbeat thread got (errors: what was refused, in the order tried). */
export interface WatchPriority {
  scheduling: WatchScheduling;
  realtimePriority?: number;
  nice?: number;
  errors: string[];
}

export type Request =
  | { op: 'peers'; peers: WatchPeer[] }
  | { op: 'keys'; secrets: Uint8Array[] }
  | { op: 'stats'; id: number }
  | { op: 'close' };

export type Reply =
  | { type: 'ready'; port: number; priority: WatchPriority }
  | { type: 'failed'; error: string }
  | { type: 'state'; change: StateChange }
  | { type: 'reannounce'; from: string }
  | { type: 'stats'; id: number; stats: WatchStats };
