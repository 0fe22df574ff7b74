// Invalid configuration is isolated per object: what gets past the API server (conflicts between
// objects, references to missing or rejected objects, CEL cannot see those) is reported on the
// object (Event) and in ConfigurationState, and skipped; the valid rest keeps serving. An object
// edited into an invalid state keeps its last accepted version, so no Service is renumbered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../support/wait.ts';
import { withCluster, ips, NS, type Harness } from './controller-harness.ts';
import type { ConfigurationState } from '../../src/api/index.ts';

const state = async (h: Harness) =>
  (await h.clients.custom.getNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: NS, plural: 'configurationstates', name: 'controller' }).catch(() => undefined)) as ConfigurationState | undefined;
const errorsOf = (st: ConfigurationState | undefined) => (st?.status?.errors ?? []).map((e) => `${e.kind}/${e.name} ${e.field} ${e.value}: ${e.message}`);

test('invalid objects are rejected one by one and reported; the valid rest keeps serving', async () => {
  await withCluster(async (h) => {
    await h.pool('good', { addresses: ['10.60.0.0/29'] });
    const c = await h.startController();
    await h.service('before');
    assert.deepEqual(await h.waitIPs('before'), ['10.60.0.0']);
    await waitFor(async () => (await state(h))?.status?.valid === true, { what: 'ConfigurationState valid' });

    // Past the API server: an overlap with an older pool, a missing BFDProfile, a missing pool,
    // and an advertisement naming the rejected peer (a cascade). A new valid pool comes with them.
    await h.pool('overlap', { addresses: ['10.60.0.4-10.60.0.9'] });
    await h.pool('fresh', { addresses: ['10.60.2.0/30'], autoAssign: false });
    await h.config('BGPPeer', 'bgppeers', 'r1', { myASN: 64500, peerASN: 64501, peerAddress: '10.62.0.1', bfdProfile: 'nope' });
    await h.config('BGPAdvertisement', 'bgpadvertisements', 'adv', { pools: ['nope'] });
    await h.config('BGPAdvertisement', 'bgpadvertisements', 'adv2', { peers: ['r1'] });
    const st = await waitFor(
      async () => {
        const s = await state(h);
        return s?.status?.valid === false && /4 object\(s\) rejected/.test(s.status.message ?? '') ? s : undefined;
      },
      { what: 'ConfigurationState with 4 rejected objects' },
    );
    const errs = errorsOf(st);
    const expect = [
      /^IPPool\/overlap spec\.addresses\[0\] "10\.60\.0\.4-10\.60\.0\.9": overlaps 10\.60\.0\.0\/29 of IPPool\/good/,
      /^BGPPeer\/r1 spec\.bfdProfile "nope": names no BFDProfile/,
      /^BGPAdvertisement\/adv spec\.pools\[0\] "nope": names no IPPool/,
      /^BGPAdvertisement\/adv2 spec\.peers\[0\] "r1": names BGPPeer\/r1, which is rejected/,
    ];
    for (const re of expect) assert.ok(errs.some((e) => re.test(e)), `no error matching ${re} in:\n${errs.join('\n')}`);
    assert.match(st.status?.message ?? '', /^4 object\(s\) rejected and skipped; the rest is applied: /);
    // Events: on the ConfigurationState and on each rejected object (cluster-scoped → "default").
    await h.waitEvent('controller', 'InvalidConfiguration', /rejected and skipped/, NS);
    await h.waitEvent('overlap', 'InvalidConfiguration', /rejected and skipped; the rest of the configuration is applied: IPPool\/overlap/);
    await h.waitEvent('r1', 'InvalidConfiguration', /bfdProfile/, NS);
    await h.waitEvent('adv2', 'InvalidConfiguration', /which is rejected/, NS);
    assert.deepEqual([...(c.appliedConfig?.pools.keys() ?? [])], ['fresh', 'good']);
    const rejectedGauge = await c.metrics.configRejectedObjects.get();
    assert.equal(rejectedGauge.values[0]?.value, 4);

    // The valid rest serves, the new valid pool included.
    await h.service('during');
    assert.deepEqual(await h.waitIPs('during'), ['10.60.0.1']);
    await h.service('in-fresh', { annotations: { 'ironlb.io/address-pool': 'fresh' } });
    assert.deepEqual(await h.waitIPs('in-fresh'), ['10.60.2.0']);
    await h.service('wants-overlap', { annotations: { 'ironlb.io/address-pool': 'overlap' } });
    assert.match((await h.waitEvent('wants-overlap', 'AllocationFailed')).message ?? '', /^UnknownPool: /);

    // Fixing each object applies it; the pending Service is served; nothing moved.
    await h.replacePool('overlap', { addresses: ['10.60.1.0/30'] });
    for (const name of ['adv', 'adv2']) await h.clients.custom.deleteNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: NS, plural: 'bgpadvertisements', name });
    await h.config('BFDProfile', 'bfdprofiles', 'nope', {});
    await waitFor(async () => (await state(h))?.status?.valid === true, { what: 'ConfigurationState valid again' });
    assert.deepEqual(await h.waitIPs('wants-overlap'), ['10.60.1.0']);
    assert.deepEqual(ips(await h.get('before')), ['10.60.0.0']);
    assert.deepEqual(ips(await h.get('in-fresh')), ['10.60.2.0']);
    assert.equal(c.readyz().ok, true);
  });
});

