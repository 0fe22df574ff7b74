// Watches through @kubernetes/client-node: resume by resourceVersion, 410 Gone once the version has
// left the bounded history, bookmarks, selector transitions, and an informer that relists after 410.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADD, DELETE, ERROR, makeInformer, UPDATE, Watch, type KubernetesObject, type V1Service } from '@kubernetes/client-node';
import { startTestApiServer, type TestApiServer } from '../support/apiserver.ts';
import { waitFor } from '../support/wait.ts';

interface Seen {
  type: string;
  name: string;
  rv: string;
  code?: number;
  annotations?: Record<string, string>;
}

/** Opens a raw watch and records its events until stopped. */
async function record(s: TestApiServer, path: string, params: Record<string, string | boolean>): Promise<{ events: Seen[]; done: Promise<unknown>; abort: () => void }> {
  const events: Seen[] = [];
  let finish!: (v: unknown) => void;
  const done = new Promise((r) => (finish = r));
  const ctl = await new Watch(s.kc).watch(
    path,
    params,
    (type, obj: { metadata?: { name?: string; resourceVersion?: string; annotations?: Record<string, string> }; code?: number }) => {
      events.push({ type, name: obj.metadata?.name ?? '', rv: obj.metadata?.resourceVersion ?? '', code: obj.code, annotations: obj.metadata?.annotations });
    },
    (err) => finish(err),
  );
  return { events, done, abort: () => ctl.abort() };
}

const svc = (name: string, labels: Record<string, string> = {}): V1Service => ({ metadata: { name, labels }, spec: { ports: [{ port: 80 }] } });

test('watch: initial state, resume from a version, selectors, bookmarks, 410 Gone', async (t) => {
  const s = await startTestApiServer({ historyLimit: 5, bookmarkIntervalMs: 200 });
  t.after(() => s.close());
  const { core } = s;
  const path = '/api/v1/namespaces/default/services';
  await core.createNamespacedService({ namespace: 'default', body: svc('a', { app: 'x' }) });
  const list = await core.listNamespacedService({ namespace: 'default' });
  const rv0 = list.metadata?.resourceVersion ?? '';

  // Without a version: the current objects as ADDED, then changes.
  const all = await record(s, path, {});
  const sel = await record(s, path, { labelSelector: 'app=x', resourceVersion: rv0, allowWatchBookmarks: true });
  await waitFor(() => all.events.length >= 1, { what: 'initial ADDED' });
  assert.deepEqual(all.events.map((e) => `${e.type} ${e.name}`), ['ADDED a']);

  await core.createNamespacedService({ namespace: 'default', body: svc('b') });
  // A label added by update moves b into the selector (ADDED), removing it moves it out (DELETED).
  const b = await core.readNamespacedService({ name: 'b', namespace: 'default' });
  const bx = await core.replaceNamespacedService({ name: 'b', namespace: 'default', body: { ...b, metadata: { ...b.metadata, labels: { app: 'x' } } } });
  await core.replaceNamespacedService({ name: 'b', namespace: 'default', body: { ...bx, metadata: { ...bx.metadata, labels: {} } } });
  await core.deleteNamespacedService({ name: 'a', namespace: 'default' });
  await waitFor(() => sel.events.filter((e) => e.type !== 'BOOKMARK').length >= 3, { what: 'selector events' });
  assert.deepEqual(sel.events.filter((e) => e.type !== 'BOOKMARK').map((e) => `${e.type} ${e.name}`), ['ADDED b', 'DELETED b', 'DELETED a']);
  await waitFor(() => all.events.some((e) => e.type === 'DELETED' && e.name === 'a'), { what: 'DELETED a on the unfiltered watch' });
  const types = all.events.map((e) => `${e.type} ${e.name}`);
  assert.deepEqual(types.slice(0, 2), ['ADDED a', 'ADDED b']);
  assert.equal(types.at(-1), 'DELETED a');
  // Bookmarks arrive periodically when asked for, carrying the latest version.
  await waitFor(() => sel.events.some((e) => e.type === 'BOOKMARK' && Number(e.rv) >= Number(all.events.at(-1)!.rv)), { what: 'a BOOKMARK', timeoutMs: 5000 });
  assert.ok(!all.events.some((e) => e.type === 'BOOKMARK'), 'no bookmarks unless asked for');

  // Resume from rv0 replays what happened since (history still holds it)...
  const resumed = await record(s, path, { resourceVersion: rv0 });
  await waitFor(() => resumed.events.some((e) => e.type === 'DELETED' && e.name === 'a'), { what: 'replayed events' });
  assert.equal(resumed.events[0]?.type, 'ADDED');
  assert.equal(resumed.events[0]?.name, 'b');

  // ...until enough writes push it out of the bounded history: then ERROR 410 and the stream ends.
  for (let i = 0; i < 8; i++) await core.createNamespacedService({ namespace: 'default', body: svc(`n${i}`) });
  const expired = await record(s, path, { resourceVersion: rv0 });
  await expired.done;
  assert.equal(expired.events.length, 1);
  assert.equal(expired.events[0]?.type, 'ERROR');
  assert.equal(expired.events[0]?.code, 410);

  // sendInitialEvents ends the initial state with an annotated bookmark.
  const streaming = await record(s, path, { sendInitialEvents: true, allowWatchBookmarks: true, resourceVersionMatch: 'NotOlderThan' });
  await waitFor(() => streaming.events.some((e) => e.annotations?.['k8s.io/initial-events-end'] === 'true'), { what: 'initial-events-end bookmark' });
  assert.equal(streaming.events.filter((e) => e.type === 'ADDED').length, 9);

  // timeoutSeconds ends a watch.
  const short = await record(s, path, { timeoutSeconds: '1' });
  await waitFor(async () => (await Promise.race([short.done.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))])) as boolean, { what: 'watch end after timeoutSeconds', timeoutMs: 5000 });
  for (const w of [all, sel, resumed, streaming]) w.abort();
});

