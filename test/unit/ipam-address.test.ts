// Address parsing and formatting, pool entry parsing, and the free-interval tree against a model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalAddress, formatAddress, isBuggyIPv4, parseAddress, parseRange } from '../../src/ipam/index.ts';
import { FreeIntervals } from '../../src/ipam/intervals.ts';

test('addresses parse strictly and format canonically (RFC 5952)', () => {
  const table: Array<[string, string | undefined]> = [
    ['10.0.0.1', '10.0.0.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    [' 192.0.2.1 ', '192.0.2.1'],
    ['256.0.0.1', undefined],
    ['10.0.0', undefined],
    ['10.0.0.01', undefined],
    ['10.0.0.1.2', undefined],
    ['10.0.0.-1', undefined],
    ['', undefined],
    ['::', '::'],
    ['::1', '::1'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:1:1:1:1:1:0', '2001:db8:1:1:1:1:1:0'],
    ['2001:db8::1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['fd00::', 'fd00::'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['::192.0.2.1', '::c000:201'],
    ['1:2:3:4:5:6:192.0.2.1', '1:2:3:4:5:6:c000:201'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['1::2::3', undefined],
    ['fe80::1%eth0', undefined],
    ['12345::', undefined],
    [':1:2:3:4:5:6:7', undefined],
    ['1:2:3:4:5:6:7', undefined],
    ['::ffff:300.0.0.1', undefined],
    ['g::', undefined],
  ];
  for (const [text, want] of table) assert.equal(canonicalAddress(text), want, JSON.stringify(text));
});

test('format round-trips through parse at the edges of both families', () => {
  for (const v of [0n, 1n, (1n << 32n) - 1n, 0x0a000001n]) {
    const t = formatAddress('IPv4', v);
    assert.deepEqual(parseAddress(t), { family: 'IPv4', value: v });
  }
  for (const v of [0n, 1n, (1n << 128n) - 1n, 1n << 127n, (1n << 64n) + 5n, 0xfd00n << 112n]) {
    const t = formatAddress('IPv6', v);
    assert.deepEqual(parseAddress(t), { family: 'IPv6', value: v }, t);
  }
});

test('buggy IPv4 addresses are those ending in .0 or .255', () => {
  assert.equal(isBuggyIPv4(0x0a000000n), true);
  assert.equal(isBuggyIPv4(0x0a0000ffn), true);
  assert.equal(isBuggyIPv4(0x0a000001n), false);
  assert.equal(isBuggyIPv4(0x0a0000fen), false);
});

test('pool entries: CIDR, start-end, single address; errors say what to write', () => {
  const ok: Array<[string, string, bigint, bigint]> = [
    ['10.0.0.0/24', 'IPv4', 0x0a000000n, 0x0a0000ffn],
    ['10.0.0.7/32', 'IPv4', 0x0a000007n, 0x0a000007n],
    ['0.0.0.0/0', 'IPv4', 0n, (1n << 32n) - 1n],
    ['10.0.0.1 - 10.0.0.3', 'IPv4', 0x0a000001n, 0x0a000003n],
    ['10.0.0.9', 'IPv4', 0x0a000009n, 0x0a000009n],
    ['fd00::/8', 'IPv6', 0xfdn << 120n, (0xfdn << 120n) | ((1n << 120n) - 1n)],
    ['fd00::1-fd00::ffff', 'IPv6', (0xfd00n << 112n) + 1n, (0xfd00n << 112n) + 0xffffn],
  ];
  for (const [text, family, lo, hi] of ok) {
    const r = parseRange(text);
    assert.ok(r.ok, `${text}: ${r.ok ? '' : r.reason}`);
    assert.deepEqual([r.range.family, r.range.first, r.range.last], [family, lo, hi], text);
  }
  const bad: Array<[string, RegExp]> = [
    ['10.0.0.1/24', /host bits set; the network address is 10\.0\.0\.0\/24/],
    ['fd00::1/64', /network address is fd00::\/64/],
    ['10.0.0.0/33', /prefix length 33, longer than the 32 bits of an IPv4 address/],
    ['fd00::/129', /longer than the 128 bits/],
    ['10.0.0.0/x', /not a valid CIDR/],
    ['10.0.0.0/8/8', /not a valid CIDR/],
    ['10.0.0.5-10.0.0.1', /has its start after its end/],
    ['10.0.0.1-fd00::1', /mixes IPv4 and IPv6/],
    ['10.0.0.1-10.0.0.2-10.0.0.3', /not a valid range/],
    ['10.0.0.1-banana', /"banana" is not an IP address/],
    ['pool', /not an address, CIDR or range/],
  ];
  for (const [text, re] of bad) {
    const r = parseRange(text);
    assert.ok(!r.ok, text);
    assert.match(r.reason, re, text);
  }
});

/** A tiny deterministic PRNG (LCG) so the model test is reproducible. */
function lcg(seed: number): (n: number) => number {
  let s = seed;
  return (n) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % n;
  };
}

test('free intervals behave like a set of free indexes (model check, bounded)', () => {
  const rnd = lcg(7);
  const free = new FreeIntervals();
  const model = new Set<number>();
  // Two disjoint ranges with a hole between them, like a pool with two entries.
  free.addRange(0n, 199n);
  free.addRange(300n, 499n);
  for (let i = 0; i < 200; i++) model.add(i);
  for (let i = 300; i < 500; i++) model.add(i);
  for (let step = 0; step < 5000; step++) {
    const op = rnd(3);
    const i = rnd(520);
    if (op === 0) assert.equal(free.take(BigInt(i)), model.delete(i), `take ${i}`);
    else if (op === 1) {
      const inRange = i < 200 || (i >= 300 && i < 500);
      if (inRange) {
        const was = model.has(i);
        model.add(i);
        assert.equal(free.give(BigInt(i)), !was, `give ${i}`);
      }
    } else {
      const lowest = free.takeLowest();
      const m = model.size === 0 ? undefined : Math.min(...model);
      assert.equal(lowest, m === undefined ? undefined : BigInt(m), 'lowest');
      if (m !== undefined) model.delete(m);
    }
    assert.equal(free.size, BigInt(model.size), 'size');
    if (step % 250 === 0) {
      // Intervals are disjoint, ordered, maximal, and cover exactly the model.
      let prevHi = -2n;
      let covered = 0n;
      for (const [lo, hi] of free) {
        assert.ok(lo > prevHi + 1n, `intervals ${prevHi} and ${lo} must be merged or ordered`);
        covered += hi - lo + 1n;
        for (let x = lo; x <= hi; x++) assert.ok(model.has(Number(x)), `${x} free in the tree but not in the model`);
        prevHi = hi;
      }
      assert.equal(covered, BigInt(model.size));
    }
  }
});

test('free intervals: adding overlapping space is an internal error, not silent corruption', () => {
  const free = new FreeIntervals();
  free.addRange(10n, 20n);
  assert.throws(() => free.addRange(15n, 30n), /overlaps/);
  assert.throws(() => free.addRange(0n, 10n), /overlaps/);
  free.addRange(21n, 30n);
  assert.deepEqual([...free], [[10n, 30n]]);
  assert.equal(free.intervals, 1);
});
