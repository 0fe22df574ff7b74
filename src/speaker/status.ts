// Status the speakers write: ServiceAnnouncement per Service (one writer per Service, chosen from
// the cluster-wide view every speaker shares), NodeAnnouncement per node (what the node announces
// over BGP, to which peers), BGPSessionState per node and peer, the speaker's ConfigurationState,
// and an Event on the Service when its announcement changes.
//
// Writes proportional to what changed: a ServiceAnnouncement holds only what is per Service, so a
// node lost or back rewrites its own NodeAnnouncement and the Services it owned over Layer 2 (or
// served as a Local BGP node), not every Service announced over BGP.
//
// No write storms: every object has a single writer at a time, desired contents are coalesced
// (only the latest per object is written), and nothing is written when the content is unchanged.
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { createHash } from 'node:crypto';
import { API_VERSION, GROUP, KINDS, LOCAL_BGP_SAMPLE, VERSION, type BGPSessionStateStatus, type ConfigurationStateStatus, type NodeAnnouncementStatus, type ServiceAnnouncementStatus } from '../api/index.ts';
import { errorText, isNotFound, retryOnConflict, type EventRecorder } from '../k8s/index.ts';
import { matchesAny, type Labels } from '../util/selector.ts';
import { logger } from '../util/log.ts';
import { nodeCanAnnounce, poolCovered, type BgpPolicy, type NodeFacts, type PeerFacts, type ServiceFacts, type ServiceView } from './decide.ts';
import { hash32, score } from './owner.ts';

type Announcement = NonNullable<ServiceAnnouncementStatus['announcements']>[number];

export const configStateName = (node: string): string => `speaker-${node}`;
/** BGPSessionState object name: node and peer, lower-cased into a valid object name. */
export const sessionStateName = (node: string, peer: string): string => `${node}.${peer}`.toLowerCase().replace(/[^a-z0-9.-]/g, '-').slice(0, 253);

/**
 * Which node writes a Service's ServiceAnnouncement: the Layer 2 owner of its first address, else
 * the BGP node ranked first for this Service by rendezvous hashing (so a node lost changes the
 * writer of only its own share of Services: the first BGP node by name wrote them all), else (not
 * announced: only the reason is written) the first live node.
 */
export function statusWriter(view: ServiceView, alive: readonly string[], serviceKey: string): string | undefined {
  const owners = Object.keys(view.l2Owners).sort();
  if (owners.length) return view.l2Owners[owners[0] as string];
  if (view.bgpNodes.length) return rendezvousFirst(serviceKey, view.bgpNodes);
  return [...alive].sort()[0];
}

function rendezvousFirst(key: string, nodes: readonly string[]): string {
  const uh = hash32(key);
  let best = nodes[0] as string;
  let bestScore = -1;
  for (const n of nodes) {
    const sc = score(hash32(n), uh);
    if (sc > bestScore || (sc === bestScore && n < best)) {
      best = n;
      bestScore = sc;
    }
  }
  return best;
}

/** Label on a ServiceAnnouncement naming its writer, so each speaker watches only the ones it writes. */
export const WRITER_LABEL = 'ironlb.io/writer';

