import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type BfdAuth, encodeAuthenticated, validateAuth, verifyAuth } from '../../src/bfd/auth.ts';
import { type ControlPacket, decodeControl } from '../../src/bfd/packet.ts';

// Captured from BIRD 2.0.12: meticulous keyed SHA1, key id 7, key "s3cret", consecutive packets.
const BIRD_SHA1 = [
  '2044033410c8648a00000000000f4240000186a000000000051c0700d3ed9f8096f2372249cf13034dbc5a73a49caa9af1af3b6d',
  '2044033410c8648a00000000000f4240000186a000000000051c0700d3ed9f819ad82aba4a8e58af48cd1ddbe35454c7b654e8a1',
];

const p: Omit<ControlPacket, 'auth'> = {
  version: 1, diagnostic: 0, state: 'Down', poll: false, final: false, controlPlaneIndependent: false, demand: false,
  multipoint: false, detectMult: 3, myDiscriminator: 1, yourDiscriminator: 0,
  desiredMinTxInterval: 1_000_000, requiredMinRxInterval: 300_000, requiredMinEchoRxInterval: 0,
};
const fresh = { known: false, rcvSeq: 0 };

test('verifies real BIRD meticulous keyed SHA1 packets and rejects a replay', () => {
  const auth: BfdAuth = { type: 'meticulous-keyed-sha1', keyId: 7, secret: 's3cret' };
  const [a, b] = BIRD_SHA1.map((h) => Buffer.from(h, 'hex'));
  const s1 = verifyAuth(a!, decodeControl(a!), auth, fresh, 3);
  assert.equal(typeof s1, 'object');
  const s2 = verifyAuth(b!, decodeControl(b!), auth, s1 as typeof fresh, 3);
  assert.equal(typeof s2, 'object');
  assert.match(verifyAuth(b!, decodeControl(b!), auth, s2 as typeof fresh, 3) as string, /outside window/);
  assert.match(verifyAuth(a!, decodeControl(a!), { ...auth, secret: 'other' }, fresh, 3) as string, /digest mismatch/);
});

for (const type of ['simple', 'keyed-md5', 'meticulous-keyed-md5', 'keyed-sha1', 'meticulous-keyed-sha1'] as const) {
  test(`${type}: signs, verifies, rejects tampering, wrong key id and wrong secret`, () => {
    const auth: BfdAuth = { type, keyId: 3, secret: 'secret' };
    const raw = encodeAuthenticated(p, auth, 100);
    const pkt = decodeControl(raw);
    const st = verifyAuth(raw, pkt, auth, fresh, 3);
    assert.deepEqual(st, type === 'simple' ? fresh : { known: true, rcvSeq: 100 });
    assert.equal(typeof verifyAuth(raw, pkt, { ...auth, keyId: 4 }, fresh, 3), 'string');
    assert.equal(typeof verifyAuth(raw, pkt, { ...auth, secret: 'secreT' }, fresh, 3), 'string');
    assert.equal(typeof verifyAuth(raw, pkt, undefined, fresh, 3), 'string');
    if (type !== 'simple') {
      const t = Buffer.from(raw);
      t[12] = t[12]! ^ 1; // change a timer: the digest no longer matches
      assert.match(verifyAuth(t, decodeControl(t), auth, fresh, 3) as string, /digest mismatch/);
    }
  });
}

test('sequence windows: keyed accepts a repeat, meticulous needs an increase, both bound by 3 x Detect Mult', () => {
  const keyed: BfdAuth = { type: 'keyed-md5', keyId: 1, secret: 'k' };
  const met: BfdAuth = { type: 'meticulous-keyed-md5', keyId: 1, secret: 'k' };
  const at = (a: BfdAuth, seq: number, known: number): unknown => {
    const raw = encodeAuthenticated(p, a, seq);
    return verifyAuth(raw, decodeControl(raw), a, { known: true, rcvSeq: known }, 3);
  };
  assert.equal(typeof at(keyed, 10, 10), 'object');
  assert.equal(typeof at(keyed, 19, 10), 'object');
  assert.equal(typeof at(keyed, 20, 10), 'string');
  assert.equal(typeof at(keyed, 9, 10), 'string');
  assert.equal(typeof at(met, 10, 10), 'string');
  assert.equal(typeof at(met, 11, 10), 'object');
  assert.equal(typeof at(met, 19, 10), 'object');
  assert.equal(typeof at(met, 20, 10), 'string');
  assert.equal(typeof at(met, 2, 0xfffffffe), 'object', 'wraps modulo 2^32');
});

test('no auth configured: authenticated packets are dropped', () => {
  const raw = encodeAuthenticated(p, { type: 'simple', keyId: 1, secret: 'x' }, 0);
  assert.match(verifyAuth(raw, decodeControl(raw), undefined, fresh, 3) as string, /no authentication/);
});

test('validateAuth says what is wrong', () => {
  assert.throws(() => validateAuth({ type: 'keyed-md5', keyId: 1, secret: 'x'.repeat(17) }), /1-16 bytes/);
  assert.throws(() => validateAuth({ type: 'keyed-sha1', keyId: 256, secret: 'x' }), /keyId must be 0-255/);
  assert.throws(() => validateAuth({ type: 'rot13' as 'simple', keyId: 1, secret: 'x' }), /unknown BFD auth type/);
  validateAuth({ type: 'keyed-sha1', keyId: 1, secret: 'x'.repeat(20) });
});
