// Authentication and authorization of metrics scrapes through the API server, as kube-rbac-proxy
// does, in process: the bearer token is checked with a TokenReview, then the user is checked with a
// SubjectAccessReview for the non-resource URL (GET /metrics). The scraper's ServiceAccount needs a
// ClusterRole with nonResourceURLs ["/metrics"] verbs ["get"] (the chart ships ironlb-metrics-reader).
import type { IncomingMessage } from 'node:http';
import { AuthenticationV1Api, AuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { createCA, issue } from '../k8s/x509.ts';
import { errorText } from '../k8s/errors.ts';
import { logger } from './log.ts';

export type AuthDecision = { ok: true; user: string } | { ok: false; status: 401 | 403 | 503; reason: string };

export type Authorizer = (req: IncomingMessage, path: string) => Promise<AuthDecision>;

export interface KubernetesAuthorizerOptions {
  kc: KubeConfig;
  /** How long a decision is reused for the same token and path (ms). Default 10 s. */
  cacheMs?: number;
  /** Decisions cached at most (oldest dropped first). Default 256. */
  cacheSize?: number;
}

/** An Authorizer asking the API server (TokenReview + SubjectAccessReview), with a small cache. */
export function kubernetesAuthorizer(o: KubernetesAuthorizerOptions): Authorizer {
  const authn = o.kc.makeApiClient(AuthenticationV1Api);
  const authz = o.kc.makeApiClient(AuthorizationV1Api);
  const ttl = o.cacheMs ?? 10_000;
  const max = o.cacheSize ?? 256;
  const cache = new Map<string, { at: number; d: AuthDecision }>();
  const log = logger('metrics-auth');
  return async (req, path) => {
    const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return { ok: false, status: 401, reason: 'a bearer token is required (Authorization: Bearer <ServiceAccount token>)' };
    const token = m[1] as string;
    const key = `${path}\n${token}`;
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < ttl) return hit.d;
    let d: AuthDecision;
    try {
      const tr = await authn.createTokenReview({ body: { spec: { token } } });
      if (!tr.status?.authenticated || !tr.status.user?.username) {
        d = { ok: false, status: 401, reason: `the token was not accepted by the API server${tr.status?.error ? `: ${tr.status.error}` : ''}` };
      } else {
        const u = tr.status.user;
        const user = u.username as string;
        const sar = await authz.createSubjectAccessReview({
          body: {
            spec: {
              user,
              ...(u.groups ? { groups: u.groups } : {}),
              ...(u.uid ? { uid: u.uid } : {}),
              ...(u.extra ? { extra: u.extra } : {}),
              nonResourceAttributes: { path, verb: 'get' },
            },
          },
        });
        d = sar.status?.allowed
          ? { ok: true, user }
          : { ok: false, status: 403, reason: `${user} may not get ${path}: bind it to a ClusterRole with nonResourceURLs ["${path}"] verbs ["get"] (the chart's ironlb-metrics-reader)` };
      }
    } catch (err) {
      // Not cached: the API server may be back at the next scrape.
      log.warn({ err: errorText(err), path }, 'cannot check a scrape with the API server; refusing it');
      return { ok: false, status: 503, reason: `cannot check the token with the API server: ${errorText(err)}` };
    }
    if (cache.size >= max) cache.delete(cache.keys().next().value as string);
    cache.set(key, { at: Date.now(), d });
    return d;
  };
}

/** A self-signed serving certificate made at start (as controller-runtime's secure metrics do): scrapers skip verification, the token never travels in clear. */
export async function selfSignedServing(name: string, ipAddresses: string[] = []): Promise<{ cert: string; key: string }> {
  const ca = await createCA(`${name}-ca`);
  const leaf = await issue(ca, { commonName: name, dnsNames: [name, 'localhost'], ipAddresses: ['127.0.0.1', '::1', ...ipAddresses], usage: 'server' });
  return { cert: `${leaf.certPem}${ca.certPem}`, key: leaf.keyPem };
}
