// The shared byte reader/writer (src/util/bytes.ts) and the address vocabulary's wire helpers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader, ByteWriter } from '../../src/util/bytes.ts';
import { addressFromBytes, addressToBytes, bytesToAddress, familyOf, formatAddress, parseAddress, parseApiAddress } from '../../src/util/address.ts';

class CodecError extends Error {}

test('reader: big-endian fields, views, sub-readers; a short field throws the codec\'s own error', () => {
  const buf = Buffer.from([1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4, 0x68, 0x69, 9, 9]);
  const r = new ByteReader(buf, (what, at) => new CodecError(`${what}: ${at.need} at ${at.offset}, ${at.left} left`));
  assert.equal(r.u8('a'), 1);
  assert.equal(r.u16('b'), 2);
  assert.equal(r.u32('c'), 3);
  assert.equal(r.u64('d'), 4n);
  assert.equal(r.utf8(2, 'e'), 'hi');
  const sub = r.sub(2, 'f');
  assert.equal(r.remaining, 0);
  assert.equal(sub.u16('g'), 0x0909);
  assert.throws(() => sub.u8('h'), (e: unknown) => e instanceof CodecError && e.message === 'h: 1 at 19, 0 left');
  assert.throws(() => new ByteReader(Buffer.alloc(3)).u32('x'), /truncated: x needs 4 bytes at offset 0, 3 left/);
  // A reader over part of a buffer never reads past its end.
  const part = new ByteReader(Buffer.from([1, 2, 3, 4]), undefined, 1, 3);
  assert.equal(part.u16('y'), 0x0203);
  assert.throws(() => part.u8('z'), RangeError);
});

test('writer: fields in order; done() checks the size computed ahead', () => {
  const w = new ByteWriter(12).u8(1).u16(2).u32(3).fill(0xff, 2).bytes(Buffer.from([7])).utf8('ab');
  assert.deepEqual([...w.done()], [1, 0, 2, 0, 0, 0, 3, 0xff, 0xff, 7, 0x61, 0x62]);
  assert.throws(() => new ByteWriter(3).u8(1).done(), /wrote 1 of 3 bytes/);
  assert.throws(() => new ByteWriter(1).u8(256), RangeError);
});

test('addresses: one vocabulary from text to bytes and back', () => {
  assert.deepEqual(parseAddress('10.0.0.1'), { family: 'IPv4', value: 0x0a000001n });
  assert.equal(parseAddress(' 10.0.0.1'), undefined, 'no spaces: as CEL ip()');
  assert.equal(parseApiAddress('::ffff:10.0.0.1'), undefined, 'IPv4-mapped refused in API fields');
  assert.equal(formatAddress('IPv6', 0xfd00n << 112n | 1n), 'fd00::1');
  assert.deepEqual([...addressToBytes('10.1.2.3')], [10, 1, 2, 3]);
  assert.equal(addressToBytes('fe80::1%eth0').length, 16, 'a zone is local to the host');
  assert.throws(() => addressToBytes('10.0.0.256'), /octet 256 is over 255/);
  assert.equal(bytesToAddress(addressToBytes('::ffff:1.2.3.4')), '::ffff:1.2.3.4');
  assert.equal(bytesToAddress(Buffer.concat([Buffer.alloc(2), addressToBytes('2001:db8::5')]), 16, 2), '2001:db8::5');
  assert.deepEqual(addressFromBytes(addressToBytes('fd00::2')), parseAddress('fd00::2'));
  assert.equal(familyOf('fd00::/64'), 'IPv6');
  assert.equal(familyOf('10.0.0.0/8'), 'IPv4');
});
