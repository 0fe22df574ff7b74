// The informers under the controller, against the real kube-apiserver: a dropped watch (its TCP
// connection cut, as a load balancer in front of the API server would) resumes from its
// resourceVersion without a relist; after an API server restart a resourceVersion older than the
// new watch cache gets 410 Gone, and the informer relists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { CoreV1Api, KubeConfig, type V1Service } from '@kubernetes/client-node';
import { kubeconfigWithServer } from '../../testbed/controlplane.ts';
import { waitFor } from '../support/wait.ts';
import { withApiServer } from '../support/apiserver.ts';
import { EventRecorder, Informer, errorText, jsonListPage, makeClients, retryOnConflict, statusCode } from '../../src/k8s/index.ts';
import { serviceBody } from './controller-harness.ts';

test('informer: resumes by resourceVersion after a dropped watch, relists on 410 Gone', async () => {
  await withApiServer(
    async (api) => {
      // A TCP relay in front of the API server whose connections the test can cut.
      const conns = new Set<net.Socket>();
      const relay = net.createServer((c) => {
        const u = net.connect(api.port, '127.0.0.1');
        conns.add(c);
        c.pipe(u).pipe(c);
        const drop = (): void => {
          conns.delete(c);
          c.destroy();
          u.destroy();
        };
        c.on('error', drop).on('close', drop);
        u.on('error', drop).on('close', drop);
      });
      await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
      const kc = new KubeConfig();
      kc.loadFromString(kubeconfigWithServer(readFileSync(api.kubeconfigPath, 'utf8'), `https://127.0.0.1:${(relay.address() as net.AddressInfo).port}`));
      const core = kc.makeApiClient(CoreV1Api);
      let lists = 0;
      const inf = new Informer<V1Service>({
        kc,
        name: 'services',
        path: '/api/v1/services',
        list: () => {
          lists++;
          return core.listServiceForAllNamespaces();
        },
        restartDelayMs: 50,
      });
      const seen: string[] = [];
      inf.on('add', (s) => seen.push(`add ${s.metadata?.name}`));
      inf.on('delete', (s) => seen.push(`delete ${s.metadata?.name}`));
      try {
        await api.core.createNamespacedService({ namespace: 'default', body: serviceBody('a') });
        await inf.start();
        assert.equal(lists, 1);
        assert.ok(inf.get('a', 'default'));
        // A dropped watch (a load balancer's idle timeout, a proxy restart): resume, no relist.
        await waitFor(() => conns.size > 0, { what: 'an open watch to drop' });
        for (const c of conns) c.destroy();
        await api.core.createNamespacedService({ namespace: 'default', body: serviceBody('b') });
        await waitFor(() => inf.get('b', 'default'), { what: 'b seen after the dropped watch' });
        assert.equal(lists, 1, 'resumed from the resourceVersion without listing again');
        // Stopped while things change and the API server restarts: its resourceVersion is older than
        // the new server's watch cache, so 410 Gone, then a relist that also reports what was
        // deleted meanwhile.
        await inf.stop();
        await api.core.deleteNamespacedService({ name: 'a', namespace: 'default' });
        for (let i = 0; i < 8; i++) await api.core.createNamespacedService({ namespace: 'default', body: serviceBody(`c${i}`) });
        await api.cp.apiserver.kill();
        await api.cp.apiserver.start();
        await inf.start();
        // The default namespace also holds the "kubernetes" Service.
        await waitFor(() => inf.list().filter((s) => s.metadata?.name !== 'kubernetes').length === 9 && !inf.get('a', 'default'), { what: 'cache relisted: b, c0..c7', timeoutMs: 20_000 });
        assert.equal(lists, 2, 'relisted once after 410 Gone');
        assert.ok(seen.includes('delete a'), 'the relist reported the deletion made while stopped');
      } finally {
        await inf.stop();
        relay.close();
        for (const c of conns) c.destroy();
      }
    },
    { install: false },
  );
});

