// The validating admission webhook, called by the real kube-apiserver: cross-object conflicts are
// refused with the field and the reason; the controller makes, publishes and rotates the serving
// certificate and its CA without a refusal being lost; with the webhook down the failure policy
// (Ignore) lets changes through. The webhook runs as the controller's ServiceAccount (the chart's
// RBAC: its Secret and its ValidatingWebhookConfiguration, by name).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdmissionregistrationV1Api } from '@kubernetes/client-node';
import { AdmissionWebhook, WEBHOOK_PATH } from '../../src/controller/index.ts';
import { API_VERSION, GROUP, VERSION } from '../../src/api/index.ts';
import { waitFor } from '../support/wait.ts';
import { NS, withCluster } from './controller-harness.ts';

const CONFIGURATION = 'ironlb-validating';

test('webhook: refuses overlapping pools, warns about references to objects not there yet, rotates its certificate and CA, fails open when down', async () => {
  await withCluster(async (h) => {
    const controller = await h.startController();
    const webhook = new AdmissionWebhook({
      clients: h.controllerClients,
      namespace: NS,
      host: '127.0.0.1',
      port: 0,
      secretName: 'ironlb-webhook-cert',
      configurationName: CONFIGURATION,
      dnsNames: ['ironlb-webhook.ironlb-system.svc'],
      ipAddresses: ['127.0.0.1'],
      snapshot: () => controller.configSnapshot(),
      // Short lives so that the test sees a leaf and a CA renewed (each when a third is left).
      leafValidityMs: 12_000,
      caValidityMs: 30_000,
      checkIntervalMs: 500,
    });
    try {
      await webhook.start();
      // No kube-proxy here: the API server reaches the webhook by URL instead of through its Service.
      const admission = h.clients.kc.makeApiClient(AdmissionregistrationV1Api);
      const cfg = await admission.readValidatingWebhookConfiguration({ name: CONFIGURATION });
      assert.equal(cfg.webhooks?.[0]?.failurePolicy, 'Ignore');
      assert.ok(cfg.webhooks?.[0]?.clientConfig.caBundle, 'the controller published its CA');
      for (const w of cfg.webhooks ?? []) w.clientConfig = { url: `https://127.0.0.1:${webhook.port}${WEBHOOK_PATH}`, caBundle: w.clientConfig.caBundle };
      await admission.replaceValidatingWebhookConfiguration({ name: CONFIGURATION, body: cfg });

      await h.pool('a', { addresses: ['10.80.0.0/24'] });
      await waitFor(() => controller.configSnapshot().objects.some((o) => (o as { metadata?: { name?: string } }).metadata?.name === 'a'), { what: 'pool a in the controller cache' });
      const refused = async (what: Promise<unknown>, re: RegExp): Promise<void> => {
        await assert.rejects(what, (err: unknown) => {
          const body = String((err as { body?: unknown }).body ?? (err as Error).message);
          const message = (JSON.parse(body) as { message: string }).message;
          assert.match(message, /^admission webhook "config\.ironlb\.io" denied the request: /);
          assert.match(message, re);
          return true;
        });
      };
      // The API server may not watch the new caBundle yet: wait for the first refusal.
      await waitFor(
        async () => {
          try {
            await h.pool('b', { addresses: ['10.80.0.128/25'] });
            await h.clients.custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: 'ippools', name: 'b' });
            return false;
          } catch (err) {
            return /denied the request/.test(String((err as { body?: unknown }).body ?? err));
          }
        },
        { what: 'the API server calling the webhook', timeoutMs: 20_000, intervalMs: 200 },
      );
      await refused(h.pool('b', { addresses: ['10.80.0.128/25'] }), /IPPool\/b: spec\.addresses\[0\]: "10\.80\.0\.128\/25": overlaps 10\.80\.0\.0\/24 of IPPool\/a/);
      // A reference to an object not there (yet) is let in with a warning: objects arrive in any
      // order, and the controller's cache may lag one created a moment before.
      const created = await h.clients.custom.createNamespacedCustomObjectWithHttpInfo({ group: GROUP, version: VERSION, namespace: NS, plural: 'bgpadvertisements', body: { apiVersion: API_VERSION, kind: 'BGPAdvertisement', metadata: { name: 'adv', namespace: NS }, spec: { pools: ['nope'] } } });
      const warning = Object.entries(created.headers).find(([k]) => k.toLowerCase() === 'warning')?.[1] ?? '';
      // (The header quotes the text: its own quotes come escaped.)
      assert.match(warning, /BGPAdvertisement\/adv: spec\.pools\[0\]: \\?"nope\\?": names no IPPool.*\(not applied until it exists\)/);
      // A conflict is still refused.
      await refused(h.pool('x', { addresses: ['10.80.0.0/25'] }), /overlaps/);
      // An update that creates the conflict is refused too.
      await h.pool('c', { addresses: ['10.81.0.0/24'] });
      await waitFor(() => controller.configSnapshot().objects.some((o) => (o as { metadata?: { name?: string } }).metadata?.name === 'c'), { what: 'pool c in the controller cache' });
      await refused(h.replacePool('c', { addresses: ['10.80.0.0/23'] }), /overlaps/);
      assert.ok(webhook.counts.denied >= 3);

      // Rotation: the leaf (12 s) is renewed after ~8 s, the CA (30 s) after ~20 s; refusals go on.
      const firstCa = webhook.caBundle;
      const firstLeaf = webhook.notAfter?.getTime();
      await waitFor(() => webhook.notAfter?.getTime() !== firstLeaf, { what: 'the serving certificate renewed', timeoutMs: 20_000 });
      await refused(h.pool('d', { addresses: ['10.80.0.7/32'] }), /overlaps/);
      await waitFor(() => webhook.caBundle !== firstCa, { what: 'the CA renewed', timeoutMs: 40_000 });
      // The new bundle is written to the Secret first, then published: wait for the publication.
      const bundle = await waitFor(
        async () => {
          const b = Buffer.from((await admission.readValidatingWebhookConfiguration({ name: CONFIGURATION })).webhooks?.[0]?.clientConfig.caBundle ?? '', 'base64').toString();
          return b === webhook.caBundle ? b : undefined;
        },
        { what: 'the renewed CA bundle published', timeoutMs: 10_000, intervalMs: 100 },
      );
      assert.equal((bundle.match(/BEGIN CERTIFICATE/g) ?? []).length, 2, 'during a CA rotation the bundle holds the new CA and the old');
      await refused(h.pool('e', { addresses: ['10.80.0.9/32'] }), /overlaps/);
      const secret = await h.clients.core.readNamespacedSecret({ name: 'ironlb-webhook-cert', namespace: NS });
      assert.deepEqual(Object.keys(secret.data ?? {}).sort(), ['ca-bundle.crt', 'ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    } finally {
      await webhook.stop();
    }
    // Down: Ignore lets the change in; the controller then reports it on the object.
    await h.pool('f', { addresses: ['10.80.0.64/26'] });
    const got = (await h.clients.custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'ippools', name: 'f' })) as { apiVersion: string };
    assert.equal(got.apiVersion, API_VERSION);
  });
});
