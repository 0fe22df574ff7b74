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

test('random changes, sessions, refreshes and partial takes: the peer ends with exactly the desired routes, nothing sent twice', () => {
  // A model peer applies every UPDATE taken; the Adj-RIB-Out keeps what was sent only as its
  // difference from the desired routes, so this checks that bookkeeping against the peer's table.
  const table = new AttrTable();
  const sets = [table.intern({ nextHop: '10.0.0.1' }), table.intern({ nextHop: '10.0.0.1', localPref: 200 }), table.intern({ nextHop: '10.0.0.2' })];
  const prefixes = [...Array.from({ length: 40 }, (_, i) => `10.2.0.${i}/32`), ...Array.from({ length: 10 }, (_, i) => `2001:db8::${i + 1}/128`)];
  for (let seed = 1; seed <= 30; seed++) {
    let x = seed * 7919;
    const rnd = (n: number): number => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return (x >>> 8) % n;
    };
    const pick = <T>(xs: readonly T[]): T => xs[rnd(xs.length)] as T;
    const rib = new AdjRibOut();
    const peer = new Map<string, (typeof sets)[number]>();
    let up = false;
    const take = (limit = Infinity): string[] => {
      const ch = rib.take(limit);
      const taken: string[] = [];
      for (const fam of ['IPv4', 'IPv6'] as const) {
        for (const p of ch.withdraw[fam]) {
          assert.ok(peer.has(p), `seed ${seed}: withdrew ${p}, which the peer does not have`);
          peer.delete(p);
        }
        for (const [a, ps] of ch.announce[fam]) {
          for (const p of ps) {
            assert.notEqual(peer.get(p), a, `seed ${seed}: announced ${p} again with the same attributes`);
            peer.set(p, a);
            taken.push(p);
          }
        }
      }
      return taken;
    };
    for (let step = 0; step < 400; step++) {
      const op = rnd(100);
      const where = `seed ${seed} step ${step}`;
      if (op < 30) rib.set(pick(prefixes), pick(sets));
      else if (op < 45) rib.remove(pick(prefixes));
      else if (op < 53) {
        const m = new Map<string, (typeof sets)[number]>();
        const n = rnd(3) === 0 ? 0 : rnd(prefixes.length);
        for (let i = 0; i < n; i++) m.set(pick(prefixes), pick(sets));
        rib.replace(m);
      } else if (op < 58) {
        const bulk = rib.beginBulk();
        for (let i = rnd(20); i > 0; i--) {
          if (rnd(3) === 0) bulk.remove(pick(prefixes));
          else bulk.set(pick(prefixes), pick(sets));
        }
        bulk.end();
      } else if (op < 62) {
        rib.sessionUp();
        up = true;
        peer.clear();
      } else if (op < 64) {
        rib.sessionDown();
        up = false;
        peer.clear();
      } else if (op < 67 && up) {
        // The peer asked for the family again: everything of it is sent anew.
        const fam = pick(['IPv4', 'IPv6'] as const);
        rib.refresh(fam);
        for (const p of [...peer.keys()]) if (p.includes(':') === (fam === 'IPv6')) peer.delete(p);
      } else if (up) take(1 + rnd(30));
      assert.equal(rib.advertisedCount, up ? peer.size : 0, `${where}: routes advertised`);
      if (up && rnd(10) === 0) {
        for (let i = 0; i < 100 && rib.pending; i++) take(1 + rnd(30));
        assert.equal(rib.pending, false, `${where}: still pending after 100 takes`);
        assert.deepEqual(new Map([...peer].sort()), new Map([...rib.desired].sort()), `${where}: the peer has the desired routes`);
      }
    }
  }
});

test('unsent routes (not encodable for the session) are not advertised, and go out after they change', () => {
  const table = new AttrTable();
  const a = table.intern({ nextHop: '10.0.0.1' });
  const b = table.intern({ nextHop: '10.0.0.2' });
  const rib = new AdjRibOut();
  rib.sessionUp();
  rib.replace(new Map([['10.3.0.1/32', a], ['10.3.0.2/32', a]]));
  assert.equal(rib.take().announce.IPv4.get(a)?.length, 2);
  rib.unsend(['10.3.0.2/32']);
  assert.equal(rib.advertisedCount, 1);
  assert.equal(rib.pending, false);
  rib.set('10.3.0.2/32', b);
  assert.deepEqual(rib.take().announce.IPv4.get(b), ['10.3.0.2/32']);
  assert.equal(rib.advertisedCount, 2);
  rib.remove('10.3.0.2/32');
  assert.deepEqual(rib.take().withdraw.IPv4, ['10.3.0.2/32']);
  assert.equal(rib.advertisedCount, 1);
});
