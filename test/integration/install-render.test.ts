import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Option } from 'commander';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { validateConfig } from '../../src/api/index.ts';
import { helm, renderChart, CHART_DIR, type K8sObject } from '../../testbed/helm.ts';
import { MANIFEST_VALUES, OVERLAYS, ROOT, mergeValues, objectKey, sortForInstall, staleFiles } from '../../testbed/install/render.ts';
import { tool } from '../../testbed/tools.ts';
import { checkObjects } from '../../src/install/manifest-check.ts';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const example = (f: string) => parse(readFileSync(join(ROOT, 'deploy/helm/ironlb/examples', f), 'utf8')) as Record<string, unknown>;
// helm template, once per set of values (helm takes a few hundred ms a run).
const rendered = new Map<string, Promise<K8sObject[]>>();
const objs = (values: Record<string, unknown> = {}): Promise<K8sObject[]> => {
  const key = JSON.stringify(values);
  let p = rendered.get(key);
  if (!p) {
    p = renderChart({ values }).then((list) => list.map((r) => r.object));
    rendered.set(key, p);
  }
  return p;
};
/** As the plain manifest is made: the CRDs from deploy/crds first, then the chart in install order. */
const withCrds = async (values: Record<string, unknown>): Promise<K8sObject[]> => {
  const crds = (await renderChart({ values, includeCrds: true })).filter((r) => r.source.startsWith('crds/'));
  return sortForInstall([...crds, ...(await renderChart({ values })).map((r) => r)]).map((r) => r.object);
};
const find = (list: K8sObject[], kind: string, name: string) => {
  const o = list.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} rendered`);
  return o as K8sObject & Record<string, any>;
};
const byKey = (list: K8sObject[]) => new Map(list.map((o) => [objectKey(o), o]));

test('generated install files are current (run `node testbed/install/render.ts` when this fails)', async () => {
  assert.deepEqual(await staleFiles(), []);
});

test('helm lint passes on the chart with default and example values', async () => {
  for (const f of [[], ['-f', join(CHART_DIR, 'examples/values-layer2.yaml')], ['-f', join(CHART_DIR, 'examples/values-bgp.yaml')]]) {
    const out = await helm(['lint', '--strict', CHART_DIR, ...f]);
    assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  }
});

test('helm refuses values of the wrong type (values.schema.json)', async () => {
  await assert.rejects(renderChart({ values: { controller: { replicas: 'two' } } }), /replicas/);
  await assert.rejects(renderChart({ values: { speaker: { shutdownMode: 'sometimes' } } }), /shutdownMode/);
});

test('chart version and appVersion follow package.json', () => {
  const chart = parse(readFileSync(join(ROOT, 'deploy/helm/ironlb/Chart.yaml'), 'utf8')) as { version: string; appVersion: string };
  assert.equal(chart.version, pkg.version);
  assert.equal(chart.appVersion, pkg.version);
});

const cases: Array<[string, Record<string, unknown>]> = [
  ['defaults', {}],
  ['manifest', MANIFEST_VALUES],
  ['examples/values-layer2.yaml', example('values-layer2.yaml')],
  ['examples/values-bgp.yaml', example('values-bgp.yaml')],
  ...Object.entries(OVERLAYS).map(([n, o]) => [`overlay ${n}`, mergeValues(MANIFEST_VALUES, o.values)] as [string, Record<string, unknown>]),
];
for (const [name, values] of cases) {
  test(`chart rendered with ${name}: every object validates (Kubernetes OpenAPI, ironlb CRDs, validateConfig)`, async () => {
    const list = await objs(values);
    assert.ok(list.length > 10);
    assert.deepEqual(await checkObjects(list as unknown as Array<Record<string, unknown>>), []);
    const config = list.filter((o) => o.apiVersion.startsWith('ironlb.io/'));
    const r = validateConfig(config);
    assert.deepEqual(r.errors, []);
    assert.equal(new Set(list.map(objectKey)).size, list.length, 'no duplicate objects');
  });
}

test('example values give working configurations', async () => {
  const l2 = validateConfig((await objs(example('values-layer2.yaml'))).filter((o) => o.apiVersion.startsWith('ironlb.io/')));
  assert.equal(l2.config?.pools.get('default')?.ranges.length, 2);
  assert.deepEqual(l2.config?.l2Advertisements.map((a) => a.pools), [['default']]);
  const bgp = validateConfig((await objs(example('values-bgp.yaml'))).filter((o) => o.apiVersion.startsWith('ironlb.io/')));
  assert.deepEqual([...(bgp.config?.bgpPeers.keys() ?? [])], ['tor-a', 'tor-b']);
  assert.deepEqual(bgp.config?.bgpAdvertisements[0]?.communities, [65535 * 65536 + 65281]);
  const sm = (await objs(example('values-bgp.yaml'))).filter((o) => o.kind === 'ServiceMonitor');
  assert.deepEqual(sm.map((o) => o.metadata.name).sort(), ['ironlb-controller', 'ironlb-speaker']);
});

test('kubectl kustomize renders the base and each overlay to exactly the chart output for the same values', async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'ironlb-kustomize-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const cases2: Array<[string, Record<string, unknown>]> = [
    ['base', MANIFEST_VALUES],
    ...Object.entries(OVERLAYS).map(([n, o]) => [`overlays/${n}`, mergeValues(MANIFEST_VALUES, o.values)] as [string, Record<string, unknown>]),
  ];
  for (const [dir, values] of cases2) {
    const out = execFileSync(tool('kubernetes', 'kubectl'), ['kustomize', join(ROOT, 'deploy/kustomize', dir)], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, HOME: home } });
    const got = byKey(parseAllDocuments(out).map((d) => d.toJS() as K8sObject));
    const want = byKey(await withCrds(values));
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), dir);
    for (const [k, o] of want) assert.deepEqual(got.get(k), o, `${dir}: ${k}`);
  }
});

test('the plain manifest is the chart with the manifest values', async () => {
  const text = readFileSync(join(ROOT, 'deploy/manifests/ironlb.yaml'), 'utf8');
  const docs = parseAllDocuments(text).map((d) => d.toJS() as K8sObject);
  assert.deepEqual(docs, await withCrds(MANIFEST_VALUES));
});

test('security: namespace Pod Security labels, controller non-root and read-only, speaker only NET_RAW (+NET_BIND_SERVICE below 1024, +SYS_NICE with the owner watch)', async () => {
  const list = await objs(MANIFEST_VALUES);
  const ns = find(list, 'Namespace', 'ironlb-system');
  assert.equal(ns.metadata.labels?.['pod-security.kubernetes.io/enforce'], 'privileged');
  const ctl = find(list, 'Deployment', 'ironlb-controller');
  const pod = ctl.spec.template.spec;
  assert.equal(pod.securityContext.runAsNonRoot, true);
  const c = pod.containers[0];
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(c.securityContext.capabilities, { drop: ['ALL'] });
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  const pdb = find(list, 'PodDisruptionBudget', 'ironlb-controller');
  assert.deepEqual(pdb.spec.selector.matchLabels, ctl.spec.selector.matchLabels);

  const caps = async (values: Record<string, unknown>) => {
    const ds = find(await objs(mergeValues(MANIFEST_VALUES, values)), 'DaemonSet', 'ironlb-speaker');
    assert.equal(ds.spec.template.spec.hostNetwork, true);
    const sc = ds.spec.template.spec.containers[0];
    assert.equal(sc.livenessProbe.httpGet.path, '/healthz');
    assert.equal(sc.readinessProbe.httpGet.path, '/readyz');
    assert.equal(sc.securityContext.readOnlyRootFilesystem, true);
    assert.equal(sc.securityContext.allowPrivilegeEscalation, false);
    return { add: sc.securityContext.capabilities.add as string[] | undefined, drop: sc.securityContext.capabilities.drop as string[], args: sc.args as string[] };
  };
  const def = await caps({});
  // The owner watch is on by default; SYS_NICE lets its heartbeat thread run at SCHED_FIFO.
  assert.deepEqual(def, { add: ['NET_RAW', 'NET_BIND_SERVICE', 'SYS_NICE'], drop: ['ALL'], args: def.args });
  assert.ok(!def.args.includes('--no-owner-watch'));
  const noWatch = await caps({ speaker: { ownerWatch: false } });
  assert.deepEqual(noWatch.add, ['NET_RAW', 'NET_BIND_SERVICE']);
  assert.ok(noWatch.args.includes('--no-owner-watch'));
  assert.deepEqual((await caps({ speaker: { bgp: { port: 1179 } } })).add, ['NET_RAW', 'SYS_NICE']);
  assert.ok((await caps({ speaker: { bgp: { port: 1179 } } })).args.includes('--bgp-port=1179'));
  assert.deepEqual((await caps({ speaker: { bgp: { listen: false }, ownerWatch: false } })).add, ['NET_RAW']);
  // The owner watch is a Layer 2 mechanism: no SYS_NICE without Layer 2.
  assert.deepEqual((await caps({ speaker: { layer2: { enabled: false } } })).add, ['NET_BIND_SERVICE']);
  assert.ok((await caps({ speaker: { layer2: { enabled: false } } })).args.includes('--no-layer2'));
  assert.equal((await caps({ speaker: { layer2: { enabled: false }, bgp: { listen: false } } })).add, undefined);
});

test('values reach the objects: image, replicas, tolerations, priority class, log level, class', async () => {
  const list = await objs({
    image: { repository: 'registry.example/ironlb', tag: 'v9' },
    controller: { replicas: 3, priorityClassName: 'system-cluster-critical', tolerations: [{ key: 'k', operator: 'Exists' }] },
    speaker: { priorityClassName: 'system-node-critical' },
    logLevel: 'debug',
    loadBalancerClass: 'example.com/lb',
    ignoreServicesWithoutClass: true,
  });
  const ctl = find(list, 'Deployment', 'ironlb-controller');
  assert.equal(ctl.spec.replicas, 3);
  assert.equal(ctl.spec.template.spec.priorityClassName, 'system-cluster-critical');
  assert.deepEqual(ctl.spec.template.spec.tolerations, [{ key: 'k', operator: 'Exists' }]);
  const c = ctl.spec.template.spec.containers[0];
  assert.equal(c.image, 'registry.example/ironlb:v9');
  assert.ok(c.args.includes('--load-balancer-class=example.com/lb'));
  assert.ok(c.args.includes('--ignore-services-without-class'));
  assert.deepEqual(c.env[0], { name: 'IRONLB_LOG_LEVEL', value: 'debug' });
  const ds = find(list, 'DaemonSet', 'ironlb-speaker');
  assert.equal(ds.spec.template.spec.priorityClassName, 'system-node-critical');
  assert.ok(!list.some((o) => o.kind === 'Namespace'), 'no Namespace unless namespace.create');
});

test('membership Secret: a random key in every helm template render, none in the plain manifest', async () => {
  const key = async () => find((await renderChart({})).map((r) => r.object), 'Secret', 'ironlb-membership').data.secretkey as string;
  const a = await key();
  assert.match(Buffer.from(a, 'base64').toString(), /^[A-Za-z0-9]{44}$/);
  assert.notEqual(a, await key(), 'each install draws a new key (kept on upgrade: test/integration/install-apply.test.ts)');
  const secrets = (await objs(MANIFEST_VALUES)).filter((o) => o.kind === 'Secret');
  assert.deepEqual(secrets.map((o) => o.metadata.name), ['ironlb-webhook-cert'], 'the plain manifest carries no membership key');
  assert.equal((secrets[0] as K8sObject & { data?: unknown }).data, undefined, 'the webhook Secret is created empty (the controller fills it)');
});

test('every flag the manifests pass exists on the ironlb command they run', async () => {
  const { buildFullProgram } = await import('../../src/cli/main.ts');
  const program = await buildFullProgram();
  const values = [{}, { speaker: { bgp: { listen: false }, layer2: { enabled: false, interfaces: ['eth0'], excludeInterfaces: ['lo'] } }, controller: { leaderElection: { enabled: false } }, ignoreServicesWithoutClass: true }];
  let checked = 0;
  for (const v of values) {
    for (const o of await objs(v)) {
      if (o.kind !== 'Deployment' && o.kind !== 'DaemonSet') continue;
      const c = (o as unknown as { spec: { template: { spec: { containers: Array<{ args: string[] }> } } } }).spec.template.spec.containers[0] as { args: string[] };
      const [sub, ...flags] = c.args;
      const cmd = program.commands.find((x) => x.name() === sub);
      assert.ok(cmd, `ironlb ${sub} exists`);
      for (const f of flags) {
        const long = f.split('=')[0] as string;
        const opt: Option | undefined = cmd.options.find((x: Option) => x.long === long);
        assert.ok(opt, `ironlb ${sub} has ${long}`);
        assert.equal(f.includes('='), opt.required || opt.optional, `ironlb ${sub} ${long}: a value is given exactly when the flag takes one`);
        checked++;
      }
    }
  }
  assert.ok(checked > 20);
});
