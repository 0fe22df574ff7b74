// `ironlb dashboard`: a local web page (127.0.0.1 only) of what the cluster's ironlb is doing,
// kept current from watches (StatusWatcher) and pushed to the page with server-sent events.
// Speakers' own views (membership, quorum) come from their /metrics through a source scraped at a
// bounded interval. With the operator's kubeconfig it only reads (list, watch, get); a lab, when
// one is injected (testbed/lab: `ironlb lab dashboard`), adds fault buttons.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { KubernetesObject, V1Node } from '@kubernetes/client-node';
import { expandAnnouncements, type NodeAnnouncement, type ServiceAnnouncement } from '../api/index.ts';
import type { Clients } from '../k8s/index.ts';
import { StatusWatcher, type StatusReport } from '../status/index.ts';
import type { ClassPolicy } from '../api/index.ts';
import { logger } from '../util/log.ts';
import type { SpeakerMetricsSource, SpeakerView } from './metrics.ts';
import { Timeline, type TimelineEntry } from './timeline.ts';

/** What a lab adds: fault actions on nodes (the product never imports the lab). */
export interface DashboardLab {
  name: string;
  actions: ReadonlyArray<{ id: string; label: string; effect: 'down' | 'up' }>;
  /** Runs an action on a node; resolves with the time the fault took effect (ms since the epoch). */
  run(action: string, node: string): Promise<number>;
  /** Per node: what the lab did to it (for the buttons). */
  nodeState(): Record<string, { stopped?: boolean; cut?: boolean }>;
}

export interface DashboardNode {
  name: string;
  ready: boolean;
  addresses: string[];
  speaker?: SpeakerView;
  lab?: { stopped?: boolean; cut?: boolean };
}

export interface DashboardState {
  time: number;
  report?: StatusReport;
  nodes: DashboardNode[];
  timeline: TimelineEntry[];
  lab?: { name: string; actions: DashboardLab['actions'] };
}

export interface DashboardOptions {
  clients: Clients;
  /** ironlb's namespace. */
  namespace?: string;
  classPolicy?: ClassPolicy;
  /** Loopback port; 0 picks a free one. */
  port?: number;
  metrics?: SpeakerMetricsSource;
  /** Between two scrapes of every speaker. Default 5000 ms. */
  metricsIntervalMs?: number;
  /** Least time between two pushes to the page. Default 250 ms. */
  pushIntervalMs?: number;
  lab?: DashboardLab;
}

export interface Dashboard {
  url: string;
  port: number;
  state(): DashboardState;
  close(): Promise<void>;
}

const PUBLIC = fileURLToPath(new URL('./public/', import.meta.url));
const MAX_CLIENTS = 32;

/** Browser ES modules of the two front-end packages, from node_modules (no bundling, no network). */
function vendorFile(pkg: 'preact' | 'htm'): string {
  return fileURLToPath(import.meta.resolve(pkg));
}

const nodeReady = (n: V1Node): boolean => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
/** A Service's announcing nodes: those its ServiceAnnouncement lists, and its BGP nodes from the NodeAnnouncements. */
const announcers = (a: ServiceAnnouncement | undefined, nodes: readonly NodeAnnouncement[]): string[] => [...new Set(expandAnnouncements(a?.status, nodes.map((n) => n.status)).map((x) => x.node))];

