// The IPAllocated Events of first assignments, bounded when thousands are assigned at once (a
// controller starting on a backlog, a bulk create). As client-go's EventCorrelator filters spam
// with a token bucket, a bucket here decides which assignments get their own Event on the Service;
// the rest are summarised, one Event per pool and second on the IPPool, naming as many Services and
// addresses as fit. An Event is a write as costly to the API server as the status patch itself, so
// a burst of N assignments costs about N writes instead of 2N.
// Only first assignments come here: every move and release keeps its own Event on the Service,
// naming the addresses (docs/reference.md, "When an address is released"), and so does every
// warning; each Service's status names its addresses and pool whatever the Events say, and the
// controller logs every assignment.
import { MAX_EVENT_MESSAGE, TokenBucket, type EventRecorder, type ObjectRef } from '../k8s/index.ts';

export interface AllocationEventsOptions {
  recorder: EventRecorder;
  /** The reference of an IPPool (with its uid when known), for the pool's summary Event. */
  poolRef: (pool: string) => ObjectRef;
  /** Own Events at once before summaries start. Default 100. */
  burst?: number;
  /** Own Events per second sustained beyond the burst. Default 20. */
  perSecond?: number;
  /** How long assignments are gathered into one summary. Default 1 s. */
  summaryDelayMs?: number;
}

/** Defaults: a few Services now and then always get their own Event; a backlog is summarised. */
export const ALLOCATION_EVENTS = { burst: 100, perSecond: 20, summaryDelayMs: 1000 } as const;

/** Items kept per pool and summary: more would not fit in one Event's message anyway. */
const MAX_ITEMS = 100;

interface Batch {
  items: string[];
  count: number;
}

export class AllocationEvents {
  #opts: AllocationEventsOptions;
  #bucket: TokenBucket;
  #batches = new Map<string, Batch>();
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  /** Assignments told only in a pool's summary, and summaries written (for metrics-minded tests and benches). */
  summarised = 0;
  summaries = 0;

  constructor(o: AllocationEventsOptions) {
    this.#opts = o;
    this.#bucket = new TokenBucket({ qps: o.perSecond ?? ALLOCATION_EVENTS.perSecond, burst: o.burst ?? ALLOCATION_EVENTS.burst });
  }

  /** Records a first assignment: its own Event on the Service while the bucket allows, else in the pool's summary. */
  assigned(service: ObjectRef, pool: string, addresses: readonly string[], message: string): Promise<void> {
    if (this.#bucket.tryTake()) return this.#opts.recorder.record(service, 'Normal', 'IPAllocated', message);
    const b = this.#batches.get(pool) ?? { items: [], count: 0 };
    this.#batches.set(pool, b);
    b.count++;
    if (b.items.length < MAX_ITEMS) b.items.push(`${service.namespace ?? ''}/${service.name} ${addresses.join(', ')}`);
    this.summarised++;
    this.#timer ??= setTimeout(() => void this.flush(), this.#opts.summaryDelayMs ?? ALLOCATION_EVENTS.summaryDelayMs);
    return Promise.resolve();
  }

  /** Writes the summaries gathered so far (resolves when they and any earlier ones are written). */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batches = [...this.#batches];
    this.#batches.clear();
    this.#writing = this.#writing.then(async () => {
      for (const [pool, b] of batches) {
        this.summaries++;
        await this.#opts.recorder.record(this.#opts.poolRef(pool), 'Normal', 'IPAllocated', summaryMessage(pool, b.count, b.items));
      }
    });
    return this.#writing;
  }
}

/** "Assigned addresses of pool P to N Services at once (...): ns/a 10.0.0.1; ns/b 10.0.0.2; ... and K more", within MAX_EVENT_MESSAGE. */
export function summaryMessage(pool: string, count: number, items: readonly string[]): string {
  const head = `Assigned addresses of pool ${pool} to ${count} Service${count === 1 ? '' : 's'} at once (their own IPAllocated Events left out; each Service's status names its addresses): `;
  let text = head;
  let shown = 0;
  for (const item of items) {
    const more = count - shown - 1;
    const tail = more > 0 ? ` and ${more} more` : '';
    const next = `${shown ? `${text}; ` : text}${item}`;
    // Room kept for the longest " and K more" that can follow.
    if (next.length + (more > 0 ? ` and ${count} more`.length : tail.length) > MAX_EVENT_MESSAGE) break;
    text = next;
    shown++;
  }
  return shown < count ? `${text}${shown ? ' ' : ''}and ${count - shown} more` : text;
}
