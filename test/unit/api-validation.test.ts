import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateConfig, formatConfigError, parseServiceRequest, isOurs, type SecretLike } from '../../src/api/index.ts';

const NS = 'ironlb-system';
const pool = (name: string, spec: Record<string, unknown>, labels?: Record<string, string>) => ({ apiVersion: 'ironlb.io/v1alpha1', kind: 'IPPool', metadata: { name, ...(labels ? { labels } : {}) }, spec });
const obj = (kind: string, name: string, spec: unknown) => ({ apiVersion: 'ironlb.io/v1alpha1', kind, metadata: { name, namespace: NS }, spec });
const peer = (name: string, spec: Record<string, unknown>) => obj('BGPPeer', name, { myASN: 64500, peerASN: 64501, peerAddress: '10.9.0.1', ...spec });
const basicAuth: SecretLike = { metadata: { name: 'bgp-pass', namespace: NS }, type: 'kubernetes.io/basic-auth', data: { password: Buffer.from('s3cret').toString('base64') } };

interface Case {
  name: string;
  objects: unknown[];
  secrets?: SecretLike[];
  /** Expected errors: "Kind/name field" and a pattern the message must match. */
  want: Array<[where: string, message: RegExp]>;
}

const cases: Case[] = [
  { name: 'pool without addresses', objects: [pool('p', {})], want: [['IPPool/p spec.addresses', /is required/]] },
  { name: 'pool with empty address list', objects: [pool('p', { addresses: [] })], want: [['IPPool/p spec.addresses', /at least 1 item/]] },
  { name: 'unparseable address', objects: [pool('p', { addresses: ['10.0.0.300/24'] })], want: [['IPPool/p spec.addresses[0]', /not a valid CIDR; expected a CIDR/]] },
  { name: 'prefix too long', objects: [pool('p', { addresses: ['10.0.0.0/33'] })], want: [['IPPool/p spec.addresses[0]', /prefix length 33, longer than the 32 bits/]] },
  { name: 'host bits set', objects: [pool('p', { addresses: ['10.0.0.1/24'] })], want: [['IPPool/p spec.addresses[0]', /host bits set; the network address is 10\.0\.0\.0\/24/]] },
  { name: 'range backwards', objects: [pool('p', { addresses: ['10.0.0.9-10.0.0.1'] })], want: [['IPPool/p spec.addresses[0]', /start after its end/]] },
  { name: 'range mixing families', objects: [pool('p', { addresses: ['10.0.0.1-fd00::1'] })], want: [['IPPool/p spec.addresses[0]', /mixes IPv4 and IPv6/]] },
  { name: 'IPv6 /8 is absurd', objects: [pool('p', { addresses: ['fd00::/8'] })], want: [['IPPool/p spec.addresses[0]', /too large .* at most 2\^80 addresses \(a \/48\)/]] },
  { name: 'IPv4 /4 is absurd', objects: [pool('p', { addresses: ['16.0.0.0/4'] })], want: [['IPPool/p spec.addresses[0]', /too large .*\/8/]] },
  { name: 'loopback pool', objects: [pool('p', { addresses: ['127.0.0.0/24'] })], want: [['IPPool/p spec.addresses[0]', /overlaps loopback 127\.0\.0\.0\/8/]] },
  { name: 'multicast IPv6 pool', objects: [pool('p', { addresses: ['ff02::/120'] })], want: [['IPPool/p spec.addresses[0]', /overlaps multicast ff00::\/8/]] },
  {
    name: 'overlapping pools',
    objects: [pool('a', { addresses: ['10.0.0.0/24'] }), pool('b', { addresses: ['10.0.0.200-10.0.1.10'] })],
    want: [['IPPool/b spec.addresses[0]', /overlaps 10\.0\.0\.0\/24 of IPPool\/a \(from 10\.0\.0\.200\)/]],
  },
  {
    name: 'overlap inside one pool (IPv6)',
    objects: [pool('a', { addresses: ['fd00::/120', 'fd00::10-fd00::20'] })],
    want: [['IPPool/a spec.addresses', /entries \[0\] fd00::\/120 and \[1\] fd00::10-fd00::20 overlap/]],
  },
  { name: 'wrong type for autoAssign', objects: [pool('p', { addresses: ['10.0.0.0/24'], autoAssign: 'yes' })], want: [['IPPool/p spec.autoAssign', /must be true or false, got string/]] },
  { name: 'unknown field (typo)', objects: [pool('p', { addresses: ['10.0.0.0/24'], autoassign: false })], want: [['IPPool/p spec.autoassign', /unknown field; allowed fields: addresses, autoAssign/]] },
  { name: 'negative priority', objects: [pool('p', { addresses: ['10.0.0.0/24'], allocateTo: { priority: -1 } })], want: [['IPPool/p spec.allocateTo.priority', /integer >= 0/]] },
  {
    name: 'selector In without values',
    objects: [pool('p', { addresses: ['10.0.0.0/24'], allocateTo: { serviceSelectors: [{ matchExpressions: [{ key: 'app', operator: 'In' }] }] } })],
    want: [['IPPool/p spec.allocateTo.serviceSelectors[0].matchExpressions[0].values', /In and NotIn need a non-empty values list/]],
  },
  { name: 'object that is not an object', objects: [{ kind: 'IPPool', metadata: { name: 'x' }, spec: 'oops' }], want: [['IPPool/x spec', /must be an object, got string/]] },
  { name: 'object without a name', objects: [{ kind: 'IPPool', metadata: {}, spec: { addresses: ['10.0.0.0/24'] } }], want: [['IPPool/(unnamed) metadata.name', /is required/]] },
  { name: 'object without kind', objects: [{ metadata: { name: 'x' } }], want: [['(unknown)/item 0 kind', /is required; one of IPPool/]] },
  { name: 'duplicate names', objects: [pool('a', { addresses: ['10.0.0.0/24'] }), pool('a', { addresses: ['10.0.1.0/24'] })], want: [['IPPool/a metadata.name', /duplicate IPPool name/]] },
  // BGP peers
  { name: 'both peerASN and dynamicASN', objects: [peer('p', { dynamicASN: 'external' })], want: [['BGPPeer/p spec.peerASN', /exactly one of peerASN and dynamicASN/]] },
  { name: 'neither peerASN nor dynamicASN', objects: [obj('BGPPeer', 'p', { myASN: 1, peerAddress: '10.9.0.1' })], want: [['BGPPeer/p spec.peerASN', /exactly one of peerASN and dynamicASN/]] },
  { name: 'ASN too large', objects: [peer('p', { myASN: 4294967296 })], want: [['BGPPeer/p spec.myASN', /<= 4294967295/]] },
  { name: 'bad peer address', objects: [peer('p', { peerAddress: '10.9.0' })], want: [['BGPPeer/p spec.peerAddress', /must be a unicast IPv4 or IPv6 address/]] },
  { name: 'router ID must be IPv4', objects: [peer('p', { routerID: 'fd00::1' })], want: [['BGPPeer/p spec.routerID', /must be an IPv4 address/]] },
  { name: 'hold time of 2s', objects: [peer('p', { holdTime: '2s' })], want: [['BGPPeer/p spec.holdTime', /0s \(no keepalives\) or at least 3s/]] },
  { name: 'keepalive >= hold', objects: [peer('p', { holdTime: '9s', keepaliveTime: '9s' })], want: [['BGPPeer/p spec.keepaliveTime', /shorter than holdTime/]] },
  { name: 'keepalive >= default hold', objects: [peer('p', { keepaliveTime: '2m' })], want: [['BGPPeer/p spec.keepaliveTime', /shorter than holdTime \(90s when unset\)/]] },
  { name: 'malformed duration', objects: [peer('p', { holdTime: '90 seconds' })], want: [['BGPPeer/p spec.holdTime', /a duration such as "90s"/]] },
  { name: 'port out of range', objects: [peer('p', { peerPort: 70000 })], want: [['BGPPeer/p spec.peerPort', /<= 65535/]] },
  { name: 'multihop on iBGP', objects: [peer('p', { peerASN: 64500, ebgpMultiHop: true })], want: [['BGPPeer/p spec.ebgpMultiHop', /eBGP only/]] },
  { name: 'source address of the other family', objects: [peer('p', { sourceAddress: 'fd00::1' })], want: [['BGPPeer/p spec.sourceAddress', /sourceAddress must be of the family of peerAddress/]] },
  { name: 'dangling BFD profile', objects: [peer('p', { bfdProfile: 'fast' })], want: [['BGPPeer/p spec.bfdProfile', /names no BFDProfile; existing: \(none\)/]] },
  { name: 'multicast peer address', objects: [peer('p', { peerAddress: 'ff02::5' })], want: [['BGPPeer/p spec.peerAddress', /unicast/]] },
  { name: 'IPv4-mapped IPv6 source address', objects: [peer('p', { sourceAddress: '::ffff:10.9.0.2' })], want: [['BGPPeer/p spec.sourceAddress', /must be an IPv4 or IPv6 address/]] },
  { name: 'connect time below 1s (exact, not rounded)', objects: [peer('p', { connectTime: '999.9999ms' })], want: [['BGPPeer/p spec.connectTime', /between 1s and 65535s/]] },
  { name: 'hold time too long', objects: [peer('p', { holdTime: '65536s' })], want: [['BGPPeer/p spec.holdTime', /between 0s and 65535s/]] },
  { name: 'IPv4-mapped IPv6 pool entry', objects: [pool('p', { addresses: ['::ffff:10.0.0.1'] })], want: [['IPPool/p spec.addresses[0]', /not an address, CIDR or range/]] },
  { name: 'prefix length with a leading zero', objects: [pool('p', { addresses: ['10.0.0.0/024'] })], want: [['IPPool/p spec.addresses[0]', /not a valid CIDR/]] },
  { name: 'IPv6 range over 2^80 addresses', objects: [pool('p', { addresses: ['fd00:0:0:ffff::-fd00:0:1:ffff::'] })], want: [['IPPool/p spec.addresses[0]', /too large/]] },
  { name: 'namespace name that is no DNS label', objects: [pool('p', { addresses: ['10.0.0.0/24'], allocateTo: { namespaces: ['Web_1'] } })], want: [['IPPool/p spec.allocateTo.namespaces[0]', /a namespace name/]] },
  { name: 'label value with a space', objects: [pool('p', { addresses: ['10.0.0.0/24'], allocateTo: { serviceSelectors: [{ matchLabels: { app: 'a b' } }] } })], want: [['IPPool/p spec.allocateTo.serviceSelectors[0].matchLabels["app"]', /a label value/]] },
  { name: 'large community part out of range', objects: [obj('BGPAdvertisement', 'adv', { largeCommunities: ['1:2:4294967296'] })], want: [['BGPAdvertisement/adv spec.largeCommunities[0]', /at most 4294967295/]] },
  { name: 'alias defined twice in one Community', objects: [obj('Community', 'c', { communities: [{ name: 'x', value: '1:1' }, { name: 'x', value: '1:2' }] })], want: [['Community/c spec.communities[1]', /duplicate item with name "x"/]] },
  { name: 'alias value out of range', objects: [obj('Community', 'c', { communities: [{ name: 'x', value: '70000:1' }] })], want: [['Community/c spec.communities[0].value', /at most 65535/]] },
  { name: 'missing secret', objects: [peer('p', { passwordSecret: { name: 'nope' } })], want: [['BGPPeer/p spec.passwordSecret.name', /names no Secret .* kubernetes\.io\/basic-auth/]] },
  {
    name: 'secret of the wrong type',
    objects: [peer('p', { passwordSecret: { name: 'bgp-pass' } })],
    secrets: [{ ...basicAuth, type: 'Opaque' }],
    want: [['BGPPeer/p spec.passwordSecret.name', /type "Opaque"; it must be of type kubernetes\.io\/basic-auth/]],
  },
  {
    name: 'secret without password',
    objects: [peer('p', { passwordSecret: { name: 'bgp-pass' } })],
    secrets: [{ ...basicAuth, data: { username: 'eA==' } }],
    want: [['BGPPeer/p spec.passwordSecret.name', /without a non-empty "password" key/]],
  },
  { name: 'BFD detect multiplier 1', objects: [obj('BFDProfile', 'b', { detectMultiplier: 1 })], want: [['BFDProfile/b spec.detectMultiplier', /integer >= 2 and <= 255/]] },
  // advertisements
  { name: 'L2 advertisement naming a missing pool', objects: [pool('a', { addresses: ['10.0.0.0/24'] }), obj('L2Advertisement', 'l2', { pools: ['b'] })], want: [['L2Advertisement/l2 spec.pools[0]', /names no IPPool; existing: a/]] },
  { name: 'interface name too long', objects: [obj('L2Advertisement', 'l2', { interfaces: ['a-very-long-interface'] })], want: [['L2Advertisement/l2 spec.interfaces[0]', /at most 15 characters/]] },
  {
    name: 'aggregation shorter than the pool prefix',
    objects: [pool('a', { addresses: ['10.0.0.0/24'] }), obj('BGPAdvertisement', 'adv', { aggregationLength: 16 })],
    want: [['BGPAdvertisement/adv spec.aggregationLength', /shorter than the \/24 prefix of 10\.0\.0\.0\/24 in IPPool\/a.*use 24 or longer/]],
  },
  {
    name: 'IPv6 aggregation shorter than a range',
    objects: [pool('a', { addresses: ['fd00::10-fd00::1f'] }), obj('BGPAdvertisement', 'adv', { aggregationLengthV6: 64 })],
    want: [['BGPAdvertisement/adv spec.aggregationLengthV6', /shorter than the \/124 prefix of fd00::10-fd00::1f/]],
  },
  { name: 'dangling peer', objects: [obj('BGPAdvertisement', 'adv', { peers: ['r1'] })], want: [['BGPAdvertisement/adv spec.peers[0]', /names no BGPPeer/]] },
  { name: 'dangling community alias', objects: [obj('BGPAdvertisement', 'adv', { communities: ['no-such'] })], want: [['BGPAdvertisement/adv spec.communities[0]', /names no Community alias/]] },
  { name: 'community out of range', objects: [obj('BGPAdvertisement', 'adv', { communities: ['65536:1'] })], want: [['BGPAdvertisement/adv spec.communities[0]', /each part at most 65535/]] },
  {
    name: 'large alias used as standard',
    objects: [obj('Community', 'c', { communities: [{ name: 'big', value: 'large:1:2:3' }] }), obj('BGPAdvertisement', 'adv', { communities: ['big'] })],
    want: [['BGPAdvertisement/adv spec.communities[0]', /alias of a large community; list it under largeCommunities/]],
  },
  {
    name: 'duplicate community alias',
    objects: [obj('Community', 'c1', { communities: [{ name: 'x', value: '1:1' }] }), obj('Community', 'c2', { communities: [{ name: 'x', value: '1:2' }] })],
    want: [['Community/c2 spec.communities[0].name', /duplicate alias/]],
  },
  { name: 'malformed community alias value', objects: [obj('Community', 'c', { communities: [{ name: 'x', value: '1-1' }] })], want: [['Community/c spec.communities[0].value', /a standard community "65000:100" or a large community/]] },
  {
    name: 'conflicting local-pref for one pool',
    objects: [pool('a', { addresses: ['10.0.0.0/24'] }), obj('BGPAdvertisement', 'x', { localPref: 100 }), obj('BGPAdvertisement', 'y', { localPref: 200 })],
    want: [['BGPAdvertisement/y spec.localPref', /conflicts with localPref 100 of BGPAdvertisement\/x for IPPool\/a/]],
  },
];

