// The controller's cache view of a Service: everything its decisions read is the same as on the
// full object (request, held addresses, pool of origin, class, start-up order), and what it does
// not read (other annotations, port names, node ports, cluster IPs, other conditions) is gone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Service } from '@kubernetes/client-node';
import { ingressIPs, namespaceView, serviceView, sortForStartupInSlices, startupOrder, toAllocatorRequest } from '../../src/controller/index.ts';
import { allocatedCondition } from '../../src/controller/requests.ts';
import { packedPortsOf } from '../../src/controller/cache-view.ts';
import { Allocator } from '../../src/ipam/index.ts';
import { allocatedPool, isOurs } from '../../src/api/index.ts';
import { prng as mulberry32 } from '../support/prng.ts';

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;

/** A Service with every field the API server fills in, and a random selection of ironlb's inputs. */
function randomService(r: () => number, i: number): V1Service {
  const annotations: Record<string, string> = { 'example.com/blob': 'x'.repeat(Math.floor(r() * 2000)), 'kubectl.kubernetes.io/last-applied-configuration': '{}' };
  if (r() < 0.3) annotations['ironlb.io/loadBalancerIPs'] = pick(r, ['10.0.0.1', 'fd00::1', '10.0.0.1,fd00::1', 'nonsense', ' 10.0.0.2 ']);
  if (r() < 0.3) annotations['ironlb.io/address-pool'] = pick(r, ['a', 'b', '']);
  if (r() < 0.3) annotations['ironlb.io/allow-shared-ip'] = pick(r, ['k', 'other']);
  if (r() < 0.1) annotations['ironlb.io/ip-allocated-from-pool'] = 'old';
  const ports = Array.from({ length: 1 + Math.floor(r() * 4) }, (_, k) => ({ name: `p${k}`, port: 80 + k, targetPort: 8080 + k, nodePort: 30000 + k, appProtocol: 'http', ...(r() < 0.7 ? { protocol: pick(r, ['TCP', 'UDP', 'SCTP']) } : {}) }));
  const conditions = [
    { type: 'other.example/Ready', status: 'True', reason: 'Fine', message: 'm', lastTransitionTime: new Date(1e12) },
    ...(r() < 0.6 ? [{ type: 'ironlb.io/IPAllocated', status: pick(r, ['True', 'False']), reason: 'FromPool', message: pick(r, ['a', 'b', '']), lastTransitionTime: new Date(1e12 + i) }] : []),
  ];
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: `s${i}`,
      namespace: pick(r, ['default', 'team-a']),
      uid: `uid-${i}`,
      resourceVersion: String(1000 + i),
      creationTimestamp: new Date(1_700_000_000_000 + Math.floor(r() * 5) * 1000),
      labels: { app: `a${i % 3}` },
      annotations,
      managedFields: [{ manager: 'kubectl', operation: 'Update' }],
      finalizers: ['service.kubernetes.io/load-balancer-cleanup'],
    },
    spec: {
      type: pick(r, ['LoadBalancer', 'LoadBalancer', 'ClusterIP']),
      ...(r() < 0.3 ? { loadBalancerClass: pick(r, ['ironlb.io/ironlb', 'other']) } : {}),
      ...(r() < 0.2 ? { loadBalancerIP: pick(r, ['10.0.0.3', 'bad']) } : {}),
      ipFamilies: pick(r, [['IPv4'], ['IPv6'], ['IPv4', 'IPv6']]),
      ipFamilyPolicy: pick(r, ['SingleStack', 'PreferDualStack', 'RequireDualStack']),
      externalTrafficPolicy: pick(r, ['Cluster', 'Local']),
      // Mostly the Service's own labels (the view then shares one object), sometimes not.
      selector: r() < 0.8 ? { app: `a${i % 3}` } : r() < 0.5 ? { app: `a${i % 3}`, tier: 'x' } : undefined,
      ports,
      clusterIP: '10.96.0.10',
      clusterIPs: ['10.96.0.10'],
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
      allocateLoadBalancerNodePorts: true,
    } as V1Service['spec'],
    status: r() < 0.8 ? { loadBalancer: { ingress: r() < 0.7 ? [{ ip: '10.0.0.1', ipMode: 'VIP', ports: [{ port: 80, protocol: 'TCP' }] }] : [{ hostname: 'lb.example' }] }, conditions } : {},
  };
}

