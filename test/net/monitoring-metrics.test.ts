// Every metric the chart's alert rules and Grafana dashboard query is one the running components
// serve: a controller and a speaker run against the real control plane (the speaker in a network
// namespace, with Layer 2, a BGP peer with BFD, and membership), their /metrics are scraped, and
// the names in every expression are looked up in what they serve.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Controller, createMetrics } from '../../src/controller/index.ts';
import { startHealthServer } from '../../src/util/health-server.ts';
import { ROOT } from '../../testbed/tools.ts';
import { componentClients } from '../support/apiserver.ts';
import { SpeakerCluster, NS } from '../support/speaker-cluster.ts';
import { waitFor } from '../support/wait.ts';

const AS = 64512;

interface Dashboard {
  panels: Array<{ title: string; type: string; targets?: Array<{ expr: string }>; panels?: Dashboard['panels'] }>;
}

/** Every PromQL expression shipped: alert rules and dashboard targets, with where each comes from. */
export function shippedExpressions(): Array<{ where: string; expr: string }> {
  const rules = parse(readFileSync(join(ROOT, 'deploy/helm/ironlb/files/alerts.yaml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> };
  const dash = JSON.parse(readFileSync(join(ROOT, 'deploy/helm/ironlb/files/dashboard.json'), 'utf8')) as Dashboard;
  const out = rules.groups.flatMap((g) => g.rules.map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })));
  const walk = (panels: Dashboard['panels']): void => {
    for (const p of panels) {
      for (const t of p.targets ?? []) out.push({ where: `dashboard panel "${p.title}"`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(dash.panels);
  return out;
}

/**
 * Metric names in an expression: identifiers that are not functions, keywords or label names
 * (label names sit inside {...}, by (...), without (...), on (...), ignoring (...), group_*(...)).
 * Our metrics all start with ironlb_; anything else named as a series is reported too.
 */
export function metricNames(expr: string): string[] {
  const noStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const noLabels = noStrings.replace(/\{[^}]*\}/g, '{}').replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'sum', 'max', 'min', 'avg', 'count', 'rate', 'increase', 'irate', 'histogram_quantile', 'absent', 'vector', 'le', 'inf', 'nan']);
  const names = new Set<string>();
  for (const m of noLabels.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const id = m[0];
    if (KEYWORDS.has(id.toLowerCase())) continue;
    // Durations inside [...] are cut out by the character class (digits first); $__rate_interval is Grafana's.
    if (id.startsWith('__') || noLabels[(m.index ?? 0) - 1] === '$') continue;
    names.add(id);
  }
  return [...names].sort();
}

/** Names a /metrics page serves: each family from its # TYPE line, histograms with their series. */
export function servedNames(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
    const [, name, type] = m as unknown as [string, string, string];
    out.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(`${name}${s}`);
  }
  return out;
}

test('metricNames reads series names out of PromQL, not functions, labels or durations', () => {
  assert.deepEqual(metricNames('histogram_quantile(0.99, sum by (le, node) (rate(ironlb_x_bucket[$__rate_interval])))'), ['ironlb_x_bucket']);
  assert.deepEqual(metricNames('(a == 0 and b > 0) and on (instance) (c{state="Down"} == 1) or absent(d)'), ['a', 'b', 'c', 'd']);
  assert.deepEqual(metricNames('count(ironlb_q == 0) or vector(0)'), ['ironlb_q']);
});

test('every metric in the alert rules and the dashboard is served by a running controller or speaker', async () => {
  const c = await SpeakerCluster.create({ prefix: 'ilbo', nodes: 1, net: 197, bareRouters: 1 });
  let controller: Controller | undefined;
  let server: Awaited<ReturnType<typeof startHealthServer>> | undefined;
  try {
    const r = c.bareRouters[0]!;
    await c.apply('IPPool', 'lan', { addresses: ['10.197.0.64/28'] });
    await c.apply('L2Advertisement', 'l2', {});
    await c.apply('BFDProfile', 'fast', { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 });
    await c.apply('BGPPeer', 'r1', { myASN: AS, peerASN: AS, peerAddress: r.address, holdTime: '9s', connectTime: '1s', bfdProfile: 'fast' });
    await c.apply('BGPAdvertisement', 'adv', {});
    // The controller in this process, as the chart's ServiceAccount, serving /metrics on loopback.
    const metrics = createMetrics();
    controller = new Controller({ clients: await componentClients(c.api, 'controller'), namespace: NS, identity: 'ctl-0', leaderElection: false, poolStatusDelayMs: 50, metrics });
    await controller.start();
    server = await startHealthServer({ port: 0, host: '127.0.0.1', registry: metrics.registry, healthz: () => controller!.healthz(), readyz: () => controller!.readyz() });
    const node = c.startSpeaker(0);
    await node.waitLog(/membership running/, 180_000);
    // A Service the controller gives an address (the pool gauges) and the speaker announces.
    await c.api.core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'web' }, spec: { type: 'LoadBalancer', ports: [{ port: 80, protocol: 'TCP' }], selector: { app: 'web' } } } });
    await c.endpoints('web', ['n0']);
    // Scrape until the lazily registered families are there (BFD once the peer's session exists).
    const speakerText = await waitFor(
      async () => {
        const t = await node.metrics();
        return /^ironlb_bfd_sessions\{/m.test(t) && /^ironlb_speaker_bgp_session_up\{/m.test(t) && /^ironlb_membership_members\{/m.test(t) ? t : undefined;
      },
      { what: 'speaker /metrics with BFD, BGP and membership series', timeoutMs: 60_000, intervalMs: 250 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${node.tail()}`);
    });
    const controllerText = await waitFor(
      async () => {
        const t = await (await fetch(`http://127.0.0.1:${server!.port}/metrics`)).text();
        return /^ironlb_pool_capacity_addresses\{/m.test(t) && /^ironlb_controller_leader 1$/m.test(t) ? t : undefined;
      },
      { what: 'controller /metrics with pool gauges, leading', timeoutMs: 30_000, intervalMs: 100 },
    );
    const served = new Set([...servedNames(speakerText), ...servedNames(controllerText)]);
    const exprs = shippedExpressions();
    assert.ok(exprs.length >= 30, `expressions found: ${exprs.length}`);
    const missing: string[] = [];
    const used = new Set<string>();
    for (const { where, expr } of exprs) {
      for (const name of metricNames(expr)) {
        used.add(name);
        if (!served.has(name)) missing.push(`${where}: ${name}`);
      }
    }
    assert.deepEqual(missing, [], `metrics queried but served by no component:\n${missing.join('\n')}`);
    console.log(`# monitoring: ${exprs.length} expressions use ${used.size} metric names, all served (${served.size} names served)`);
  } finally {
    await server?.close();
    await controller?.stop().catch(() => undefined);
    await c.destroy();
  }
});
