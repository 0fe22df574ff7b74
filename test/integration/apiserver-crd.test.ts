// CustomResourceDefinitions: registered through the API or preloaded from files; schema defaults,
// validation (422 with field paths), pruning, strict field validation, the status subresource.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiException, ApiextensionsV1Api, loadYaml, PatchStrategy, setHeaderOptions, type V1CustomResourceDefinition } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { startTestApiServer, widgetCrd } from '../support/apiserver.ts';

async function failure(p: Promise<unknown>): Promise<{ code: number; body: { reason?: string; message?: string; details?: { causes?: { field?: string; reason?: string }[] } } }> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiException, String(err));
    return { code: err.code, body: typeof err.body === 'string' ? JSON.parse(err.body) : (err.body as object) };
  }
  assert.fail('expected the call to fail');
}

test('CRD created through the API is served with its schema applied', async (t) => {
  const s = await startTestApiServer();
  t.after(() => s.close());
  const ext = s.kc.makeApiClient(ApiextensionsV1Api);
  // Through the typed client: its serializer maps `_default`/`xKubernetes...` back to the wire names.
  const typed = loadYaml<V1CustomResourceDefinition>(JSON.stringify(widgetCrd));
  const crd = await ext.createCustomResourceDefinition({ body: typed });
  assert.ok(crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'));

  const disco = (await (await fetch(`${s.url}/apis/test.ironlb.io/v1`)).json()) as { resources: { name: string; namespaced: boolean; shortNames?: string[] }[] };
  assert.deepEqual(disco.resources.map((r) => r.name), ['widgets', 'widgets/status']);
  assert.deepEqual(disco.resources[0]?.shortNames, ['wg']);

  const ref = { group: 'test.ironlb.io', version: 'v1', namespace: 'default', plural: 'widgets' };
  const created = (await s.custom.createNamespacedCustomObject({
    ...ref,
    body: { apiVersion: 'test.ironlb.io/v1', kind: 'Widget', metadata: { name: 'w1' }, spec: { name: 'abc', bogus: 1, extra: { any: { thing: true } }, port: 'http' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
  })) as { spec: Record<string, unknown>; status?: unknown; metadata: { resourceVersion: string; generation: number } };
  assert.equal(created.spec.size, 3, 'default applied');
  assert.equal(created.spec.mode, 'fast', 'default applied');
  assert.equal(created.spec.bogus, undefined, 'unknown field pruned');
  assert.deepEqual(created.spec.extra, { any: { thing: true } }, 'x-kubernetes-preserve-unknown-fields keeps what is under it');
  assert.equal(created.status, undefined, 'status is not set on create when the status subresource exists');

  // Validation: one cause per bad field, with its path.
  const bad = await failure(s.custom.createNamespacedCustomObject({ ...ref, body: { apiVersion: 'test.ironlb.io/v1', kind: 'Widget', metadata: { name: 'w2' }, spec: { name: 'ABC', size: 11, mode: 'medium', tags: ['a', 'b', 'c'], port: 1.5 } } }));
  assert.equal(bad.code, 422);
  assert.equal(bad.body.reason, 'Invalid');
  const fields = (bad.body.details?.causes ?? []).map((c) => `${c.field} ${c.reason}`).sort();
  assert.deepEqual(fields, ['spec.mode FieldValueNotSupported', 'spec.name FieldValueInvalid', 'spec.port FieldValueTypeInvalid', 'spec.size FieldValueInvalid', 'spec.tags FieldValueTooMany']);
  assert.match(bad.body.message ?? '', /Widget\.test\.ironlb\.io "w2" is invalid/);
  const missing = await failure(s.custom.createNamespacedCustomObject({ ...ref, body: { apiVersion: 'test.ironlb.io/v1', kind: 'Widget', metadata: { name: 'w3' }, spec: {} } }));
  assert.deepEqual(missing.body.details?.causes?.map((c) => `${c.field} ${c.reason}`), ['spec.name FieldValueRequired']);
  const wrongType = await failure(s.custom.createNamespacedCustomObject({ ...ref, body: { apiVersion: 'test.ironlb.io/v1', kind: 'Widget', metadata: { name: 'w4' }, spec: 'nope' } }));
  assert.equal(wrongType.code, 422);

  // Strict field validation (what kubectl apply asks for) rejects unknown fields instead of pruning them.
  const strict = await failure(s.custom.createNamespacedCustomObject({ ...ref, fieldValidation: 'Strict', body: { apiVersion: 'test.ironlb.io/v1', kind: 'Widget', metadata: { name: 'w5' }, spec: { name: 'x', nope: 1 } } }));
  assert.equal(strict.code, 400);
  assert.match(strict.body.message ?? '', /unknown field "spec.nope"/);

  // Status subresource: the main resource ignores status, /status writes only status.
  const st = (await s.custom.patchNamespacedCustomObjectStatus({ ...ref, name: 'w1', body: { status: { conditions: [{ type: 'Ready', status: 'False' }] }, spec: { size: 9 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))) as { spec: { size: number }; status: { conditions: unknown[] }; metadata: { generation: number } };
  assert.deepEqual(st.status.conditions, [{ type: 'Ready', status: 'False' }]);
  assert.equal(st.spec.size, 3, 'spec is not changed through /status');
  assert.equal(st.metadata.generation, 1);
  const upd = (await s.custom.patchNamespacedCustomObject({ ...ref, name: 'w1', body: { spec: { size: 5 }, status: { conditions: [] } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))) as typeof st;
  assert.equal(upd.spec.size, 5);
  assert.equal(upd.status.conditions.length, 1, 'status is not changed through the main resource');
  assert.equal(upd.metadata.generation, 2, 'a spec change bumps generation');
  const smp = await failure(s.custom.patchNamespacedCustomObject({ ...ref, name: 'w1', body: { spec: { size: 6 } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch)));
  assert.equal(smp.code, 415, 'strategic merge patch is not served for custom resources, as on the real server');
  const invalidPatch = await failure(s.custom.patchNamespacedCustomObject({ ...ref, name: 'w1', body: { spec: { size: 50 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)));
  assert.equal(invalidPatch.code, 422);

  // Deleting the CRD stops serving it and removes its objects.
  await ext.deleteCustomResourceDefinition({ name: 'widgets.test.ironlb.io' });
  assert.equal((await fetch(`${s.url}/apis/test.ironlb.io/v1/namespaces/default/widgets`)).status, 404);
  assert.equal((await fetch(`${s.url}/apis/test.ironlb.io/v1`)).status, 404);
});

test('CRDs preloaded from files; an invalid CRD is refused with its fields', async (t) => {
  const dir = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'ironlb-crd-'));
  const file = join(dir, 'widgets.yaml');
  writeFileSync(file, `# a comment\n---\n${stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ignored' } })}---\n${stringify(widgetCrd)}`);
  const projectCrds = join(import.meta.dirname, '../../deploy/crds');
  const projectFiles = existsSync(projectCrds) ? readdirSync(projectCrds).filter((f) => f.endsWith('.yaml')).map((f) => join(projectCrds, f)) : [];
  const s = await startTestApiServer({ crds: [file, ...projectFiles] });
  t.after(async () => {
    await s.close();
    (await import('node:fs')).rmSync(dir, { recursive: true, force: true });
  });
  const groups = (await (await fetch(`${s.url}/apis`)).json()) as { groups: { name: string }[] };
  assert.ok(groups.groups.some((g) => g.name === 'test.ironlb.io'));
  // Every project CRD (deploy/crds, written by the API area) is accepted and served.
  const ext = s.kc.makeApiClient(ApiextensionsV1Api);
  const served = (await ext.listCustomResourceDefinition()).items.map((c) => c.metadata?.name);
  assert.equal(served.length, 1 + projectFiles.length);
  for (const c of (await ext.listCustomResourceDefinition()).items) {
    const v = c.spec.versions[0]!;
    const path = `${s.url}/apis/${c.spec.group}/${v.name}${c.spec.scope === 'Namespaced' ? '/namespaces/default' : ''}/${c.spec.names.plural}`;
    assert.equal((await fetch(path)).status, 200, `${path} is served`);
  }

  const bad = await failure(ext.createCustomResourceDefinition({ body: { metadata: { name: 'wrong.name' }, spec: { group: 'nodot', scope: 'Galaxy', names: { kind: 'X', plural: 'Xs' }, versions: [] } } }));
  assert.equal(bad.code, 422);
  assert.deepEqual(bad.body.details?.causes?.map((c) => c.field).sort(), ['metadata.name', 'spec.group', 'spec.names.plural', 'spec.scope', 'spec.versions']);
});
