// Big pools: 100k Services in an IPv6 /64, an IPv6 /8 and an IPv4 /8, with costs that must not
// grow with the pool or (beyond log n) with the addresses in use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { Allocator, type ServiceRequest } from '../../src/ipam/index.ts';

const svc = (i: number, extra: Partial<ServiceRequest> = {}): ServiceRequest => ({ key: `ns/s${i}`, namespace: 'ns', ipFamilies: ['IPv6'], ...extra });

/** Median of per-call microseconds over `n` calls of fn(i). */
function medianMicros(n: number, fn: (i: number) => void): number {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    fn(i);
    t.push((performance.now() - s) * 1000);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(n / 2)] as number;
}

test('IPv6 /64: 100k allocations, fragmentation, and costs that do not grow with use', () => {
  const a = new Allocator();
  assert.equal(a.setPools([{ name: 'v6', addresses: ['fd00:0:0:1::/64'] }]).ok, true);
  const N = 100_000;
  const early = medianMicros(2000, (i) => {
    const r = a.assign(svc(i));
    assert.ok(r.ok);
  });
  const start = performance.now();
  for (let i = 2000; i < N; i++) {
    const r = a.assign(svc(i));
    if (!r.ok) assert.fail(`${i}: ${r.message}`);
  }
  const totalMs = performance.now() - start;
  assert.deepEqual(a.lookup('ns/s0')?.addresses, ['fd00:0:0:1::']);
  assert.deepEqual(a.lookup(`ns/s${N - 1}`)?.addresses, ['fd00::1:0:0:1:869f']);
  const u = a.poolUsage('v6');
  assert.equal(u?.IPv6.assigned, BigInt(N));
  assert.equal(u?.IPv6.available, (1n << 64n) - BigInt(N));
  // Sequential use leaves one free interval: memory follows addresses in use, not the /64.
  assert.equal(a.freeIntervals('v6', 'IPv6'), 1);

  // Free every other address: the worst fragmentation, one free interval per released address.
  for (let i = 0; i < N; i += 2) a.release(`ns/s${i}`);
  assert.equal(a.freeIntervals('v6', 'IPv6'), N / 2 + 1);
  // Refill: each new Service takes the lowest hole, in order, at a cost close to an empty pool's.
  const late = medianMicros(2000, (i) => {
    const r = a.assign(svc(N + i));
    assert.ok(r.ok);
  });
  assert.deepEqual(a.lookup(`ns/s${N}`)?.addresses, ['fd00:0:0:1::']);
  assert.deepEqual(a.lookup(`ns/s${N + 1}`)?.addresses, ['fd00:0:0:1::2']);
  // A linear scan would be ~50,000x slower here; allow a wide margin for a loaded machine.
  assert.ok(late < early * 20 + 50, `allocation with 100k in use: median ${late.toFixed(1)} µs vs ${early.toFixed(1)} µs when empty`);
  assert.ok(totalMs < 60_000, `100k allocations took ${totalMs.toFixed(0)} ms`);
});

test('an IPv6 /8 pool does not blow up: sizes are exact, requests at the far end work', () => {
  const a = new Allocator();
  assert.equal(a.setPools([{ name: 'huge', addresses: ['fd00::/8'] }]).ok, true);
  const u = a.poolUsage('huge');
  assert.equal(u?.IPv6.total, 1n << 120n);
  assert.equal(u?.IPv6.available, 1n << 120n);
  assert.deepEqual(a.assign(svc(1)).ok && a.lookup('ns/s1')?.addresses, ['fd00::']);
  const top = a.assign(svc(2, { requestedAddresses: ['fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'] }));
  assert.ok(top.ok, top.ok ? '' : top.message);
  const mid = a.assign(svc(3, { requestedAddresses: ['fd12:3456::789'] }));
  assert.ok(mid.ok);
  assert.equal(a.assign(svc(4)).ok && a.lookup('ns/s4')?.addresses[0], 'fd00::1');
  assert.equal(a.freeIntervals('huge', 'IPv6'), 2);
  assert.equal(a.poolUsage('huge')?.IPv6.assigned, 4n);
  // Even the whole IPv6 space is just one interval.
  const b = new Allocator();
  assert.equal(b.setPools([{ name: 'all', addresses: ['::/0', '0.0.0.0/0'] }]).ok, true);
  assert.equal(b.poolUsage('all')?.IPv6.total, 1n << 128n);
  assert.equal(b.poolUsage('all')?.IPv4.total, 1n << 32n);
});

test('IPv4 /8 with avoidBuggyIPs: .0/.255 never handed out, found without scanning', () => {
  const a = new Allocator();
  assert.equal(a.setPools([{ name: 'p', addresses: ['10.0.0.0/8'], avoidBuggyIPs: true }]).ok, true);
  assert.equal(a.poolUsage('p')?.IPv4.total, 65536n * 254n);
  const v4 = (i: number): ServiceRequest => ({ key: `ns/s${i}`, namespace: 'ns', ipFamilies: ['IPv4'] });
  // 254 * 40 Services fill 40 /24s exactly; the next one lands on .1 of the 41st.
  for (let i = 0; i < 254 * 40; i++) {
    const r = a.assign(v4(i));
    if (!r.ok) assert.fail(r.message);
    const last = Number((r.addresses[0] as string).split('.')[3]);
    assert.ok(last !== 0 && last !== 255, r.addresses[0]);
  }
  assert.equal(a.lookup('ns/s253')?.addresses[0], '10.0.0.254');
  assert.equal(a.lookup('ns/s254')?.addresses[0], '10.0.1.1');
  assert.equal(a.assign(v4(99_999)).ok && a.lookup('ns/s99999')?.addresses[0], '10.0.40.1');
  // The skipped addresses leave no holes in the free space.
  assert.equal(a.freeIntervals('p', 'IPv4'), 1);
});
