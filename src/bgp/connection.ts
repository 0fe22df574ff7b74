// One TCP connection of a BGP session (or an attempt at one): its FSM state, socket, framing and
// hold/keepalive timers. A session has one, and a second while a connection collision is being
// resolved (RFC 4271 §6.8).
import type net from 'node:net';
import { CeaseSub, Err } from './codec/constants.ts';
import type { Capabilities } from './codec/capabilities.ts';
import { encodeNotification, MessageReader } from './codec/messages.ts';
import type { FsmState } from './fsm.ts';
import type { Family } from './types.ts';

/** How long a closing socket may take to flush its last message before it is destroyed. */
export const CLOSE_GRACE_MS = 1_000;

export class Conn {
  fsm: FsmState;
  socket: net.Socket | undefined;
  outgoing = false;
  reader = new MessageReader();
  hold: NodeJS.Timeout | undefined;
  keepalive: NodeJS.Timeout | undefined;
  peerCaps: Capabilities | undefined;
  connecting: AbortController | undefined;
  /** Families our OPEN offered on this connection. */
  offered: Family[] = [];

  constructor(fsm: FsmState) {
    this.fsm = fsm;
  }

  clearTimers(): void {
    clearTimeout(this.hold);
    clearTimeout(this.keepalive);
    this.hold = undefined;
    this.keepalive = undefined;
  }
}

/** Refuses a connection with Cease "Connection Rejected" (RFC 4486 §3), then closes it. */
export function refuse(socket: net.Socket): void {
  socket.on('error', () => {});
  socket.end(encodeNotification(Err.CEASE, CeaseSub.CONNECTION_REJECTED));
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
}
