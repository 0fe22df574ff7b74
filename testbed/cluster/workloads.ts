// Services and their endpoints as the harness makes them: the Service object (and, where no
// controller runs, its status as the controller would write it), and backends either as Pods that
// kube-controller-manager turns into EndpointSlices (the lab) or as an EndpointSlice written directly
// (the speaker tests, whose control plane has no controller manager).
import type { CoreV1Api, DiscoveryV1Api, V1Service } from '@kubernetes/client-node';
import { isNotFound } from '../../src/k8s/index.ts';

export interface ServiceShape {
  port: number;
  /** The backends' port (default: port); with it the port is named "http". */
  targetPort?: number;
  etp?: 'Cluster' | 'Local';
  dualStack?: boolean;
  family?: 'IPv4' | 'IPv6';
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  /** spec.loadBalancerClass (kube-vip in the lab: its engine's class). */
  loadBalancerClass?: string;
  /** Ingress addresses written into status, as ironlb's controller would (no controller runs). */
  ips?: string[];
}

/** Creates a Service of type LoadBalancer selecting `app: NAME`. */
export async function createService(core: CoreV1Api, name: string, namespace: string, s: ServiceShape): Promise<V1Service> {
  const created = await core.createNamespacedService({
    namespace,
    body: {
      metadata: { name, namespace, ...(s.annotations ? { annotations: s.annotations } : {}), ...(s.labels ? { labels: s.labels } : {}) },
      spec: {
        type: 'LoadBalancer',
        ports: [{ ...(s.targetPort !== undefined ? { name: 'http', targetPort: s.targetPort } : {}), port: s.port, protocol: 'TCP' }],
        selector: { app: name },
        externalTrafficPolicy: s.etp ?? 'Cluster',
        ...(s.loadBalancerClass ? { loadBalancerClass: s.loadBalancerClass } : {}),
        ...(s.dualStack ? { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] } : s.family ? { ipFamilyPolicy: 'SingleStack', ipFamilies: [s.family] } : {}),
      },
    },
  });
  if (!s.ips) return created;
  return core.replaceNamespacedServiceStatus({ name, namespace, body: { ...created, status: { loadBalancer: { ingress: s.ips.map((ip) => ({ ip, ipMode: 'VIP' })) } } } });
}

/** The Service's ingress addresses (empty while pending). */
export async function serviceAddresses(core: CoreV1Api, name: string, namespace = 'default'): Promise<string[]> {
  const s = await core.readNamespacedService({ name, namespace });
  return (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter(Boolean);
}

/** A node that runs backends: its name and (host network) addresses. */
export interface BackendNode {
  name: string;
  addresses: string[];
}

const notFoundIsUndefined = (err: unknown): Promise<undefined> => (isNotFound(err) ? Promise.resolve(undefined) : Promise.reject(err));

export interface HostPod {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  node: BackendNode;
  container: string;
  image: string;
  serviceAccountName?: string;
  /** Container port named "http". */
  port?: number;
}

/**
 * A host-network Pod on a node as the scheduler and the node's kubelet would make it: bound to the
 * node, Running and Ready with the node's addresses (a dual-stack node's kubelet reports all of
 * them, so IPv6-only Services get endpoints too). Left as it is when it is so already.
 */
export async function hostNetworkPod(core: CoreV1Api, p: HostPod): Promise<void> {
  const { name, namespace } = p;
  const [first] = p.node.addresses;
  let pod = await core.readNamespacedPod({ name, namespace }).catch(notFoundIsUndefined);
  pod ??= await core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name, namespace, labels: p.labels },
      spec: {
        nodeName: p.node.name,
        hostNetwork: true,
        ...(p.serviceAccountName ? { serviceAccountName: p.serviceAccountName } : {}),
        containers: [{ name: p.container, image: p.image, ...(p.port !== undefined ? { ports: [{ name: 'http', containerPort: p.port }] } : {}) }],
      },
    },
  });
  if (pod.status?.podIP === first && pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) return;
  const now = new Date();
  const cond = (type: string) => ({ type, status: 'True', lastTransitionTime: now });
  const ips = p.node.addresses.map((ip) => ({ ip }));
  await core.replaceNamespacedPodStatus({
    name,
    namespace,
    body: {
      ...pod,
      status: {
        phase: 'Running', hostIP: first, hostIPs: ips, podIP: first, podIPs: ips, startTime: now,
        conditions: [cond('PodScheduled'), cond('Initialized'), cond('ContainersReady'), cond('Ready')],
        containerStatuses: [{ name: p.container, ready: true, restartCount: 0, image: p.image, imageID: '', started: true, state: { running: { startedAt: now } } }],
      },
    },
  });
}

/**
 * The Service's backends as Pods (hostNetworkPod), one on each named node; kube-controller-manager
 * turns them into EndpointSlices. Pods on other nodes are removed (force: no kubelet is there to
 * confirm).
 */
export async function backendPods(core: CoreV1Api, service: string, nodes: readonly BackendNode[], o: { namespace: string; port: number; image: string; label: string }): Promise<void> {
  const { namespace } = o;
  const want = new Set(nodes.map((n) => n.name));
  for (const p of (await core.listNamespacedPod({ namespace, labelSelector: `${o.label}=${service}` })).items) {
    if (!want.has(p.spec?.nodeName ?? '')) await core.deleteNamespacedPod({ name: p.metadata?.name ?? '', namespace, gracePeriodSeconds: 0 }).catch(notFoundIsUndefined);
  }
  for (const node of nodes) {
    await hostNetworkPod(core, { name: `${service}-${node.name}`, namespace, labels: { app: service, [o.label]: service }, node, container: 'backend', image: o.image, port: o.port });
  }
}

/** Replaces the Service's EndpointSlice `SERVICE-slice`: one ready endpoint on each named node. */
export async function endpointSlice(discovery: DiscoveryV1Api, service: string, nodes: readonly string[], o: { namespace: string; port: number }): Promise<void> {
  const name = `${service}-slice`;
  const { namespace } = o;
  const body = {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    addressType: 'IPv4',
    metadata: { name, namespace, labels: { 'kubernetes.io/service-name': service } },
    ports: [{ port: o.port, protocol: 'TCP' }],
    endpoints: nodes.map((n, i) => ({ addresses: [`10.244.${i}.10`], nodeName: n, conditions: { ready: true, serving: true, terminating: false } })),
  };
  const cur = await discovery.readNamespacedEndpointSlice({ name, namespace }).catch(notFoundIsUndefined);
  if (cur) await discovery.replaceNamespacedEndpointSlice({ name, namespace, body: { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata?.resourceVersion } } });
  else await discovery.createNamespacedEndpointSlice({ namespace, body });
}
