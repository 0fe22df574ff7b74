// The load balancers ironlb is compared with, run in the same lab (`ironlb lab up --implementation`):
// MetalLB's own controller and speaker programs, built by `scripts/go-tools.sh peers` from
// tools/metallb/go.mod, installed from the manifest in its module source (CRDs, namespace,
// ServiceAccounts, RBAC) and configured with its own CRDs. Nothing here imitates MetalLB: the lab
// only does what Kubernetes would have done for its Deployment and DaemonSet (start the programs with
// their ServiceAccounts' credentials, write the speaker Pods as a kubelet would).
// kube-vip: testbed/lab/kube-vip.ts.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { ROOT, tool, toolVersion } from '../tools.ts';
import { ANNOTATION_ADDRESS_POOL } from '../../src/api/index.ts';

const run = promisify(execFile);

/** metallb: MetalLB with its native BGP; metallb-frr: MetalLB in FRR mode (FRR from Debian, BFD; testbed/lab/metallb-frr.ts). */
export type Implementation = 'ironlb' | 'metallb' | 'metallb-frr' | 'kube-vip';
export const IMPLEMENTATIONS: readonly Implementation[] = ['ironlb', 'metallb', 'metallb-frr', 'kube-vip'];

/** MetalLB in either BGP mode (the same programs, CRDs and Layer 2). */
export const isMetalLB = (impl: Implementation): impl is 'metallb' | 'metallb-frr' => impl === 'metallb' || impl === 'metallb-frr';

export function parseImplementation(s: string): Implementation {
  if ((IMPLEMENTATIONS as readonly string[]).includes(s)) return s as Implementation;
  throw new Error(`--implementation must be one of ${IMPLEMENTATIONS.join(', ')}; got "${s}"`);
}

/** Why an implementation cannot run on this machine, or undefined when it can. */
export function unavailable(impl: Implementation): string | undefined {
  if (impl === 'metallb-frr') {
    for (const f of ['/usr/lib/frr/bgpd', '/usr/lib/frr/bfdd', '/usr/lib/frr/frr-reload.py', '/usr/bin/vtysh']) {
      if (!existsSync(f)) return `MetalLB's FRR mode needs FRR and its reload tool from Debian (${f} is missing): run scripts/setup.sh (it installs frr and frr-pythontools).`;
    }
  }
  return undefined;
}

export const METALLB_NS = 'metallb-system';
export const METALLB_GROUP = 'metallb.io';
/** The speakers' Pod labels (the DaemonSet's), which memberlist uses to find its peers' Pod IPs. */
export const SPEAKER_LABELS: Record<string, string> = { app: 'metallb', component: 'speaker' };
/** Port of the per-node relay to the API server inside each node namespace (loopback of that namespace). */
export const RELAY_PORT = 16443;

