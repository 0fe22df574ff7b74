// An invalid configuration is rejected with precise errors (ConfigurationState + Events) and the
// last valid one keeps serving; bad input never crashes or stalls the controller.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../support/wait.ts';
import { withCluster, ips, NS } from './controller-harness.ts';
import type { ConfigurationState } from '../../src/api/index.ts';

test('invalid configuration is rejected, reported, and the last valid one keeps serving', async () => {
  await withCluster(async (h) => {
    const state = async () =>
      (await h.clients.custom.getNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: NS, plural: 'configurationstates', name: 'controller' }).catch(() => undefined)) as ConfigurationState | undefined;
    await h.pool('good', { addresses: ['10.60.0.0/29'] });
    const c = await h.startController();
    await h.service('before');
    assert.deepEqual(await h.waitIPs('before'), ['10.60.0.0']);
    await waitFor(async () => (await state())?.status?.valid === true, { what: 'ConfigurationState valid' });

    // Overlap, an IPv6 /8, an unparseable address, bad BGP timers and a dangling reference.
    await h.pool('overlap', { addresses: ['10.60.0.4-10.60.0.9'] });
    await h.pool('huge', { addresses: ['fd00::/8'] });
    await h.pool('junk', { addresses: ['10.61.0.300/24'] });
    await h.config('BGPPeer', 'bgppeers', 'r1', { myASN: 64500, peerASN: 64501, peerAddress: '10.62.0.1', holdTime: '9s', keepaliveTime: '10s' });
    await h.config('BGPAdvertisement', 'bgpadvertisements', 'adv', { pools: ['nope'] });
    const st = await waitFor(
      async () => {
        const s = await state();
        return s?.status?.valid === false && (s.status.errors?.length ?? 0) >= 5 ? s : undefined;
      },
      { what: 'ConfigurationState invalid with 5 errors' },
    );
    const errs = (st.status?.errors ?? []).map((e) => `${e.kind}/${e.name} ${e.field} ${e.value}: ${e.message}`);
    const expect = [
      /^IPPool\/overlap spec\.addresses\[0\] "10\.60\.0\.4-10\.60\.0\.9": overlaps 10\.60\.0\.0\/29 of IPPool\/good/,
      /^IPPool\/huge spec\.addresses\[0\] "fd00::\/8": is too large .* at most 2\^80 addresses \(a \/48\)/,
      /^IPPool\/junk spec\.addresses\[0\] "10\.61\.0\.300\/24": is not a valid CIDR/,
      /^BGPPeer\/r1 spec\.keepaliveTime "10s": keepaliveTime must be shorter than holdTime/,
      /^BGPAdvertisement\/adv spec\.pools\[0\] "nope": names no IPPool/,
    ];
    for (const re of expect) assert.ok(errs.some((e) => re.test(e)), `no error matching ${re} in:\n${errs.join('\n')}`);
    assert.match(st.status?.message ?? '', /the last valid configuration keeps serving/);
    // Events: on the ConfigurationState and on each offending object (cluster-scoped → "default").
    await h.waitEvent('controller', 'InvalidConfiguration', /configuration rejected/, NS);
    await h.waitEvent('huge', 'InvalidConfiguration', /fd00::\/8/);
    await h.waitEvent('r1', 'InvalidConfiguration', /keepaliveTime/, NS);
    assert.equal(c.appliedConfig?.pools.has('overlap'), false);

    // The last valid configuration keeps serving: new Services still get addresses from it.
    await h.service('during');
    assert.deepEqual(await h.waitIPs('during'), ['10.60.0.1']);
    await h.service('wants-overlap', { annotations: { 'ironlb.io/address-pool': 'overlap' } });
    assert.match((await h.waitEvent('wants-overlap', 'AllocationFailed')).message ?? '', /^UnknownPool: /);

    // Fixing the configuration applies it; the pending Service is served.
    for (const name of ['huge', 'junk']) await h.clients.custom.deleteClusterCustomObject({ group: 'ironlb.io', version: 'v1alpha1', plural: 'ippools', name });
    await h.replacePool('overlap', { addresses: ['10.60.1.0/30'] });
    await h.clients.custom.deleteNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: NS, plural: 'bgpadvertisements', name: 'adv' });
    const peer = (await h.clients.custom.getNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: NS, plural: 'bgppeers', name: 'r1' })) as { spec: Record<string, unknown> };
    await h.clients.custom.replaceNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: NS, plural: 'bgppeers', name: 'r1', body: { ...peer, spec: { ...peer.spec, keepaliveTime: '3s' } } });
    await waitFor(async () => (await state())?.status?.valid === true, { what: 'ConfigurationState valid again' });
    assert.deepEqual(await h.waitIPs('wants-overlap'), ['10.60.1.0']);
    assert.deepEqual(ips(await h.get('before')), ['10.60.0.0']);
    assert.equal(c.readyz().ok, true);
  });
});

test('an invalid configuration at start-up: nothing is touched until a valid one arrives', async () => {
  await withCluster(async (h) => {
    await h.pool('a', { addresses: ['10.63.0.0/30'] });
    await h.pool('b', { addresses: ['10.63.0.2/31'] });
    await h.service('waiting');
    const c = await h.startController();
    await waitFor(() => c.metrics.configReloads.get().then((m) => m.values.some((v) => v.labels.result === 'rejected' && v.value >= 1)), { what: 'config rejected' });
    assert.equal(c.appliedConfig, undefined);
    assert.equal(c.ready, false, 'not ready without a valid configuration');
    assert.deepEqual(ips(await h.get('waiting')), []);
    await h.clients.custom.deleteClusterCustomObject({ group: 'ironlb.io', version: 'v1alpha1', plural: 'ippools', name: 'b' });
    assert.deepEqual(await h.waitIPs('waiting'), ['10.63.0.0']);
    await waitFor(() => c.ready, { what: 'controller ready' });
  });
});
