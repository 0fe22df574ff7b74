// The lab's objects: its example configuration (in ironlb's CRDs, or MetalLB's for a comparison),
// the example Services, and Services with backend Pods on chosen nodes. Writing the objects is the
// cluster harness's (testbed/cluster/objects.ts, workloads.ts).
import type { V1Service } from '@kubernetes/client-node';
import type { KindName } from '../../src/api/index.ts';
import { applyObject } from '../cluster/objects.ts';
import { backendPods, createService, serviceAddresses } from '../cluster/workloads.ts';
import { waitFor } from '../cluster/wait.ts';
import { kubectl, metallbObjects, serviceAnnotations } from './peers.ts';
import type { LabContext } from './state.ts';
import { applyUnnumberedConfig } from './unnumbered.ts';
import { kubeVipService } from './kube-vip-node.ts';

export interface ServiceOptions {
  pool?: string;
  etp?: 'Cluster' | 'Local';
  /** Nodes holding a ready endpoint (default: every node). */
  endpointNodes?: string[];
  dualStack?: boolean;
  family?: 'IPv4' | 'IPv6';
  /** ironlb.io/loadBalancerIPs */
  ips?: string[];
  sharingKey?: string;
  port?: number;
  labels?: Record<string, string>;
  namespace?: string;
}

const BACKEND_LABEL = 'lab.ironlb.io/service';

/** Applies MetalLB objects with kubectl (server side). */
async function applyMetalLB(lab: LabContext, objs: unknown[]): Promise<void> {
  await kubectl(lab.dir, ['apply', '--server-side', '--force-conflicts', '-f', '-'], objs.map((o) => JSON.stringify(o)).join('\n'));
}

/** The example configuration: an L2 pool and advertisement, a BGP pool, peers (v4, v6) and advertisement. */
export async function applyConfig(lab: LabContext): Promise<void> {
  const p = lab.plan;
  const { bfd, holdTime } = lab.state;
  const apply = (kind: KindName, name: string, spec: unknown, labels?: Record<string, string>): Promise<void> => applyObject(lab.custom, kind, name, spec, labels);
  if (p.unnumbered) return applyUnnumberedConfig({ dir: lab.dir, plan: p, state: lab.state, apply });
  // kube-vip takes its configuration from its flags (kubeVipCommand): one engine per process.
  if (lab.implementation === 'kube-vip') return;
  if (lab.implementation === 'metallb') {
    // The same pools and router in MetalLB's CRDs. Its native BGP speaks IPv4 only (it refuses the
    // whole configuration if a BGP-advertised pool holds IPv6) and has no BFD, so: one peer (v4), an
    // IPv4-only BGP pool, no BFD profile; it also refuses connectTime in native mode.
    return applyMetalLB(lab, metallbObjects({
      pools: [{ name: 'lab-l2', addresses: [p.l2Pool4, p.l2Pool6] }, { name: 'lab-bgp', addresses: [p.bgpPool4] }],
      l2: [{ name: 'lab-l2', pools: ['lab-l2'] }],
      bgp: [{ name: 'lab-bgp', pools: ['lab-bgp'] }],
      peers: [{ name: 'router', myASN: p.asn, peerASN: p.routerAsn, peerAddress: p.router4, holdTime: `${holdTime}s` }],
    }));
  }
  const fast = { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 };
  const peer = (addr: string) => ({ myASN: p.asn, peerASN: p.routerAsn, peerAddress: addr, holdTime: `${holdTime}s`, connectTime: '1s', ...(bfd ? { bfdProfile: 'lab-fast' } : {}) });
  if (lab.implementation === 'metallb-frr') {
    // FRR mode has what native lacks: IPv6 sessions and pools, BFD, connectTime. So the same
    // configuration as ironlb's: dual-stack pools, a peer per family, the same BFD profile.
    return applyMetalLB(lab, metallbObjects({
      pools: [{ name: 'lab-l2', addresses: [p.l2Pool4, p.l2Pool6] }, { name: 'lab-bgp', addresses: [p.bgpPool4, p.bgpPool6] }],
      l2: [{ name: 'lab-l2', pools: ['lab-l2'] }],
      bgp: [{ name: 'lab-bgp', pools: ['lab-bgp'] }],
      peers: [{ name: 'router', ...peer(p.router4) }, { name: 'router-v6', ...peer(p.router6) }],
      bfdProfiles: bfd ? [{ name: 'lab-fast', ...fast }] : [],
    }));
  }
  await apply('IPPool', 'lab-l2', { addresses: [p.l2Pool4, p.l2Pool6] });
  await apply('IPPool', 'lab-bgp', { addresses: [p.bgpPool4, p.bgpPool6] });
  await apply('L2Advertisement', 'lab-l2', { pools: ['lab-l2'] });
  if (bfd) await apply('BFDProfile', 'lab-fast', fast);
  // The webhook checks references against its caches, which may not hold the BFDProfile created
  // a moment ago: a refusal naming it is retried (bounded), any other error is not.
  const applyPeer = async (name: string, addr: string): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await apply('BGPPeer', name, peer(addr));
      } catch (err) {
        const refusedRef = /names no BFDProfile/.test(String((err as { body?: unknown }).body ?? ''));
        if (!refusedRef || attempt >= 40) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  };
  await applyPeer('router', p.router4);
  await applyPeer('router-v6', p.router6);
  await apply('BGPAdvertisement', 'lab-bgp', { pools: ['lab-bgp'] });
}

