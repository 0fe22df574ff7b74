// The controller: watches Services, Namespaces, ironlb's configuration and the Secrets of its
// namespace; while leader, allocates addresses with the pure allocator and writes the result
// (one status patch per Service: status.loadBalancer.ingress and the condition naming the pool;
// Events, IPPool status, ConfigurationState).
//
// Decisions are made one Service at a time on one queue (deterministic); the API writes of a
// batch of distinct Services then run concurrently.
//
// An address a Service holds is released only for a reason that concerns it (docs/reference.md,
// "When an address is released"): the Service is deleted, is no longer a LoadBalancer, is of
// another class, asks for something else, or its address is now refused by a pool that exists
// and is valid. Missing configuration is never such a reason: while no valid pool covers or
// excludes a held address (no pool yet at start-up, its pool deleted or invalid) the Service keeps
// it, and no other Service can be given it (the allocator hands out pool addresses only).
import { hostname } from 'node:os';
import { PatchStrategy, setHeaderOptions, type KubernetesObject, type V1Namespace, type V1Secret, type V1Service } from '@kubernetes/client-node';
import { Allocator, canonicalAddress, type AssignResult, type Refusal } from '../ipam/index.ts';
import {
  API_VERSION,
  CONDITION_ALLOCATED,
  CONDITION_ALLOCATED_REASON,
  DEFAULT_LOAD_BALANCER_CLASS,
  GROUP,
  KINDS,
  VERSION,
  formatConfigError,
  isOurs,
  validateConfig,
  CONFIG_KINDS,
  configMessage,
  objectEvents,
  objectKey,
  type ConfigError,
  type ConfigKindName,
  type ConfigurationStateStatus,
  type IPPool,
  type IPPoolStatus,
  type ParsedConfig,
} from '../api/index.ts';
import { describeValue } from '../api/schema-dsl.ts';
import { quote } from '../util/text.ts';
import { EventRecorder, Informer, LeaderElector, jsonListPage, errorText, isNotFound, isConflict, retryOnConflict, type Clients, type InformerEvent } from '../k8s/index.ts';
import { logger } from '../util/log.ts';
import { NamedSecrets } from '../k8s/secrets.ts';
import { ConfigWatch } from '../k8s/config-watch.ts';
import { createMetrics, type ControllerMetrics } from './metrics.ts';
import { namespaceView, serviceView } from './cache-view.ts';
import { AllocationEvents, type AllocationEventsOptions } from './allocation-events.ts';
import { allocatedCondition, ingressIPs, originPool, poolSpecs, serviceKey, sortForStartupInSlices, toAllocatorRequest, type Service } from './requests.ts';
import { Slicer } from '../util/slices.ts';

export const COMPONENT = 'ironlb-controller';

/** Refusals that depend only on the request and the configuration, never on other Services. */
const NEVER_FIXED_BY_A_RELEASE: ReadonlySet<string> = new Set(['InvalidRequest', 'UnknownPool', 'PoolNotAllowed', 'NotInAnyPool', 'AddressesInDifferentPools', 'NotInRequestedPool', 'BuggyAddress', 'FamilyMismatch', 'RequestMismatch']);
/** Refusals about a requested address another Service holds: only its release can change them. */
const ADDRESS_WANTED: ReadonlySet<string> = new Set(['AddressInUse', 'SharingKeyMismatch', 'BackendKeyMismatch', 'PortConflict']);

export const CONFIG_STATE_NAME = 'controller';

/**
 * Default client-side rate limit of the controller's API calls (--kube-api-qps, --kube-api-burst):
 * about one call per Service in a burst (its status patch; Events are summarised, see
 * allocation-events.ts), so room for twice issue 13's target of 500 Services per second; a safety
 * net against a retry storm, above what one API server on 2 cores takes (docs/performance.md).
 */
export const CONTROLLER_RATE_LIMIT = { qps: 1000, burst: 2000 } as const;

