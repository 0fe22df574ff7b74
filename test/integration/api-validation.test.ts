// Validation where Kubernetes does it: the CRDs' OpenAPI patterns and CEL rules, on the real
// kube-apiserver with ironlb installed by helm. Every bad object is refused by the API server with
// the field and the reason, and by the TypeScript checks (`ironlb validate`, the components) too;
// every good example is accepted by both. The pool entries run both ways, so the CEL rules and
// their TypeScript twin (poolEntryProblem, poolOverlap) are shown to agree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { withApiServer, type TestApiServer } from '../support/apiserver.ts';
import { renderChart } from '../../testbed/helm.ts';
import { ROOT } from '../../testbed/tools.ts';
import { validateConfig, DEFAULT_NAMESPACE, POOL_MAX_ENTRIES } from '../../src/api/index.ts';
import { migrate, readObjects } from '../../src/migrate/index.ts';

const NS = DEFAULT_NAMESPACE;
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: unknown };
const pool = (name: string, spec: Record<string, unknown>): Obj => ({ apiVersion: 'ironlb.io/v1alpha1', kind: 'IPPool', metadata: { name }, spec });
const obj = (kind: string, name: string, spec: unknown): Obj => ({ apiVersion: 'ironlb.io/v1alpha1', kind, metadata: { name, namespace: NS }, spec });
const peer = (name: string, spec: Record<string, unknown>) => obj('BGPPeer', name, { myASN: 64500, peerASN: 64501, peerAddress: '10.9.0.1', ...spec });