const keyOf = (o: unknown) => {
  const x = o as { kind?: string; metadata?: { name?: string; namespace?: string } };
  return x.kind === 'IPPool' ? `IPPool/${x.metadata?.name}` : `${x.kind}/${x.metadata?.namespace}/${x.metadata?.name}`;
};

for (const c of cases) {
  test(`validation: ${c.name}`, () => {
    const r = validateConfig(c.objects, c.secrets ?? []);
    // The objects at fault are rejected and left out; the others are applied.
    const faulty = new Set(c.want.map(([where]) => where.split(' ')[0]));
    for (const o of c.objects) {
      const k = keyOf(o);
      const [kind, name] = [k.split('/')[0], k.split('/').at(-1)];
      if (!faulty.has(`${kind}/${name}`) || name === undefined || c.name === 'duplicate names') continue;
      assert.ok(r.rejected.includes(k), `${k} must be rejected: ${JSON.stringify(r.rejected)}`);
      const parsed = { IPPool: r.config.pools, BGPPeer: r.config.bgpPeers, BFDProfile: r.config.bfdProfiles } as Record<string, Map<string, unknown>>;
      assert.equal(parsed[kind as string]?.has(name) ?? false, false, `${k} must not be in the applied configuration`);
    }
    const got = r.errors.map((e) => ({ where: `${e.kind}/${e.name} ${e.field}`, text: formatConfigError(e), message: e.message }));
    assert.equal(got.length, c.want.length, `errors: ${JSON.stringify(got.map((g) => g.text), null, 1)}`);
    c.want.forEach(([where, re], i) => {
      assert.equal(got[i]?.where, where);
      assert.match(got[i]?.message ?? '', re);
    });
  });
}

