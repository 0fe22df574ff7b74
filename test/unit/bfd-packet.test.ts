import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BfdDecodeError, type ControlPacket, decodeControl, encodeControl } from '../../src/bfd/packet.ts';
import { BfdEngine } from '../../src/bfd/engine.ts';
import type { BfdTransport } from '../../src/bfd/transport.ts';

// Captured on the wire from FRR bfdd 8.4.4 (state Down, 1 s slow timers, echo 50 ms).
const FRR_DOWN = '204003181548db2e00000000000f4240000f42400000c350';
// Captured from BIRD 2.0.12: meticulous keyed SHA1, key id 7, key "s3cret".
const BIRD_SHA1 = [
  '2044033410c8648a00000000000f4240000186a000000000051c0700d3ed9f8096f2372249cf13034dbc5a73a49caa9af1af3b6d',
  '2044033410c8648a00000000000f4240000186a000000000051c0700d3ed9f819ad82aba4a8e58af48cd1ddbe35454c7b654e8a1',
];

const base: ControlPacket = {
  version: 1, diagnostic: 0, state: 'Up', poll: false, final: false, controlPlaneIndependent: false, demand: false,
  multipoint: false, detectMult: 3, myDiscriminator: 0x11223344, yourDiscriminator: 0x55667788,
  desiredMinTxInterval: 300_000, requiredMinRxInterval: 300_000, requiredMinEchoRxInterval: 0,
};

test('decodes a control packet captured from FRR and re-encodes it byte for byte', () => {
  const raw = Buffer.from(FRR_DOWN, 'hex');
  const p = decodeControl(raw);
  assert.equal(p.state, 'Down');
  assert.equal(p.detectMult, 3);
  assert.equal(p.myDiscriminator, 0x1548db2e);
  assert.equal(p.yourDiscriminator, 0);
  assert.equal(p.desiredMinTxInterval, 1_000_000);
  assert.equal(p.requiredMinEchoRxInterval, 50_000);
  assert.equal(p.auth, undefined);
  assert.deepEqual(encodeControl(p), raw);
});

test('decodes BIRD meticulous keyed SHA1 packets and re-encodes them byte for byte', () => {
  for (const hex of BIRD_SHA1) {
    const raw = Buffer.from(hex, 'hex');
    const p = decodeControl(raw);
    assert.equal(p.auth?.type, 5);
    assert.equal(p.auth?.keyId, 7);
    assert.deepEqual(encodeControl(p), raw);
  }
});

test('round-trips flags, diagnostics, timers and simple-password auth', () => {
  const p: ControlPacket = { ...base, diagnostic: 3, state: 'Init', poll: true, demand: true, controlPlaneIndependent: true,
    auth: { type: 1, keyId: 9, password: Buffer.from('hunter2') } };
  const b = encodeControl(p);
  assert.equal(b.length, 24 + 3 + 7);
  assert.equal(b[1], (2 << 6) | 0x20 | 0x08 | 0x04 | 0x02);
  assert.deepEqual(decodeControl(b), p);
  assert.deepEqual(decodeControl(encodeControl({ ...base, final: true })), { ...base, final: true });
});

test('rejects malformed packets with a reason (RFC 5880 6.8.6)', () => {
  const good = encodeControl(base);
  const bad = (mut: (b: Buffer) => void, re: RegExp): void => {
    const b = Buffer.from(good);
    mut(b);
    assert.throws(() => decodeControl(b), (e: unknown) => e instanceof BfdDecodeError && re.test(e.message));
  };
  assert.throws(() => decodeControl(good.subarray(0, 23)), /shorter than the 24-byte/);
  bad((b) => { b[0] = (2 << 5); }, /version 2/);
  bad((b) => { b[3] = 30; }, /exceeds datagram/);
  bad((b) => { b[3] = 20; }, /too small/);
  bad((b) => { b[2] = 0; }, /Detect Mult is zero/);
  bad((b) => { b[1] = b[1]! | 0x01; }, /Multipoint/);
  bad((b) => { b.writeUInt32BE(0, 4); }, /My Discriminator is zero/);
  bad((b) => { b.writeUInt32BE(0, 8); }, /Your Discriminator is zero in state Up/);
  bad((b) => { b[1] = b[1]! | 0x30; }, /Poll and Final/);
  bad((b) => { b[1] = b[1]! | 0x04; }, /too small/); // A bit without an auth section
});

// Fuzz target: mutated valid packets and random bytes must either decode to a packet that
// re-encodes within its length, or throw BfdDecodeError; fed to an engine they must never throw
// nor create state. IRONLB_FUZZ_ITERATIONS (and IRONLB_FUZZ_SECONDS, default 20) raise the bounds
// for a longer run.
test('fuzz: malformed control packets are dropped, never crash the decoder or the engine', async () => {
  const iterations = Number(process.env.IRONLB_FUZZ_ITERATIONS ?? 20_000);
  let seed = 12345;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  const seeds = [encodeControl(base), Buffer.from(FRR_DOWN, 'hex'), ...BIRD_SHA1.map((h) => Buffer.from(h, 'hex')),
    encodeControl({ ...base, auth: { type: 1, keyId: 1, password: Buffer.from('x') } })];
  const changes: unknown[] = [];
  const nullTransport: BfdTransport = { name: 'null', receivesTtl: true, open: async (o) => ({ port: o.port || 1, send() {}, async close() {} }) };
  const engine = new BfdEngine({ transport: nullTransport, onState: (c) => changes.push(c) });
  await engine.add({ key: 'fuzz', peerAddress: '10.0.0.2', auth: { type: 'keyed-sha1', keyId: 1, secret: 'k' } });
  let decoded = 0;
  const deadline = Date.now() + 1000 * Number(process.env.IRONLB_FUZZ_SECONDS ?? 20);
  for (let i = 0; i < iterations && Date.now() < deadline; i++) {
    let b: Buffer;
    if (i % 4 === 0) {
      b = Buffer.alloc(rnd(80));
      for (let j = 0; j < b.length; j++) b[j] = rnd(256);
    } else {
      b = Buffer.from(seeds[rnd(seeds.length)]!);
      const flips = 1 + rnd(4);
      for (let k = 0; k < flips; k++) b[rnd(b.length)] = rnd(256);
      if (rnd(8) === 0) b = b.subarray(0, rnd(b.length + 1));
    }
    try {
      const p = decodeControl(b);
      decoded++;
      assert.ok(encodeControl(p).length <= b.length);
    } catch (err) {
      if (!(err instanceof BfdDecodeError)) throw new Error(`decoder threw ${String(err)} on ${b.toString('hex')}`);
    }
    engine.onPacket(b, { address: '10.0.0.2', port: 49152, ttl: 255 }, false);
  }
  assert.ok(decoded > 0, 'some mutations decode (the fuzzer reaches the session code)');
  assert.deepEqual(changes, [], 'no unauthenticated packet changed the session state');
  assert.equal(engine.snapshot()[0]?.rxPackets, 0);
  await engine.close();
});
