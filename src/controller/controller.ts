// The controller: watches Services, Namespaces, ironlb's configuration and the Secrets of its
// namespace; while leader, allocates addresses with the pure allocator and writes the result
// (status.loadBalancer.ingress, the pool annotation, Events, IPPool status, ConfigurationState).
//
// Decisions are made one Service at a time on one queue (deterministic); the API writes of a
// batch of distinct Services then run concurrently.
import { hostname } from 'node:os';
import type { KubernetesListObject, KubernetesObject, V1Namespace, V1Secret, V1Service } from '@kubernetes/client-node';
import { Allocator, type AssignResult } from '../ipam/index.ts';
import {
  ANNOTATION_ALLOCATED_FROM_POOL,
  API_VERSION,
  DEFAULT_LOAD_BALANCER_CLASS,
  GROUP,
  KINDS,
  VERSION,
  formatConfigError,
  isOurs,
  validateConfig,
  configMessage,
  objectEvents,
  objectKey,
  type ConfigError,
  type ConfigurationStateStatus,
  type IPPool,
  type IPPoolStatus,
  type ParsedConfig,
} from '../api/index.ts';
import { describeValue } from '../api/schema.ts';
import { EventRecorder, Informer, LeaderElector, errorText, isNotFound, isConflict, retryOnConflict, type Clients } from '../k8s/index.ts';
import { logger } from '../util/log.ts';
import { NamedSecrets } from '../k8s/secrets.ts';
import { createMetrics, type ControllerMetrics } from './metrics.ts';
import { ingressIPs, poolAnnotation, poolSpecs, serviceKey, startupOrder, toAllocatorRequest, type Service } from './requests.ts';

export const COMPONENT = 'ironlb-controller';
export const CONFIG_STATE_NAME = 'controller';

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
}

type ConfigKind = 'IPPool' | 'L2Advertisement' | 'BGPPeer' | 'BGPAdvertisement' | 'BFDProfile' | 'Community';
const CONFIG_KINDS: readonly ConfigKind[] = ['IPPool', 'L2Advertisement', 'BGPPeer', 'BGPAdvertisement', 'BFDProfile', 'Community'];

interface Desired {
  ips: string[];
  pool: string | undefined;
}

export class Controller {
  readonly metrics: ControllerMetrics;
  readonly identity: string;
  #o: ControllerOptions;
  #log;
  #services: Informer<V1Service>;
  #namespaces: Informer<V1Namespace>;
  #secrets: NamedSecrets;
  #config = new Map<ConfigKind, Informer<KubernetesObject>>();
  #events: EventRecorder;
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
  #configDirty = false;
  #pumping: Promise<void> | undefined;
  #retryTimers = new Map<string, NodeJS.Timeout>();
  /** Services whose last allocation failed: retried whenever an address is released. */
  #pending = new Set<string>();
  #retryDelay = new Map<string, number>();
  /** Addresses a configuration change took from a Service, for the Event of its next decision. */
  #revoked = new Map<string, { addresses: string[]; message: string }>();
  #poolTimer: NodeJS.Timeout | undefined;
  #poolWrite: Promise<void> | undefined;
  #poolConditionSince = new Map<string, { exhausted: boolean; since: string }>();
  /** Count of decisions made, for tests and logs. */
  decisions = 0;