test('every error message names the object, the field and the value', () => {
  const r = validateConfig([pool('a', { addresses: ['10.0.0.0/24'] }), pool('b', { addresses: ['10.0.0.5/32'] })]);
  assert.equal(
    formatConfigError(r.errors[0]!),
    'IPPool/b: spec.addresses[0]: "10.0.0.5/32": overlaps 10.0.0.0/24 of IPPool/a (from 10.0.0.5); pools must not overlap, and IPPool/a (older, or first by name) keeps them: remove or narrow one of the two',
  );
});

test('a valid configuration parses: defaults, ranges as bigints, resolved references', () => {
  const r = validateConfig(
    [
      pool('web', { addresses: ['192.0.2.0/28', '2001:db8::10-2001:db8::1f'], allocateTo: { priority: 5, namespaces: ['web'] } }, { tier: 'edge' }),
      pool('other', { addresses: ['198.51.100.0/24'], autoAssign: false }),
      obj('BFDProfile', 'fast', { receiveInterval: 100 }),
      obj('Community', 'c', { communities: [{ name: 'no-export', value: '65535:65281' }, { name: 'big', value: 'large:64500:1:2' }] }),
      peer('r1', { bfdProfile: 'fast', passwordSecret: { name: 'bgp-pass' }, holdTime: '9s' }),
      peer('r2', { peerAddress: '2001:db8::1', peerASN: undefined, dynamicASN: 'external' }),
      obj('BGPAdvertisement', 'edge', { poolSelectors: [{ matchLabels: { tier: 'edge' } }], aggregationLength: 28, communities: ['no-export', '64500:7'], largeCommunities: ['big'], peers: ['r1'], localPref: 50 }),
      obj('L2Advertisement', 'all', {}),
    ],
    [basicAuth],
  );
  assert.deepEqual(r.errors.map(formatConfigError), []);
  const cfg = r.config!;
  const web = cfg.pools.get('web')!;
  assert.equal(web.autoAssign, true);
  assert.equal(web.avoidBuggyIPs, false);
  assert.deepEqual(web.size, { IPv4: 16n, IPv6: 16n });
  assert.equal(web.ranges[0]!.first, 0xc0000200n);
  assert.deepEqual(web.allocateTo, { priority: 5, namespaces: ['web'], namespaceSelectors: [], serviceSelectors: [] });
  assert.equal(cfg.pools.get('other')!.autoAssign, false);
  assert.deepEqual(cfg.l2Advertisements[0]!.pools, ['other', 'web']);
  const adv = cfg.bgpAdvertisements[0]!;
  assert.deepEqual(adv.pools, ['web']);
  assert.deepEqual(adv.communities, [64500 * 65536 + 7, 65535 * 65536 + 65281]);
  assert.deepEqual(adv.largeCommunities, [{ global: 64500, local1: 1, local2: 2 }]);
  assert.equal(adv.aggregationLengthV6, 128);
  const r1 = cfg.bgpPeers.get('r1')!;
  assert.equal(r1.password, 's3cret');
  assert.equal(r1.holdTimeMs, 9000);
  assert.equal(r1.keepaliveTimeMs, 3000);
  assert.equal(r1.peerPort, 179);
  assert.equal(cfg.bgpPeers.get('r2')!.family, 'IPv6');
  assert.equal(cfg.bfdProfiles.get('fast')!.transmitInterval, 300);
  assert.equal(cfg.bfdProfiles.get('fast')!.receiveInterval, 100);
});

