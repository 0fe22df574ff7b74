// Client set-up: kubeconfig file, in-cluster service account, or the default search path; one
// shared connection pool per client set, and optionally a client-side rate limit.
import {
  ApiException,
  KubeConfig,
  CoreV1Api,
  CustomObjectsApi,
  CoordinationV1Api,
  HttpMethod,
  IsomorphicFetchHttpLibrary,
  ServerConfiguration,
  createConfiguration,
  setHeaderMiddleware,
  type RequestContext,
  type SecurityAuthentication,
} from '@kubernetes/client-node';
import { ListScanner } from './json-text.ts';

export interface ClientOptions {
  /** Path to a kubeconfig; else $KUBECONFIG / ~/.kube/config, else the in-cluster service account. */
  kubeconfig?: string;
}

export function loadKubeConfig(opts: ClientOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault(); // falls back to in-cluster when no kubeconfig is found
  if (!kc.getCurrentCluster()) {
    throw new Error('no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a Pod with a service account');
  }
  return kc;
}

/** A kubeconfig for a plain-HTTP server (tests and the lab's in-repo API server). */
export function kubeConfigForServer(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'ctx', cluster: 'c', user: 'u' }],
    currentContext: 'ctx',
  });
  return kc;
}

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  coordination: CoordinationV1Api;
  /** GET of an API path as parsed JSON, through the same connections, rate limit and User-Agent. */
  getJson: GetJson;
}

/**
 * GET of an API path (e.g. /api/v1/services) with query parameters, as parsed JSON: plain objects,
 * timestamps as strings. client-node's typed calls turn every object into class instances and Dates
 * first: at 100,000 Services that was two thirds of the list's CPU and most of its garbage.
 */
export type GetJson = (
  path: string,
  query?: Readonly<Record<string, string | number | undefined>>,
  opts?: {
    /**
     * For a list: each element of its `items` is handed over as text while the body arrives
     * (json-text.ts, ListScanner), and the list comes back without them. The body is never held whole.
     */
    onItem?: (text: string) => void;
  },
) => Promise<unknown>;

/** Longest synchronous stretch while a streamed list body is read (the loop serves probes between). */
const STREAM_STEP_MS = 8;

/** Each chunk of `stream` to `take`, with a turn of the event loop every STREAM_STEP_MS; cancelled when `take` throws. */
async function readInSteps(stream: ReadableStream<Uint8Array>, take: (chunk: Uint8Array) => void): Promise<void> {
  const reader = stream.getReader();
  try {
    let t0 = performance.now();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      take(value);
      if (performance.now() - t0 >= STREAM_STEP_MS) {
        await new Promise((r) => setImmediate(r));
        t0 = performance.now();
      }
    }
  } catch (err) {
    await reader.cancel().catch(() => undefined);
    throw err;
  }
}

export interface RateLimit {
  /** Requests per second, sustained. */
  qps: number;
  /** Requests allowed at once above the sustained rate. */
  burst: number;
}

export interface MakeClientsOptions {
  /** Client-side rate limit of the API calls (not of watches); none by default. */
  rateLimit?: RateLimit;
  /** User-Agent, which the API server also takes as the field manager of writes. Default "ironlb". */
  userAgent?: string;
  /** HTTP/1.1 connections (one per call in flight) instead of HTTP/2 streams on one connection. */
  http1?: boolean;
}

/** Shared connections are replaced this often, so a rotated client certificate or CA is picked up. */
const DISPATCHER_MAX_AGE_MS = 5 * 60_000;

type Dispatcher = NonNullable<ReturnType<RequestContext['getDispatcher']>>;

/**
 * The kubeconfig's authentication, with one connection pool for every call. client-node builds a
 * new undici Agent per request, so each call opened its own TLS connection (a handshake and a CA
 * parse: most of the controller's CPU at 40 Services/s); here the first Agent is kept and reused
 * (HTTP/2 multiplexes the calls over one connection) until it is DISPATCHER_MAX_AGE_MS old.
 */
class SharedConnections implements SecurityAuthentication {
  #kc: KubeConfig;
  #dispatcher: Dispatcher | undefined;
  #since = 0;
  #limiter: TokenBucket | undefined;
  #http1: boolean;

  constructor(kc: KubeConfig, rateLimit: RateLimit | undefined, http1 = false) {
    this.#kc = kc;
    this.#limiter = rateLimit ? new TokenBucket(rateLimit) : undefined;
    this.#http1 = http1;
  }

  getName(): string {
    return 'kubeconfig with shared connections';
  }

