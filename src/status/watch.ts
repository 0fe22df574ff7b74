// Follows what `ironlb status` shows through watches (list once, then watch events; no polling):
// Services, ServiceAnnouncements, BGPSessionStates, ConfigurationStates, IPPools, Service Events,
// Nodes and the controller's leader Lease. Changes are coalesced: a report is built at most once
// per `minIntervalMs`, and only handed on when its content changed. Used by `ironlb status -w` and
// `ironlb dashboard`.
import { EventEmitter } from 'node:events';
import type { CoreV1Event, KubernetesListObject, KubernetesObject, V1Lease, V1Node, V1Service } from '@kubernetes/client-node';
import { DEFAULT_NAMESPACE, GROUP, KINDS, VERSION, type BGPSessionState, type ConfigurationState, type IPPool, type NodeAnnouncement, type ServiceAnnouncement } from '../api/index.ts';
import { Informer, type Clients } from '../k8s/index.ts';
import { buildReport, type BuildOptions, type StatusReport } from './collect.ts';

export interface StatusWatcherOptions extends BuildOptions {
  clients: Clients;
  /** Least time between two reports (changes in between are coalesced). Default 500 ms. */
  minIntervalMs?: number;
  /** Name of the controller's leader Lease; default ironlb-controller. */
  leaseName?: string;
  /** How long start() waits for each first list before reporting it as a warning (it goes on retrying). Default 10 s. */
  syncTimeoutMs?: number;
}

export interface WatchedObjects {
  services: readonly V1Service[];
  announcements: readonly ServiceAnnouncement[];
  nodeAnnouncements: readonly NodeAnnouncement[];
  sessions: readonly BGPSessionState[];
  states: readonly ConfigurationState[];
  pools: readonly IPPool[];
  nodes: readonly V1Node[];
}

type Listed = KubernetesListObject<KubernetesObject>;

/** Emits 'report' (StatusReport) on every change of content, and 'change' (kind, type, object) per watch event. */
export class StatusWatcher extends EventEmitter<{ report: [StatusReport]; change: [string, 'add' | 'update' | 'delete', KubernetesObject] }> {
  readonly #opts: StatusWatcherOptions;
  readonly #inf: Record<'services' | 'announcements' | 'nodeAnnouncements' | 'sessions' | 'states' | 'pools' | 'events' | 'nodes' | 'leases', Informer<KubernetesObject>>;
  #timer: NodeJS.Timeout | undefined;
  #last = 0;
  #lastText = '';
  #stopped = false;
  #report: StatusReport | undefined;

  constructor(o: StatusWatcherOptions) {
    super();
    this.#opts = o;
    const { kc, core, custom, coordination } = o.clients;
    const ns = o.namespace ?? DEFAULT_NAMESPACE;
    const svcNs = o.serviceNamespace;
    const crd = (kind: keyof typeof KINDS, namespace?: string): Informer<KubernetesObject> => {
      const plural = KINDS[kind].plural;
      return new Informer<KubernetesObject>({
        kc,
        name: plural,
        path: namespace ? `/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${plural}` : `/apis/${GROUP}/${VERSION}/${plural}`,
        list: async () =>
          (namespace
            ? await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural })
            : await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural })) as Listed,
      });
    };
    this.#inf = {
      services: new Informer<KubernetesObject>({
        kc,
        name: 'services',
        path: svcNs ? `/api/v1/namespaces/${svcNs}/services` : '/api/v1/services',
        list: async () => (svcNs ? await core.listNamespacedService({ namespace: svcNs }) : await core.listServiceForAllNamespaces()) as Listed,
      }),
      announcements: crd('ServiceAnnouncement', svcNs),
      nodeAnnouncements: crd('NodeAnnouncement', ns),
      sessions: crd('BGPSessionState', ns),
      states: crd('ConfigurationState', ns),
      pools: crd('IPPool'),
      events: new Informer<KubernetesObject>({
        kc,
        name: 'events',
        path: svcNs ? `/api/v1/namespaces/${svcNs}/events` : '/api/v1/events',
        list: async () => (svcNs ? await core.listNamespacedEvent({ namespace: svcNs }) : await core.listEventForAllNamespaces()) as Listed,
      }),
      nodes: new Informer<KubernetesObject>({ kc, name: 'nodes', path: '/api/v1/nodes', list: async () => (await core.listNode()) as Listed }),
      leases: new Informer<KubernetesObject>({
        kc,
        name: 'leases',
        path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
        list: async () => (await coordination.listNamespacedLease({ namespace: ns })) as Listed,
      }),
    };
    for (const [kind, inf] of Object.entries(this.#inf)) {
      for (const type of ['add', 'update', 'delete'] as const) {
        inf.on(type, (obj) => {
          this.emit('change', kind, type, obj);
          this.#schedule();
        });
      }
    }
  }

  /** Starts the watches; resolves once each listed (or after syncTimeoutMs, then it says which did not). */
  async start(): Promise<void> {
    this.#stopped = false;
    const limit = this.#opts.syncTimeoutMs ?? 10_000;
    await Promise.all(
      Object.values(this.#inf).map((inf) => {
        let t: NodeJS.Timeout | undefined;
        return Promise.race([inf.start(), new Promise<void>((r) => (t = setTimeout(r, limit)))]).finally(() => clearTimeout(t));
      }),
    );
    this.#build();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await Promise.all(Object.values(this.#inf).map((i) => i.stop()));
  }

  /** The latest report (after start()). */
  get report(): StatusReport | undefined {
    return this.#report;
  }

  objects(): WatchedObjects {
    return {
      services: this.#inf.services.list() as V1Service[],
      announcements: this.#inf.announcements.list() as ServiceAnnouncement[],
      nodeAnnouncements: this.#inf.nodeAnnouncements.list() as NodeAnnouncement[],
      sessions: this.#inf.sessions.list() as BGPSessionState[],
      states: this.#inf.states.list() as ConfigurationState[],
      pools: this.#inf.pools.list() as IPPool[],
      nodes: this.#inf.nodes.list() as V1Node[],
    };
  }

  #schedule(): void {
    if (this.#timer || this.#stopped) return;
    const wait = Math.max(0, this.#last + (this.#opts.minIntervalMs ?? 500) - Date.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#build();
    }, wait);
  }

  #build(): void {
    if (this.#stopped) return;
    this.#last = Date.now();
    const warnings: string[] = [];
    for (const [kind, inf] of Object.entries(this.#inf)) {
      if (!inf.synced) warnings.push(`cannot list ${kind} yet (missing CRD or permission?); retrying in the background`);
    }
    const ns = this.#opts.namespace ?? DEFAULT_NAMESPACE;
    const lease = this.#inf.leases.get(this.#opts.leaseName ?? 'ironlb-controller', ns) as V1Lease | undefined;
    const id = lease?.spec?.holderIdentity;
    const o = this.objects();
    const report = buildReport(
      {
        ...o,
        events: this.#inf.events.list() as CoreV1Event[],
        ...(id ? { leader: { identity: id, ...(lease?.spec?.renewTime ? { renewTime: new Date(lease.spec.renewTime as unknown as string).toISOString() } : {}) } } : {}),
        warnings,
      },
      this.#opts,
    );
    const text = JSON.stringify(report);
    if (text === this.#lastText) return;
    this.#lastText = text;
    this.#report = report;
    this.emit('report', report);
  }
}
