import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import { validateConfig, type ParsedConfig } from '../../src/api/index.ts';
import { decide } from '../../src/speaker/decide.ts';
import { ANNOTATION_L2_SUBNETS, endpointFacts, nodeAddress, nodeFacts, policies, serviceFacts, slicesByService } from '../../src/speaker/facts.ts';
import { interfacesFor, localSubnets } from '../../src/speaker/l2-interface-choice.ts';
import { bfdSpecFor, peerConfigFor } from '../../src/speaker/bgp-reconciler.ts';
import { announcementStatus, nodeAnnouncementStatus, statusWriter, sessionStateName, writerLabelValue } from '../../src/speaker/status.ts';
import { expandAnnouncements } from '../../src/api/index.ts';

const ns = 'ironlb-system';
function config(extra: unknown[] = [], secrets: unknown[] = []): ParsedConfig {
  const r = validateConfig(
    [
      { kind: 'IPPool', metadata: { name: 'p1' }, spec: { addresses: ['10.0.0.100-10.0.0.120', 'fd00::100/124'] } },
      { kind: 'IPPool', metadata: { name: 'p2' }, spec: { addresses: ['10.9.0.0/24'] } },
      ...extra,
    ],
    secrets as never[],
  );
  assert.deepEqual(r.errors, []);
  return r.config as ParsedConfig;
}

const slice = (svc: string, eps: Array<{ node?: string; ready?: boolean; serving?: boolean; terminating?: boolean }>): V1EndpointSlice => ({
  addressType: 'IPv4',
  metadata: { name: `${svc}-x`, namespace: 'default', labels: { 'kubernetes.io/service-name': svc } },
  endpoints: eps.map((e, i) => ({
    addresses: [`10.244.0.${i + 1}`],
    ...(e.node ? { nodeName: e.node } : {}),
    conditions: { ...(e.ready !== undefined ? { ready: e.ready } : {}), ...(e.serving !== undefined ? { serving: e.serving } : {}), ...(e.terminating !== undefined ? { terminating: e.terminating } : {}) },
  })),
});

test('endpoints: ready ones decide; unset ready counts as ready; terminating-but-serving when nothing is ready', () => {
  assert.deepEqual(endpointFacts([slice('a', [{ node: 'n1' }, { node: 'n2', ready: false, serving: false }])]), { endpointNodes: new Set(['n1']), hasServingEndpoint: true });
  assert.deepEqual(endpointFacts([slice('a', [{ node: 'n1', ready: false, serving: true, terminating: true }])]), { endpointNodes: new Set(['n1']), hasServingEndpoint: true });
  assert.deepEqual(endpointFacts([slice('a', [{ node: 'n1', ready: false, serving: false }])]), { endpointNodes: new Set(), hasServingEndpoint: false });
  assert.deepEqual(endpointFacts([]), { endpointNodes: new Set(), hasServingEndpoint: false });
  // An endpoint without a node name still makes the service worth announcing (ETP Cluster).
  assert.deepEqual(endpointFacts([slice('a', [{ ready: true }])]), { endpointNodes: new Set(), hasServingEndpoint: true });
  const by = slicesByService([slice('a', [{ node: 'n1' }]), slice('b', [])]);
  assert.deepEqual([...by.keys()].sort(), ['default/a', 'default/b']);
});

test('nodes: NetworkUnavailable, InternalIP per family, published subnets', () => {
  const n: V1Node = {
    metadata: { name: 'n1', labels: { a: 'b' }, annotations: { [ANNOTATION_L2_SUBNETS]: '10.0.0.0/24, fd00::/64' } },
    status: {
      conditions: [{ type: 'NetworkUnavailable', status: 'True' }, { type: 'Ready', status: 'True' }] as never,
      addresses: [{ type: 'Hostname', address: 'n1' }, { type: 'InternalIP', address: 'fd00::5' }, { type: 'InternalIP', address: '10.0.0.5' }],
    },
  };
  assert.deepEqual(nodeFacts(n), { name: 'n1', labels: { a: 'b' }, networkUnavailable: true, subnets: ['10.0.0.0/24', 'fd00::/64'] });
  assert.equal(nodeAddress(n, 'IPv4'), '10.0.0.5');
  assert.equal(nodeAddress(n, 'IPv6'), 'fd00::5');
  assert.equal(nodeAddress(n), 'fd00::5');
});