test('service requests: annotation, loadBalancerIP, conflicts and per-family limits', () => {
  const svc = (annotations: Record<string, string>, loadBalancerIP?: string) => ({ metadata: { name: 's', namespace: 'd', annotations }, spec: { type: 'LoadBalancer', ...(loadBalancerIP ? { loadBalancerIP } : {}) } });
  assert.deepEqual(parseServiceRequest(svc({ 'ironlb.io/loadBalancerIPs': '10.0.0.5, fd00::5', 'ironlb.io/address-pool': 'web', 'ironlb.io/allow-shared-ip': 'k' })), {
    ok: true,
    request: { addresses: { IPv4: '10.0.0.5', IPv6: 'fd00::5' }, pool: 'web', sharingKey: 'k' },
  });
  assert.deepEqual(parseServiceRequest(svc({}, '10.0.0.7')), { ok: true, request: { addresses: { IPv4: '10.0.0.7' } } });
  const both = parseServiceRequest(svc({ 'ironlb.io/loadBalancerIPs': '10.0.0.5' }, '10.0.0.7'));
  assert.equal(both.ok, false);
  assert.match(!both.ok ? both.reason : '', /both spec\.loadBalancerIP \("10\.0\.0\.7"\) and annotation ironlb\.io\/loadBalancerIPs/);
  const two = parseServiceRequest(svc({ 'ironlb.io/loadBalancerIPs': '10.0.0.5,10.0.0.6' }));
  assert.match(!two.ok ? two.reason : '', /more than one IPv4 address; at most one per family/);
  const bad = parseServiceRequest(svc({ 'ironlb.io/loadBalancerIPs': '10.0.0.500' }));
  assert.match(!bad.ok ? bad.reason : '', /"10\.0\.0\.500" is not an IP address/);
});

