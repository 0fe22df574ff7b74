import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expandFiles, fieldSegments, formatProblem, validateFiles } from '../../src/install/validate.ts';

const bin = fileURLToPath(new URL('../../bin/ironlb', import.meta.url));
const run = (files: Record<string, string>, opts: { namespace?: string } = {}) => validateFiles(Object.keys(files), { ...opts, read: (f) => files[f] as string });
const lines = (r: ReturnType<typeof run>) => r.problems.map(formatProblem);

const GOOD = `apiVersion: ironlb.io/v1alpha1
kind: IPPool
metadata:
  name: default
spec:
  addresses: [192.0.2.0/28]
---
apiVersion: ironlb.io/v1alpha1
kind: L2Advertisement
metadata:
  name: l2
  namespace: ironlb-system
spec:
  pools: [default]
`;

test('a valid configuration passes', () => {
  const r = run({ 'good.yaml': GOOD });
  assert.deepEqual(lines(r), []);
  assert.equal(r.objects, 2);
  assert.equal(r.ok, true);
});

test('field errors carry file, line and column of the offending value', () => {
  const bad = `apiVersion: ironlb.io/v1alpha1
kind: IPPool
metadata:
  name: a
spec:
  addresses:
    - 10.0.0.0/24
    - 10.0.0.300
  avoidBuggyIPs: "yes"
  bogus: 1
---
apiVersion: ironlb.io/v1alpha1
kind: BGPPeer
metadata:
  name: p
  namespace: ironlb-system
spec:
  myASN: 64512
  peerASN: 64500
  peerAddress: 10.1.1.1
  holdTime: 2s
`;
  const r = run({ 'bad.yaml': bad });
  assert.equal(r.ok, false);
  const got = r.problems.map((p) => `${p.line}:${p.column} ${p.object} ${p.field}`);
  assert.deepEqual(got, ['8:7 IPPool/a spec.addresses[1]', '9:18 IPPool/a spec.avoidBuggyIPs', '10:10 IPPool/a spec.bogus', '21:13 BGPPeer/ironlb-system/p spec.holdTime']);
  assert.match(lines(r)[0] as string, /^bad\.yaml:8:7: error: IPPool\/a: spec\.addresses\[1\]: .*10\.0\.0\.300.*CIDR/);
  assert.match(lines(r)[2] as string, /unknown field/);
  assert.match(lines(r)[3] as string, /at least 3s/);
});

test('cross-object errors (overlap, dangling reference) point at the field, across files', () => {
  const other = `apiVersion: ironlb.io/v1alpha1
kind: IPPool
metadata:
  name: other
spec:
  addresses: [192.0.2.8/29]
---
apiVersion: ironlb.io/v1alpha1
kind: BGPAdvertisement
metadata: { name: adv, namespace: ironlb-system }
spec:
  pools: [default]
  peers: [nobody]
`;
  const r = run({ 'good.yaml': GOOD, 'other.yaml': other });
  const txt = lines(r);
  assert.ok(txt.some((l) => /^other\.yaml:13:11: error: BGPAdvertisement\/ironlb-system\/adv: spec\.peers\[0\]: "nobody": names no BGPPeer/.test(l)), txt.join('\n'));
  assert.ok(txt.some((l) => /^(good|other)\.yaml:6:\d+: error: IPPool\/\w+: spec\.addresses\[0\]: .*overlap/i.test(l)), txt.join('\n'));
});

