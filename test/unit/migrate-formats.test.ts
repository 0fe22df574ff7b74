import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { validateConfig } from '../../src/api/index.ts';
import { validateFiles } from '../../src/install/validate.ts';
import { annotateCommand, formatMigration, migrate, readObjects, type MigrationResult } from '../../src/migrate/index.ts';
import { EventEmitter } from 'node:events';
import { peerConfigFor } from '../../src/speaker/bgp-reconciler.ts';
import { BgpEngine } from '../../src/bgp/index.ts';
import type { LinkPeerEvents } from '../../src/bgp/unnumbered/link-peers.ts';
import { waitFor } from '../support/wait.ts';

const fixture = (f: string) => fileURLToPath(new URL(`../fixtures/migrate/${f}`, import.meta.url));
const load = (...files: string[]) => files.flatMap((f) => readObjects(readFileSync(fixture(f), 'utf8'), f));
const bin = fileURLToPath(new URL('../../bin/ironlb', import.meta.url));

type O = { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; spec?: Record<string, unknown>; stringData?: Record<string, string>; type?: string };
const get = (r: MigrationResult, kind: string, name: string) => {
  const o = r.objects.find((x) => (x as O).kind === kind && (x as O).metadata.name === name) as O | undefined;
  assert.ok(o, `${kind}/${name} produced; have ${r.objects.map((x) => `${(x as O).kind}/${(x as O).metadata.name}`).join(', ')}`);
  return o;
};
const valid = (r: MigrationResult, extraSecrets: unknown[] = []) => {
  const secrets = [...r.objects.filter((o) => (o as O).kind === 'Secret'), ...extraSecrets];
  const res = validateConfig(r.objects.filter((o) => (o as O).kind !== 'Secret'), secrets as never[]);
  assert.deepEqual(res.errors, []);
  return res.config;
};

test('MetalLB CRs (v1beta1 and v1beta2) become ironlb objects that validate', () => {
  const r = migrate('metallb', load('metallb-crs.yaml'));
  const pool = get(r, 'IPPool', 'production');
  assert.equal(pool.metadata.namespace, undefined, 'IPPool is cluster-scoped');
  assert.deepEqual(pool.metadata.labels, { zone: 'public' });
  assert.deepEqual(pool.spec, {
    addresses: ['192.168.10.0/24', '192.168.9.1-192.168.9.5', 'fc00:f853:0ccd:e799::/124'],
    autoAssign: true,
    avoidBuggyIPs: true,
    allocateTo: { priority: 50, namespaces: ['web', 'shop'], namespaceSelectors: [{ matchLabels: { tier: 'frontend' } }], serviceSelectors: [{ matchExpressions: [{ key: 'app', operator: 'In', values: ['nginx'] }] }] },
  });
  assert.deepEqual(get(r, 'IPPool', 'staging').spec, { addresses: ['10.20.0.0/28'], autoAssign: false });
  const l2 = get(r, 'L2Advertisement', 'staging-l2');
  assert.equal(l2.metadata.namespace, 'ironlb-system');
  assert.deepEqual(l2.spec, { pools: ['staging'], nodeSelectors: [{ matchLabels: { 'kubernetes.io/hostname': 'node-a' } }], interfaces: ['eth1'] });
  // Aliases of large communities and "large:" literals go to largeCommunities.
  assert.deepEqual(get(r, 'BGPAdvertisement', 'production-bgp').spec, {
    poolSelectors: [{ matchLabels: { zone: 'public' } }],
    aggregationLength: 32,
    aggregationLengthV6: 128,
    localPref: 100,
    communities: ['no-advertise', '64512:7'],
    largeCommunities: ['big', 'large:64512:3:4'],
    peers: ['tor-a', 'tor-b'],
    nodeSelectors: [{ matchLabels: { rack: 'r1' } }],
  });
  assert.deepEqual(get(r, 'BFDProfile', 'fast').spec, { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3, echoMode: false, passiveMode: false, minimumTtl: 254 });
  // v1beta1 plain password → a basic-auth Secret; v1beta2 passwordSecret → reference (copy the Secret).
  assert.deepEqual(get(r, 'BGPPeer', 'tor-a').spec?.passwordSecret, { name: 'tor-a-bgp-password' });
  const secret = get(r, 'Secret', 'tor-a-bgp-password');
  assert.deepEqual([secret.type, secret.metadata.namespace, secret.stringData], ['kubernetes.io/basic-auth', 'ironlb-system', { password: 's3cret' }]);
  assert.deepEqual(get(r, 'BGPPeer', 'tor-b').spec, {
    myASN: 64512,
    peerASN: 64500,
    peerAddress: '10.0.0.2',
    sourceAddress: '10.0.0.10',
    connectTime: '5s',
    ebgpMultiHop: true,
    gracefulRestart: true,
    passwordSecret: { name: 'tor-b-password' },
    vrf: 'red',
    disableMP: true,
  });
  // Unnumbered, dynamic ASN and dual-stack carried across; MetalLB's "" VRF is the default one.
  assert.deepEqual(get(r, 'BGPPeer', 'tor-c').spec, { myASN: 64512, dynamicASN: 'external', interface: 'eth2', dualStackAddressFamily: true });
  assert.deepEqual(r.warnings, [
    'BGPPeer/tor-a: the plain-text password moved into Secret ironlb-system/tor-a-bgp-password (in the output): keep the output private',
    'BGPPeer/tor-b: copy Secret metallb-system/tor-b-password into namespace ironlb-system (type kubernetes.io/basic-auth, key "password") before applying',
  ]);
  const cfg = valid(r, [{ metadata: { name: 'tor-b-password' }, type: 'kubernetes.io/basic-auth', stringData: { password: 'x' } }]);
  assert.deepEqual(cfg?.bgpAdvertisements[0]?.pools, ['production']);
});

