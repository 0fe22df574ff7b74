// The lab's pure parts: the address plan, the router configurations, and the parsers of `ip -j
// route` and `birdc show protocols` (no namespaces needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { birdConfig, frrConfig, labPlan, parseBirdProtocols, parseKernelRoutes } from '../../testbed/lab/index.ts';

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

test('parsers: kernel multipath routes and BIRD protocol states', () => {
  const json = JSON.stringify([
    { dst: '10.150.2.0', protocol: 'bird', nexthops: [{ gateway: '10.150.0.13' }, { gateway: '10.150.0.11' }] },
    { dst: '10.150.2.1', protocol: 'bird', gateway: '10.150.0.12' },
    { dst: '10.150.0.0/24', protocol: 'kernel' },
    { dst: 'fd00:96:2::', protocol: 'bgp', nexthops: [{ gateway: 'fd00:96::11' }] },
  ]);
  assert.deepEqual(parseKernelRoutes(json), [
    { prefix: '10.150.2.0/32', nextHops: ['10.150.0.11', '10.150.0.13'] },
    { prefix: '10.150.2.1/32', nextHops: ['10.150.0.12'] },
    { prefix: 'fd00:96:2::/128', nextHops: ['fd00:96::11'] },
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
