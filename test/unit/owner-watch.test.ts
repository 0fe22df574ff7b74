// The owner-watch codec and engine on a fake clock and a fake wire.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FLAG_HOLDING, decodeHeartbeat, deriveWatchKey, encodeHeartbeat } from '../../src/watch/codec.ts';
import { WatchEngine, type StateChange } from '../../src/watch/engine.ts';

const KEY = deriveWatchKey(Buffer.from('0123456789abcdef0123456789abcdef'));
const OTHER = deriveWatchKey(Buffer.from('fedcba9876543210fedcba9876543210'));

test('a heartbeat round-trips, and is refused with another key or one flipped bit', () => {
  const h = { flags: FLAG_HOLDING, takeovers: 3, epoch: 1_790_000_000_000, seq: 42, timestamp: 1_790_000_000_123, from: 'node-a', to: 'node-b' };
  const wire = encodeHeartbeat(h, KEY);
  assert.deepEqual(decodeHeartbeat(wire, [OTHER, KEY]), h);
  assert.equal(decodeHeartbeat(wire, [OTHER]), undefined);
  for (let i = 0; i < wire.length; i += 7) {
    const bad = Buffer.from(wire);
    bad[i] = (bad[i] as number) ^ 1;
    assert.equal(decodeHeartbeat(bad, [KEY]), undefined, `bit flipped at ${i}`);
  }
  assert.equal(decodeHeartbeat(wire.subarray(0, 20), [KEY]), undefined);
});

/** Two engines a and b on a fake clock; `drop` decides per datagram. */
function pair(drop: (from: string) => boolean = () => false) {
  let now = 1_790_000_000_000;
  const changes: StateChange[] = [];
  const reannounced: string[] = [];
  const engines = new Map<string, WatchEngine>();
  const wire: Array<{ to: string; msg: Buffer; from: string }> = [];
  const mk = (self: string, addr: string) =>
    new WatchEngine({
      self,
      keys: [KEY],
      intervalMs: 20,
      multiplier: 8,
      now: () => now,
      send: (msg, address) => wire.push({ to: address === '10.0.0.1' ? 'a' : 'b', msg, from: addr }),
      onState: (c) => changes.push(c),
      onReannounce: (f) => reannounced.push(`${self}<-${f}`),
    });
  engines.set('a', mk('a', '10.0.0.1'));
  engines.set('b', mk('b', '10.0.0.2'));
  const a = engines.get('a') as WatchEngine;
  const b = engines.get('b') as WatchEngine;
  b.setPeers([{ name: 'a', address: '10.0.0.1', port: 1, watch: true, holding: false }]);
  a.setPeers([{ name: 'b', address: '10.0.0.2', port: 1, watch: false, holding: false }]);
  /** One interval: both send, the wire delivers, both check. */
  const step = (alive = { a: true, b: true }) => {
    now += 20;
    if (alive.a) a.tick();
    if (alive.b) b.tick();
    for (const m of wire.splice(0)) {
      const sender = m.from === '10.0.0.1' ? 'a' : 'b';
      if (!alive[sender] || !alive[m.to as 'a' | 'b'] || drop(sender)) continue;
      engines.get(m.to)?.receive(m.msg, { address: m.from });
    }
    if (alive.a) a.check();
    if (alive.b) b.check();
  };
  return { a, b, step, changes, reannounced, wire, advance: (ms: number) => (now += ms) };
}

test('a watcher pulls heartbeats from the owner and declares it down after interval × multiplier', () => {
  const p = pair();
  for (let i = 0; i < 10; i++) p.step();
  assert.deepEqual(p.changes, [{ name: 'a', state: 'up', silentMs: 0 }]);
  assert.equal(p.b.state('a'), 'up');
  let steps = 0;
  while (p.b.state('a') === 'up' && steps < 50) {
    p.step({ a: false, b: true });
    steps++;
  }
  assert.equal(p.b.state('a'), 'down');
  assert.equal(steps, 9, 'declared on the first check past 160 ms of silence');
  assert.ok((p.changes.at(-1)?.silentMs ?? 0) > 160);
  p.step();
  assert.equal(p.b.state('a'), 'up');
});

