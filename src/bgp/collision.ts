// Connection collision detection (RFC 4271 §6.8) and a restarted graceful-restart peer's new
// connection (RFC 4724 §4.2): which of a session's two connections goes on. Pure.
import { parseAddress } from './codec/prefix.ts';
import type { Capabilities } from './codec/capabilities.ts';
import type { State } from './fsm.ts';

export interface CollidingConn {
  fsm: { state: State; negotiated?: { peerRouterId: string } | undefined };
  socket: unknown;
  outgoing: boolean;
  peerCaps: Capabilities | undefined;
}

export type CollisionOutcome<C> =
  /** Nothing collides. */
  | { kind: 'none' }
  /** The second connection replaces the session's: silently (a restarted peer) or with Cease. */
  | { kind: 'promote'; how: 'collision' | 'silent'; reason: string; keepIncoming?: boolean; remoteId?: string }
  /** `loser` is closed with Cease / Connection Collision Resolution. */
  | { kind: 'dump'; loser: C; keepIncoming?: boolean; remoteId?: string };

function ipNumber(a: string): number {
  const b = parseAddress(a);
  return b.length === 4 ? b.readUInt32BE(0) : 0;
}

/**
 * What to do when `conn` (the session's `current` or its `colliding` connection) reached OpenConfirm
 * while the other one is open too. The connection the lower BGP identifier initiated closes;
 * both from the same side: the newer stays.
 */
export function resolveCollision<C extends CollidingConn>(conn: C, current: C, colliding: C | undefined, routerId: string): CollisionOutcome<C> {
  const other = conn === current ? colliding : current;
  if (!other || !other.socket) return { kind: 'none' };
  const os = other.fsm.state;
  if (os !== 'OpenSent' && os !== 'OpenConfirm' && os !== 'Established') return { kind: 'none' };
  if (os === 'Established') {
    // A new OPEN while established: a graceful-restart peer that restarted replaces the old
    // session; otherwise the new connection loses.
    if (conn.peerCaps?.gracefulRestart && conn === colliding) return { kind: 'promote', how: 'silent', reason: 'peer restarted (graceful restart)' };
    return { kind: 'dump', loser: conn };
  }
  const remoteId = conn.fsm.negotiated?.peerRouterId ?? '0.0.0.0';
  const keepIncoming = ipNumber(routerId) < ipNumber(remoteId);
  let loser: C;
  if (conn.outgoing !== other.outgoing) loser = keepIncoming ? (conn.outgoing ? conn : other) : (conn.outgoing ? other : conn);
  else loser = other === current ? current : other;
  if (loser === current && colliding) return { kind: 'promote', how: 'collision', reason: 'connection collision', keepIncoming, remoteId };
  return { kind: 'dump', loser, keepIncoming, remoteId };
}
