// The API server's pure parts, table-driven: patches, selectors, JSONPath, schemas.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jsonPatch, mergePatch, strategicMerge, type Json } from '../../src/apiserver/patch.ts';
import { matchFields, matchLabels, parseFieldSelector, parseLabelSelector } from '../../src/apiserver/selectors.ts';
import { jsonPath } from '../../src/apiserver/jsonpath.ts';
import { applyDefaults, prune, validate, type Schema } from '../../src/apiserver/schema.ts';
import type { StatusCause } from '../../src/apiserver/errors.ts';

test('merge patch (RFC 7386 examples)', () => {
  const cases: [Json, Json, Json][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  ];
  for (const [target, patch, want] of cases) assert.deepEqual(mergePatch(target, patch), want, JSON.stringify({ target, patch }));
});

test('JSON patch (RFC 6902 operations)', () => {
  const doc: Json = { a: { b: [1, 2, 3] }, c: 'x' };
  assert.deepEqual(jsonPatch(doc, [{ op: 'add', path: '/a/b/1', value: 9 }]), { a: { b: [1, 9, 2, 3] }, c: 'x' });
  assert.deepEqual(jsonPatch(doc, [{ op: 'add', path: '/a/b/-', value: 4 }]), { a: { b: [1, 2, 3, 4] }, c: 'x' });
  assert.deepEqual(jsonPatch(doc, [{ op: 'remove', path: '/a/b/0' }]), { a: { b: [2, 3] }, c: 'x' });
  assert.deepEqual(jsonPatch(doc, [{ op: 'replace', path: '/c', value: 'y' }]), { a: { b: [1, 2, 3] }, c: 'y' });
  assert.deepEqual(jsonPatch(doc, [{ op: 'move', from: '/c', path: '/d' }]), { a: { b: [1, 2, 3] }, d: 'x' });
  assert.deepEqual(jsonPatch(doc, [{ op: 'copy', from: '/a/b', path: '/e' }]), { a: { b: [1, 2, 3] }, c: 'x', e: [1, 2, 3] });
  assert.deepEqual(jsonPatch(doc, [{ op: 'test', path: '/c', value: 'x' }, { op: 'add', path: '/a/~1k', value: 1 }]), { a: { b: [1, 2, 3], '/k': 1 }, c: 'x' });
  assert.deepEqual(doc, { a: { b: [1, 2, 3] }, c: 'x' }, 'the input is not modified');
  for (const bad of [[{ op: 'test', path: '/c', value: 'y' }], [{ op: 'remove', path: '/zz' }], [{ op: 'replace', path: '/a/b/7', value: 1 }], [{ op: 'add', path: '/q/r', value: 1 }]]) {
    assert.throws(() => jsonPatch(doc, bad), (e: { code?: number }) => e.code === 422, JSON.stringify(bad));
  }
  assert.throws(() => jsonPatch(doc, [{ op: 'frob', path: '/c' }]), (e: { code?: number }) => e.code === 400);
});

test('strategic merge patch approximation: keyed lists, directives', () => {
  const svc: Json = { spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'https', port: 443 }], selector: { app: 'a', tier: 't' } } };
  assert.deepEqual(strategicMerge(svc, { spec: { ports: [{ name: 'http', port: 80, targetPort: 9090 }], $setElementOrder: 'ignored' } }), {
    spec: { ports: [{ name: 'http', port: 80, targetPort: 9090 }, { name: 'https', port: 443 }], selector: { app: 'a', tier: 't' } },
  });
  assert.deepEqual((strategicMerge(svc, { spec: { ports: [{ name: 'https', $patch: 'delete' }] } }) as { spec: { ports: Json[] } }).spec.ports, [{ name: 'http', port: 80, targetPort: 8080 }]);
  assert.deepEqual((strategicMerge(svc, { spec: { $setElementOrder: null, 'ports': [{ name: 'dns', port: 53 }], '$setElementOrder/ports': [{ name: 'dns' }, { name: 'https' }, { name: 'http' }] } }) as { spec: { ports: { name: string }[] } }).spec.ports.map((p) => p.name), ['dns', 'https', 'http']);
  assert.deepEqual((strategicMerge(svc, { spec: { selector: { $patch: 'replace', app: 'b' } } }) as { spec: { selector: Json } }).spec.selector, { app: 'b' });
  assert.deepEqual(strategicMerge({ f: ['a', 'b', 'c'] }, { '$deleteFromPrimitiveList/f': ['b'] }), { f: ['a', 'c'] });
  assert.deepEqual(strategicMerge({ l: [1, 2] }, { l: [3] }), { l: [3] }, 'lists of scalars are replaced');
  assert.deepEqual(strategicMerge({ a: 1, b: 2 }, { $retainKeys: ['a'], a: 3 }), { a: 3 });
});

