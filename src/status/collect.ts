// Reads what `ironlb status` shows from the Kubernetes API: Services of type LoadBalancer with their
// addresses, announcing nodes (ServiceAnnouncement, with NodeAnnouncements for BGP), BGP sessions (BGPSessionState), pool usage
// (IPPool status), each component's view of the configuration (ConfigurationState), and for a
// Service without an address the reason (its latest AllocationFailed Event, or an invalid configuration).
import type { CoordinationV1Api, CoreV1Api, CoreV1Event, CustomObjectsApi, V1Service } from '@kubernetes/client-node';
import {
  ANNOTATION_ADDRESS_POOL,
  ANNOTATION_LOAD_BALANCER_IPS,
  DEFAULT_NAMESPACE,
  GROUP,
  KINDS,
  VERSION,
  allocatedPool,
  expandAnnouncements,
  isOurs,
  type BGPSessionState,
  type ClassPolicy,
  type ConfigurationState,
  type IPPool,
  type NodeAnnouncement,
  type ServiceAnnouncement,
  type ServiceAnnouncementStatus,
} from '../api/index.ts';
import { errorText, isNotFound } from '../k8s/index.ts';

export type ServiceState = 'announced' | 'not-announced' | 'pending' | 'other-class';

export interface ServiceStatus {
  namespace: string;
  name: string;
  state: ServiceState;
  addresses: string[];
  /** Addresses the Service asks for (annotation or spec.loadBalancerIP). */
  requested?: string;
  /** Pool asked for, and pool the addresses came from. */
  requestedPool?: string;
  pool?: string;
  announcements: NonNullable<ServiceAnnouncementStatus['announcements']>;
  /** Why it has no address or is not announced. */
  reason?: string;
  /** When that reason was last seen (Event time). */
  reasonTime?: string;
}

export interface PoolStatus {
  name: string;
  addresses: string[];
  autoAssign: boolean;
  assignedIPv4?: number;
  availableIPv4?: number;
  assignedIPv6?: number;
  availableIPv6?: number;
  /** The exact count, only when availableIPv6 is capped (at 2^53-1). */
  availableIPv6Exact?: string;
  exhausted: boolean;
}

export interface SessionStatus {
  node: string;
  peer: string;
  peerAddress?: string;
  state: string;
  bfdState?: string;
  advertisedPrefixes?: number;
  since?: string;
  lastError?: string;
}

export interface ComponentConfig {
  component: string;
  valid: boolean;
  message?: string;
  errors: string[];
  observedTime?: string;
}

export interface StatusReport {
  services: ServiceStatus[];
  pools: PoolStatus[];
  sessions: SessionStatus[];
  components: ComponentConfig[];
  /** The controller replica holding the leader Lease, when it is read and held. */
  leader?: { identity: string; renewTime?: string };
  /** Problems reading the API (missing CRDs, permissions), to show instead of failing. */
  warnings: string[];
}

export interface CollectOptions {
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** ironlb's namespace (configuration, state objects). */
  namespace?: string;
  /** Only Services of this namespace (default: all). */
  serviceNamespace?: string;
  /** Only this Service (with serviceNamespace). */
  service?: string;
  classPolicy?: ClassPolicy;
  /** To read the controller's leader Lease (optional). */
  coordination?: CoordinationV1Api;
  /** Name of that Lease; default ironlb-controller. */
  leaseName?: string;
}

interface List<T> {
  items: T[];
}

const byName = <T extends { metadata?: { name?: string } }>(a: T, b: T) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1);

function eventTime(e: CoreV1Event): number {
  const t = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata?.creationTimestamp;
  return t ? new Date(t as unknown as string).getTime() : 0;
}

