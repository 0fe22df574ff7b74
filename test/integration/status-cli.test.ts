// ironlb status against the in-repo API server with the real controller: an allocated and
// announced Service, one pending for want of addresses (the reason from its AllocationFailed
// Event), one of another class, a BGP session, pool usage; through the CLI and as a kubectl plugin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_VERSION, GROUP, VERSION, type NodeAnnouncementStatus, type ServiceAnnouncementStatus } from '../../src/api/index.ts';
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
    // The control plane without ironlb installed: the CRDs are missing indeed.
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

// What the speakers write, made by the speaker's own code: the decision and the writer's status.
async function speakerAnnouncement(svc: { name: string; ips: string[]; pool: string }, nodes: string[], mode: 'layer2' | 'bgp'): Promise<{ st: ServiceAnnouncementStatus; nodeAnns: NodeAnnouncementStatus[] }> {
  const { validateConfig } = await import('../../src/api/index.ts');
  const { decide } = await import('../../src/speaker/decide.ts');
  const { policies } = await import('../../src/speaker/facts.ts');
  const { announcementStatus, nodeAnnouncementStatus, statusWriter } = await import('../../src/speaker/status.ts');
  const objs: unknown[] = [{ kind: 'IPPool', metadata: { name: svc.pool }, spec: { addresses: svc.ips.map((ip) => (ip.includes(':') ? `${ip}/128` : `${ip}/32`)) } }];
  if (mode === 'layer2') objs.push({ kind: 'L2Advertisement', metadata: { name: 'l2', namespace: NS }, spec: {} });
  else objs.push({ kind: 'BGPPeer', metadata: { name: 'tor-a', namespace: NS }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '10.0.0.1' } }, { kind: 'BGPAdvertisement', metadata: { name: 'b', namespace: NS }, spec: {} });
  const { config, errors } = validateConfig(objs, []);
  assert.deepEqual(errors, []);
  const pol = policies(config!);
  const facts = nodes.map((name) => ({ name, labels: {}, networkUnavailable: false }));
  const s = { key: `default/${svc.name}`, labels: {}, ips: svc.ips, pool: svc.pool, externalTrafficPolicy: 'Cluster' as const, endpointNodes: new Set<string>(), hasServingEndpoint: true };
  const view = decide({ self: nodes[0]!, nodes: facts, alive: new Set(nodes), services: [s], ...pol }).services.get(s.key)!;
  const writer = statusWriter(view, nodes, s.key)!;
  const st = announcementStatus(s, view, { self: writer, selfInterfaces: () => ['eth0'], nodes: new Map(facts.map((n) => [n.name, n])), bgp: pol.bgp, peers: pol.peers });
  return { st, nodeAnns: facts.map((n) => nodeAnnouncementStatus(n, pol.bgp, pol.peers)) };
}

