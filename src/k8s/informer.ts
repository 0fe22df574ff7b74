// A list+watch cache over client-node's informer. client-node resumes a watch from the last
// resourceVersion seen and relists on 410 Gone; on any other error it stops, so this wrapper
// restarts it after a delay (resuming from the same resourceVersion) until stopped.
import { ListWatch, Watch, type KubeConfig, type KubernetesObject, type KubernetesListObject } from '@kubernetes/client-node';
import { logger } from '../util/log.ts';
import { errorText } from './errors.ts';

export type InformerEvent = 'add' | 'update' | 'delete';

export interface InformerOptions<T extends KubernetesObject> {
  kc: KubeConfig;
  /** Name for logs, e.g. "services". */
  name: string;
  /** Watch path, e.g. /api/v1/services or /apis/ironlb.io/v1alpha1/ippools. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
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
 * server-side timeout, with the idle timeout above.
 */
class BookmarkWatch extends Watch {
  constructor(kc: KubeConfig) {
    super(kc);
    // Declared private in client-node's types, but a plain field it reads on every watch.
    (this as unknown as { requestTimeoutMs: number }).requestTimeoutMs = WATCH_IDLE_TIMEOUT_MS;
  }

  override watch(...[path, query, callback, done]: Parameters<Watch['watch']>): Promise<AbortController> {
    return super.watch(path, { ...query, allowWatchBookmarks: true, timeoutSeconds: watchTimeoutSeconds() }, callback, done);
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
    // Listed objects are trimmed before the cache takes them; watched ones by the first handlers,
    // which receive the cached object itself.
    const list = trim
      ? async (): Promise<KubernetesListObject<T>> => {
          const l = await opts.list();
          for (const o of l.items) trim(o);
          return l;
        }
      : opts.list;
    this.#inf = new ListWatch<T>(opts.path, new BookmarkWatch(opts.kc), list, false, opts.labelSelector, opts.fieldSelector);
    if (trim) {
      this.#inf.on('add', trim);
      this.#inf.on('update', trim);
    }
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
    return this.#inf.list(namespace);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.#inf.get(name, namespace);
  }
}
