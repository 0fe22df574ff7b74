// Cutting managedFields out of the API server's JSON text: the same as parsing and deleting them,
// whatever the strings hold (quotes, backslashes, brackets, the key's own text inside a value).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dropManagedFields, listItemRanges } from '../../src/k8s/json-text.ts';
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

test('listItemRanges: each element of the top-level items array, and the list without them, as JSON.parse reads them', () => {
  const r = prng(29);
  for (let i = 0; i < 3000; i++) {
    const items = Array.from({ length: Math.floor(r() * 5) }, () => randomValue(r, 0));
    // "items" inside an element or another member, and at any position among the members.
    const before: Record<string, unknown> = r() < 0.5 ? { kind: 'List', items2: { items: [1] } } : { metadata: { items: randomValue(r, 1) } };
    const after: Record<string, unknown> = r() < 0.5 ? { note: randomValue(r, 0) } : {};
    const obj = { ...before, items, ...after };
    const text = JSON.stringify(obj);
    const got = listItemRanges(text);
    assert.ok(got, `case ${i}: ${text.slice(0, 300)}`);
    assert.deepEqual(got.items.map(([s, e]) => JSON.parse(text.slice(s, e)) as unknown), items, `case ${i}: ${text.slice(0, 300)}`);
    assert.deepEqual(JSON.parse(got.envelope), { ...obj, items: [] });
  }
});

test('listItemRanges: undefined for what is not a compact object with an items array (the caller parses it whole)', () => {
  for (const text of ['', '[]', '{}', '{"items":{}}', '{"kind":"List"}', JSON.stringify({ items: [1] }, null, 1), '{"items":[1,2', '{"items":[{"a":"x}]}', '{"items":[1]} x', '{"items":[1]']) {
    assert.equal(listItemRanges(text), undefined, text);
  }
  assert.deepEqual(listItemRanges('{"items":[]}'), { envelope: '{"items":[]}', items: [] });
  assert.deepEqual(listItemRanges('{"items":[1],"items":[2]}')?.items, [[10, 11]], 'a repeated key: the first (JSON.parse would keep the last; the API server writes one)');
});