test('services: only ours with an address; pool from the configuration ranges', () => {
  const cfg = config();
  const svc = (extra: Partial<V1Service['spec']> = {}, ips = ['10.0.0.101']): V1Service => ({
    metadata: { name: 's', namespace: 'default', labels: { app: 'x' } },
    spec: { type: 'LoadBalancer', externalTrafficPolicy: 'Local', ...extra },
    status: { loadBalancer: { ingress: ips.map((ip) => ({ ip })) } },
  });
  const f = serviceFacts(svc(), [slice('s', [{ node: 'n2' }])], cfg);
  assert.equal(f?.pool, 'p1');
  assert.equal(f?.externalTrafficPolicy, 'Local');
  assert.deepEqual(f?.endpointNodes, new Set(['n2']));
  assert.equal(serviceFacts(svc({ type: 'ClusterIP' }), [], cfg), undefined);
  assert.equal(serviceFacts(svc({ loadBalancerClass: 'other' }), [], cfg), undefined);
  assert.equal(serviceFacts(svc({}, []), [], cfg), undefined);
  assert.equal(serviceFacts(svc({}, ['192.0.2.1']), [], cfg), undefined, 'an address outside every pool (and no annotation) is not ours to announce');
});

test('interfaces: the one whose subnet holds the address; named ones when the advertisement lists them', () => {
  const subnets = localSubnets({
    eth0: [{ address: '10.0.0.5', cidr: '10.0.0.5/24', internal: false }, { address: 'fe80::1', cidr: 'fe80::1/64', internal: false }, { address: 'fd00::5', cidr: 'fd00::5/64', internal: false }],
    eth1: [{ address: '10.9.0.5', cidr: '10.9.0.5/24', internal: false }, { address: '10.0.0.101', cidr: '10.0.0.101/32', internal: false }],
    lo: [{ address: '127.0.0.1', cidr: '127.0.0.1/8', internal: true }],
    veth12: [{ address: '10.0.0.9', cidr: '10.0.0.9/24', internal: false }],
  });
  assert.deepEqual(subnets, [
    { iface: 'eth0', cidr: '10.0.0.0/24' },
    { iface: 'eth0', cidr: 'fd00::/64' },
    { iface: 'eth1', cidr: '10.9.0.0/24' },
  ]);
  assert.deepEqual(interfacesFor('10.0.0.101', [], subnets, ['eth0', 'eth1']), ['eth0']);
  assert.deepEqual(interfacesFor('fd00::101', [], subnets, ['eth0', 'eth1']), ['eth0']);
  assert.deepEqual(interfacesFor('10.7.0.1', [], subnets, ['eth0', 'eth1']), []);
  assert.deepEqual(interfacesFor('10.7.0.1', ['eth*'], subnets, ['eth0', 'eth1', 'bond0']), ['eth0', 'eth1']);
});

test('L2 owners only among nodes on the address\'s subnet (a pool spanning two segments)', () => {
  const cfg = config([{ kind: 'L2Advertisement', metadata: { name: 'l2', namespace: ns }, spec: {} }]);
  const nodes = [
    { name: 'a', labels: {}, networkUnavailable: false, subnets: ['10.0.0.0/24'] },
    { name: 'b', labels: {}, networkUnavailable: false, subnets: ['10.9.0.0/24'] },
    { name: 'c', labels: {}, networkUnavailable: false, subnets: ['10.9.0.0/24'] },
  ];
  const services = Array.from({ length: 6 }, (_, i) => ({
    key: `default/s${i}`, labels: {}, ips: [i % 2 ? `10.0.0.${101 + i}` : `10.9.0.${10 + i}`], pool: i % 2 ? 'p1' : 'p2',
    externalTrafficPolicy: 'Cluster' as const, endpointNodes: new Set<string>(), hasServingEndpoint: true,
  }));
  const d = decide({ self: 'a', nodes, alive: new Set(['a', 'b', 'c']), services, ...policies(cfg) });
  for (const s of services) {
    const owner = d.services.get(s.key)?.l2Owners[s.ips[0] as string];
    assert.equal(owner === 'a', s.ips[0]?.startsWith('10.0.0.'), `${s.ips[0]} owned by ${owner}`);
  }
});

