// A list+watch cache over client-node's informer. client-node resumes a watch from the last
// resourceVersion seen and relists on 410 Gone; on any other error it stops, so this wrapper
// restarts it after a delay (resuming from the same resourceVersion) until stopped.
//
// At 100,000 objects what the cache holds decides the process's size: a `transform` replaces each
// object (listed or watched) by the part its reader needs before the cache takes it, and `listPage`
// lists in pages, each transformed before the next is fetched, so the whole list never exists at
// once in its full form (nor as one response body).
import { ListWatch, Watch, type KubeConfig, type KubernetesObject, type KubernetesListObject } from '@kubernetes/client-node';
import { logger } from '../util/log.ts';
import { errorText } from './errors.ts';
import type { GetJson } from './client.ts';
import { dropManagedFields } from './json-text.ts';

export type InformerEvent = 'add' | 'update' | 'delete';

export interface InformerOptions<T extends KubernetesObject> {
  kc: KubeConfig;
  /** Name for logs, e.g. "services". */
  name: string;
  /** Watch path, e.g. /api/v1/services or /apis/ironlb.io/v1alpha1/ippools. */
  path: string;
  /** The whole list in one call; or see `listPage`. */
  list: () => Promise<KubernetesListObject<T>>;
  /**
   * One page of the list (`limit`, `_continue` as the API takes them). When given, the initial list
   * and every relist use it instead of `list`, `pageSize` objects per request.
   */
  listPage?: ListPage<T>;
  /** Objects per page with `listPage`. Default 500, as client-go's pager. */
  pageSize?: number;
  labelSelector?: string;
  /**
   * e.g. `metadata.name=ironlb-membership`: with it, RBAC's resourceNames apply to the list and the
   * watch, so a component can cache one named object without the right to list every one.
   */
  fieldSelector?: string;
  /** Delay before restarting after an error (doubles up to MAX_RESTART_DELAY_MS, with jitter). Default 500 ms. */
  restartDelayMs?: number;
  /**
   * Fields dropped from every cached object as it arrives (listed or watched): managedFields and
   * kubectl's last-applied annotation by default; at 100,000 Services they are most of the cache.
   */
  trim?: false | ((obj: T) => void);
  /**
   * Replaces every object, listed or watched, before the cache takes it (handlers receive the
   * result). Must keep metadata.name, namespace and resourceVersion. Supersedes `trim`.
   */
  transform?: (obj: T) => T;
}

/**
 * One page of a list. Given `prepare`, a page may apply it to its objects itself (as it reads them)
 * and say so with `prepared: true`; otherwise the informer applies it.
 */
export type ListPage<T extends KubernetesObject> = (page: { limit: number; _continue?: string }, prepare?: (obj: T) => T) => Promise<KubernetesListObject<T> & { prepared?: boolean }>;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A ListPage of `path` as plain JSON (Clients.getJson): the objects as the API server sent them,
 * timestamps as strings (as watch events carry them), without client-node's typed deserialization
 * (class instances and Dates for every object and field, then dropped by the transform), and
 * without managedFields (cut from the text before it is parsed: json-text.ts). Each object is
 * parsed and prepared on its own as the body arrives (getJson's onItem), yielding to the event loop
 * every few milliseconds: a page never exists whole, as text or as objects, and one holding huge
 * objects does not hold the loop.
 */
export function jsonListPage<T extends KubernetesObject>(getJson: GetJson, path: string): ListPage<T> {
  return async ({ limit, _continue }, prepare) => {
    const items: T[] = [];
    const onItem = (text: string): void => {
      const o = JSON.parse(dropManagedFields(text)) as T;
      items.push(prepare ? prepare(o) : o);
    };
    const l = (await getJson(path, { limit, continue: _continue }, { onItem })) as { metadata?: { resourceVersion?: unknown; continue?: unknown } } | null;
    const m = l?.metadata;
    const str = (x: unknown) => (typeof x === 'string' && x !== '' ? x : undefined);
    return { apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: str(m?.resourceVersion), _continue: str(m?.continue) }, prepared: true };
  };
}

