// RFC 5880 section 6.2 / 6.8.6: the session state machine as a pure function
// (state, event) -> (state, diagnostic, actions). Timers and sockets live in session.ts.
import { type BfdState, Diag } from './packet.ts';

export type FsmEvent =
  | { type: 'recv'; remoteState: BfdState }
  | { type: 'detectTimeout' }
  | { type: 'adminDown' }
  | { type: 'adminUp' };

export type FsmAction = 'notify' | 'sendNow';

export interface FsmResult {
  state: BfdState;
  /** The new local diagnostic, or undefined to keep the current one. */
  diagnostic?: number;
  actions: FsmAction[];
}

export function transition(state: BfdState, ev: FsmEvent): FsmResult {
  const to = (next: BfdState, diagnostic?: number): FsmResult =>
    next === state ? { state, actions: [] } : { state: next, diagnostic, actions: ['notify', 'sendNow'] };
  switch (ev.type) {
    case 'adminDown':
      return to('AdminDown', Diag.AdministrativelyDown);
    case 'adminUp':
      return state === 'AdminDown' ? to('Down', Diag.None) : { state, actions: [] };
    case 'detectTimeout':
      return state === 'Init' || state === 'Up' ? to('Down', Diag.ControlDetectionTimeExpired) : { state, actions: [] };
    case 'recv': {
      if (state === 'AdminDown') return { state, actions: [] };
      const r = ev.remoteState;
      if (r === 'AdminDown') return state === 'Down' ? { state, actions: [] } : to('Down', Diag.NeighborSignaledSessionDown);
      if (state === 'Down') {
        // A new attempt clears the diagnostic of the last failure only once the session comes up.
        if (r === 'Down') return to('Init');
        if (r === 'Init') return to('Up', Diag.None);
        return { state, actions: [] };
      }
      if (state === 'Init') return r === 'Init' || r === 'Up' ? to('Up', Diag.None) : { state, actions: [] };
      // Up
      return r === 'Down' ? to('Down', Diag.NeighborSignaledSessionDown) : { state, actions: [] };
    }
  }
}
