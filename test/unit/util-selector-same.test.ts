// sameLabels: equal label maps by keys and values (the cache view shares a selector equal to the
// labels; the allocator keeps an unchanged request's objects).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sameLabels } from '../../src/util/selector.ts';

test('sameLabels: keys and values, not identity or order; absent is never the same', () => {
  assert.equal(sameLabels({ a: '1', b: '2' }, { b: '2', a: '1' }), true);
  assert.equal(sameLabels({}, {}), true);
  assert.equal(sameLabels({ a: '1' }, { a: '2' }), false);
  assert.equal(sameLabels({ a: '1' }, { a: '1', b: '2' }), false);
  assert.equal(sameLabels({ a: '1', b: '2' }, { a: '1', c: '2' }), false);
  assert.equal(sameLabels({ toString: 'x' }, {}), false);
  assert.equal(sameLabels(undefined, {}), false);
  assert.equal(sameLabels({}, undefined), false);
});