/** Bound on the pages of one list (at 500 a page: 50 million objects). */
const MAX_PAGES = 100_000;


/** The list from `listPage`, page by page, each object prepared as it arrives. */
async function pagedList<T extends KubernetesObject>(listPage: ListPage<T>, limit: number, prepare: ((obj: T) => T) | undefined): Promise<KubernetesListObject<T>> {
  const items: T[] = [];
  let cont: string | undefined;
  for (let n = 0; n < MAX_PAGES; n++) {
    const page = await listPage(cont === undefined ? { limit } : { limit, _continue: cont }, prepare);
    for (const o of page.items) items.push(prepare && !page.prepared ? prepare(o) : o);
    cont = page.metadata?._continue || undefined;
    // The resourceVersion of a paged list is the first page's, repeated on every page: the watch
    // resumes from the snapshot the pages came from.
    if (cont === undefined) {
      const { prepared: _p, ...rest } = page;
      return { ...rest, items, metadata: { ...page.metadata } };
    }
    await nextTurn(); // between pages, the process's other work (health probes) runs
  }
  throw new Error(`list did not end within ${MAX_PAGES} pages of ${limit}`);
}


/** Drops what no ironlb component reads: managedFields and kubectl's last-applied copy of the object. */
export function trimMetadata(obj: KubernetesObject): void {
  const m = obj.metadata;
  if (!m) return;
  delete m.managedFields;
  if (m.annotations && 'kubectl.kubernetes.io/last-applied-configuration' in m.annotations) {
    const { 'kubectl.kubernetes.io/last-applied-configuration': _dropped, ...rest } = m.annotations;
    m.annotations = rest;
  }
}

/**
 * The longest wait between attempts while the API server is away: short enough that components are
 * back within seconds of its return, long enough (with jitter) that a thousand speakers do not
 * arrive at once.
 */
export const MAX_RESTART_DELAY_MS = 8_000;

/**
 * With no event for this long a watch is taken for dead and restarted. client-node's default is 30 s,
 * so every quiet resource reconnected twice a minute: a new TLS connection each time (a speaker
 * watches about fifteen resources, so about one handshake every two seconds per node, on every node
 * and at the API server, measured as most of an idle speaker's CPU: docs/performance.md, Footprint).
 * Bookmarks (below) arrive about once a minute on a healthy watch, so this only fires on a dead one.
 */
export const WATCH_IDLE_TIMEOUT_MS = 150_000;

/** The server ends each watch after 5-10 minutes (as client-go asks), spread so restarts do not align. */
const watchTimeoutSeconds = (): number => 300 + Math.floor(Math.random() * 300);

/**
 * client-node's Watch, asking for bookmarks (the server keeps the watch alive with them and they
 * carry the resourceVersion to resume from, so a restart rarely needs a relist) and for a
 * server-side timeout, with the idle timeout above; each object is handed through `prepare` when
 * given (errors and bookmarks as they are).
 */
class InformerWatch<T> extends Watch {
  #prepare: ((obj: T) => T) | undefined;
  constructor(kc: KubeConfig, prepare: ((obj: T) => T) | undefined) {
    super(kc);
    this.#prepare = prepare;
    // Declared private in client-node's types, but a plain field it reads on every watch.
    (this as unknown as { requestTimeoutMs: number }).requestTimeoutMs = WATCH_IDLE_TIMEOUT_MS;
  }

  override watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void, done: (err: unknown) => void): Promise<AbortController> {
    const prepare = this.#prepare;
    const cb = prepare ? (phase: string, obj: unknown, raw?: unknown) => callback(phase, phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED' ? prepare(obj as T) : obj, raw) : callback;
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true, timeoutSeconds: watchTimeoutSeconds() }, cb, done);
  }
}

/** delay × [0.75, 1.25): spreads the attempts of many processes that failed at the same moment. */
const jitter = (ms: number): number => Math.round(ms * (0.75 + Math.random() * 0.5));


