// The speaker loop: caches of Services, EndpointSlices, Nodes, ironlb's configuration and the
// Secrets it references; membership among speakers; on every relevant change (coalesced to one
// decision per event-loop turn) the incremental decider (incremental.ts: decide()'s answer, kept up
// to date from the changed Services and Nodes) decides and the Layer 2 announcer, the BGP engine
// (route deltas) and BFD are reconciled with its answer; status objects, Events and metrics follow.
import { networkInterfaces } from 'node:os';
import type { KubernetesListObject, KubernetesObject, V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import { DiscoveryV1Api } from '@kubernetes/client-node';
import {
  API_VERSION,
  GROUP,
  KINDS,
  VERSION,
  formatConfigError,
  validateConfig,
  configMessage,
  type ClassPolicy,
  type ConfigError,
  type ConfigurationState,
  type ConfigurationStateStatus,
  type ParsedConfig,
  isAnnounced,
  type ServiceAnnouncement,
  type ServiceAnnouncementStatus,
} from '../api/index.ts';
import { describeValue } from '../api/schema-dsl.ts';
import { BfdManager } from '../bfd/index.ts';
import { BgpEngine, type SessionState } from '../bgp/index.ts';
import { EventRecorder, Informer, isNotFound, type Clients } from '../k8s/index.ts';
import { NamedSecrets } from '../k8s/secrets.ts';
import { ConfigWatch } from '../k8s/config-watch.ts';
import { Membership, DEFAULT_PORT as MEMBERSHIP_PORT, type Timing } from '../membership/index.ts';
import { OwnerWatch, DEFAULT_WATCH_INTERVAL_MS, DEFAULT_WATCH_MULTIPLIER, DEFAULT_WATCH_NICE, DEFAULT_WATCH_PORT, DEFAULT_WATCH_RT_PRIORITY, type WatchPeer } from '../watch/index.ts';
import { logger } from '../util/log.ts';
import type { Family } from '../util/address.ts';
import { BgpReconciler } from './bgp-reconciler.ts';
import { decide, type Decision, type DecideInput, type L2Announcement, type NodeFacts, type ServiceFacts } from './decide.ts';
import { nodeAddress, nodeFacts, nodeReady, policies, serviceFacts, serviceKeyOf, slicesByService, SERVICE_NAME_LABEL } from './facts.ts';
import { IncrementalDecider, type IncrementalResult } from './incremental.ts';
import { interfacesFor, localSubnets, type InterfaceFilter, type LocalSubnet } from './l2-interface-choice.ts';
import type { L2Backend } from './l2-backend.ts';
import { MEMBERSHIP_SECRET_KEY, membershipKeys } from './membership-keys.ts';
import { createSpeakerMetrics, type SpeakerMetrics } from './metrics.ts';
import { rankCandidates } from './owner.ts';
import { hasL2Quorum } from './quorum.ts';
import { takeoverCandidates } from './successors.ts';
import {
  StatusWriter,
  sameStatus,
  announcementStatus,
  announcementSummary,
  configStateName,
  configStatus,
  nodeAnnouncementName,
  nodeAnnouncementStatus,
  sessionStateName,
  sessionStatus,
  statusWriter,
  WRITER_LABEL,
  writerLabelValue,
} from './status.ts';

export const COMPONENT = 'ironlb-speaker';
/** Longest a rebuild of the decision runs per event-loop turn (ms). */
const DECIDE_STEP_MS = 10;
/**
 * How long a ServiceAnnouncement written by a speaker of an earlier version is left to it before
 * this version writes it again (during an upgrade both would otherwise rewrite it in turn).
 */
const OLD_WRITER_BACKOFF_MS = 5 * 60_000;
/** Longest ServiceAnnouncement contents are computed per event-loop turn (ms). */
const STATUS_STEP_MS = 5;
export { MEMBERSHIP_SECRET_KEY };

export type ShutdownMode = 'withdraw' | 'graceful-restart';

export interface SpeakerOptions {
  clients: Clients;
  nodeName: string;
  /** Namespace of ironlb's configuration, Secrets and state objects. */
  namespace: string;
  membership: {
    port?: number;
    secretName: string;
    timing?: Partial<Timing>;
    /** After membership starts, Ready nodes not yet heard from still count as alive this long (ms). Default 1000. */
    joinMs?: number;
  };
  /**
   * Secrets (in `namespace`) BGPPeers may name as passwordSecret. Only these and the membership
   * Secret are read, each watched by name (the Role grants exactly these names).
   */
  bgpPasswordSecrets?: readonly string[];
  /** Where the BGP engine listens for peers; false: connect out only. */
  bgpListen: { address: string; port: number } | false;
  interfaces?: InterfaceFilter;
  shutdownMode?: ShutdownMode;
  l2: L2Backend;
  /** This node never answers ARP/NDP (BGP only): it publishes no Layer 2 subnet, so it is never an L2 owner. */
  layer2Disabled?: boolean;
  metrics?: SpeakerMetrics;
  classPolicy?: ClassPolicy;
  /** How often local interface addresses are re-read (ms). Default 5000. */
  interfaceScanMs?: number;
  /**
   * Announce over Layer 2 only while at least half of the known speakers are alive (default true):
   * a node cut off from the others stops answering instead of answering for every address.
   */
  l2Quorum?: boolean;
  /**
   * The owner watch (src/watch): fast authenticated heartbeats to the Layer 2 owners this node
   * would take over from, so a silent owner's addresses are taken before membership confirms.
   * false: membership alone (the behaviour before). Defaults: port 7948, 20 ms × 8, hold 3000 ms.
   */
  ownerWatch?: OwnerWatchSettings | false;
}

export interface OwnerWatchSettings {
  port?: number;
  intervalMs?: number;
  multiplier?: number;
  /**
   * How long a fast takeover is held while membership still lists the owner alive (ms). Then the
   * suspicion counts as refuted (a partition between this node and the owner only): the addresses
   * are released and this owner is not taken fast again until its heartbeats come back.
   */
  holdMs?: number;
  /** Nice value of the heartbeat thread when real-time scheduling is off or refused (default -10; needs CAP_SYS_NICE, else it keeps the process's). */
  nice?: number;
  /** SCHED_FIFO priority of the heartbeat thread (default 10; 0: none, use `nice`). Needs CAP_SYS_NICE. */
  realtimePriority?: number;
}

/** Owners whose successor set is computed exactly (one decide() each); beyond, a deterministic sample. */
const MAX_WATCHED = 16;
/** Longest the owner watch's watched set goes without being recomputed while the live set is unchanged (ms). */
const WATCH_REFRESH_MS = 1000;

interface PeerSeen {
  state: SessionState;
  since: string;
  lastError?: string;
  bfd?: 'AdminDown' | 'Down' | 'Init' | 'Up';
}

export class Speaker {
  readonly metrics: SpeakerMetrics;
  readonly node: string;
  #opts: SpeakerOptions;
  #log;
  #services: Informer<V1Service>;
  #slices: Informer<V1EndpointSlice>;
  #nodes: Informer<V1Node>;
  #secrets: NamedSecrets;
  /** ConfigurationStates: each speaker publishes its node's Layer 2 subnets in its own (speaker-<node>). */
  #states: Informer<KubernetesObject>;
  /** ServiceAnnouncements this node writes (by WRITER_LABEL): not every one (a third of a speaker's list and fan-out at scale). */
  #announcements: Informer<KubernetesObject>;
  #config: ConfigWatch;
  /** This node's own NodeAnnouncement (to write it again if another node removed it). */
  #ownNodeAnnouncement: Informer<KubernetesObject>;
  #events: EventRecorder;
  #status: StatusWriter;
  #bgp: BgpReconciler | undefined;
  #engine: BgpEngine | undefined;
  #membership: Membership | undefined;
  /** What membership was started with (this node's address): a change restarts it. Keys do not. */
  #membershipKey = '';
  #keysError = '';
  #membershipStarting: Promise<void> | undefined;
  #joinUntil = 0;
  #joinTimer: NodeJS.Timeout | undefined;

  #applied: ParsedConfig | undefined;
  /** The raw objects of the applied configuration: the fallback for a version rejected later. */
  #accepted: unknown[] = [];
  #configKey = '';
  #lastValidTime: string | undefined;
  #subnets: LocalSubnet[] = [];
  /** The configuration part of this speaker's ConfigurationState, and its Event once written. */
  #configReport: ConfigurationStateStatus | undefined;
  #configAfter: ((uid: string | undefined) => Promise<void>) | undefined;
  #scanTimer: NodeJS.Timeout | undefined;
  #scheduled: NodeJS.Immediate | undefined;
  #synced = false;
  #stopped = true;
  #configDirty = true;
  #decision: Decision | undefined;
  /**
   * Decisions are incremental (incremental.ts): informer events mark Services and Nodes dirty and
   * only their facts are recomputed and fed in; the configuration or a node's facts changing
   * rebuilds. EndpointSlices are indexed by their Service, so one slice costs one Service.
   */
  #decider: IncrementalDecider;
  #deciderConfig: ParsedConfig | undefined;
  #dirtyServices = new Set<string>();
  #dirtyNodes = new Set<string>();
  #allNodesDirty = true;
  /** Services whose ServiceAnnouncement another speaker wrote: check it even if our view did not change. */
  #dirtyStatus = new Set<string>();
  /** namespace/name of a Service → its EndpointSlices (by slice name); and each slice's Service. */
  #slicesOf = new Map<string, Map<string, V1EndpointSlice>>();
  #sliceService = new Map<string, string>();
  #firstAlive: string | undefined;
  #statusAll = true;
  /** Services whose ServiceAnnouncement is to be computed, drained in steps (#drainStatus). */
  #statusQueue = new Set<string>();
  #statusCtx: { d: Decision; firstAlive: string | undefined; desired: Map<string, string[]> } | undefined;
  #statusTimer: NodeJS.Immediate | undefined;
  #lastInterfaces = new Map<string, string>();
  #downAt = new Map<string, number>();
  #peerSeen = new Map<string, PeerSeen>();
  /** Services' announcement summaries as last written by this node (announcementSummary). */
  #lastNodes = new Map<string, string>();
  /** ServiceAnnouncements last written by a speaker of an earlier version (no writer label) → since (ms). */
  #oldWriter = new Map<string, number>();
  #oldWriterTimer: NodeJS.Timeout | undefined;
  /** Live nodes at the last status pass: the first live node removes the NodeAnnouncements of nodes gone since. */
  #prevAlive = new Set<string>();
  #statusChain: Promise<void> = Promise.resolve();
  #quorate: boolean | undefined;
  #globalFamilies = new Set<Family>();
  #watch: OwnerWatch | undefined;
  /** Owners silent on the owner watch while membership still lists them: name → since (ms). */
  #suspects = new Map<string, number>();
  /** Owners whose fast suspicion membership did not confirm within holdMs: not taken fast until heard again. */
  #refuted = new Set<string>();
  /** Owners whose addresses this node holds by a fast takeover (told to them in heartbeats). */
  #holding = new Set<string>();
  /** When a claim of this node's death last made it announce its addresses again. */
  #declaredDeadAt = 0;
  /** Owners heard on the owner watch since membership last declared them dead. */
  #watchHeard = new Set<string>();
  #watched = new Set<string>();
  #watchSetKey = '';
  #watchAliveKey = '';
  #watchAt = -Infinity;
  #watchRefresh: NodeJS.Timeout | undefined;
  #watchPeersKey = '';
  #prevDesired = new Set<string>();
  /** Decisions taken, for tests and logs. */
  decisions = 0;

  constructor(o: SpeakerOptions) {
    this.#opts = o;
    this.node = o.nodeName;
    this.metrics = o.metrics ?? createSpeakerMetrics();
    this.#log = logger('speaker', { node: o.nodeName });
    const { kc, core, custom } = o.clients;
    const ns = o.namespace;
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    this.#services = new Informer<V1Service>({ kc, name: 'services', path: '/api/v1/services', list: () => core.listServiceForAllNamespaces() });
    this.#slices = new Informer<V1EndpointSlice>({ kc, name: 'endpointslices', path: '/apis/discovery.k8s.io/v1/endpointslices', list: () => discovery.listEndpointSliceForAllNamespaces() });
    this.#nodes = new Informer<V1Node>({ kc, name: 'nodes', path: '/api/v1/nodes', list: () => core.listNode() });
    this.#secrets = new NamedSecrets({ kc, core, namespace: ns, names: [o.membership.secretName, ...(o.bgpPasswordSecrets ?? [])] });
    const statePlural = KINDS.ConfigurationState.plural;
    this.#states = new Informer<KubernetesObject>({
      kc,
      name: statePlural,
      path: `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${statePlural}`,
      list: async () => (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: statePlural })) as KubernetesListObject<KubernetesObject>,
    });
    const saPlural = KINDS.ServiceAnnouncement.plural;
    const writer = `${WRITER_LABEL}=${writerLabelValue(o.nodeName)}`;
    this.#announcements = new Informer<KubernetesObject>({
      kc,
      name: saPlural,
      path: `/apis/${GROUP}/${VERSION}/${saPlural}`,
      labelSelector: writer,
      list: async () => (await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: saPlural, labelSelector: writer })) as KubernetesListObject<KubernetesObject>,
    });
    const naPlural = KINDS.NodeAnnouncement.plural;
    const own = `metadata.name=${nodeAnnouncementName(o.nodeName)}`;
    this.#ownNodeAnnouncement = new Informer<KubernetesObject>({
      kc,
      name: naPlural,
      path: `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${naPlural}`,
      fieldSelector: own,
      list: async () => (await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: naPlural, fieldSelector: own })) as KubernetesListObject<KubernetesObject>,
    });
    const cfgChanged = (): void => {
      this.#configDirty = true;
      this.#kick();
    };
    this.#config = new ConfigWatch({ kc, custom, namespace: ns, secrets: this.#secrets, onChange: cfgChanged });
    this.#decider = new IncrementalDecider(o.nodeName);
    this.#events = new EventRecorder({ api: core, component: COMPONENT, host: o.nodeName });
    this.#status = new StatusWriter({ custom, events: this.#events, onError: (op) => this.metrics.apiErrors.inc({ op }) });

    const kick = (): void => this.#kick();
    for (const ev of ['add', 'update', 'delete'] as const) {
      this.#services.on(ev, (svc) => {
        this.#dirtyServices.add(serviceKeyOf(svc));
        kick();
      });
      this.#slices.on(ev, (sl) => {
        this.#indexSlice(sl, ev === 'delete');
        kick();
      });
      this.#nodes.on(ev, (n) => {
        this.#dirtyNodes.add(n.metadata?.name ?? '');
        kick();
      });
      // Another node's published subnets may have changed: Layer 2 owners may change. (These
      // objects change only with the configuration or a node's subnets; decisions are coalesced.)
      this.#states.on(ev, (st) => {
        const name = st.metadata?.name ?? '';
        if (name.startsWith('speaker-')) this.#dirtyNodes.add(name.slice('speaker-'.length));
        kick();
      });
    }
    // A ServiceAnnouncement changed by another speaker may need correcting by its writer. Another
    // speaker writing one of ours takes it out of our selection: a delete here (as is a deletion).
    for (const ev of ['add', 'update'] as const) {
      this.#announcements.on(ev, (a) => {
        this.#dirtyStatus.add(serviceKeyOf(a));
        kick();
      });
    }
    this.#announcements.on('delete', (a) => void this.#leftSelection(a));
    // Our NodeAnnouncement removed (another node took this one for lost): write it again.
    this.#ownNodeAnnouncement.on('delete', (a) => {
      this.#status.forget('NodeAnnouncement', a.metadata?.namespace ?? '', a.metadata?.name ?? '');
      kick();
    });
  }

  // ---- life cycle ----------------------------------------------------------------------------

  async start(): Promise<void> {
    this.#stopped = false;
    // The engine exists on every node (it also connects out); --no-bgp-listen only skips the listener.
    this.#engine = new BgpEngine({ listen: this.#opts.bgpListen, logger: logger('bgp', { node: this.node }) });
    this.#bgp = new BgpReconciler({
      engine: this.#engine,
      bfd: () => new BfdManager({ registry: this.metrics.registry }),
      onSessionState: (ev) => {
        const prev = this.#peerSeen.get(ev.peer);
        this.#peerSeen.set(ev.peer, { ...prev, state: ev.state, since: new Date().toISOString(), ...(ev.reason ? { lastError: ev.reason } : {}) });
        this.#kick();
      },
      onBfdState: (peer, state) => {
        const prev = this.#peerSeen.get(peer);
        if (prev) prev.bfd = state;
        this.#kick();
      },
    });
    this.#scanInterfaces();
    this.#scanTimer = setInterval(() => this.#scanInterfaces(), this.#opts.interfaceScanMs ?? 5000);
    this.#scanTimer.unref();
    await Promise.all([this.#services, this.#slices, this.#nodes, this.#secrets, this.#states, this.#announcements, this.#ownNodeAnnouncement, this.#config].map((i) => i.start()));
    if (this.#stopped) return;
    this.#synced = true;
    this.#log.info('caches synced');
    this.#kick();
  }

  /**
   * Hands over and stops: leave the membership first (the next owner takes the addresses at once),
   * stop answering ARP/NDP, then withdraw BGP routes or keep them through graceful restart.
   */
  async stop(): Promise<void> {
    clearTimeout(this.#watchRefresh);
    clearTimeout(this.#oldWriterTimer);
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#scheduled) clearImmediate(this.#scheduled);
    if (this.#statusTimer) clearImmediate(this.#statusTimer);
    clearInterval(this.#scanTimer);
    clearTimeout(this.#joinTimer);
    const gr = (this.#opts.shutdownMode ?? 'withdraw') === 'graceful-restart';
    this.#log.info({ shutdownMode: gr ? 'graceful-restart' : 'withdraw' }, 'stopping: handing over');
    await this.#membershipStarting?.catch(() => {});
    await this.#membership?.leave();
    this.#opts.l2.set(new Map());
    await this.#watch?.close();
    await this.#bgp?.close(gr);
    await Promise.race([this.#statusChain.then(() => this.#status.idle()), new Promise((r) => setTimeout(r, 2000).unref())]);
    await this.#membership?.close();
    await this.#opts.l2.close();
    await Promise.all([this.#services, this.#slices, this.#nodes, this.#secrets, this.#states, this.#announcements, this.#ownNodeAnnouncement, this.#config].map((i) => i.stop()));
  }

  healthz(): { ok: boolean; detail: Record<string, unknown> } {
    return { ok: !this.#stopped, detail: { node: this.node, stopped: this.#stopped } };
  }

  readyz(): { ok: boolean; detail: Record<string, unknown> } {
    const membership = this.#membership !== undefined;
    return {
      ok: this.#synced && membership && this.#applied !== undefined,
      detail: { synced: this.#synced, membership, configValid: this.#applied !== undefined, alive: this.alive(), l2Quorum: this.#quorate ?? true },
    };
  }

  /**
   * Live speakers: membership's view. Before membership runs, and while it is joining, nodes whose
   * kubelet is Ready count too: a starting speaker must not grab addresses from peers it has not
   * heard from yet (every speaker computes the same owners from the same Ready list).
   */
  alive(): string[] {
    const m = this.#membership;
    if (m && Date.now() >= this.#joinUntil) return m.alive();
    const ready = this.#nodes.list().filter((n) => nodeReady(n)).map((n) => n.metadata?.name ?? '');
    return [...new Set([...ready, ...(m ? m.alive() : []), this.node])].filter(Boolean).sort();
  }

  /** The latest decision (for tests and debugging). */
  get decision(): Decision | undefined {
    return this.#decision;
  }

  get membershipPort(): number | undefined {
    return this.#membership?.boundPort;
  }

  get bgpPort(): number | undefined {
    return this.#engine?.port;
  }

  // ---- the loop ------------------------------------------------------------------------------

  #kick(): void {
    if (this.#scheduled || this.#stopped || !this.#synced) return;
    // One decision per event-loop turn, however many changes arrived in it.
    this.#scheduled = setImmediate(() => {
      this.#scheduled = undefined;
      try {
        this.#reconcile();
      } catch (err) {
        this.#log.error({ err: err instanceof Error ? err.stack : String(err) }, 'reconcile failed');
      }
    });
  }

  #reconcile(): void {
    if (this.#stopped) return;
    const t0 = performance.now();
    if (this.#configDirty) {
      this.#configDirty = false;
      this.#syncConfig();
    }
    this.#syncMembership();
    this.#publishState();
    const config = this.#applied;
    if (!config) return;
    this.decisions++;
    this.metrics.reconciles.inc();
    this.#feedDecider(config);
    const alive = this.alive();
    this.metrics.members.set(alive.length);
    const quorate = this.#checkQuorum(alive, this.#decider.nodeCount);
    this.#decider.setAlive(new Set(alive));
    // A rebuild (start-up, configuration change) goes in steps of ~10 ms: the loop keeps serving
    // membership and sessions. Until it is complete nothing new is applied.
    const r = this.#decider.decide({ budgetMs: DECIDE_STEP_MS });
    if (r.more) this.#kick();
    if (r.building) return;
    const d = r.decision;
    const self = this.#nodes.get(this.node);
    this.metrics.unannounced.set(this.#decider.unannouncedCount());
    this.#decision = d;

    // Layer 2: addresses owned here, on the interfaces that reach their subnet.
    const present = this.#opts.l2.interfaceNames();
    const desired = new Map<string, string[]>();
    const now = Date.now();
    // The owner watch (src/watch): addresses of owners silent on it are taken now, on its word.
    const { fast, owners } = quorate && this.#watch ? this.#fastTakeovers(config, d, alive) : { fast: new Map<string, L2Announcement>(), owners: undefined };
    for (const [ip, ann] of fast) {
      if (d.l2.has(ip)) continue;
      const ifaces = interfacesFor(ip, ann.interfaces, this.#subnets, present);
      if (ifaces.length === 0) continue;
      desired.set(ip, ifaces);
      if (this.#prevDesired.has(ip)) continue;
      const from = owners?.get(ip) as string;
      const since = this.#suspects.get(from);
      this.metrics.failovers.inc({ mode: 'layer2' });
      this.#log.info({ ip, from, fast: true, sinceSilentMs: since === undefined ? undefined : now - since }, 'took over address');
    }
    this.#updateWatch(config, d, alive, fast, owners);
    for (const [ip, ann] of quorate ? d.l2 : []) {
      const ifaces = interfacesFor(ip, ann.interfaces, this.#subnets, present);
      if (ifaces.length === 0) {
        this.#log.debug({ ip }, 'owner of an address but no interface on its subnet here');
        continue;
      }
      desired.set(ip, ifaces);
      const before = r.l2Previous.get(ip);
      // A takeover from a node that went away (not a rebalance after a node came back), unless it
      // was taken already on the owner watch's word.
      if (before !== undefined && before !== this.node && !alive.includes(before) && !this.#prevDesired.has(ip)) {
        const down = this.#downAt.get(before);
        this.metrics.failovers.inc({ mode: 'layer2' });
        if (down !== undefined && now - down < 10_000) this.metrics.failoverSeconds.observe((now - down) / 1000);
        this.#log.info({ ip, from: before, sinceDownMs: down === undefined ? undefined : now - down }, 'took over address');
      }
    }
    this.#opts.l2.set(desired);
    // Interfaces answering for an address are part of its Service's status: rewrite on a change.
    const ifaceKeys = new Map<string, string>();
    for (const [ip, ifaces] of desired) ifaceKeys.set(ip, ifaces.join(','));
    for (const ip of new Set([...ifaceKeys.keys(), ...this.#lastInterfaces.keys()])) {
      if (ifaceKeys.get(ip) === this.#lastInterfaces.get(ip)) continue;
      for (const key of d.l2.get(ip)?.services ?? []) this.#dirtyStatus.add(key);
    }
    this.#lastInterfaces = ifaceKeys;
    this.#prevDesired = new Set(desired.keys());
    this.metrics.announced.set({ mode: 'layer2' }, desired.size);
    let bgpCount = 0;
    for (const r of d.bgp.values()) bgpCount += r.size;
    this.metrics.announced.set({ mode: 'bgp' }, bgpCount);
    this.metrics.reconcileSeconds.observe((performance.now() - t0) / 1000);

    // BGP and BFD (asynchronous, serialised inside the reconciler).
    if (this.#bgp && self) {
      const ctx = { nodeName: this.node, labels: self.metadata?.labels ?? {}, preserveOnShutdown: this.#opts.shutdownMode === 'graceful-restart' } as Parameters<BgpReconciler['apply']>[1];
      const a4 = nodeAddress(self, 'IPv4');
      const a6 = nodeAddress(self, 'IPv6');
      if (a4) ctx.address4 = a4;
      if (a6) ctx.address6 = a6;
      ctx.nextHopFamilies = this.#nextHopFamilies(a4, a6);
      void this.#bgp.apply(config, ctx, d.bgp, r.bgpChanges).then(
        () => this.#writeSessionStates(),
        (err: unknown) => this.#log.warn({ err: String(err) }, 'BGP reconcile failed'),
      );
    }
    // A node without quorum has the stale, minority view: it leaves status to the majority (and
    // looks at every Service once it has quorum again).
    if (quorate) this.#writeAnnouncements(r, alive, desired);
    else {
      this.#statusAll = true;
      this.#statusQueue.clear();
    }
  }

  /**
   * Feeds the decider what changed since the last decision: the configuration (a rebuild), the
   * Nodes marked dirty (facts compared, so a status heartbeat costs nothing), the Services marked
   * dirty by their own or their EndpointSlices' events.
   */
  #feedDecider(config: ParsedConfig): void {
    const dec = this.#decider;
    if (config !== this.#deciderConfig) {
      this.#deciderConfig = config;
      dec.setPolicies(policies(config));
      // Pools decide which advertisements apply: every Service's facts again.
      for (const svc of this.#services.list()) this.#dirtyServices.add(serviceKeyOf(svc));
    }
    const nodeNames = this.#allNodesDirty ? new Set([...this.#nodes.list().map((n) => n.metadata?.name ?? ''), ...this.#dirtyNodes]) : this.#dirtyNodes;
    this.#allNodesDirty = false;
    for (const name of nodeNames) {
      if (name === '') continue;
      const n = this.#nodes.get(name);
      const f = n ? nodeFacts(n, this.#publishedSubnets(name)) : undefined;
      const had = dec.node(name);
      if (!f) {
        if (had) dec.forgetNode(name);
      } else if (!had || JSON.stringify(had) !== JSON.stringify(f)) dec.setNode(f);
    }
    this.#dirtyNodes = new Set();
    for (const key of this.#dirtyServices) {
      const [namespace, name] = splitKey(key);
      const svc = this.#services.get(name, namespace);
      const f = svc ? serviceFacts(svc, [...(this.#slicesOf.get(key)?.values() ?? [])], config, this.#opts.classPolicy) : undefined;
      if (f) dec.setService(f);
      else dec.forgetService(key);
    }
    this.#dirtyServices = new Set();
  }

  /** Keeps the EndpointSlice → Service index and marks the Service (old and new, if relabelled) dirty. */
  #indexSlice(sl: V1EndpointSlice, deleted: boolean): void {
    const sliceKey = `${sl.metadata?.namespace ?? ''}/${sl.metadata?.name ?? ''}`;
    const before = this.#sliceService.get(sliceKey);
    const svcName = sl.metadata?.labels?.[SERVICE_NAME_LABEL];
    const after = !deleted && svcName ? `${sl.metadata?.namespace ?? ''}/${svcName}` : undefined;
    if (before !== undefined && before !== after) {
      const m = this.#slicesOf.get(before);
      m?.delete(sliceKey);
      if (m?.size === 0) this.#slicesOf.delete(before);
      this.#sliceService.delete(sliceKey);
      this.#dirtyServices.add(before);
    }
    if (after !== undefined) {
      let m = this.#slicesOf.get(after);
      if (!m) this.#slicesOf.set(after, (m = new Map()));
      m.set(sliceKey, sl);
      this.#sliceService.set(sliceKey, after);
      this.#dirtyServices.add(after);
    }
  }

  /**
   * The Layer 2 quorum (see quorum.ts): known speakers are the Nodes membership probes (those with
   * an address). Logs and sets the metric on every change.
   */
  #checkQuorum(alive: readonly string[], nodeCount: number): boolean {
    const known = this.#knownSpeakers(nodeCount);
    const enabled = this.#opts.l2Quorum ?? true;
    const quorate = !enabled || hasL2Quorum(alive.length, known);
    this.metrics.l2Quorum.set(quorate ? 1 : 0);
    if (quorate !== this.#quorate) {
      const detail = { alive: alive.length, known, enabled };
      if (!quorate) this.#log.warn(detail, 'Layer 2 quorum lost: fewer than half of the known speakers alive, so this node may be cut off; not answering ARP/NDP until it sees them again');
      else if (this.#quorate === false) this.#log.info(detail, 'Layer 2 quorum regained: announcing over Layer 2 again');
      this.#quorate = quorate;
    }
    return quorate;
  }

  /** Speakers the quorum counts: the Nodes membership probes (those with an address). */
  #knownSpeakers(nodeCount: number): number {
    return this.#nodes.list().filter((n) => (n.metadata?.name ?? '') !== '' && (nodeAddress(n, 'IPv4') ?? nodeAddress(n)) !== undefined).length || nodeCount;
  }

  // ---- owner watch -----------------------------------------------------------------------------

  /**
   * Addresses this node takes over now from owners silent on the owner watch but still listed by
   * membership: what decide() gives this node with those owners left out. Only addresses of the
   * suspected owners are added (nothing else this node holds is dropped on a suspicion), and only
   * while the quorum rule holds with the suspects counted as gone.
   */
  #fastTakeovers(config: ParsedConfig, d: Decision, alive: readonly string[]): { fast: Map<string, L2Announcement>; owners: Map<string, string> | undefined } {
    const out = new Map<string, L2Announcement>();
    for (const n of this.#suspects.keys()) if (!alive.includes(n)) this.#suspects.delete(n);
    if (this.#suspects.size === 0) return { fast: out, owners: undefined };
    const rest = alive.filter((n) => !this.#suspects.has(n));
    if ((this.#opts.l2Quorum ?? true) && !hasL2Quorum(rest.length, this.#knownSpeakers(this.#decider.nodeCount))) return { fast: out, owners: undefined };
    const owners = l2OwnerMap(d);
    const d2 = decide({ ...this.#fullInput(config), alive: new Set(rest) });
    for (const [ip, ann] of d2.l2) {
      const o = owners.get(ip);
      if (o !== undefined && this.#suspects.has(o)) out.set(ip, ann);
    }
    return { fast: out, owners };
  }

  /**
   * The facts decide() takes, read from the caches: only for the owner watch's what-if decisions
   * (who would take what if an owner went away), which the incremental decider does not answer.
   */
  #fullInput(config: ParsedConfig): Omit<DecideInput, 'alive'> {
    const nodes = this.#nodes.list().map((n) => nodeFacts(n, this.#publishedSubnets(n.metadata?.name ?? ''))).filter((n) => n.name !== '');
    const bySvc = slicesByService(this.#slices.list());
    const services: ServiceFacts[] = [];
    for (const svc of this.#services.list()) {
      const f = serviceFacts(svc, bySvc.get(serviceKeyOf(svc)) ?? [], config, this.#opts.classPolicy);
      if (f) services.push(f);
    }
    return { self: this.node, nodes, services, ...policies(config) };
  }


  /**
   * Which owners to watch: those that would hand this node at least one address if they went away
   * (one decide() per owner, recomputed when owners or the live set change). With more than
   * MAX_WATCHED owners, a deterministic sample of them (rendezvous rank by this node's name).
   */
  #updateWatch(config: ParsedConfig, d: Decision, alive: readonly string[], fast: ReadonlyMap<string, L2Announcement>, fastOwners: ReadonlyMap<string, string> | undefined): void {
    const w = this.#watch;
    if (!w) return;
    // The what-if decisions cost a pass over every Service: redone when the live set changes and
    // otherwise at most every WATCH_REFRESH_MS (the watched set may lag a new Service that long;
    // membership still covers it).
    const t = performance.now();
    const aliveKey = alive.join(',');
    const due = aliveKey !== this.#watchAliveKey || t - this.#watchAt >= WATCH_REFRESH_MS;
    if (!due && this.#watchRefresh === undefined) {
      // Skipped for now: a decision when the interval is up, in case this was the last change.
      this.#watchRefresh = setTimeout(() => {
        this.#watchRefresh = undefined;
        this.#kick();
      }, Math.max(1, WATCH_REFRESH_MS - (t - this.#watchAt)));
      this.#watchRefresh.unref();
    }
    if (due) {
      this.#watchAliveKey = aliveKey;
      this.#watchAt = t;
      const owners = fastOwners ?? l2OwnerMap(d);
      const byOwner = new Map<string, string[]>();
      for (const [ip, o] of owners) {
        if (o === this.node || !alive.includes(o)) continue;
        const l = byOwner.get(o);
        if (l) l.push(ip);
        else byOwner.set(o, [ip]);
      }
      const setKey = JSON.stringify([alive, [...byOwner]]);
      if (setKey !== this.#watchSetKey) {
        this.#watchSetKey = setKey;
        const cands = [...byOwner.keys()];
        const sample = cands.length > MAX_WATCHED ? rankCandidates(this.node, cands).slice(0, MAX_WATCHED) : cands;
        const input = sample.length ? this.#fullInput(config) : undefined;
        this.#watched = new Set(
          sample.filter((x) => {
            const d2 = decide({ ...(input as Omit<DecideInput, 'alive'>), alive: new Set(alive.filter((n) => n !== x)) });
            return (byOwner.get(x) ?? []).some((ip) => d2.l2.has(ip));
          }),
        );
        this.metrics.watchedOwners.set(this.#watched.size);
      }
    }
    this.#holding = new Set([...fast.keys()].map((ip) => fastOwners?.get(ip) as string));
    const port = this.#opts.ownerWatch ? this.#opts.ownerWatch.port ?? DEFAULT_WATCH_PORT : DEFAULT_WATCH_PORT;
    const peers: WatchPeer[] = this.#nodes
      .list()
      .map((n) => ({ name: n.metadata?.name ?? '', address: nodeAddress(n, 'IPv4') ?? nodeAddress(n) ?? '' }))
      .filter((p) => p.name !== '' && p.address !== '' && p.name !== this.node)
      .map((p) => ({ ...p, port, watch: this.#watched.has(p.name), holding: this.#holding.has(p.name) }));
    const key = JSON.stringify(peers);
    if (key === this.#watchPeersKey) return;
    this.#watchPeersKey = key;
    w.setPeers(peers);
  }

  async #startWatch(address: string, secrets: Buffer[]): Promise<void> {
    const o = this.#opts.ownerWatch;
    if (o === false) return;
    const s = o ?? {};
    try {
      const w = await OwnerWatch.start({
        self: this.node,
        address,
        port: s.port ?? DEFAULT_WATCH_PORT,
        intervalMs: s.intervalMs ?? DEFAULT_WATCH_INTERVAL_MS,
        multiplier: s.multiplier ?? DEFAULT_WATCH_MULTIPLIER,
        secrets: secrets.map((k) => new Uint8Array(k)),
        nice: s.nice ?? DEFAULT_WATCH_NICE,
        realtimePriority: s.realtimePriority ?? DEFAULT_WATCH_RT_PRIORITY,
      });
      if (this.#stopped) return void (await w.close());
      this.#watch = w;
      this.#watchPeersKey = '';
      this.#watchSetKey = '';
      w.on('error', (err) => this.#log.error({ err: err.message }, 'owner watch failed; failover falls back to membership alone'));
      const p = w.priority;
      for (const k of ['realtime', 'nice', 'inherited'] as const) this.metrics.watchScheduling.set({ scheduling: k }, p.scheduling === k ? 1 : 0);
      if (p.scheduling !== 'realtime') {
        // A heartbeat thread that waits for the CPU behind the node's other work can look dead to its watchers.
        this.#log.warn({ scheduling: p.scheduling, nice: p.nice, refused: p.errors }, 'owner-watch heartbeat thread is not real-time (it needs CAP_SYS_NICE: the chart grants SYS_NICE to the speaker): on a loaded node its heartbeats can be late enough to cause false takeovers; grant the capability or raise --owner-watch-multiplier (docs/troubleshooting.md, "Fast failover: the owner watch")');
      }
      w.on('state', (c) => {
        if (c.gap) this.#log.info({ peer: c.name, ...c.gap }, 'owner heard again on the owner watch after a silence');
        this.#onWatchState(c.name, c.state, c.silentMs, s.holdMs ?? 3000, c.at);
      });
      w.on('reannounce', (from) => {
        // A node that took over our addresses on a false suspicion released them: clients that
        // followed its gratuitous ARP/NA must be told again that the addresses are here.
        this.#log.info({ from }, 'a peer released addresses it had taken from this node; announcing them again');
        this.#opts.l2.reannounce?.();
      });
      this.#log.info({ port: w.boundPort, detectMs: w.detectMs, scheduling: p.scheduling, realtimePriority: p.realtimePriority, nice: p.nice }, 'owner watch running');
    } catch (err) {
      this.#log.warn({ err: err instanceof Error ? err.message : String(err) }, 'owner watch not started; failover falls back to membership alone');
    }
  }

  #onWatchState(name: string, state: 'up' | 'down', silentMs: number, holdMs: number, at?: number): void {
    if (this.#stopped) return;
    if (state === 'up') {
      this.#watchHeard.add(name);
      this.#refuted.delete(name);
      if (this.#suspects.delete(name)) {
        this.#log.info({ peer: name }, 'owner heard again on the owner watch; releasing the addresses taken from it');
        this.#kick();
      }
      return;
    }
    // Only an owner heard on the watch since it (re)joined can fall silent on it: one back from the
    // dead is silent until its heartbeats reach us again, which is no news of a death.
    if (!this.#watchHeard.has(name) || this.#refuted.has(name) || !this.#membership?.alive().includes(name)) return;
    const since = Date.now();
    this.#suspects.set(name, since);
    this.metrics.fastTakeovers.inc({ result: 'suspected' });
    // queuedMs: from the watch's decision to here (this main thread's lateness on a loaded node).
    this.#log.info({ peer: name, silentMs, queuedMs: at === undefined ? undefined : since - at }, 'owner silent on the owner watch: suspected; taking the addresses that fall to this node (quorum permitting) before membership confirms');
    setTimeout(() => {
      if (this.#suspects.get(name) !== since || this.#stopped) return;
      this.#suspects.delete(name);
      if (this.#membership?.alive().includes(name)) {
        // Membership still hears it (directly or through others): this node is cut off from it only.
        this.#refuted.add(name);
        this.metrics.fastTakeovers.inc({ result: 'refuted' });
        this.#log.warn({ peer: name, holdMs }, 'membership did not confirm the owner\'s loss: releasing its addresses; not taking them fast again until its heartbeats are heard');
      } else this.metrics.fastTakeovers.inc({ result: 'confirmed' });
      this.#kick();
    }, holdMs).unref();
    this.#kick();
  }

  // ---- configuration ---------------------------------------------------------------------------

  #syncConfig(): void {
    const objects = this.#config.objects();
    // Invalid objects are isolated as in the controller: the accepted set always applies, and a
    // bad edit keeps the object's last accepted version (Events on the objects: the controller's).
    const { config, errors, rejected, kept, accepted } = validateConfig(objects, this.#secrets.list(), { previous: this.#accepted, readableSecrets: this.#opts.bgpPasswordSecrets ?? [] });
    this.#accepted = accepted;
    this.metrics.configValid.set(errors.length ? 0 : 1);
    this.metrics.configRejectedObjects.set(rejected.length);
    if (errors.length) this.#log.warn({ rejected, kept, errors: errors.slice(0, 20).map(formatConfigError) }, `${rejected.length} object(s) rejected and skipped; the rest is applied`);
    this.#lastValidTime = new Date().toISOString();
    const key = JSON.stringify(config, (_k, v: unknown) => (v instanceof Map ? [...v] : v instanceof Set ? [...v] : typeof v === 'bigint' ? v.toString() : v));
    if (key !== this.#configKey) {
      this.#configKey = key;
      this.#applied = config;
      this.#log.info({ pools: config.pools.size, l2: config.l2Advertisements.length, peers: config.bgpPeers.size, bgp: config.bgpAdvertisements.length, rejected: rejected.length }, 'configuration applied');
    }
    this.#reportConfig(errors, rejected, kept);
  }

  #reportConfig(errors: ConfigError[], rejected: string[], kept: string[]): void {
    const valid = errors.length === 0;
    const message = configMessage(errors, rejected, kept);
    const st = configStatus(
      this.node,
      valid,
      message,
      errors.map((e) => ({ kind: e.kind, name: e.name, field: e.field.slice(0, 1024), value: describeValue(e.value).slice(0, 1024), message: e.message.slice(0, 4096) })),
      this.#lastValidTime,
    );
    const name = configStateName(this.node);
    const ns = this.#opts.namespace;
    const changed = JSON.stringify(st) !== JSON.stringify(this.#configReport);
    this.#configReport = st;
    if (!changed) return;
    this.#configAfter = async (uid) => {
      const ref = { apiVersion: API_VERSION, kind: 'ConfigurationState', name, namespace: ns, ...(uid ? { uid } : {}) };
      if (valid) await this.#events.record(ref, 'Normal', 'ConfigurationAccepted', message);
      else await this.#events.record(ref, 'Warning', 'InvalidConfiguration', message.slice(0, 1024));
    };
  }

  // ---- membership ------------------------------------------------------------------------------

  /** The membership keys from the Secret (watched: a change rotates keys in place); logs a new problem once. */
  #membershipKeys(): Buffer[] | undefined {
    const ref = `${this.#opts.namespace}/${this.#opts.membership.secretName}`;
    const r = membershipKeys(this.#secrets.get(this.#opts.membership.secretName)?.data, ref);
    if (r.ok) {
      this.#keysError = '';
      return r.keys;
    }
    if (r.error !== this.#keysError) {
      this.#keysError = r.error;
      this.#log.warn(
        { node: this.node, secret: ref, running: this.#membership !== undefined },
        this.#membership ? `${r.error}; membership keeps the keys it has` : `${r.error}; membership cannot start, announcing nothing over Layer 2 until then`,
      );
    }
    return undefined;
  }

  #syncMembership(): void {
    const self = this.#nodes.get(this.node);
    const address = self && nodeAddress(self, 'IPv4') ? nodeAddress(self, 'IPv4') : self && nodeAddress(self);
    const secrets = this.#membershipKeys();
    if (!address || !secrets) {
      if (!address && !this.#membership && !this.#membershipStarting) {
        this.#log.warn({ node: this.node }, 'membership cannot start: this Node has no InternalIP yet; announcing nothing over Layer 2 until then');
      }
      return;
    }
    const key = address;
    const peers = this.#nodes
      .list()
      .map((n) => ({ name: n.metadata?.name ?? '', address: nodeAddress(n, 'IPv4') ?? nodeAddress(n) ?? '', port: this.#opts.membership.port ?? MEMBERSHIP_PORT }))
      .filter((p) => p.name !== '' && p.address !== '');
    if (this.#membership && key === this.#membershipKey) {
      try {
        // A key rotation (the Secret changed): in place, no restart, so no member drops out.
        this.#membership.setKeys(secrets);
        this.#watch?.setKeys(secrets);
      } catch (err) {
        this.#log.warn({ err: err instanceof Error ? err.message : String(err) }, 'membership keys not changed');
      }
      this.#membership.setPeers(peers);
      return;
    }
    if (this.#membershipStarting) return;
    const old = this.#membership;
    this.#membershipKey = key;
    this.#membershipStarting = (async () => {
      if (old) {
        // A new address: start over on it.
        this.#log.info('this node\'s address changed; restarting membership');
        await old.leave();
        await old.close();
        this.#membership = undefined;
        await this.#watch?.close();
        this.#watch = undefined;
        for (const m of this.metrics.registry.getMetricsAsArray()) if (m.name.startsWith('ironlb_membership_')) this.metrics.registry.removeSingleMetric(m.name);
      }
      const m = new Membership({
        name: this.node,
        address,
        port: this.#opts.membership.port ?? MEMBERSHIP_PORT,
        secrets,
        registry: this.metrics.registry,
        // Direct word of a death or leave goes to the nodes taking over its addresses (gossip to the rest).
        mustHear: (member) => takeoverCandidates(this.#decision, member, this.alive()),
        ...(this.#opts.membership.timing ? { timing: this.#opts.membership.timing } : {}),
      });
      m.on('change', () => this.#kick());
      m.on('memberDown', (name) => {
        this.#downAt.set(name, Date.now());
        this.#watchHeard.delete(name);
        this.#kick();
      });
      m.on('declaredDead', (by) => {
        // Declared dead while alive (a stall, a one-way loss): others may have taken this node's
        // addresses and moved clients with their gratuitous ARP/NA, and nothing changes in this node's
        // own decision when they give them back. So tell the clients again; the burst's later packets
        // follow the taker's release (a release cancels the taker's own burst). The claim is gossiped
        // for a while: one new burst per second at most.
        const now = Date.now();
        if (this.#stopped || now - this.#declaredDeadAt < 1000) return;
        this.#declaredDeadAt = now;
        this.#log.info({ by }, 'this node was declared dead by others, who may have taken over its addresses; announcing them again');
        this.#opts.l2.reannounce?.();
      });
      await m.start();
      if (this.#stopped) {
        await m.close();
        return;
      }
      this.#membership = m;
      m.setPeers(peers);
      await this.#startWatch(address, secrets);
      const joinMs = this.#opts.membership.joinMs ?? 1000;
      this.#joinUntil = Date.now() + joinMs;
      clearTimeout(this.#joinTimer);
      this.#joinTimer = setTimeout(() => this.#kick(), joinMs + 1);
      this.#joinTimer.unref();
      this.#log.info({ address, port: m.boundPort, peers: peers.length }, 'membership running');
    })()
      .catch((err: unknown) => {
        this.#membershipKey = '';
        this.#log.error({ err: err instanceof Error ? err.message : String(err) }, 'cannot start membership; retrying on the next change');
      })
      .finally(() => {
        this.#membershipStarting = undefined;
        this.#kick();
      });
  }

  // ---- local interfaces -------------------------------------------------------------------------

  /** Families this node has a next hop for: an InternalIP, or a global address on an interface (read at the interface scan). */
  #nextHopFamilies(a4: string | undefined, a6: string | undefined): Set<Family> {
    const out = new Set<Family>(this.#globalFamilies);
    if (a4) out.add('IPv4');
    if (a6) out.add('IPv6');
    return out;
  }

  #scanInterfaces(): void {
    const fams = globalFamilies(networkInterfaces());
    if ([...fams].join() !== [...this.#globalFamilies].join()) {
      this.#globalFamilies = fams;
      this.#kick();
    }
    const next = this.#opts.layer2Disabled ? [] : localSubnets(networkInterfaces(), this.#opts.interfaces ?? {});
    if (JSON.stringify(next) === JSON.stringify(this.#subnets)) return;
    this.#subnets = next;
    this.#log.info({ subnets: next }, 'local Layer 2 subnets');
    this.#kick();
  }

  /**
   * Writes this speaker's ConfigurationState: its view of the configuration and this node's Layer 2
   * subnets (status.l2Subnets), so every speaker elects L2 owners on the right segment. Speakers
   * publish there, not on their Node: they need no write access to Nodes.
   */
  #publishState(): void {
    const report = this.#configReport;
    if (!report) return;
    const l2Subnets = [...new Set(this.#subnets.map((s) => s.cidr))].sort().slice(0, 256);
    const after = this.#configAfter;
    this.#configAfter = undefined;
    this.#status.set('ConfigurationState', this.#opts.namespace, configStateName(this.node), { ...report, l2Subnets } as unknown as Record<string, unknown>, after);
  }

  /**
   * A node's Layer 2 subnets as its speaker published them, or undefined when it has not (no
   * ConfigurationState with l2Subnets yet): then nodeFacts falls back to the Node annotation an
   * older speaker wrote, which keeps mixed versions electing the same owners during an upgrade.
   */
  #publishedSubnets(node: string): readonly string[] | undefined {
    const st = this.#states.get(configStateName(node), this.#opts.namespace) as ConfigurationState | undefined;
    const subnets = st?.status?.l2Subnets;
    return Array.isArray(subnets) ? subnets : undefined;
  }

  // ---- status --------------------------------------------------------------------------------

  /**
   * ServiceAnnouncements of the Services whose view changed (and those another speaker rewrote),
   * for the ones this node writes; this node's NodeAnnouncement. All Services after a rebuild or
   * when the first live node (the writer of unannounced Services and the cleaner of stale objects)
   * changed.
   */
  #writeAnnouncements(r: IncrementalResult, alive: string[], desired: Map<string, string[]>): void {
    const d = r.decision;
    const firstAlive = [...alive].sort()[0];
    const firstChanged = firstAlive !== this.#firstAlive;
    this.#firstAlive = firstAlive;
    const every = (r.fullL2 && r.bgpChanges === 'all') || this.#statusAll;
    this.#statusAll = false;
    const dirty = this.#dirtyStatus;
    this.#dirtyStatus = new Set();
    const queue = this.#statusQueue;
    for (const key of every || firstChanged ? d.services.keys() : changedKeys(r, [])) queue.add(key);
    for (const key of dirty) queue.add(key);
    this.#statusCtx = { d, firstAlive, desired };
    this.#writeNodeAnnouncements(alive, firstAlive, every || firstChanged);
    // ServiceAnnouncements of Services gone (or no longer ours): after a rebuild or a new first
    // live node, that node looks at all of them (a list: speakers watch only their own); otherwise
    // gone Services came as changes above.
    if ((every || firstChanged) && firstAlive === this.node) void this.#sweepAnnouncements(d);
    if (!this.#statusTimer) this.#drainStatus();
  }

  /**
   * This node's NodeAnnouncement (what it announces over BGP, to which peers); the first live node
   * removes those of nodes gone (the ones that left since the last pass, or after a rebuild or a
   * new first live node, every one listed whose node is not alive).
   */
  #writeNodeAnnouncements(alive: readonly string[], firstAlive: string | undefined, sweep: boolean): void {
    const ns = this.#opts.namespace;
    const aliveSet = new Set(alive);
    const self = this.#decider.node(this.node);
    if (self && aliveSet.has(this.node) && this.#deciderConfig) {
      const pol = policies(this.#deciderConfig);
      const st = nodeAnnouncementStatus(self, pol.bgp, pol.peers);
      const name = nodeAnnouncementName(this.node);
      const cached = this.#ownNodeAnnouncement.get(name, ns) as { status?: Record<string, unknown>; metadata?: { resourceVersion?: string } } | undefined;
      if (cached?.status && !this.#status.known('NodeAnnouncement', ns, name) && sameStatus(cached.status, st)) {
        this.#status.adopt('NodeAnnouncement', ns, name, st as unknown as Record<string, unknown>, undefined, cached.metadata?.resourceVersion);
      }
      this.#status.set('NodeAnnouncement', ns, name, st as unknown as Record<string, unknown>);
    }
    if (firstAlive === this.node) {
      for (const n of this.#prevAlive) if (!aliveSet.has(n)) this.#removeNodeAnnouncement(n);
      if (sweep) {
        void this.#opts.clients.custom
          .listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: KINDS.NodeAnnouncement.plural })
          .then((list) => {
            for (const o of (list as KubernetesListObject<KubernetesObject & { status?: { node?: string } }>).items) {
              const node = o.status?.node;
              if (node !== undefined && !this.alive().includes(node)) this.#removeNodeAnnouncement(node);
            }
          })
          .catch((err: unknown) => this.#log.warn({ err: String(err) }, 'cannot list NodeAnnouncements to remove those of lost nodes; will again when the first live node changes'));
      }
    }
    this.#prevAlive = aliveSet;
  }

  #removeNodeAnnouncement(node: string): void {
    const ns = this.#opts.namespace;
    const name = nodeAnnouncementName(node);
    // A node may go and come back more than once: each removal is a write, not deduplicated.
    this.#status.forget('NodeAnnouncement', ns, name);
    this.#status.set('NodeAnnouncement', ns, name, undefined);
  }

  /** The first live node removes ServiceAnnouncements whose Service is gone (or no longer ours). */
  async #sweepAnnouncements(d: Decision): Promise<void> {
    try {
      const list = (await this.#opts.clients.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: KINDS.ServiceAnnouncement.plural })) as KubernetesListObject<KubernetesObject>;
      for (const o of list.items) {
        const key = serviceKeyOf(o);
        if (d.services.has(key) || this.#decider.service(key)) continue;
        const [namespace, name] = splitKey(key);
        this.#lastNodes.delete(key);
        this.#status.forget('ServiceAnnouncement', namespace, name);
        this.#status.set('ServiceAnnouncement', namespace, name, undefined);
      }
    } catch (err) {
      this.#log.warn({ err: String(err) }, 'cannot list ServiceAnnouncements to remove those of gone Services; will again when the first live node changes');
    }
  }

  /**
   * Computes the queued Services' ServiceAnnouncements from the latest decision, for ~5 ms per
   * event-loop turn: after a rebuild or a node loss that is tens of thousands of Services, which
   * must not hold the loop (membership and sessions share it).
   */
  #drainStatus(): void {
    this.#statusTimer = undefined;
    const ctx = this.#statusCtx;
    if (!ctx || this.#stopped) return;
    const { d, firstAlive, desired } = ctx;
    const pol = this.#deciderConfig ? policies(this.#deciderConfig) : { l2: [], bgp: [], peers: [] };
    const decider = this.#decider;
    const nodeMap = { get: (name: string) => decider.node(name) } as ReadonlyMap<string, NodeFacts>;
    const writerOf = firstAlive === undefined ? [] : [firstAlive];
    const labels = { [WRITER_LABEL]: writerLabelValue(this.node) };
    const until = performance.now() + STATUS_STEP_MS;
    let n = 0;
    for (const key of this.#statusQueue) {
      if (++n % 64 === 0 && performance.now() > until) {
        this.#statusTimer = setImmediate(() => this.#drainStatus());
        return;
      }
      this.#statusQueue.delete(key);
      const svc = decider.service(key);
      const [namespace, name] = splitKey(key);
      if (!svc) {
        // Gone (or no longer ours): its writer removes its ServiceAnnouncement (the writer is alive:
        // a lost writer's Services have a new one; the first live node sweeps after a rebuild).
        if (this.#announcements.get(name, namespace) || this.#status.known('ServiceAnnouncement', namespace, name)) {
          this.#lastNodes.delete(key);
          this.#status.set('ServiceAnnouncement', namespace, name, undefined);
        }
        continue;
      }
      const view = d.services.get(svc.key);
      if (!view || statusWriter(view, writerOf, svc.key) !== this.node) continue;
      const st = announcementStatus(svc, view, { self: this.node, selfInterfaces: (ip) => desired.get(ip) ?? [], nodes: nodeMap, bgp: pol.bgp, peers: pol.peers });
      const cached = this.#announcements.get(name, namespace) as ServiceAnnouncement | undefined;
      const now = announcementSummary(st);
      const svcObj = this.#services.get(name, namespace);
      if (cached && !this.#status.known('ServiceAnnouncement', namespace, name) && sameStatus(cached.status, st)) {
        // Ours from before a restart, and still right: not written again.
        this.#status.adopt('ServiceAnnouncement', namespace, name, st as unknown as Record<string, unknown>, labels, cached.metadata.resourceVersion);
        this.#lastNodes.set(svc.key, now);
      }
      // Another speaker may have written it last: the writer then writes ours again.
      this.#status.seen('ServiceAnnouncement', namespace, name, cached, st);
      const bgpNodes = view.bgpNodes;
      this.#status.set(
        'ServiceAnnouncement',
        namespace,
        name,
        st as unknown as Record<string, unknown>,
        async (_uid, previous) => {
          // What the object said before this write (another node may have written it): the Event
          // says what changed for the Service, whoever wrote it last.
          const was = previous !== undefined ? announcementSummary(previous as ServiceAnnouncementStatus) : (this.#lastNodes.get(svc.key) ?? '');
          this.#lastNodes.set(svc.key, now);
          if (was === now) return;
          const ref = { apiVersion: 'v1', kind: 'Service', name, namespace, ...(svcObj?.metadata?.uid ? { uid: svcObj.metadata.uid } : {}) };
          if (!isAnnounced(st)) await this.#events.record(ref, 'Warning', 'NotAnnounced', `not announced: ${st.message ?? 'no eligible node'}${was ? ` (was ${was})` : ''}`);
          else await this.#events.record(ref, 'Normal', 'AnnouncingNodesChanged', `announced: ${describeAnnouncement(st, bgpNodes)}${was ? ` (was ${was})` : ''}`.slice(0, 1024));
        },
        labels,
      );
    }
  }

  /**
   * One of our ServiceAnnouncements left our selection: deleted, or written by another speaker.
   * Another speaker of this version (a transition, one view stale): correct it if we are still its
   * writer. A speaker of an earlier version (no writer label; its writer rule differs for BGP):
   * leave it for OLD_WRITER_BACKOFF_MS rather than rewrite it back and forth during an upgrade.
   */
  async #leftSelection(a: KubernetesObject): Promise<void> {
    const namespace = a.metadata?.namespace ?? '';
    const name = a.metadata?.name ?? '';
    const key = serviceKeyOf(a);
    // No longer ours by our own latest decision (its owner moved): the new writer took it.
    const ctx = this.#statusCtx;
    const view = ctx?.d.services.get(key);
    if (view && statusWriter(view, ctx?.firstAlive === undefined ? [] : [ctx.firstAlive], key) !== this.node) {
      this.#status.forget('ServiceAnnouncement', namespace, name);
      return;
    }
    let labels: Record<string, string> | undefined;
    try {
      const cur = (await this.#opts.clients.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: KINDS.ServiceAnnouncement.plural, name })) as KubernetesObject;
      labels = cur.metadata?.labels ?? {};
    } catch (err) {
      if (!isNotFound(err)) this.#log.debug({ object: key, err: String(err) }, 'cannot read a ServiceAnnouncement that left our selection');
    }
    if (this.#stopped) return;
    if (labels && labels[WRITER_LABEL] === undefined) {
      if (!this.#oldWriter.size) this.#log.info({ object: key }, 'a speaker of an earlier version wrote a ServiceAnnouncement; left to it for now (upgrade in progress?)');
      this.#oldWriter.set(key, Date.now());
      clearTimeout(this.#oldWriterTimer);
      this.#oldWriterTimer = setTimeout(() => this.#retryOldWriter(), OLD_WRITER_BACKOFF_MS).unref();
      return;
    }
    this.#log.debug({ object: key, writer: labels?.[WRITER_LABEL] ?? '(deleted)' }, 'another speaker wrote a ServiceAnnouncement this node writes; writing ours again');
    this.#status.forget('ServiceAnnouncement', namespace, name);
    this.#dirtyStatus.add(key);
    this.#kick();
  }

  #retryOldWriter(): void {
    const now = Date.now();
    for (const [key, since] of this.#oldWriter) {
      if (now - since < OLD_WRITER_BACKOFF_MS) continue;
      this.#oldWriter.delete(key);
      const [namespace, name] = splitKey(key);
      this.#status.forget('ServiceAnnouncement', namespace, name);
      this.#dirtyStatus.add(key);
    }
    if (this.#oldWriter.size) this.#oldWriterTimer = setTimeout(() => this.#retryOldWriter(), OLD_WRITER_BACKOFF_MS).unref();
    this.#kick();
  }

  #writeSessionStates(): void {
    const bgp = this.#bgp;
    if (!bgp || !this.#engine || this.#stopped) return;
    const ns = this.#opts.namespace;
    const peers = new Set(bgp.peers);
    const states: Record<string, number> = { Idle: 0, Connect: 0, Active: 0, OpenSent: 0, OpenConfirm: 0, Established: 0 };
    this.metrics.sessionUp.reset();
    for (const p of this.#engine.peers()) {
      if (!peers.has(p.name)) continue;
      states[p.state] = (states[p.state] ?? 0) + 1;
      this.metrics.sessionUp.set({ peer: p.name }, p.state === 'Established' ? 1 : 0);
      const seen = this.#peerSeen.get(p.name) ?? { state: p.state, since: new Date().toISOString() };
      this.#peerSeen.set(p.name, seen);
      const bfd = bgp.bfdManager?.state(p.name);
      const st = sessionStatus(this.node, p.name, {
        peerAddress: p.peerAddress,
        state: p.state,
        ...(bfd ? { bfdState: bfd } : {}),
        advertised: p.routesAdvertised,
        // Established, but a family's routes cannot go (e.g. IPv4 to an unnumbered peer without RFC 8950): say so.
        ...(p.notSent?.length ? { lastError: `routes not sent: ${p.notSent.join('; ')}` } : p.lastError ?? seen.lastError ? { lastError: (p.lastError ?? seen.lastError) as string } : {}),
        since: seen.since,
      });
      this.#status.set('BGPSessionState', ns, sessionStateName(this.node, p.name), st as unknown as Record<string, unknown>);
    }
    // Peers this node should have but cannot run (e.g. neither ASN set): say why, where users look.
    const config = this.#applied;
    for (const pr of bgp.problems) {
      const peerAddress = config?.bgpPeers.get(pr.peer)?.peerAddress ?? '';
      peers.add(pr.peer);
      const seen = this.#peerSeen.get(pr.peer) ?? { state: 'Idle' as const, since: new Date().toISOString() };
      this.#peerSeen.set(pr.peer, seen);
      states.Idle = (states.Idle ?? 0) + 1;
      this.#status.set('BGPSessionState', ns, sessionStateName(this.node, pr.peer), sessionStatus(this.node, pr.peer, { peerAddress, state: 'Idle', advertised: 0, lastError: pr.message, since: seen.since }) as unknown as Record<string, unknown>);
    }
    for (const [state, n] of Object.entries(states)) this.metrics.sessions.set({ state }, n);
    for (const name of [...this.#peerSeen.keys()]) {
      if (peers.has(name)) continue;
      this.#peerSeen.delete(name);
      this.#status.set('BGPSessionState', ns, sessionStateName(this.node, name), undefined);
    }
  }

  /** Resolves when status writes queued so far are done (tests). */
  statusIdle(): Promise<void> {
    return this.#status.idle();
  }
}

/** Families with a usable next hop on some interface: IPv4, or IPv6 other than link-local. */
function globalFamilies(ifs: ReturnType<typeof networkInterfaces>): Set<Family> {
  const out = new Set<Family>();
  for (const list of Object.values(ifs)) {
    for (const a of list ?? []) {
      if (a.internal) continue;
      if (a.family === 'IPv4') out.add('IPv4');
      else if (!/^fe[89ab]/i.test(a.address)) out.add('IPv6');
    }
  }
  return new Set([...out].sort());
}

/** Services whose view changed in a decision, those in changed shared BGP node lists, and `extra`. */
function* changedKeys(r: IncrementalResult, extra: Iterable<string>): Generator<string> {
  yield* r.changed;
  yield* extra;
  for (const shared of r.sharedChanged) yield* shared;
}

/** Address → its Layer 2 owner in a decision. */
function l2OwnerMap(d: Decision): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of d.services.values()) for (const [ip, o] of Object.entries(v.l2Owners)) out.set(ip, o);
  return out;
}

/** "10.0.0.1 from n1 on eth0; BGP (advertisements a) from 999 nodes", for an Event. */
function describeAnnouncement(st: ServiceAnnouncementStatus, bgpNodes: readonly string[]): string {
  const parts = (st.announcements ?? []).filter((a) => a.mode === 'layer2').map((a) => `${a.address} from ${a.node}${a.interfaces?.length ? ` on ${a.interfaces.join(',')}` : ''}`);
  if (st.bgp) {
    const ads = `advertisement${st.bgp.advertisements?.length === 1 ? '' : 's'} ${(st.bgp.advertisements ?? []).join(',')}`;
    parts.push(st.bgp.externalTrafficPolicy === 'Local' ? `BGP (${ads}) from ${bgpNodes.slice(0, 8).join(',')}${bgpNodes.length > 8 ? ` and ${bgpNodes.length - 8} more` : ''}` : `BGP (${ads}) from ${bgpNodes.length} node${bgpNodes.length === 1 ? '' : 's'}`);
  }
  return parts.join('; ');
}

function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}
