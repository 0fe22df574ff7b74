// Packed port lists (src/ipam/ports.ts) against a plain model, and the allocator's port conflicts
// between Services with few and many ports, given as objects or packed, all alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commonKey, hasKey, keyPort, packPorts, portKey, sameKeys } from '../../src/ipam/ports.ts';
import { Allocator, type Port, type Protocol } from '../../src/ipam/index.ts';
import { prng } from '../support/prng.ts';

const PROTOS: Protocol[] = ['TCP', 'UDP', 'SCTP'];

function randomPorts(r: () => number, n: number, span: number): Port[] {
  return Array.from({ length: n }, () => ({ protocol: PROTOS[Math.floor(r() * 3)] as Protocol, port: 1 + Math.floor(r() * span) }));
}

test('packPorts: sorted, each port once, and back to the same ports; lookups and merges as a set would answer', () => {
  const r = prng(7);
  for (let i = 0; i < 500; i++) {
    const a = randomPorts(r, Math.floor(r() * 60), 1 + Math.floor(r() * 200));
    const b = randomPorts(r, Math.floor(r() * 60), 1 + Math.floor(r() * 200));
    const [ka, kb] = [packPorts(a) as Int32Array, packPorts(b) as Int32Array];
    const text = (p: Port) => `${p.protocol}/${p.port}`;
    const [sa, sb] = [new Set(a.map(text)), new Set(b.map(text))];
    assert.deepEqual(new Set(Array.from(ka, (k) => text(keyPort(k)))), sa);
    assert.equal(ka.length, sa.size);
    for (let j = 1; j < ka.length; j++) assert.ok((ka[j - 1] as number) < (ka[j] as number), 'sorted, unique');
    for (const p of b) assert.equal(hasKey(ka, portKey(p)), sa.has(text(p)));
    const both = [...sa].filter((t) => sb.has(t)).map((t) => portKey({ protocol: t.split('/')[0], port: Number(t.split('/')[1]) }));
    assert.equal(commonKey(ka, kb), both.length ? Math.min(...both) : -1);
    assert.equal(sameKeys(ka, kb), sa.size === sb.size && [...sa].every((t) => sb.has(t)));
  }
});

test('packPorts: no packed form for a port outside 0-65535, a fraction, or an unknown protocol', () => {
  for (const p of [{ protocol: 'TCP', port: 70_000 }, { protocol: 'TCP', port: -1 }, { protocol: 'TCP', port: 8.5 }, { protocol: 'HTTP', port: 80 }, { protocol: 'TCP', port: Number.NaN }]) {
    assert.equal(portKey(p), -1, JSON.stringify(p));
    assert.equal(packPorts([{ protocol: 'TCP', port: 80 }, p]), undefined);
  }
  assert.deepEqual(keyPort(portKey({ protocol: undefined, port: 53 })), { protocol: 'TCP', port: 53 }, 'no protocol is TCP, as in Kubernetes');
});

test('allocator: port conflicts between few and many ports, as objects or packed, all alike', () => {
  const r = prng(11);
  let conflicts = 0;
  for (let i = 0; i < 200; i++) {
    const sizes = [Math.floor(r() * 40), Math.floor(r() * 40)];
    const lists = sizes.map((n) => randomPorts(r, n, 150));
    const outcomes: string[] = [];
    for (const packed of [[false, false], [true, false], [false, true], [true, true]]) {
      const a = new Allocator();
      a.setPools([{ name: 'p', addresses: ['10.9.0.1/32'] }]);
      const req = (k: number) => ({ key: `ns/s${k}`, namespace: 'ns', sharingKey: 'k', requestedAddresses: ['10.9.0.1'], ...(packed[k] ? { packedPorts: packPorts(lists[k] as Port[]) as Int32Array } : { ports: lists[k] as Port[] }) });
      const first = a.assign(req(0));
      assert.ok(first.ok, `case ${i}: ${first.ok ? '' : first.message}`);
      const second = a.assign(req(1));
      outcomes.push(second.ok ? 'ok' : `${second.reason}: ${second.message}`);
    }
    assert.equal(new Set(outcomes).size, 1, `case ${i}: ${outcomes.join(', ')}`);
    if (outcomes[0]?.startsWith('PortConflict')) conflicts++;
  }
  assert.ok(conflicts > 20 && conflicts < 180, `both outcomes exercised: ${conflicts} conflicts of 200`);
});

test('allocator: a port without a packed form is refused with the port named', () => {
  const a = new Allocator();
  a.setPools([{ name: 'p', addresses: ['10.9.0.1/32'] }]);
  const res = a.assign({ key: 'ns/bad', namespace: 'ns', ports: [{ protocol: 'TCP', port: 80 }, { protocol: 'TCP', port: 70_000 }] });
  assert.equal(res.ok, false);
  assert.match(res.ok ? '' : res.message, /Service ns\/bad lists port "70000"\/"TCP"; a port is an integer 0-65535/);
});