test('informer: follows changes, survives a 410 by relisting, and its cache converges', async (t) => {
  const s = await startTestApiServer({ historyLimit: 5 });
  const { core } = s;
  let lists = 0;
  const informer = makeInformer<V1Service>(s.kc, '/api/v1/namespaces/default/services', () => {
    lists++;
    return core.listNamespacedService({ namespace: 'default' });
  });
  const log: string[] = [];
  const errors: unknown[] = [];
  informer.on(ADD, (o: KubernetesObject) => log.push(`add ${o.metadata?.name}`));
  informer.on(UPDATE, (o: KubernetesObject) => log.push(`update ${o.metadata?.name}`));
  informer.on(DELETE, (o: KubernetesObject) => log.push(`delete ${o.metadata?.name}`));
  informer.on(ERROR, (e: unknown) => errors.push(e));
  await core.createNamespacedService({ namespace: 'default', body: svc('pre') });
  t.after(async () => {
    await informer.stop();
    await s.close();
  });
  await informer.start();
  await waitFor(() => informer.get('pre', 'default'), { what: 'listed object in the cache' });

  await core.createNamespacedService({ namespace: 'default', body: svc('w1') });
  await waitFor(() => informer.get('w1', 'default'), { what: 'watched ADDED in the cache' });
  const listsBefore = lists;

  // Cut the watch and, before the client can reconnect, make more changes than the history keeps:
  // its resume gets 410 Gone, so it must relist to see 'pre' deleted and 'late*' created.
  const d = s.server.core.resolve('', 'v1', 'services');
  const dropped = s.server.dropWatches();
  assert.ok(dropped >= 1);
  s.server.core.delete(d, 'default', 'pre');
  for (let i = 0; i < 10; i++) s.server.core.create(d, 'default', { metadata: { name: `late${i}` }, spec: { ports: [{ port: 80 }] } });

  await waitFor(() => lists > listsBefore, { what: 'a relist after 410', timeoutMs: 15_000 });
  await waitFor(() => informer.list('default').length === 11 && !informer.get('pre', 'default'), { what: 'cache converged after relist', timeoutMs: 15_000 });
  assert.ok(log.includes('delete pre'), `the relist reports the deletion it missed: ${log.join(', ')}`);
  assert.deepEqual(errors, []);

  // And it keeps watching after the relist.
  await core.deleteNamespacedService({ name: 'w1', namespace: 'default' });
  await waitFor(() => !informer.get('w1', 'default'), { what: 'DELETED after relist' });
});
