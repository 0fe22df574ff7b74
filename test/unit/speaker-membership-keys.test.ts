// The membership keys a speaker reads from its Secret: one key, or a list during a rotation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { membershipKeys } from '../../src/speaker/membership-keys.ts';

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const REF = 'ironlb-system/ironlb-membership';

test('Secret data to membership keys: secretkey, a single other key, a secretkeys list; errors say what to do', () => {
  const cases: Array<{ name: string; data: Record<string, string> | undefined; keys?: string[]; error?: RegExp }> = [
    { name: 'secretkey', data: { secretkey: b64('0123456789abcdef0123') }, keys: ['0123456789abcdef0123'] },
    { name: 'the only key, whatever its name', data: { key: b64('0123456789abcdef0123') }, keys: ['0123456789abcdef0123'] },
    { name: 'a list wins over secretkey; first signs', data: { secretkey: b64('old-0123456789abcdef'), secretkeys: b64('new-0123456789abcdef\nold-0123456789abcdef\n') }, keys: ['new-0123456789abcdef', 'old-0123456789abcdef'] },
    { name: 'no Secret', data: undefined, error: /ironlb-membership is missing or has no "secretkey" key: create it with kubectl/ },
    { name: 'two keys, neither secretkey', data: { a: b64('0123456789abcdef0123'), b: b64('0123456789abcdef0123') }, error: /no "secretkey" key/ },
    { name: 'short key', data: { secretkey: b64('short') }, error: /"secretkey": 5 bytes; use at least 16/ },
    { name: 'short key in a list', data: { secretkeys: b64('0123456789abcdef0123\nshort') }, error: /"secretkeys": membership key list: key 2 is 5 bytes/ },
    { name: 'empty list', data: { secretkeys: b64('\n') }, error: /"secretkeys": membership key list is empty/ },
  ];
  for (const c of cases) {
    const r = membershipKeys(c.data, REF);
    if (c.keys) {
      assert.ok(r.ok, `${c.name}: ${r.ok ? '' : r.error}`);
      assert.deepEqual(r.keys.map((k) => k.toString()), c.keys, c.name);
    } else {
      assert.ok(!r.ok, c.name);
      assert.match(r.error, c.error!, c.name);
    }
  }
  // A single key may be any bytes (e.g. --from-file of random bytes), newlines included.
  const raw = Buffer.from([10, ...Array.from({ length: 31 }, (_, i) => i * 7)]);
  const r = membershipKeys({ secretkey: raw.toString('base64') }, REF);
  assert.ok(r.ok && r.keys[0]!.equals(raw));
});

// The chart keeping a secretkeys list on upgrade is tested with real helm in test/integration/install-apply.test.ts.
