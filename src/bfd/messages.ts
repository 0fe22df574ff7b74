// The message API between BfdManager (main thread) and the BFD worker.
import type { BfdSessionSpec } from './profile.ts';
import type { SessionSnapshot, StateChange, TimersChange } from './session.ts';

export interface WorkerConfig {
  singleHopPort?: number;
  multiHopPort?: number;
}

export type Request =
  | { id: number; op: 'add' | 'update'; spec: BfdSessionSpec }
  | { id: number; op: 'remove'; key: string }
  | { id: number; op: 'snapshot' }
  | { id: number; op: 'listenPort'; family: 4 | 6; multihop: boolean }
  | { id: number; op: 'close' };

export type Reply =
  | { type: 'reply'; id: number; ok: true; result?: SessionSnapshot[] | number }
  | { type: 'reply'; id: number; ok: false; error: string }
  | { type: 'state'; change: StateChange }
  | { type: 'timers'; change: TimersChange }
  | { type: 'ready'; transport: string; receivesTtl: boolean };