export async function startDashboard(o: DashboardOptions): Promise<Dashboard> {
  const log = logger('dashboard');
  const watcher = new StatusWatcher({ clients: o.clients, ...(o.namespace ? { namespace: o.namespace } : {}), ...(o.classPolicy ? { classPolicy: o.classPolicy } : {}), minIntervalMs: o.pushIntervalMs ?? 250 });
  const timeline = new Timeline();
  const ready = new Map<string, boolean>();
  let views: SpeakerView[] = [];
  const clients = new Set<ServerResponse>();
  let pushTimer: NodeJS.Timeout | undefined;
  let lastPush = 0;
  let closed = false;

  const state = (): DashboardState => {
    const labState = o.lab?.nodeState() ?? {};
    const nodes = watcher
      .objects()
      .nodes.map((n) => n as V1Node)
      .map((n): DashboardNode => {
        const name = n.metadata?.name ?? '';
        const d: DashboardNode = { name, ready: nodeReady(n), addresses: (n.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address) };
        const v = views.find((x) => x.node === name);
        if (v) d.speaker = v;
        if (labState[name]) d.lab = labState[name];
        return d;
      })
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    return {
      time: Date.now(),
      ...(watcher.report ? { report: watcher.report } : {}),
      nodes,
      timeline: timeline.entries(),
      ...(o.lab ? { lab: { name: o.lab.name, actions: o.lab.actions } } : {}),
    };
  };

  const push = (): void => {
    if (pushTimer || closed) return;
    const wait = Math.max(0, lastPush + (o.pushIntervalMs ?? 250) - Date.now());
    pushTimer = setTimeout(() => {
      pushTimer = undefined;
      lastPush = Date.now();
      const data = `event: state\ndata: ${JSON.stringify(state())}\n\n`;
      for (const c of clients) c.write(data);
    }, wait);
  };

  watcher.on('change', (kind: string, type: string, obj: KubernetesObject) => {
    const now = Date.now();
    if (kind === 'announcements') {
      const key = `${obj.metadata?.namespace}/${obj.metadata?.name}`;
      if (type === 'delete') timeline.forget(key);
      else timeline.announcement(key, announcers(obj as ServiceAnnouncement, watcher.objects().nodeAnnouncements), now);
    } else if (kind === 'nodeAnnouncements') {
      // A node's BGP announcements changed (or it was lost): every Service announced by advertisement.
      const { announcements, nodeAnnouncements } = watcher.objects();
      for (const a of announcements) if (a.status?.bgp?.externalTrafficPolicy === 'Cluster') timeline.announcement(`${a.metadata.namespace}/${a.metadata.name}`, announcers(a, nodeAnnouncements), now);
    } else if (kind === 'nodes') {
      const n = obj as V1Node;
      const name = n.metadata?.name ?? '';
      const r = type !== 'delete' && nodeReady(n);
      const before = ready.get(name);
      ready.set(name, r);
      if (before === true && !r) timeline.nodeDown(name, now, `${name}: Node not Ready`);
      else if (before === false && r) timeline.nodeUp(name, now, `${name}: Node Ready again`);
    }
    push();
  });
  watcher.on('report', push);
  await watcher.start();
  for (const a of watcher.objects().announcements) timeline.announcement(`${a.metadata.namespace}/${a.metadata.name}`, announcers(a, watcher.objects().nodeAnnouncements), Date.now());
  timeline.prime();

  // Speakers' views: one scrape round at a time, a bounded interval apart.
  let scrapeTimer: NodeJS.Timeout | undefined;
  const scrape = async (): Promise<void> => {
    if (!o.metrics || closed) return;
    try {
      views = await o.metrics.scrape();
      push();
    } catch (err) {
      log.warn({ err: String(err) }, 'speaker metrics scrape failed');
    }
    if (!closed) scrapeTimer = setTimeout(() => void scrape(), o.metricsIntervalMs ?? 5000);
  };
  void scrape();

  const send = (res: ServerResponse, code: number, type: string, body: string | Buffer): void => {
    res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    res.end(body);
  };
  const files: Record<string, [string, string]> = {
    '/': [`${PUBLIC}index.html`, 'text/html; charset=utf-8'],
    '/app.js': [`${PUBLIC}app.js`, 'text/javascript; charset=utf-8'],
    '/style.css': [`${PUBLIC}style.css`, 'text/css; charset=utf-8'],
    '/vendor/preact.mjs': [vendorFile('preact'), 'text/javascript; charset=utf-8'],
    '/vendor/htm.mjs': [vendorFile('htm'), 'text/javascript; charset=utf-8'],
  };

  let port = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // Only this machine's browser: a page from elsewhere that resolves a name to 127.0.0.1 (DNS
    // rebinding) sends its own Host header and is refused.
    const host = req.headers.host ?? '';
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) return send(res, 403, 'text/plain', `refused: Host ${JSON.stringify(host)}; open http://127.0.0.1:${port}/\n`);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method === 'GET' && files[path]) {
      const [file, type] = files[path];
      return send(res, 200, type, readFileSync(file));
    }
    if (req.method === 'GET' && path === '/api/state') return send(res, 200, 'application/json', JSON.stringify(state()));
    if (req.method === 'GET' && path === '/events') {
      if (clients.size >= MAX_CLIENTS) return send(res, 503, 'text/plain', `too many open pages (${MAX_CLIENTS}); close some\n`);
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(`retry: 2000\nevent: state\ndata: ${JSON.stringify(state())}\n\n`);
      clients.add(res);
      req.on('close', () => clients.delete(res));
      return;
    }
    const m = /^\/api\/lab\/([a-z-]+)$/.exec(path);
    if (req.method === 'POST' && m) {
      // A custom header: a form or a cross-site script cannot send it without a CORS preflight, which is never answered.
      if (req.headers['x-ironlb-dashboard'] !== '1') return send(res, 403, 'text/plain', 'refused: send the header X-Ironlb-Dashboard: 1\n');
      const lab = o.lab;
      const action = lab?.actions.find((a) => a.id === m[1]);
      if (!lab || !action) return send(res, 404, 'text/plain', lab ? `no lab action ${m[1]}; one of ${lab.actions.map((a) => a.id).join(', ')}\n` : 'no lab: faults are offered by `ironlb lab dashboard` only\n');
      let body = '';
      req.on('data', (d: Buffer) => {
        if (body.length < 4096) body += d.toString();
      });
      req.on('end', () => {
        let node = '';
        try {
          node = String((JSON.parse(body) as { node?: unknown }).node ?? '');
        } catch {
          return send(res, 400, 'text/plain', 'body must be JSON: {"node": "NAME"}\n');
        }
        log.info({ action: action.id, node }, 'lab action from the page');
        lab.run(action.id, node).then(
          (t) => {
            if (action.effect === 'down') timeline.nodeDown(node, t, `${node}: ${action.label} (from this page)`, 'fault');
            else timeline.nodeUp(node, t, `${node}: ${action.label} (from this page)`, 'fault');
            push();
            send(res, 200, 'application/json', JSON.stringify({ ok: true, time: t }));
          },
          (err: unknown) => send(res, 500, 'text/plain', `${action.label} ${node} failed: ${err instanceof Error ? err.message : String(err)}\n`),
        );
      });
      return;
    }
    send(res, 404, 'text/plain', 'not found: the page is at /\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  // A comment line now and then keeps proxies and the browser from closing an idle stream.
  const beat = setInterval(() => {
    for (const c of clients) c.write(': keep-alive\n\n');
  }, 15_000);
  beat.unref();

  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    state,
    async close() {
      closed = true;
      clearInterval(beat);
      clearTimeout(pushTimer);
      clearTimeout(scrapeTimer);
      for (const c of clients) c.end();
      await watcher.stop();
      await new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      });
    },
  };
}
