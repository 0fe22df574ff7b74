// The BGP finite state machine of one connection attempt (RFC 4271 §8), as a pure function:
// (state, event) -> (state, actions). Sockets, timers and collision detection between two
// connections live in session.ts; this module only decides.
import { CeaseSub, Err, FsmSub, notificationName } from './codec/constants.ts';
import { BgpError } from './codec/errors.ts';
import type { OpenMessage } from './codec/messages.ts';
import { checkOpen, type Negotiated, type OpenExpectation } from './open-check.ts';

export type State = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';
export type Timer = 'connectRetry' | 'hold' | 'keepalive';

export type FsmEvent =
  | { type: 'Start' }
  | { type: 'Stop'; subcode?: number }
  | { type: 'Reset'; reason: string }
  | { type: 'ConnectRetryTimerExpires' }
  | { type: 'HoldTimerExpires' }
  | { type: 'KeepaliveTimerExpires' }
  | { type: 'TcpConnected'; incoming: boolean }
  | { type: 'TcpFails'; reason: string }
  | { type: 'OpenReceived'; open: OpenMessage }
  | { type: 'KeepaliveReceived' }
  | { type: 'UpdateReceived' }
  | { type: 'RouteRefreshReceived' }
  | { type: 'NotificationReceived'; code: number; subcode: number }
  | { type: 'MessageError'; error: BgpError }
  | { type: 'CollisionDump' };

export type Action =
  | { type: 'connect' }
  | { type: 'closeConnection' }
  | { type: 'sendOpen' }
  | { type: 'sendKeepalive' }
  | { type: 'sendNotification'; code: number; subcode: number; data: Buffer }
  | { type: 'startTimer'; timer: Timer; seconds: number }
  | { type: 'stopTimer'; timer: Timer };

export interface FsmConfig extends OpenExpectation {
  passive: boolean;
  /** Base connect-retry time in seconds; doubles per consecutive failure up to maxRetryTime. */
  connectRetryTime: number;
  maxRetryTime: number;
}

export interface FsmState {
  state: State;
  /** Set by Stop: stays Idle and refuses connections until the next Start. */
  stopped: boolean;
  /** Consecutive failed attempts, for the backoff; reset on Established. */
  connectRetryCounter: number;
  negotiated?: Negotiated;
  /** Why the last attempt or session ended. */
  lastError?: string;
}

/** The hold time used while waiting for the peer's OPEN (RFC 4271 §8.2.2 suggests 4 minutes). */
export const LARGE_HOLD_TIME = 240;

export function initialState(): FsmState {
  return { state: 'Idle', stopped: true, connectRetryCounter: 0 };
}

export function retryDelay(cfg: FsmConfig, counter: number): number {
  const d = cfg.connectRetryTime * 2 ** Math.max(0, Math.min(counter - 1, 16));
  return Math.min(d, Math.max(cfg.maxRetryTime, cfg.connectRetryTime));
}

export interface Transition {
  next: FsmState;
  actions: Action[];
}

const stopTimers: Action[] = [
  { type: 'stopTimer', timer: 'hold' },
  { type: 'stopTimer', timer: 'keepalive' },
];

function notify(code: number, subcode: number, data: Buffer = Buffer.alloc(0)): Action {
  return { type: 'sendNotification', code, subcode, data };
}

/** Ends the attempt: close, go Idle and schedule the next one with backoff. */
function fail(s: FsmState, cfg: FsmConfig, reason: string, pre: Action[] = []): Transition {
  const counter = s.connectRetryCounter + 1;
  const next: FsmState = { state: 'Idle', stopped: false, connectRetryCounter: counter, lastError: reason };
  return {
    next,
    actions: [...pre, { type: 'closeConnection' }, ...stopTimers, { type: 'startTimer', timer: 'connectRetry', seconds: retryDelay(cfg, counter) }],
  };
}

