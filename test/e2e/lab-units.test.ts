// The lab's pure parts: the address plan, the router configurations, and the parsers of `ip -j
// route` and `birdc show protocols` (no namespaces needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { birdConfig, frrConfig, frrZebraConfig, labPlan, migratedUnnumberedConfig, parseBirdProtocols, parseKernelRoutes } from '../../testbed/lab/index.ts';

test('lab plan: addresses inside the lab\'s 10.<net>/16 and fd00:<net>::/48, pools inside the ranges nodes accept', () => {
  const p = labPlan('ilab', 3, 150);
  assert.deepEqual(p.nodes.map((n) => [n.name, n.ns, n.ipv4, n.ipv6]), [
    ['node0', 'ilab-n0', '10.150.0.11', 'fd00:96::11'],
    ['node1', 'ilab-n1', '10.150.0.12', 'fd00:96::12'],
    ['node2', 'ilab-n2', '10.150.0.13', 'fd00:96::13'],
  ]);
  assert.equal(p.l2Pool4, '10.150.0.64-10.150.0.79');
  assert.ok(p.serviceRanges4.includes('10.150.0.64/26'));
  assert.equal(p.bgpPool4, '10.150.2.0/26');
  for (const a of [p.router4, p.client4, p.ext4, ...p.nodes.map((n) => n.ipv4)]) assert.ok(a.startsWith('10.150.'), a);
  assert.throws(() => labPlan('lab', 3), /prefix must start with "ilab"/);
  assert.throws(() => labPlan('ilab', 0), /nodes must be 1 to 40/);
  assert.throws(() => labPlan('ilab', 3, 300), /net must be 1 to 254/);
  assert.doesNotThrow(() => labPlan('ilbx151p1234', 3, 151));
});