test('5% random loss for 10,000 intervals gives no down (the chance is 0.05^8 per check)', () => {
  let x = 12345;
  const rnd = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const p = pair(() => rnd() < 0.05);
  for (let i = 0; i < 10_000; i++) p.step();
  assert.equal(p.changes.filter((c) => c.state === 'down').length, 0);
});

test('the watcher\'s own stall does not count as the owner\'s silence', () => {
  const p = pair();
  for (let i = 0; i < 5; i++) p.step();
  p.advance(500); // this thread was not scheduled for 500 ms; the owner's heartbeats wait in the socket
  p.step();
  assert.equal(p.b.state('a'), 'up');
  assert.equal(p.b.stats.stalls, 1);
});

test('replays, wrong receivers and wrong source addresses are refused', () => {
  const p = pair();
  p.step();
  p.step();
  const from = p.wire.length;
  p.a.tick();
  const hb = p.wire[from]?.msg as Buffer;
  p.b.receive(hb, { address: '10.0.0.1' });
  const before = p.b.stats.received;
  p.b.receive(hb, { address: '10.0.0.1' });
  assert.equal(p.b.stats.rejected.replay, 1);
  assert.equal(p.b.stats.received, before);
  p.b.receive(hb, { address: '10.0.0.9' });
  assert.equal(p.b.stats.rejected.address, 1);
  p.a.receive(hb, { address: '10.0.0.1' });
  assert.equal(p.a.stats.rejected['wrong-receiver'], 1);
});

test('an owner is told to announce again when its watcher releases a fast takeover', () => {
  const p = pair();
  p.step();
  p.b.setPeers([{ name: 'a', address: '10.0.0.1', port: 1, watch: true, holding: true }]);
  p.step();
  assert.deepEqual(p.reannounced, []);
  p.b.setPeers([{ name: 'a', address: '10.0.0.1', port: 1, watch: true, holding: false }]);
  p.step();
  assert.deepEqual(p.reannounced, ['a<-b']);
  p.step();
  assert.deepEqual(p.reannounced, ['a<-b'], 'once per takeover');
});

test('when every peer goes silent at once the watcher holds back (its own receive path is the likelier cause); one silent owner among heard peers is declared', () => {
  let now = 1_790_000_000_000;
  const downs: string[] = [];
  const addr: Record<string, string> = { w: '10.0.0.9', a: '10.0.0.1', b: '10.0.0.2' };
  const inbox: Array<{ to: string; from: string; msg: Buffer }> = [];
  const mk = (self: string) =>
    new WatchEngine({
      self,
      keys: [KEY],
      intervalMs: 20,
      multiplier: 8,
      now: () => now,
      send: (msg, address) => inbox.push({ to: Object.keys(addr).find((k) => addr[k] === address) as string, from: self, msg }),
      onState: (c) => c.state === 'down' && downs.push(`${self}:${c.name}`),
      onReannounce: () => {},
    });
  const e = { w: mk('w'), a: mk('a'), b: mk('b') };
  const peers = (self: string, watch: string[]) => Object.keys(addr).filter((n) => n !== self).map((n) => ({ name: n, address: addr[n] as string, port: 1, watch: watch.includes(n), holding: false }));
  e.w.setPeers(peers('w', ['a', 'b']));
  e.a.setPeers(peers('a', []));
  e.b.setPeers(peers('b', []));
  const step = (deliver: (from: string, to: string) => boolean) => {
    now += 20;
    for (const x of Object.values(e)) x.tick();
    for (const m of inbox.splice(0)) if (deliver(m.from, m.to)) e[m.to as 'w' | 'a' | 'b'].receive(m.msg, { address: addr[m.from] as string });
    for (const x of Object.values(e)) x.check();
  };
  for (let i = 0; i < 5; i++) step(() => true);
  // w hears nobody for 400 ms (its receive path, not the peers): nothing declared.
  for (let i = 0; i < 20; i++) step((_f, to) => to !== 'w');
  assert.deepEqual(downs, []);
  assert.ok(e.w.stats.heldBack > 0);
  for (let i = 0; i < 5; i++) step(() => true);
  // Only a dies: declared.
  for (let i = 0; i < 20 && downs.length === 0; i++) step((f) => f !== 'a');
  assert.deepEqual(downs, ['w:a']);
});