  async applySecurityAuthentication(context: RequestContext): Promise<void> {
    await this.#limiter?.take();
    await this.#kc.applySecurityAuthentication(context);
    const fresh = context.getDispatcher();
    if (!fresh) return; // plain HTTP without TLS options: fetch's global pool already reuses connections
    const now = Date.now();
    if (!this.#dispatcher || now - this.#since > DISPATCHER_MAX_AGE_MS) {
      const old = this.#dispatcher;
      // undici's Agent takes allowH2 per request (undocumented in its types): false keeps a pool of
      // HTTP/1.1 connections.
      this.#dispatcher = this.#http1 ? fresh.compose((dispatch) => (opts, handler) => dispatch(Object.assign({}, opts, { allowH2: false }), handler)) : fresh;
      if (this.#http1) context.setDispatcher(this.#dispatcher);
      this.#since = now;
      // close() lets requests in flight finish; errors of a pool being retired do not matter.
      old?.close().catch(() => undefined);
      return;
    }
    // The Agent made for this request never connected: nothing to close.
    context.setDispatcher(this.#dispatcher);
  }
}

/** Token bucket: `burst` calls at once, then `qps` per second; waiters are served in order. */
export class TokenBucket {
  #qps: number;
  #burst: number;
  #tokens: number;
  #at = Date.now();
  #tail: Promise<void> = Promise.resolve();

  constructor(o: RateLimit) {
    this.#qps = Math.max(0.1, o.qps);
    this.#burst = Math.max(1, Math.floor(o.burst));
    this.#tokens = this.#burst;
  }

  #refill(): void {
    const now = Date.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#qps);
    this.#at = now;
  }

  /** Takes a token if one is there now; never waits (for callers that do something else when not). */
  tryTake(): boolean {
    this.#refill();
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  take(): Promise<void> {
    const turn = this.#tail.then(async () => {
      this.#refill();
      if (this.#tokens < 1) {
        const waitMs = ((1 - this.#tokens) / this.#qps) * 1000;
        await new Promise((r) => setTimeout(r, waitMs));
        this.#tokens = 1;
        this.#at = Date.now();
      }
      this.#tokens -= 1;
    });
    this.#tail = turn;
    return turn;
  }
}

function server(kc: KubeConfig): ServerConfiguration<Record<string, string>> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a Pod with a service account');
  return new ServerConfiguration(cluster.server, {});
}

function apiClient<T>(kc: KubeConfig, auth: SecurityAuthentication, userAgent: string, type: new (config: ReturnType<typeof createConfiguration>) => T): T {
  const config = createConfiguration({
    baseServer: server(kc),
    authMethods: { default: auth },
    middleware: [setHeaderMiddleware('User-Agent', userAgent)],
  });
  return new type(config);
}

/** GetJson over the kubeconfig's server and the given authentication (client-node's own HTTP library). */
function jsonGetter(kc: KubeConfig, auth: SecurityAuthentication, userAgent: string): GetJson {
  const base = server(kc);
  const http = new IsomorphicFetchHttpLibrary();
  return async (path, query = {}, opts = {}) => {
    const ctx = base.makeRequestContext(path, HttpMethod.GET);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) ctx.setQueryParam(k, String(v));
    ctx.setHeaderParam('Accept', 'application/json');
    ctx.setHeaderParam('User-Agent', userAgent);
    await auth.applySecurityAuthentication(ctx);
    const rsp = await http.send(ctx).toPromise();
    const ok = rsp.httpStatusCode >= 200 && rsp.httpStatusCode <= 299;
    if (ok && opts.onItem) {
      const scanner = new ListScanner(opts.onItem);
      // client-node's fetch library hands the body's stream out too (not in its types).
      const stream = (rsp.body as { stream?: () => ReadableStream<Uint8Array> | null }).stream?.();
      if (stream) await readInSteps(stream, (chunk) => scanner.push(chunk));
      else scanner.push(Buffer.from(await rsp.body.text()));
      try {
        return JSON.parse(scanner.end()) as unknown;
      } catch (err) {
        throw new Error(`GET ${path}: ${err instanceof Error ? err.message : String(err)}; is the path a collection?`);
      }
    }
    const text = await rsp.body.text();
    // The same error as client-node's typed calls (statusCode(), errorText() read it alike).
    if (!ok) throw new ApiException(rsp.httpStatusCode, `HTTP-Code: ${rsp.httpStatusCode}\nMessage: GET ${path} failed\nBody: ${text.slice(0, 1024)}`, text, rsp.headers);
    return JSON.parse(text) as unknown;
  };
}

export function makeClients(kc: KubeConfig, o: MakeClientsOptions = {}): Clients {
  const auth = new SharedConnections(kc, o.rateLimit, o.http1);
  const ua = o.userAgent ?? 'ironlb';
  return { kc, core: apiClient(kc, auth, ua, CoreV1Api), custom: apiClient(kc, auth, ua, CustomObjectsApi), coordination: apiClient(kc, auth, ua, CoordinationV1Api), getJson: jsonGetter(kc, auth, ua) };
}
