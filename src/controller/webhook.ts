// The validating admission webhook: the rules that span objects, which the CRDs' own schema and CEL
// rules cannot see (pools overlapping other pools, references to objects that do not exist), are
// checked when an object is created or updated. A change is refused when it would add errors to the
// configuration; errors that existed before it are not its fault and do not block it. A reference
// to an object not in the cluster (yet) is only warned about: objects arrive in any order.
//
// Its serving certificate is made and rotated here: a CA and a leaf certificate kept in a Secret
// (created empty by the chart, so all replicas share one), the CA published as the caBundle of the
// ValidatingWebhookConfiguration. The failure policy is Ignore (docs/reference.md): a controller
// that is down never blocks configuration changes, and what gets in meanwhile is reported on the
// object and skipped (validateConfig isolates invalid objects).
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdmissionregistrationV1Api, type V1Secret } from '@kubernetes/client-node';
import { formatConfigError, isDanglingReference, validateConfig, type ConfigError } from '../api/index.ts';
import { errorText, isConflict, isNotFound, type Clients } from '../k8s/index.ts';
import { createCA, issue, notAfterOf, type Issuer } from '../k8s/x509.ts';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';
import { logger } from '../util/log.ts';
import { clip } from '../util/text.ts';

export const WEBHOOK_PATH = '/validate';
const MAX_BODY = 3 * 1024 * 1024;
const MAX_MESSAGE = 2000;
/** Admission warnings travel as HTTP Warning headers: a few short ones. */
const MAX_WARNINGS = 5;
const MAX_WARNING = 240;

export interface WebhookOptions {
  clients: Clients;
  namespace: string;
  /** Address and port to serve on (port 0 picks one). */
  host: string;
  port: number;
  /** Secret (in `namespace`) that holds ca.crt, ca.key, tls.crt, tls.key. */
  secretName: string;
  /** ValidatingWebhookConfiguration whose webhooks get our CA as caBundle. */
  configurationName: string;
  /** DNS names the serving certificate is valid for (the webhook Service's names). */
  dnsNames: string[];
  /** IP addresses the serving certificate is valid for (for a clientConfig.url on an address). */
  ipAddresses?: string[];
  /** The configuration objects and Secrets as the controller's caches hold them now. */
  snapshot: () => { objects: unknown[]; secrets: readonly V1Secret[] };
  /** Leaf validity; renewed when less than a third is left. Default 365 days (CA: 5 years). */
  leafValidityMs?: number;
  caValidityMs?: number;
  /** How often the certificate and the caBundle are checked. Default 10 minutes. */
  checkIntervalMs?: number;
}

interface CertSet {
  caPem: string;
  caKeyPem: string;
  /** caBundle: the current CA first, then a previous one while leaves it signed may still be served. */
  bundlePem: string;
  certPem: string;
  keyPem: string;
}

interface AdmissionRequest {
  uid?: string;
  operation?: string;
  kind?: { group?: string; version?: string; kind?: string };
  name?: string;
  namespace?: string;
  object?: { kind?: string; metadata?: { name?: string; namespace?: string } } & Record<string, unknown>;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const unb64 = (s: string | undefined): string => (s ? Buffer.from(s, 'base64').toString('utf8') : '');

/** The CA first, then the other certificates of `bundle` that have not expired. */
function currentBundle(bundle: string, caPem: string, now: number): string {
  const certs = bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g) ?? [];
  const ca = caPem.trim();
  const others = certs.filter((c) => c.trim() !== ca && notAfterOf(c).getTime() > now);
  return [caPem, ...others].map((c) => (c.endsWith('\n') ? c : `${c}\n`)).join('');
}

async function importCaKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
}

export class AdmissionWebhook {
  #opts: WebhookOptions;
  #log = logger('webhook');
  #server: Server | undefined;
  #certs: CertSet | undefined;
  #timer: NodeJS.Timeout | undefined;
  #admin: AdmissionregistrationV1Api;
  /** Admission reviews answered, by result (for tests and metrics). */
  readonly counts = { allowed: 0, denied: 0, errors: 0 };

  constructor(o: WebhookOptions) {
    this.#opts = o;
    this.#admin = o.clients.kc.makeApiClient(AdmissionregistrationV1Api);
  }

