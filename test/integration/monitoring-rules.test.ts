// The chart's alert rules, as helm renders them into the PrometheusRule, checked and unit-tested by
// promtool (Debian's prometheus package) on series fixtures: each alert fires on the situation it
// is for, after its `for`, and stays quiet on the healthy or excluded cases next to it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { renderChart, type K8sObject } from '../../testbed/helm.ts';

interface Rule {
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleGroups {
  groups: Array<{ name: string; rules: Rule[] }>;
}

function promtool(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile('promtool', args, { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('promtool not found: install Debian\'s prometheus package (scripts/setup.sh does)');
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` });
    });
  });
}

export async function renderedRules(): Promise<RuleGroups> {
  const objs = (await renderChart({ values: { metrics: { prometheusRule: { enabled: true, labels: { release: 'kube-prometheus-stack' } } } } })).map((r) => r.object);
  const rule = objs.find((o) => o.kind === 'PrometheusRule') as (K8sObject & { spec: RuleGroups }) | undefined;
  assert.ok(rule, 'PrometheusRule rendered with metrics.prometheusRule.enabled');
  assert.equal(rule.metadata.labels?.release, 'kube-prometheus-stack');
  return rule.spec;
}

const CTL = { job: 'ironlb-controller-metrics', namespace: 'ironlb-system' };
const SPK = { job: 'ironlb-speaker-metrics', namespace: 'ironlb-system' };
const sel = (name: string, labels: Record<string, string>): string => `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;
const series = (name: string, labels: Record<string, string>, values: string) => ({ series: sel(name, labels), values });
const leaderA = { ...CTL, instance: '10.0.0.5:7472', pod: 'ctl-a' };
const leaderB = { ...CTL, instance: '10.0.0.6:7472', pod: 'ctl-b' };
const node = (n: number) => ({ ...SPK, instance: `192.168.1.${n}:7473`, node: `node${n}` });

type Expected = { exp_labels: Record<string, string>; exp_annotations?: Record<string, string>; value?: string };
type Case = { alert_rule_test: Array<{ eval_time: string; alertname: string; exp_alerts: Expected[] }> } & Record<string, unknown>;

/**
 * promtool compares annotations too: where a case does not spell them out, they are the rule's
 * templates with $labels and $value filled in (only those two forms are used in plain text).
 */
function withAnnotations(spec: RuleGroups, cases: Case[]): Case[] {
  const rules = new Map(spec.groups.flatMap((g) => g.rules.map((r) => [r.alert ?? '', r] as const)));
  for (const c of cases) {
    for (const t of c.alert_rule_test) {
      const rule = rules.get(t.alertname);
      for (const e of t.exp_alerts) {
        if (!e.exp_annotations && rule?.annotations) {
          const fill = (s: string): string =>
            s.replace(/\{\{\s*\$labels\.(\w+)\s*\}\}/g, (_m, k: string) => e.exp_labels[k] ?? '<no value>').replace(/\{\{\s*\$value\s*\}\}/g, e.value ?? '');
          e.exp_annotations = Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, fill(v)]));
        }
        delete e.value;
      }
    }
  }
  return cases;
}

/** promtool unit tests: one input set per situation, with the alerts expected at given times. */
function unitTests(spec: RuleGroups): unknown {
  return {
    rule_files: ['rules.yaml'],
    evaluation_interval: '1m',
    tests: withAnnotations(spec, [
      {
        // A session down for 3 minutes on node1; node2's session flaps for one minute only.
        interval: '1m',
        input_series: [
          series('ironlb_speaker_bgp_session_up', { ...node(1), peer: 'tor-a' }, '1 0 0 0 0 0'),
          series('ironlb_speaker_bgp_session_up', { ...node(2), peer: 'tor-a' }, '1 0 1 1 1 1'),
          series('ironlb_bfd_sessions', { ...node(1), state: 'Down' }, '0 1 1 1 1 1'),
          series('ironlb_bfd_sessions', { ...node(1), state: 'Up' }, '1 0 0 0 0 0'),
          series('ironlb_bfd_sessions', { ...node(2), state: 'Down' }, '0 0 0 0 0 0'),
        ],
        alert_rule_test: [
          { eval_time: '2m', alertname: 'IronlbBGPSessionDown', exp_alerts: [] },
          {
            eval_time: '4m',
            alertname: 'IronlbBGPSessionDown',
            exp_alerts: [
              {
                exp_labels: { severity: 'warning', ...node(1), peer: 'tor-a' },
                exp_annotations: {
                  summary: 'BGP session with peer tor-a is down on node node1',
                  description:
                    'The BGP session between the speaker on node1 (192.168.1.1:7473) and BGPPeer tor-a has not been Established for 2 minutes: the router does not learn this node\'s routes. See the reason with `ironlb status` (BGP SESSIONS, LAST ERROR) or `kubectl -n ironlb-system get bgpsessionstates`; check the peer\'s address, ASN, password and that the router allows this node.',
                },
              },
            ],
          },
          { eval_time: '1m', alertname: 'IronlbBFDSessionDown', exp_alerts: [] },
          { eval_time: '3m', alertname: 'IronlbBFDSessionDown', exp_alerts: [{ exp_labels: { severity: 'warning', ...node(1), state: 'Down' }, value: '1' }] },
        ],
      },
      {
        // Pools as two controller replicas publish them: ctl-a leads and sees pool "web" full and
        // "api" 95 % used; ctl-b is a standby with stale figures (must not alert).
        interval: '1m',
        input_series: [
          series('ironlb_controller_leader', leaderA, '1x20'),
          series('ironlb_controller_leader', leaderB, '0x20'),
          series('ironlb_pool_capacity_addresses', { ...leaderA, pool: 'web', family: 'IPv4' }, '4x20'),
          series('ironlb_pool_available_addresses', { ...leaderA, pool: 'web', family: 'IPv4' }, '0x20'),
          series('ironlb_pool_assigned_addresses', { ...leaderA, pool: 'web', family: 'IPv4' }, '4x20'),
          // A family without a range: capacity 0, never "exhausted".
          series('ironlb_pool_capacity_addresses', { ...leaderA, pool: 'web', family: 'IPv6' }, '0x20'),
          series('ironlb_pool_available_addresses', { ...leaderA, pool: 'web', family: 'IPv6' }, '0x20'),
          series('ironlb_pool_assigned_addresses', { ...leaderA, pool: 'web', family: 'IPv6' }, '0x20'),
          series('ironlb_pool_capacity_addresses', { ...leaderA, pool: 'api', family: 'IPv4' }, '20x20'),
          series('ironlb_pool_available_addresses', { ...leaderA, pool: 'api', family: 'IPv4' }, '1x20'),
          series('ironlb_pool_assigned_addresses', { ...leaderA, pool: 'api', family: 'IPv4' }, '19x20'),
          series('ironlb_pool_capacity_addresses', { ...leaderB, pool: 'old', family: 'IPv4' }, '4x20'),
          series('ironlb_pool_available_addresses', { ...leaderB, pool: 'old', family: 'IPv4' }, '0x20'),
          series('ironlb_pool_assigned_addresses', { ...leaderB, pool: 'old', family: 'IPv4' }, '4x20'),
          // The standby never loaded the configuration (gauge at its default 0): no alert for it.
          series('ironlb_controller_config_valid', leaderA, '1x20'),
          series('ironlb_controller_config_valid', leaderB, '0x20'),
        ],
        alert_rule_test: [
          { eval_time: '4m', alertname: 'IronlbPoolExhausted', exp_alerts: [] },
          { eval_time: '6m', alertname: 'IronlbPoolExhausted', exp_alerts: [{ exp_labels: { severity: 'warning', ...leaderA, pool: 'web', family: 'IPv4' } }] },
          { eval_time: '10m', alertname: 'IronlbPoolNearlyExhausted', exp_alerts: [] },
          {
            eval_time: '16m',
            alertname: 'IronlbPoolNearlyExhausted',
            exp_alerts: [
              {
                exp_labels: { severity: 'info', ...leaderA, pool: 'api', family: 'IPv4' },
                exp_annotations: { summary: 'IPPool api is 95% used (IPv4)', description: 'IPPool api has handed out 95% of its IPv4 addresses. Extend it before it is exhausted.' },
              },
            ],
          },
          { eval_time: '20m', alertname: 'IronlbConfigurationInvalid', exp_alerts: [] },
          { eval_time: '20m', alertname: 'IronlbControllerWithoutLeader', exp_alerts: [] },
        ],
      },
      {
        // The leader steps down and nobody takes over; later a speaker rejects the configuration.
        interval: '1m',
        input_series: [
          series('ironlb_controller_leader', leaderA, '1 1 0 0 0 0 0 0 0 0'),
          series('ironlb_controller_leader', leaderB, '0 0 0 0 0 0 0 0 0 0'),
          series('ironlb_speaker_config_valid', node(1), '1 1 1 0 0 0 0 0 0 0'),
          series('ironlb_speaker_config_valid', node(2), '1 1 1 1 1 1 1 1 1 1'),
        ],
        alert_rule_test: [
          { eval_time: '6m', alertname: 'IronlbControllerWithoutLeader', exp_alerts: [] },
          { eval_time: '8m', alertname: 'IronlbControllerWithoutLeader', exp_alerts: [{ exp_labels: { severity: 'critical', job: CTL.job } }] },
          { eval_time: '7m', alertname: 'IronlbConfigurationInvalid', exp_alerts: [] },
          { eval_time: '9m', alertname: 'IronlbConfigurationInvalid', exp_alerts: [{ exp_labels: { severity: 'warning', ...node(1) } }] },
        ],
      },
      {
        // No controller scraped at all.
        interval: '1m',
        input_series: [series('ironlb_speaker_l2_quorum', node(1), '1x10')],
        alert_rule_test: [{ eval_time: '6m', alertname: 'IronlbControllerWithoutLeader', exp_alerts: [{ exp_labels: { severity: 'critical' } }] }],
      },
      {
        // node3 is cut off (no quorum); every speaker sees one Service nobody announces, node3 (its
        // stale view) sees none; the alert is one per cluster, not one per speaker.
        interval: '1m',
        input_series: [
          series('ironlb_speaker_l2_quorum', node(1), '1x10'),
          series('ironlb_speaker_l2_quorum', node(2), '1x10'),
          series('ironlb_speaker_l2_quorum', node(3), '1 0 0 0 0 0 0 0 0 0 0'),
          series('ironlb_speaker_services_unannounced', node(1), '0 1 1 1 1 1 1 1 1 1 1'),
          series('ironlb_speaker_services_unannounced', node(2), '0 1 1 1 1 1 1 1 1 1 1'),
          series('ironlb_speaker_services_unannounced', node(3), '0 0 0 0 0 0 0 0 0 0 0'),
        ],
        alert_rule_test: [
          { eval_time: '1m', alertname: 'IronlbSpeakerWithoutQuorum', exp_alerts: [] },
          { eval_time: '3m', alertname: 'IronlbSpeakerWithoutQuorum', exp_alerts: [{ exp_labels: { severity: 'critical', ...node(3) } }] },
          { eval_time: '5m', alertname: 'IronlbServiceNotAnnounced', exp_alerts: [] },
          {
            eval_time: '7m',
            alertname: 'IronlbServiceNotAnnounced',
            exp_alerts: [{ exp_labels: { severity: 'critical', job: SPK.job }, exp_annotations: { summary: '1 Service(s) with an address and ready endpoints are announced by no node', description: '1 LoadBalancer Service(s) have an address and ready endpoints but no node announces them, so their addresses do not answer. `ironlb status` lists them under WHY NOT ANNOUNCED (usually no L2Advertisement or BGPAdvertisement covers their pool, or no eligible node is alive).' } }],
          },
        ],
      },
    ]),
  };
}

test('alert rules: the PrometheusRule passes promtool check rules, every alert the issue asks for is there', async () => {
  const spec = await renderedRules();
  const dir = mkdtempSync(join(tmpdir(), 'ho-rules-'));
  try {
    writeFileSync(join(dir, 'rules.yaml'), stringify(spec, { lineWidth: 0 }));
    const r = await promtool(['check', 'rules', 'rules.yaml'], dir);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS: 8 rules found/);
    const alerts = spec.groups.flatMap((g) => g.rules.map((x) => x.alert));
    assert.deepEqual(alerts.sort(), [
      'IronlbBFDSessionDown',
      'IronlbBGPSessionDown',
      'IronlbConfigurationInvalid',
      'IronlbControllerWithoutLeader',
      'IronlbPoolExhausted',
      'IronlbPoolNearlyExhausted',
      'IronlbServiceNotAnnounced',
      'IronlbSpeakerWithoutQuorum',
    ]);
    for (const rule of spec.groups.flatMap((g) => g.rules)) {
      assert.ok(rule.labels?.severity, `${rule.alert} has a severity`);
      assert.ok(rule.annotations?.summary && rule.annotations.description, `${rule.alert} has a summary and a description`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('alert rules: promtool test rules on series fixtures (fires after its for, quiet on healthy and standby series)', async () => {
  const spec = await renderedRules();
  const dir = mkdtempSync(join(tmpdir(), 'ho-rules-'));
  try {
    writeFileSync(join(dir, 'rules.yaml'), stringify(spec, { lineWidth: 0 }));
    writeFileSync(join(dir, 'tests.yaml'), stringify(unitTests(spec), { lineWidth: 0 }));
    const r = await promtool(['test', 'rules', 'tests.yaml'], dir);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /SUCCESS/);
    // Every alert is exercised by a case that expects it to fire.
    const fired = new Set(
      (unitTests(spec) as { tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }> }).tests.flatMap((t) => t.alert_rule_test.filter((a) => a.exp_alerts.length).map((a) => a.alertname)),
    );
    assert.deepEqual([...fired].sort(), spec.groups.flatMap((g) => g.rules.map((x) => x.alert ?? '')).sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('dashboard: a ConfigMap the kube-prometheus-stack sidecar loads (grafana_dashboard: "1"), only when asked', async () => {
  const off = (await renderChart({})).map((r) => r.object);
  assert.ok(!off.some((o) => o.kind === 'PrometheusRule' || o.metadata.name === 'ironlb-dashboard'), 'nothing by default');
  const objs = (await renderChart({ values: { metrics: { dashboard: { enabled: true, namespace: 'monitoring', annotations: { grafana_folder: 'ironlb' } } } } })).map((r) => r.object);
  const cm = objs.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'ironlb-dashboard') as (K8sObject & { data: Record<string, string> }) | undefined;
  assert.ok(cm, 'dashboard ConfigMap rendered');
  assert.equal(cm.metadata.labels?.grafana_dashboard, '1');
  assert.equal(cm.metadata.namespace, 'monitoring');
  assert.equal(cm.metadata.annotations?.grafana_folder, 'ironlb');
  const dash = JSON.parse(cm.data['ironlb.json'] ?? '') as { uid: string; templating: { list: Array<{ name: string; type: string }> }; panels: Array<{ datasource?: { uid: string }; type: string }> };
  assert.equal(dash.uid, 'ironlb');
  assert.ok(dash.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource'), 'a data source variable, so any Prometheus can be picked');
  for (const p of dash.panels.filter((x) => x.type !== 'row')) assert.equal(p.datasource?.uid, '${datasource}');
});
