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

test('StatusWriter: a write that another writer overtook while its answer was on the way is written again', async () => {
  const api = await startTestApiServer();
  try {
    const speaker = await componentClients(api, 'speaker');
    // Our writes land at once, but their answers wait at a gate: the watch event of another
    // writer's later change (and the forget() it causes) can come before our answer.
    let gate: (() => void) | undefined;
    let landed: (() => void) | undefined;
    const held = <T>(p: Promise<T>): Promise<T> =>
      p.then(async (v) => {
        landed?.();
        if (gate === undefined) await new Promise<void>((r) => (gate = r));
        return v;
      });
    const custom = new Proxy(speaker.custom, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if ((prop === 'replaceNamespacedCustomObject' || prop === 'createNamespacedCustomObject') && typeof v === 'function') {
          return (...args: unknown[]) => held((v as (...a: unknown[]) => Promise<unknown>).apply(target, args));
        }
        return v;
      },
    });
    const w = new StatusWriter({ custom, events: new EventRecorder({ api: speaker.core, component: 'test' }) });
    const obj = { group: 'ironlb.io', version: 'v1alpha1', namespace: 'ironlb-system', plural: 'bgpsessionstates', name: 'n1.r1' };
    const st = (node: string) => ({ node, peer: 'r1', peerAddress: '10.0.0.1', state: 'Established', advertisedPrefixes: 1 });
    const nodeNow = async () => ((await api.custom.getNamespacedCustomObject(obj)) as { status: { node: string } }).status.node;
    const overtake = async (node: string): Promise<void> => {
      const cur = (await api.custom.getNamespacedCustomObject(obj)) as SeenObject;
      await api.custom.replaceNamespacedCustomObject({ ...obj, body: { ...cur, status: st(node) } });
    };

    // 1. forget() and set() of the same content while the write is in flight: written again after.
    let arrived = new Promise<void>((r) => (landed = r));
    w.set('BGPSessionState', 'ironlb-system', 'n1.r1', st('n1'));
    await arrived;
    await overtake('n0');
    w.forget('BGPSessionState', 'ironlb-system', 'n1.r1');
    w.set('BGPSessionState', 'ironlb-system', 'n1.r1', st('n1'));
    gate!();
    await w.idle();
    assert.equal(await nodeNow(), 'n1', 'ours is written again after the other writer\'s');
    assert.equal(w.writes, 2);

    // 2. forget() during the write, set() only after it: the overtaken write does not count as written.
    gate = undefined;
    arrived = new Promise<void>((r) => (landed = r));
    w.set('BGPSessionState', 'ironlb-system', 'n1.r1', st('n2'));
    await arrived;
    await overtake('n0');
    w.forget('BGPSessionState', 'ironlb-system', 'n1.r1');
    gate!();
    await w.idle();
    assert.equal(await nodeNow(), 'n0');
    w.set('BGPSessionState', 'ironlb-system', 'n1.r1', st('n2'));
    await w.idle();
    assert.equal(await nodeNow(), 'n2');
    assert.equal(w.writes, 4);
  } finally {
    await api.close();
  }
});
