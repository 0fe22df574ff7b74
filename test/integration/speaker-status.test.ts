// The status writer against the real kube-apiserver, as the speaker's ServiceAccount: coalescing, no rewrites of
// unchanged content, deletes, and the comparison that tells another writer's content from ours.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { componentClients, startTestApiServer } from '../support/apiserver.ts';
import { EventRecorder } from '../../src/k8s/index.ts';
import { StatusWriter, sameStatus, stableJson, type SeenObject } from '../../src/speaker/status.ts';


test('stableJson and sameStatus ignore key order and observedTime', () => {
  assert.equal(stableJson({ b: 1, a: [{ d: 2, c: 3 }] }), stableJson({ a: [{ c: 3, d: 2 }], b: 1 }));
  assert.ok(sameStatus({ service: 's', observedTime: 'x', announcements: [] }, { announcements: [], service: 's' }));
  assert.ok(!sameStatus({ service: 's', announcements: [{ node: 'a' }] }, { service: 's', announcements: [{ node: 'b' }] }));
});

test('StatusWriter: the latest content per object is written once; unchanged content is not rewritten; undefined deletes', async () => {
  const api = await startTestApiServer();
  try {
    const speaker = await componentClients(api, 'speaker');
    const w = new StatusWriter({ custom: speaker.custom, events: new EventRecorder({ api: speaker.core, component: 'test' }), concurrency: 2 });
    const st = (node: string) => ({ node, peer: 'r1', peerAddress: '10.0.0.1', state: 'Established', advertisedPrefixes: 1 });
    // A burst of changes to one object: only the first (in flight) and the last are written.
    for (let i = 0; i < 50; i++) w.set('BGPSessionState', 'ironlb-system', 'n0.r1', st(`n${i}`));
    await w.idle();
    assert.ok(w.writes <= 2, `${w.writes} writes for a burst of 50 changes`);
    const got = (await api.custom.getNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: 'ironlb-system', plural: 'bgpsessionstates', name: 'n0.r1' })) as { status: { node: string } };
    assert.equal(got.status.node, 'n49');
    w.set('ConfigurationState', 'ironlb-system', 'speaker-n0', { component: 'speaker-n0', valid: true });
    await w.idle();
    const cs = (await api.custom.getNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: 'ironlb-system', plural: 'configurationstates', name: 'speaker-n0' })) as { status: { observedTime?: string } };
    assert.ok(cs.status.observedTime, 'observedTime set where the kind has it');
    const before = w.writes;
    w.set('ConfigurationState', 'ironlb-system', 'speaker-n0', { component: 'speaker-n0', valid: true });
    w.set('BGPSessionState', 'ironlb-system', 'n0.r1', st('n49'));
    await w.idle();
    assert.equal(w.writes, before, 'unchanged content is not written again');
    assert.ok(w.writtenVersion('BGPSessionState', 'ironlb-system', 'n0.r1'));
    // What the cache saw: our own write is not written again; another writer's other content is
    // (a transition with two writers, one with a stale view), and ours is back.
    const obj = { group: 'ironlb.io', version: 'v1alpha1', namespace: 'ironlb-system', plural: 'bgpsessionstates', name: 'n0.r1' };
    const ours = (await api.custom.getNamespacedCustomObject(obj)) as SeenObject & { status: { node: string } };
    w.seen('BGPSessionState', 'ironlb-system', 'n0.r1', ours, st('n49'));
    w.set('BGPSessionState', 'ironlb-system', 'n0.r1', st('n49'));
    await w.idle();
    assert.equal(w.writes, before, 'our own write, seen in the cache, is not written again');
    const theirs = (await api.custom.replaceNamespacedCustomObject({ ...obj, body: { ...ours, status: st('stale') } })) as SeenObject;
    w.seen('BGPSessionState', 'ironlb-system', 'n0.r1', theirs, st('n49'));
    w.set('BGPSessionState', 'ironlb-system', 'n0.r1', st('n49'));
    await w.idle();
    assert.equal(w.writes, before + 1, 'another writer\'s content is overwritten with ours');
    assert.equal(((await api.custom.getNamespacedCustomObject(obj)) as { status: { node: string } }).status.node, 'n49');
    w.set('BGPSessionState', 'ironlb-system', 'n0.r1', undefined);
    await w.idle();
    await assert.rejects(api.custom.getNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: 'ironlb-system', plural: 'bgpsessionstates', name: 'n0.r1' }));
  } finally {
    await api.close();
  }
});
