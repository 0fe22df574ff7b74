// /metrics, /healthz and /readyz. Plain HTTP by default; with `authorize` every request must carry
// a bearer token the API server accepts and authorizes for the path (TokenReview +
// SubjectAccessReview), served over TLS so the token is not sent in clear. With `probesOnly` it
// serves /healthz and /readyz alone (the kubelet's probes, on an address of their own).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Authorizer } from './metrics-auth.ts';
import { logger } from './log.ts';

export interface Probe {
  ok: boolean;
  detail: Record<string, unknown>;
}

export interface HealthServerOptions {
  port: number;
  host?: string;
  registry?: Registry;
  healthz: () => Probe;
  readyz: () => Probe;
  /** Serve /healthz and /readyz only (no /metrics). */
  probesOnly?: boolean;
  /** Checks every request (see util/metrics-auth.ts); requires `tls`. */
  authorize?: Authorizer;
  /** PEM certificate chain and key: serve HTTPS. */
  tls?: { cert: string; key: string };
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

export async function startHealthServer(o: HealthServerOptions): Promise<HealthServer> {
  if (o.authorize && !o.tls) throw new Error('an authorizing metrics server needs a TLS certificate: bearer tokens must not travel in clear');
  const log = logger('http');
  const serve = (req: IncomingMessage, res: ServerResponse, path: string): void => {
    if (path === '/metrics' && !o.probesOnly && o.registry) {
      const registry = o.registry;
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`cannot collect metrics: ${err instanceof Error ? err.message : String(err)}\n`);
        },
      );
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const p = path === '/healthz' ? o.healthz() : o.readyz();
      res.writeHead(p.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ ok: p.ok, ...p.detail })}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end(o.probesOnly ? 'not found: try /healthz or /readyz\n' : 'not found: try /metrics, /healthz or /readyz\n');
  };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const authorize = o.authorize;
    if (!authorize) return serve(req, res, path);
    authorize(req, path).then(
      (d) => {
        if (d.ok) return serve(req, res, path);
        log.debug({ path, status: d.status, reason: d.reason, remote: req.socket.remoteAddress }, 'request refused');
        res.writeHead(d.status, { 'content-type': 'text/plain', ...(d.status === 401 ? { 'www-authenticate': 'Bearer' } : {}) });
        res.end(`${d.status === 401 ? 'Unauthorized' : d.status === 403 ? 'Forbidden' : 'Service Unavailable'}: ${d.reason}\n`);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`authorization failed: ${err instanceof Error ? err.message : String(err)}\n`);
      },
    );
  };
  const server: Server = o.tls ? createTlsServer({ cert: o.tls.cert, key: o.tls.key }, handler) : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen on ${o.host ?? '0.0.0.0'}:${o.port} for ${o.probesOnly ? 'health probes' : 'metrics'}: ${err.message}; free the port or choose another (--${o.probesOnly ? 'health' : 'metrics'}-port)`)),
    );
    server.listen(o.port, o.host ?? '0.0.0.0', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