test('events: a repeated Event bumps the count of one object; 409 conflicts are retried on a fresh read', async () => {
  await withApiServer(async (api) => {
    const rec = new EventRecorder({ api: api.core, component: 'test' });
    const ref = { apiVersion: 'v1', kind: 'Service', name: 'x', namespace: 'default' };
    await rec.record(ref, 'Warning', 'AllocationFailed', 'PoolExhausted: no address left');
    await rec.record(ref, 'Warning', 'AllocationFailed', 'PoolExhausted: no address left');
    await rec.record(ref, 'Normal', 'IPAllocated', 'Assigned 10.0.0.1 from pool p');
    const evs = (await api.core.listNamespacedEvent({ namespace: 'default' })).items;
    assert.equal(evs.length, 2);
    assert.equal(evs.find((e) => e.reason === 'AllocationFailed')?.count, 2);
    assert.equal(rec.failures, 0);

    // Two writers race on one object: the loser's stale update gets 409 and is retried on a fresh copy.
    const svc = await api.core.createNamespacedService({ namespace: 'default', body: serviceBody('race') });
    await api.core.replaceNamespacedService({ name: 'race', namespace: 'default', body: { ...svc, metadata: { ...svc.metadata, labels: { writer: 'other' } } } });
    const attempts: boolean[] = [];
    await retryOnConflict(async (fresh) => {
      attempts.push(fresh);
      const cur = fresh ? await api.core.readNamespacedService({ name: 'race', namespace: 'default' }) : svc;
      await api.core.replaceNamespacedService({ name: 'race', namespace: 'default', body: { ...cur, metadata: { ...cur.metadata, annotations: { mine: 'yes' } } } });
    });
    assert.deepEqual(attempts, [false, true]);
    const got = await api.core.readNamespacedService({ name: 'race', namespace: 'default' });
    assert.equal(got.metadata?.labels?.writer, 'other', 'the other writer\'s change survives');
    assert.equal(got.metadata?.annotations?.mine, 'yes');
  }, { install: false });
});

// At 100,000 Services what the informers list and keep decides a component's size and start-up:
// lists come in pages, each object replaced by its transform before the cache takes it (listed
// and watched alike); and a quiet watch stays open (client-node re-opened any watch silent for
// 30 s, which at 1,000 speakers of 12 watches was some 400 WATCH requests a second).
test('informer: paged list and transform before the cache; a quiet watch is not re-opened', async () => {
  await withApiServer(
    async (api) => {
      const core = api.core;
      await core.createNamespace({ body: { metadata: { name: 'paged' } } });
      for (let i = 0; i < 7; i++) await core.createNamespacedConfigMap({ namespace: 'paged', body: { metadata: { name: `cm-${i}`, annotations: { big: 'x'.repeat(1000) } }, data: { k: String(i) } } });
      const pages: Array<string | undefined> = [];
      type CM = { metadata?: { name?: string; namespace?: string; resourceVersion?: string; annotations?: Record<string, string> }; data?: Record<string, string>; seen?: boolean };
      const inf = new Informer<CM>({
        kc: api.kc,
        name: 'configmaps',
        path: '/api/v1/namespaces/paged/configmaps',
        list: () => core.listNamespacedConfigMap({ namespace: 'paged' }),
        listPage: (p) => {
          pages.push(p._continue);
          return core.listNamespacedConfigMap({ namespace: 'paged', ...p });
        },
        pageSize: 3,
        transform: (o) => ({ metadata: { name: o.metadata?.name, namespace: o.metadata?.namespace, resourceVersion: o.metadata?.resourceVersion }, data: o.data, seen: true }),
      });
      const count = async (verb: string) => {
        const text = await api.kubectl(['get', '--raw', '/metrics']);
        let n = 0;
        for (const line of text.split('\n')) if (line.startsWith('apiserver_request_total{') && line.includes('resource="configmaps"') && line.includes(`verb="${verb}"`)) n += Number(line.slice(line.lastIndexOf(' ') + 1));
        return n;
      };
      try {
        await inf.start();
        assert.equal(pages.length, 3, 'seven objects in pages of three');
        assert.equal(pages[0], undefined);
        assert.equal(inf.list().length, 7);
        assert.ok(inf.list().every((o) => o.seen === true && o.metadata?.annotations === undefined), 'listed objects transformed');
        await core.createNamespacedConfigMap({ namespace: 'paged', body: { metadata: { name: 'cm-late', annotations: { big: 'y' } }, data: { k: 'late' } } });
        const late = await waitFor(() => inf.get('cm-late', 'paged'), { what: 'cm-late watched', timeoutMs: 10_000 });
        assert.equal(late.seen, true, 'watched objects transformed');
        assert.equal(late.metadata?.annotations, undefined);
        // A WATCH is counted when it ends: none may end while nothing changes for over two of
        // client-node's 30 s silences.
        const before = await count('WATCH');
        await new Promise((r) => setTimeout(r, 65_000));
        assert.equal(await count('WATCH'), before, 'the quiet watch was re-opened');
        await core.createNamespacedConfigMap({ namespace: 'paged', body: { metadata: { name: 'cm-after' } } });
        await waitFor(() => inf.get('cm-after', 'paged'), { what: 'cm-after watched after the quiet spell', timeoutMs: 10_000 });
      } finally {
        await inf.stop();
      }
    },
    { install: false },
  );
});

