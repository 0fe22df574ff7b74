// The pure BGP state machine: transitions, timers it asks for, NOTIFICATION codes, backoff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialState, retryDelay, step, LARGE_HOLD_TIME, type Action, type FsmConfig, type FsmEvent, type FsmState } from '../../src/bgp/fsm.ts';
import { BgpError } from '../../src/bgp/codec/errors.ts';
import { emptyCapabilities } from '../../src/bgp/codec/capabilities.ts';
import type { OpenMessage } from '../../src/bgp/codec/messages.ts';

const cfg: FsmConfig = { localAsn: 65001, peerAsn: 65002, routerId: '10.0.0.1', holdTime: 90, passive: false, connectRetryTime: 5, maxRetryTime: 60 };
const open = (extra: Partial<OpenMessage> = {}): OpenMessage => ({
  type: 'open', version: 4, myAs: 65002, holdTime: 30, bgpId: '10.0.0.2', capabilities: { ...emptyCapabilities(), fourOctetAs: 65002 }, ...extra,
});

function run(events: FsmEvent[], c: FsmConfig = cfg, from: FsmState = initialState()): { s: FsmState; actions: Action[][] } {
  let s = from;
  const actions: Action[][] = [];
  for (const ev of events) {
    const t = step(s, c, ev);
    s = t.next;
    actions.push(t.actions);
  }
  return { s, actions };
}

const notif = (acts: Action[]): [number, number] | undefined => {
  const n = acts.find((a) => a.type === 'sendNotification');
  return n && n.type === 'sendNotification' ? [n.code, n.subcode] : undefined;
};

const toOpenSent: FsmEvent[] = [{ type: 'Start' }, { type: 'TcpConnected', incoming: false }];
const toEstablished: FsmEvent[] = [...toOpenSent, { type: 'OpenReceived', open: open() }, { type: 'KeepaliveReceived' }];

test('active open: Idle -> Connect -> OpenSent -> OpenConfirm -> Established with negotiated timers', () => {
  const { s, actions } = run(toEstablished);
  assert.equal(s.state, 'Established');
  assert.deepEqual(actions[0], [{ type: 'connect' }, { type: 'startTimer', timer: 'connectRetry', seconds: 5 }]);
  assert.deepEqual(actions[1], [{ type: 'stopTimer', timer: 'connectRetry' }, { type: 'sendOpen' }, { type: 'startTimer', timer: 'hold', seconds: LARGE_HOLD_TIME }]);
  assert.deepEqual(actions[2], [{ type: 'sendKeepalive' }, { type: 'startTimer', timer: 'keepalive', seconds: 10 }, { type: 'startTimer', timer: 'hold', seconds: 30 }]);
  assert.deepEqual(s.negotiated, { peerAsn: 65002, peerRouterId: '10.0.0.2', holdTime: 30, keepaliveTime: 10 });
  // Any message restarts the hold timer; the keepalive timer sends and re-arms.
  assert.deepEqual(step(s, cfg, { type: 'UpdateReceived' }).actions, [{ type: 'startTimer', timer: 'hold', seconds: 30 }]);
  assert.deepEqual(step(s, cfg, { type: 'KeepaliveTimerExpires' }).actions, [{ type: 'sendKeepalive' }, { type: 'startTimer', timer: 'keepalive', seconds: 10 }]);
});

test('passive: waits in Active, never connects; configured keepalive and hold time 0', () => {
  const p = { ...cfg, passive: true, keepaliveTime: 3 };
  const a = run([{ type: 'Start' }, { type: 'ConnectRetryTimerExpires' }], p);
  assert.equal(a.s.state, 'Active');
  assert.ok(!a.actions.flat().some((x) => x.type === 'connect'));
  const e = run([{ type: 'TcpConnected', incoming: true }, { type: 'OpenReceived', open: open({ holdTime: 0 }) }, { type: 'KeepaliveReceived' }], p, a.s);
  assert.equal(e.s.state, 'Established');
  assert.deepEqual(e.s.negotiated?.holdTime, 0);
  assert.deepEqual(e.actions[1], [{ type: 'sendKeepalive' }, { type: 'stopTimer', timer: 'hold' }], 'hold time 0: no keepalives, no hold timer');
  const k = run([{ type: 'Start' }, { type: 'TcpConnected', incoming: true }, { type: 'OpenReceived', open: open({ holdTime: 90 }) }], p);
  assert.equal(k.s.negotiated?.keepaliveTime, 3, 'configured keepalive under a third of hold time wins');
});

test('connect failures: Active, then retry with exponential backoff capped; Established resets the counter', () => {
  const { s, actions } = run([{ type: 'Start' }, { type: 'TcpFails', reason: 'refused' }, { type: 'ConnectRetryTimerExpires' }, { type: 'TcpFails', reason: 'refused' }]);
  assert.equal(s.state, 'Active');
  assert.equal(s.connectRetryCounter, 2);
  assert.deepEqual(actions[1], [{ type: 'closeConnection' }, { type: 'startTimer', timer: 'connectRetry', seconds: 5 }]);
  assert.deepEqual(actions[3], [{ type: 'closeConnection' }, { type: 'startTimer', timer: 'connectRetry', seconds: 10 }]);
  assert.deepEqual([1, 2, 3, 4, 5, 6, 30].map((n) => retryDelay(cfg, n)), [5, 10, 20, 40, 60, 60, 60]);
  const up = run([{ type: 'TcpConnected', incoming: true }, { type: 'OpenReceived', open: open() }, { type: 'KeepaliveReceived' }], cfg, s);
  assert.equal(up.s.connectRetryCounter, 0);
});

