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
    this.#inf = new ListWatch<T>(opts.path, new Watch(opts.kc), list, false, opts.labelSelector, opts.fieldSelector);
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
