// Cutting managedFields out of the API server's JSON text: the same as parsing and deleting them,
// whatever the strings hold (quotes, backslashes, brackets, the key's own text inside a value).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ListScanner, dropManagedFields } from '../../src/k8s/json-text.ts';
import { prng } from '../support/prng.ts';

const TRICKY = ['plain', 'managedFields', '"managedFields":[1,2]', 'a\\', '\\"', ']}', '{[', '\\\\"managedFields\\":', 'é \u2028 \u0000', ',"managedFields":{}', ''];

function randomValue(r: () => number, depth: number): unknown {
  const k = r();
  if (depth > 3 || k < 0.3) return TRICKY[Math.floor(r() * TRICKY.length)];
  if (k < 0.4) return Math.floor(r() * 1e6) / 8;
  if (k < 0.45) return r() < 0.5 ? null : true;
  if (k < 0.7) return Array.from({ length: Math.floor(r() * 4) }, () => randomValue(r, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = 0; i < Math.floor(r() * 4); i++) o[TRICKY[Math.floor(r() * TRICKY.length)] as string] = randomValue(r, depth + 1);
  return o;
}

/** What the text must parse to: the object with every managedFields member deleted. */
function withoutManagedFields(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutManagedFields);
  if (v === null || typeof v !== 'object') return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => k !== 'managedFields').map(([k, x]) => [k, withoutManagedFields(x)]));
}

test('dropManagedFields: the same as JSON.parse then deleting the members, on random objects with hostile strings', () => {
  const r = prng(13);
  for (let i = 0; i < 3000; i++) {
    const position = Math.floor(r() * 3);
    const mf = r() < 0.9 ? [{ manager: 'kubectl', fieldsV1: randomValue(r, 1) }, randomValue(r, 2)] : r() < 0.5 ? null : {};
    const meta: Record<string, unknown> = {};
    if (position === 0) meta.managedFields = mf;
    meta.name = randomValue(r, 3);
    if (position === 1) meta.managedFields = mf;
    meta.labels = randomValue(r, 1);
    if (position === 2) meta.managedFields = mf;
    const only = r() < 0.1;
    const obj = { kind: 'List', items: [{ metadata: only ? { managedFields: mf } : meta, spec: randomValue(r, 0) }, { metadata: { managedFields: [] } }], note: randomValue(r, 0) };
    const text = JSON.stringify(obj);
    const cut = dropManagedFields(text);
    assert.deepEqual(JSON.parse(cut), withoutManagedFields(obj), `case ${i}: ${text.slice(0, 300)}`);
    assert.ok(cut.length <= text.length);
  }
});

test('dropManagedFields: text without the key is returned as it is; pretty-printed or broken text is left to JSON.parse', () => {
  const plain = JSON.stringify({ metadata: { name: 'a' } });
  assert.equal(dropManagedFields(plain), plain);
  const pretty = JSON.stringify({ metadata: { name: 'a', managedFields: [{ a: 1 }] } }, null, 2);
  assert.deepEqual(JSON.parse(dropManagedFields(pretty)), JSON.parse(pretty), 'not compact: kept, still valid');
  const broken = '{"metadata":{"managedFields":[{"a":"unterminated';
  assert.equal(dropManagedFields(broken), broken);
  assert.throws(() => JSON.parse(dropManagedFields(broken)));
});

/** The scanner fed `text` in chunks cut at random byte offsets (inside UTF-8 sequences too). */
function scan(text: string, r: () => number, maxChunk: number): { items: unknown[]; envelope: unknown } {
  const bytes = Buffer.from(text, 'utf8');
  const items: unknown[] = [];
  const sc = new ListScanner((t) => items.push(JSON.parse(t) as unknown));
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + Math.floor(r() * maxChunk);
    sc.push(new Uint8Array(bytes.subarray(i, i + n)));
    i += n;
  }
  return { items, envelope: JSON.parse(sc.end()) as unknown };
}

test('ListScanner: each element of the top-level items array, and the list without them, as JSON.parse reads them, however the bytes are cut', () => {
  const r = prng(29);
  for (let i = 0; i < 3000; i++) {
    const items = Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, 0));
    // "items" inside an element or another member, names that start like it, at any position.
    const before: Record<string, unknown> = r() < 0.5 ? { kind: 'List', item: 1, itemsX: { items: [1] } } : { metadata: { items: randomValue(r, 1) }, 'it\\"ems': 2 };
    const after: Record<string, unknown> = r() < 0.5 ? { note: randomValue(r, 0) } : {};
    const obj = { ...before, items, ...after };
    const text = r() < 0.2 ? JSON.stringify(obj, null, 1) : JSON.stringify(obj);
    const got = scan(text, r, r() < 0.5 ? 8 : 4096);
    assert.deepEqual(got.items, items, `case ${i}: ${text.slice(0, 300)}`);
    assert.deepEqual(got.envelope, { ...obj, items: [] });
  }
});

test('ListScanner: what is not a JSON object with an items array is an error, not a wrong list', () => {
  const r = prng(3);
  for (const text of ['', '[]', '{}', '{"items":{}}', '{"items":null}', '{"kind":"List"}', '{"items":[1,2', '{"items":[{"a":"x}]}', '{"items":[1]} x', '{"items":[1]}{}', '}{"items":[]}']) {
    assert.throws(() => scan(text, r, 3), /not a list/, text);
  }
  assert.deepEqual(scan('{"items":[]}', r, 2), { items: [], envelope: { items: [] } });
  // An error from the reader of an element ends the scan with it.
  const sc = new ListScanner(() => {
    throw new Error('bad element');
  });
  assert.throws(() => sc.push(Buffer.from('{"items":[1,2]}')), /bad element/);
});