test('class filtering: no class is ours by default, other classes and types are not', () => {
  assert.equal(isOurs({ spec: { type: 'LoadBalancer' } }), true);
  assert.equal(isOurs({ spec: { type: 'LoadBalancer' } }, { handleServicesWithoutClass: false }), false);
  assert.equal(isOurs({ spec: { type: 'LoadBalancer', loadBalancerClass: 'ironlb.io/ironlb' } }), true);
  assert.equal(isOurs({ spec: { type: 'LoadBalancer', loadBalancerClass: 'other.io/lb' } }), false);
  assert.equal(isOurs({ spec: { type: 'LoadBalancer', loadBalancerClass: 'other.io/lb' } }, { loadBalancerClass: 'other.io/lb' }), true);
  assert.equal(isOurs({ spec: { type: 'ClusterIP' } }), false);
});

// ---- isolation: one invalid object never stops the others ----------------------------------

const at = (o: ReturnType<typeof pool>, t: string) => ({ ...o, metadata: { ...o.metadata, creationTimestamp: t } });

test('isolation: an invalid pool is rejected alone; the valid ones and what uses them are applied', () => {
  const r = validateConfig([
    pool('a', { addresses: ['10.0.0.0/24'] }),
    pool('bad', { addresses: ['10.0.1.1/24'] }),
    pool('c', { addresses: ['10.0.2.0/24'] }),
    obj('L2Advertisement', 'l2', { pools: ['a', 'c'] }),
  ]);
  assert.deepEqual(r.rejected, ['IPPool/bad']);
  assert.deepEqual(r.kept, []);
  assert.deepEqual([...r.config.pools.keys()], ['a', 'c']);
  assert.deepEqual(r.config.l2Advertisements.map((l) => l.pools), [['a', 'c']]);
  assert.deepEqual(r.errors.map((e) => `${e.kind}/${e.name} ${e.field}`), ['IPPool/bad spec.addresses[0]']);
  assert.deepEqual(r.accepted.map((o) => (o as { metadata: { name: string } }).metadata.name).sort(), ['a', 'c', 'l2']);
});

