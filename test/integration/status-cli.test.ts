// ironlb status against the in-repo API server with the real controller: an allocated and
// announced Service, one pending for want of addresses (the reason from its AllocationFailed
// Event), one of another class, a BGP session, pool usage; through the CLI and as a kubectl plugin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_VERSION, GROUP, VERSION } from '../../src/api/index.ts';
import { collectStatus, formatStatus, type StatusReport } from '../../src/status/index.ts';
import { waitFor } from '../support/wait.ts';
import { NS, withCluster } from './controller-harness.ts';

const bin = fileURLToPath(new URL('../../bin/ironlb', import.meta.url));

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: 60_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

test('ironlb status: services, addresses, announcing nodes, sessions, pools, pending reasons; kubectl ironlb', async () => {
  await withCluster(async (h) => {
    await h.startController({ leaderElection: { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250 } });
    await h.pool('small', { addresses: ['192.0.2.10/32'] });
    await h.service('web');
    assert.deepEqual(await h.waitIPs('web'), ['192.0.2.10']);
    await h.service('db');
    await h.waitEvent('db', 'AllocationFailed');
    await h.service('ext', { loadBalancerClass: 'other.example/lb' });
    const { custom } = h.clients;
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: 'default',
      plural: 'serviceannouncements',
      body: { apiVersion: API_VERSION, kind: 'ServiceAnnouncement', metadata: { name: 'web', namespace: 'default' }, status: { service: 'web', addresses: ['192.0.2.10'], announcements: [{ node: 'node-a', mode: 'layer2', address: '192.0.2.10', interfaces: ['eth0'] }] } },
    });
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: NS,
      plural: 'bgpsessionstates',
      body: { apiVersion: API_VERSION, kind: 'BGPSessionState', metadata: { name: 'node-a.tor-a', namespace: NS }, status: { node: 'node-a', peer: 'tor-a', peerAddress: '10.0.0.1', state: 'Established', bfdState: 'Up', advertisedPrefixes: 1, lastTransitionTime: '2026-01-01T00:00:00Z' } },
    });

    const opts = { core: h.clients.core, custom: h.clients.custom, coordination: h.clients.coordination };
    const r = await waitFor(
      async () => {
        const x = await collectStatus(opts);
        return x.pools[0]?.assignedIPv4 === 1 && x.components.length ? x : undefined;
      },
      { what: 'pool status and configuration state written by the controller', timeoutMs: 20_000, intervalMs: 100 },
    );
    const svc = (name: string) => r.services.find((s) => s.name === name) as StatusReport['services'][number];
    assert.deepEqual(
      r.services.map((s) => [s.name, s.state]),
      [
        ['db', 'pending'],
        ['ext', 'other-class'],
        ['web', 'announced'],
      ],
    );
    assert.deepEqual(svc('web').addresses, ['192.0.2.10']);
    assert.equal(svc('web').pool, 'small');
    assert.deepEqual(svc('web').announcements, [{ node: 'node-a', mode: 'layer2', address: '192.0.2.10', interfaces: ['eth0'] }]);
    assert.match(svc('db').reason ?? '', /no (free|available)|exhausted|full/i);
    assert.deepEqual(r.pools, [{ name: 'small', addresses: ['192.0.2.10/32'], autoAssign: true, assignedIPv4: 1, availableIPv4: 0, assignedIPv6: 0, availableIPv6: 0, exhausted: true }]);
    assert.deepEqual(r.sessions, [{ node: 'node-a', peer: 'tor-a', peerAddress: '10.0.0.1', state: 'Established', bfdState: 'Up', advertisedPrefixes: 1, since: '2026-01-01T00:00:00Z' }]);
    assert.deepEqual(r.components.map((c) => [c.component, c.valid]), [['controller', true]]);
    assert.deepEqual(r.warnings, []);
    assert.equal(r.leader?.identity, h.controllers[0]?.identity);

    const text = formatStatus(r);
    assert.match(text, /^default\s+web\s+Announced\s+192\.0\.2\.10\s+small\s+node-a \(L2 eth0\)$/m);
    assert.match(text, /^default\s+db\s+Pending\s+-\s+-\s+-$/m);
    assert.match(text, /^ {2}default\/db: .+/m);
    assert.match(text, /^small\s+192\.0\.2\.10\/32\s+1\/0\s+0\/0\s+yes\s+YES$/m);
    assert.match(text, new RegExp(`^ {2}controller leader: ${h.controllers[0]?.identity}`, 'm'));
    assert.match(text, /^tor-a\s+10\.0\.0\.1\s+node-a\s+Established\s+Up\s+1\s+2026-01-01T00:00:00Z$/m);

    await assert.rejects(collectStatus({ ...opts, serviceNamespace: 'default', service: 'nope' }), /Service default\/nope not found/);

    // The CLI (one Service, text), and the kubectl plugin (everything, JSON): each start of the
    // command costs seconds on a loaded machine, so two runs cover both paths.
    const env = { ...process.env, KUBECONFIG: h.api.kubeconfigPath, HOME: h.api.dir, KUBECACHEDIR: `${h.api.dir}/kube-cache` };
    const one = await run(bin, ['status', 'db', '-n', 'default', '--kubeconfig', h.api.kubeconfigPath], env);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, /^default\s+db\s+Pending/m);
    assert.match(one.stdout, /WHY NOT ANNOUNCED\n {2}default\/db: /);
    assert.doesNotMatch(one.stdout, /\bweb\b/);
    const pathEnv = { ...env, PATH: `${dirname(bin)}:${process.env.PATH ?? ''}` };
    const plugin = await run('kubectl', ['ironlb', 'status', '-o', 'json'], pathEnv);
    assert.equal(plugin.code, 0, plugin.stderr);
    assert.deepEqual((JSON.parse(plugin.stdout) as StatusReport).services.map((s) => [s.name, s.state, s.addresses]), [
      ['db', 'pending', []],
      ['ext', 'other-class', []],
      ['web', 'announced', ['192.0.2.10']],
    ]);
    const list = await run('kubectl', ['plugin', 'list'], pathEnv);
    assert.match(list.stdout, /kubectl-ironlb/);
  });
});

