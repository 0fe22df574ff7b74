import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeMessage, encodeMessage, peekMessage, DecodeError, MIN_MESSAGE_BYTES, type Message } from '../../src/membership/codec.ts';
import { deriveKey, open, openAny, parseKeyList, seal, MAC_BYTES } from '../../src/membership/auth.ts';
import { ReplayGuard } from '../../src/membership/replay.ts';

const base = { from: 'node-a', to: 'node-b', epoch: 1_700_000_000_123, toEpoch: 1_700_000_000_007, seq: 42, timestamp: 1_700_000_001_000, incarnation: 1_700_000_000_125 };
const { toEpoch: _unused, ...v1base } = base;
const samples: Message[] = [
  { ...v1base, body: { type: 'ping', probeId: 8 }, updates: [{ name: 'node-c', state: 'alive', incarnation: 3 }] },
  { ...base, toEpoch: 0, body: { type: 'gossip' }, updates: [] },
  { ...base, body: { type: 'ping', probeId: 7 }, updates: [] },
  { ...base, body: { type: 'ack', probeId: 0xffffffff, subject: 'node-a' }, updates: [{ name: 'node-c', state: 'suspect', incarnation: 9, from: 'node-d' }] },
  { ...base, body: { type: 'nack', probeId: 1, subject: 'node-c' }, updates: [{ name: 'node-c', state: 'dead', incarnation: 9 }] },
  { ...base, body: { type: 'pingReq', probeId: 3, target: 'ünïcode-node' }, updates: [{ name: 'x'.repeat(253), state: 'alive', incarnation: Number.MAX_SAFE_INTEGER }] },
  { ...base, body: { type: 'gossip' }, updates: [{ name: 'node-e', state: 'left', incarnation: 0 }, { name: 'node-f', state: 'alive', incarnation: 2 }] },
];

test('every message type round-trips through the codec, version 2 and version 1 (no toEpoch)', () => {
  for (const m of samples) assert.deepEqual(decodeMessage(encodeMessage(m)), m);
  assert.equal(encodeMessage(samples[0]!)[2], 1, 'no toEpoch: version 1 on the wire');
  assert.equal(encodeMessage(samples[1]!)[2], 2);
});

test('peek: size, magic, version and names are read without the MAC', () => {
  const mac = Buffer.alloc(MAC_BYTES);
  for (const m of samples) {
    const p = peekMessage(Buffer.concat([encodeMessage(m), mac]), MAC_BYTES, 1400);
    assert.deepEqual(p, { ok: true, version: m.toEpoch === undefined ? 1 : 2, from: m.from, to: m.to });
  }
  const good = Buffer.concat([encodeMessage(samples[2]!), mac]);
  const cases: Array<[Buffer, string]> = [
    [Buffer.alloc(0), 'size'],
    [good.subarray(0, MIN_MESSAGE_BYTES + MAC_BYTES - 1), 'size'],
    [Buffer.alloc(1401, 0x49), 'size'],
    [Buffer.from(good).fill(0, 0, 1), 'magic'],
    [Buffer.from(good).fill(3, 2, 3), 'version'],
    [Buffer.from(good).fill(0, 2, 3), 'version'],
    [Buffer.from(good).fill(0, 4, 5), 'size'], // empty sender name
    [Buffer.from(good).fill(250, 4, 5), 'size'], // sender name runs past the end
  ];
  for (const [buf, reason] of cases) assert.deepEqual(peekMessage(buf, MAC_BYTES, 1400), { ok: false, reason }, `${buf.length} bytes`);
});

test('decoder rejects wrong magic, unknown version, truncation and trailing bytes', () => {
  const good = encodeMessage(samples[1]!);
  const badMagic = Buffer.from(good);
  badMagic[0] = 0;
  assert.throws(() => decodeMessage(badMagic), /bad magic/);
  const badVersion = Buffer.from(good);
  badVersion[2] = 3;
  assert.throws(() => decodeMessage(badVersion), /unsupported wire version 3/);
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
      if (buf.length > 3 && rnd() < 0.5) buf.set([0x49, 0x4c, 1 + Math.floor(rnd() * 2)], 0);
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

test('key list: one per line, the first signs; short keys and empty lists are refused; any listed key opens', () => {
  const keys = parseKeyList('  0123456789abcdef-new \n\n0123456789abcdef-old\r\n0123456789abcdef-new\n');
  assert.deepEqual(keys.map((k) => k.toString()), ['0123456789abcdef-new', '0123456789abcdef-old']);
  assert.throws(() => parseKeyList('0123456789abcdef\nshort'), /key 2 is 5 bytes; use at least 16/);
  assert.throws(() => parseKeyList(' \n'), /empty/);
  assert.throws(() => parseKeyList(Array.from({ length: 5 }, (_, i) => `0123456789abcdef${i}`).join('\n')), /at most 4/);
  const [kNew, kOld] = keys.map((k) => deriveKey(k)) as [Buffer, Buffer];
  const body = encodeMessage(samples[1]!);
  assert.deepEqual(openAny([kNew, kOld], seal(kOld, body)), { body, keyIndex: 1 });
  assert.deepEqual(openAny([kNew, kOld], seal(kNew, body)), { body, keyIndex: 0 });
  assert.equal(openAny([kNew], seal(kOld, body)), undefined);
});

test('replay guard: each message once, within the time window; forward jumps block nothing', () => {
  const g = new ReplayGuard({ maxSkewMs: 30_000, maxPerSender: 6 });
  let now = 1_000_000;
  assert.equal(g.check('a', 10, 100, now, now), 'ok');
  assert.equal(g.check('a', 10, 100, now, now), 'duplicate');
  assert.equal(g.check('a', 10, 98, now, now), 'ok', 'reordered');
  assert.equal(g.check('a', 11, 100, now, now), 'ok', 'same seq, other epoch (a restart)');
  // A jump far ahead, in seq or in epoch, does not make the member's next real messages stale.
  assert.equal(g.check('a', 10, 2 ** 50, now, now), 'ok');
  assert.equal(g.check('a', 10, 101, now, now), 'ok');
  assert.equal(g.check('a', 10, 99, now, now), 'ok');
  assert.equal(g.check('a', 10, 102, now, now), 'busy', 'more than maxPerSender in one generation');
  assert.equal(g.check('b', now + 30_000, 1, now, now), 'ok', 'epoch up to the allowed skew ahead');
  assert.equal(g.check('b', now + 30_001, 1, now, now), 'future-epoch');
  assert.equal(g.check('b', 10, 2, now - 30_001, now), 'clock-skew');
  assert.equal(g.check('b', 10, 2, now + 30_001, now), 'clock-skew');
  // Remembered for as long as the timestamp passes (two windows), then forgotten.
  const t0 = now;
  assert.equal(g.check('c', 1, 1, t0 + 30_000, now), 'ok');
  for (const step of [10_000, 20_000, 29_999]) {
    now = t0 + step;
    assert.equal(g.check('c', 1, 1, t0 + 30_000, now), 'duplicate', `still remembered after ${step} ms`);
  }
  now = t0 + 30_000 + 30_000;
  assert.equal(g.check('c', 1, 1, t0 + 30_000, now), 'duplicate', 'remembered until its timestamp no longer passes');
  now = t0 + 90_000;
  assert.equal(g.check('c', 1, 1, t0 + 30_000, now), 'clock-skew');
  assert.equal(g.size, 0, 'everything older than two windows is forgotten');
  assert.equal(g.check('d', 1, 1, now, now), 'ok');
  g.retain(new Set(['e']));
  assert.equal(g.size, 0);
});