export class Informer<T extends KubernetesObject> {
  readonly name: string;
  #inf: ListWatch<T>;
  #opts: InformerOptions<T>;
  #synced = false;
  #stopped = false;
  #failed: unknown = undefined;
  #timer: NodeJS.Timeout | undefined;
  #delay: number;
  #log;
  /** Watch errors seen (for metrics and tests). */
  errors = 0;

  constructor(opts: InformerOptions<T>) {
    this.name = opts.name;
    this.#opts = opts;
    this.#delay = opts.restartDelayMs ?? 500;
    this.#log = logger('informer', { resource: opts.name });
    const trim = opts.trim === false ? undefined : (opts.trim ?? trimMetadata);
    const prepare: ((obj: T) => T) | undefined =
      opts.transform ??
      (trim
        ? (o: T) => {
            trim(o);
            return o;
          }
        : undefined);
    const { listPage } = opts;
    const pageSize = Math.max(1, Math.floor(opts.pageSize ?? 500));
    const list = listPage
      ? () => pagedList(listPage, pageSize, prepare)
      : prepare
        ? async (): Promise<KubernetesListObject<T>> => {
            const l = await opts.list();
            return { ...l, items: l.items.map(prepare) };
          }
        : opts.list;
    const watch = new InformerWatch<T>(opts.kc, prepare);
    this.#inf = new ListWatch<T>(opts.path, watch, list, false, opts.labelSelector, opts.fieldSelector);
    this.#inf.on('error', (err: unknown) => {
      this.errors++;
      this.#failed = err ?? new Error('watch failed');
      if (!this.#synced || this.#stopped) return; // start() retries during the initial sync
      this.#log.warn({ err: errorText(err), retryInMs: this.#delay }, 'watch failed; restarting from the last resourceVersion');
      this.#scheduleRestart();
    });
  }

  on(event: InformerEvent, cb: (obj: T) => void): void {
    this.#inf.on(event, cb);
  }

  get synced(): boolean {
    return this.#synced;
  }

  /** Lists, then watches. Resolves once the first list succeeded (retrying until then), or on stop. */
  async start(): Promise<void> {
    this.#stopped = false;
    let delay = this.#delay;
    for (let attempt = 0; !this.#stopped; attempt++) {
      this.#failed = undefined;
      await this.#inf.start();
      if (this.#failed === undefined) {
        this.#synced = true;
        return;
      }
      this.#log.warn({ err: errorText(this.#failed), attempt, retryInMs: delay }, 'initial list failed; retrying');
      await new Promise<void>((resolve) => {
        this.#timer = setTimeout(resolve, jitter(delay));
      });
      delay = Math.min(delay * 2, MAX_RESTART_DELAY_MS);
    }
  }

  #scheduleRestart(): void {
    clearTimeout(this.#timer);
    const delay = jitter(this.#delay);
    this.#delay = Math.min(this.#delay * 2, MAX_RESTART_DELAY_MS);
    this.#timer = setTimeout(() => {
      if (this.#stopped) return;
      this.#failed = undefined;
      this.#inf.start().then(
        () => {
          if (this.#failed === undefined) this.#delay = this.#opts.restartDelayMs ?? 500;
        },
        (err: unknown) => this.#log.warn({ err: errorText(err) }, 'restart failed'),
      );
    }, delay);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#inf.stop();
  }

  list(namespace?: string): readonly T[] {
    if (namespace) return this.#inf.list(namespace);
    // client-node's list() spreads each namespace's objects into one push(): past about 120,000
    // objects in one namespace that overflows the stack. Its per-namespace maps, read directly.
    const byNs = (this.#inf as unknown as { objects?: unknown }).objects;
    if (!(byNs instanceof Map)) return this.#inf.list();
    const all: T[] = [];
    for (const objs of (byNs as Map<string, Map<string, T>>).values()) for (const o of objs.values()) all.push(o);
    return all;
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#inf.get(name, namespace);
  }
}
