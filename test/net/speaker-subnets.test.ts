// Layer 2 subnets without Node writes: each speaker publishes its node's subnets in its own
// ConfigurationState (status.l2Subnets), running with the chart's RBAC, which no longer lets it
// patch Nodes; the Node keeps no annotation, and a Layer 2 owner is still elected on the subnet.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpeakerCluster, NS } from '../support/speaker-cluster.ts';
import { waitFor } from '../support/wait.ts';
import { ANNOTATION_L2_SUBNETS } from '../../src/speaker/facts.ts';
import type { ConfigurationState } from '../../src/api/index.ts';

test('speakers publish their Layer 2 subnets in ConfigurationStates, never on Nodes, and own addresses on that subnet', async () => {
  const c = await SpeakerCluster.create({ prefix: 'ilbp', nodes: 2, net: 91, client: true });
  try {
    await c.apply('IPPool', 'lan', { addresses: ['10.91.0.100-10.91.0.110'] });
    await c.apply('L2Advertisement', 'lan', { pools: ['lan'] });
    for (let i = 0; i < c.nodes.length; i++) c.startSpeaker(i);
    for (const n of c.nodes) {
      const st = await waitFor(
        async () => {
          const o = (await c.api.custom.getNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: NS, plural: 'configurationstates', name: `speaker-${n.name}` }).catch(() => undefined)) as ConfigurationState | undefined;
          return o?.status?.l2Subnets?.length ? o : undefined;
        },
        { what: `ConfigurationState speaker-${n.name} with l2Subnets`, timeoutMs: 30_000, intervalMs: 200 },
      );
      assert.deepEqual(st.status?.l2Subnets, ['10.91.0.0/24']);
      const node = await c.api.core.readNode({ name: n.name });
      assert.equal(node.metadata?.annotations?.[ANNOTATION_L2_SUBNETS], undefined, `no ${ANNOTATION_L2_SUBNETS} on Node ${n.name}`);
    }
    await c.service('web', ['10.91.0.100'], { endpointNodes: c.nodes.map((n) => n.name) });
    const owners = await waitFor(async () => {
      const o = await c.arpOwners('10.91.0.100');
      return o.length === 1 ? o : undefined;
    }, { what: 'exactly one node answering ARP for 10.91.0.100', timeoutMs: 20_000, intervalMs: 200 });
    assert.ok(c.nodes.some((n) => n.name === owners[0]));
  } finally {
    await c.destroy();
  }
});
