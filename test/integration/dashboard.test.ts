// ironlb dashboard against the real control plane and controller: the page's state arrives over
// server-sent events and follows watch events; loopback only, Host checked, no lab without one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startDashboard, type DashboardState } from '../../src/dashboard/server.ts';
import { waitFor } from '../support/wait.ts';
import { withCluster } from './controller-harness.ts';

/** Reads server-sent events from the dashboard into `states` until closed. */
function follow(url: string): { states: DashboardState[]; close: () => void } {
  const states: DashboardState[] = [];
  const req = request(`${url}events`, (res) => {
    let buf = '';
    res.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const chunk = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = chunk.split('\n').find((l) => l.startsWith('data: '));
        if (chunk.includes('event: state') && data) states.push(JSON.parse(data.slice(6)) as DashboardState);
      }
    });
  });
  req.on('error', () => {});
  req.end();
  return { states, close: () => req.destroy() };
}

function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('ironlb dashboard: state over server-sent events, following watches; 127.0.0.1 only; faults only with a lab', async () => {
  await withCluster(async (h) => {
    await h.startController();
    await h.pool('small', { addresses: ['192.0.2.10/31'] });
    await h.service('web');
    await h.waitIPs('web');
    const d = await startDashboard({ clients: h.clients, port: 0, pushIntervalMs: 100 });
    const sse = follow(d.url);
    try {
      assert.match(d.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const first = await waitFor(() => sse.states.find((s) => s.report?.services.some((x) => x.name === 'web')), { what: 'a state with Service web', timeoutMs: 20_000 });
      assert.deepEqual(first.report?.pools.map((p) => p.name), ['small']);
      // A change in the cluster reaches the page by itself (watch → push).
      await h.service('api');
      await waitFor(() => sse.states.at(-1)?.report?.services.find((x) => x.name === 'api' && x.addresses.length), { what: 'Service api with its address pushed to the page', timeoutMs: 20_000 });
      // A ServiceAnnouncement appearing is an entry on the timeline.
      await h.clients.custom.createNamespacedCustomObject({
        group: 'ironlb.io',
        version: 'v1alpha1',
        namespace: 'default',
        plural: 'serviceannouncements',
        body: { apiVersion: 'ironlb.io/v1alpha1', kind: 'ServiceAnnouncement', metadata: { name: 'web', namespace: 'default' }, status: { service: 'web', nodes: ['node-a'], announcements: [{ node: 'node-a', mode: 'layer2', address: '192.0.2.10' }] } },
      });
      const entry = await waitFor(() => sse.states.at(-1)?.timeline.find((e) => e.service === 'default/web'), { what: 'a timeline entry for default/web', timeoutMs: 20_000 });
      assert.equal(entry.kind, 'announced');
      // The page and its two front-end modules are served from this machine.
      const page = await get(d.url);
      assert.equal(page.status, 200);
      assert.match(page.body, /"preact": "\/vendor\/preact\.mjs"/);
      assert.equal((await get(`${d.url}vendor/preact.mjs`)).status, 200);
      assert.equal((await get(`${d.url}vendor/htm.mjs`)).status, 200);
      // Another Host (DNS rebinding) is refused; lab actions need the header, and a lab.
      const rebound = await get(d.url, { host: `evil.example:${d.port}` });
      assert.equal(rebound.status, 403);
      assert.equal((await get(`${d.url}api/lab/kill-node`, {}, 'POST')).status, 403);
      const noLab = await get(`${d.url}api/lab/kill-node`, { 'x-ironlb-dashboard': '1' }, 'POST');
      assert.equal(noLab.status, 404);
      assert.match(noLab.body, /ironlb lab dashboard/);
    } finally {
      sse.close();
      await d.close();
    }
  });
});
