// kubectl (the real binary) against the API server: discovery, apply (create, then client-side
// apply's strategic merge patch), server-side Tables (EXTERNAL-IP, CRD printer columns), delete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { startTestApiServer, widgetCrd } from '../support/apiserver.ts';

const svcYaml = (targetPort: number): string => `
apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  type: LoadBalancer
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: ${targetPort}}
  - {name: https, port: 443, targetPort: 8443}
`;

/** Splits kubectl's table output into rows of cells (columns are separated by 2+ spaces). */
function table(out: string): string[][] {
  return out.trim().split('\n').map((l) => l.trim().split(/\s{2,}/));
}

const ippoolCrd = join(import.meta.dirname, '../../deploy/crds/ironlb.io_ippools.yaml');

test('kubectl: discovery, apply, get with server-side columns, delete', async (t) => {
  const s = await startTestApiServer({ crds: existsSync(ippoolCrd) ? [ippoolCrd] : [] });
  t.after(() => s.close());

  const version = JSON.parse(await s.kubectl(['version', '-o', 'json'])) as { serverVersion: { gitVersion: string } };
  assert.match(version.serverVersion.gitVersion, /^v1\.\d+/);
  const resources = await s.kubectl(['api-resources', '--no-headers']);
  assert.match(resources, /^services\s+svc\s+v1\s+true\s+Service$/m);
  assert.match(resources, /^leases\s+coordination\.k8s\.io\/v1\s+true\s+Lease$/m);

  // apply creates (POST), then re-apply with a change patches (strategic merge with last-applied).
  assert.match(await s.kubectl(['apply', '-f', '-'], { input: svcYaml(8080) }), /service\/web created/);
  const [head, row] = table(await s.kubectl(['get', 'svc', '-n', 'shop']));
  assert.deepEqual(head, ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE']);
  assert.equal(row?.[0], 'web');
  assert.equal(row?.[1], 'LoadBalancer');
  assert.match(row?.[2] ?? '', /^10\./);
  assert.equal(row?.[3], '<pending>');
  assert.match(row?.[4] ?? '', /^80:3\d{4}\/TCP,443:3\d{4}\/TCP$/);

  assert.match(await s.kubectl(['apply', '-f', '-'], { input: svcYaml(9090) }), /service\/web configured/);
  const svc = await s.core.readNamespacedService({ name: 'web', namespace: 'shop' });
  assert.deepEqual(svc.spec?.ports?.map((p) => `${p.name}:${String(p.targetPort)}`), ['http:9090', 'https:8443'], 'apply patched one port and kept the other');
  assert.match(await s.kubectl(['apply', '-f', '-'], { input: svcYaml(9090) }), /service\/web unchanged/);

  // A status write (as the controller does) shows up in EXTERNAL-IP.
  await s.core.patchNamespacedServiceStatus({ name: 'web', namespace: 'shop', body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.10', ipMode: 'VIP' }, { ip: '2001:db8::10', ipMode: 'VIP' }] } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  const after = table(await s.kubectl(['get', 'svc', 'web', '-n', 'shop']));
  assert.equal(after[1]?.[3], '192.0.2.10,2001:db8::10');
  const jsonpath = await s.kubectl(['get', 'svc', 'web', '-n', 'shop', '-o', 'jsonpath={.status.loadBalancer.ingress[0].ip}']);
  assert.equal(jsonpath, '192.0.2.10');
  const wide = table(await s.kubectl(['get', 'svc', '-A', '-o', 'wide']));
  assert.deepEqual(wide[0], ['NAMESPACE', 'NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', 'SELECTOR']);
  assert.equal(wide[1]?.[7], 'app=web');

  // Other built-in tables.
  assert.deepEqual(table(await s.kubectl(['get', 'ns', 'shop']))[1]?.slice(0, 2), ['shop', 'Active']);
  const nodes$ = s.server.core.resolve('', 'v1', 'nodes');
  s.server.core.create(nodes$, undefined, { metadata: { name: 'node-a', labels: { 'node-role.kubernetes.io/control-plane': '' } }, status: { conditions: [{ type: 'Ready', status: 'True' }], nodeInfo: { kubeletVersion: 'v1.32.0' } } });
  const nodes = table(await s.kubectl(['get', 'nodes']));
  assert.deepEqual(nodes[0], ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION']);
  assert.deepEqual([nodes[1]?.[0], nodes[1]?.[1], nodes[1]?.[2], nodes[1]?.[4]], ['node-a', 'Ready', 'control-plane', 'v1.32.0']);

  // A CRD applied with kubectl, then its objects, listed with their printer columns.
  assert.match(await s.kubectl(['apply', '-f', '-'], { input: JSON.stringify(widgetCrd) }), /customresourcedefinition.apiextensions.k8s.io\/widgets.test.ironlb.io created/);
  await s.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'test.ironlb.io/v1', kind: 'Widget', metadata: { name: 'w1', namespace: 'shop' }, spec: { name: 'abc', size: 7 } }) });
  await s.custom.patchNamespacedCustomObjectStatus({ group: 'test.ironlb.io', version: 'v1', namespace: 'shop', plural: 'widgets', name: 'w1', body: { status: { conditions: [{ type: 'Ready', status: 'True' }] } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  const widgets = table(await s.kubectl(['get', 'wg', '-n', 'shop']));
  assert.deepEqual(widgets[0], ['NAME', 'SIZE', 'MODE', 'READY', 'AGE']);
  assert.deepEqual(widgets[1]?.slice(0, 4), ['w1', '7', 'fast', 'True']);
  // Client-side apply of a custom resource uses a JSON merge patch; unknown fields are refused (strict).
  assert.match(await s.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'test.ironlb.io/v1', kind: 'Widget', metadata: { name: 'w1', namespace: 'shop' }, spec: { name: 'abc', size: 2 } }) }), /widget.test.ironlb.io\/w1 configured/);
  assert.equal(table(await s.kubectl(['get', 'widgets', '-n', 'shop']))[1]?.[1], '2');
  await assert.rejects(s.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'test.ironlb.io/v1', kind: 'Widget', metadata: { name: 'w2', namespace: 'shop' }, spec: { name: 'abc', size: 99 } }) }), /spec\.size.*less than or equal to 10/);
  await assert.rejects(s.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'test.ironlb.io/v1', kind: 'Widget', metadata: { name: 'w3', namespace: 'shop' }, spec: { name: 'abc', colour: 'red' } }) }), /unknown field "spec.colour"/);

  if (existsSync(ippoolCrd)) {
    // The project's own CRD, loaded at start: kubectl get ippools shows its columns.
    await s.kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'ironlb.io/v1alpha1', kind: 'IPPool', metadata: { name: 'pool-a' }, spec: { addresses: ['192.0.2.0/28'] } }) });
    const pools = table(await s.kubectl(['get', 'ippools']));
    assert.equal(pools[0]?.[0], 'NAME');
    assert.equal(pools[1]?.[0], 'pool-a');
    assert.ok(pools[1]?.includes('["192.0.2.0/28"]'), `addresses column in ${JSON.stringify(pools)}`);
  }

  // delete, by name and by file; then nothing is left.
  assert.match(await s.kubectl(['delete', 'widget', 'w1', '-n', 'shop']), /widget.test.ironlb.io "w1" deleted/);
  assert.match(await s.kubectl(['delete', 'svc', 'web', '-n', 'shop']), /service "web" deleted/);
  assert.equal(await s.kubectl(['get', 'svc', '-n', 'shop', '-o', 'name']), '');
  const serviceOnly = svcYaml(80).split('---')[1]!;
  await s.kubectl(['apply', '-f', '-'], { input: serviceOnly });
  assert.match(await s.kubectl(['delete', '-f', '-'], { input: serviceOnly }), /service "web" deleted/);
  assert.match(await s.kubectl(['delete', 'ns', 'shop']), /namespace "shop" deleted/);
  await assert.rejects(s.kubectl(['get', 'ns', 'shop']), /NotFound|not found/);
});
