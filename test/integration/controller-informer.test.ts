// The informers under the controller: a dropped watch resumes from its resourceVersion without a
// relist; a resourceVersion that left the server's history (410 Gone) leads to a relist.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Service } from '@kubernetes/client-node';
import { waitFor } from '../support/wait.ts';
import { withApiServer } from '../support/apiserver.ts';
import { EventRecorder, Informer, retryOnConflict } from '../../src/k8s/index.ts';
import { serviceBody } from './controller-harness.ts';

test('informer: resumes by resourceVersion after a dropped watch, relists on 410 Gone', async () => {
  await withApiServer(
    async (api) => {
      let lists = 0;
      const inf = new Informer<V1Service>({
        kc: api.kc,
        name: 'services',
        path: '/api/v1/services',
        list: () => {
          lists++;
          return api.core.listServiceForAllNamespaces();
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
        // A dropped watch (API server restart, load balancer timeout): resume, no relist.
        await waitFor(() => api.server.dropWatches() > 0, { what: 'an open watch to drop' });
        await api.core.createNamespacedService({ namespace: 'default', body: serviceBody('b') });
        await waitFor(() => inf.get('b', 'default'), { what: 'b seen after the dropped watch' });
        assert.equal(lists, 1, 'resumed from the resourceVersion without listing again');
        // Stopped long enough for its resourceVersion to leave the history: 410 Gone, then a relist
        // that also reports what was deleted meanwhile.
        await inf.stop();
        await api.core.deleteNamespacedService({ name: 'a', namespace: 'default' });
        for (let i = 0; i < 8; i++) await api.core.createNamespacedService({ namespace: 'default', body: serviceBody(`c${i}`) });
        await inf.start();
        await waitFor(() => inf.list().length === 9 && !inf.get('a', 'default'), { what: 'cache relisted: b, c0..c7', timeoutMs: 10_000 });
        assert.equal(lists, 2, 'relisted once after 410 Gone');
        assert.ok(seen.includes('delete a'), 'the relist reported the deletion made while stopped');
      } finally {
        await inf.stop();
      }
    },
    { historyLimit: 3 },
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
  });
});
