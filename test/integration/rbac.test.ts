// Least privilege on the real API server: the controller and the speaker act as their own
// ServiceAccounts with exactly the RBAC the chart renders (installed by helm). Everything they need
// is exercised by the controller and speaker tests, which run with these credentials; here each is
// refused what it must not do (403 from the API server, not a client-side check).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdmissionregistrationV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { statusCode } from '../../src/k8s/index.ts';
import { componentClients, withApiServer } from '../support/apiserver.ts';
import { NS } from './controller-harness.ts';

async function forbidden(what: string, call: () => Promise<unknown>): Promise<void> {
  let code: number | undefined;
  try {
    await call();
  } catch (err) {
    code = statusCode(err);
  }
  assert.equal(code, 403, `${what}: expected 403 Forbidden, got ${code ?? 'success'}`);
}

async function allowed(what: string, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (err) {
    assert.fail(`${what}: expected success, got ${statusCode(err) ?? ''} ${(err as Error).message.slice(0, 300)}`);
  }
}

test('RBAC: the speaker and the controller are refused what they do not need', async () => {
  await withApiServer(async (api) => {
    const speaker = await componentClients(api, 'speaker');
    const controller = await componentClients(api, 'controller');
    const svc = await api.core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'web' }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }], selector: { app: 'web' } } } });
    await api.core.createNamespacedSecret({ namespace: 'kube-system', body: { metadata: { name: 'unrelated' }, stringData: { token: 'x' } } });
    await api.core.createNode({ body: { metadata: { name: 'node-a' } } });
    const ippool = { group: 'ironlb.io', version: 'v1alpha1', plural: 'ippools' };

    // The speaker reads; it writes only its own status objects.
    await forbidden('speaker updates a Service', () => speaker.core.replaceNamespacedService({ name: 'web', namespace: 'default', body: svc }));
    await forbidden('speaker writes a Service status', () => speaker.core.replaceNamespacedServiceStatus({ name: 'web', namespace: 'default', body: svc }));
    await forbidden('speaker deletes a Node', () => speaker.core.deleteNode({ name: 'node-a' }));
    await forbidden('speaker reads a Secret of another namespace', () => speaker.core.readNamespacedSecret({ name: 'unrelated', namespace: 'kube-system' }));
    await forbidden('speaker lists Secrets of the default namespace', () => speaker.core.listNamespacedSecret({ namespace: 'default' }));
    await forbidden('speaker creates an IPPool', () => speaker.custom.createClusterCustomObject({ ...ippool, body: { apiVersion: 'ironlb.io/v1alpha1', kind: 'IPPool', metadata: { name: 'p' }, spec: { addresses: ['10.0.0.0/30'] } } }));
    await forbidden('speaker creates a Pod', () => speaker.core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'x' }, spec: { containers: [{ name: 'x', image: 'x' }] } } }));
    await allowed('speaker lists IPPools', () => speaker.custom.listClusterCustomObject(ippool));

    // The controller writes Service status and its own objects; nothing else of Services or Nodes.
    await forbidden('controller deletes a Service', () => controller.core.deleteNamespacedService({ name: 'web', namespace: 'default' }));
    await forbidden('controller creates a Service', () => controller.core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'x' }, spec: { ports: [{ port: 1 }] } } }));
    await forbidden('controller updates a Node', () => controller.core.patchNode({ name: 'node-a', body: [{ op: 'add', path: '/metadata/labels', value: { a: 'b' } }] }));
    await forbidden('controller reads a Secret of another namespace', () => controller.core.readNamespacedSecret({ name: 'unrelated', namespace: 'kube-system' }));
    await forbidden('controller writes a Secret other than its webhook certificate', () => controller.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'mine' } } }));
    await forbidden('controller updates the membership Secret', async () => {
      const s = await api.core.readNamespacedSecret({ name: 'ironlb-membership', namespace: NS });
      return controller.core.replaceNamespacedSecret({ name: 'ironlb-membership', namespace: NS, body: s });
    });
    await forbidden('controller deletes an IPPool', () => controller.custom.deleteClusterCustomObject({ ...ippool, name: 'p' }));
    const admission = api.kc.makeApiClient(AdmissionregistrationV1Api);
    const other = await admission.createValidatingWebhookConfiguration({ body: { metadata: { name: 'someone-else' }, webhooks: [] } });
    await forbidden('controller updates another ValidatingWebhookConfiguration', () => controller.kc.makeApiClient(AdmissionregistrationV1Api).replaceValidatingWebhookConfiguration({ name: 'someone-else', body: other }));
    // Services: the controller patches their status only; it cannot rewrite a Service (selectors
    // included), nor replace a status whole.
    await forbidden('controller updates a Service', () => controller.core.replaceNamespacedService({ name: 'web', namespace: 'default', body: { ...svc, spec: { ...svc.spec, selector: { app: 'elsewhere' } } } }));
    await forbidden('controller patches a Service', () => controller.core.patchNamespacedService({ name: 'web', namespace: 'default', body: { spec: { selector: { app: 'elsewhere' } } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch)));
    await forbidden('controller replaces a Service status', () => controller.core.replaceNamespacedServiceStatus({ name: 'web', namespace: 'default', body: svc }));
    await allowed('controller patches a Service status', () =>
      controller.core.patchNamespacedServiceStatus({ name: 'web', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.1', ipMode: 'VIP' }] } } } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch)),
    );
    assert.deepEqual((await api.core.readNamespacedService({ name: 'web', namespace: 'default' })).spec?.selector, { app: 'web' });
  });
});