test('at start-up the valid part of a partly invalid configuration applies at once', async () => {
  await withCluster(async (h) => {
    // Created in the same second or in this order: "b" is the newer (or second by name) and loses.
    await h.pool('a', { addresses: ['10.63.0.0/30'] });
    await h.pool('b', { addresses: ['10.63.0.2/31'] });
    await h.service('waiting');
    const c = await h.startController();
    assert.deepEqual(await h.waitIPs('waiting'), ['10.63.0.0']);
    await waitFor(() => c.ready, { what: 'controller ready' });
    const st = await waitFor(async () => ((await state(h))?.status?.valid === false ? await state(h) : undefined), { what: 'ConfigurationState invalid' });
    assert.match(st?.status?.message ?? '', /^1 object\(s\) rejected and skipped; the rest is applied: IPPool\/b: /);
    await h.clients.custom.deleteClusterCustomObject({ group: 'ironlb.io', version: 'v1alpha1', plural: 'ippools', name: 'b' });
    await waitFor(async () => (await state(h))?.status?.valid === true, { what: 'ConfigurationState valid' });
  });
});

test('one invalid pool among valid ones, and a pool edited into an invalid state: the others keep allocating, the edited one keeps its last accepted version, no Service is renumbered', async () => {
  await withCluster(async (h) => {
    // Names order the pools where creation times tie: "a-older" counts as older than "b-edited".
    await h.pool('a-older', { addresses: ['10.64.0.0/29'] });
    await h.pool('b-edited', { addresses: ['10.64.1.0/29'] });
    await h.pool('c-third', { addresses: ['10.64.2.0/29'] });
    const c = await h.startController();
    const inPool = (pool: string) => ({ annotations: { 'ironlb.io/address-pool': pool } });
    await h.service('s0', inPool('a-older'));
    await h.service('s1', inPool('b-edited'));
    await h.service('s2', inPool('c-third'));
    assert.deepEqual(await h.waitIPs('s0'), ['10.64.0.0']);
    assert.deepEqual(await h.waitIPs('s1'), ['10.64.1.0']);
    assert.deepEqual(await h.waitIPs('s2'), ['10.64.2.0']);

    // One new invalid pool (it overlaps c-third, which is older): skipped; c-third keeps allocating.
    await h.pool('z-clash', { addresses: ['10.64.2.4/30'] });
    await h.waitEvent('z-clash', 'InvalidConfiguration', /rejected and skipped.*overlaps 10\.64\.2\.0\/29 of IPPool\/c-third/);
    await h.service('s3', inPool('c-third'));
    assert.deepEqual(await h.waitIPs('s3'), ['10.64.2.1']);

    // b-edited is edited to overlap the older a-older: this version is rejected, the last accepted
    // one keeps serving (its Services keep their addresses, new ones still get addresses from it).
    await h.replacePool('b-edited', { addresses: ['10.64.0.4/30'] });
    await h.waitEvent('b-edited', 'InvalidConfiguration', /this version is rejected; the last accepted version keeps serving/);
    const st = await waitFor(async () => {
      const s = await state(h);
      return /keep their last accepted version \(IPPool\/b-edited\)/.test(s?.status?.message ?? '') ? s : undefined;
    }, { what: 'ConfigurationState naming the kept version' });
    assert.match(st.status?.message ?? '', /^2 object\(s\) rejected and skipped/);
    assert.deepEqual(c.appliedConfig?.pools.get('b-edited')?.ranges.map((r) => r.text), ['10.64.1.0/29']);
    await h.service('s4', inPool('b-edited'));
    assert.deepEqual(await h.waitIPs('s4'), ['10.64.1.1']);
    // A later, unrelated change does not lose the kept version either.
    await h.pool('d-other', { addresses: ['10.64.3.0/29'] });
    await waitFor(() => c.appliedConfig?.pools.has('d-other'), { what: 'd-other applied' });
    assert.deepEqual(c.appliedConfig?.pools.get('b-edited')?.ranges.map((r) => r.text), ['10.64.1.0/29']);

    for (const [name, want] of [['s0', '10.64.0.0'], ['s1', '10.64.1.0'], ['s2', '10.64.2.0'], ['s3', '10.64.2.1'], ['s4', '10.64.1.1']] as const) {
      assert.deepEqual(ips(await h.get(name)), [want], `${name} renumbered`);
    }
    const moved = (await Promise.all(['s0', 's1', 's2', 's3', 's4'].map((n) => h.events(n)))).flat().filter((e) => e.reason === 'ClearAssignment' || e.reason === 'AllocationFailed');
    assert.deepEqual(moved.map((e) => `${e.involvedObject.name}: ${e.reason}`), []);
  });
});