test('BGP peer settings: selectors, timers, password, multihop, GR; dynamic ASN passed to the engine', () => {
  const cfg = config(
    [
      { kind: 'BFDProfile', metadata: { name: 'fast', namespace: ns }, spec: { receiveInterval: 100, transmitInterval: 100 } },
      {
        kind: 'BGPPeer', metadata: { name: 'r1', namespace: ns },
        spec: { myASN: 64512, peerASN: 64500, peerAddress: '10.0.0.1', holdTime: '9s', passwordSecret: { name: 'pw' }, ebgpMultiHop: true, gracefulRestart: true, bfdProfile: 'fast' },
      },
      { kind: 'BGPPeer', metadata: { name: 'r2', namespace: ns }, spec: { myASN: 64512, dynamicASN: 'external', peerAddress: '10.0.0.2' } },
    ],
    [{ metadata: { name: 'pw', namespace: ns }, type: 'kubernetes.io/basic-auth', data: { password: Buffer.from('s3cret').toString('base64') } }],
  );
  const ctx = { nodeName: 'n1', labels: {}, address4: '10.0.0.5', preserveOnShutdown: true };
  const r1 = peerConfigFor(cfg.bgpPeers.get('r1')!, ctx);
  assert.deepEqual(r1, {
    name: 'r1', localAsn: 64512, peerAsn: 64500, peerAddress: '10.0.0.1', peerPort: 179, holdTime: 9, keepaliveTime: 3, connectRetryTime: 10,
    families: ['IPv4'], routerId: '10.0.0.5', password: 's3cret', ebgpMultihop: 255, gracefulRestart: { restartTime: 120, preserveOnShutdown: true },
  });
  const r2 = peerConfigFor(cfg.bgpPeers.get('r2')!, ctx);
  assert.ok(!('message' in r2), `dynamicASN peer not configured: ${JSON.stringify(r2)}`);
  assert.equal(r2.dynamicAsn, 'external');
  assert.equal(r2.peerAsn, undefined);
  assert.equal(bfdSpecFor(cfg.bgpPeers.get('r1')!, cfg)?.profile?.receiveInterval, 100);
  assert.equal(bfdSpecFor(cfg.bgpPeers.get('r2')!, cfg), undefined);
});

