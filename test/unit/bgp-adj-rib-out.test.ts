import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdjRibOut } from '../../src/bgp/adj-rib-out.ts';
import { AttrTable } from '../../src/bgp/attr-set.ts';

const attrs = new AttrTable().intern({ nextHop: '10.0.0.1' });
const routes = (n: number): Map<string, typeof attrs> => new Map(Array.from({ length: n }, (_, i) => [`10.1.${i >> 8}.${i & 255}/32`, attrs]));

for (const n of [1, 5, 1024, 1025, 5000]) {
  test(`replacing ${n} advertised routes with none withdraws every one of them`, () => {
    const rib = new AdjRibOut();
    rib.sessionUp();
    rib.replace(routes(n));
    rib.take();
    assert.equal(rib.advertisedCount, n);
    assert.equal(rib.replace(new Map()), true);
    const ch = rib.take();
    assert.equal(ch.withdraw.IPv4.length, n);
    assert.equal(rib.advertisedCount, 0);
    assert.equal(rib.pending, false);
  });
}

test('replacing one route of many withdraws exactly that one', () => {
  const rib = new AdjRibOut();
  rib.sessionUp();
  const all = routes(3000);
  rib.replace(all);
  rib.take();
  const fewer = new Map(all);
  fewer.delete('10.1.0.7/32');
  rib.replace(fewer);
  assert.deepEqual(rib.take().withdraw.IPv4, ['10.1.0.7/32']);
});
