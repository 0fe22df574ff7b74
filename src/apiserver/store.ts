// The in-memory object store: one map per resource, one global resourceVersion counter (as etcd's
// revision), and per resource a bounded history of events so that watches resume from a version and
// really do expire (410 Gone) once that version has left the history.
import { randomUUID } from 'node:crypto';
import { alreadyExists, conflict, gone, notFound } from './errors.ts';
import { resourceKey, type ResourceDescriptor } from './resources.ts';

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: unknown[];
  [k: string]: unknown;
}

/** A stored object. Stored objects are never mutated in place: every write stores a new one. */
export interface KObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [k: string]: unknown;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: EventType;
  object: KObject;
  /** The object before this change (MODIFIED), so watchers with selectors can turn it into ADDED/DELETED. */
  old?: KObject;
  rv: number;
}

export interface StoreWatcher {
  onEvent(ev: StoreEvent): void;
}

class ResourceState {
  readonly objects = new Map<string, KObject>();
  readonly history: StoreEvent[] = [];
  /** rv of the newest event dropped from the history: a watch from an older version has expired. */
  droppedUpTo = 0;
  readonly watchers = new Set<StoreWatcher>();
}

export interface StoreOptions {
  /** Events kept per resource for watch resumption; older versions get 410 Gone. */
  historyLimit?: number;
}

export function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

function now(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)];
  return s;
}

/** Everything except metadata and status: a change here bumps metadata.generation. */
function specPart(o: KObject): string {
  const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
  return JSON.stringify(rest);
}

export class Store {
  private rv = 0;
  private readonly resources = new Map<string, ResourceState>();
  private readonly historyLimit: number;

  constructor(opts: StoreOptions = {}) {
    this.historyLimit = Math.max(1, opts.historyLimit ?? 10_000);
  }

  get resourceVersion(): number {
    return this.rv;
  }

  private state(d: ResourceDescriptor): ResourceState {
    const k = resourceKey(d);
    let s = this.resources.get(k);
    if (!s) {
      s = new ResourceState();
      this.resources.set(k, s);
    }
    return s;
  }

  get(d: ResourceDescriptor, namespace: string | undefined, name: string): KObject | undefined {
    return this.state(d).objects.get(objectKey(d.namespaced ? namespace : undefined, name));
  }

  mustGet(d: ResourceDescriptor, namespace: string | undefined, name: string): KObject {
    const o = this.get(d, namespace, name);
    if (!o) throw notFound(d.plural, d.group, name);
    return o;
  }

  /** Objects of a resource, in one namespace or all, sorted by namespace/name (stable for limit/continue). */
  list(d: ResourceDescriptor, namespace?: string): { items: KObject[]; resourceVersion: number } {
    const out: KObject[] = [];
    for (const o of this.state(d).objects.values()) {
      if (namespace && d.namespaced && o.metadata.namespace !== namespace) continue;
      out.push(o);
    }
    out.sort((a, b) => cmp(objectKey(a.metadata.namespace, a.metadata.name ?? ''), objectKey(b.metadata.namespace, b.metadata.name ?? '')));
    return { items: out, resourceVersion: this.rv };
  }

  count(d: ResourceDescriptor): number {
    return this.state(d).objects.size;
  }

  create(d: ResourceDescriptor, obj: KObject): KObject {
    const s = this.state(d);
    const meta: ObjectMeta = { ...obj.metadata };
    if (!d.namespaced) delete meta.namespace;
    if (!meta.name && meta.generateName) {
      // Retry a few times on the (unlikely) collision of a generated name, as the real server does.
      for (let i = 0; i < 8 && (!meta.name || s.objects.has(objectKey(meta.namespace, meta.name))); i++) meta.name = meta.generateName + randomSuffix();
    }
    const name = meta.name ?? '';
    const key = objectKey(meta.namespace, name);
    if (s.objects.has(key)) throw alreadyExists(d.plural, d.group, name);
    const rv = ++this.rv;
    meta.uid = randomUUID();
    meta.resourceVersion = String(rv);
    meta.creationTimestamp = now();
    meta.generation = 1;
    delete meta.deletionTimestamp;
    const stored: KObject = { ...obj, metadata: meta };
    s.objects.set(key, stored);
    this.emit(s, { type: 'ADDED', object: stored, rv });
    return stored;
  }

  /**
   * Replaces an object. A non-empty metadata.resourceVersion must equal the stored one (409 Conflict
   * otherwise). Identity fields are kept from the stored object. Removing the last finalizer of an
   * object being deleted completes the deletion.
   */
  update(d: ResourceDescriptor, obj: KObject): KObject {
    const s = this.state(d);
    const name = obj.metadata.name ?? '';
    const key = objectKey(d.namespaced ? obj.metadata.namespace : undefined, name);
    const cur = s.objects.get(key);
    if (!cur) throw notFound(d.plural, d.group, name);
    const want = obj.metadata.resourceVersion;
    if (want && want !== cur.metadata.resourceVersion) {
      throw conflict(d.plural, d.group, name, 'the object has been modified; please apply your changes to the latest version and try again');
    }
    const meta: ObjectMeta = {
      ...obj.metadata,
      uid: cur.metadata.uid,
      creationTimestamp: cur.metadata.creationTimestamp,
      generation: (cur.metadata.generation ?? 1) + (specPart(obj) !== specPart(cur) ? 1 : 0),
    };
    if (cur.metadata.deletionTimestamp) {
      meta.deletionTimestamp = cur.metadata.deletionTimestamp;
      meta.deletionGracePeriodSeconds = cur.metadata.deletionGracePeriodSeconds ?? 0;
    } else {
      delete meta.deletionTimestamp;
      delete meta.deletionGracePeriodSeconds;
    }
    if (!d.namespaced) delete meta.namespace;
    if (meta.finalizers && meta.finalizers.length === 0) delete meta.finalizers;
    const rv = ++this.rv;
    meta.resourceVersion = String(rv);
    const stored: KObject = { ...obj, metadata: meta };
    if (meta.deletionTimestamp && !meta.finalizers?.length) {
      s.objects.delete(key);
      this.emit(s, { type: 'DELETED', object: stored, rv });
      return stored;
    }
    s.objects.set(key, stored);
    this.emit(s, { type: 'MODIFIED', object: stored, old: cur, rv });
    return stored;
  }