// The controller lists Services as plain JSON (jsonListPage over Clients.getJson): the pages as the
// API server sent them, through the component's own connections; errors as client-node's.
test('informer: paged list of plain JSON through getJson; its errors read as the typed calls\'', async () => {
  await withApiServer(
    async (api) => {
      const clients = makeClients(api.kc, { userAgent: 'json-list-test' });
      await api.core.createNamespace({ body: { metadata: { name: 'json' } } });
      for (let i = 0; i < 5; i++) await api.core.createNamespacedConfigMap({ namespace: 'json', body: { metadata: { name: `cm-${i}`, labels: { i: String(i) } }, data: { k: String(i) } } });
      const pages: Array<string | undefined> = [];
      type CM = { metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> }; data?: Record<string, string> };
      const page = jsonListPage<CM>(clients.getJson, '/api/v1/namespaces/json/configmaps');
      const inf = new Informer<CM>({
        kc: api.kc,
        name: 'configmaps',
        path: '/api/v1/namespaces/json/configmaps',
        list: () => api.core.listNamespacedConfigMap({ namespace: 'json' }),
        listPage: (p) => {
          pages.push(p._continue);
          return page(p);
        },
        pageSize: 2,
      });
      try {
        await inf.start();
        assert.equal(pages.length, 3, 'five objects (and the namespace\'s root CA ConfigMap, maybe) in pages of two');
        const got = inf.list().filter((o) => o.metadata?.name?.startsWith('cm-'));
        assert.equal(got.length, 5);
        const one = inf.get('cm-3', 'json');
        assert.deepEqual([one?.data, one?.metadata?.labels], [{ k: '3' }, { i: '3' }]);
        assert.equal(typeof (one?.metadata as { creationTimestamp?: unknown } | undefined)?.creationTimestamp, 'string', 'plain JSON: timestamps as the API server wrote them');
        // The watch resumes from the paged list's resourceVersion.
        await api.core.createNamespacedConfigMap({ namespace: 'json', body: { metadata: { name: 'cm-late' } } });
        await waitFor(() => inf.get('cm-late', 'json'), { what: 'cm-late watched', timeoutMs: 10_000 });
      } finally {
        await inf.stop();
      }
      // A big object with multi-byte characters arrives in many chunks: read whole, element by element.
      const big = 'é€'.repeat(150_000);
      await api.core.createNamespace({ body: { metadata: { name: 'json-big' } } });
      await api.core.createNamespacedConfigMap({ namespace: 'json-big', body: { metadata: { name: 'big' }, data: { k: big } } });
      await api.core.createNamespacedConfigMap({ namespace: 'json-big', body: { metadata: { name: 'small' }, data: { k: 's' } } });
      const listed = await jsonListPage<CM>(clients.getJson, '/api/v1/namespaces/json-big/configmaps')({ limit: 10 }, (o) => ({ ...o, data: { len: String(o.data?.k?.length), same: String(o.data?.k === big) } }));
      const byName = new Map(listed.items.map((o) => [o.metadata?.name, o.data]));
      assert.deepEqual([byName.get('big'), byName.get('small'), listed.prepared], [{ len: String(big.length), same: 'true' }, { len: '1', same: 'false' }, true]);
      assert.ok(listed.metadata?.resourceVersion, 'the list\'s resourceVersion, from the rest of the body');
      const err = await clients.getJson('/api/v1/namespaces/json/configmaps/nope').then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.equal(statusCode(err), 404);
      assert.match(errorText(err), /^404 configmaps "nope" not found$/);
      await assert.rejects(jsonListPage(clients.getJson, '/api/v1/namespaces/json/configmaps/cm-1')({ limit: 2 }), /GET \/api\/v1\/namespaces\/json\/configmaps\/cm-1: not a list: no "items" array; is the path a collection\?/);
    },
    { install: false },
  );
});
