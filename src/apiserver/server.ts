// The HTTP face of the test-double API server: routes Kubernetes REST paths onto ApiCore, encodes
// results and failures (meta/v1 Status), and serves discovery, Tables and watches.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { logger } from '../util/log.ts';
import { ApiCore, type Subresource } from './core.ts';
import { readCrdFiles } from './crds.ts';
import { apiGroup, apiGroupList, apiResourceList, apiVersions, versionInfo } from './discovery.ts';
import { ApiError, badRequest, methodNotAllowed } from './errors.ts';
import { openApiV3GroupVersion, openApiV3Index } from './openapi.ts';
import { apiVersionOf, type ResourceDescriptor } from './resources.ts';
import type { KObject } from './store.ts';
import { printerFor, toTable } from './table.ts';
import { serveWatch, type WatchLimits } from './watch.ts';

const log = logger('apiserver');

export interface ApiServerOptions {
  /** Address to listen on; 127.0.0.1 by default (loopback only). */
  host?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** CRDs served from the start: objects, or paths of YAML/JSON files (non-CRD documents are skipped). */
  crds?: ReadonlyArray<KObject | string>;
  /** Events kept per resource for watch resumption (older resourceVersions get 410 Gone). */
  historyLimit?: number;
  /** Largest request body accepted (413 beyond). */
  maxBodyBytes?: number;
  /** How often a watch with allowWatchBookmarks=true gets a BOOKMARK. */
  bookmarkIntervalMs?: number;
  /** Longest watch when the client sets no timeoutSeconds (the client then reconnects from its version). */
  maxWatchSeconds?: number;
}

export interface ApiServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The in-process API, for tests that want to look at or seed state without HTTP. */
  readonly core: ApiCore;
  /** A kubeconfig (YAML) whose current context points at this server. */
  kubeconfig(): string;
  writeKubeconfig(path: string): void;
  /** Ends every open watch (clients reconnect from their last resourceVersion), as an API server restart would. */
  dropWatches(): number;
  close(): Promise<void>;
}

interface Route {
  d: ResourceDescriptor;
  namespace: string | undefined;
  name: string | undefined;
  sub: Subresource;
}

function send(res: ServerResponse, code: number, body: unknown): void {
  const s = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(s), 'Cache-Control': 'no-cache, private' });
  res.end(s);
}

function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (err instanceof ApiError) {
    send(res, err.code, err.toStatus());
    return;
  }
  log.error({ err }, 'request failed');
  send(res, 500, new ApiError(500, 'InternalError', `internal error: ${err instanceof Error ? err.message : String(err)}`).toStatus());
}

async function readBody(req: IncomingMessage, max: number): Promise<unknown> {
  const ct = (req.headers['content-type'] ?? '').toLowerCase();
  if (ct.includes('protobuf') || ct.includes('cbor')) {
    throw new ApiError(415, 'UnsupportedMediaType', `the body's content type "${ct}" is not supported by this test API server: send JSON or YAML (kubectl apply -f / create -f do)`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  await new Promise<void>((resolve, reject) => {
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit the rest is read and dropped (memory stays bounded) so that the 413 reaches the client.
      if (size > max) reject(new ApiError(413, 'RequestEntityTooLarge', `the request body is larger than ${max} bytes: send a smaller object`));
      else chunks.push(chunk);
    });
    req.on('end', resolve);
    req.on('error', reject);
  });
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return ct.includes('yaml') ? (parseYaml(text) as unknown) : (JSON.parse(text) as unknown);
  } catch (err) {
    throw badRequest(`the request body is not valid ${ct.includes('yaml') ? 'YAML' : 'JSON'}: ${(err as Error).message}`);
  }
}

/** Parses `/api/v1/...` or `/apis/G/V/...` after the group/version prefix into a resource route. */
function route(core: ApiCore, group: string, version: string, segs: string[]): Route {
  let namespace: string | undefined;
  let rest = segs;
  if (segs[0] === 'namespaces' && segs.length >= 3) {
    const maybe = core.registry.get(group, version, segs[2]!);
    if (maybe?.namespaced) {
      namespace = segs[1];
      rest = segs.slice(2);
    }
  }
  const d = core.resolve(group, version, rest[0] ?? '');
  const name = rest[1];
  const subName = rest[2];
  if (rest.length > 3 || (subName !== undefined && subName !== 'status' && !(d.plural === 'namespaces' && subName === 'finalize'))) {
    throw new ApiError(404, 'NotFound', `the server could not find the requested resource: subresource "${rest.slice(2).join('/')}" of ${d.plural} is not served here`);
  }
  if (subName === 'status' && !d.status) throw new ApiError(404, 'NotFound', `${d.plural} has no status subresource`);
  return { d, namespace, name, sub: subName === 'status' ? 'status' : undefined };
}