export async function collectStatus(o: CollectOptions): Promise<StatusReport> {
  const ns = o.namespace ?? DEFAULT_NAMESPACE;
  const warnings: string[] = [];
  const custom = async <T>(plural: string, namespace: string | undefined, what: string): Promise<T[]> => {
    try {
      const r = (namespace === undefined
        ? await o.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural })
        : await o.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural })) as List<T>;
      return r.items ?? [];
    } catch (err) {
      warnings.push(isNotFound(err) ? `cannot list ${what}: the ${plural}.${GROUP} CRD is not installed (kubectl apply -f deploy/manifests/ironlb.yaml)` : `cannot list ${what}: ${errorText(err)}`);
      return [];
    }
  };

  let services: V1Service[] = [];
  try {
    if (o.service) {
      services = [await o.core.readNamespacedService({ name: o.service, namespace: o.serviceNamespace ?? 'default' })];
    } else {
      services = (o.serviceNamespace ? await o.core.listNamespacedService({ namespace: o.serviceNamespace }) : await o.core.listServiceForAllNamespaces()).items;
    }
  } catch (err) {
    if (o.service && isNotFound(err)) throw new Error(`Service ${o.serviceNamespace ?? 'default'}/${o.service} not found; name it as NAME with -n NAMESPACE, or NAMESPACE/NAME`);
    throw new Error(`cannot read Services: ${errorText(err)}`);
  }

  const [pools, sessions, states, nodeAnnouncements, announcements] = await Promise.all([
    custom<IPPool>(KINDS.IPPool.plural, undefined, 'IPPools'),
    custom<BGPSessionState>(KINDS.BGPSessionState.plural, ns, 'BGP sessions'),
    custom<ConfigurationState>(KINDS.ConfigurationState.plural, ns, 'configuration states'),
    custom<NodeAnnouncement>(KINDS.NodeAnnouncement.plural, ns, 'node announcements'),
    o.serviceNamespace ? custom<ServiceAnnouncement>(KINDS.ServiceAnnouncement.plural, o.serviceNamespace, 'announcements') : custom<ServiceAnnouncement>(KINDS.ServiceAnnouncement.plural, undefined, 'announcements'),
  ]);

  // Events about Services (the latest AllocationFailed / NotAnnounced per Service is the reason shown).
  let events: CoreV1Event[] = [];
  try {
    const fieldSelector = 'involvedObject.kind=Service';
    const list = o.service
      ? await o.core.listNamespacedEvent({ namespace: o.serviceNamespace ?? 'default', fieldSelector: `${fieldSelector},involvedObject.name=${o.service}` })
      : o.serviceNamespace
        ? await o.core.listNamespacedEvent({ namespace: o.serviceNamespace, fieldSelector })
        : await o.core.listEventForAllNamespaces({ fieldSelector });
    events = list.items;
  } catch (err) {
    warnings.push(`cannot list Events: ${errorText(err)}`);
  }

  let leader: StatusReport['leader'];
  if (o.coordination) {
    try {
      const lease = await o.coordination.readNamespacedLease({ name: o.leaseName ?? 'ironlb-controller', namespace: ns });
      const id = lease.spec?.holderIdentity;
      if (id) leader = { identity: id, ...(lease.spec?.renewTime ? { renewTime: new Date(lease.spec.renewTime as unknown as string).toISOString() } : {}) };
    } catch (err) {
      if (!isNotFound(err)) warnings.push(`cannot read the controller's leader Lease: ${errorText(err)}`);
    }
  }

  return buildReport({ services, pools, sessions, states, announcements, nodeAnnouncements, events, ...(leader ? { leader } : {}), warnings }, o);
}

/** What a report is made of: the objects as listed (collectStatus) or as cached by watches (StatusWatcher). */
export interface StatusInputs {
  services: readonly V1Service[];
  pools: readonly IPPool[];
  sessions: readonly BGPSessionState[];
  states: readonly ConfigurationState[];
  announcements: readonly ServiceAnnouncement[];
  /** Which nodes announce which BGPAdvertisements (the BGP nodes of externalTrafficPolicy Cluster Services). */
  nodeAnnouncements: readonly NodeAnnouncement[];
  /** Events about Services (others are ignored). */
  events: readonly CoreV1Event[];
  leader?: StatusReport['leader'];
  warnings: readonly string[];
}

export type BuildOptions = Pick<CollectOptions, 'namespace' | 'serviceNamespace' | 'service' | 'classPolicy'>;

/**
 * The report from its inputs (pure). With `service`, only that Service, its pool and the BGP
 * sessions it is announced over are shown; with `serviceNamespace`, only that namespace's Services.
 */