  constructor(o: ControllerOptions) {
    this.#o = o;
    this.identity = o.identity ?? `${hostname()}-${process.pid}`;
    this.metrics = o.metrics ?? createMetrics();
    this.#log = logger('controller', { identity: this.identity });
    const { kc, core, custom } = o.clients;
    const ns = o.namespace;
    this.#services = new Informer<V1Service>({ kc, name: 'services', path: '/api/v1/services', list: () => core.listServiceForAllNamespaces() });
    this.#namespaces = new Informer<V1Namespace>({ kc, name: 'namespaces', path: '/api/v1/namespaces', list: () => core.listNamespace() });
    this.#secrets = new NamedSecrets({ kc, core, namespace: ns, names: o.bgpPasswordSecrets ?? [] });
    for (const kind of CONFIG_KINDS) {
      const def = KINDS[kind];
      const cluster = def.scope === 'Cluster';
      const path = cluster ? `/apis/${GROUP}/${VERSION}/${def.plural}` : `/apis/${GROUP}/${VERSION}/namespaces/${ns}/${def.plural}`;
      const list = async (): Promise<KubernetesListObject<KubernetesObject>> =>
        (cluster
          ? await custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: def.plural })
          : await custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: def.plural })) as KubernetesListObject<KubernetesObject>;
      this.#config.set(kind, new Informer<KubernetesObject>({ kc, name: def.plural, path, list }));
    }
    this.#events = new EventRecorder({ api: core, component: COMPONENT, host: this.identity });

    this.#services.on('add', (s) => this.#enqueue(serviceKey(s)));
    this.#services.on('update', (s) => this.#enqueue(serviceKey(s)));
    this.#services.on('delete', (s) => this.#enqueue(serviceKey(s)));
    const nsChanged = (n: V1Namespace) => {
      for (const s of this.#services.list(n.metadata?.name)) this.#enqueue(serviceKey(s));
    };
    this.#namespaces.on('add', nsChanged);
    this.#namespaces.on('update', nsChanged);
    const cfgChanged = () => {
      this.#configDirty = true;
      this.#kick();
    };
    for (const inf of [...this.#config.values(), this.#secrets]) {
      inf.on('add', cfgChanged);
      inf.on('update', cfgChanged);
      inf.on('delete', cfgChanged);
    }
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
    await Promise.all([this.#services, this.#namespaces, this.#secrets, ...this.#config.values()].map((i) => i.start()));
    if (this.#stopped) return;
    this.#synced = true;
    this.#log.info('caches synced');
    const le = this.#o.leaderElection;
    if (le === false) {
      this.#startLeading();
      return;
    }
    this.#elector = new LeaderElector({
      api: this.#o.clients.coordination,
      namespace: this.#o.namespace,
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
    await Promise.all([this.#services, this.#namespaces, this.#secrets, ...this.#config.values()].map((i) => i.stop()));
  }

  /** Resolves when nothing is queued or being written (for tests and orderly shutdown). */
  async idle(): Promise<void> {
    for (let i = 0; i < 1000 && (this.#pumping || this.#poolWrite); i++) {
      await this.#pumping;
      await this.#poolWrite;
    }
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
    this.#revoked.clear();
    for (const t of this.#retryTimers.values()) clearTimeout(t);
    this.#retryTimers.clear();
    clearTimeout(this.#poolTimer);
  }

  // ---- the queue ----------------------------------------------------------------------------

  #enqueue(key: string): void {
    if (!this.#leading || !this.#startupDone) return; // start-up enqueues every Service itself
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
    const limit = this.#o.concurrency ?? 64;
    const inflight = new Map<string, Promise<void>>();
    try {
      for (let round = 0; round < 1_000_000 && this.#leading && !this.#stopped; round++) {
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

  /** Addresses were released: Services waiting for one (pool exhausted, address in use...) try again. */
  #retryPending(except: string): void {
    for (const k of this.#pending) if (k !== except) this.#enqueue(k);
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
    const objects: unknown[] = [];
    for (const [kind, inf] of this.#config) for (const o of inf.list()) objects.push({ ...o, kind });
    return { objects, secrets: this.#secrets.list() };
  }

  async #syncConfig(): Promise<void> {
    const { objects } = this.configSnapshot();
    const alloc = this.#allocator;
    if (!alloc) return;
    // Invalid objects are isolated: the accepted set always applies; an object whose edit is bad
    // keeps its last accepted version (passed back in as `previous`), so nothing is renumbered.
    const v = validateConfig(objects, this.#secrets.list(), { previous: this.#accepted, readableSecrets: this.#o.bgpPasswordSecrets ?? [] });
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
    this.#lastValidTime = new Date().toISOString();
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
    if (first && !this.#startupDone) this.#startup(alloc);
    for (const rv of r.revoked) {
      this.#revoked.set(rv.key, { addresses: rv.addresses, message: `${rv.reason}: ${rv.message}` });
      this.#log.info({ service: rv.key, addresses: rv.addresses, reason: rv.reason }, 'assignment revoked by the new configuration');
    }
    // Pools changed: every Service may now fit elsewhere or better (pending ones in particular).
    for (const s of [...this.#services.list()].sort(startupOrder)) if (isOurs(s, this.#classPolicy()) || this.#allocator?.lookup(serviceKey(s))) this.#queue.add(serviceKey(s));
    for (const rv of r.revoked) this.#queue.add(rv.key);
    this.#schedulePoolStatus();
  }

  /**
   * Start-up: every Service that already holds addresses is confirmed before any other Service is
   * considered, so a restart (or a new leader) never moves or duplicates an address.
   */
  #startup(alloc: Allocator): void {
    const ours = [...this.#services.list()].filter((s) => isOurs(s, this.#classPolicy())).sort(startupOrder);
    let confirmed = 0;
    const refused: string[] = [];
    for (const s of ours) {
      const ips = ingressIPs(s);
      if (ips.length === 0) continue;
      const req = toAllocatorRequest(s, this.#nsLabels(s));
      if (!req.ok) {
        refused.push(serviceKey(s));
        continue;
      }
      const r = alloc.confirm(req.request, ips);
      if (r.ok) confirmed++;
      else {
        refused.push(serviceKey(s));
        this.#log.warn({ service: serviceKey(s), addresses: ips, reason: r.reason, message: r.message }, 'address held by the Service not confirmed; it will be reassigned');
      }
    }
    this.#startupDone = true;
    this.#log.info({ services: ours.length, confirmed, refused: refused.length }, 'start-up: existing assignments confirmed');
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
    status.observedTime = new Date().toISOString();
    const { custom } = this.#o.clients;
    const ns = this.#o.namespace;
    const plural = KINDS.ConfigurationState.plural;
    const body = { apiVersion: API_VERSION, kind: 'ConfigurationState', metadata: { name: CONFIG_STATE_NAME, namespace: ns }, status };
    let ref: { uid?: string } = {};
    try {
      ref = (await retryOnConflict(async () => {
        try {
          const cur = (await custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural, name: CONFIG_STATE_NAME })) as { metadata?: { resourceVersion?: string; uid?: string } };
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
    return { loadBalancerClass: this.#o.loadBalancerClass ?? DEFAULT_LOAD_BALANCER_CLASS, handleServicesWithoutClass: this.#o.handleServicesWithoutClass ?? true };
  }

  #nsLabels(s: Service): Record<string, string> {
    return this.#namespaces.get(s.metadata?.namespace ?? '')?.metadata?.labels ?? {};
  }

  /** Decides one Service synchronously; returns the API writes to make, if any. */
  #decide(key: string): Promise<void> | undefined {
    const alloc = this.#allocator;
    if (!alloc || !this.#applied) return undefined;
    this.decisions++;
    const [namespace, name] = key.split('/') as [string, string];
    const svc = this.#services.get(name, namespace);
    const held = alloc.lookup(key);
    if (!svc) {
      this.#pending.delete(key);
      if (held) {
        alloc.release(key);
        this.metrics.allocations.inc({ result: 'released' });
        this.#log.info({ service: key, addresses: held.addresses }, 'Service deleted; addresses released');
        this.#retryPending(key);
      }
      return undefined;
    }
    if (!isOurs(svc, this.#classPolicy())) {
      this.#pending.delete(key);
      if (held) {
        alloc.release(key);
        this.metrics.allocations.inc({ result: 'released' });
        this.#retryPending(key);
      }
      // A Service that stops being a LoadBalancer gives its address back and loses our status.
      if (svc.spec?.type !== 'LoadBalancer' && (held || poolAnnotation(svc) !== undefined)) {
        const msg = `not a LoadBalancer any more; released ${(held?.addresses ?? ingressIPs(svc)).join(', ') || 'its address'}`;
        return this.#write(svc, { ips: [], pool: undefined }, ['Normal', 'ClearAssignment', msg]);
      }
      return undefined;
    }
    const req = toAllocatorRequest(svc, this.#nsLabels(svc));
    let result: AssignResult;
    if (!req.ok) {
      const released = held ? alloc.release(key) : [];
      result = { ok: false, reason: 'InvalidRequest', message: req.reason, released };
    } else {
      result = alloc.assign(req.request);
    }
    const revoked = this.#revoked.get(key);
    this.#revoked.delete(key);
    if (revoked) result.released = [...new Set([...revoked.addresses, ...result.released])];
    if (result.released.length) this.#retryPending(key);
    if (result.ok) {
      this.#pending.delete(key);
      this.#retryDelay.delete(key);
      let event: [string, string, string] | undefined;
      if (result.ok && revoked && result.addresses.join() !== revoked.addresses.join()) result.changed = true;
      result.released = result.released.filter((a) => !result.addresses.includes(a));
      if (result.changed) {
        this.metrics.allocations.inc({ result: 'allocated' });
        const moved = result.released.length ? ` (moved from ${result.released.join(', ')})` : '';
        event = ['Normal', 'IPAllocated', `Assigned ${result.addresses.join(', ')} from pool ${result.pool}${moved}`];
        this.#log.info({ service: key, addresses: result.addresses, pool: result.pool, released: result.released }, 'addresses assigned');
      }
      return this.#write(svc, { ips: result.addresses, pool: result.pool }, event);
    }
    this.#pending.add(key);
    this.metrics.allocations.inc({ result: 'failed' });
    this.metrics.allocationFailures.inc({ reason: result.reason });
    this.#log.info({ service: key, reason: result.reason, message: result.message }, 'allocation failed');
    const events: Array<[string, string, string]> = [['Warning', 'AllocationFailed', `${result.reason}: ${result.message}`]];
    if (result.released.length) events.push(['Normal', 'ClearAssignment', `released ${result.released.join(', ')}: ${revoked?.message ?? result.message}`]);
    return this.#write(svc, { ips: [], pool: undefined }, ...events);
  }

  async #write(svc: V1Service, want: Desired, ...events: Array<[string, string, string] | undefined>): Promise<void> {
    const key = serviceKey(svc);
    try {
      await this.#writeService(svc, want);
    } catch (err) {
      this.metrics.apiErrors.inc({ op: 'service' });
      this.#log.warn({ service: key, err: errorText(err) }, 'cannot update the Service; will retry');
      this.#retryLater(key);
      return;
    }
    const ref = { apiVersion: 'v1', kind: 'Service', name: svc.metadata?.name ?? '', namespace: svc.metadata?.namespace ?? '', ...(svc.metadata?.uid ? { uid: svc.metadata.uid } : {}) };
    for (const e of events) if (e) await this.#events.record(ref, e[0] as 'Normal' | 'Warning', e[1], e[2]);
  }

  async #writeService(cached: V1Service, want: Desired): Promise<void> {
    const { core } = this.#o.clients;
    const name = cached.metadata?.name ?? '';
    const namespace = cached.metadata?.namespace ?? '';
    const sameIPs = (s: V1Service) => {
      const ing = s.status?.loadBalancer?.ingress ?? [];
      // ipMode is written but not compared: API servers without the field drop it, and comparing
      // it would then rewrite the status forever.
      return ing.length === want.ips.length && ing.every((i, n) => i.ip === want.ips[n] && !i.hostname);
    };
    const samePool = (s: V1Service) => poolAnnotation(s) === want.pool;
    let base: V1Service | undefined = cached;
    const fresh = async (): Promise<V1Service | undefined> => {
      try {
        return await core.readNamespacedService({ name, namespace });
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    };
    if (!samePool(cached)) {
      base = await retryOnConflict(async (again) => {
        const cur = again ? await fresh() : base;
        if (!cur) return undefined;
        if (samePool(cur)) return cur;
        const annotations = { ...(cur.metadata?.annotations ?? {}) };
        if (want.pool === undefined) delete annotations[ANNOTATION_ALLOCATED_FROM_POOL];
        else annotations[ANNOTATION_ALLOCATED_FROM_POOL] = want.pool;
        try {
          return await core.replaceNamespacedService({ name, namespace, body: { ...cur, metadata: { ...cur.metadata, annotations } } });
        } catch (err) {
          if (isNotFound(err)) return undefined;
          throw err;
        }
      });
    }
    if (!base || sameIPs(base)) return;
    await retryOnConflict(async (again) => {
      const cur = again ? await fresh() : base;
      if (!cur || sameIPs(cur)) return;
      const ingress = want.ips.map((ip) => ({ ip, ipMode: 'VIP' }));
      try {
        await core.replaceNamespacedServiceStatus({ name, namespace, body: { ...cur, status: { ...cur.status, loadBalancer: { ingress } } } });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    });
  }

  // ---- IPPool status ------------------------------------------------------------------------

  #schedulePoolStatus(): void {
    if (this.#poolTimer || !this.#leading) return;
    this.#poolTimer = setTimeout(() => {
      this.#poolTimer = undefined;
      const prev = this.#poolWrite ?? Promise.resolve();
      this.#poolWrite = prev.then(() => this.#writePoolStatus()).finally(() => {
        this.#poolWrite = undefined;
      });
    }, this.#o.poolStatusDelayMs ?? 250);
  }

  async #writePoolStatus(): Promise<void> {
    const alloc = this.#allocator;
    if (!alloc || !this.#leading) return;
    const { custom } = this.#o.clients;
    const cap = (v: bigint) => (v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v));
    const inf = this.#config.get('IPPool') as Informer<KubernetesObject>;
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
      if (!cached || JSON.stringify(cached.status ?? {}) === JSON.stringify(status)) continue;
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