/** WRITER_LABEL's value for a node: its name, or a hash when the name is not a valid label value. */
export function writerLabelValue(node: string): string {
  if (/^([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$/.test(node)) return node;
  return `h-${createHash('sha256').update(node).digest('hex').slice(0, 40)}`;
}

/** NodeAnnouncement object name of a node (node names are already valid object names). */
export const nodeAnnouncementName = (node: string): string => node.toLowerCase().replace(/[^a-z0-9.-]/g, '-').slice(0, 253);

/**
 * A node's NodeAnnouncement: the BGPAdvertisements selecting it (by node selector) that reach at
 * least one of its peers, with those peers. Depends only on the configuration and the node.
 */
export function nodeAnnouncementStatus(node: NodeFacts, bgp: readonly BgpPolicy[], peers: readonly PeerFacts[]): NodeAnnouncementStatus {
  const out: NonNullable<NodeAnnouncementStatus['bgp']> = [];
  if (nodeCanAnnounce(node)) {
    const nodePeers = peers.filter((p) => matchesAny(p.nodeSelectors, node.labels));
    for (const ad of bgp) {
      if (!matchesAny(ad.nodeSelectors, node.labels)) continue;
      const to = nodePeers.filter((p) => ad.peers.length === 0 || ad.peers.includes(p.name)).map((p) => p.name);
      if (to.length) out.push({ advertisement: ad.name, peers: [...new Set(to)].sort().slice(0, 256) });
    }
  }
  out.sort((a, b) => (a.advertisement < b.advertisement ? -1 : a.advertisement > b.advertisement ? 1 : 0));
  return { node: node.name, bgp: out.slice(0, 64) };
}

/** BGP peers a node announces a service to (peers selecting the node, filtered by the advertisements). */
export function peersOf(svc: ServiceFacts, node: NodeFacts, bgp: readonly BgpPolicy[], peers: readonly PeerFacts[]): string[] {
  const out = new Set<string>();
  for (const ad of bgp) {
    if (ad.pools !== null && !ad.pools.has(svc.pool)) continue;
    if (!matchesAny(ad.serviceSelectors, svc.labels) || !matchesAny(ad.nodeSelectors, node.labels)) continue;
    for (const p of peers) if (matchesAny(p.nodeSelectors, node.labels) && (ad.peers.length === 0 || ad.peers.includes(p.name))) out.add(p.name);
  }
  return [...out].sort();
}

/**
 * The ServiceAnnouncement status of a service (without observedTime): its Layer 2 owners, and over
 * BGP the advertisements announcing it; which nodes announce those is in the NodeAnnouncements
 * (src/api/announcements.ts joins them). Only externalTrafficPolicy Local lists BGP nodes (the
 * first LOCAL_BGP_SAMPLE, and their count): they are the Service's own endpoints' nodes.
 */
export function announcementStatus(
  svc: ServiceFacts,
  view: ServiceView,
  ctx: { self: string; selfInterfaces: (ip: string) => string[]; nodes: ReadonlyMap<string, NodeFacts>; bgp: readonly BgpPolicy[]; peers: readonly PeerFacts[] },
): ServiceAnnouncementStatus {
  const announcements: Announcement[] = [];
  for (const ip of svc.ips) {
    const node = view.l2Owners[ip];
    if (node === undefined) continue;
    const a: Announcement = { node, mode: 'layer2', address: ip };
    if (node === ctx.self) a.interfaces = ctx.selfInterfaces(ip).slice(0, 64);
    announcements.push(a);
  }
  const name = svc.key.slice(svc.key.indexOf('/') + 1);
  const st: ServiceAnnouncementStatus = { service: name, addresses: svc.ips.slice(0, 2) };
  if (view.bgpNodes.length) {
    const ads = ctx.bgp.filter((ad) => poolCovered(ad, svc.pool) && matchesAny(ad.serviceSelectors, svc.labels)).map((ad) => ad.name);
    const local = svc.externalTrafficPolicy === 'Local';
    st.bgp = { advertisements: [...new Set(ads)].sort().slice(0, 64), externalTrafficPolicy: svc.externalTrafficPolicy };
    if (local) {
      st.bgp.localNodes = view.bgpNodes.length;
      for (const node of view.bgpNodes.slice(0, LOCAL_BGP_SAMPLE)) {
        const n = ctx.nodes.get(node);
        announcements.push({ node, mode: 'bgp', peers: n ? peersOf(svc, n, ctx.bgp, ctx.peers).slice(0, 256) : [] });
      }
    }
  }
  st.announcements = announcements;
  if (announcements.length) st.nodes = [...new Set(announcements.map((a) => a.node))].sort();
  if (view.reason) st.message = view.reason.slice(0, 4096);
  return st;
}

/** Services that should be announced (an address and a serving endpoint) and that no node announces. */
export function unannouncedServices(services: readonly ServiceFacts[], views: ReadonlyMap<string, ServiceView>): number {
  let n = 0;
  for (const s of services) {
    if (s.ips.length === 0 || !s.hasServingEndpoint) continue;
    const v = views.get(s.key);
    if (v && Object.keys(v.l2Owners).length === 0 && v.bgpNodes.length === 0) n++;
  }
  return n;
}

export const announcingNodes = (st: ServiceAnnouncementStatus | undefined): string[] => [...new Set((st?.announcements ?? []).map((a) => a.node))].sort();

/**
 * What an Event about a Service's announcement compares: the nodes it lists, and for BGP the
 * advertisements (not the nodes announcing them: a node lost is one Event-free NodeAnnouncement
 * change, not one Event per Service). Empty: not announced.
 */
export function announcementSummary(st: ServiceAnnouncementStatus | undefined): string {
  const nodes = announcingNodes(st).join(',');
  const bgp = st?.bgp ? `BGP ${(st.bgp.advertisements ?? []).join(',')}` : '';
  return [nodes, bgp].filter(Boolean).join('; ');
}

/** JSON with sorted keys, for comparing objects written by different processes. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Same status content, ignoring observedTime. */
export function sameStatus(a: object | undefined, b: object | undefined): boolean {
  const strip = (x: object | undefined) => (x ? { ...x, observedTime: undefined } : x);
  return stableJson(strip(a)) === stableJson(strip(b));
}

interface Pending {
  plural: string;
  namespace: string;
  name: string;
  kind: string;
  /** undefined: delete the object. */
  status: Record<string, unknown> | undefined;
  key: string;
  labels?: Record<string, string>;
  /** After a successful write: the object's uid, and its status before the write (undefined: created). */
  after?: (uid: string | undefined, previous: Record<string, unknown> | undefined) => Promise<void>;
}

/** An object as a cache holds it: what seen() compares with the writer's own last write. */
export interface SeenObject {
  metadata?: { resourceVersion?: string };
  status?: object;
}

export interface StatusWriterOptions {
  custom: CustomObjectsApi;
  events: EventRecorder;
  /** Writes in flight at once. Default 8. */
  concurrency?: number;
  onError?: (op: string) => void;
}

/** Coalescing writer of ironlb state objects: the latest desired status per object, written once. */
type StateKind = 'ServiceAnnouncement' | 'NodeAnnouncement' | 'BGPSessionState' | 'ConfigurationState';

const writtenKey = (status: Record<string, unknown> | undefined, labels: Record<string, string> | undefined): string =>
  status === undefined ? '' : labels ? JSON.stringify([status, labels]) : JSON.stringify(status);

export class StatusWriter {
  #opts: StatusWriterOptions;
  #log = logger('speaker-status');
  #pending = new Map<string, Pending>();
  #written = new Map<string, string>();
  #inflight = new Set<string>();
  #inflightKey = new Map<string, string>();
  #rv = new Map<string, string>();
  /** Writes in flight that another writer's change overtook (forget() during the write). */
  #overtaken = new Set<string>();
  #idle: Array<() => void> = [];
  writes = 0;

  constructor(o: StatusWriterOptions) {
    this.#opts = o;
  }

  /** Desired status of an object (undefined deletes it). Unchanged contents are not written again. */
  set(kind: StateKind, namespace: string, name: string, status: Record<string, unknown> | undefined, after?: Pending['after'], labels?: Record<string, string>): void {
    const id = `${kind}/${namespace}/${name}`;
    const key = writtenKey(status, labels);
    const pend = this.#pending.get(id);
    if (!pend && (this.#inflight.has(id) ? this.#inflightKey.get(id) : this.#written.get(id)) === key) return;
    if (pend && pend.key === key) return;
    const p: Pending = { plural: KINDS[kind].plural, namespace, name, kind, status, key };
    if (labels) p.labels = labels;
    // A newer content replacing a pending one keeps the pending one's follow-up (an Event).
    const then = after ?? pend?.after;
    if (then) p.after = then;
    this.#pending.set(id, p);
    this.#pump();
  }

  /**
   * The object as the caller's cache holds it, before set() with `status`: when another writer
   * changed it since our last write (a transition with two writers, one with a stale view) and
   * left another status there, the next set() writes ours again even if we wrote it before. Our
   * own writes are told by resourceVersion; nothing is decided while a write is pending or in flight.
   */
  seen(kind: string, namespace: string, name: string, seen: SeenObject | undefined, status: object): void {
    const id = `${kind}/${namespace}/${name}`;
    if (seen && !this.#busy(id) && seen.metadata?.resourceVersion !== this.#rv.get(id) && !sameStatus(seen.status, status)) this.#written.delete(id);
  }

  /**
   * Takes an object found in the API (our own, from before a restart) as written, when its content
   * is the desired one: a restarted speaker does not rewrite every object it wrote before.
   */
  adopt(kind: StateKind, namespace: string, name: string, status: Record<string, unknown>, labels: Record<string, string> | undefined, resourceVersion: string | undefined): void {
    const id = `${kind}/${namespace}/${name}`;
    if (this.#written.has(id) || this.#pending.has(id) || this.#inflight.has(id)) return;
    this.#written.set(id, writtenKey(status, labels));
    if (resourceVersion) this.#rv.set(id, resourceVersion);
  }

  /** Whether set() has been called for this object (written, pending or in flight). */
  known(kind: string, namespace: string, name: string): boolean {
    const id = `${kind}/${namespace}/${name}`;
    return this.#written.has(id) || this.#pending.has(id) || this.#inflight.has(id);
  }

  /**
   * Forgets what was written (the object changed under us): the next set() writes again. A write
   * in flight may have landed before the change that made us forget (its answer comes later than
   * the watch event): it no longer counts as written, and a set() of its content while it is in
   * flight queues another write.
   */
  forget(kind: string, namespace: string, name: string): void {
    const id = `${kind}/${namespace}/${name}`;
    this.#written.delete(id);
    if (this.#inflight.has(id)) {
      this.#inflightKey.delete(id);
      this.#overtaken.add(id);
    }
  }

  /** resourceVersion of our last write of an object (to tell our writes from another writer's). */
  writtenVersion(kind: string, namespace: string, name: string): string | undefined {
    return this.#rv.get(`${kind}/${namespace}/${name}`);
  }

  #busy(id: string): boolean {
    return this.#inflight.has(id) || this.#pending.has(id);
  }

  /** Resolves when nothing is pending or in flight. */
  idle(): Promise<void> {
    if (this.#pending.size === 0 && this.#inflight.size === 0) return Promise.resolve();
    return new Promise((r) => this.#idle.push(r));
  }

  #pump(): void {
    const limit = this.#opts.concurrency ?? 8;
    for (const [id, p] of this.#pending) {
      if (this.#inflight.size >= limit) break;
      if (this.#inflight.has(id)) continue;
      this.#pending.delete(id);
      this.#inflight.add(id);
      this.#inflightKey.set(id, p.key);
      void this.#write(p)
        .then(
          (meta) => {
            const overtaken = this.#overtaken.has(id);
            if (!overtaken) this.#written.set(id, p.key);
            this.#log.debug({ object: id, resourceVersion: meta?.resourceVersion, ...(overtaken ? { overtaken } : {}) }, p.status === undefined ? 'status object deleted' : 'status object written');
            if (meta?.resourceVersion) this.#rv.set(id, meta.resourceVersion);
            else this.#rv.delete(id);
            return p.after?.(meta?.uid, meta?.previous);
          },
          (err: unknown) => {
            this.#written.delete(id);
            this.#opts.onError?.(p.kind);
            this.#log.warn({ object: id, err: errorText(err) }, 'cannot write status object; will write again on the next change');
          },
        )
        .finally(() => {
          this.#inflight.delete(id);
          this.#inflightKey.delete(id);
          this.#overtaken.delete(id);
          this.#pump();
          if (this.#pending.size === 0 && this.#inflight.size === 0) for (const r of this.#idle.splice(0)) r();
        });
    }
  }

  async #write(p: Pending): Promise<{ uid?: string; resourceVersion?: string; previous?: Record<string, unknown> } | undefined> {
    const { custom } = this.#opts;
    const base = { group: GROUP, version: VERSION, namespace: p.namespace, plural: p.plural };
    this.writes++;
    if (p.status === undefined) {
      try {
        await custom.deleteNamespacedCustomObject({ ...base, name: p.name });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      return undefined;
    }
    // BGPSessionState has no observedTime (lastTransitionTime says what matters there).
    const status = p.kind === 'BGPSessionState' ? p.status : { ...p.status, observedTime: new Date().toISOString() };
    const body = { apiVersion: API_VERSION, kind: p.kind, metadata: { name: p.name, namespace: p.namespace, ...(p.labels ? { labels: p.labels } : {}) }, status };
    type Obj = { metadata?: { uid?: string; resourceVersion?: string }; status?: Record<string, unknown> };
    let previous: Record<string, unknown> | undefined;
    const res = await retryOnConflict(async () => {
      try {
        const cur = (await custom.getNamespacedCustomObject({ ...base, name: p.name })) as Obj;
        previous = cur.status;
        return (await custom.replaceNamespacedCustomObject({ ...base, name: p.name, body: { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata?.resourceVersion } } })) as Obj;
      } catch (err) {
        if (!isNotFound(err)) throw err;
        previous = undefined;
        return (await custom.createNamespacedCustomObject({ ...base, body })) as Obj;
      }
    });
    return { ...res.metadata, ...(previous ? { previous } : {}) };
  }
}

export function configStatus(node: string, valid: boolean, message: string, errors: ConfigurationStateStatus['errors'], lastValidTime?: string): ConfigurationStateStatus {
  const st: ConfigurationStateStatus = { component: `speaker-${node}`, valid, message: message.slice(0, 32768), errors: (errors ?? []).slice(0, 100) };
  if (lastValidTime) st.lastValidTime = lastValidTime;
  return st;
}

export function sessionStatus(node: string, peer: string, s: { peerAddress: string; state: BGPSessionStateStatus['state']; bfdState?: BGPSessionStateStatus['bfdState']; advertised: number; lastError?: string; since: string }): BGPSessionStateStatus {
  const st: BGPSessionStateStatus = { node, peer, peerAddress: s.peerAddress, state: s.state, advertisedPrefixes: s.advertised, lastTransitionTime: s.since };
  if (s.bfdState) st.bfdState = s.bfdState;
  if (s.lastError) st.lastError = s.lastError.slice(0, 4096);
  return st;
}

export type { Labels };