test('MetalLB legacy ConfigMap becomes pools, advertisements per protocol, peers, BFD profiles', () => {
  const r = migrate('metallb', load('metallb-configmap.yaml'));
  assert.deepEqual(get(r, 'IPPool', 'my-ip-space').spec, { addresses: ['198.51.100.0/24'], avoidBuggyIPs: true });
  assert.deepEqual(get(r, 'BGPAdvertisement', 'my-ip-space-0').spec, { pools: ['my-ip-space'], aggregationLength: 32, localPref: 100, communities: ['65535:65282'] });
  assert.deepEqual(get(r, 'BGPAdvertisement', 'my-ip-space-1').spec, { pools: ['my-ip-space'], aggregationLength: 24 });
  assert.deepEqual(get(r, 'IPPool', 'l2-space').spec, { addresses: ['192.168.1.240-192.168.1.250'], autoAssign: false });
  assert.deepEqual(get(r, 'L2Advertisement', 'l2-space').spec, { pools: ['l2-space'] });
  assert.deepEqual(get(r, 'BFDProfile', 'full').spec, { receiveInterval: 179, transmitInterval: 180, echoInterval: 62, echoMode: false, passiveMode: false, minimumTtl: 254 });
  const peer = get(r, 'BGPPeer', 'peer-10.0.0.1');
  assert.deepEqual(peer.spec, {
    myASN: 64500,
    peerASN: 64501,
    peerAddress: '10.0.0.1',
    holdTime: '120s',
    routerID: '10.0.0.100',
    bfdProfile: 'full',
    nodeSelectors: [{ matchLabels: { rack: 'frontend' }, matchExpressions: [{ key: 'network-speed', operator: 'NotIn', values: ['slow'] }] }],
    passwordSecret: { name: 'peer-10.0.0.1-bgp-password' },
  });
  assert.deepEqual(r.warnings, ['BGPPeer/peer-10.0.0.1: the plain-text password moved into Secret ironlb-system/peer-10.0.0.1-bgp-password (in the output): keep the output private']);
  valid(r);
});