function start(s: FsmState, cfg: FsmConfig): Transition {
  const base: FsmState = { ...s, stopped: false };
  if (cfg.passive) return { next: { ...base, state: 'Active' }, actions: [{ type: 'stopTimer', timer: 'connectRetry' }] };
  return {
    next: { ...base, state: 'Connect' },
    actions: [{ type: 'connect' }, { type: 'startTimer', timer: 'connectRetry', seconds: cfg.connectRetryTime }],
  };
}

function openConnection(s: FsmState): Transition {
  return {
    next: { ...s, state: 'OpenSent', stopped: false },
    actions: [{ type: 'stopTimer', timer: 'connectRetry' }, { type: 'sendOpen' }, { type: 'startTimer', timer: 'hold', seconds: LARGE_HOLD_TIME }],
  };
}

const fsmSubcode: Record<State, number> = {
  Idle: FsmSub.UNSPECIFIED,
  Connect: FsmSub.UNSPECIFIED,
  Active: FsmSub.UNSPECIFIED,
  OpenSent: FsmSub.OPEN_SENT,
  OpenConfirm: FsmSub.OPEN_CONFIRM,
  Established: FsmSub.ESTABLISHED,
};

/** Events every connected state (OpenSent, OpenConfirm, Established) handles alike. */
function connectedCommon(s: FsmState, cfg: FsmConfig, ev: FsmEvent): Transition | undefined {
  switch (ev.type) {
    case 'Stop':
      return { next: { state: 'Idle', stopped: true, connectRetryCounter: 0, lastError: 'stopped' }, actions: [notify(Err.CEASE, ev.subcode ?? CeaseSub.ADMIN_SHUTDOWN), { type: 'closeConnection' }, ...stopTimers, { type: 'stopTimer', timer: 'connectRetry' }] };
    case 'Reset': {
      // An outside signal (BFD Down, operator): drop now, retry at the base delay.
      const t = fail({ ...s, connectRetryCounter: 0 }, cfg, ev.reason, [notify(Err.CEASE, CeaseSub.ADMIN_RESET)]);
      return t;
    }
    case 'HoldTimerExpires':
      return fail(s, cfg, 'hold timer expired', [notify(Err.HOLD_TIMER, 0)]);
    case 'TcpFails':
      return fail(s, cfg, ev.reason);
    case 'NotificationReceived':
      return fail(s, cfg, `peer sent NOTIFICATION ${notificationName(ev.code, ev.subcode)}`);
    case 'MessageError':
      return fail(s, cfg, ev.error.message, [notify(ev.error.code, ev.error.subcode, ev.error.data)]);
    case 'CollisionDump':
      return fail({ ...s, connectRetryCounter: 0 }, cfg, 'connection collision', [notify(Err.CEASE, CeaseSub.COLLISION_RESOLUTION)]);
    default:
      return undefined;
  }
}

