// The informers' watches: bookmarks and a server-side timeout are asked for, so a quiet resource is
// not reconnected (a new TLS connection) every 30 s as client-node's default idle timeout does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { KubernetesObject } from '@kubernetes/client-node';
import { kubeConfigForServer } from '../../src/k8s/client.ts';
import { Informer, WATCH_IDLE_TIMEOUT_MS } from '../../src/k8s/informer.ts';
import { waitFor } from '../support/wait.ts';

test('informer watch: asks for bookmarks and a 5-10 minute server timeout; resumes from a bookmark\'s resourceVersion', async () => {
  const watches: URL[] = [];
  const open = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('watch') !== 'true') return void res.end();
    watches.push(url);
    res.writeHead(200, { 'content-type': 'application/json' });
    open.add(res);
    if (watches.length === 1) {
      // A bookmark, then the server ends the watch (its timeoutSeconds ran out).
      res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Service', apiVersion: 'v1', metadata: { resourceVersion: '42' } } })}\n`);
      setTimeout(() => res.end(), 50);
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const inf = new Informer<KubernetesObject>({
    kc: kubeConfigForServer(`http://127.0.0.1:${port}`),
    name: 'services',
    path: '/api/v1/services',
    list: async () => ({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '7' }, items: [] }),
  });
  try {
    await inf.start();
    await waitFor(() => watches.length >= 2 || undefined, { what: 'the watch to be restarted after the server ended it', timeoutMs: 10_000 });
    const [first, second] = watches as [URL, URL];
    assert.equal(first.searchParams.get('allowWatchBookmarks'), 'true');
    assert.equal(first.searchParams.get('resourceVersion'), '7');
    const t = Number(first.searchParams.get('timeoutSeconds'));
    assert.ok(t >= 300 && t < 600, `timeoutSeconds ${t}`);
    assert.equal(second.searchParams.get('resourceVersion'), '42', 'resumed from the bookmark, without a relist');
    assert.ok(WATCH_IDLE_TIMEOUT_MS > 60_000, 'longer than the API server\'s bookmark period (about a minute)');
  } finally {
    await inf.stop();
    for (const r of open) r.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

test('informer list: 130,000 objects in one namespace (client-node\'s own list() overflows the stack there)', async () => {
  const server = http.createServer((req, res) => {
    // The watch: headers, then silence until the test ends.
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const n = 130_000;
  const items = Array.from({ length: n }, (_, i) => ({ metadata: { name: `s${i}`, namespace: 'one', resourceVersion: '1' } }));
  items.push({ metadata: { name: 'x', namespace: 'two', resourceVersion: '1' } });
  const inf = new Informer<KubernetesObject>({
    kc: kubeConfigForServer(`http://127.0.0.1:${port}`),
    name: 'services',
    path: '/api/v1/services',
    list: async () => ({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '7' }, items }),
    trim: false,
  });
  try {
    await inf.start();
    assert.equal(inf.list().length, n + 1);
    assert.equal(inf.list('two').length, 1);
    assert.equal(inf.get('s129999', 'one')?.metadata?.name, 's129999');
  } finally {
    await inf.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});