test('label selectors: every operator', () => {
  const labels = { app: 'web', tier: 'front', canary: '' };
  const cases: [string, boolean][] = [
    ['', true],
    ['app=web', true],
    ['app==web', true],
    ['app=db', false],
    ['app!=db', true],
    ['missing!=x', true],
    ['app in (web,db)', true],
    ['app in (db)', false],
    ['missing in (x)', false],
    ['app notin (db)', true],
    ['missing notin (x)', true],
    ['app notin (web, db)', false],
    ['canary', true],
    ['missing', false],
    ['!missing', true],
    ['!canary', false],
    ['app=web,tier in (front,back),!missing', true],
    ['app=web,tier=back', false],
  ];
  for (const [sel, want] of cases) assert.equal(matchLabels(parseLabelSelector(sel), labels), want, sel);
  for (const bad of ['a in b', '=x', 'a in (x']) assert.throws(() => parseLabelSelector(bad), (e: { code?: number }) => e.code === 400, bad);
});

test('field selectors on dotted fields', () => {
  const o = { metadata: { name: 'n', namespace: 'ns' }, spec: { type: 'LoadBalancer' } };
  const cases: [string, boolean][] = [
    ['metadata.name=n', true],
    ['metadata.name==n,metadata.namespace=ns', true],
    ['metadata.name!=n', false],
    ['spec.type=LoadBalancer', true],
    ['spec.nodeName=', true],
    ['spec.nodeName!=', false],
  ];
  for (const [sel, want] of cases) assert.equal(matchFields(parseFieldSelector(sel), o), want, sel);
});

test('JSONPath subset for printer columns', () => {
  const o = { spec: { addresses: ['a', 'b'], n: 3 }, status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'Synced', status: 'False' }] } };
  assert.deepEqual(jsonPath(o, '.spec.n'), [3]);
  assert.deepEqual(jsonPath(o, '.spec.addresses'), [['a', 'b']]);
  assert.deepEqual(jsonPath(o, '.spec.addresses[1]'), ['b']);
  assert.deepEqual(jsonPath(o, '.spec.addresses[*]'), ['a', 'b']);
  assert.deepEqual(jsonPath(o, '.status.conditions[?(@.type=="Synced")].status'), ['False']);
  assert.deepEqual(jsonPath(o, ".status.conditions[?(@.type!='Ready')].type"), ['Synced']);
  assert.deepEqual(jsonPath(o, '.spec.missing.deeper'), []);
  assert.deepEqual(jsonPath(o, '{.spec.n}'), [3]);
});

test('schema: defaults, pruning, validation causes with paths', () => {
  const schema: Schema = {
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string', minLength: 2, maxLength: 5 },
          n: { type: 'integer', default: 1, minimum: 0, exclusiveMaximum: true, maximum: 10 },
          list: { type: 'array', items: { type: 'object', properties: { k: { type: 'string', default: 'd' } } } },
          map: { type: 'object', additionalProperties: { type: 'integer' } },
          free: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
          maybe: { type: 'string', nullable: true },
          one: { oneOf: [{ type: 'string' }, { type: 'integer' }] },
        },
      },
    },
  };
  const input = { apiVersion: 'x/v1', kind: 'K', metadata: { name: 'm' }, spec: { name: 'ab', list: [{}, { k: 'z', junk: 1 }], map: { a: 1 }, free: { q: { r: 1 } }, junk: true, maybe: null } };
  const dropped: string[] = [];
  const out = applyDefaults(prune(input, schema, true, dropped), schema) as { spec: Record<string, unknown>; metadata: unknown };
  assert.deepEqual(dropped, ['spec.list[1].junk', 'spec.junk']);
  assert.deepEqual(out.spec, { name: 'ab', n: 1, list: [{ k: 'd' }, { k: 'z' }], map: { a: 1 }, free: { q: { r: 1 } }, maybe: null });
  assert.deepEqual(out.metadata, { name: 'm' }, 'metadata is kept');
  const causes = (spec: unknown): string[] => {
    const c: StatusCause[] = [];
    validate({ spec }, schema, '', c);
    return c.map((x) => `${x.field} ${x.reason}`);
  };
  assert.deepEqual(causes({ name: 'ab' }), []);
  assert.deepEqual(causes({}), ['spec.name FieldValueRequired']);
  assert.deepEqual(causes({ name: 'a' }), ['spec.name FieldValueInvalid']);
  assert.deepEqual(causes({ name: 'abcdef' }), ['spec.name FieldValueTooLong']);
  assert.deepEqual(causes({ name: 'ab', n: 10 }), ['spec.n FieldValueInvalid']);
  assert.deepEqual(causes({ name: 'ab', n: 1.5 }), ['spec.n FieldValueTypeInvalid']);
  assert.deepEqual(causes({ name: 'ab', map: { a: 'x' } }), ['spec.map.a FieldValueTypeInvalid']);
  assert.deepEqual(causes({ name: 'ab', list: [{ k: 1 }] }), ['spec.list[0].k FieldValueTypeInvalid']);
  assert.deepEqual(causes({ name: 'ab', one: true }), ['spec.one FieldValueInvalid']);
  assert.deepEqual(causes({ name: null }), ['spec.name FieldValueTypeInvalid']);
});
