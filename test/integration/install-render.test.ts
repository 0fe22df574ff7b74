import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import type { Option } from 'commander';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { validateConfig } from '../../src/api/index.ts';
import { mergeValues, renderChart, type K8sObject } from '../../src/install/chart.ts';
import { parseTemplates, TemplateError } from '../../src/install/gotemplate.ts';
import { MANIFEST_VALUES, OVERLAYS, ROOT, objectKey, staleFiles } from '../../src/install/render.ts';
import { checkObjects } from '../../src/install/schemas.ts';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const example = (f: string) => parse(readFileSync(join(ROOT, 'deploy/helm/ironlb/examples', f), 'utf8')) as Record<string, unknown>;
const objs = (values: Record<string, unknown> = {}) => renderChart({ values }).map((r) => r.object);
const find = (list: K8sObject[], kind: string, name: string) => {
  const o = list.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `${kind}/${name} rendered`);
  return o as K8sObject & Record<string, any>;
};
const byKey = (list: K8sObject[]) => new Map(list.map((o) => [objectKey(o), o]));

test('generated install files are current (run `node src/install/render.ts` when this fails)', () => {
  assert.deepEqual(staleFiles(), []);
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
    const list = objs(values);
    assert.ok(list.length > 10);
    assert.deepEqual(await checkObjects(list as unknown as Array<Record<string, unknown>>), []);
    const config = list.filter((o) => o.apiVersion.startsWith('ironlb.io/'));
    const r = validateConfig(config);
    assert.deepEqual(r.errors, []);
    assert.equal(new Set(list.map(objectKey)).size, list.length, 'no duplicate objects');
  });
}

test('example values give working configurations', () => {
  const l2 = validateConfig(objs(example('values-layer2.yaml')).filter((o) => o.apiVersion.startsWith('ironlb.io/')));
  assert.equal(l2.config?.pools.get('default')?.ranges.length, 2);
  assert.deepEqual(l2.config?.l2Advertisements.map((a) => a.pools), [['default']]);
  const bgp = validateConfig(objs(example('values-bgp.yaml')).filter((o) => o.apiVersion.startsWith('ironlb.io/')));
  assert.deepEqual([...(bgp.config?.bgpPeers.keys() ?? [])], ['tor-a', 'tor-b']);
  assert.deepEqual(bgp.config?.bgpAdvertisements[0]?.communities, [65535 * 65536 + 65281]);
  const sm = objs(example('values-bgp.yaml')).filter((o) => o.kind === 'ServiceMonitor');
  assert.deepEqual(sm.map((o) => o.metadata.name).sort(), ['ironlb-controller', 'ironlb-speaker']);
});

test('kubectl kustomize renders the base and each overlay to exactly the chart output for the same values', (t) => {
  const home = mkdtempSync(join(tmpdir(), 'ironlb-kustomize-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const cases2: Array<[string, Record<string, unknown>]> = [
    ['base', MANIFEST_VALUES],
    ...Object.entries(OVERLAYS).map(([n, o]) => [`overlays/${n}`, mergeValues(MANIFEST_VALUES, o.values)] as [string, Record<string, unknown>]),
  ];
  for (const [dir, values] of cases2) {
    const out = execFileSync('kubectl', ['kustomize', join(ROOT, 'deploy/kustomize', dir)], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, HOME: home } });
    const got = byKey(parseAllDocuments(out).map((d) => d.toJS() as K8sObject));
    const want = byKey(objs(values));
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), dir);
    for (const [k, o] of want) assert.deepEqual(got.get(k), o, `${dir}: ${k}`);
  }
});

test('the plain manifest is the chart with the manifest values', () => {
  const text = readFileSync(join(ROOT, 'deploy/manifests/ironlb.yaml'), 'utf8');
  const docs = parseAllDocuments(text).map((d) => d.toJS() as K8sObject);
  assert.deepEqual(docs, objs(MANIFEST_VALUES));
});

test('security: namespace Pod Security labels, controller non-root and read-only, speaker only NET_RAW (+NET_BIND_SERVICE below 1024)', () => {
  const list = objs(MANIFEST_VALUES);
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

  const caps = (values: Record<string, unknown>) => {
    const ds = find(objs(mergeValues(MANIFEST_VALUES, values)), 'DaemonSet', 'ironlb-speaker');
    assert.equal(ds.spec.template.spec.hostNetwork, true);
    const sc = ds.spec.template.spec.containers[0];
    assert.equal(sc.livenessProbe.httpGet.path, '/healthz');
    assert.equal(sc.readinessProbe.httpGet.path, '/readyz');
    assert.equal(sc.securityContext.readOnlyRootFilesystem, true);
    assert.equal(sc.securityContext.allowPrivilegeEscalation, false);
    return { add: sc.securityContext.capabilities.add as string[] | undefined, drop: sc.securityContext.capabilities.drop as string[], args: sc.args as string[] };
  };
  assert.deepEqual(caps({}), { add: ['NET_RAW', 'NET_BIND_SERVICE'], drop: ['ALL'], args: caps({}).args });
  assert.deepEqual(caps({ speaker: { bgp: { port: 1179 } } }).add, ['NET_RAW']);
  assert.ok(caps({ speaker: { bgp: { port: 1179 } } }).args.includes('--bgp-port=1179'));
  assert.deepEqual(caps({ speaker: { bgp: { listen: false } } }).add, ['NET_RAW']);
  assert.deepEqual(caps({ speaker: { layer2: { enabled: false } } }).add, ['NET_BIND_SERVICE']);
  assert.ok(caps({ speaker: { layer2: { enabled: false } } }).args.includes('--no-layer2'));
  assert.equal(caps({ speaker: { layer2: { enabled: false }, bgp: { listen: false } } }).add, undefined);
});