export interface ControllerOptions {
  clients: Clients;
  /** Namespace of ironlb's configuration objects, Secrets, Lease and ConfigurationState. */
  namespace: string;
  /** Our loadBalancerClass; default ironlb.io/ironlb. */
  loadBalancerClass?: string;
  /** Whether Services without a loadBalancerClass are ours; default true. */
  handleServicesWithoutClass?: boolean;
  /** Identity in the Lease and in Events; default hostname + pid. */
  identity?: string;
  /** Leader election on a Lease, or false to lead at once (a single replica). Default enabled. */
  leaderElection?: false | { leaseName?: string; leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  metrics?: ControllerMetrics;
  /** Coalesces IPPool status writes. Default 250 ms. */
  poolStatusDelayMs?: number;
  /** Services whose API writes may be in flight at once. Default 64. */
  concurrency?: number;
  /** The only Secrets (in `namespace`) read: those BGPPeers may name as passwordSecret, each watched by name. */
  bgpPasswordSecrets?: readonly string[];
  /** Own IPAllocated Events before a burst is summarised per pool (allocation-events.ts). */
  allocationEvents?: Pick<AllocationEventsOptions, 'burst' | 'perSecond' | 'summaryDelayMs'>;
}


interface Desired {
  /** The ingress addresses; undefined leaves them as they are (a Service of another class). */
  ips: string[] | undefined;
  /** The pool they come from; undefined: the Service holds no address of ours. */
  pool: string | undefined;
}

/** An Event to write; `first` marks a first assignment, which a burst may summarise per pool. */
type EventSpec = [type: 'Normal' | 'Warning', reason: string, message: string, first?: { pool: string; addresses: string[] }];

/** JSON with object keys sorted: the API server returns custom objects' fields in its own order. */
function stableJson(v: unknown): string {
  const norm = (x: unknown, depth: number): unknown => {
    if (depth > 8 || x === null || typeof x !== 'object') return x;
    if (Array.isArray(x)) return x.map((y) => norm(y, depth + 1));
    return Object.fromEntries(
      Object.keys(x)
        .sort()
        .map((k) => [k, norm((x as Record<string, unknown>)[k], depth + 1)]),
    );
  };
  return JSON.stringify(norm(v, 0));
}

/**
 * The status patch that brings the cached Service to `want`, only for what differs: the ingress
 * list (replaced whole) and our condition (merged by type, other conditions untouched); undefined
 * when nothing differs.
 */
function statusPatch(cached: V1Service, want: Desired): Record<string, unknown> | undefined {
  const status: Record<string, unknown> = {};
  if (want.ips !== undefined) {
    const ing = cached.status?.loadBalancer?.ingress ?? [];
    // ipMode is written but not compared: API servers without the field drop it, and comparing
    // it would then rewrite the status forever.
    const same = ing.length === want.ips.length && ing.every((i, n) => i.ip === want.ips?.[n] && !i.hostname);
    if (!same) status.loadBalancer = { ingress: want.ips.map((ip) => ({ ip, ipMode: 'VIP' })) };
  }
  const cond = allocatedCondition(cached);
  // The annotation of older versions counts as the record while no condition exists (upgrades
  // write nothing); releasing writes the condition False, which then hides the annotation.
  if (originPool(cached) !== want.pool || (want.pool === undefined && cond?.status === 'True')) {
    const st = want.pool === undefined ? 'False' : 'True';
    status.conditions = [
      {
        type: CONDITION_ALLOCATED,
        status: st,
        reason: want.pool === undefined ? 'Released' : CONDITION_ALLOCATED_REASON,
        message: want.pool ?? 'no address of ironlb is allocated',
        lastTransitionTime: cond?.status === st && cond.lastTransitionTime ? new Date(cond.lastTransitionTime).toISOString() : new Date().toISOString(),
      },
    ];
  }
  return Object.keys(status).length === 0 ? undefined : status;
}

export class Controller {
  readonly metrics: ControllerMetrics;
  readonly identity: string;
  #opts: ControllerOptions;
  #log;
  #services: Informer<V1Service>;
  #namespaces: Informer<V1Namespace>;
  #secrets: NamedSecrets;
  #config: ConfigWatch;
  #events: EventRecorder;
  #allocEvents: AllocationEvents;
  #elector: LeaderElector | undefined;

  #allocator: Allocator | undefined;
  #applied: ParsedConfig | undefined;
  #appliedKey = '';
  /** The raw objects of the applied configuration: the fallback for a version rejected later. */
  #accepted: unknown[] = [];
  #lastConfigState = '';
  #lastValidTime: string | undefined;
  #leading = false;
  #startupDone = false;
  #synced = false;
  #stopped = true;

  #queue = new Set<string>();
  /**
   * Services with events while leading but before the start-up's queue is filled (the lists it
   * orders are snapshots, taken with turns of the event loop in between): queued after them.
   */
  #early = new Set<string>();
  #configDirty = false;
  #pumping: Promise<void> | undefined;
  #retryTimers = new Map<string, NodeJS.Timeout>();
  /**
   * Services whose last allocation failed for want of an address, with the addresses they asked
   * for ('any' when they asked for none): retried when one of those (or any address) is released.
   * Refusals a release cannot change (an invalid request, an unknown pool...) are not kept here:
   * the Service's own edits and configuration changes decide those again. With hostile Services
   * waiting, retrying every one of them on every release cost a decision and an Event write each.
   */
  #pending = new Map<string, ReadonlySet<string> | 'any'>();
  #retryDelay = new Map<string, number>();
  /** Addresses a configuration change took from a Service, for the Event of its next decision. */
  #revoked = new Map<string, { addresses: string[]; message: string }>();
  /**
   * The pool a Service's addresses came from, when a configuration change dropped them from the
   * allocator before the Service's condition (which says the same) reached the cache.
   */
  #originHint = new Map<string, string>();
  /** Services keeping addresses that no valid pool covers (for the metric and logs). */
  #kept = new Set<string>();
  /** Per IPPool: uid, generation and labels, to tell our own status writes from real changes. */
  #poolSeen = new Map<string, string>();
  #poolTimer: NodeJS.Timeout | undefined;
  #poolWrite: Promise<void> | undefined;
  #poolConditionSince = new Map<string, { exhausted: boolean; since: string }>();
  /** Count of decisions made, for tests and logs. */
  decisions = 0;