  get port(): number {
    return (this.#server?.address() as AddressInfo | null)?.port ?? 0;
  }

  /** The caBundle currently published (PEM). */
  get caBundle(): string | undefined {
    return this.#certs?.bundlePem;
  }

  /** notAfter of the serving certificate. */
  get notAfter(): Date | undefined {
    return this.#certs ? notAfterOf(this.#certs.certPem) : undefined;
  }

  async start(): Promise<void> {
    await this.#ensureCert();
    const c = this.#certs as CertSet;
    this.#server = createServer({ cert: c.certPem, key: c.keyPem, minVersion: 'TLSv1.2' }, (req, res) => void this.#handle(req, res));
    this.#server.requestTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      this.#server?.once('error', reject);
      this.#server?.listen(this.#opts.port, this.#opts.host, () => resolve());
    });
    await this.#ensureBundle();
    this.#log.info({ port: this.port, secret: this.#opts.secretName, configuration: this.#opts.configurationName, notAfter: this.notAfter }, 'admission webhook serving');
    const every = this.#opts.checkIntervalMs ?? 600_000;
    this.#timer = setInterval(() => void this.check(), every);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await new Promise<void>((r) => (this.#server ? this.#server.close(() => r()) : r()));
    this.#server?.closeAllConnections();
  }

  /** Renews the certificate when due (or taken over by another replica) and republishes the caBundle. */
  async check(): Promise<void> {
    try {
      const before = this.#certs?.certPem;
      await this.#ensureCert();
      // The bundle first (it holds the new CA and the old), then the new leaf: the API server
      // trusts the new certificate before it is served.
      await this.#ensureBundle();
      const c = this.#certs as CertSet;
      if (c.certPem !== before) {
        this.#server?.setSecureContext({ cert: c.certPem, key: c.keyPem });
        this.#log.info({ notAfter: this.notAfter }, 'webhook serving certificate replaced');
      }
    } catch (err) {
      this.#log.warn({ err: errorText(err) }, 'webhook certificate check failed; retrying at the next interval');
    }
  }

  async #ensureCert(): Promise<void> {
    const { core } = this.#opts.clients;
    const ns = this.#opts.namespace;
    for (let attempt = 0; attempt < 5; attempt++) {
      let secret: V1Secret;
      try {
        secret = await core.readNamespacedSecret({ name: this.#opts.secretName, namespace: ns });
      } catch (err) {
        if (isNotFound(err)) throw new Error(`Secret ${ns}/${this.#opts.secretName} for the webhook certificate is missing: the chart creates it empty; reinstall, or create it with: kubectl -n ${ns} create secret generic ${this.#opts.secretName}`);
        throw err;
      }
      const d = secret.data ?? {};
      const have: CertSet = { caPem: unb64(d['ca.crt']), caKeyPem: unb64(d['ca.key']), bundlePem: unb64(d['ca-bundle.crt']) || unb64(d['ca.crt']), certPem: unb64(d['tls.crt']), keyPem: unb64(d['tls.key']) };
      const next = await this.#renewed(have);
      if (next === have) {
        this.#certs = have;
        return;
      }
      try {
        await core.replaceNamespacedSecret({
          name: this.#opts.secretName,
          namespace: ns,
          body: { ...secret, data: { ...d, 'ca.crt': b64(next.caPem), 'ca.key': b64(next.caKeyPem), 'ca-bundle.crt': b64(next.bundlePem), 'tls.crt': b64(next.certPem), 'tls.key': b64(next.keyPem) } },
        });
        this.#certs = next;
        return;
      } catch (err) {
        // Another replica renewed first: read theirs and use it.
        if (!isConflict(err)) throw err;
      }
    }
    throw new Error(`could not update Secret ${ns}/${this.#opts.secretName}: kept conflicting with other writers`);
  }

  /** `have` itself when still good, else a set with what was due renewed. */
  async #renewed(have: CertSet): Promise<CertSet> {
    const now = Date.now();
    const leafMs = this.#opts.leafValidityMs ?? 365 * 86_400_000;
    const caMs = this.#opts.caValidityMs ?? 5 * 365 * 86_400_000;
    const due = (pem: string, validity: number): boolean => {
      try {
        return notAfterOf(pem).getTime() - now < validity / 3;
      } catch {
        return true;
      }
    };
    const names = (pem: string): boolean => {
      try {
        const san = new x509.X509Certificate(pem).getExtension(x509.SubjectAlternativeNameExtension);
        const got = new Set((san?.names.items ?? []).map((n) => n.value));
        return [...this.#opts.dnsNames, ...(this.#opts.ipAddresses ?? [])].every((n) => got.has(n));
      } catch {
        return false;
      }
    };
    const caDue = !have.caPem || !have.caKeyPem || due(have.caPem, caMs);
    if (!caDue && have.certPem && have.keyPem && !due(have.certPem, leafMs) && names(have.certPem)) return have;
    let ca: Issuer;
    let bundle: string;
    if (caDue) {
      ca = await createCA('ironlb-webhook-ca', caMs);
      // The old CA stays in the bundle until leaves it signed can no longer be served.
      bundle = ca.certPem + (have.caPem && notAfterOf(have.caPem).getTime() > now ? have.caPem : '');
      this.#log.info({ notAfter: notAfterOf(ca.certPem) }, 'webhook CA created');
    } else {
      ca = { cert: new x509.X509Certificate(have.caPem), key: await importCaKey(have.caKeyPem), certPem: have.caPem, keyPem: have.caKeyPem };
      // A leaf renewal keeps the bundle (a previous CA stays until it expires).
      bundle = currentBundle(have.bundlePem, have.caPem, now);
    }
    const leaf = await issue(ca, { commonName: this.#opts.dnsNames[0] ?? 'ironlb-webhook', dnsNames: this.#opts.dnsNames, ipAddresses: this.#opts.ipAddresses ?? [], usage: 'server', validityMs: leafMs });
    return { caPem: ca.certPem, caKeyPem: ca.keyPem, bundlePem: bundle, certPem: leaf.certPem, keyPem: leaf.keyPem };
  }

  async #ensureBundle(): Promise<void> {
    const bundle = b64((this.#certs as CertSet).bundlePem);
    for (let attempt = 0; attempt < 5; attempt++) {
      let cfg;
      try {
        cfg = await this.#admin.readValidatingWebhookConfiguration({ name: this.#opts.configurationName });
      } catch (err) {
        if (isNotFound(err)) {
          this.#log.warn({ configuration: this.#opts.configurationName }, 'ValidatingWebhookConfiguration not found: the webhook serves but the API server does not call it (install the chart with webhook.enabled)');
          return;
        }
        throw err;
      }
      if ((cfg.webhooks ?? []).every((w) => w.clientConfig.caBundle === bundle)) return;
      for (const w of cfg.webhooks ?? []) w.clientConfig.caBundle = bundle;
      try {
        await this.#admin.replaceValidatingWebhookConfiguration({ name: this.#opts.configurationName, body: cfg });
        this.#log.info({ configuration: this.#opts.configurationName }, 'webhook caBundle published');
        return;
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const reply = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== WEBHOOK_PATH) return reply(404, { message: `POST ${WEBHOOK_PATH} only` });
    let size = 0;
    const chunks: Buffer[] = [];
    try {
      for await (const c of req as AsyncIterable<Buffer>) {
        size += c.length;
        if (size > MAX_BODY) {
          this.counts.errors++;
          return reply(413, { message: `AdmissionReview larger than ${MAX_BODY} bytes` });
        }
        chunks.push(c);
      }
    } catch {
      this.counts.errors++;
      return;
    }
    let review: { apiVersion?: string; request?: AdmissionRequest };
    try {
      review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof review;
    } catch {
      this.counts.errors++;
      return reply(400, { message: 'body is not JSON: expected an admission.k8s.io/v1 AdmissionReview' });
    }
    const r = review.request;
    if (!r?.uid) {
      this.counts.errors++;
      return reply(400, { message: 'AdmissionReview without request.uid' });
    }
    const verdict = this.review(r);
    if (verdict.allowed) this.counts.allowed++;
    else this.counts.denied++;
    reply(200, {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: {
        uid: r.uid,
        allowed: verdict.allowed,
        ...(verdict.allowed ? (verdict.warnings.length ? { warnings: verdict.warnings } : {}) : { status: { code: 422, reason: 'Invalid', message: verdict.message } }),
      },
    });
  }

  /**
   * The decision on one request: refused when the object would add configuration errors. A
   * reference to an object not in the cluster yet is a warning (kubectl prints it), not a
   * refusal: objects arrive in any order, and the controller's cache may not hold one created a
   * moment ago (an IPPool and its L2Advertisement applied from one file).
   */
  review(r: AdmissionRequest): { allowed: true; warnings: string[] } | { allowed: false; message: string } {
    if (r.operation !== 'CREATE' && r.operation !== 'UPDATE') return { allowed: true, warnings: [] };
    const obj = r.object;
    const kind = r.kind?.kind ?? obj?.kind;
    const name = obj?.metadata?.name ?? r.name;
    if (!obj || !kind || !name) return { allowed: true, warnings: [] };
    const ns = obj.metadata?.namespace ?? r.namespace ?? '';
    const { objects, secrets } = this.#opts.snapshot();
    const same = (o: unknown): boolean => {
      const x = o as { kind?: string; metadata?: { name?: string; namespace?: string } };
      return x.kind === kind && x.metadata?.name === name && (x.metadata?.namespace ?? '') === ns;
    };
    const others = objects.filter((o) => !same(o));
    const key = (e: ConfigError): string => formatConfigError(e);
    const before = new Set(validateConfig(objects, secrets).errors.map(key));
    const after = validateConfig([...others, { ...obj, kind }], secrets).errors.filter((e) => !before.has(key(e)));
    const refusals = after.filter((e) => !isDanglingReference(e));
    if (!refusals.length) {
      // Warnings are short header lines: the first few, each clipped.
      const warnings = after.slice(0, MAX_WARNINGS).map((e) => clip(`${formatConfigError(e)} (not applied until it exists)`, MAX_WARNING));
      return { allowed: true, warnings };
    }
    const message = `${kind} ${name} conflicts with the configuration in the cluster: ${refusals.slice(0, 5).map(formatConfigError).join('; ')}${refusals.length > 5 ? `; and ${refusals.length - 5} more` : ''}`;
    return { allowed: false, message: clip(message, MAX_MESSAGE) };
  }
}