test('MetalLB Service annotations (metallb.universe.tf/ and metallb.io/) become ironlb.io/ rewrites', () => {
  const r = migrate('metallb', load('metallb-services.yaml'));
  assert.deepEqual(r.objects, []);
  assert.deepEqual(r.services, [
    { namespace: 'shop', name: 'web', set: { 'ironlb.io/address-pool': 'production', 'ironlb.io/allow-shared-ip': 'shop-key' }, remove: ['metallb.universe.tf/address-pool', 'metallb.universe.tf/allow-shared-ip', 'metallb.universe.tf/ip-allocated-from-pool'] },
    { namespace: 'kube-system', name: 'dns', set: { 'ironlb.io/loadBalancerIPs': '192.168.10.53', 'ironlb.io/allow-shared-ip': 'dns' }, remove: ['metallb.io/loadBalancerIPs', 'metallb.io/allow-shared-ip', 'metallb.universe.tf/some-future-thing'] },
  ]);
  assert.equal(annotateCommand(r.services[0] as MigrationResult['services'][number]), 'kubectl -n shop annotate service web --overwrite ironlb.io/address-pool=production ironlb.io/allow-shared-ip=shop-key metallb.universe.tf/address-pool- metallb.universe.tf/allow-shared-ip- metallb.universe.tf/ip-allocated-from-pool-');
  assert.deepEqual(r.warnings, [
    'Service/kube-system/dns: annotation metallb.universe.tf/some-future-thing has no ironlb equivalent; remove it',
    'Service/kube-system/dns: spec.loadBalancerClass is "metallb" and immutable: run ironlb with --load-balancer-class=metallb (Helm value loadBalancerClass), or recreate the Service',
  ]);
});

test('every MetalLB setting without an equivalent is warned about, at any depth', () => {
  const docs = load('metallb-crs.yaml');
  const pool = docs[0] as { spec: Record<string, unknown> & { serviceAllocation: Record<string, unknown> } };
  pool.spec.futureField = 1;
  pool.spec.serviceAllocation.futureToo = true;
  (docs.find((d) => d.kind === 'L2Advertisement') as { spec: Record<string, unknown> }).spec.interfaceSelectors = ['x'];
  const r = migrate('metallb', [...docs, { apiVersion: 'metallb.io/v1beta1', kind: 'ServiceL2Status', metadata: { name: 's' } }]);
  for (const w of [
    /^IPAddressPool\/production: spec\.futureField \(1\) has no ironlb equivalent/,
    /^IPAddressPool\/production: spec\.serviceAllocation\.futureToo \(true\) has no ironlb equivalent/,
    /^L2Advertisement\/staging-l2: spec\.interfaceSelectors \(\["x"\]\) has no ironlb equivalent/,
    /^ServiceL2Status\/s: metallb\.io\/v1beta1 ServiceL2Status has no ironlb equivalent; skipped/,
  ])
    assert.ok(r.warnings.some((x) => w.test(x)), `${w} in\n${r.warnings.join('\n')}`);
});