  constructor(o: ControllerOptions) {
    this.#opts = o;
    this.identity = o.identity ?? `${hostname()}-${process.pid}`;
    this.metrics = o.metrics ?? createMetrics();
    this.#log = logger('controller', { identity: this.identity });
    const { kc, core, custom, getJson } = o.clients;
    const ns = o.namespace;
    // The caches keep only what decisions read (cache-view.ts), listed in pages of plain JSON.
    this.#services = new Informer<V1Service>({
      kc,
      name: 'services',
      path: '/api/v1/services',
      list: () => core.listServiceForAllNamespaces(),
      listPage: jsonListPage(getJson, '/api/v1/services'),
      transform: serviceView,
    });
    this.#namespaces = new Informer<V1Namespace>({ kc, name: 'namespaces', path: '/api/v1/namespaces', list: () => core.listNamespace(), listPage: jsonListPage(getJson, '/api/v1/namespaces'), transform: namespaceView });
    this.#secrets = new NamedSecrets({ kc, core, namespace: ns, names: o.bgpPasswordSecrets ?? [] });
    // IPPool status is written by this controller: an update that changes neither the spec (its
    // generation) nor the labels is our own write and changes no configuration.
    const seen = (o: KubernetesObject) => `${o.metadata?.uid ?? ''}/${(o.metadata as { generation?: number } | undefined)?.generation ?? ''}/${JSON.stringify(o.metadata?.labels ?? {})}/${o.metadata?.deletionTimestamp ? 'deleting' : ''}`;
    const changes = (kind: ConfigKindName, ev: InformerEvent, o: KubernetesObject): boolean => {
      if (kind !== 'IPPool') return true;
      const name = o.metadata?.name ?? '';
      if (ev === 'delete') {
        this.#poolSeen.delete(name);
        return true;
      }
      const k = seen(o);
      if (this.#poolSeen.get(name) === k) return false;
      this.#poolSeen.set(name, k);
      return true;
    };
    const onChange = () => {
      this.#configDirty = true;
      this.#kick();
    };
    this.#config = new ConfigWatch({ kc, custom, namespace: ns, secrets: this.#secrets, onChange, changes });
    this.#events = new EventRecorder({ api: core, component: COMPONENT, host: this.identity });
    const poolRef = (name: string) => {
      const uid = this.#config.informer('IPPool').get(name)?.metadata?.uid;
      return { apiVersion: API_VERSION, kind: 'IPPool', name, ...(uid ? { uid } : {}) };
    };
    this.#allocEvents = new AllocationEvents({ recorder: this.#events, poolRef, ...o.allocationEvents });

    this.#services.on('add', (s) => this.#enqueue(serviceKey(s)));
    this.#services.on('update', (s) => this.#enqueue(serviceKey(s)));
    this.#services.on('delete', (s) => this.#enqueue(serviceKey(s)));
    const nsChanged = (n: V1Namespace) => {
      for (const s of this.#services.list(n.metadata?.name)) this.#enqueue(serviceKey(s));
    };
    this.#namespaces.on('add', nsChanged);
    this.#namespaces.on('update', nsChanged);
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  /** Caches synced, and (when leading) the start-up confirmation is done. */
  get ready(): boolean {
    return this.#synced && (!this.#leading || this.#startupDone);
  }

  /** The configuration in force (the last valid one), if any. */
  get appliedConfig(): ParsedConfig | undefined {
    return this.#applied;
  }

  healthz(): { ok: boolean; detail: Record<string, unknown> } {
    return { ok: !this.#stopped, detail: { identity: this.identity, stopped: this.#stopped } };
  }

  readyz(): { ok: boolean; detail: Record<string, unknown> } {
    return {
      ok: this.ready,
      detail: { synced: this.#synced, leader: this.#leading, startupDone: this.#startupDone, configValid: this.#applied !== undefined, queued: this.#queue.size },
    };
  }

  /** Starts the caches, then campaigns for leadership (or leads at once). Resolves once synced. */
  async start(): Promise<void> {
    this.#stopped = false;
    await Promise.all([this.#services, this.#namespaces, this.#secrets, this.#config].map((i) => i.start()));
    if (this.#stopped) return;
    this.#synced = true;
    this.#log.info('caches synced');
    const le = this.#opts.leaderElection;
    if (le === false) {
      this.#startLeading();
      return;
    }
    this.#elector = new LeaderElector({
      api: this.#opts.clients.coordination,
      namespace: this.#opts.namespace,
      name: le?.leaseName ?? COMPONENT,
      identity: this.identity,
      ...(le?.leaseDurationMs !== undefined ? { leaseDurationMs: le.leaseDurationMs } : {}),
      ...(le?.renewDeadlineMs !== undefined ? { renewDeadlineMs: le.renewDeadlineMs } : {}),
      ...(le?.retryPeriodMs !== undefined ? { retryPeriodMs: le.retryPeriodMs } : {}),
      onStartedLeading: () => this.#startLeading(),
      onStoppedLeading: () => this.#stopLeading(),
    });
    this.#elector.start();
  }

  /**
   * Stops everything. `releaseLease: false` leaves the Lease held, as a crash would, so a standby
   * takes over only when it expires.
   */
  async stop(opts: { releaseLease?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    await this.#elector?.stop(opts.releaseLease ?? true);
    this.#stopLeading();
    await this.#pumping;
    await this.#poolWrite;
    await this.#allocEvents.flush();
    await Promise.all([this.#services, this.#namespaces, this.#secrets, this.#config].map((i) => i.stop()));
  }

  /** Resolves when nothing is queued or being written, scheduled pool status and Event summaries included (for tests and orderly shutdown). */
  async idle(): Promise<void> {
    for (let i = 0; i < 1000 && (this.#pumping || this.#poolWrite || this.#poolTimer); i++) {
      await this.#pumping;
      if (this.#poolTimer) this.#flushPoolStatus();
      await this.#poolWrite;
    }
    await this.#allocEvents.flush();
  }

  // ---- leadership ---------------------------------------------------------------------------

  #startLeading(): void {
    if (this.#stopped) return;
    this.#leading = true;
    this.metrics.leader.set(1);
    // A new term starts from what the cluster says, never from memory of an earlier term.
    this.#allocator = new Allocator();
    this.#applied = undefined;
    this.#appliedKey = '';
    this.#lastConfigState = '';
    this.#startupDone = false;
    this.#early.clear();
    this.#configDirty = true;
    this.#kick();
  }

  #stopLeading(): void {
    if (!this.#leading) return;
    this.#leading = false;
    this.metrics.leader.set(0);
    this.#allocator = undefined;
    this.#startupDone = false;
    this.#queue.clear();
    this.#early.clear();
    this.#revoked.clear();
    this.#originHint.clear();
    this.#kept.clear();
    for (const t of this.#retryTimers.values()) clearTimeout(t);
    this.#retryTimers.clear();
    clearTimeout(this.#poolTimer);
    this.#poolTimer = undefined;
  }

  // ---- the queue ----------------------------------------------------------------------------

  #enqueue(key: string): void {
    if (!this.#leading) return;
    if (!this.#startupDone) {
      this.#early.add(key); // start-up enqueues every Service itself, these after the others
      return;
    }
    this.#queue.add(key);
    this.#kick();
  }

  #kick(): void {
    if (this.#pumping || !this.#leading || this.#stopped) return;
    this.#pumping = this.#pump().finally(() => {
      this.#pumping = undefined;
      if ((this.#queue.size > 0 || this.#configDirty) && this.#leading && !this.#stopped) this.#kick();
    });
  }

  async #pump(): Promise<void> {
    // Decisions are taken one at a time, in queue order; the writes they need run concurrently (a
    // sliding window, at most one in flight per Service). Bounded per run; #kick runs again when
    // more work arrived meanwhile.
    const limit = this.#opts.concurrency ?? 64;
    const inflight = new Map<string, Promise<void>>();
    const slice = new Slicer();
    try {
      for (let round = 0; round < 1_000_000 && this.#leading && !this.#stopped; round++) {
        // Decisions that write nothing (a restart's confirmations) would otherwise run back to back.
        await slice.turn();
        if (this.#configDirty) {
          this.#configDirty = false;
          await this.#syncConfig();
          continue;
        }
        if (!this.#startupDone) return;
        if (inflight.size >= limit) {
          await Promise.race(inflight.values());
          continue;
        }
        let key: string | undefined;
        for (const k of this.#queue) {
          if (inflight.has(k)) continue;
          key = k;
          break;
        }
        if (key === undefined) {
          if (inflight.size === 0) return;
          await Promise.race(inflight.values());
          continue;
        }
        this.#queue.delete(key);
        const w = this.#decide(key);
        if (w) {
          const k = key;
          inflight.set(
            k,
            w.finally(() => inflight.delete(k)),
          );
        }
        this.#schedulePoolStatus();
      }
    } finally {
      await Promise.all(inflight.values());
    }
  }

  /** Addresses were released: Services waiting for one of them (or for any) try again. */
  #retryPending(except: string, released: readonly string[]): void {
    for (const [k, wants] of this.#pending) {
      if (k === except) continue;
      if (wants === 'any' || released.some((a) => wants.has(canonicalAddress(a) ?? a))) this.#enqueue(k);
    }
  }

  #retryLater(key: string): void {
    if (this.#retryTimers.has(key) || !this.#leading) return;
    const delay = Math.min((this.#retryDelay.get(key) ?? 250) * 2, 30_000);
    this.#retryDelay.set(key, delay);
    this.#retryTimers.set(
      key,
      setTimeout(() => {
        this.#retryTimers.delete(key);
        this.#enqueue(key);
      }, delay),
    );
  }

  // ---- configuration ------------------------------------------------------------------------

  /** The configuration objects (each with its kind) and the Secrets, as the caches hold them now. */
  configSnapshot(): { objects: unknown[]; secrets: readonly V1Secret[] } {
    return { objects: this.#config.objects(), secrets: this.#secrets.list() };
  }

  async #syncConfig(): Promise<void> {
    const { objects } = this.configSnapshot();
    const alloc = this.#allocator;
    if (!alloc) return;
    // Invalid objects are isolated: the accepted set always applies; an object whose edit is bad
    // keeps its last accepted version (passed back in as `previous`), so nothing is renumbered.
    const v = validateConfig(objects, this.#secrets.list(), { previous: this.#accepted, readableSecrets: this.#opts.bgpPasswordSecrets ?? [] });
    const errors = [...v.errors];
    const rejected = new Set(v.rejected);
    let config = v.config;
    let specs = poolSpecs(config);
    let key = JSON.stringify(specs);
    let r: ReturnType<Allocator['setPools']> | undefined;
    // The allocator refusing a pool the validator accepted would be a bug; skip such pools too.
    for (let i = 0; key !== this.#appliedKey && i < 3; i++) {
      r = alloc.setPools(specs);
      if (r.ok) break;
      const bad = new Set(r.errors.map((e) => e.pool));
      for (const e of r.errors) {
        errors.push({ kind: 'IPPool', name: e.pool, field: e.field, value: e.value, message: e.message });
        rejected.add(objectKey('IPPool', e.pool));
      }
      config = { ...config, pools: new Map([...config.pools].filter(([n]) => !bad.has(n))) };
      specs = poolSpecs(config);
      key = JSON.stringify(specs);
    }
    if (r && !r.ok && key === this.#appliedKey) r = undefined; // what is left is what already serves
    if (r && !r.ok) {
      this.metrics.configValid.set(0);
      this.metrics.configReloads.inc({ result: 'rejected' });
      this.#log.error({ errors: errors.slice(0, 20).map(formatConfigError) }, 'the allocator refused the configuration; the last applied one keeps serving');
      await this.#reportConfig(errors, [...rejected].sort(), v.kept);
      return;
    }
    this.#accepted = v.accepted;
    this.metrics.configValid.set(errors.length ? 0 : 1);
    this.metrics.configRejectedObjects.set(rejected.size);
    // Stamped when the configuration in force changes, not on every look at it: a stamp per look
    // rewrote ConfigurationState (and repeated ConfigurationAccepted) on every IPPool status write.
    if (r || !this.#lastValidTime) this.#lastValidTime = new Date().toISOString();
    if (errors.length) this.#log.warn({ rejected: [...rejected].sort(), kept: v.kept, errors: errors.slice(0, 20).map(formatConfigError) }, `${rejected.size} object(s) rejected and skipped; the rest is applied`);
    if (!r) {
      this.#applied = config;
      this.metrics.configReloads.inc({ result: 'unchanged' });
      await this.#reportConfig(errors, [...rejected].sort(), v.kept);
      return;
    }
    const first = this.#applied === undefined;
    this.#applied = config;
    this.#appliedKey = key;
    this.metrics.configReloads.inc({ result: 'applied' });
    this.#log.info({ pools: specs.map((p) => p.name), revoked: r.revoked.length, rejected: rejected.size }, 'configuration applied');
    await this.#reportConfig(errors, [...rejected].sort(), v.kept);
    for (const rv of r.revoked) {
      const refusal: Refusal = { ok: false, reason: rv.reason, message: rv.message };
      if (this.#keepable(refusal, rv.addresses, rv.pool, config, alloc)) {
        // Its pool is gone or invalid: configuration missing, not a decision about this address.
        this.#originHint.set(rv.key, rv.pool);
        this.#log.info({ service: rv.key, addresses: rv.addresses, pool: rv.pool }, 'pool gone or invalid; the Service keeps its addresses until a valid pool covers or refuses them');
        continue;
      }
      this.#revoked.set(rv.key, { addresses: rv.addresses, message: `${rv.reason}: ${rv.message}` });
      this.#log.info({ service: rv.key, addresses: rv.addresses, reason: rv.reason }, 'assignment revoked by the new configuration');
    }
    const slice = new Slicer();
    // One ordered snapshot for the confirmation and the queue below: what changes after it comes
    // as events (#early during a start-up, the queue otherwise).
    const ordered = await sortForStartupInSlices(this.#services.list(), slice);
    if (this.#allocator !== alloc || this.#stopped) return;
    if (!(await this.#confirmHeld(alloc, config, first && !this.#startupDone, slice, ordered))) return; // leadership lost meanwhile
    // Pools changed: every Service may now fit elsewhere or better (pending ones in particular).
    // Services no longer ours that still carry our record too, so their release is said and recorded.
    // Those holding nothing in the allocator first (new, pending, refused): after a restart with
    // 100,000 Services a new one is served once every held address is confirmed, not after
    // 100,000 confirmations have been decided again (each of which writes nothing).
    // From here to the end of the start-up, synchronous: no event slips between the lists.
    const later: string[] = [];
    for (const s of ordered) {
      const key = serviceKey(s);
      const held = alloc.lookup(key) !== undefined;
      if (!isOurs(s, this.#classPolicy()) && !held && originPool(s) === undefined) continue;
      if (held) later.push(key);
      else this.#queue.add(key);
    }
    for (const key of later) this.#queue.add(key);
    // Services with events meanwhile (new ones included), and Services deleted meanwhile (held
    // ones release), decided after; a start-up before this point had none.
    for (const key of this.#early) this.#queue.add(key);
    this.#early.clear();
    this.#startupDone = true;
    for (const rv of r.revoked) this.#queue.add(rv.key);
    this.#schedulePoolStatus();
  }

  /**
   * Registers addresses Services hold (their status) that the allocator does not: every Service's
   * at start-up (`all`), later those kept through a gap in the configuration. Runs before any other
   * Service is considered, so a restart (or a new leader, or a pool coming back) never moves or
   * duplicates an address. A refusal that configuration missing explains keeps the address (see
   * #keepable); any other is decided by #decide, which then names the address it releases.
   */
  async #confirmHeld(alloc: Allocator, config: ParsedConfig, all: boolean, slice: Slicer, ordered: readonly Service[]): Promise<boolean> {
    const t0 = performance.now();
    let ours = 0;
    let confirmed = 0;
    const refused: string[] = [];
    const kept = new Set<string>();
    for (const s of ordered) {
      // Yields now and then (health probes); nothing else decides meanwhile, since the pump runs this.
      await slice.turn();
      if (this.#allocator !== alloc || this.#stopped) return false;
      if (!isOurs(s, this.#classPolicy())) continue;
      const ips = ingressIPs(s);
      if (ips.length === 0) continue;
      ours++;
      const key = serviceKey(s);
      if (!all && alloc.lookup(key)) continue;
      const req = toAllocatorRequest(s, this.#nsLabels(s));
      if (!req.ok) {
        refused.push(key);
        continue;
      }
      const r = alloc.confirm(req.request, ips);
      if (r.ok) {
        confirmed++;
        this.#originHint.delete(key);
      } else if (this.#keepable(r, ips, this.#originHint.get(key) ?? originPool(s), config, alloc)) {
        kept.add(key);
      } else {
        refused.push(key);
        this.#log.warn({ service: key, addresses: ips, reason: r.reason, message: r.message }, 'address held by the Service refused; it will be given another');
      }
    }
    this.#kept = kept;
    this.metrics.keptAssignments.set(kept.size);
    if (kept.size) this.#log.warn({ services: kept.size, examples: [...kept].slice(0, 10) }, 'Services keep addresses that no valid pool covers (their pool is missing or invalid); they keep them until a valid pool covers or refuses them');
    this.#log.info({ services: ours, confirmed, refused: refused.length, kept: kept.size, startup: all, ms: Math.round(performance.now() - t0) }, 'held addresses confirmed');
    return true;
  }

  /**
   * Whether a refused held assignment is kept: every address is outside all valid pools, and the
   * pool it came from is not a valid pool now (deleted, invalid, not created yet, or unknown). A
   * pool that exists, is valid and no longer covers the address is an explicit reason to release.
   */
  #keepable(r: Refusal, addresses: readonly string[], origin: string | undefined, config: ParsedConfig, alloc: Allocator): boolean {
    if (r.reason !== 'NotInAnyPool') return false;
    if (addresses.some((a) => alloc.poolFor(a) !== undefined)) return false;
    return origin === undefined || !config.pools.has(origin);
  }

  async #reportConfig(errors: ConfigError[], rejected: string[], kept: string[]): Promise<void> {
    const valid = errors.length === 0;
    const message = configMessage(errors, rejected, kept);
    const status: ConfigurationStateStatus = {
      component: 'controller',
      valid,
      message: message.slice(0, 32768),
      errors: errors.slice(0, 100).map((e) => ({ kind: e.kind, name: e.name, field: e.field.slice(0, 1024), value: describeValue(e.value).slice(0, 1024), message: e.message.slice(0, 4096) })),
      ...(this.#lastValidTime ? { lastValidTime: this.#lastValidTime } : {}),
    };
    const stateKey = JSON.stringify(status);
    if (stateKey === this.#lastConfigState) return;
    this.#lastConfigState = stateKey;
    // What the state says, times aside: a new leader (or process) finding the same state leaves it
    // (and its Events) alone and adopts its lastValidTime.
    const gist = (st: Partial<ConfigurationStateStatus> | undefined) => stableJson({ ...st, observedTime: undefined, lastValidTime: st?.lastValidTime !== undefined });
    const { custom } = this.#opts.clients;
    const ns = this.#opts.namespace;
    const plural = KINDS.ConfigurationState.plural;
    const body = { apiVersion: API_VERSION, kind: 'ConfigurationState', metadata: { name: CONFIG_STATE_NAME, namespace: ns }, status: { ...status, observedTime: new Date().toISOString() } };
    let ref: { uid?: string } = {};
    let unchanged = false;
    try {
      ref = (await retryOnConflict(async () => {
        try {
          const cur = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural, name: CONFIG_STATE_NAME })) as { metadata?: { resourceVersion?: string; uid?: string }; status?: ConfigurationStateStatus };
          if (cur.status && gist(cur.status) === gist(status)) {
            unchanged = true;
            if (cur.status.lastValidTime && status.lastValidTime) {
              this.#lastValidTime = cur.status.lastValidTime;
              this.#lastConfigState = JSON.stringify({ ...status, lastValidTime: cur.status.lastValidTime });
            }
            return cur;
          }
          return (await custom.replaceNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural, name: CONFIG_STATE_NAME, body: { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata?.resourceVersion } } })) as { metadata?: { uid?: string } };
        } catch (err) {
          if (!isNotFound(err)) throw err;
          return (await custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural, body })) as { metadata?: { uid?: string } };
        }
      })).metadata ?? {};
    } catch (err) {
      this.#lastConfigState = '';
      this.metrics.apiErrors.inc({ op: 'configurationstate' });
      this.#log.warn({ err: errorText(err) }, 'cannot write ConfigurationState');
    }
    if (unchanged) return;
    const stateRef = { apiVersion: API_VERSION, kind: 'ConfigurationState', name: CONFIG_STATE_NAME, namespace: ns, ...ref };
    if (valid) {
      await this.#events.record(stateRef, 'Normal', 'ConfigurationAccepted', message);
      return;
    }
    await this.#events.record(stateRef, 'Warning', 'InvalidConfiguration', message.slice(0, 1024));
    // And one Event on each rejected object, so `kubectl describe` on it says what is wrong.
    for (const [, e] of [...objectEvents(errors, kept)].slice(0, 50)) {
      if (!(CONFIG_KINDS as readonly string[]).includes(e.kind)) continue;
      const cluster = e.kind === 'IPPool';
      await this.#events.record({ apiVersion: API_VERSION, kind: e.kind, name: e.name, ...(cluster ? {} : { namespace: ns }) }, 'Warning', 'InvalidConfiguration', e.message.slice(0, 1024));
    }
  }

  // ---- one Service --------------------------------------------------------------------------

  #classPolicy() {
    return { loadBalancerClass: this.#opts.loadBalancerClass ?? DEFAULT_LOAD_BALANCER_CLASS, handleServicesWithoutClass: this.#opts.handleServicesWithoutClass ?? true };
  }

  #nsLabels(s: Service): Record<string, string> {
    return this.#namespaces.get(s.metadata?.namespace ?? '')?.metadata?.labels ?? {};
  }

  /** Decides one Service synchronously; returns the API writes to make, if any. */
  #decide(key: string): Promise<void> | undefined {
    const alloc = this.#allocator;
    const config = this.#applied;
    if (!alloc || !config) return undefined;
    this.decisions++;
    this.metrics.decisions.inc();
    const [namespace, name] = key.split('/') as [string, string];
    const svc = this.#services.get(name, namespace);
    const held = alloc.lookup(key);
    if (!svc) {
      this.#forget(key);
      if (held) {
        alloc.release(key);
        this.metrics.allocations.inc({ result: 'released' });
        this.#log.info({ service: key, addresses: held.addresses }, 'Service deleted; addresses released');
        this.#retryPending(key, held.addresses);
      }
      return undefined;
    }
    // What the Service holds: the allocator's record, else its status (kept, or refused at start-up).
    const had = held?.addresses ?? ingressIPs(svc);
    if (!isOurs(svc, this.#classPolicy())) {
      this.#forget(key);
      if (held) {
        alloc.release(key);
        this.metrics.allocations.inc({ result: 'released' });
        this.#retryPending(key, held.addresses);
      }
      // A Service that stops being a LoadBalancer gives its address back and loses our status.
      if (svc.spec?.type !== 'LoadBalancer') {
        if (!held && originPool(svc) === undefined) return undefined; // nothing of ours on it (any more)
        const msg = `not a LoadBalancer any more; released ${had.join(', ') || 'its address'}`;
        this.#log.info({ service: key, addresses: had }, 'Service is not a LoadBalancer any more; addresses released');
        return this.#write(svc, { ips: [], pool: undefined }, ['Normal', 'ClearAssignment', msg]);
      }
      // Another class: its implementation owns status.loadBalancer; only our condition goes.
      if (!held && originPool(svc) === undefined) return undefined;
      const cls = svc.spec?.loadBalancerClass;
      const why = cls ? `loadBalancerClass ${quote(cls)} is not ${quote(this.#classPolicy().loadBalancerClass)}` : 'Services without a loadBalancerClass are left to another implementation';
      const msg = `${why}; released ${had.join(', ') || 'its address'} (the status is left to that implementation)`;
      this.#log.info({ service: key, addresses: had, loadBalancerClass: svc.spec?.loadBalancerClass }, 'Service of another class; addresses released');
      return this.#write(svc, { ips: undefined, pool: undefined }, had.length ? ['Normal', 'ClearAssignment', msg] : undefined);
    }
    const req = toAllocatorRequest(svc, this.#nsLabels(svc));
    // Addresses in the status that the allocator does not hold (kept through a configuration gap,
    // or refused at start-up): confirmed now if a pool takes them back, else kept or released.
    let refusedHeld: Refusal | undefined;
    if (!held && had.length > 0 && req.ok) {
      const c = alloc.confirm(req.request, had);
      if (!c.ok) {
        if (this.#keepable(c, had, this.#originHint.get(key) ?? originPool(svc), config, alloc)) {
          if (!this.#kept.has(key)) {
            this.#kept.add(key);
            this.metrics.keptAssignments.set(this.#kept.size);
          }
          return undefined;
        }
        refusedHeld = c;
      }
    }
    this.#kept.delete(key);
    this.metrics.keptAssignments.set(this.#kept.size);
    this.#originHint.delete(key);
    let result: AssignResult;
    if (!req.ok) {
      if (held) alloc.release(key);
      result = { ok: false, reason: 'InvalidRequest', message: req.reason, released: [] };
    } else {
      result = alloc.assign(req.request);
    }
    const revoked = this.#revoked.get(key);
    this.#revoked.delete(key);
    // Every address the Service had and has no more, with the reason: each release Event names both.
    const now = result.ok ? result.addresses : [];
    const lost = [...new Set([...(revoked?.addresses ?? []), ...had, ...result.released])].filter((a) => !now.includes(a));
    const why = revoked?.message ?? (refusedHeld ? `${refusedHeld.reason}: ${refusedHeld.message}` : result.ok ? 'moved' : `${result.reason}: ${result.message}`);
    if (lost.length) this.#retryPending(key, lost);
    if (result.ok) {
      this.#pending.delete(key);
      this.#retryDelay.delete(key);
      let event: EventSpec | undefined;
      if (result.changed || lost.length || (had.length > 0 && now.join() !== had.join())) {
        this.metrics.allocations.inc({ result: 'allocated' });
        const moved = lost.length ? ` (moved from ${lost.join(', ')}: ${why})` : '';
        event = ['Normal', 'IPAllocated', `Assigned ${now.join(', ')} from pool ${result.pool}${moved}`];
        // A first assignment (nothing held, nothing released) may be summarised in a burst.
        if (lost.length === 0 && had.length === 0) event[3] = { pool: result.pool, addresses: now };
        this.#log.info({ service: key, addresses: now, pool: result.pool, released: lost }, 'addresses assigned');
      }
      return this.#write(svc, { ips: now, pool: result.pool }, event);
    }
    if (NEVER_FIXED_BY_A_RELEASE.has(result.reason)) this.#pending.delete(key);
    else {
      const asked = req.ok ? (req.request.requestedAddresses ?? []).map((a) => canonicalAddress(a) ?? a) : [];
      this.#pending.set(key, asked.length > 0 && ADDRESS_WANTED.has(result.reason) ? new Set(asked) : 'any');
    }
    this.metrics.allocations.inc({ result: 'failed' });
    this.metrics.allocationFailures.inc({ reason: result.reason });
    this.#log.info({ service: key, reason: result.reason, message: result.message, released: lost }, 'allocation failed');
    const events: EventSpec[] = [['Warning', 'AllocationFailed', `${result.reason}: ${result.message}`]];
    if (lost.length) events.push(['Normal', 'ClearAssignment', `released ${lost.join(', ')}: ${why}`]);
    return this.#write(svc, { ips: [], pool: undefined }, ...events);
  }

  /** Drops what is remembered about a Service that is gone or no longer ours. */
  #forget(key: string): void {
    this.#pending.delete(key);
    this.#revoked.delete(key);
    this.#originHint.delete(key);
    if (this.#kept.delete(key)) this.metrics.keptAssignments.set(this.#kept.size);
  }

  /**
   * The writes a decision needs: the status patch (if the cached status differs) and the Events.
   * None: undefined at once, no promise (a restart decides 100,000 Services, nearly all unchanged).
   */
  #write(svc: V1Service, want: Desired, ...events: Array<EventSpec | undefined>): Promise<void> | undefined {
    const status = statusPatch(svc, want);
    if (!status && !events.some((e) => e !== undefined)) return undefined;
    return this.#writeAll(svc, status, events);
  }

  async #writeAll(svc: V1Service, status: Record<string, unknown> | undefined, events: ReadonlyArray<EventSpec | undefined>): Promise<void> {
    const key = serviceKey(svc);
    try {
      if (status) await this.#writeService(svc, status);
    } catch (err) {
      this.metrics.apiErrors.inc({ op: 'service' });
      this.#log.warn({ service: key, err: errorText(err) }, 'cannot update the Service status; will retry');
      this.#retryLater(key);
      return;
    }
    const ref = { apiVersion: 'v1', kind: 'Service', name: svc.metadata?.name ?? '', namespace: svc.metadata?.namespace ?? '', ...(svc.metadata?.uid ? { uid: svc.metadata.uid } : {}) };
    for (const e of events) if (e) await (e[3] ? this.#allocEvents.assigned(ref, e[3].pool, e[3].addresses, e[2]) : this.#events.record(ref, e[0], e[1], e[2]));
  }

  /**
   * One strategic-merge patch of the status subresource (statusPatch). No read first and no
   * resourceVersion: the leader is the only writer of both, and a stale decision is corrected by
   * the update event that follows. The uid makes the patch fail on a Service deleted and re-created
   * under the same name meanwhile.
   */
  async #writeService(cached: V1Service, status: Record<string, unknown>): Promise<void> {
    const name = cached.metadata?.name ?? '';
    const namespace = cached.metadata?.namespace ?? '';
    const body = { metadata: { ...(cached.metadata?.uid ? { uid: cached.metadata.uid } : {}) }, status };
    try {
      await this.#opts.clients.core.patchNamespacedServiceStatus({ name, namespace, body }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
    } catch (err) {
      // Gone (or replaced by a namesake): its delete and add events decide again.
      if (isNotFound(err) || isConflict(err)) return;
      throw err;
    }
  }

  // ---- IPPool status ------------------------------------------------------------------------

  #schedulePoolStatus(): void {
    if (this.#poolTimer || !this.#leading) return;
    this.#poolTimer = setTimeout(() => this.#flushPoolStatus(), this.#opts.poolStatusDelayMs ?? 250);
  }

  /** Writes the scheduled IPPool status now (after any write in progress). */
  #flushPoolStatus(): void {
    clearTimeout(this.#poolTimer);
    this.#poolTimer = undefined;
    const prev = this.#poolWrite ?? Promise.resolve();
    const next: Promise<void> = prev
      .then(() => this.#writePoolStatus())
      .finally(() => {
        if (this.#poolWrite === next) this.#poolWrite = undefined;
      });
    this.#poolWrite = next;
  }

  async #writePoolStatus(): Promise<void> {
    const alloc = this.#allocator;
    if (!alloc || !this.#leading) return;
    const { custom } = this.#opts.clients;
    // JSON integers beyond 2^53-1 are read inexactly by most clients: the counts saturate there, and
    // availableIPv6Exact (a string) has the exact value (the CRD's descriptions say so).
    const cap = (v: bigint) => (v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v));
    const inf = this.#config.informer('IPPool');
    this.metrics.poolCapacity.reset();
    this.metrics.poolAssigned.reset();
    this.metrics.poolAvailable.reset();
    for (const name of alloc.poolNames()) {
      const u = alloc.poolUsage(name);
      if (!u) continue;
      for (const family of ['IPv4', 'IPv6'] as const) {
        this.metrics.poolCapacity.set({ pool: name, family }, Number(u[family].total));
        this.metrics.poolAssigned.set({ pool: name, family }, Number(u[family].assigned));
        this.metrics.poolAvailable.set({ pool: name, family }, Number(u[family].available));
      }
      const exhausted = (['IPv4', 'IPv6'] as const).some((f) => u[f].total > 0n && u[f].available === 0n);
      const prevCond = this.#poolConditionSince.get(name);
      const since = prevCond && prevCond.exhausted === exhausted ? prevCond.since : new Date().toISOString();
      this.#poolConditionSince.set(name, { exhausted, since });
      const status: IPPoolStatus = {
        assignedIPv4: cap(u.IPv4.assigned),
        assignedIPv6: cap(u.IPv6.assigned),
        availableIPv4: cap(u.IPv4.available),
        availableIPv6: cap(u.IPv6.available),
        availableIPv6Exact: u.IPv6.available.toString(),
        conditions: [
          {
            type: 'Exhausted',
            status: exhausted ? 'True' : 'False',
            reason: exhausted ? 'NoFreeAddress' : 'AddressesAvailable',
            message: exhausted ? 'a family of this pool has no free address left' : 'every family of this pool has free addresses',
            lastTransitionTime: since,
          },
        ],
      };
      const cached = inf.get(name) as IPPool | undefined;
      // Key order aside: the API server returns the stored status with its keys sorted.
      if (!cached || stableJson(cached.status ?? {}) === stableJson(status)) continue;
      try {
        await retryOnConflict(async (again) => {
          const cur = again ? ((await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: 'ippools', name })) as IPPool) : cached;
          await custom.replaceClusterCustomObjectStatus({ group: GROUP, version: VERSION, plural: 'ippools', name, body: { ...cur, status } });
        });
      } catch (err) {
        if (isNotFound(err) || isConflict(err)) continue;
        this.metrics.apiErrors.inc({ op: 'ippool-status' });
        this.#log.warn({ pool: name, err: errorText(err) }, 'cannot update IPPool status');
      }
    }
  }
}
