// The API server through @kubernetes/client-node: CRUD, optimistic concurrency, status, patches,
// selectors, paging, Leases, Events and namespace deletion.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException, PatchStrategy, setHeaderOptions, type V1Service } from '@kubernetes/client-node';
import { startTestApiServer } from '../support/apiserver.ts';

function svc(name: string, labels: Record<string, string> = {}, type = 'LoadBalancer'): V1Service {
  return { metadata: { name, labels }, spec: { type, ports: [{ port: 80, targetPort: 8080 }], selector: { app: name } } };
}

async function failsWith(p: Promise<unknown>, code: number, reason?: string): Promise<Record<string, unknown>> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiException, `expected an ApiException, got ${String(err)}`);
    assert.equal(err.code, code, `status code; body ${JSON.stringify(err.body)}`);
    const body = (typeof err.body === 'string' ? JSON.parse(err.body) : err.body) as Record<string, unknown>;
    assert.equal(body.kind, 'Status');
    if (reason) assert.equal(body.reason, reason);
    return body;
  }
  assert.fail(`expected HTTP ${code}, the call succeeded`);
}

test('client-node: services CRUD, defaults, status subresource, conflicts', async (t) => {
  const s = await startTestApiServer();
  t.after(() => s.close());
  const { core } = s;

  const created = await core.createNamespacedService({ namespace: 'default', body: svc('web', { app: 'web' }) });
  assert.ok(created.metadata?.uid);
  assert.ok(created.metadata?.resourceVersion);
  assert.ok(created.metadata?.creationTimestamp);
  assert.match(created.spec?.clusterIP ?? '', /^10\.\d+\.\d+\.\d+$/);
  assert.deepEqual(created.spec?.ipFamilies, ['IPv4']);
  assert.equal(created.spec?.ipFamilyPolicy, 'SingleStack');
  assert.equal(created.spec?.ports?.[0]?.protocol, 'TCP');
  assert.ok((created.spec?.ports?.[0]?.nodePort ?? 0) >= 30000);

  const plain = await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'plain' }, spec: { ports: [{ port: 53, protocol: 'UDP' }] } } });
  assert.equal(plain.spec?.type, 'ClusterIP');
  assert.notEqual(plain.spec?.clusterIP, created.spec?.clusterIP);
  const dual = await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'dual' }, spec: { ipFamilyPolicy: 'PreferDualStack', ports: [{ port: 80 }] } } });
  assert.deepEqual(dual.spec?.ipFamilies, ['IPv4', 'IPv6']);
  assert.equal(dual.spec?.clusterIPs?.length, 2);
  const v6first = await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'v6first' }, spec: { ipFamilies: ['IPv6', 'IPv4'], ports: [{ port: 80 }] } } });
  assert.equal(v6first.spec?.ipFamilyPolicy, 'RequireDualStack');
  assert.match(v6first.spec?.clusterIPs?.[0] ?? '', /:/);
  const v6only = await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'v6only' }, spec: { ipFamilies: ['IPv6'], ports: [{ port: 80 }] } } });
  assert.deepEqual([v6only.spec?.ipFamilyPolicy, v6only.spec?.clusterIPs?.length], ['SingleStack', 1]);
  await failsWith(core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'bad-policy' }, spec: { ipFamilyPolicy: 'SingleStack', ipFamilies: ['IPv4', 'IPv6'], ports: [{ port: 80 }] } } }), 422, 'Invalid');

  await failsWith(core.createNamespacedService({ namespace: 'default', body: svc('web') }), 409, 'AlreadyExists');
  await failsWith(core.createNamespacedService({ namespace: 'nowhere', body: svc('x') }), 404, 'NotFound');
  const bad = await failsWith(core.createNamespacedService({ namespace: 'default', body: svc('Bad_Name') }), 422, 'Invalid');
  assert.equal((bad.details as { causes: { field: string }[] }).causes[0]?.field, 'metadata.name');

  // Status written through /status only; the main resource ignores status.
  const withStatus = { ...created, status: { loadBalancer: { ingress: [{ ip: '192.0.2.10', ipMode: 'VIP' }] } } };
  const afterMain = await core.replaceNamespacedService({ name: 'web', namespace: 'default', body: withStatus });
  assert.equal(afterMain.status?.loadBalancer?.ingress, undefined);
  const afterStatus = await core.replaceNamespacedServiceStatus({ name: 'web', namespace: 'default', body: { ...afterMain, status: withStatus.status } });
  assert.equal(afterStatus.status?.loadBalancer?.ingress?.[0]?.ip, '192.0.2.10');
  assert.equal(afterStatus.metadata?.generation, afterMain.metadata?.generation, 'a status write leaves generation alone');

  // Optimistic concurrency: a stale resourceVersion is a 409 Conflict.
  await failsWith(core.replaceNamespacedService({ name: 'web', namespace: 'default', body: created }), 409, 'Conflict');

  // Merge patch and JSON patch on the main resource and on /status.
  const merged = await core.patchNamespacedService({ name: 'web', namespace: 'default', body: { metadata: { labels: { tier: 'front' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  assert.equal(merged.metadata?.labels?.tier, 'front');
  assert.equal(merged.metadata?.labels?.app, 'web');
  const jp = await core.patchNamespacedService({ name: 'web', namespace: 'default', body: [{ op: 'replace', path: '/spec/ports/0/targetPort', value: 9090 }] }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch));
  assert.equal(jp.spec?.ports?.[0]?.targetPort, 9090);
  assert.equal(jp.spec?.clusterIP, created.spec?.clusterIP, 'cluster IP is kept across updates');
  const st = await core.patchNamespacedServiceStatus({ name: 'web', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.11' }] } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  assert.equal(st.status?.loadBalancer?.ingress?.[0]?.ip, '192.0.2.11');
  await failsWith(core.patchNamespacedService({ name: 'web', namespace: 'default', body: [{ op: 'test', path: '/spec/type', value: 'NodePort' }] }, setHeaderOptions('Content-Type', PatchStrategy.JsonPatch)), 422);
  // Strategic merge: lists of ports merge by port.
  await core.patchNamespacedService({ name: 'web', namespace: 'default', body: { spec: { ports: [{ port: 443, targetPort: 8443 }] } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
  const smp = await core.readNamespacedService({ name: 'web', namespace: 'default' });
  assert.deepEqual(smp.spec?.ports?.map((p) => p.port).sort(), [443, 80]);

  // generateName.
  const gen = await core.createNamespacedService({ namespace: 'default', body: { metadata: { generateName: 'gen-' }, spec: { ports: [{ port: 1 }] } } });
  assert.match(gen.metadata?.name ?? '', /^gen-[a-z0-9]{5}$/);

  // Delete, then it is gone.
  await core.deleteNamespacedService({ name: 'plain', namespace: 'default' });
  await failsWith(core.readNamespacedService({ name: 'plain', namespace: 'default' }), 404, 'NotFound');
});

test('client-node: selectors, paging, namespace deletion, Leases and Events', async (t) => {
  const s = await startTestApiServer();
  t.after(() => s.close());
  const { core } = s;
  await core.createNamespace({ body: { metadata: { name: 'team' } } });
  for (let i = 0; i < 12; i++) {
    await core.createNamespacedService({ namespace: 'team', body: svc(`s${String(i).padStart(2, '0')}`, { idx: String(i % 3), ...(i % 2 ? { odd: 'yes' } : {}) }, i < 4 ? 'ClusterIP' : 'LoadBalancer') });
  }
  const names = async (labelSelector?: string, fieldSelector?: string): Promise<string[]> =>
    ((await core.listNamespacedService({ namespace: 'team', labelSelector, fieldSelector })).items).map((o) => o.metadata?.name ?? '');
  assert.deepEqual(await names('idx=0'), ['s00', 's03', 's06', 's09']);
  assert.deepEqual(await names('idx==0,odd'), ['s03', 's09']);
  assert.deepEqual(await names('idx!=0,!odd'), ['s02', 's04', 's08', 's10']);
  assert.deepEqual(await names('idx in (1,2),odd'), ['s01', 's05', 's07', 's11']);
  assert.deepEqual(await names('idx notin (1,2)'), ['s00', 's03', 's06', 's09']);
  assert.deepEqual(await names(undefined, 'metadata.name=s05'), ['s05']);
  assert.deepEqual(await names(undefined, 'spec.type=ClusterIP'), ['s00', 's01', 's02', 's03']);
  assert.deepEqual((await core.listServiceForAllNamespaces({ fieldSelector: 'metadata.namespace=team,spec.type!=LoadBalancer' })).items.length, 4);

  // limit/continue pages through everything exactly once.
  const seen: string[] = [];
  let cont: string | undefined;
  for (let page = 0; page < 10; page++) {
    const l = await core.listNamespacedService({ namespace: 'team', limit: 5, _continue: cont });
    seen.push(...l.items.map((o) => o.metadata?.name ?? ''));
    cont = l.metadata?._continue;
    if (!cont) break;
  }
  assert.equal(seen.length, 12);
  assert.equal(new Set(seen).size, 12);

  await failsWith(core.listNamespacedService({ namespace: 'team', labelSelector: 'a in b' }), 400, 'BadRequest');

  // Leases (leader election) and Events.
  const lease = await s.coordination.createNamespacedLease({ namespace: 'team', body: { metadata: { name: 'ironlb-controller' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } } });
  const taken = await s.coordination.replaceNamespacedLease({ name: 'ironlb-controller', namespace: 'team', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } } });
  assert.equal(taken.spec?.holderIdentity, 'b');
  await failsWith(s.coordination.replaceNamespacedLease({ name: 'ironlb-controller', namespace: 'team', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'c' } } }), 409, 'Conflict');
  const ev = await core.createNamespacedEvent({ namespace: 'team', body: { metadata: { generateName: 's00.' }, involvedObject: { kind: 'Service', name: 's00', namespace: 'team' }, reason: 'IPAllocated', message: 'assigned 192.0.2.1', type: 'Normal' } });
  assert.equal((await core.listNamespacedEvent({ namespace: 'team', fieldSelector: 'involvedObject.name=s00' })).items[0]?.metadata?.name, ev.metadata?.name);

  // Finalizers hold a deletion until the last one is removed.
  await core.createNamespacedConfigMap({ namespace: 'team', body: { metadata: { name: 'held', finalizers: ['ironlb.io/test'] }, data: { a: 'b' } } });
  await core.deleteNamespacedConfigMap({ name: 'held', namespace: 'team' });
  const held = await core.readNamespacedConfigMap({ name: 'held', namespace: 'team' });
  assert.ok(held.metadata?.deletionTimestamp, 'marked for deletion');
  await core.replaceNamespacedConfigMap({ name: 'held', namespace: 'team', body: { ...held, metadata: { ...held.metadata, finalizers: [] } } });
  await failsWith(core.readNamespacedConfigMap({ name: 'held', namespace: 'team' }), 404, 'NotFound');

  // Deleting a namespace deletes what is in it.
  await core.deleteNamespace({ name: 'team' });
  assert.equal((await core.listServiceForAllNamespaces({ fieldSelector: 'metadata.namespace=team' })).items.length, 0);
  await failsWith(core.readNamespace({ name: 'team' }), 404);
  await failsWith(core.deleteNamespace({ name: 'default' }), 403, 'Forbidden');
});