test('hold timer expiry sends NOTIFICATION 4/0 and goes Idle with a retry scheduled', () => {
  for (const prefix of [toOpenSent, toEstablished, [...toOpenSent, { type: 'OpenReceived', open: open() } as FsmEvent]]) {
    const { s, actions } = run([...prefix, { type: 'HoldTimerExpires' }]);
    assert.equal(s.state, 'Idle');
    assert.equal(s.stopped, false);
    const last = actions.at(-1) ?? [];
    assert.deepEqual(notif(last), [4, 0]);
    assert.ok(last.some((a) => a.type === 'closeConnection'));
    assert.ok(last.some((a) => a.type === 'startTimer' && a.timer === 'connectRetry'));
    assert.equal(step(s, cfg, { type: 'ConnectRetryTimerExpires' }).next.state, 'Connect', 'automatic restart');
  }
});

test('OPEN checks: bad peer AS 2/2, hold time 1-2 2/6, bad router ID 2/3, our own ID on iBGP 2/3', () => {
  const cases: Array<[Partial<OpenMessage>, [number, number], FsmConfig?]> = [
    [{ capabilities: { ...emptyCapabilities(), fourOctetAs: 65099 } }, [2, 2]],
    [{ myAs: 65099, capabilities: emptyCapabilities() }, [2, 2]],
    [{ holdTime: 2 }, [2, 6]],
    [{ bgpId: '0.0.0.0' }, [2, 3]],
    [{ bgpId: '10.0.0.1', myAs: 65001, capabilities: { ...emptyCapabilities(), fourOctetAs: 65001 } }, [2, 3], { ...cfg, peerAsn: 65001 }],
  ];
  for (const [o, want, c] of cases) {
    const { s, actions } = run([...toOpenSent, { type: 'OpenReceived', open: open(o) }], c ?? cfg);
    assert.equal(s.state, 'Idle', JSON.stringify(o));
    assert.deepEqual(notif(actions.at(-1) ?? []), want, JSON.stringify(o));
  }
  // eBGP peers may share our router ID (RFC 6286).
  assert.equal(run([...toOpenSent, { type: 'OpenReceived', open: open({ bgpId: '10.0.0.1' }) }]).s.state, 'OpenConfirm');
  // A 2-octet peer with a matching My AS is fine without the capability.
  assert.equal(run([...toOpenSent, { type: 'OpenReceived', open: open({ capabilities: emptyCapabilities() }) }]).s.state, 'OpenConfirm');
});

test('unexpected messages are FSM errors with the RFC 6608 subcodes', () => {
  assert.deepEqual(notif(run([...toOpenSent, { type: 'KeepaliveReceived' }]).actions.at(-1) ?? []), [5, 1]);
  assert.deepEqual(notif(run([...toOpenSent, { type: 'UpdateReceived' }]).actions.at(-1) ?? []), [5, 1]);
  assert.deepEqual(notif(run([...toOpenSent, { type: 'OpenReceived', open: open() }, { type: 'UpdateReceived' }]).actions.at(-1) ?? []), [5, 2]);
  assert.deepEqual(notif(run([...toEstablished, { type: 'OpenReceived', open: open() }]).actions.at(-1) ?? []), [5, 3]);
});

test('stop, reset, collision, message errors and peer NOTIFICATION', () => {
  const stop = run([...toEstablished, { type: 'Stop', subcode: 3 }]);
  assert.equal(stop.s.state, 'Idle');
  assert.equal(stop.s.stopped, true);
  assert.deepEqual(notif(stop.actions.at(-1) ?? []), [6, 3]);
  assert.ok(!(stop.actions.at(-1) ?? []).some((a) => a.type === 'startTimer'), 'a stopped peer does not retry');
  assert.deepEqual(step(stop.s, cfg, { type: 'TcpConnected', incoming: true }).actions, [{ type: 'closeConnection' }], 'stopped: refuses connections');
  const reset = run([...toEstablished, { type: 'Reset', reason: 'BFD down' }]);
  assert.deepEqual(notif(reset.actions.at(-1) ?? []), [6, 4]);
  assert.equal(reset.s.lastError, 'BFD down');
  assert.ok((reset.actions.at(-1) ?? []).some((a) => a.type === 'startTimer' && a.timer === 'connectRetry' && a.seconds === 5), 'reset retries at the base delay');
  assert.deepEqual(notif(run([...toOpenSent, { type: 'OpenReceived', open: open() }, { type: 'CollisionDump' }]).actions.at(-1) ?? []), [6, 7]);
  const bad = run([...toEstablished, { type: 'MessageError', error: new BgpError(3, 10, 'bad NLRI') }]);
  assert.deepEqual(notif(bad.actions.at(-1) ?? []), [3, 10]);
  const peer = run([...toEstablished, { type: 'NotificationReceived', code: 6, subcode: 2 }]);
  assert.equal(peer.s.state, 'Idle');
  assert.equal(notif(peer.actions.at(-1) ?? []), undefined, 'never answer a NOTIFICATION with one');
  // An incoming connection while backing off in Idle is taken at once.
  assert.equal(step(peer.s, cfg, { type: 'TcpConnected', incoming: true }).next.state, 'OpenSent');
});
