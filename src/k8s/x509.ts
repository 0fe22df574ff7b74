// X.509 for the parts of ironlb that serve TLS to the API server (the admission webhook) and for
// the test bench's control plane: a CA and leaf certificates, ECDSA P-256, PEM in and out.
// Built on @peculiar/x509 over Node's WebCrypto; nothing here touches the filesystem.
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

/** A CA or leaf with the live key kept for signing further certificates. */
export interface Issuer extends KeyPairPem {
  cert: x509.X509Certificate;
  key: webcrypto.CryptoKey;
}

export interface LeafOptions {
  /** Subject common name (a user name for client certificates). */
  commonName: string;
  /** Subject organisations (groups for client certificates, e.g. system:masters). */
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: 'server' | 'client' | 'both';
  /** Validity from now; default 365 days. */
  validityMs?: number;
  /** Backdating of notBefore against clock skew; default 5 minutes. */
  backdateMs?: number;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

function serial(): string {
  // Positive 16-byte serial (top bit clear), as RFC 5280 asks for.
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0] ?? 0) & 0x7f;
  return Buffer.from(b).toString('hex');
}

/** RFC 4514 name; values are escaped so a user-chosen name cannot add attributes. */
function dn(commonName: string, organizations: readonly string[] = []): string {
  const esc = (v: string): string => v.replace(/([,+"\\<>;=])/g, '\\$1');
  return [`CN=${esc(commonName)}`, ...organizations.map((o) => `O=${esc(o)}`)].join(', ');
}

async function keyPair(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
}

async function keyPem(key: CryptoKey): Promise<string> {
  return pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key));
}

/** A self-signed CA (path length 0: it signs leaves only). */
export async function createCA(commonName: string, validityMs = 365 * 86_400_000): Promise<Issuer> {
  const keys = await keyPair();
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: dn(commonName),
    notBefore: new Date(now - 300_000),
    notAfter: new Date(now + validityMs),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, key: keys.privateKey, certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey) };
}

/** A leaf certificate signed by `ca`. */
export async function issue(ca: Issuer, o: LeafOptions): Promise<KeyPairPem & { notAfter: Date }> {
  const keys = await keyPair();
  const now = Date.now();
  const notAfter = new Date(now + (o.validityMs ?? 365 * 86_400_000));
  const eku = o.usage === 'server' ? [x509.ExtendedKeyUsage.serverAuth] : o.usage === 'client' ? [x509.ExtendedKeyUsage.clientAuth] : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
  const san = [...(o.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })), ...(o.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value }))];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: dn(o.commonName, o.organizations),
    issuer: ca.cert.subject,
    notBefore: new Date(now - (o.backdateMs ?? 300_000)),
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.key,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(eku, false),
      ...(san.length ? [new x509.SubjectAlternativeNameExtension(san, false)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert, false),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey), notAfter };
}

/** notAfter of the first certificate in a PEM bundle. */
export function notAfterOf(certPem: string): Date {
  return new x509.X509Certificate(certPem).notAfter;
}
