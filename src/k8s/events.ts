// Event recorder (core/v1 Events, as `kubectl describe` shows them). Repeats of the same event on
// the same object within a window bump the count of the existing Event instead of creating another.
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type CoreV1Event } from '@kubernetes/client-node';
import { logger } from '../util/log.ts';
import { clip } from '../util/text.ts';
import { errorText } from './errors.ts';

export interface ObjectRef {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

export type EventType = 'Normal' | 'Warning';

/** Events remembered for aggregation; beyond, the oldest are forgotten (their repeats start anew). */
const MAX_RECENT = 4096;

/** Longest Event message written (events.k8s.io caps `note` at 1 KiB; core/v1 has no cap). */
export const MAX_EVENT_MESSAGE = 1024;

export interface EventRecorderOptions {
  api: CoreV1Api;
  component: string;
  /** Namespace for Events about cluster-scoped objects. Default "default", as Kubernetes does. */
  clusterScopedNamespace?: string;
  /** Repeats within this window are aggregated. Default 10 min. */
  aggregateWindowMs?: number;
  host?: string;
}

interface Recent {
  name: string;
  namespace: string;
  count: number;
  first: Date;
  at: number;
}

export class EventRecorder {
  #opts: EventRecorderOptions;
  #recent = new Map<string, Recent>();
  #seq = 0;
  #log = logger('events');
  /** Failed Event writes: Events are best effort and never block the caller's work. */
  failures = 0;

  constructor(opts: EventRecorderOptions) {
    this.#opts = opts;
  }

  async record(obj: ObjectRef, type: EventType, reason: string, text: string): Promise<void> {
    // The last line of defence: callers clip each user value (so the rest of a message survives);
    // the whole message is bounded and printable here whatever they did.
    const message = clip(text, MAX_EVENT_MESSAGE);
    const namespace = obj.namespace || this.#opts.clusterScopedNamespace || 'default';
    const key = `${obj.kind}/${namespace}/${obj.name}/${obj.uid ?? ''}/${type}/${reason}/${message}`;
    const now = new Date();
    const window = this.#opts.aggregateWindowMs ?? 600_000;
    const prev = this.#recent.get(key);
    if (this.#recent.size > MAX_RECENT) this.#prune(now.getTime() - window);
    try {
      if (prev && now.getTime() - prev.at < window) {
        prev.count++;
        prev.at = now.getTime();
        // One merge patch of the two fields, no read first: this recorder is the Event's only writer.
        await this.#opts.api.patchNamespacedEvent({ name: prev.name, namespace: prev.namespace, body: { count: prev.count, lastTimestamp: now.toISOString() } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
        return;
      }
      const name = `${obj.name}.${now.getTime().toString(16)}${(this.#seq++ % 4096).toString(16).padStart(3, '0')}`;
      const body: CoreV1Event = {
        metadata: { name, namespace },
        involvedObject: {
          kind: obj.kind,
          name: obj.name,
          ...(obj.apiVersion ? { apiVersion: obj.apiVersion } : {}),
          ...(obj.namespace ? { namespace: obj.namespace } : {}),
          ...(obj.uid ? { uid: obj.uid } : {}),
          ...(obj.resourceVersion ? { resourceVersion: obj.resourceVersion } : {}),
        },
        type,
        reason,
        message,
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component: this.#opts.component, ...(this.#opts.host ? { host: this.#opts.host } : {}) },
        reportingComponent: this.#opts.component,
        reportingInstance: this.#opts.host ?? this.#opts.component,
      };
      await this.#opts.api.createNamespacedEvent({ namespace, body });
      this.#recent.set(key, { name, namespace, count: 1, first: now, at: now.getTime() });
    } catch (err) {
      this.failures++;
      this.#recent.delete(key);
      this.#log.warn({ err: errorText(err), reason, object: `${obj.kind}/${obj.name}` }, 'cannot write Event');
    }
  }

  #prune(before: number): void {
    for (const [k, v] of this.#recent) if (v.at < before) this.#recent.delete(k);
    // Still full (thousands of distinct Events within the window, as when a backlog of Services is
    // allocated): drop the oldest quarter, or every later record would scan the whole map again.
    if (this.#recent.size <= MAX_RECENT) return;
    let drop = this.#recent.size - (MAX_RECENT * 3) / 4;
    for (const k of this.#recent.keys()) {
      if (drop-- <= 0) break;
      this.#recent.delete(k);
    }
  }
}
