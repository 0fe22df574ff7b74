// Faults of the control plane under a running cluster: kube-apiserver killed (SIGKILL) and brought
// back 30 s later, then the same for etcd. During each outage the allocations and the Layer 2
// announcements stay in place (a client keeps getting ARP answers from the owner) and failover
// between speakers still works (membership needs no API server); afterwards the controller and the
// speakers reconnect by themselves and the next changes are all acted on: a new Service gets an
// address and is announced, a deleted one is withdrawn.
// IRONLB_OUTAGE_S shortens the outages for a quick local run (default 30).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpeakerCluster } from '../support/speaker-cluster.ts';
import { componentClients } from '../support/apiserver.ts';
import { waitFor } from '../support/wait.ts';
import { Controller } from '../../src/controller/index.ts';
import { MAX_RESTART_DELAY_MS } from '../../src/k8s/informer.ts';
import { NS } from '../support/speaker-cluster.ts';

const OUTAGE_MS = Number(process.env.IRONLB_OUTAGE_S ?? 30) * 1000;

async function ipOf(c: SpeakerCluster, name: string): Promise<string> {
  return waitFor(
    async () => {
      const s = await c.api.core.readNamespacedService({ name, namespace: 'default' });
      return s.status?.loadBalancer?.ingress?.[0]?.ip;
    },
    { what: `an address for Service ${name}`, timeoutMs: 30_000, intervalMs: 100 },
  );
}

async function createService(c: SpeakerCluster, name: string): Promise<string> {
  await c.api.core.createNamespacedService({
    namespace: 'default',
    body: { metadata: { name, namespace: 'default' }, spec: { type: 'LoadBalancer', ports: [{ port: 8080, protocol: 'TCP' }], selector: { app: name } } },
  });
  await c.endpoints(name, c.nodes.map((n) => n.name));
  return ipOf(c, name);
}

/** Holds for the outage, checking the wire every few seconds: the address keeps its owner. */
async function outage(c: SpeakerCluster, ip: string, owners: () => string[], what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  let checks = 0;
  for (let i = 0; i < 100 && Date.now() < end; i++) {
    const got = await c.arpOwners(ip);
    assert.deepEqual(got, owners(), `${what}: ARP owners of ${ip} at ${Math.round((ms - (end - Date.now())) / 1000)} s`);
    checks++;
    await new Promise((r) => setTimeout(r, Math.min(3000, Math.max(0, end - Date.now()))));
  }
  assert.ok(checks >= 2, `${what}: checked the wire ${checks} times`);
}

test('control plane faults: kube-apiserver and etcd killed for 30 s; announcements stay, components reconnect, no change is missed', async () => {
  const c = await SpeakerCluster.create({ prefix: 'ilbs', nodes: 2, net: 86, client: true });
  let controller: Controller | undefined;
  try {
    await c.apply('IPPool', 'pool', { addresses: ['10.86.0.100-10.86.0.120'] });
    await c.apply('L2Advertisement', 'all', {});
    for (let i = 0; i < c.nodes.length; i++) c.startSpeaker(i);
    await Promise.all(c.nodes.map((n) => n.waitLog(/membership running/, 180_000)));
    controller = new Controller({ clients: await componentClients(c.api, 'controller'), namespace: NS, identity: 'ctl-faults', leaderElection: false });
    await controller.start();

    const ip1 = await createService(c, 's1');
    await waitFor(async () => ((await c.arpOwners(ip1)).length === 1 ? true : undefined), { what: `one ARP owner of ${ip1}`, timeoutMs: 20_000, intervalMs: 200 });
    const owner1 = (await c.arpOwners(ip1))[0] as string;

    // ---- kube-apiserver down
    await c.api.cp.apiserver.kill('SIGKILL');
    await assert.rejects(c.api.core.readNamespacedService({ name: 's1', namespace: 'default' }), 'the API server is down');
    // Half-way through, the owner's speaker dies too: the other node takes over without the API server.
    await outage(c, ip1, () => [owner1], 'API server down', OUTAGE_MS / 2);
    const survivor = c.nodes.find((n) => n.name !== owner1);
    assert.ok(survivor);
    await c.nodes.find((n) => n.name === owner1)?.kill('SIGKILL');
    await c.waitArpOwners(ip1, [survivor.name], 10_000);
    await outage(c, ip1, () => [survivor.name], 'API server down, one speaker lost', OUTAGE_MS / 2);
    await c.api.cp.apiserver.start();
    const back = Date.now();
    assert.ok(survivor.running, 'the surviving speaker ran through the outage');
    assert.equal(controller.healthz().ok, true, 'the controller ran through the outage');

    // Everything acted on after the outage: the killed speaker rejoins, a new Service is
    // allocated and announced, a deleted one withdrawn.
    c.startSpeaker(c.nodes.findIndex((n) => n.name !== survivor.name));
    const ip2 = await createService(c, 's2');
    assert.notEqual(ip2, ip1);
    await waitFor(async () => ((await c.arpOwners(ip2)).length === 1 ? true : undefined), { what: `an ARP owner of ${ip2}`, timeoutMs: 30_000, intervalMs: 200 });
    await waitFor(async () => ((await c.announcement('s2'))?.announcements?.length ? true : undefined), { what: 's2 ServiceAnnouncement written after the restart', timeoutMs: 30_000, intervalMs: 200 });
    const backMs = Date.now() - back;
    process.stdout.write(`# API server back after ${OUTAGE_MS / 1000} s: a new Service allocated, announced and its status written ${backMs} ms after it served again\n`);
    // Informers retry at most every MAX_RESTART_DELAY_MS (with jitter); the rest is a loaded machine.
    assert.ok(backMs < MAX_RESTART_DELAY_MS * 1.25 + 15_000, `components took ${backMs} ms to act after the API server returned`);
    await c.api.core.deleteNamespacedService({ name: 's1', namespace: 'default' });
    await c.waitArpOwners(ip1, [], 30_000);

    // ---- etcd down: the API server stays up but can neither read nor write.
    const owner2 = (await c.arpOwners(ip2))[0] as string;
    await c.api.cp.etcd.kill('SIGKILL');
    await outage(c, ip2, () => [owner2], 'etcd down', OUTAGE_MS);
    await c.api.cp.etcd.start();
    const etcdBack = Date.now();
    const ip3 = await createService(c, 's3');
    await waitFor(async () => ((await c.arpOwners(ip3)).length === 1 ? true : undefined), { what: `an ARP owner of ${ip3} after etcd returned`, timeoutMs: 60_000, intervalMs: 200 });
    process.stdout.write(`# etcd back after ${OUTAGE_MS / 1000} s: a new Service allocated and announced ${Date.now() - etcdBack} ms after etcd served again\n`);
    await c.api.core.deleteNamespacedService({ name: 's2', namespace: 'default' });
    await c.waitArpOwners(ip2, [], 30_000);
    assert.deepEqual(await c.arpOwners(ip3), [(await c.arpOwners(ip3))[0]], 'one owner');
  } finally {
    await controller?.stop().catch(() => undefined);
    await c.destroy();
  }
});