function wantsTable(req: IncomingMessage): boolean {
  return /as=Table/.test(req.headers.accept ?? '');
}

function num(v: string | null): number | null {
  if (v === null || v === '') return null;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw badRequest(`invalid number "${v}" in the query`);
  return n;
}

export async function startApiServer(opts: ApiServerOptions = {}): Promise<ApiServer> {
  const core = new ApiCore({ historyLimit: opts.historyLimit });
  const files = (opts.crds ?? []).filter((c): c is string => typeof c === 'string');
  const objects = (opts.crds ?? []).filter((c): c is KObject => typeof c !== 'string');
  for (const crd of [...readCrdFiles(files), ...objects]) core.loadCrd(crd);

  const maxBody = opts.maxBodyBytes ?? 3 * 1024 * 1024;
  const limits: WatchLimits = {
    bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 10_000,
    maxBufferedBytes: 16 * 1024 * 1024,
    maxTimeoutSeconds: opts.maxWatchSeconds ?? 1800,
  };
  const host = opts.host ?? '127.0.0.1';
  let serverAddress = host;
  const watches = new Set<() => void>();

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const q = url.searchParams;
    let segs: string[];
    try {
      segs = url.pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
    } catch {
      throw badRequest(`the path ${url.pathname} is not validly percent-encoded`);
    }
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '') || '/';

    if (method === 'GET') {
      if (path === '/version') return send(res, 200, versionInfo());
      if (path === '/healthz' || path === '/readyz' || path === '/livez') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('ok');
        return;
      }
      if (path === '/api') return send(res, 200, apiVersions(serverAddress));
      if (path === '/openapi/v3') return send(res, 200, openApiV3Index(core.registry));
      if (segs[0] === 'openapi' && segs[1] === 'v3' && segs.length >= 4) {
        const gv = segs[2] === 'api' ? openApiV3GroupVersion(core.registry, '', segs[3]!) : openApiV3GroupVersion(core.registry, segs[3]!, segs[4] ?? '');
        return gv ? send(res, 200, gv) : sendError(res, new ApiError(404, 'NotFound', `no OpenAPI document for ${segs.slice(2).join('/')}`));
      }
      if (path === '/apis') return send(res, 200, apiGroupList(core.registry));
      if (segs[0] === 'api' && segs.length === 2) {
        const l = apiResourceList(core.registry, '', segs[1]!);
        return l ? send(res, 200, l) : sendError(res, new ApiError(404, 'NotFound', `version ${segs[1]} is not served`));
      }
      if (segs[0] === 'apis' && segs.length === 2) {
        const g = apiGroup(core.registry, segs[1]!);
        return g ? send(res, 200, g) : sendError(res, new ApiError(404, 'NotFound', `group ${segs[1]} is not served`));
      }
      if (segs[0] === 'apis' && segs.length === 3) {
        const l = apiResourceList(core.registry, segs[1]!, segs[2]!);
        return l ? send(res, 200, l) : sendError(res, new ApiError(404, 'NotFound', `group version ${segs[1]}/${segs[2]} is not served`));
      }
    }
    let r: Route;
    if (segs[0] === 'api' && segs[1] === 'v1' && segs.length > 2) r = route(core, '', 'v1', segs.slice(2));
    else if (segs[0] === 'apis' && segs.length > 3) r = route(core, segs[1]!, segs[2]!, segs.slice(3));
    else throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${method} ${path})`);
    const { d, namespace, name, sub } = r;
    if (method !== 'GET' && q.get('dryRun')) {
      // Refused rather than ignored: ignoring it would write what the client meant only to try.
      throw badRequest('dryRun is not supported by this test API server: send the request without dryRun');
    }

    switch (method) {
      case 'GET': {
        if (name !== undefined) {
          const o = core.get(d, namespace, name);
          if (wantsTable(req)) return send(res, 200, toTable(printerFor(d, core.printerColumns(d)), [o], { resourceVersion: o.metadata.resourceVersion }, q.get('includeObject')));
          return send(res, 200, o);
        }
        if (q.get('watch') === 'true' || q.get('watch') === '1') {
          const stop = serveWatch(core, d, {
            namespace,
            resourceVersion: q.get('resourceVersion'),
            labelSelector: q.get('labelSelector'),
            fieldSelector: q.get('fieldSelector'),
            allowWatchBookmarks: q.get('allowWatchBookmarks') === 'true',
            sendInitialEvents: q.get('sendInitialEvents') === 'true',
            timeoutSeconds: num(q.get('timeoutSeconds')),
            table: wantsTable(req) ? (q.get('includeObject') ?? 'PartialObjectMetadata') : null,
          }, res, limits);
          if (stop) {
            watches.add(stop);
            res.on('close', () => watches.delete(stop));
          }
          return;
        }
        const l = core.list(d, namespace, {
          labelSelector: q.get('labelSelector'),
          fieldSelector: q.get('fieldSelector'),
          limit: num(q.get('limit')) ?? undefined,
          continueToken: q.get('continue'),
        });
        const meta: Record<string, unknown> = { resourceVersion: String(l.resourceVersion) };
        if (l.continueToken) {
          meta.continue = l.continueToken;
          meta.remainingItemCount = l.remaining;
        }
        if (wantsTable(req)) return send(res, 200, toTable(printerFor(d, core.printerColumns(d)), l.items, meta, q.get('includeObject')));
        return send(res, 200, { kind: d.listKind, apiVersion: apiVersionOf(d), metadata: meta, items: l.items });
      }
      case 'POST': {
        if (name !== undefined) throw methodNotAllowed(`POST on a named ${d.kind} is not allowed: POST to the collection, or PUT/PATCH the object`);
        const body = await readBody(req, maxBody);
        return send(res, 201, core.create(d, namespace, body, { fieldValidation: q.get('fieldValidation') }));
      }
      case 'PUT': {
        if (name === undefined) throw methodNotAllowed(`PUT needs an object name: /.../${d.plural}/NAME`);
        const body = await readBody(req, maxBody);
        return send(res, 200, core.update(d, namespace, name, body, sub, { fieldValidation: q.get('fieldValidation') }));
      }
      case 'PATCH': {
        if (name === undefined) throw methodNotAllowed(`PATCH needs an object name: /.../${d.plural}/NAME`);
        const body = await readBody(req, maxBody);
        return send(res, 200, core.patch(d, namespace, name, req.headers['content-type'] ?? '', body, sub, { fieldValidation: q.get('fieldValidation') }));
      }
      case 'DELETE': {
        const body = (await readBody(req, maxBody)) as { preconditions?: { resourceVersion?: string; uid?: string } } | undefined;
        if (name === undefined) {
          core.deleteCollection(d, namespace, { labelSelector: q.get('labelSelector'), fieldSelector: q.get('fieldSelector') });
          return send(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 200 });
        }
        const o = core.delete(d, namespace, name, { preconditionRv: body?.preconditions?.resourceVersion, preconditionUid: body?.preconditions?.uid });
        return send(res, o.metadata.deletionTimestamp && core.store.get(d, namespace, name) ? 202 : 200, o);
      }
      default:
        throw methodNotAllowed(`method ${method} is not supported`);
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => sendError(res, err));
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const hostInUrl = host.includes(':') ? `[${host}]` : host;
  const url = `http://${hostInUrl}:${port}`;
  serverAddress = `${hostInUrl}:${port}`;
  log.info({ url }, 'API server listening');

  const kubeconfig = (): string =>
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      '- name: ironlb-test',
      '  cluster:',
      `    server: ${url}`,
      '    insecure-skip-tls-verify: true',
      'users:',
      '- name: ironlb-test',
      '  user:',
      '    token: ironlb-test-token',
      'contexts:',
      '- name: ironlb-test',
      '  context:',
      '    cluster: ironlb-test',
      '    user: ironlb-test',
      '    namespace: default',
      'current-context: ironlb-test',
      '',
    ].join('\n');

  return {
    url,
    host,
    port,
    core,
    kubeconfig,
    writeKubeconfig(path: string): void {
      writeFileSync(path, kubeconfig(), { mode: 0o600 });
    },
    dropWatches(): number {
      const n = watches.size;
      for (const stop of [...watches]) stop();
      watches.clear();
      return n;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Watches are long-lived: end them so that close() does not wait for their timeouts.
        server.closeAllConnections();
      }),
  };
}