test('ironlb status SERVICE shows its pool and sessions only; a dual-stack owner once; kubectl lists the advertisements of each node; status -w follows changes at a bounded rate', async () => {
  await withCluster(async (h) => {
    await h.startController({ leaderElection: { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250 } });
    await h.pool('web-pool', { addresses: ['192.0.2.10/32'] });
    await h.pool('ds-pool', { addresses: ['192.0.2.20/32', '2001:db8::20/128'] });
    await h.pool('bgp-pool', { addresses: ['198.51.100.0/30'] });
    await h.service('web', { annotations: { 'ironlb.io/address-pool': 'web-pool' } });
    await h.service('ds', { annotations: { 'ironlb.io/address-pool': 'ds-pool' }, ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] });
    await h.service('routed', { annotations: { 'ironlb.io/address-pool': 'bgp-pool' } });
    const dsIps = await h.waitIPs('ds', (x) => x.length === 2);
    const routedIps = await h.waitIPs('routed');
    await h.waitIPs('web');
    const { custom } = h.clients;
    const put = async (name: string, status: ServiceAnnouncementStatus) =>
      custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: 'default', plural: 'serviceannouncements', body: { apiVersion: API_VERSION, kind: 'ServiceAnnouncement', metadata: { name, namespace: 'default' }, status } });
    const three = ['node0', 'node1', 'node2'];
    const routed = await speakerAnnouncement({ name: 'routed', ips: routedIps, pool: 'bgp-pool' }, three, 'bgp');
    assert.deepEqual(routed.st.bgp, { advertisements: ['b'], externalTrafficPolicy: 'Cluster' }, 'the writer names the advertisements, not every node');
    await put('routed', routed.st);
    // Each node's speaker writes its own NodeAnnouncement.
    for (const na of routed.nodeAnns) {
      await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: NS, plural: 'nodeannouncements', body: { apiVersion: API_VERSION, kind: 'NodeAnnouncement', metadata: { name: na.node, namespace: NS }, status: na } });
    }
    await put('ds', (await speakerAnnouncement({ name: 'ds', ips: dsIps, pool: 'ds-pool' }, ['node0'], 'layer2')).st);
    for (const [node, peer] of [['node0', 'tor-a'], ['node1', 'tor-a'], ['node2', 'tor-a'], ['node0', 'tor-b']] as const) {
      await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: NS,
        plural: 'bgpsessionstates',
        body: { apiVersion: API_VERSION, kind: 'BGPSessionState', metadata: { name: `${node}.${peer}`, namespace: NS }, status: { node, peer, state: 'Established', advertisedPrefixes: 1 } },
      });
    }
    const opts = { core: h.clients.core, custom: h.clients.custom, coordination: h.clients.coordination };
    await waitFor(async () => (await collectStatus(opts)).pools.every((p) => p.assignedIPv4 === 1), { what: 'pool status of the three pools', timeoutMs: 20_000, intervalMs: 100 });

    // One Service: its pool and the sessions it is announced over.
    const one = await collectStatus({ ...opts, serviceNamespace: 'default', service: 'routed' });
    assert.deepEqual(one.services.map((s) => s.name), ['routed']);
    assert.deepEqual(one.pools.map((p) => p.name), ['bgp-pool']);
    assert.deepEqual(one.sessions.map((s) => `${s.node}.${s.peer}`), ['node0.tor-a', 'node1.tor-a', 'node2.tor-a']);
    const web = await collectStatus({ ...opts, serviceNamespace: 'default', service: 'web' });
    assert.deepEqual(web.pools.map((p) => p.name), ['web-pool']);
    assert.deepEqual(web.sessions, [], 'not announced over BGP: no session of its own');
    const all = await collectStatus(opts);
    assert.equal(all.pools.length, 3);
    assert.equal(all.sessions.length, 4);

    // A dual-stack Service owned by one node over Layer 2: that node once.
    const text = formatStatus(all);
    assert.match(text, /^default\s+ds\s+Announced\s+\S+\s+ds-pool\s+node0 \(L2 eth0\)$/m);
    assert.match(text, /^default\s+routed\s+Announced\s+\S+\s+bgp-pool\s+node0 \(BGP tor-a\), node1 \(BGP tor-a\), node2 \(BGP tor-a\)$/m);

    // kubectl get serviceannouncements: the advertisements (BGP column); nodeannouncements: each node's.
    const table = await h.api.kubectl(['get', 'serviceannouncements', '-n', 'default', 'routed']);
    assert.match(table, /\["b"\]/, table);
    const nodesTable = await h.api.kubectl(['get', 'nodeannouncements', '-n', NS]);
    for (const n of three) assert.match(nodesTable, new RegExp(`^${n}\\s+${n}\\s+b\\s`, 'm'), nodesTable);

    // The CLI for one Service prints its pool and sessions only.
    const env = { ...process.env, KUBECONFIG: h.api.kubeconfigPath, HOME: h.api.dir, KUBECACHEDIR: `${h.api.dir}/kube-cache` };
    const cli = await run(bin, ['status', 'default/routed', '--kubeconfig', h.api.kubeconfigPath], env);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /^bgp-pool\s/m);
    assert.doesNotMatch(cli.stdout, /web-pool|ds-pool|tor-b/);

    // status -w: a report at start, a new one after a change, and a burst of changes coalesced.
    const child = spawn(bin, ['status', '-w', '-o', 'json', '--interval', '500', '--kubeconfig', h.api.kubeconfigPath], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const frames: Array<{ t: number; r: StatusReport }> = [];
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    createInterface({ input: child.stdout }).on('line', (l) => frames.push({ t: Date.now(), r: JSON.parse(l) as StatusReport }));
    try {
      await waitFor(() => frames.length >= 1 && frames.at(-1)!.r.services.length === 3, { what: 'the first status -w frame', timeoutMs: 60_000, intervalMs: 100 }).catch((err: Error) => {
        throw new Error(`${err.message}\n${stderr}`);
      });
      await h.service('late', { annotations: { 'ironlb.io/address-pool': 'web-pool' } });
      await waitFor(() => frames.at(-1)?.r.services.some((s) => s.name === 'late'), { what: 'a frame with the new Service', timeoutMs: 20_000, intervalMs: 100 });
      const before = frames.length;
      const t0 = Date.now();
      for (let i = 0; i < 20; i++) await h.clients.core.patchNamespacedService({ name: 'late', namespace: 'default', body: { metadata: { labels: { step: String(i) } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
      const burstMs = Date.now() - t0;
      await waitFor(() => frames.length > before, { what: 'a frame after the burst', timeoutMs: 20_000, intervalMs: 100 });
      // Labels are not shown: frames come only when the content changes (here: none, or the late
      // pool's status), and never more often than --interval allows.
      const during = frames.slice(before).filter((f) => f.t <= t0 + burstMs + 600).length;
      assert.ok(during <= Math.ceil(burstMs / 500) + 1, `${during} frames in a ${burstMs} ms burst of 20 changes`);
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
    assert.equal(child.exitCode, 0, stderr);
  });
});