test('namespaces, Secrets and Services: warnings offline, errors when the files say otherwise', () => {
  const peer = (extra = '') => `apiVersion: ironlb.io/v1alpha1
kind: BGPPeer
metadata: { name: p, namespace: ironlb-system }
spec: { myASN: 64512, peerASN: 64500, peerAddress: 10.1.1.1, passwordSecret: { name: pw } }
${extra}`;
  const offline = run({ 'p.yaml': peer() });
  assert.equal(offline.ok, true);
  assert.match(lines(offline)[0] as string, /^p\.yaml:4:\d+: warning: .*passwordSecret\.name: "pw": the Secret is not among the files/);
  const wrongType = run({ 'p.yaml': peer('---\napiVersion: v1\nkind: Secret\nmetadata: { name: pw, namespace: ironlb-system }\nstringData: { password: x }\n') });
  assert.equal(wrongType.ok, false);
  assert.match(lines(wrongType).join('\n'), /must be of type kubernetes\.io\/basic-auth/);

  const elsewhere = run({ 'l2.yaml': 'apiVersion: ironlb.io/v1alpha1\nkind: L2Advertisement\nmetadata: { name: l2, namespace: default }\nspec: {}\n' });
  assert.match(lines(elsewhere)[0] as string, /^l2\.yaml:3:\d+: warning: .*only from namespace ironlb-system; this one is ignored/);
  assert.deepEqual(lines(run({ 'l2.yaml': 'apiVersion: ironlb.io/v1alpha1\nkind: L2Advertisement\nmetadata: { name: l2, namespace: lb }\nspec: {}\n' }, { namespace: 'lb' })), []);

  const svc = run({ 's.yaml': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  annotations:\n    ironlb.io/loadBalancerIPs: 10.0.0.1,10.0.0.2\nspec: { type: LoadBalancer }\n' });
  assert.match(lines(svc)[0] as string, /^s\.yaml:6:32: error: Service\/web: metadata\.annotations\["ironlb\.io\/loadBalancerIPs"\]: .*more than one IPv4 address/);
});

test('bad YAML, wrong apiVersion, unknown kind and Lists', () => {
  assert.match(lines(run({ 'y.yaml': 'a: [1\n' }))[0] as string, /^y\.yaml:\d+:\d+: error: invalid YAML/);
  assert.match(lines(run({ 'v.yaml': 'apiVersion: ironlb.io/v1\nkind: IPPool\nmetadata: { name: a }\n' }))[0] as string, /^v\.yaml:1:13: error: IPPool\/a: apiVersion: "ironlb\.io\/v1" is not served; use ironlb\.io\/v1alpha1/);
  assert.match(lines(run({ 'k.yaml': 'apiVersion: ironlb.io/v1alpha1\nkind: Pool\nmetadata: { name: a }\n' })).join('\n'), /not an ironlb\.io kind/);
  const list = `apiVersion: v1
kind: List
items:
  - apiVersion: ironlb.io/v1alpha1
    kind: IPPool
    metadata: { name: a }
    spec:
      addresses: [nope]
`;
  assert.match(lines(run({ 'l.yaml': list }))[0] as string, /^l\.yaml:8:19: error: IPPool\/a: spec\.addresses\[0\]/);
});

test('field paths split into YAML path segments', () => {
  assert.deepEqual(fieldSegments('spec.addresses[2]'), ['spec', 'addresses', 2]);
  assert.deepEqual(fieldSegments('spec.nodeSelectors[0].matchLabels["kubernetes.io/os"]'), ['spec', 'nodeSelectors', 0, 'matchLabels', 'kubernetes.io/os']);
  assert.deepEqual(fieldSegments('(root)'), []);
});

test('ironlb validate: exit status 1 with errors on stderr', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ironlb-validate-'));
  try {
    writeFileSync(join(dir, 'good.yaml'), GOOD);
    writeFileSync(join(dir, 'bad.yaml'), GOOD.replace('192.0.2.0/28', '192.0.2.0/33'));
    const exec = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(bin, args, { timeout: 30_000 }, (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
      });
    // One start of the command (seconds on a loaded machine): errors on stderr, exit status 1.
    const bad = await exec(['validate', '-f', join(dir, 'good.yaml'), join(dir, 'bad.yaml')]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, new RegExp(`${join(dir, 'bad.yaml').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:6:\\d+: error: IPPool/default: spec\\.addresses\\[0\\]`));
    assert.match(bad.stderr, /:11:9: error: L2Advertisement\/ironlb-system\/l2: metadata\.name: "l2": duplicate L2Advertisement name/);
    assert.match(bad.stderr, /^2 error\(s\) in 4 ironlb object\(s\)$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('documents that are not Kubernetes objects are warned about, not silently passed', () => {
  const r = run({ 'values.yaml': 'config:\n  ipPools: []\n' });
  assert.equal(r.objects, 0);
  assert.match(lines(r)[0] as string, /^values\.yaml:1:1: warning: .*not a Kubernetes object/);
});

test('folders stand for their YAML and JSON files, as with kubectl -f', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ironlb-validate-dir-'));
  try {
    writeFileSync(join(dir, 'b.yaml'), GOOD);
    writeFileSync(join(dir, 'a.json'), '{}');
    writeFileSync(join(dir, 'notes.txt'), 'x');
    assert.deepEqual(expandFiles([dir, '-', join(dir, 'missing.yaml')]), [join(dir, 'a.json'), join(dir, 'b.yaml'), '-', join(dir, 'missing.yaml')]);
    const r = validateFiles(expandFiles([dir]));
    assert.equal(r.objects, 2);
    assert.equal(r.ok, true);
    assert.match(formatProblem(validateFiles([join(dir, 'missing.yaml')]).problems[0] as never), /missing\.yaml:0:0: error: cannot read/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('label values and selector values must be strings, as the API server decodes them (unquoted true / 1 in YAML)', () => {
  const text = `apiVersion: ironlb.io/v1alpha1
kind: IPPool
metadata:
  name: p
  labels:
    public: true
    rack: 7
spec:
  addresses: [192.0.2.0/28]
---
apiVersion: ironlb.io/v1alpha1
kind: L2Advertisement
metadata:
  name: l2
  namespace: ironlb-system
spec:
  poolSelectors:
    - matchLabels: { public: true }
`;
  const r = run({ 'labels.yaml': text });
  const out = lines(r).join('\n');
  assert.equal(r.ok, false, out);
  assert.match(out, /labels\.yaml:6:13: error: IPPool\/p: metadata\.labels\.public: true: must be a string, got boolean: quote it/);
  assert.match(out, /labels\.yaml:7:11: error: IPPool\/p: metadata\.labels\.rack: 7: must be a string, got number/);
  assert.match(out, /labels\.yaml:18:30: error: L2Advertisement\/ironlb-system\/l2: spec\.poolSelectors\[0\]\.matchLabels\["public"\]: true: must be a string, got boolean: quote it/);
});

test('files are read as kubectl reads them (YAML 1.1): an unquoted yes is a boolean and refused where a string belongs', () => {
  const text = 'apiVersion: ironlb.io/v1alpha1\nkind: IPPool\nmetadata:\n  name: p\n  labels: { tier: yes, quoted: "yes" }\nspec:\n  addresses: [10.0.0.0/24]\n';
  const problems = run({ 'p.yaml': text }).problems.filter((p) => p.severity === 'error');
  assert.equal(problems.length, 1, problems.map(formatProblem).join('\n'));
  assert.match(formatProblem(problems[0] as never), /^p\.yaml:5:\d+: error: IPPool\/p: metadata\.labels\.tier: true: must be a string, got boolean: quote it/);
});
