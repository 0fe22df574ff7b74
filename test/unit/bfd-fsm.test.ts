import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type FsmEvent, transition } from '../../src/bfd/fsm.ts';
import type { BfdState } from '../../src/bfd/packet.ts';

// RFC 5880 section 6.2 and 6.8.6: [from, event, to, diagnostic after].
const recv = (remoteState: BfdState): FsmEvent => ({ type: 'recv', remoteState });
const table: Array<[BfdState, FsmEvent, BfdState, number | undefined]> = [
  ['Down', recv('Down'), 'Init', undefined],
  ['Down', recv('Init'), 'Up', 0],
  ['Down', recv('Up'), 'Down', undefined],
  ['Down', recv('AdminDown'), 'Down', undefined],
  ['Init', recv('Down'), 'Init', undefined],
  ['Init', recv('Init'), 'Up', 0],
  ['Init', recv('Up'), 'Up', 0],
  ['Init', recv('AdminDown'), 'Down', 3],
  ['Up', recv('Up'), 'Up', undefined],
  ['Up', recv('Init'), 'Up', undefined],
  ['Up', recv('Down'), 'Down', 3],
  ['Up', recv('AdminDown'), 'Down', 3],
  ['Up', { type: 'detectTimeout' }, 'Down', 1],
  ['Init', { type: 'detectTimeout' }, 'Down', 1],
  ['Down', { type: 'detectTimeout' }, 'Down', undefined],
  ['Up', { type: 'adminDown' }, 'AdminDown', 7],
  ['AdminDown', recv('Up'), 'AdminDown', undefined],
  ['AdminDown', { type: 'adminUp' }, 'Down', 0],
  ['Up', { type: 'adminUp' }, 'Up', undefined],
];

for (const [from, ev, to, diag] of table) {
  test(`${from} + ${ev.type}${ev.type === 'recv' ? `(${ev.remoteState})` : ''} -> ${to}`, () => {
    const r = transition(from, ev);
    assert.equal(r.state, to);
    assert.equal(r.diagnostic, diag);
    assert.deepEqual(r.actions, from === to ? [] : ['notify', 'sendNow']);
  });
}
