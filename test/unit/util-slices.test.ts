// Sorting in slices: the same order as Array.prototype.sort (stable), with the event loop given
// turns meanwhile (a restart sorts 100,000 Services while health probes must be answered).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Slicer, sortInSlices } from '../../src/util/slices.ts';
import { prng } from '../support/prng.ts';

test('sortInSlices: the same result as a stable sort, for sizes around the run and merge boundaries', async () => {
  const r = prng(7);
  for (const n of [0, 1, 2, 1023, 1024, 1025, 2048, 3000, 5000, 20_000]) {
    // Few distinct keys, so ties are many: stability shows in the tags' order.
    const items = Array.from({ length: n }, (_, i) => ({ key: Math.floor(r() * 50), tag: i }));
    const cmp = (a: { key: number }, b: { key: number }) => a.key - b.key;
    const want = [...items].sort(cmp);
    const got = await sortInSlices(items, cmp);
    assert.deepEqual(got, want, `n=${n}`);
    assert.equal(items[0]?.tag ?? 0, 0, 'the input is left as it was');
  }
});

test('sortInSlices: the event loop gets turns while a long sort runs', async () => {
  let turns = 0;
  let running = true;
  const tick = () => {
    turns++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const r = prng(9);
  const items = Array.from({ length: 50_000 }, () => r());
  // A slice of 0 ms: every opportunity yields.
  const got = await sortInSlices(items, (a, b) => a - b, new Slicer(0));
  running = false;
  assert.deepEqual(got, [...items].sort((a, b) => a - b));
  assert.ok(turns > 40, `only ${turns} turns of the event loop during the sort`);
});