test('service view: every input of a decision is the same as on the full Service, typed or as listed in plain JSON', async () => {
  const r = mulberry32(16);
  const all: V1Service[] = [];
  for (let i = 0; i < 2000; i++) {
    const s = randomService(r, i);
    // As jsonListPage and the watch hand it over: plain JSON, timestamps as strings.
    const v = i % 2 === 0 ? serviceView(s) : serviceView(JSON.parse(JSON.stringify(s)) as V1Service);
    all.push(s);
    const ns = { team: 'x' };
    assert.deepEqual(toAllocatorRequest(v, ns), toAllocatorRequest(s, ns), `request of ${i}`);
    assert.deepEqual(ingressIPs(v), ingressIPs(s));
    assert.equal(allocatedPool(v), allocatedPool(s));
    // The condition's fields the controller reads (status, message, lastTransitionTime: the view
    // keeps times as strings, read with new Date()).
    const [cv, cs] = [allocatedCondition(v), allocatedCondition(s)];
    const at = (t: Date | string | undefined) => (t === undefined ? undefined : new Date(t).getTime());
    assert.deepEqual([cv?.status, cv?.message, at(cv?.lastTransitionTime)], [cs?.status, cs?.message, at(cs?.lastTransitionTime)]);
    assert.equal(isOurs(v), isOurs(s));
    assert.equal(isOurs(v, { handleServicesWithoutClass: false }), isOurs(s, { handleServicesWithoutClass: false }));
    assert.equal(v.metadata?.uid, s.metadata?.uid);
    assert.deepEqual(v.spec?.selector, s.spec?.selector);
    assert.equal(v.metadata?.resourceVersion, s.metadata?.resourceVersion);
    assert.equal(startupOrder(v, s), 0);
    assert.deepEqual(v.status?.loadBalancer?.ingress?.map((x) => x.hostname), s.status?.loadBalancer?.ingress?.map((x) => x.hostname));
  }
  // The order of a start-up is the same computed on views, and sortForStartupInSlices agrees with startupOrder.
  const byOrder = [...all].sort(startupOrder).map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`);
  assert.deepEqual((await sortForStartupInSlices(all.map(serviceView))).map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`), byOrder);
  // And in slices (the controller's start-up), on typed and plain JSON views alike.
  const mixed = all.map((s, i) => serviceView(i % 3 === 0 ? (JSON.parse(JSON.stringify(s)) as V1Service) : s));
  assert.deepEqual((await sortForStartupInSlices(mixed)).map((s) => `${s.metadata?.namespace}/${s.metadata?.name}`), byOrder);
});

test('service view: what the controller does not read is dropped', () => {
  const s = randomService(mulberry32(1), 7);
  s.metadata = { ...s.metadata, annotations: { 'example.com/blob': 'x'.repeat(200_000), 'ironlb.io/allow-shared-ip': 'k' } };
  const v = serviceView(s);
  assert.deepEqual(v.metadata?.annotations, { 'ironlb.io/allow-shared-ip': 'k' });
  assert.equal(v.metadata?.managedFields, undefined);
  assert.equal((v.metadata as { finalizers?: unknown }).finalizers, undefined);
  assert.equal(v.spec?.clusterIP, undefined);
  assert.ok(v.spec?.ports?.every((p) => Object.keys(p).every((k) => k === 'port' || k === 'protocol')));
  assert.ok((v.status?.conditions ?? []).every((c) => c.type === 'ironlb.io/IPAllocated'));
  assert.ok(JSON.stringify(v).length < 1000, `view of ${JSON.stringify(v).length} bytes`);
  // No annotation of ours: no annotations object at all.
  assert.equal(serviceView({ metadata: { name: 'a', annotations: { x: 'y' } } }).metadata?.annotations, undefined);
});

test('namespace view: name and labels only', () => {
  const v = namespaceView({ metadata: { name: 'n', labels: { a: 'b' }, resourceVersion: '5', annotations: { big: 'x' }, managedFields: [] }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } });
  // Absent fields are undefined keys (one shape for every view): compared as JSON.
  assert.deepEqual(JSON.parse(JSON.stringify(v)), { metadata: { name: 'n', labels: { a: 'b' }, resourceVersion: '5' } });
});

test('service view: a Service with many ports keeps them packed, and asks the allocator for the same thing', () => {
  const ports = Array.from({ length: 10_000 }, (_, k) => ({ name: `p${k}`, port: 1 + (k % 9_000), protocol: k % 3 === 0 ? 'UDP' : k % 7 === 0 ? 'QUIC' : 'TCP', targetPort: 8080, nodePort: 30000 }));
  const s: V1Service = { metadata: { name: 'many', namespace: 'h', annotations: { 'ironlb.io/allow-shared-ip': 'k' } }, spec: { type: 'LoadBalancer', ports } };
  const v = serviceView(JSON.parse(JSON.stringify(s)) as V1Service);
  assert.equal(v.spec?.ports, undefined, 'no port objects in the cache');
  const packed = packedPortsOf(v);
  assert.ok(packed instanceof Int32Array && packed.byteLength <= 40_000, 'packed: at most 4 bytes a port');
  // The allocator sees the same ports: it refuses the same clash, and admits the same free port.
  const a = new Allocator();
  const b = new Allocator();
  for (const x of [a, b]) x.setPools([{ name: 'p', addresses: ['10.9.0.1/32'] }]);
  const [rv, rs] = [toAllocatorRequest(v, {}), toAllocatorRequest(s, {})];
  assert.ok(rv.ok && rs.ok);
  assert.deepEqual(rv.request.ports, []);
  assert.deepEqual([a.assign(rv.request).ok, b.assign(rs.request).ok], [true, true]);
  for (const [port, protocol] of [[8_999, 'TCP'], [9_500, 'TCP'], [6, 'UDP'], [7, 'TCP'], [3, 'SCTP']] as const) {
    const other = { key: 'h/other', namespace: 'h', sharingKey: 'k', requestedAddresses: ['10.9.0.1'], ports: [{ protocol, port }] };
    const [x, y] = [a.assign(other), b.assign(other)];
    assert.deepEqual(x, y, `${protocol}/${port}`);
    a.release('h/other');
    b.release('h/other');
  }
});
