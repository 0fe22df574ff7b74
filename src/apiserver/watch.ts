// Watch streams: JSON lines of {type, object} over a chunked HTTP response, resumed from a
// resourceVersion (410 Gone as an ERROR event once it has left the history), filtered by
// namespace and selectors (an object leaving a selector is seen as DELETED), with bookmarks.
import type { ServerResponse } from 'node:http';
import type { ApiCore } from './core.ts';
import { ApiError } from './errors.ts';
import { apiVersionOf, type ResourceDescriptor } from './resources.ts';
import { matchFields, matchLabels, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import type { KObject, StoreEvent } from './store.ts';
import { printerFor, toTable } from './table.ts';

export interface WatchParams {
  namespace: string | undefined;
  resourceVersion: string | null;
  labelSelector: string | null;
  fieldSelector: string | null;
  allowWatchBookmarks: boolean;
  sendInitialEvents: boolean;
  timeoutSeconds: number | null;
  /** Rows as meta.k8s.io Tables (kubectl get -w); includeObject value. */
  table: string | null;
}

export interface WatchLimits {
  bookmarkIntervalMs: number;
  /** A watcher this far behind (bytes queued) is disconnected; the client reconnects and catches up. */
  maxBufferedBytes: number;
  /** Upper bound of a watch's life when the client sets no timeoutSeconds. */
  maxTimeoutSeconds: number;
}

// One serialised event line per stored object and event type, shared by every watcher of it
// (many watchers in the lab); objects in another apiVersion than stored are serialised apart.
const lineCache = new WeakMap<KObject, Map<string, string>>();

function eventLine(core: ApiCore, d: ResourceDescriptor, type: string, o: KObject): string {
  if (o.apiVersion !== apiVersionOf(d) || o.kind !== d.kind) return `{"type":"${type}","object":${JSON.stringify(core.output(d, o))}}\n`;
  let m = lineCache.get(o);
  if (m === undefined) {
    m = new Map();
    lineCache.set(o, m);
  }
  let s = m.get(type);
  if (s === undefined) {
    s = `{"type":"${type}","object":${JSON.stringify(o)}}\n`;
    m.set(type, s);
  }
  return s;
}

/** Streams a watch on `res`; returns a function that ends it (undefined when it ended already). */
export function serveWatch(core: ApiCore, d: ResourceDescriptor, p: WatchParams, res: ServerResponse, limits: WatchLimits): (() => void) | undefined {
  const labels = parseLabelSelector(p.labelSelector);
  const fields = parseFieldSelector(p.fieldSelector);
  const matches = (o: KObject | undefined): boolean =>
    o !== undefined && (!d.namespaced || !p.namespace || o.metadata.namespace === p.namespace) && matchLabels(labels, o.metadata.labels) && matchFields(fields, o);
  const printer = p.table !== null ? printerFor(d, core.printerColumns(d)) : undefined;
  let lastRv = core.store.resourceVersion;
  let closed = false;

  const line = (type: string, o: KObject): void => {
    if (closed) return;
    res.write(printer ? `{"type":"${type}","object":${JSON.stringify(toTable(printer, [core.output(d, o)], { resourceVersion: o.metadata.resourceVersion }, p.table))}}\n` : eventLine(core, d, type, o));
    if (res.writableLength > limits.maxBufferedBytes) stop(); // a stalled reader must not grow memory without bound
  };
  const bookmark = (annotations?: Record<string, string>): void => {
    if (closed) return;
    const metadata: Record<string, unknown> = { resourceVersion: String(lastRv) };
    if (annotations) metadata.annotations = annotations;
    res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: d.kind, apiVersion: apiVersionOf(d), metadata } })}\n`);
  };

  const deliver = (ev: StoreEvent): void => {
    lastRv = ev.rv;
    const now = matches(ev.object);
    if (ev.type === 'MODIFIED') {
      const before = matches(ev.old);
      if (now && before) line('MODIFIED', ev.object);
      else if (now) line('ADDED', ev.object);
      else if (before) line('DELETED', ev.object);
    } else if (now) line(ev.type, ev.object);
  };

  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
  // Clients wait for the headers before they consider the watch open: send them before any event.
  res.flushHeaders();

  const rv = p.resourceVersion;
  const fresh = rv === null || rv === '' || rv === '0';
  let from: number | undefined;
  if (!fresh) {
    from = Number(rv);
    if (!Number.isInteger(from) || from < 0) {
      res.end(`${JSON.stringify({ type: 'ERROR', object: new ApiError(400, 'BadRequest', `invalid resourceVersion "${rv}": use a value from metadata.resourceVersion`).toStatus() })}\n`);
      return undefined;
    }
  }
  let sub: { replay: StoreEvent[]; stop: () => void };
  try {
    sub = core.store.watch(d, fresh ? core.store.resourceVersion : from, { onEvent: deliver });
  } catch (err) {
    const status = err instanceof ApiError ? err.toStatus() : new ApiError(500, 'InternalError', String(err)).toStatus();
    res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
    return undefined;
  }
  // A watch without a version starts with the current state as ADDED events (synthetic, like the real server).
  if (fresh) {
    for (const o of core.store.list(d, d.namespaced ? (p.namespace ?? undefined) : undefined).items) if (matches(o)) line('ADDED', o);
    if (p.sendInitialEvents && p.allowWatchBookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
  }
  for (const ev of sub.replay) deliver(ev);

  const timers: NodeJS.Timeout[] = [];
  function stop(): void {
    if (closed) return;
    closed = true;
    sub.stop();
    for (const t of timers) clearTimeout(t);
    res.end();
  }
  const timeout = Math.min(p.timeoutSeconds ?? limits.maxTimeoutSeconds, limits.maxTimeoutSeconds);
  timers.push(setTimeout(stop, timeout * 1000));
  if (p.allowWatchBookmarks) {
    const iv = setInterval(() => bookmark(), limits.bookmarkIntervalMs);
    timers.push(iv);
    iv.unref();
  }
  timers[0]!.unref();
  res.on('close', stop);
  res.on('error', stop);
  return closed ? undefined : stop;
}