test('OpenELB Eip, BgpConf, BgpPeer and Service annotations become ironlb objects that validate', () => {
  const r = migrate('openelb', load('openelb.yaml'));
  assert.deepEqual(get(r, 'BGPPeer', 'bgppeer-sample').spec, {
    myASN: 50000,
    routerID: '192.168.0.2',
    peerASN: 50001,
    peerAddress: '192.168.0.5',
    passwordSecret: { name: 'bgppeer-sample-bgp-password' },
    nodeSelectors: [{ matchLabels: { 'openelb.kubesphere.io/rack': 'leaf1' } }],
    peerPort: 1790,
    holdTime: '90s',
    keepaliveTime: '30s',
    connectTime: '10s',
    ebgpMultiHop: true,
  });
  // The default Eip and namespace-bound Eips assign automatically; others only on request.
  assert.deepEqual(get(r, 'IPPool', 'eip-bgp').spec, { addresses: ['192.168.0.91-192.168.0.100'], autoAssign: true });
  assert.deepEqual(get(r, 'BGPAdvertisement', 'eip-bgp').spec, { pools: ['eip-bgp'] });
  assert.deepEqual(get(r, 'IPPool', 'eip-layer2').spec, { addresses: ['172.31.0.0/28'], autoAssign: true, allocateTo: { priority: 10, namespaces: ['team-a'], namespaceSelectors: [{ matchLabels: { label: 'test' } }] } });
  assert.deepEqual(get(r, 'L2Advertisement', 'eip-layer2').spec, { pools: ['eip-layer2'], interfaces: ['eth0'] });
  assert.deepEqual(get(r, 'IPPool', 'eip-reach').spec, { addresses: ['172.31.1.10'], autoAssign: false });
  assert.deepEqual(get(r, 'L2Advertisement', 'eip-reach').spec, { pools: ['eip-reach'] });
  assert.deepEqual(get(r, 'IPPool', 'eip-vip').spec, { addresses: ['172.31.2.0/30'], autoAssign: false });
  assert.deepEqual(get(r, 'L2Advertisement', 'eip-vip').spec, { pools: ['eip-vip'] });
  assert.deepEqual(r.services, [
    { namespace: 'default', name: 'nginx', set: { 'ironlb.io/address-pool': 'eip-bgp' }, remove: ['lb.kubesphere.io/v1alpha1', 'protocol.openelb.kubesphere.io/v1alpha1', 'eip.openelb.kubesphere.io/v1alpha2'] },
    { namespace: 'team-a', name: 'fixed', set: { 'ironlb.io/loadBalancerIPs': '172.31.0.5' }, remove: ['lb.kubesphere.io/v1alpha1', 'protocol.openelb.kubesphere.io/v1alpha1', 'eip.openelb.kubesphere.io/v1alpha1'] },
  ]);
  const expected = [
    /^BgpConf\/default: spec\.listenPort 17900: set the speaker's listen port/,
    /^BgpPeer\/bgppeer-sample: spec\.conf\.authPassword moved into Secret/,
    /^BgpPeer\/bgppeer-sample: spec\.transport\.passiveMode/,
    /^BgpPeer\/bgppeer-sample: spec\.ebgpMultihop\.config\.multihopTtl 3 has no ironlb equivalent/,
    /^BgpPeer\/bgppeer-sample: spec\.afiSafis\[0\]\.addPaths\.config\.sendMax 10/,
    /^Eip\/eip-reach: spec\.usingKnownIPs/,
    /^Eip\/eip-reach: spec\.interface "can_reach:172\.31\.1\.1" has no equivalent/,
    /^Eip\/eip-vip: spec\.disable: true has no exact equivalent/,
    /^Eip\/eip-vip: protocol vip/,
  ];
  assert.equal(r.warnings.length, expected.length, r.warnings.join('\n'));
  expected.forEach((re, i) => assert.match(r.warnings[i] as string, re));
  valid(r);
});

test('OpenELB: a missing BgpConf, unknown fields and un-annotated Services are warned about', () => {
  const docs = load('openelb.yaml').filter((d) => d.kind !== 'BgpConf');
  (docs.find((d) => d.kind === 'Eip') as { spec: Record<string, unknown> }).spec.someNewField = 'x';
  docs.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'other', namespace: 'default' }, spec: { type: 'LoadBalancer' } });
  const r = migrate('openelb', docs);
  for (const w of [/^BgpPeer\/bgppeer-sample: no BgpConf "default" among the inputs: set spec\.myASN/, /^Eip\/eip-bgp: spec\.someNewField \("x"\) has no ironlb equivalent/, /^Service\/default\/other: OpenELB ignores this Service/])
    assert.ok(r.warnings.some((x) => w.test(x)), `${w} in\n${r.warnings.join('\n')}`);
});

test('ironlb migrate prints YAML that ironlb validate accepts, warnings on stderr', async () => {
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(bin, ['migrate', '--from', 'openelb', fixture('openelb.yaml')], { timeout: 60_000 }, (err, so, se) => resolve({ code: err ? 1 : 0, stdout: so, stderr: se }));
  });
  assert.equal(code, 0, stderr);
  assert.equal(stdout, formatMigration(migrate('openelb', load('openelb.yaml')), 'openelb'));
  assert.match(stderr, /^warning: Eip\/eip-vip: protocol vip/m);
  assert.match(stderr, /10 object\(s\), 2 Service rewrite\(s\), 9 warning\(s\)/);
  assert.match(stdout, /^# {3}kubectl -n team-a annotate service fixed --overwrite ironlb\.io\/loadBalancerIPs=172\.31\.0\.5 /m);
  assert.equal(parseAllDocuments(stdout).length, 10);
  const v = validateFiles(['out.yaml'], { read: () => stdout });
  assert.deepEqual(v.problems, []);
});