test('status: one writer per service, interfaces and peers listed, reason when not announced', () => {
  const cfg = config([
    { kind: 'BGPPeer', metadata: { name: 'r1', namespace: ns }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '10.0.0.1' } },
    { kind: 'BGPAdvertisement', metadata: { name: 'b', namespace: ns }, spec: { communities: ['65000:1'] } },
    { kind: 'L2Advertisement', metadata: { name: 'l2', namespace: ns }, spec: {} },
  ]);
  const pol = policies(cfg);
  const nodes = ['a', 'b'].map((name) => ({ name, labels: {}, networkUnavailable: false }));
  const svc = { key: 'default/s', labels: {}, ips: ['10.0.0.101'], pool: 'p1', externalTrafficPolicy: 'Cluster' as const, endpointNodes: new Set<string>(), hasServingEndpoint: true };
  const d = decide({ self: 'a', nodes, alive: new Set(['a', 'b']), services: [svc], ...pol });
  const view = d.services.get('default/s')!;
  const writer = statusWriter(view, ['a', 'b'], svc.key);
  assert.equal(writer, view.l2Owners['10.0.0.101']);
  const st = announcementStatus(svc, view, { self: writer!, selfInterfaces: () => ['eth0'], nodes: new Map(nodes.map((n) => [n.name, n])), bgp: pol.bgp, peers: pol.peers });
  // Per Service only what is per Service: the Layer 2 owner and the advertisements; the BGP nodes
  // of externalTrafficPolicy Cluster are in the NodeAnnouncements, joined back by expandAnnouncements.
  assert.deepEqual(st.announcements, [{ node: writer, mode: 'layer2', address: '10.0.0.101', interfaces: ['eth0'] }]);
  assert.deepEqual(st.bgp, { advertisements: ['b'], externalTrafficPolicy: 'Cluster' });
  assert.deepEqual(st.nodes, [writer], 'the listed nodes once (the kubectl column)');
  const nodeAnns = nodes.map((n) => nodeAnnouncementStatus(n, pol.bgp, pol.peers));
  assert.deepEqual(nodeAnns[0], { node: 'a', bgp: [{ advertisement: 'b', peers: ['r1'] }] });
  assert.deepEqual(expandAnnouncements(st, nodeAnns), [
    { node: writer, mode: 'layer2', address: '10.0.0.101', interfaces: ['eth0'] },
    { node: 'a', mode: 'bgp', peers: ['r1'] },
    { node: 'b', mode: 'bgp', peers: ['r1'] },
  ]);
  // A node lost: the Service's status is unchanged (its NodeAnnouncement goes instead).
  const lost = decide({ self: 'a', nodes, alive: new Set(['a']), services: [svc], ...pol }).services.get('default/s')!;
  const stLost = announcementStatus(svc, lost, { self: 'a', selfInterfaces: () => ['eth0'], nodes: new Map(nodes.map((n) => [n.name, n])), bgp: pol.bgp, peers: pol.peers });
  assert.deepEqual(stLost.bgp, st.bgp);
  // externalTrafficPolicy Local: the nodes with an endpoint are the Service's own facts, listed (and counted).
  const local = { ...svc, externalTrafficPolicy: 'Local' as const, endpointNodes: new Set(['b']) };
  const lv = decide({ self: 'a', nodes, alive: new Set(['a', 'b']), services: [local], l2: [], bgp: pol.bgp, peers: pol.peers }).services.get('default/s')!;
  const lst = announcementStatus(local, lv, { self: 'b', selfInterfaces: () => [], nodes: new Map(nodes.map((n) => [n.name, n])), bgp: pol.bgp, peers: pol.peers });
  assert.deepEqual(lst.bgp, { advertisements: ['b'], externalTrafficPolicy: 'Local', localNodes: 1 });
  assert.deepEqual(expandAnnouncements(lst, nodeAnns), [{ node: 'b', mode: 'bgp', peers: ['r1'] }]);
  // BGP writer: rendezvous by Service, not the first node by name (which wrote them all).
  const writers = new Map<string, number>();
  const many = Array.from({ length: 10 }, (_, i) => `n${i}`);
  for (let i = 0; i < 200; i++) {
    const w = statusWriter({ l2Owners: {}, bgpNodes: many }, many, `default/s${i}`)!;
    writers.set(w, (writers.get(w) ?? 0) + 1);
  }
  assert.equal(writers.size, 10, 'every node writes some');
  // The writer label: the node name when it is a valid label value, else a stable hash.
  assert.equal(writerLabelValue('node-1.example'), 'node-1.example');
  const long = `n${'x'.repeat(80)}`;
  assert.match(writerLabelValue(long), /^h-[0-9a-f]{40}$/);
  assert.equal(writerLabelValue(long), writerLabelValue(long));
  // An object written by an earlier version (every BGP node listed, no bgp field) reads as written.
  const old = { service: 's', announcements: [{ node: 'a', mode: 'bgp' as const, peers: ['r1'] }] };
  assert.deepEqual(expandAnnouncements(old, nodeAnns), old.announcements);
  const none = decide({ self: 'a', nodes, alive: new Set(['a', 'b']), services: [{ ...svc, hasServingEndpoint: false }], ...pol }).services.get('default/s')!;
  assert.equal(statusWriter(none, ['b', 'a'], svc.key), 'a');
  assert.match(announcementStatus({ ...svc, hasServingEndpoint: false }, none, { self: 'a', selfInterfaces: () => [], nodes: new Map(), bgp: pol.bgp, peers: pol.peers }).message ?? '', /no ready or serving endpoint/);
  assert.equal(sessionStateName('Node_1', 'r1'), 'node-1.r1');
});

test('nodeFacts: subnets a speaker published in its ConfigurationState win; the legacy Node annotation is the fallback (upgrades)', () => {
  const node = { metadata: { name: 'n1', annotations: { [ANNOTATION_L2_SUBNETS]: '10.0.0.0/24' } } };
  assert.deepEqual(nodeFacts(node, ['192.168.1.0/24']).subnets, ['192.168.1.0/24']);
  assert.deepEqual(nodeFacts(node, []).subnets, [], 'published empty: Layer 2 off on that node');
  assert.deepEqual(nodeFacts(node).subnets, ['10.0.0.0/24'], 'not published yet (an older speaker): the annotation');
  assert.equal(nodeFacts({ metadata: { name: 'n2' } }).subnets, undefined, 'neither: on every subnet');
});
