// Least privilege of issue 13, on the real API server with the chart's RBAC (installed by helm):
// the speaker cannot patch Nodes; Secrets are readable by name only (list/watch with the field
// selector metadata.name, which RBAC resourceNames then cover); /metrics needs a token the API
// server authenticates and authorizes (TokenReview + SubjectAccessReview).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { Registry, Counter } from 'prom-client';
import { statusCode } from '../../src/k8s/index.ts';
import { NamedSecrets } from '../../src/k8s/secrets.ts';
import { startHealthServer } from '../../src/util/health-server.ts';
import { kubernetesAuthorizer, selfSignedServing } from '../../src/util/metrics-auth.ts';
import { componentClients, withApiServer } from '../support/apiserver.ts';
import { waitFor } from '../support/wait.ts';
import { NS } from './controller-harness.ts';

async function code(call: () => Promise<unknown>): Promise<number> {
  try {
    await call();
    return 200;
  } catch (err) {
    return statusCode(err) ?? -1;
  }
}

function scrape(port: number, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', rejectUnauthorized: false, timeout: 10_000, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('scrape timed out')));
    req.on('error', reject);
    req.end();
  });
}

test('speaker: no Node writes; Secrets by name only (list/watch with fieldSelector), for both components', async () => {
  await withApiServer(
    async (api) => {
      const speaker = await componentClients(api, 'speaker');
      const controller = await componentClients(api, 'controller');
      await api.core.createNode({ body: { metadata: { name: 'node-a' } } });
      await api.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'someone-elses' }, stringData: { token: 'x' } } });

      // Item 11: read Nodes, never write them.
      assert.equal(await code(() => speaker.core.patchNode({ name: 'node-a', body: [{ op: 'add', path: '/metadata/annotations', value: { 'ironlb.io/l2-subnets': '10.0.0.0/24' } }] })), 403, 'speaker patches a Node');
      assert.equal(await code(() => speaker.core.listNode()), 200);
      assert.equal(await code(() => speaker.custom.listNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: NS, plural: 'configurationstates' })), 200, 'speaker lists ConfigurationStates');

      // Item 13: the namespace's Secrets are not listable as a whole, nor any one outside the list.
      for (const [who, c] of [['speaker', speaker], ['controller', controller]] as const) {
        assert.equal(await code(() => c.core.listNamespacedSecret({ namespace: NS })), 403, `${who} lists every Secret of ${NS}`);
        assert.equal(await code(() => c.core.listNamespacedSecret({ namespace: NS, fieldSelector: 'metadata.name=someone-elses' })), 403, `${who} lists someone-elses`);
        assert.equal(await code(() => c.core.readNamespacedSecret({ name: 'bgp-pw', namespace: NS })), 403, `${who} gets bgp-pw (list/watch only)`);
        assert.equal(await code(() => c.core.listNamespacedSecret({ namespace: NS, fieldSelector: 'metadata.name=bgp-pw' })), 200, `${who} lists bgp-pw by name`);
      }
      assert.equal(await code(() => speaker.core.listNamespacedSecret({ namespace: NS, fieldSelector: 'metadata.name=ironlb-membership' })), 200);
      assert.equal(await code(() => controller.core.listNamespacedSecret({ namespace: NS, fieldSelector: 'metadata.name=ironlb-membership' })), 403, 'controller lists the membership Secret');

      // The watches work too: a Secret created after the start arrives through the watch.
      const secrets = new NamedSecrets({ kc: speaker.kc, core: speaker.core, namespace: NS, names: ['ironlb-membership', 'bgp-pw'] });
      await secrets.start();
      try {
        assert.ok(secrets.get('ironlb-membership'), 'the membership Secret is cached');
        await api.core.createNamespacedSecret({ namespace: NS, body: { metadata: { name: 'bgp-pw' }, type: 'kubernetes.io/basic-auth', stringData: { password: 'pw' } } });
        await waitFor(() => secrets.get('bgp-pw'), { what: 'bgp-pw through the speaker\'s watch by name', timeoutMs: 10_000 });
        assert.deepEqual(secrets.list().map((s) => s.metadata?.name).sort(), ['bgp-pw', 'ironlb-membership']);
      } finally {
        await secrets.stop();
      }
    },
    { values: { bgpPasswordSecrets: ['bgp-pw'] } },
  );
});

test('metrics: refused without a token (401) and to a token without the ClusterRole (403), served to one bound to ironlb-metrics-reader', async () => {
  await withApiServer(async (api) => {
    const speaker = await componentClients(api, 'speaker');
    const registry = new Registry();
    new Counter({ name: 'ironlb_test_scrapes', help: 'test', registers: [registry] }).inc();
    const srv = await startHealthServer({
      port: 0,
      host: '127.0.0.1',
      registry,
      healthz: () => ({ ok: true, detail: {} }),
      readyz: () => ({ ok: true, detail: {} }),
      authorize: kubernetesAuthorizer({ kc: speaker.kc }),
      tls: await selfSignedServing('ironlb-speaker'),
    });
    try {
      await api.kubectl(['create', 'serviceaccount', 'scraper', '-n', 'default']);
      await api.kubectl(['create', 'serviceaccount', 'nobody', '-n', 'default']);
      await api.kubectl(['create', 'clusterrolebinding', 'scraper-metrics', '--clusterrole=ironlb-metrics-reader', '--serviceaccount=default:scraper']);
      const scraper = (await api.kubectl(['create', 'token', 'scraper', '-n', 'default'])).trim();
      const nobody = (await api.kubectl(['create', 'token', 'nobody', '-n', 'default'])).trim();

      const none = await scrape(srv.port);
      assert.equal(none.status, 401, none.body);
      assert.doesNotMatch(none.body, /ironlb_test_scrapes/);
      const bogus = await scrape(srv.port, 'not-a-token');
      assert.equal(bogus.status, 401, bogus.body);
      const denied = await scrape(srv.port, nobody);
      assert.equal(denied.status, 403, denied.body);
      assert.match(denied.body, /system:serviceaccount:default:nobody may not get \/metrics/);
      const ok = await scrape(srv.port, scraper);
      assert.equal(ok.status, 200, ok.body);
      assert.match(ok.body, /ironlb_test_scrapes 1/);
    } finally {
      await srv.close();
    }
  });
});
