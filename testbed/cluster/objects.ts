// The cluster's API objects as the harness writes them: Nodes as their kubelets would (status,
// labels), ironlb.io configuration objects (create or replace, remove), and the announcement status
// the speakers write. One copy for the lab, the speaker tests and the benches.
import type { CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { API_VERSION, DEFAULT_NAMESPACE, GROUP, KINDS, VERSION, expandAnnouncements, type KindName, type NodeAnnouncement, type ServiceAnnouncementStatus } from '../../src/api/index.ts';
import { isNotFound } from '../../src/k8s/index.ts';

/** One entry of a ServiceAnnouncement's status: who announces the Service, how, to whom. */
export interface Announcement {
  node: string;
  mode: string;
  address?: string;
  interfaces?: string[];
  peers?: string[];
}

/** A ServiceAnnouncement's status. */
export interface AnnouncementStatus {
  announcements?: Announcement[];
  message?: string;
}

function pluralOf(kind: string): string {
  const k = (KINDS as Record<string, { plural: string } | undefined>)[kind];
  if (!k) throw new Error(`no ironlb.io kind "${kind}": kinds are ${Object.keys(KINDS).join(', ')}`);
  return k.plural;
}

/** A Node as its kubelet registers it (the hostname label and `labels`), then its status. */
export async function registerNode(core: CoreV1Api, name: string, addresses: readonly string[], labels: Record<string, string> = {}): Promise<void> {
  await core.createNode({ body: { metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } } } });
  await setNodeStatus(core, name, addresses);
}

/** Node status as a kubelet writes it: InternalIP addresses, Ready, and NetworkUnavailable when asked. */
export async function setNodeStatus(core: CoreV1Api, name: string, addresses: readonly string[], o: { networkUnavailable?: boolean } = {}): Promise<void> {
  const cur = await core.readNode({ name });
  const now = new Date();
  await core.replaceNodeStatus({
    name,
    body: {
      ...cur,
      status: {
        addresses: [...addresses.map((address) => ({ type: 'InternalIP', address })), { type: 'Hostname', address: name }],
        conditions: [
          { type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: now, lastTransitionTime: now },
          { type: 'NetworkUnavailable', status: o.networkUnavailable ? 'True' : 'False', reason: 'Harness', lastHeartbeatTime: now, lastTransitionTime: now },
        ],
      },
    },
  });
}

/** Sets (string) or removes (null) Node labels. */
export async function setNodeLabels(core: CoreV1Api, name: string, labels: Record<string, string | null>): Promise<void> {
  const cur = await core.readNode({ name });
  const next: Record<string, string> = { ...(cur.metadata?.labels ?? {}) };
  for (const [k, v] of Object.entries(labels)) {
    if (v === null) delete next[k];
    else next[k] = v;
  }
  await core.replaceNode({ name, body: { ...cur, metadata: { ...cur.metadata, labels: next } } });
}

/** Creates or replaces an ironlb.io object (IPPool cluster-scoped, the others in ironlb-system). */
export async function applyObject(custom: CustomObjectsApi, kind: KindName | string, name: string, spec: unknown, labels?: Record<string, string>): Promise<void> {
  const cluster = kind === 'IPPool';
  const namespace = DEFAULT_NAMESPACE;
  const body = { apiVersion: API_VERSION, kind, metadata: { name, ...(cluster ? {} : { namespace }), ...(labels ? { labels } : {}) }, spec };
  const base = { group: GROUP, version: VERSION, plural: pluralOf(kind) };
  try {
    const cur = (cluster ? await custom.getClusterCustomObject({ ...base, name }) : await custom.getNamespacedCustomObject({ ...base, namespace, name })) as { metadata: { resourceVersion: string } };
    const b = { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata.resourceVersion } };
    if (cluster) await custom.replaceClusterCustomObject({ ...base, name, body: b });
    else await custom.replaceNamespacedCustomObject({ ...base, namespace, name, body: b });
  } catch (err) {
    if (!isNotFound(err)) throw err;
    if (cluster) await custom.createClusterCustomObject({ ...base, body });
    else await custom.createNamespacedCustomObject({ ...base, namespace, body });
  }
}

export async function removeObject(custom: CustomObjectsApi, kind: KindName | string, name: string): Promise<void> {
  const base = { group: GROUP, version: VERSION, plural: pluralOf(kind), name };
  if (kind === 'IPPool') await custom.deleteClusterCustomObject(base);
  else await custom.deleteNamespacedCustomObject({ ...base, namespace: DEFAULT_NAMESPACE });
}

/** The Service's ServiceAnnouncement status (undefined: none yet). */
export async function readAnnouncement(custom: CustomObjectsApi, service: string, namespace = 'default'): Promise<AnnouncementStatus | undefined> {
  try {
    const o = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: KINDS.ServiceAnnouncement.plural, namespace, name: service })) as { status?: ServiceAnnouncementStatus };
    if (!o.status?.bgp) return o.status as AnnouncementStatus | undefined;
    // BGP nodes of externalTrafficPolicy Cluster are in the NodeAnnouncements: joined back per node.
    const nodes = (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: KINDS.NodeAnnouncement.plural, namespace: DEFAULT_NAMESPACE })) as { items: NodeAnnouncement[] };
    return { ...(o.status as AnnouncementStatus), announcements: expandAnnouncements(o.status, nodes.items.map((n) => n.status)) };
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