export function buildReport(inp: StatusInputs, o: BuildOptions = {}): StatusReport {
  const ns = o.namespace ?? DEFAULT_NAMESPACE;
  const warnings = [...inp.warnings];
  const { pools, sessions, states, announcements } = inp;
  const services = inp.services.filter(
    (s) => s.spec?.type === 'LoadBalancer' && (!o.serviceNamespace || s.metadata?.namespace === o.serviceNamespace) && (!o.service || s.metadata?.name === o.service),
  );
  const events = new Map<string, CoreV1Event>();
  for (const e of inp.events) {
    if (e.involvedObject?.kind !== undefined && e.involvedObject.kind !== 'Service') continue;
    const key = `${e.involvedObject?.namespace ?? e.metadata?.namespace}/${e.involvedObject?.name}/${e.reason}`;
    const prev = events.get(key);
    if (!prev || eventTime(e) >= eventTime(prev)) events.set(key, e);
  }
  const leader = inp.leader;

  const controllerState = states.find((s) => s.status?.component === 'controller');
  const annByKey = new Map(announcements.map((a) => [`${a.metadata.namespace}/${a.metadata.name}`, a]));
  const nodeAnns = [...inp.nodeAnnouncements].map((n) => n.status);
  const out: ServiceStatus[] = [];
  for (const svc of [...services].sort(byName)) {
    const namespace = svc.metadata?.namespace ?? '';
    const name = svc.metadata?.name ?? '';
    const key = `${namespace}/${name}`;
    const ann = svc.metadata?.annotations ?? {};
    const addresses = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? '').filter(Boolean);
    const st: ServiceStatus = { namespace, name, state: 'pending', addresses, announcements: [] };
    const requested = ann[ANNOTATION_LOAD_BALANCER_IPS] ?? svc.spec?.loadBalancerIP;
    if (requested) st.requested = requested;
    if (ann[ANNOTATION_ADDRESS_POOL]) st.requestedPool = ann[ANNOTATION_ADDRESS_POOL];
    const pool = addresses.length ? allocatedPool(svc) : undefined;
    if (pool) st.pool = pool;
    const setReason = (reason: string, e?: CoreV1Event) => {
      st.reason = reason;
      if (e && eventTime(e)) st.reasonTime = new Date(eventTime(e)).toISOString();
    };
    if (!isOurs(svc, o.classPolicy)) {
      st.state = 'other-class';
      setReason(`loadBalancerClass ${JSON.stringify(svc.spec?.loadBalancerClass ?? '')} is not ironlb's; another implementation handles it`);
    } else if (!addresses.length) {
      st.state = 'pending';
      const failed = events.get(`${key}/AllocationFailed`);
      if (controllerState?.status && !controllerState.status.valid && !controllerState.status.lastValidTime) {
        setReason(`the configuration is invalid and none was ever valid: ${controllerState.status.message ?? ''} (see ironlb status; kubectl -n ${ns} get configurationstates)`);
      } else if (failed) setReason(failed.message ?? 'AllocationFailed', failed);
      else if (!controllerState) setReason(`no address yet and no controller has reported (is it running? kubectl -n ${ns} get pods)`);
      else setReason('no address yet; the controller has not decided (no AllocationFailed Event)');
    } else {
      const a = annByKey.get(key)?.status;
      st.announcements = expandAnnouncements(a, nodeAnns);
      if (st.announcements.length) st.state = 'announced';
      else {
        st.state = 'not-announced';
        const na = events.get(`${key}/NotAnnounced`);
        if (a?.message) setReason(a.message);
        else if (na) setReason(na.message ?? 'NotAnnounced', na);
        else setReason(`no speaker reports announcing it (is the speaker running? kubectl -n ${ns} get pods)`);
      }
    }
    out.push(st);
  }

  // One Service asked for: its pool and the sessions it is announced over, not every one.
  const only = o.service ? out[0] : undefined;
  const onlyPool = only ? (only.pool ?? only.requestedPool) : undefined;
  const onlySessions = new Set((only?.announcements ?? []).filter((a) => a.mode === 'bgp').flatMap((a) => (a.peers ?? []).map((p) => `${a.node}/${p}`)));
  return {
    services: out,
    pools: [...pools]
      .filter((p) => !o.service || p.metadata.name === onlyPool)
      .sort(byName)
      .map((p) => {
      const s = p.status;
      const ps: PoolStatus = {
        name: p.metadata.name ?? '',
        addresses: p.spec?.addresses ?? [],
        autoAssign: p.spec?.autoAssign ?? true,
        exhausted: s?.conditions?.some((c) => c.type === 'Exhausted' && c.status === 'True') ?? false,
      };
      if (s?.assignedIPv4 !== undefined) ps.assignedIPv4 = s.assignedIPv4;
      if (s?.availableIPv4 !== undefined) ps.availableIPv4 = s.availableIPv4;
      if (s?.assignedIPv6 !== undefined) ps.assignedIPv6 = s.assignedIPv6;
      if (s?.availableIPv6 !== undefined) ps.availableIPv6 = s.availableIPv6;
      if (s?.availableIPv6Exact !== undefined && s.availableIPv6Exact !== String(s.availableIPv6)) ps.availableIPv6Exact = s.availableIPv6Exact;
      return ps;
    }),
    sessions: sessions
      .filter((x) => x.status && (!o.service || onlySessions.has(`${x.status.node}/${x.status.peer}`)))
      .map((x) => {
        const s = x.status as NonNullable<BGPSessionState['status']>;
        const r: SessionStatus = { node: s.node, peer: s.peer, state: s.state };
        if (s.peerAddress) r.peerAddress = s.peerAddress;
        if (s.bfdState) r.bfdState = s.bfdState;
        if (s.advertisedPrefixes !== undefined) r.advertisedPrefixes = s.advertisedPrefixes;
        if (s.lastTransitionTime) r.since = s.lastTransitionTime;
        if (s.lastError) r.lastError = s.lastError;
        return r;
      })
      .sort((a, b) => (a.peer + a.node < b.peer + b.node ? -1 : 1)),
    components: [...states]
      .filter((x) => x.status)
      .map((x) => {
        const s = x.status as NonNullable<ConfigurationState['status']>;
        const c: ComponentConfig = { component: s.component, valid: s.valid, errors: (s.errors ?? []).map((e) => `${e.kind ?? ''}/${e.name ?? ''}: ${e.field ?? ''}: ${e.message}`) };
        if (s.message) c.message = s.message;
        if (s.observedTime) c.observedTime = s.observedTime;
        return c;
      })
      .sort((a, b) => (a.component < b.component ? -1 : 1)),
    ...(leader ? { leader } : {}),
    warnings,
  };
}