/** Creates `o` as the cluster admin; undefined when accepted, else kubectl's error text. */
async function create(s: TestApiServer, o: Obj): Promise<string | undefined> {
  try {
    await s.kubectl(['create', '-f', '-'], { input: JSON.stringify(o) });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The TypeScript verdict on one object alone: its own errors' fields, empty when valid. */
const tsFields = (o: Obj): string[] => validateConfig([o]).errors.map((e) => e.field);

// Pool entries that both sides must accept, and those both must refuse (with the reason's words).
const GOOD_ENTRIES = [
  '10.0.0.0/24', '10.0.0.1-10.0.0.9', ' 10.0.0.1 - 10.0.0.9 ', '1.0.0.0/8', '16.0.0.0/8', '10.0.0.0-10.255.255.255', '10.0.0.1-11.0.0.0',
  '223.255.255.255', '192.0.2.7', 'fd00::/48', 'fd00:0:0:ffff::-fd00:0:1:fffe::', 'fd00::ffff:0:0:0-fd00:0:1::', '::2', 'fec0::1',
  '2001:db8::10-2001:db8::1f', '2001:DB8::/64', '64:ff9b::10.0.0.1', 'fd00::1',
];
const BAD_ENTRIES: Array<[entry: string, reason: RegExp]> = [
  ['10.0.0.1/24', /host bits set/],
  ['10.0.0.9-10.0.0.1', /start after its end/],
  ['fd00::9-fd00::1', /start after its end/],
  ['10.0.0.1-fd00::1', /mixes IPv4 and IPv6/],
  ['10.0.0.300/24', /must be a CIDR/],
  ['010.0.0.0/24', /must be a CIDR/],
  ['10.0.0.0/024', /must be a CIDR/],
  ['10.0.0.0/33', /must be a CIDR/],
  ['::ffff:10.0.0.1', /must be a CIDR/],
  ['fe80::1%eth0', /must be a CIDR/],
  ['10.0.0.1-10.0.0.2-10.0.0.3', /must be a CIDR/],
  ['fd00::/8', /too large/],
  ['fd00::/47', /too large/],
  ['fd00:0:0:ffff::-fd00:0:1:ffff::', /too large/],
  ['16.0.0.0/4', /too large/],
  ['10.0.0.0-11.0.0.0', /too large/],
  ['0.0.0.1', /reserved address space/],
  ['127.0.0.0/24', /reserved address space/],
  ['126.255.255.0-127.0.0.0', /reserved address space/],
  ['169.254.1.1', /reserved address space/],
  ['224.0.0.0/24', /reserved address space/],
  ['255.255.255.255', /reserved address space/],
  ['::1', /reserved address space/],
  ['::/127', /reserved address space/],
  ['fe80::/64', /reserved address space/],
  ['febf:ffff::1', /reserved address space/],
  ['ff02::/120', /reserved address space/],
];

// Bad fields of every kind: [object, the API's field path, the reason].
const BAD_OBJECTS: Array<[Obj, string, RegExp]> = [
  [pool('ov6', { addresses: ['fd00::/120', 'fd00::10-fd00::20'] }), 'spec.addresses', /entries that overlap each other/],
  [pool('ov4', { addresses: ['10.0.0.5-10.0.0.9', '10.0.0.9-10.0.0.12'] }), 'spec.addresses', /entries that overlap each other/],
  [pool('toomany', { addresses: Array.from({ length: POOL_MAX_ENTRIES + 1 }, (_, i) => `10.1.${i}.0/24`) }), 'spec.addresses', /must have at most 64 items/],
  [pool('ns', { addresses: ['10.0.0.0/24'], allocateTo: { namespaces: ['Web_1'] } }), 'spec.allocateTo.namespaces[0]', /should match/],
  [pool('in', { addresses: ['10.0.0.0/24'], allocateTo: { serviceSelectors: [{ matchExpressions: [{ key: 'app', operator: 'In' }] }] } }), 'spec.allocateTo.serviceSelectors[0].matchExpressions[0].values', /In and NotIn need a non-empty values list/],
  [pool('lv', { addresses: ['10.0.0.0/24'], allocateTo: { serviceSelectors: [{ matchLabels: { app: 'a b' } }] } }), 'spec.allocateTo.serviceSelectors[0].matchLabels', /should match/],
  [peer('addr', { peerAddress: '10.9.0' }), 'spec.peerAddress', /must be a unicast IPv4 or IPv6 address/],
  [peer('mcast', { peerAddress: 'ff02::5' }), 'spec.peerAddress', /not multicast/],
  [peer('rid', { routerID: 'fd00::1' }), 'spec.routerID', /must be an IPv4 address/],
  [peer('src', { sourceAddress: 'fd00::1' }), 'spec.sourceAddress', /sourceAddress must be of the family of peerAddress/],
  [peer('asn', { myASN: 0 }), 'spec.myASN', /greater than or equal to 1/],
  [peer('asn2', { peerASN: 4294967296 }), 'spec.peerASN', /less than or equal to 4294967295/],
  [peer('both', { dynamicASN: 'external' }), 'spec.peerASN', /set exactly one of peerASN and dynamicASN/],
  [peer('hold', { holdTime: '2s' }), 'spec.holdTime', /0s \(no keepalives\) or at least 3s/],
  [peer('holdmax', { holdTime: '65536s' }), 'spec.holdTime', /between 0s and 65535s/],
  [peer('ka', { holdTime: '9s', keepaliveTime: '9s' }), 'spec.keepaliveTime', /keepaliveTime must be shorter than holdTime/],
  [peer('ka90', { keepaliveTime: '2m' }), 'spec.keepaliveTime', /90s when unset/],
  [peer('conn', { connectTime: '999.9999ms' }), 'spec.connectTime', /between 1s and 65535s/],
  [peer('dur', { holdTime: '90 seconds' }), 'spec.holdTime', /should match/],
  [peer('ibgp', { peerASN: 64500, ebgpMultiHop: true }), 'spec.ebgpMultiHop', /eBGP only/],
  [obj('BGPAdvertisement', 'comm', { communities: ['65536:1'] }), 'spec.communities[0]', /each part at most 65535/],
  [obj('BGPAdvertisement', 'comm2', { communities: ['1:2:3'] }), 'spec.communities[0]', /standard community AS:VALUE/],
  [obj('BGPAdvertisement', 'large', { largeCommunities: ['1:2:4294967296'] }), 'spec.largeCommunities[0]', /at most 4294967295/],
  [obj('BGPAdvertisement', 'agg', { aggregationLength: 33 }), 'spec.aggregationLength', /less than or equal to 32/],
  [obj('BGPAdvertisement', 'pn', { pools: ['Bad_Name'] }), 'spec.pools[0]', /should match/],
  [obj('Community', 'dup', { communities: [{ name: 'x', value: '1:1' }, { name: 'x', value: '1:2' }] }), 'spec.communities[1]', /Duplicate value/],
  [obj('Community', 'range', { communities: [{ name: 'x', value: '70000:1' }] }), 'spec.communities[0].value', /at most 65535/],
  [obj('Community', 'fmt', { communities: [{ name: 'x', value: '1-1' }] }), 'spec.communities[0].value', /should match/],
  [obj('L2Advertisement', 'ifname', { interfaces: ['a-very-long-interface'] }), 'spec.interfaces[0]', /may not be more than 15/],
  [obj('BFDProfile', 'mult', { detectMultiplier: 1 }), 'spec.detectMultiplier', /greater than or equal to 2/],
];

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('the API server refuses bad objects with the field and the reason, as the TypeScript checks do; good examples pass both', async () => {
  await withApiServer(async (s) => {
    let n = 0;
    for (const entry of GOOD_ENTRIES) {
      const o = pool(`good-${n++}`, { addresses: [entry] });
      assert.equal(await create(s, o), undefined, `the API server refuses good entry ${JSON.stringify(entry)}`);
      assert.deepEqual(tsFields(o), [], `TypeScript refuses good entry ${JSON.stringify(entry)}`);
    }
    for (const [entry, reason] of BAD_ENTRIES) {
      const o = pool(`bad-${n++}`, { addresses: [entry] });
      const refusal = await create(s, o);
      assert.ok(refusal, `the API server accepts bad entry ${JSON.stringify(entry)}`);
      assert.match(refusal, new RegExp(`spec\\.addresses\\[0\\]: Invalid value: ${escape(JSON.stringify(entry))}: `), refusal);
      assert.match(refusal, reason, refusal);
      assert.deepEqual(tsFields(o), ['spec.addresses[0]'], `TypeScript accepts bad entry ${JSON.stringify(entry)}`);
    }
    // A full pool of long IPv6 ranges stays within the API server's CEL cost limits.
    const full = pool('full', { addresses: Array.from({ length: POOL_MAX_ENTRIES }, (_, i) => `  2001:0db8:${i.toString(16)}:ffff:ffff:ffff:ffff:1000 - 2001:0db8:${i.toString(16)}:ffff:ffff:ffff:ffff:ffff  `) });
    assert.equal(await create(s, full), undefined);
    assert.deepEqual(tsFields(full), []);

    for (const [o, field, reason] of BAD_OBJECTS) {
      const refusal = await create(s, o);
      assert.ok(refusal, `the API server accepts ${o.kind}/${o.metadata.name}`);
      assert.match(refusal, new RegExp(escape(field)), refusal);
      assert.match(refusal, reason, refusal);
      const fields = tsFields(o);
      assert.ok(fields.length > 0, `TypeScript accepts ${o.kind}/${o.metadata.name}`);
    }

    // Good examples: the chart's example configurations and the migration fixtures' output, each
    // set whole (references between its objects resolve; Secrets for BGP passwords come along).
    const sets: Array<{ name: string; objects: Obj[] }> = [];
    for (const f of ['values-layer2.yaml', 'values-bgp.yaml']) {
      const values = parse(readFileSync(join(ROOT, 'deploy/helm/ironlb/examples', f), 'utf8')) as Record<string, unknown>;
      sets.push({ name: f, objects: (await renderChart({ values })).map((r) => r.object as Obj).filter((o) => o.apiVersion.startsWith('ironlb.io/')) });
    }
    const fixture = (f: string) => readObjects(readFileSync(join(ROOT, 'test/fixtures/migrate', f), 'utf8'), f);
    for (const [format, f] of [['metallb', 'metallb-crs.yaml'], ['metallb', 'metallb-configmap.yaml'], ['openelb', 'openelb.yaml']] as const) {
      sets.push({ name: f, objects: migrate(format, fixture(f)).objects as Obj[] });
    }
    for (const set of sets) {
      // The migration refers to password Secrets that exist in the cluster: stand-ins for those.
      const secrets: unknown[] = set.objects.filter((o) => o.kind === 'Secret');
      for (const o of set.objects) {
        const name = (o.spec as { passwordSecret?: { name: string } } | undefined)?.passwordSecret?.name;
        if (o.kind === 'BGPPeer' && name && !secrets.some((x) => (x as Obj).metadata.name === name)) secrets.push({ metadata: { name }, type: 'kubernetes.io/basic-auth', stringData: { password: 'x' } });
      }
      const ours = set.objects.filter((o) => o.apiVersion.startsWith('ironlb.io/'));
      assert.ok(ours.length > 0, set.name);
      assert.deepEqual(validateConfig(ours, secrets as never[]).errors, [], `TypeScript refuses an object of ${set.name}`);
      for (const o of ours) {
        const out = await s.kubectl(['apply', '-f', '-'], { input: JSON.stringify(o) });
        assert.match(out, /(created|configured|unchanged)/, `${set.name}: ${o.kind}/${o.metadata.name}`);
      }
    }
  });
});