test('isolation: of two overlapping pools the newer loses (creationTimestamp, then name), whatever the names', () => {
  const r = validateConfig([at(pool('a-new', { addresses: ['10.0.0.128/25'] }), '2026-01-02T00:00:00Z'), at(pool('z-old', { addresses: ['10.0.0.0/24'] }), '2026-01-01T00:00:00Z')]);
  assert.deepEqual(r.rejected, ['IPPool/a-new']);
  assert.deepEqual([...r.config.pools.keys()], ['z-old']);
  assert.match(r.errors[0]?.message ?? '', /overlaps 10\.0\.0\.0\/24 of IPPool\/z-old .* IPPool\/z-old \(older, or first by name\) keeps them/);
});

test('isolation: rejections cascade to referrers, which say the referee is rejected', () => {
  const r = validateConfig([
    pool('a', { addresses: ['10.0.0.0/24'] }),
    pool('b', { addresses: ['10.0.0.0/25'] }),
    obj('L2Advertisement', 'l2b', { pools: ['b'] }),
    peer('r1', { bfdProfile: 'missing' }),
    obj('BGPAdvertisement', 'adv', { peers: ['r1'] }),
    obj('BGPAdvertisement', 'ok', { pools: ['a'] }),
  ]);
  assert.deepEqual(r.rejected, ['BGPAdvertisement/ironlb-system/adv', 'BGPPeer/ironlb-system/r1', 'IPPool/b', 'L2Advertisement/ironlb-system/l2b']);
  const msg = (name: string) => r.errors.find((e) => e.name === name)?.message ?? '';
  assert.match(msg('l2b'), /names IPPool\/b, which is rejected \(see its own errors\)/);
  assert.match(msg('adv'), /names BGPPeer\/r1, which is rejected/);
  assert.deepEqual(r.config.bgpAdvertisements.map((a) => a.name), ['ok']);
});