/** Builds the peers' programs (MetalLB, kube-vip) if they are not built yet (idempotent; seconds when they are). */
export async function ensurePeersBuilt(say: (s: string) => void = () => {}): Promise<void> {
  const dir = join(ROOT, '.tools', `metallb-${toolVersion('metallb')}`);
  const kubeVip = join(ROOT, '.tools', `kube-vip-${toolVersion('kube-vip')}`, 'kube-vip');
  if (existsSync(join(dir, 'controller')) && existsSync(join(dir, 'speaker')) && existsSync(kubeVip)) return;
  say('building MetalLB and kube-vip (scripts/go-tools.sh peers; minutes the first time)');
  try {
    await run(join(ROOT, 'scripts', 'go-tools.sh'), ['peers'], { timeout: 30 * 60_000, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`building MetalLB or kube-vip failed: ${(e.stderr ?? e.message).trim().split('\n').slice(-10).join('\n')}\nRun scripts/go-tools.sh peers by hand to see the whole output.`);
  }
}

export const metallbProgram = (p: 'controller' | 'speaker'): string => tool('metallb', p);

function goBinary(): string {
  for (const c of ['go', '/usr/local/go/bin/go', join(ROOT, '.tools', 'go', 'bin', 'go')]) {
    try {
      execFileSync(c, ['version'], { stdio: 'ignore' });
      return c;
    } catch { /* next */ }
  }
  throw new Error('no Go toolchain found to locate MetalLB\'s module source: run scripts/go-tools.sh peers (it fetches one)');
}

/** MetalLB's module source in the Go module cache (its manifests and CRDs come from there). */
export function metallbSourceDir(): string {
  const out = execFileSync(goBinary(), ['list', '-m', '-json', 'go.universe.tf/metallb'], { cwd: join(ROOT, 'tools', 'metallb'), encoding: 'utf8', env: { ...process.env, GOFLAGS: '-mod=readonly' } });
  const dir = (JSON.parse(out) as { Dir?: string }).Dir;
  if (!dir || !existsSync(dir)) throw new Error(`MetalLB's module source is not in the Go module cache: run scripts/go-tools.sh peers (go list said: ${out.trim()})`);
  return dir;
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/**
 * MetalLB's manifest (config/manifests/metallb-native.yaml, or metallb-frr.yaml for FRR mode) without what a cluster without
 * kubelets cannot run: the controller Deployment and speaker DaemonSet (the lab starts the programs
 * itself) and the ValidatingWebhookConfiguration (the webhook would have to be reached at a Pod
 * address; MetalLB's docs allow running without it, and the controller runs --webhook-mode=disabled).
 */
export function metallbManifest(src = metallbSourceDir(), mode: 'native' | 'frr' = 'native'): K8sObject[] {
  const text = readFileSync(join(src, 'config', 'manifests', `metallb-${mode}.yaml`), 'utf8');
  const skip = new Set(['Deployment', 'DaemonSet', 'ValidatingWebhookConfiguration']);
  const objs = parseAllDocuments(text).map((d) => d.toJS() as K8sObject | null).filter((o): o is K8sObject => !!o && !skip.has(o.kind));
  for (const o of objs) if (o.kind === 'CustomResourceDefinition') fixInt32Bounds(o);
  return objs;
}

/**
 * MetalLB 0.15.2's BGPPeer schema declares the ASNs (uint32 in Go) as `format: int32` with
 * `maximum: 4294967295`; kube-apiserver 1.37 then refuses every BGPPeer ("Maximum boundary value
 * must be of type integer with format int32 in spec.myASN"). Dropping the format where the bound
 * does not fit keeps MetalLB's own bounds (0..2^32-1) and lets the objects in.
 */
export function fixInt32Bounds(node: unknown): number {
  let fixed = 0;
  const walk = (n: unknown, depth: number): void => {
    if (depth > 64 || n === null || typeof n !== 'object') return;
    if (Array.isArray(n)) {
      for (const x of n) walk(x, depth + 1);
      return;
    }
    const o = n as Record<string, unknown>;
    if (o.format === 'int32' && typeof o.maximum === 'number' && o.maximum > 2 ** 31 - 1) {
      delete o.format;
      fixed++;
    }
    for (const v of Object.values(o)) walk(v, depth + 1);
  };
  walk(node, 0);
  return fixed;
}

/** kubectl with a kubeconfig, its caches kept in the lab folder. */
export async function kubectl(dir: string, args: string[], input?: string): Promise<string> {
  const env = { ...process.env, KUBECONFIG: join(dir, 'kubeconfig'), KUBECACHEDIR: join(dir, '.kube', 'cache'), HOME: dir };
  return new Promise((resolve, reject) => {
    const child = execFile(tool('kubernetes', 'kubectl'), args, { env, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`kubectl ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

interface KubeconfigJson {
  clusters: Array<{ name: string; cluster: { server: string; 'certificate-authority-data'?: string } }>;
  users: Array<{ name: string; user: Record<string, string> }>;
  contexts: Array<{ name: string; context: { cluster: string; user: string } }>;
  'current-context': string;
}

/**
 * A kubeconfig for a ServiceAccount: the admin kubeconfig's cluster (CA) with `server`, and a bound
 * token the caller got from the TokenRequest API.
 */
export function tokenKubeconfig(adminKubeconfig: string, server: string, token: string): string {
  const k = JSON.parse(adminKubeconfig) as KubeconfigJson;
  const cluster = k.clusters[0];
  if (!cluster) throw new Error('the lab admin kubeconfig has no cluster');
  const out: KubeconfigJson = {
    clusters: [{ name: cluster.name, cluster: { ...cluster.cluster, server } }],
    users: [{ name: 'sa', user: { token } }],
    contexts: [{ name: 'sa', context: { cluster: cluster.name, user: 'sa' } }],
    'current-context': 'sa',
  };
  return JSON.stringify({ apiVersion: 'v1', kind: 'Config', ...out });
}

/** The memberlist key file the speakers read (--ml-secret-key-path DIR/secretkey), 128 bits base64. */
export function writeMemberlistKey(dir: string, key: string): string {
  const d = join(dir, 'metallb-memberlist');
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'secretkey'), key, { mode: 0o600 });
  return d;
}

export interface PoolSpec {
  name: string;
  addresses: string[];
  autoAssign?: boolean;
  avoidBuggyIPs?: boolean;
}

/** The lab's configuration in MetalLB's own CRDs (metallb.io/v1beta1, BGPPeer v1beta2). */
export interface MetalLBConfig {
  pools: PoolSpec[];
  l2: Array<{ name: string; pools: string[] }>;
  bgp: Array<{ name: string; pools: string[] }>;
  peers: Array<{ name: string; myASN: number; peerASN: number; peerAddress: string; holdTime: string; connectTime?: string; bfdProfile?: string }>;
  /** FRR mode only (native mode refuses them). */
  bfdProfiles?: Array<{ name: string; receiveInterval: number; transmitInterval: number; detectMultiplier: number }>;
}

export function metallbObjects(c: MetalLBConfig): K8sObject[] {
  const meta = (name: string) => ({ name, namespace: METALLB_NS });
  const v1 = `${METALLB_GROUP}/v1beta1`;
  return [
    ...(c.bfdProfiles ?? []).map((b) => ({ apiVersion: v1, kind: 'BFDProfile', metadata: meta(b.name), spec: { receiveInterval: b.receiveInterval, transmitInterval: b.transmitInterval, detectMultiplier: b.detectMultiplier } })),
    ...c.pools.map((p) => ({ apiVersion: v1, kind: 'IPAddressPool', metadata: meta(p.name), spec: { addresses: p.addresses, autoAssign: p.autoAssign ?? true, avoidBuggyIPs: p.avoidBuggyIPs ?? false } })),
    ...c.l2.map((a) => ({ apiVersion: v1, kind: 'L2Advertisement', metadata: meta(a.name), spec: { ipAddressPools: a.pools } })),
    ...c.peers.map((p) => ({ apiVersion: `${METALLB_GROUP}/v1beta2`, kind: 'BGPPeer', metadata: meta(p.name), spec: { myASN: p.myASN, peerASN: p.peerASN, peerAddress: p.peerAddress, holdTime: p.holdTime, ...(p.connectTime ? { connectTime: p.connectTime } : {}), ...(p.bfdProfile ? { bfdProfile: p.bfdProfile } : {}) } })),
    ...c.bgp.map((a) => ({ apiVersion: v1, kind: 'BGPAdvertisement', metadata: meta(a.name), spec: { ipAddressPools: a.pools } })),
  ];
}

/** Service annotations of each implementation: pool, requested addresses, sharing key. */
export function serviceAnnotations(impl: Implementation, o: { pool?: string; ips?: string[]; sharingKey?: string }): Record<string, string> {
  // kube-vip reads only its address annotation (the lab writes it: Lab.service) and shares no address.
  if (impl === 'kube-vip') return {};
  const p = isMetalLB(impl) ? 'metallb.io' : 'ironlb.io';
  const ann: Record<string, string> = {};
  if (o.pool) ann[isMetalLB(impl) ? 'metallb.io/address-pool' : ANNOTATION_ADDRESS_POOL] = o.pool;
  if (o.ips) ann[`${p}/loadBalancerIPs`] = o.ips.join(',');
  if (o.sharingKey) ann[`${p}/allow-shared-ip`] = o.sharingKey;
  return ann;
}
