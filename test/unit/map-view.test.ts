// MapView (src/util/map-view.ts): a read-only view of a Map that turns values into others or
// leaves entries out, without a copy. Random changes to the map, compared after each with a model
// (the view's rule applied to a copy).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MapView } from '../../src/util/map-view.ts';
import { prng } from '../support/prng.ts';

test('a view reads the map as it is: get, has, size, iteration and forEach equal a filtered copy after random changes', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const random = prng(seed);
    const rnd = (n: number): number => Math.floor(random() * n);
    const map = new Map<string, number>();
    // Odd values are left out; even ones are shown as text.
    const rule = (v: number, k: string): string | undefined => (v % 2 === 0 ? `${k}=${v}` : undefined);
    const view = new MapView(map, rule);
    const all = new MapView(map, (v: number) => v * 10, { keepsAll: true });
    for (let step = 0; step < 300; step++) {
      const k = `k${rnd(40)}`;
      const op = rnd(10);
      if (op < 6) map.set(k, rnd(6));
      else if (op < 9) map.delete(k);
      else map.clear();
      const model = new Map<string, string>();
      for (const [mk, v] of map) {
        const w = rule(v, mk);
        if (w !== undefined) model.set(mk, w);
      }
      const where = `seed ${seed} step ${step}`;
      assert.equal(view.size, model.size, `${where}: size`);
      assert.deepEqual([...view], [...model], `${where}: entries in the map's order`);
      assert.deepEqual([...view.keys()], [...model.keys()], `${where}: keys`);
      assert.deepEqual([...view.values()], [...model.values()], `${where}: values`);
      const seen: Array<[string, string]> = [];
      view.forEach((v, key, m) => {
        assert.equal(m, view);
        seen.push([key, v]);
      });
      assert.deepEqual(seen, [...model], `${where}: forEach`);
      for (let i = 0; i < 40; i++) {
        assert.equal(view.get(`k${i}`), model.get(`k${i}`), `${where}: get k${i}`);
        assert.equal(view.has(`k${i}`), model.has(`k${i}`), `${where}: has k${i}`);
      }
      assert.equal(all.size, map.size, `${where}: keepsAll size`);
      assert.deepEqual([...all], [...map].map(([mk, v]) => [mk, v * 10]), `${where}: keepsAll entries`);
    }
  }
});

test('iterating a view while the map changes follows the map (entries added meanwhile are seen, deleted ones not)', () => {
  const map = new Map<string, number>([['a', 0], ['b', 0], ['c', 0]]);
  const view = new MapView(map, (v: number) => v, { keepsAll: true });
  const seen: string[] = [];
  for (const [k] of view) {
    seen.push(k);
    if (k === 'a') {
      map.delete('b');
      map.set('d', 0);
    }
  }
  assert.deepEqual(seen, ['a', 'c', 'd']);
});