test('ironlb status says when the CRDs are missing instead of failing', async () => {
  const { withApiServer } = await import('../support/apiserver.ts');
  await withApiServer(async (s) => {
    await s.core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'web' }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } } });
    const r = await collectStatus({ core: s.core, custom: s.custom });
    assert.deepEqual(r.services.map((x) => [x.name, x.state]), [['web', 'pending']]);
    assert.match(r.services[0]?.reason ?? '', /no controller has reported/);
    assert.ok(r.warnings.some((w) => /ippools\.ironlb\.io CRD is not installed/.test(w)), r.warnings.join('\n'));
    // Without ironlb installed: with it, this raced the CRDs becoming established (429s).
  }, { install: false });
});

test('ironlb status [service] -n: NAMESPACE/NAME, NAME with -n or the context namespace', async () => {
  const { serviceTarget } = await import('../../src/cli/status.ts');
  assert.deepEqual(serviceTarget('shop/web', 'other', 'ctx'), { namespace: 'shop', name: 'web' });
  assert.deepEqual(serviceTarget('web', 'shop', 'ctx'), { namespace: 'shop', name: 'web' });
  assert.deepEqual(serviceTarget('web', undefined, 'ctx'), { namespace: 'ctx', name: 'web' });
  assert.deepEqual(serviceTarget('web', undefined, undefined), { namespace: 'default', name: 'web' });
  assert.deepEqual(serviceTarget(undefined, 'shop', 'ctx'), { namespace: 'shop' });
  assert.deepEqual(serviceTarget(undefined, undefined, 'ctx'), {});
  assert.throws(() => serviceTarget('/web', undefined, undefined), /NAME or NAMESPACE\/NAME/);
});
