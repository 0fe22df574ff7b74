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
   * SCHED_FIFO priority (1..99) of the native heartbeat thread (src/native/ironlb_watch.c; the
   * deciding worker thread gets one less); 0 or unset: none. A heartbeat sender that is not run
   * for the detection time looks dead, and a nice value gives a thread a larger share of the CPU,
   * not the next turn: on the loaded test host a thread at nice -10 went unscheduled for over
   * 100 ms, one at SCHED_FIFO never over 20 ms (docs/performance.md). Needs CAP_SYS_NICE.
   */
  realtimePriority?: number;
  /** Nice value for both threads when real-time scheduling is off or refused (also needs CAP_SYS_NICE below the process's). */
  nice?: number;
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