  /**
   * Deletes an object, or marks it (deletionTimestamp) while finalizers remain unless `force`.
   * `preconditionRv`/`preconditionUid` give 409 when they no longer match.
   */
  delete(d: ResourceDescriptor, namespace: string | undefined, name: string, opts: { force?: boolean; preconditionRv?: string; preconditionUid?: string } = {}): KObject {
    const s = this.state(d);
    const key = objectKey(d.namespaced ? namespace : undefined, name);
    const cur = s.objects.get(key);
    if (!cur) throw notFound(d.plural, d.group, name);
    if (opts.preconditionRv && opts.preconditionRv !== cur.metadata.resourceVersion) {
      throw conflict(d.plural, d.group, name, `the ResourceVersion in the precondition (${opts.preconditionRv}) does not match the ResourceVersion in record (${cur.metadata.resourceVersion}). The object might have been modified`);
    }
    if (opts.preconditionUid && opts.preconditionUid !== cur.metadata.uid) {
      throw conflict(d.plural, d.group, name, `the UID in the precondition (${opts.preconditionUid}) does not match the UID in record (${cur.metadata.uid}). The object might have been deleted and then recreated`);
    }
    const rv = ++this.rv;
    if (!opts.force && cur.metadata.finalizers?.length) {
      if (cur.metadata.deletionTimestamp) {
        this.rv--; // nothing changes: deletion already pending
        return cur;
      }
      const marked: KObject = { ...cur, metadata: { ...cur.metadata, deletionTimestamp: now(), deletionGracePeriodSeconds: 0, resourceVersion: String(rv) } };
      s.objects.set(key, marked);
      this.emit(s, { type: 'MODIFIED', object: marked, old: cur, rv });
      return marked;
    }
    s.objects.delete(key);
    // The real server reports the deletion with a fresh resourceVersion on the deleted object.
    const gone: KObject = { ...cur, metadata: { ...cur.metadata, resourceVersion: String(rv) } };
    this.emit(s, { type: 'DELETED', object: gone, rv });
    return gone;
  }

  /** Removes every object of every namespaced resource in `namespace` (namespace deletion). */
  deleteNamespaceContents(all: readonly ResourceDescriptor[], namespace: string): void {
    const seen = new Set<string>();
    for (const d of all) {
      if (!d.namespaced || seen.has(resourceKey(d))) continue;
      seen.add(resourceKey(d));
      for (const o of this.list(d, namespace).items) this.delete(d, namespace, o.metadata.name ?? '', { force: true });
    }
  }

  /** Removes every object of a resource (its CRD was deleted). */
  dropResource(d: ResourceDescriptor): void {
    for (const o of this.list(d).items) this.delete(d, o.metadata.namespace, o.metadata.name ?? '', { force: true });
  }

  /**
   * Subscribes to a resource's changes after `fromRv` and returns the events already missed.
   * Throws 410 Gone when `fromRv` is older than the kept history.
   */
  watch(d: ResourceDescriptor, fromRv: number | undefined, w: StoreWatcher): { replay: StoreEvent[]; stop: () => void } {
    const s = this.state(d);
    let replay: StoreEvent[] = [];
    if (fromRv !== undefined) {
      if (fromRv < s.droppedUpTo) throw gone(`too old resource version: ${fromRv} (${s.droppedUpTo + 1})`);
      replay = s.history.slice(firstAfter(s.history, fromRv));
    }
    s.watchers.add(w);
    return { replay, stop: () => s.watchers.delete(w) };
  }

  watcherCount(): number {
    let n = 0;
    for (const s of this.resources.values()) n += s.watchers.size;
    return n;
  }

  private emit(s: ResourceState, ev: StoreEvent): void {
    s.history.push(ev);
    // Trim in batches so that the cost stays amortised O(1) per write.
    if (s.history.length > this.historyLimit * 2 || (s.history.length > this.historyLimit && this.historyLimit < 64)) {
      const drop = s.history.length - this.historyLimit;
      s.droppedUpTo = s.history[drop - 1]!.rv;
      s.history.splice(0, drop);
    }
    for (const w of [...s.watchers]) w.onEvent(ev);
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Index of the first event with rv > `rv` (history is sorted by rv). */
function firstAfter(h: readonly StoreEvent[], rv: number): number {
  let lo = 0;
  let hi = h.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (h[mid]!.rv <= rv) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