test('migrate output keeps YAML 1.1 look-alikes strings: a label "yes" and a BGP password "yes" read back as strings (kubectl reads YAML 1.1)', () => {
  const src = `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: { name: p, namespace: metallb-system, labels: { public: "yes", rack: "0755", at: "1:20" } }
spec: { addresses: [192.0.2.0/28] }
---
apiVersion: metallb.io/v1beta1
kind: BGPPeer
metadata: { name: r, namespace: metallb-system }
spec: { myASN: 64512, peerASN: 64500, peerAddress: 10.0.0.1, password: "yes" }
`;
  const text = formatMigration(migrate('metallb', readObjects(src, 'in.yaml')), 'metallb');
  // Read the output as kubectl does (YAML 1.1): every value must still be the string it was.
  const docs = parseAllDocuments(text, { version: '1.1' }).map((d) => d.toJS() as O);
  const pool = docs.find((d) => d.kind === 'IPPool');
  assert.deepEqual(pool?.metadata.labels, { public: 'yes', rack: '0755', at: '1:20' }, text);
  const secret = docs.find((d) => d.kind === 'Secret');
  assert.deepEqual(secret?.stringData, { password: 'yes' }, text);
  assert.match(text, /public: "yes"/);
});

test('MetalLB FRR-mode unnumbered BGPPeer (interface + dynamicASN) migrates, validates, and the speaker runs it', async () => {
  // As MetalLB's FRR mode documents BGP unnumbered: no peerAddress, the node's interface instead.
  const text = `
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: { name: leaf-unnumbered, namespace: metallb-system }
spec:
  myASN: 64512
  dynamicASN: external
  interface: enp1s0
  holdTime: 9s
  keepaliveTime: 3s
  nodeSelectors:
    - matchLabels: { rack: r1 }
`;
  const r = migrate('metallb', readObjects(text, 'unnumbered.yaml'));
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(get(r, 'BGPPeer', 'leaf-unnumbered').spec, {
    myASN: 64512, dynamicASN: 'external', interface: 'enp1s0', holdTime: '9s', keepaliveTime: '3s', nodeSelectors: [{ matchLabels: { rack: 'r1' } }],
  });
  const cfg = valid(r);
  const peer = cfg?.bgpPeers.get('leaf-unnumbered');
  assert.ok(peer);
  // On a node of rack r1 the speaker configures an unnumbered session, not a problem.
  const pc = peerConfigFor(peer, { nodeName: 'n1', labels: { rack: 'r1' }, address4: '192.0.2.11', preserveOnShutdown: false });
  assert.ok(!('message' in pc), JSON.stringify(pc));
  assert.deepEqual({ interface: pc.interface, dynamicAsn: pc.dynamicAsn, families: pc.families, holdTime: pc.holdTime }, { interface: 'enp1s0', dynamicAsn: 'external', families: ['IPv4', 'IPv6'], holdTime: 9 });
  // And the engine takes it: the session waits for a neighbour on the interface, saying so.
  const sources: string[] = [];
  const engine = new BgpEngine({ routerId: '192.0.2.11', listen: false, linkPeers: (ifname) => {
    sources.push(ifname);
    return Object.assign(new EventEmitter<LinkPeerEvents>(), { ifname, peers: [], problem: `interface ${ifname} does not exist on this node`, seen() {}, close() {} });
  } });
  try {
    engine.addPeer(pc);
    assert.deepEqual(sources, ['enp1s0']);
    await waitFor(() => /interface enp1s0 does not exist on this node/.test(engine.peerStatus('leaf-unnumbered').lastError ?? ''), { what: 'the unnumbered peer saying what it waits for', timeoutMs: 5000 });
    assert.equal(engine.peerStatus('leaf-unnumbered').interface, 'enp1s0');
  } finally {
    await engine.close();
  }
});