test('values reach the objects: image, replicas, tolerations, priority class, log level, class', () => {
  const list = objs({
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

test('membership Secret: random on install, kept on upgrade through lookup', () => {
  const secret = (lookup?: (a: string, k: string, ns: string, n: string) => Record<string, unknown> | undefined) =>
    find(renderChart(lookup ? { lookup } : {}).map((r) => r.object), 'Secret', 'ironlb-membership');
  const a = secret();
  const b = secret();
  const keyA = Buffer.from(a.data.secretkey, 'base64').toString();
  assert.match(keyA, /^[A-Za-z0-9]{44}$/);
  assert.notEqual(a.data.secretkey, b.data.secretkey, 'each install draws a new key');
  const seen: string[] = [];
  const kept = secret((apiVersion, kind, ns, name) => {
    seen.push(`${apiVersion}/${kind}/${ns}/${name}`);
    return { data: { secretkey: a.data.secretkey } };
  });
  assert.equal(kept.data.secretkey, a.data.secretkey);
  assert.deepEqual(seen, ['v1/Secret/ironlb-system/ironlb-membership']);
  assert.ok(!objs(MANIFEST_VALUES).some((o) => o.kind === 'Secret'), 'the plain manifest carries no generated key');
});

test('template subset: trimming, if/else if, with, range over lists and maps, variables, include', () => {
  const set = parseTemplates(
    new Map([
      ['t/_h.tpl', '{{- define "x" -}}<{{ . }}>{{- end }}'],
      [
        't/a.yaml',
        'a: {{ .a | quote }}\n{{- if eq .n 1 }}\nb: one\n{{- else if eq .n 2 }}\nb: two\n{{- else }}\nb: other\n{{- end }}\n{{- with .m }}\nm: {{ .k }}\n{{- else }}\nm: none\n{{- end }}\n{{- range $i, $v := .l }}\n- {{ $i }}={{ $v }}{{ include "x" $v }}\n{{- end }}\n{{- range $k, $v := .mp }}\n{{ $k }}: {{ $v | default "d" }}\n{{- end }}\n{{- $x := printf "%s-%d" "p" 3 }}\nx: {{ $x }} {{ $.a }}\ny: {{ toYaml .obj | nindent 2 }}\n',
      ],
    ]),
  );
  const out = set.render('t/a.yaml', { a: 'v', n: 2, m: {}, l: ['p', 'q'], mp: { z: '', b: 'B' }, obj: { k: [1, 2] } });
  assert.equal(out, 'a: "v"\nb: two\nm: none\n- 0=p<p>\n- 1=q<q>\nb: B\nz: d\nx: p-3 v\ny: \n  k:\n    - 1\n    - 2\n');
});

test('template subset: unknown functions and actions are refused with file and line', () => {
  const refuse = (text: string, re: RegExp) => assert.throws(() => parseTemplates(new Map([['t/bad.yaml', text]])), (e: unknown) => e instanceof TemplateError && re.test(e.message));
  refuse('a: 1\nb: {{ sha256sum .x }}\n', /t\/bad\.yaml:2: function "sha256sum" is not in the supported subset/);
  refuse('{{ tpl .x . }}', /tpl.* is not in the supported subset/);
  refuse('{{ block "x" . }}{{ end }}', /\{\{block\}\} is not in the supported subset/);
  refuse('{{ if .x }}', /\{\{if\}\} without \{\{end\}\}/);
  refuse('{{ .x ', /unclosed action/);
  refuse('{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}', /assignment "\$x = \.\.\." is not in the supported subset/);
  assert.throws(() => parseTemplates(new Map([['t/r.yaml', '{{ required "give x" .x }}']])).render('t/r.yaml', {}), /t\/r\.yaml:1: required: give x/);
});

test('every flag the manifests pass exists on the ironlb command they run', async () => {
  const { buildProgram } = await import('../../src/cli/main.ts');
  const program = buildProgram();
  const values = [{}, { speaker: { bgp: { listen: false }, layer2: { enabled: false, interfaces: ['eth0'], excludeInterfaces: ['lo'] } }, controller: { leaderElection: { enabled: false } }, ignoreServicesWithoutClass: true }];
  let checked = 0;
  for (const v of values) {
    for (const o of objs(v)) {
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