export function step(s: FsmState, cfg: FsmConfig, ev: FsmEvent): Transition {
  const same: Transition = { next: s, actions: [] };
  switch (s.state) {
    case 'Idle':
      if (ev.type === 'Start') return start(s, cfg);
      if (s.stopped) return ev.type === 'TcpConnected' ? { next: s, actions: [{ type: 'closeConnection' }] } : same;
      // Automatic restart after a failure: the retry timer plays the RFC's IdleHoldTimer.
      if (ev.type === 'ConnectRetryTimerExpires') return start(s, cfg);
      // A peer that connects to us while we back off is taken at once: it is the fastest way up.
      if (ev.type === 'TcpConnected') return openConnection(s);
      if (ev.type === 'Stop') return { next: { ...s, stopped: true, connectRetryCounter: 0 }, actions: [{ type: 'stopTimer', timer: 'connectRetry' }] };
      return same;

    case 'Connect':
    case 'Active':
      switch (ev.type) {
        case 'Stop':
          return { next: { ...s, state: 'Idle', stopped: true, connectRetryCounter: 0 }, actions: [{ type: 'closeConnection' }, { type: 'stopTimer', timer: 'connectRetry' }] };
        case 'Reset':
          return { next: s, actions: [] };
        case 'TcpConnected':
          return openConnection(s);
        case 'ConnectRetryTimerExpires':
          if (cfg.passive) return same;
          return {
            next: { ...s, state: 'Connect' },
            actions: [{ type: 'closeConnection' }, { type: 'connect' }, { type: 'startTimer', timer: 'connectRetry', seconds: retryDelay(cfg, s.connectRetryCounter) }],
          };
        case 'TcpFails': {
          // Wait in Active (still accepting the peer's connection) for the next attempt.
          const counter = s.connectRetryCounter + 1;
          const actions: Action[] = [{ type: 'closeConnection' }];
          if (!cfg.passive) actions.push({ type: 'startTimer', timer: 'connectRetry', seconds: retryDelay(cfg, counter) });
          return { next: { ...s, state: 'Active', connectRetryCounter: counter, lastError: ev.reason }, actions };
        }
        default:
          return same;
      }

    case 'OpenSent': {
      if (ev.type === 'OpenReceived') {
        const r = checkOpen(ev.open, cfg);
        if (r instanceof BgpError) return fail(s, cfg, r.message, [notify(r.code, r.subcode, r.data)]);
        const actions: Action[] = [{ type: 'sendKeepalive' }];
        if (r.holdTime > 0) {
          actions.push({ type: 'startTimer', timer: 'keepalive', seconds: r.keepaliveTime });
          actions.push({ type: 'startTimer', timer: 'hold', seconds: r.holdTime });
        } else {
          actions.push({ type: 'stopTimer', timer: 'hold' });
        }
        return { next: { ...s, state: 'OpenConfirm', negotiated: r }, actions };
      }
      const c = connectedCommon(s, cfg, ev);
      if (c) return c;
      if (ev.type === 'KeepaliveReceived' || ev.type === 'UpdateReceived' || ev.type === 'RouteRefreshReceived') {
        return fail(s, cfg, `unexpected ${ev.type} in OpenSent`, [notify(Err.FSM, fsmSubcode.OpenSent)]);
      }
      return same;
    }

    case 'OpenConfirm': {
      if (ev.type === 'KeepaliveReceived') {
        const actions: Action[] = [];
        if (s.negotiated && s.negotiated.holdTime > 0) actions.push({ type: 'startTimer', timer: 'hold', seconds: s.negotiated.holdTime });
        return { next: { ...s, state: 'Established', connectRetryCounter: 0 }, actions };
      }
      if (ev.type === 'KeepaliveTimerExpires') return keepalive(s);
      const c = connectedCommon(s, cfg, ev);
      if (c) return c;
      if (ev.type === 'OpenReceived' || ev.type === 'UpdateReceived' || ev.type === 'RouteRefreshReceived') {
        return fail(s, cfg, `unexpected ${ev.type} in OpenConfirm`, [notify(Err.FSM, fsmSubcode.OpenConfirm)]);
      }
      return same;
    }

    case 'Established': {
      if (ev.type === 'KeepaliveReceived' || ev.type === 'UpdateReceived' || ev.type === 'RouteRefreshReceived') {
        if (s.negotiated && s.negotiated.holdTime > 0) return { next: s, actions: [{ type: 'startTimer', timer: 'hold', seconds: s.negotiated.holdTime }] };
        return same;
      }
      if (ev.type === 'KeepaliveTimerExpires') return keepalive(s);
      const c = connectedCommon(s, cfg, ev);
      if (c) return c;
      if (ev.type === 'OpenReceived') return fail(s, cfg, 'unexpected OPEN in Established', [notify(Err.FSM, fsmSubcode.Established)]);
      return same;
    }
  }
}

function keepalive(s: FsmState): Transition {
  const ka = s.negotiated?.keepaliveTime ?? 0;
  const actions: Action[] = [{ type: 'sendKeepalive' }];
  if (ka > 0) actions.push({ type: 'startTimer', timer: 'keepalive', seconds: ka });
  return { next: s, actions };
}
