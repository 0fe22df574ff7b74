import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, DecodeError, type Message } from '../../src/membership/codec.ts';
import { deriveKey, open, seal, MAC_BYTES } from '../../src/membership/auth.ts';
import { ReplayGuard } from '../../src/membership/replay.ts';

const base = { from: 'node-a', to: 'node-b', epoch: 1_700_000_000_123, seq: 42, timestamp: 1_700_000_001_000, incarnation: 1_700_000_000_125 };
const samples: Message[] = [
  { ...base, body: { type: 'ping', probeId: 7 }, updates: [] },
  { ...base, body: { type: 'ack', probeId: 0xffffffff, subject: 'node-a' }, updates: [{ name: 'node-c', state: 'suspect', incarnation: 9, from: 'node-d' }] },
  { ...base, body: { type: 'nack', probeId: 1, subject: 'node-c' }, updates: [{ name: 'node-c', state: 'dead', incarnation: 9 }] },
  { ...base, body: { type: 'pingReq', probeId: 3, target: 'ünïcode-node' }, updates: [{ name: 'x'.repeat(253), state: 'alive', incarnation: Number.MAX_SAFE_INTEGER }] },
  { ...base, body: { type: 'gossip' }, updates: [{ name: 'node-e', state: 'left', incarnation: 0 }, { name: 'node-f', state: 'alive', incarnation: 2 }] },
];

test('every message type round-trips through the codec', () => {
  for (const m of samples) assert.deepEqual(decodeMessage(encodeMessage(m)), m);
});

test('decoder rejects wrong magic, unknown version, truncation and trailing bytes', () => {
  const good = encodeMessage(samples[1]!);
  const badMagic = Buffer.from(good);
  badMagic[0] = 0;
  assert.throws(() => decodeMessage(badMagic), /bad magic/);
  const badVersion = Buffer.from(good);
  badVersion[2] = 2;
  assert.throws(() => decodeMessage(badVersion), /unsupported wire version 2/);
  for (let n = 0; n < good.length; n++) assert.throws(() => decodeMessage(good.subarray(0, n)), DecodeError);
  assert.throws(() => decodeMessage(Buffer.concat([good, Buffer.from([0])])), /trailing/);
});

test('encoder refuses values that cannot be carried', () => {
  assert.throws(() => encodeMessage({ ...samples[0]!, from: '' }), /sender name/);
  assert.throws(() => encodeMessage({ ...samples[0]!, from: 'y'.repeat(254) }), /sender name/);
  assert.throws(() => encodeMessage({ ...samples[0]!, seq: -1 }), /seq/);
  assert.throws(() => encodeMessage({ ...samples[0]!, seq: 2 ** 60 }), /seq/);
});

test('fuzz: mutated and random inputs either decode or throw DecodeError (bounded)', () => {
  let seed = 12345;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x80000000;
  };
  const encoded = samples.map((m) => encodeMessage(m));
  let decoded = 0;
  const start = Date.now();
  for (let i = 0; i < 30_000 && Date.now() - start < 10_000; i++) {
    let buf: Buffer;
    if (i % 4 === 0) {
      buf = Buffer.alloc(Math.floor(rnd() * 300));
      for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rnd() * 256);
      if (buf.length > 3 && rnd() < 0.5) buf.set([0x49, 0x4c, 1], 0);
    } else {
      buf = Buffer.from(encoded[i % encoded.length]!);
      const flips = 1 + Math.floor(rnd() * 4);
      for (let f = 0; f < flips; f++) buf[Math.floor(rnd() * buf.length)] = Math.floor(rnd() * 256);
      if (rnd() < 0.2) buf = buf.subarray(0, Math.floor(rnd() * buf.length));
    }
    try {
      const m = decodeMessage(buf);
      decoded++;
      assert.ok(m.updates.length <= 255);
    } catch (err) {
      assert.ok(err instanceof DecodeError, `non-DecodeError thrown: ${String(err)}`);
    }
  }
  assert.ok(decoded > 0, 'some mutations should still decode');
});

test('HMAC: a key derived from the same secret opens the packet; another secret or a flipped bit does not', () => {
  const key = deriveKey(Buffer.from('0123456789abcdef0123456789abcdef'));
  const other = deriveKey(Buffer.from('0123456789abcdef0123456789abcdeX'));
  assert.equal(key.length, 32);
  assert.notDeepEqual(key, Buffer.from('0123456789abcdef0123456789abcdef'));
  const body = encodeMessage(samples[1]!);
  const packet = seal(key, body);
  assert.equal(packet.length, body.length + MAC_BYTES);
  assert.deepEqual(open(key, packet), body);
  assert.equal(open(other, packet), undefined);
  for (let i = 0; i < packet.length; i += 7) {
    const t = Buffer.from(packet);
    t[i]! ^= 0x01;
    assert.equal(open(key, t), undefined, `bit flip at byte ${i} accepted`);
  }
  assert.equal(open(key, packet.subarray(0, MAC_BYTES)), undefined);
  assert.throws(() => deriveKey(Buffer.from('short')), /at least 16/);
});

test('replay guard: duplicates, window, epochs, time window and bounded state', () => {
  const g = new ReplayGuard({ maxSkewMs: 30_000, maxSenders: 3 });
  const now = 1_000_000;
  assert.equal(g.check('a', 10, 100, now, now), 'ok');
  assert.equal(g.check('a', 10, 100, now, now), 'duplicate');
  assert.equal(g.check('a', 10, 98, now, now), 'ok', 'reordered within the window');
  assert.equal(g.check('a', 10, 98, now, now), 'duplicate');
  assert.equal(g.check('a', 10, 1000, now, now), 'ok');
  assert.equal(g.check('a', 10, 1000 - 64, now, now), 'too-old');
  assert.equal(g.check('a', 10, 1000 - 63, now, now), 'ok');
  assert.equal(g.check('a', 9, 5000, now, now), 'stale-epoch');
  assert.equal(g.check('a', 11, 1, now, now), 'ok', 'a restarted sender starts a new sequence');
  assert.equal(g.check('a', 11, 2, now - 30_001, now), 'clock-skew');
  assert.equal(g.check('a', 11, 2, now + 30_001, now), 'clock-skew');
  for (const s of ['b', 'c', 'd', 'e']) assert.equal(g.check(s, 1, 1, now, now), 'ok');
  assert.equal(g.size, 3);
  g.retain(new Set(['e']));
  assert.equal(g.size, 1);
});