test('router configs: BIRD peers every node over both families with ECMP and BFD; FRR the same', () => {
  const p = labPlan('ilab', 2, 150);
  const bird = birdConfig(p, { bfd: true, holdTime: 9 });
  assert.match(bird, /merge paths on/);
  assert.match(bird, /protocol bfd/);
  assert.equal(bird.match(/protocol bgp /g)?.length, 4);
  assert.match(bird, /protocol bgp node1_6 \{\n {2}local fd00:96::fe as 64512;\n {2}neighbor fd00:96::12 as 64512;/);
  assert.doesNotMatch(birdConfig(p, { bfd: false, holdTime: 9 }), /bfd/);
  const frr = frrConfig(p, { bfd: true, holdTime: 9 });
  assert.match(frr, /maximum-paths ibgp 16/);
  assert.match(frr, /neighbor 10\.150\.0\.11 bfd profile lab/);
  assert.match(frr, /neighbor fd00:96::12 activate/);
});

test('BGP unnumbered mode: eBGP plan, FRR interface neighbours without BFD, zebra keeping unused nexthop groups 1 s', () => {
  const p = labPlan('ilab', 2, 150, { unnumbered: true });
  assert.equal(p.unnumbered, true);
  assert.notEqual(p.routerAsn, p.asn, 'eBGP: dynamicASN external');
  assert.deepEqual(p.nodes.map((n) => n.link), ['node0', 'node1']);
  const frr = frrConfig(p, { bfd: true, holdTime: 9 });
  assert.match(frr, /^ neighbor node0 interface remote-as external$/m);
  assert.match(frr, /^ neighbor node1 timers 3 9$/m);
  assert.equal(frr.match(/^ {2}neighbor node1 activate$/gm)?.length, 2, 'both families');
  assert.doesNotMatch(frr, /bfd|10\.150\.0\.11/);
  assert.match(frrZebraConfig(p), /zebra nexthop-group keep 1/);
  assert.doesNotMatch(frrZebraConfig(labPlan('ilab', 2, 150)), /nexthop/);
});

test('BGP unnumbered mode: the configuration is a MetalLB FRR-mode BGPPeer that ironlb migrate carries across as is', () => {
  const p = labPlan('ilab', 2, 150, { unnumbered: true });
  const { metallb, result } = migratedUnnumberedConfig(p, 9);
  assert.match(metallb, /apiVersion: metallb\.io\/v1beta2\nkind: BGPPeer/);
  assert.deepEqual(result.warnings, []);
  const peer = result.objects.find((o) => o.kind === 'BGPPeer');
  assert.deepEqual(peer?.spec, { myASN: 64512, dynamicASN: 'external', interface: 'eth1', holdTime: '9s', keepaliveTime: '3s', connectTime: '1s' });
  assert.deepEqual(result.objects.map((o) => `${String(o.kind)}/${(o.metadata as { name: string }).name}`), ['IPPool/lab-l2', 'IPPool/lab-bgp', 'L2Advertisement/lab-l2', 'BGPAdvertisement/lab-bgp', 'BGPPeer/router']);
});

test('parsers: kernel multipath routes and BIRD protocol states', () => {
  const json = JSON.stringify([
    { dst: '10.150.2.0', protocol: 'bird', nexthops: [{ gateway: '10.150.0.13' }, { gateway: '10.150.0.11' }] },
    { dst: '10.150.2.1', protocol: 'bird', gateway: '10.150.0.12' },
    { dst: '10.150.0.0/24', protocol: 'kernel' },
    { dst: 'fd00:96:2::', protocol: 'bgp', nexthops: [{ gateway: 'fd00:96::11' }] },
    // BGP unnumbered: IPv4 via inet6 link-local (RTA_VIA), IPv6 via link-local; the device tells them apart.
    { dst: '10.150.2.9', protocol: 'bgp', nexthops: [{ via: { family: 'inet6', host: 'fe80::2' }, dev: 'node1' }, { via: { family: 'inet6', host: 'fe80::1' }, dev: 'node0' }] },
    { dst: '10.150.2.8', protocol: 'bgp', via: { family: 'inet6', host: 'fe80::1' }, dev: 'node0' },
    { dst: 'fd00:96:2::9', protocol: 'bgp', gateway: 'fe80::1', dev: 'node0' },
  ]);
  assert.deepEqual(parseKernelRoutes(json), [
    { prefix: '10.150.2.0/32', nextHops: ['10.150.0.11', '10.150.0.13'] },
    { prefix: '10.150.2.1/32', nextHops: ['10.150.0.12'] },
    { prefix: '10.150.2.8/32', nextHops: ['fe80::1%node0'] },
    { prefix: '10.150.2.9/32', nextHops: ['fe80::1%node0', 'fe80::2%node1'] },
    { prefix: 'fd00:96:2::/128', nextHops: ['fd00:96::11'] },
    { prefix: 'fd00:96:2::9/128', nextHops: ['fe80::1%node0'] },
  ]);
  const text = [
    'Name       Proto      Table      State  Since         Info',
    'device1    Device     ---        up     10:00:00.000',
    'node0_4    BGP        ---        up     10:00:01.000  Established',
    'node0_6    BGP        ---        start  10:00:01.000  Connect',
    'node1_4    BGP        ---        start  10:00:01.000  Active        Socket: Connection refused',
  ].join('\n');
  assert.deepEqual(parseBirdProtocols(text), [
    { name: 'node0_4', state: 'Established' },
    { name: 'node0_6', state: 'Connect' },
    { name: 'node1_4', state: 'Active' },
  ]);
});

test('the lab runs ironlb as the chart does: the Node options come from the templates\' command', async () => {
  const { chartNodeOptions, nodeOptionsOf } = await import('../../testbed/lab/image.ts');
  assert.deepEqual(nodeOptionsOf('          command: ["/usr/local/bin/ironlb-caps", "node", "--max-semi-space-size=1", "/app/dist/cli/main.js"]\n'), ['--max-semi-space-size=1']);
  assert.deepEqual(nodeOptionsOf('          args:\n            - controller\n'), []);
  assert.throws(() => nodeOptionsOf('  command: ["node", "/other.js"]\n'), /does not run node \/app\/dist\/cli\/main\.js/);
  for (const c of ['speaker', 'controller'] as const) for (const o of chartNodeOptions(c)) assert.match(o, /^--[a-z-]+(=\S+)?$/, `${c}: ${o}`);
});