test('isolation: a rejected edit keeps the last accepted version; a new bad object has none to keep', () => {
  const v1 = [pool('a', { addresses: ['10.0.0.0/24'] }), at(pool('b', { addresses: ['10.0.1.0/24'] }), '2026-01-02T00:00:00Z')];
  const first = validateConfig(v1);
  assert.deepEqual(first.errors, []);
  // b is edited into an overlap with the older a (a conflict CEL cannot see), and fails its own checks next.
  const v2 = [v1[0]!, at(pool('b', { addresses: ['10.0.0.128/25'] }), '2026-01-02T00:00:00Z'), at(pool('c', { addresses: ['10.0.1.0/24'] }), '2026-01-03T00:00:00Z')];
  const second = validateConfig(v2, [], { previous: first.accepted });
  assert.deepEqual(second.rejected, ['IPPool/b', 'IPPool/c']);
  assert.deepEqual(second.kept, ['IPPool/b']);
  // The kept b still holds 10.0.1.0/24, so the new c (which overlaps it) is the one skipped.
  assert.deepEqual(second.config.pools.get('b')?.ranges.map((x) => x.text), ['10.0.1.0/24']);
  assert.equal(second.config.pools.has('c'), false);
  const third = validateConfig([v1[0]!, at(pool('b', { addresses: ['10.0.1.1/24'] }), '2026-01-02T00:00:00Z')], [], { previous: second.accepted });
  assert.deepEqual(third.kept, ['IPPool/b']);
  assert.match(third.errors[0]?.message ?? '', /host bits set/);
  assert.deepEqual(third.config.pools.get('b')?.ranges.map((x) => x.text), ['10.0.1.0/24']);
});

test('pool entries: the TypeScript twin of the CEL rules (exact bounds, keys)', async () => {
  const { poolEntryProblem, parseDurationNs } = await import('../../src/api/addr.ts');
  const { parseApiAddress: parseApiIP } = await import('../../src/util/address.ts');
  const ok = ['10.0.0.0/8', '10.0.0.0-10.255.255.255', ' 10.0.0.1 - 10.0.0.9 ', 'fd00::/48', 'fd00:0:0:ffff::-fd00:0:1:fffe::', '223.255.255.255', '::2', 'fec0::1', '64:ff9b::10.0.0.1'];
  const bad = ['10.0.0.0-11.0.0.0', 'fd00::/47', 'fd00:0:0:ffff::-fd00:0:1:ffff::', '224.0.0.0', '0.0.0.1', '::1', 'febf::1', '::ffff:10.0.0.1', '10.0.0.0/024', '010.0.0.1'];
  for (const e of ok) assert.equal(poolEntryProblem(e), undefined, e);
  for (const e of bad) assert.notEqual(poolEntryProblem(e), undefined, e);
  assert.equal(parseDurationNs('1.5ms'), 1_500_000n);
  assert.equal(parseDurationNs('1m0.000000001s'), 60_000_000_001n);
  assert.equal(parseApiIP('::ffff:1.2.3.4'), undefined);
  assert.equal(parseApiIP('::1.2.3.4')?.value, 0x01020304n, 'IPv4-compatible, as Go reads it (not IPv4-mapped)');
});

test('a BGPPeer naming a password Secret outside --bgp-password-secrets is told so, with what to do', () => {
  const peerObj = { apiVersion: 'ironlb.io/v1alpha1', kind: 'BGPPeer', metadata: { name: 'p', namespace: 'ironlb-system' }, spec: { myASN: 64512, peerASN: 64500, peerAddress: '10.0.0.1', passwordSecret: { name: 'tor-pw' } } };
  const r = validateConfig([peerObj], [], { readableSecrets: ['other'] });
  assert.equal(r.errors.length, 1);
  assert.match(r.errors[0]?.message ?? '', /may not read.*bgpPasswordSecrets.*add "tor-pw"/);
  // Listed but missing: the old message.
  assert.match(validateConfig([peerObj], [], { readableSecrets: ['tor-pw'] }).errors[0]?.message ?? '', /names no Secret/);
});
