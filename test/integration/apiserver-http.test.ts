// The API server at the HTTP level: bad input gets precise Status errors and never breaks the
// server; discovery documents; the `ironlb apiserver` command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestApiServer } from '../support/apiserver.ts';
import { waitFor } from '../support/wait.ts';

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

async function call(url: string, method: string, body?: string, contentType = 'application/json'): Promise<Reply> {
  const res = await fetch(url, { method, headers: body === undefined ? {} : { 'content-type': contentType }, body });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
}

test('bad requests get Kubernetes Status errors and the server keeps serving', async (t) => {
  const s = await startTestApiServer({ maxBodyBytes: 64 * 1024 });
  t.after(() => s.close());
  const svcs = `${s.url}/api/v1/namespaces/default/services`;
  const cases: [string, Promise<Reply>, number, string, RegExp][] = [
    ['malformed JSON', call(svcs, 'POST', '{"metadata":'), 400, 'BadRequest', /not valid JSON/],
    ['not an object', call(svcs, 'POST', '[1,2]'), 400, 'BadRequest', /must be a JSON or YAML object/],
    ['wrong kind', call(svcs, 'POST', JSON.stringify({ kind: 'Pod', metadata: { name: 'x' } })), 400, 'BadRequest', /kind "Pod" does not match/],
    ['namespace mismatch', call(svcs, 'POST', JSON.stringify({ metadata: { name: 'x', namespace: 'other' } })), 400, 'BadRequest', /does not match the namespace/],
    ['no name', call(svcs, 'POST', JSON.stringify({ metadata: {} })), 422, 'Invalid', /name or generateName is required/],
    ['label values not strings', call(svcs, 'POST', JSON.stringify({ metadata: { name: 'x', labels: { a: 1 } } })), 422, 'Invalid', /metadata.labels/],
    ['bad service type', call(svcs, 'POST', JSON.stringify({ metadata: { name: 'x' }, spec: { type: 'Magic' } })), 422, 'Invalid', /spec.type: Unsupported value: "Magic"/],
    ['body too large', call(svcs, 'POST', JSON.stringify({ metadata: { name: 'big', annotations: { a: 'x'.repeat(200_000) } } })), 413, 'RequestEntityTooLarge', /larger than 65536 bytes/],
    ['protobuf body', call(svcs, 'POST', 'k8s\0...', 'application/vnd.kubernetes.protobuf'), 415, 'UnsupportedMediaType', /send JSON or YAML/],
    ['unknown patch type', call(`${svcs}/x`, 'PATCH', '{}', 'text/plain'), 404, 'NotFound', /services "x" not found/],
    ['dryRun', call(`${svcs}?dryRun=All`, 'POST', JSON.stringify({ metadata: { name: 'x' } })), 400, 'BadRequest', /dryRun is not supported/],
    ['bad percent-encoding', call(`${s.url}/api/v1/namespaces/%E0%A4%A`, 'GET'), 400, 'BadRequest', /not validly percent-encoded/],
    ['unknown resource', call(`${s.url}/api/v1/namespaces/default/gizmos`, 'GET'), 404, 'NotFound', /could not find the requested resource/],
    ['unknown group', call(`${s.url}/apis/nope.io/v1`, 'GET'), 404, 'NotFound', /not served/],
    ['bad subresource', call(`${svcs}/x/exec`, 'GET'), 404, 'NotFound', /subresource "exec"/],
    ['status of a resource without one', call(`${s.url}/api/v1/namespaces/default/configmaps/x/status`, 'GET'), 404, 'NotFound', /no status subresource/],
    ['bad label selector', call(`${svcs}?labelSelector=${encodeURIComponent('a in b')}`, 'GET'), 400, 'BadRequest', /unable to parse requirement/],
    ['bad field selector', call(`${svcs}?fieldSelector=${encodeURIComponent('~~')}`, 'GET'), 400, 'BadRequest', /invalid field selector/],
    ['bad continue token', call(`${svcs}?limit=1&continue=%25%25`, 'GET'), 400, 'BadRequest', /invalid continue token/],
    ['POST to a name', call(`${svcs}/x`, 'POST', '{}'), 405, 'MethodNotAllowed', /POST to the collection/],
    ['JSON patch not a list', call(`${s.url}/api/v1/namespaces/default`, 'PATCH', '{"op":"add"}', 'application/json-patch+json'), 400, 'BadRequest', /must be an array/],
    ['JSON patch bad path', call(`${s.url}/api/v1/namespaces/default`, 'PATCH', '[{"op":"replace","path":"/spec/nothing/here","value":1}]', 'application/json-patch+json'), 422, 'Invalid', /does not exist/],
    ['patch type not served', call(`${s.url}/api/v1/namespaces/default`, 'PATCH', '{}', 'text/plain'), 415, 'UnsupportedMediaType', /merge-patch/],
    ['delete precondition', call(`${s.url}/api/v1/namespaces/kube-node-lease`, 'DELETE', JSON.stringify({ preconditions: { uid: 'not-it' } })), 409, 'Conflict', /UID in the precondition/],
  ];
  for (const [what, p, code, reason, message] of cases) {
    const r = await p;
    assert.equal(r.status, code, `${what}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.kind, 'Status', what);
    assert.equal(r.body.code, code, what);
    assert.equal(r.body.reason, reason, what);
    assert.match(String(r.body.message), message, what);
  }
  // YAML bodies are accepted, and after all that the server still works.
  const ok = await call(svcs, 'POST', 'metadata:\n  name: yaml-svc\nspec:\n  ports: [{port: 80}]\n', 'application/yaml');
  assert.equal(ok.status, 201);
  assert.equal((await s.core.readNamespacedService({ name: 'yaml-svc', namespace: 'default' })).spec?.type, 'ClusterIP');
});

test('discovery documents and the minimal OpenAPI index', async (t) => {
  const s = await startTestApiServer();
  t.after(() => s.close());
  const get = async (p: string): Promise<Record<string, unknown>> => (await (await fetch(`${s.url}${p}`)).json()) as Record<string, unknown>;
  assert.deepEqual((await get('/api')).versions, ['v1']);
  const core = (await get('/api/v1')) as { resources: { name: string; namespaced: boolean; verbs: string[]; shortNames?: string[] }[] };
  const svc = core.resources.find((r) => r.name === 'services');
  assert.deepEqual([svc?.namespaced, svc?.shortNames], [true, ['svc']]);
  assert.ok(svc?.verbs.includes('watch'));
  assert.ok(core.resources.some((r) => r.name === 'services/status'));
  assert.equal(core.resources.find((r) => r.name === 'nodes')?.namespaced, false);
  const groups = ((await get('/apis')) as { groups: { name: string; preferredVersion: { groupVersion: string } }[] }).groups;
  for (const g of ['coordination.k8s.io', 'discovery.k8s.io', 'events.k8s.io', 'apiextensions.k8s.io', 'apps', 'rbac.authorization.k8s.io', 'policy']) {
    assert.ok(groups.some((x) => x.name === g), `group ${g}`);
  }
  assert.equal(((await get('/apis/coordination.k8s.io')) as { preferredVersion: { groupVersion: string } }).preferredVersion.groupVersion, 'coordination.k8s.io/v1');
  const leases = (await get('/apis/coordination.k8s.io/v1')) as { resources: { name: string }[] };
  assert.deepEqual(leases.resources.map((r) => r.name), ['leases']);
  const index = (await get('/openapi/v3')) as { paths: Record<string, { serverRelativeURL: string }> };
  const gv = await get(index.paths['api/v1']!.serverRelativeURL);
  assert.ok((gv.paths as Record<string, unknown>)['/api/v1/namespaces/{namespace}/services/{name}']);
  assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
});

test('ironlb apiserver runs the server, prints its URL and writes a kubeconfig', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ironlb-apiserver-cli-'));
  const bin = fileURLToPath(new URL('../../bin/ironlb', import.meta.url));
  const kc = join(dir, 'kubeconfig');
  // bin/ironlb loads every subcommand's modules: allow for a slow start on a loaded machine.
  const child = spawn(bin, ['apiserver', '--port', '0', '--kubeconfig', kc, '--crds', fileURLToPath(new URL('../../deploy/crds', import.meta.url))], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, IRONLB_LOG_LEVEL: 'silent' } });
  try {
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const url = await waitFor(() => /^(http:\/\/127\.0\.0\.1:\d+)\n/.exec(out)?.[1], { what: `the URL on stdout (stderr: ${err})`, timeoutMs: 60_000 });
    assert.match(readFileSync(kc, 'utf8'), new RegExp(`server: ${url}`));
    const groups = (await (await fetch(`${url}/apis`)).json()) as { groups: { name: string }[] };
    assert.ok(groups.groups.some((g) => g.name === 'ironlb.io'), 'the project CRDs are served');
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
