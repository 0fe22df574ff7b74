// Connection collision resolution (RFC 4271 §6.8, RFC 4724 §4.2), now a pure function.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveCollision, type CollidingConn } from '../../src/bgp/collision.ts';
import { emptyCapabilities } from '../../src/bgp/codec/capabilities.ts';
import type { State } from '../../src/bgp/fsm.ts';

const conn = (state: State, outgoing: boolean, peerRouterId = '10.0.0.2', gr = false): CollidingConn => {
  const caps = emptyCapabilities();
  if (gr) caps.gracefulRestart = { restarting: true, notification: false, time: 120, families: [] };
  return { fsm: { state, negotiated: { peerRouterId } }, socket: {}, outgoing, peerCaps: caps };
};

test('the connection the lower BGP identifier initiated closes', () => {
  // We are 10.0.0.1 < peer 10.0.0.2: keep the peer's (incoming) connection.
  const main = conn('OpenSent', true);
  const extra = conn('OpenConfirm', false);
  assert.deepEqual(resolveCollision(extra, main, extra, '10.0.0.1'), { kind: 'promote', how: 'collision', reason: 'connection collision', keepIncoming: true, remoteId: '10.0.0.2' });
  // We are 10.0.0.3 > peer: keep ours, the incoming one is dumped.
  const r = resolveCollision(extra, main, extra, '10.0.0.3');
  assert.equal(r.kind, 'dump');
  assert.equal(r.kind === 'dump' && r.loser, extra);
});

test('a new OPEN while established: a restarted graceful-restart peer replaces the session, otherwise it loses', () => {
  const main = conn('Established', true);
  const restarted = conn('OpenConfirm', false, '10.0.0.2', true);
  assert.equal(resolveCollision(restarted, main, restarted, '10.0.0.1').kind, 'promote');
  const plain = conn('OpenConfirm', false);
  const r = resolveCollision(plain, main, plain, '10.0.0.1');
  assert.ok(r.kind === 'dump' && r.loser === plain);
});

test('no collision without a second open connection', () => {
  const main = conn('OpenConfirm', true);
  assert.deepEqual(resolveCollision(main, main, undefined, '10.0.0.1'), { kind: 'none' });
  const idle = conn('Active', false);
  assert.deepEqual(resolveCollision(main, main, idle, '10.0.0.1'), { kind: 'none' });
});