/** The example Services: hello-l2 (dual stack, Layer 2), hello-bgp (BGP, ECMP), hello-local (BGP, ETP Local on the last node). */
export async function applyExample(lab: LabContext): Promise<void> {
  await applyConfig(lab);
  const last = lab.plan.nodes[lab.plan.nodes.length - 1]!.name;
  await createLabService(lab, 'hello-l2', { pool: 'lab-l2', dualStack: true });
  await createLabService(lab, 'hello-bgp', { pool: 'lab-bgp' });
  await createLabService(lab, 'hello-local', { pool: 'lab-bgp', etp: 'Local', endpointNodes: [last] });
}

/** Creates a Service of type LoadBalancer and its backend Pods (the node's backend process answers for them). */
export async function createLabService(lab: LabContext, name: string, o: ServiceOptions = {}): Promise<V1Service> {
  const namespace = o.namespace ?? 'default';
  // kube-vip: the lab gives the address (kube-vip-cloud-provider's part) and the engine's class.
  const kubeVip = lab.implementation === 'kube-vip' ? await kubeVipService(lab, o) : undefined;
  const svc = await createService(lab.core, name, namespace, {
    port: o.port ?? lab.plan.appPort,
    targetPort: lab.plan.appPort,
    annotations: { ...serviceAnnotations(lab.implementation, o), ...kubeVip?.annotations },
    ...(kubeVip ? { loadBalancerClass: kubeVip.loadBalancerClass } : {}),
    ...(o.labels ? { labels: o.labels } : {}),
    ...(o.etp ? { etp: o.etp } : {}),
    ...(o.dualStack ? { dualStack: true } : {}),
    ...(o.family ? { family: o.family } : {}),
  });
  await labEndpoints(lab, name, o.endpointNodes ?? lab.plan.nodes.map((n) => n.name), namespace);
  return svc;
}

/** The Service's backends: one Pod on each named node (testbed/cluster/workloads.ts backendPods). */
export async function labEndpoints(lab: LabContext, service: string, nodes: string[], namespace = 'default'): Promise<void> {
  const backends = nodes.map((ref) => lab.node(ref)).map((n) => ({ name: n.name, addresses: [n.ipv4, n.ipv6] }));
  await backendPods(lab.core, service, backends, { namespace, port: lab.plan.appPort, image: 'lab.ironlb.io/backend:local', label: BACKEND_LABEL });
}

export async function deleteLabService(lab: LabContext, name: string, namespace = 'default'): Promise<void> {
  await lab.core.deleteNamespacedService({ name, namespace });
  await lab.core.deleteCollectionNamespacedPod({ namespace, labelSelector: `${BACKEND_LABEL}=${name}`, gracePeriodSeconds: 0 }).catch(() => undefined);
}

/** Waits until the Service has `count` addresses; returns them. */
export async function waitAddresses(lab: LabContext, name: string, count = 1, timeoutMs = 30_000, namespace = 'default'): Promise<string[]> {
  return waitFor(async () => {
    const a = await serviceAddresses(lab.core, name, namespace);
    return a.length === count ? a : undefined;
  }, { what: `${count} address(es) on Service ${namespace}/${name}`, timeoutMs, intervalMs: 200 });
}
