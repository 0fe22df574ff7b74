// A real Kubernetes control plane on this machine for the lab, the tests and the benches:
// etcd and kube-apiserver (and, when asked, kube-controller-manager) built by scripts/setup.sh,
// on loopback ports, with a fresh CA, serving and client certificates and service-account keys
// per start, RBAC authorization and the default admission plugins. Readiness is awaited with a
// deadline; every process is killed on close(), on failure, on the test process's exit, and by the
// kernel if this process dies (setpriv --pdeathsig).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { appendFileSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { createCA, issue, type Issuer } from '../src/k8s/x509.ts';
import { tool } from './tools.ts';

export interface ControlPlaneOptions {
  /** Run kube-controller-manager too (namespace deletion, default ServiceAccounts, EndpointSlices from Pods, garbage collection). */
  controllerManager?: boolean;
  /** Controllers of kube-controller-manager to run (its --controllers); default CONTROLLERS. */
  controllers?: string[];
  /** Folder for state and logs (default: a new temp folder, removed on close). */
  dir?: string;
  /** Readiness deadline per process. */
  readyTimeoutMs?: number;
  /** Extra kube-apiserver flags. */
  apiServerArgs?: string[];
  /** etcd fsyncs its log as in production (benchmarks); default off, a test store. */
  etcdFsync?: boolean;
}

/** What the lab and the tests need from kube-controller-manager, and nothing that expects kubelets. */
export const CONTROLLERS = ['namespace-controller', 'serviceaccount-controller', 'endpointslice-controller', 'garbage-collector-controller'];

export interface KubectlOptions {
  input?: string;
  timeoutMs?: number;
  /** A kubeconfig other than the admin's. */
  kubeconfig?: string;
}

export interface ControlPlane {
  dir: string;
  /** https://127.0.0.1:PORT */
  url: string;
  caPem: string;
  /** A cluster-admin (system:masters) kubeconfig. */
  kubeconfigPath: string;
  kc: KubeConfig;
  /** A kubeconfig (written to a file) for a user with these groups, authenticated by client certificate. */
  userKubeconfig(user: string, groups?: string[]): Promise<{ path: string; kc: KubeConfig }>;
  /** A kubeconfig with a bound token (TokenRequest) of an existing ServiceAccount. */
  serviceAccountKubeconfig(namespace: string, name: string, expirationSeconds?: number): Promise<{ path: string; kc: KubeConfig }>;
  kubectl(args: string[], opts?: KubectlOptions): Promise<string>;
  /** Environment for kubectl, helm and child processes: KUBECONFIG, HOME and caches in this control plane's folder. */
  env: NodeJS.ProcessEnv;
  /** Fault injection: SIGKILL kube-apiserver or etcd; start() brings it back with the same state, port and certificates. */
  apiserver: Component;
  etcd: Component;
  controllerManager?: Component;
  close(): Promise<void>;
}

export interface Component {
  readonly pid: number | undefined;
  kill(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

const alive = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous: 'exit' handlers cannot wait. pdeathsig covers a SIGKILLed test process.
  process.on('exit', () => {
    for (const c of alive) c.kill('SIGKILL');
  });
}

/**
 * A port to listen on that nothing holds now, below Linux's ephemeral range (32768-60999 by
 * default): a port the kernel handed out for listening (port 0) is in that range, and until the
 * server binds it, any outgoing connection on the host may take it as its source port (one such
 * race made kube-apiserver exit with "address already in use" in CI).
 */
export async function freePort(): Promise<number> {
  let last: unknown;
  for (let i = 0; i < 100; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    try {
      await new Promise<void>((resolve, reject) => {
        const s = net.createServer();
        s.once('error', reject);
        s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
      });
      return port;
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`no free port found in 100 tries between 20000 and 31999: ${String(last)}`);
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

interface Proc {
  name: string;
  bin: string;
  args: string[];
  log: string;
  /** Resolves when the process serves; polled until the deadline. */
  ready: () => Promise<boolean>;
}

class Supervised implements Component {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly p: Proc;
  private readonly readyTimeoutMs: number;
  constructor(p: Proc, readyTimeoutMs: number) {
    this.p = p;
    this.readyTimeoutMs = readyTimeoutMs;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    if (this.child) throw new Error(`${this.p.name} is already running (pid ${this.child.pid})`);
    appendFileSync(this.p.log, `\n==== start ${new Date().toISOString()}\n`);
    const fd = openSync(this.p.log, 'a');
    // setpriv --pdeathsig: the kernel kills the component if the test process dies without cleanup.
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', this.p.bin, ...this.p.args], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    installExitHook();
    alive.add(child);
    this.child = child;
    let exitInfo: string | undefined;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = `exit code ${code ?? '-'} signal ${signal ?? '-'}`;
        alive.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + this.readyTimeoutMs;
    for (let i = 0; ; i++) {
      if (exitInfo) throw new Error(`${this.p.name} exited while starting (${exitInfo}); its log ${this.p.log} ends:\n${tail(this.p.log)}`);
      if (await this.p.ready().catch(() => false)) return;
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`${this.p.name} not ready within ${this.readyTimeoutMs} ms; its log ${this.p.log} ends:\n${tail(this.p.log)}`);
      }
      await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** Math.min(i, 4), 500)));
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (!c) return;
    c.kill(signal);
    const t = setTimeout(() => c.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}

function httpsGet(url: string, ca: string, cert: string, key: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, cert, key, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function kubeconfigYaml(server: string, caPem: string, user: { certPem: string; keyPem: string } | { token: string }): string {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const u = 'token' in user ? { token: user.token } : { 'client-certificate-data': b64(user.certPem), 'client-key-data': b64(user.keyPem) };
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'ironlb-test', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name: 'user', user: u }],
    contexts: [{ name: 'ironlb-test', context: { cluster: 'ironlb-test', user: 'user' } }],
    'current-context': 'ironlb-test',
  });
}

function kcFrom(text: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(text);
  return kc;
}

export async function startControlPlane(o: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const ownDir = !o.dir;
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'ironlb-cp-'));
  mkdirSync(dir, { recursive: true });
  const readyTimeoutMs = o.readyTimeoutMs ?? 90_000;
  const started: Supervised[] = [];
  const cleanup = async (): Promise<void> => {
    for (const c of started.reverse()) await c.kill().catch(() => undefined);
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [etcdPort, etcdPeerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
    const pki = join(dir, 'pki');
    mkdirSync(pki, { recursive: true });
    const ca: Issuer = await createCA('ironlb-test-ca');
    const serving = await issue(ca, { commonName: 'kube-apiserver', usage: 'server', dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'], ipAddresses: ['127.0.0.1', '::1'] });
    const admin = await issue(ca, { commonName: 'ironlb-test-admin', organizations: ['system:masters'], usage: 'client' });
    const sa = generateKeyPairSync('ec', { namedCurve: 'prime256v1', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const w = (name: string, text: string): string => {
      const p = join(pki, name);
      writeFileSync(p, text, { mode: 0o600 });
      return p;
    };
    const caFile = w('ca.crt', ca.certPem);
    w('ca.key', ca.keyPem);
    const certFile = w('apiserver.crt', serving.certPem);
    const keyFile = w('apiserver.key', serving.keyPem);
    const saPub = w('sa.pub', sa.publicKey);
    const saKey = w('sa.key', sa.privateKey);
    const url = `https://127.0.0.1:${apiPort}`;
    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfigYaml(url, ca.certPem, admin), { mode: 0o600 });
    const env: NodeJS.ProcessEnv = { ...process.env, KUBECONFIG: kubeconfigPath, KUBECACHEDIR: join(dir, 'kube-cache'), HOME: dir, HELM_CACHE_HOME: join(dir, 'helm-cache'), HELM_CONFIG_HOME: join(dir, 'helm-config'), HELM_DATA_HOME: join(dir, 'helm-data') };

    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcd = new Supervised(
      {
        name: 'etcd',
        bin: tool('etcd', 'etcd'),
        args: [
          '--name=default',
          `--data-dir=${join(dir, 'etcd')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
          `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
          `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
          // A test store: durability across a host crash is not needed, speed is.
          ...(o.etcdFsync ? [] : ['--unsafe-no-fsync']),
          '--log-level=warn',
        ],
        log: join(dir, 'etcd.log'),
        ready: async () => {
          const res = await fetch(`${etcdUrl}/health`, { signal: AbortSignal.timeout(2000) });
          return res.ok && ((await res.json()) as { health?: string }).health === 'true';
        },
      },
      readyTimeoutMs,
    );
    await etcd.start();
    started.push(etcd);

    const apiserver = new Supervised(
      {
        name: 'kube-apiserver',
        bin: tool('kubernetes', 'kube-apiserver'),
        args: [
          `--etcd-servers=${etcdUrl}`,
          '--bind-address=127.0.0.1',
          '--advertise-address=127.0.0.1',
          // The endpoint reconciler refuses a loopback address; nothing here needs the kubernetes Service's endpoints.
          '--endpoint-reconciler-type=none',
          // Webhooks and aggregated APIs are reached through their Services' endpoints, never a
          // cluster IP: no kube-proxy runs here, and a cluster IP would leave through the default route.
          '--enable-aggregator-routing=true',
          `--secure-port=${apiPort}`,
          `--tls-cert-file=${certFile}`,
          `--tls-private-key-file=${keyFile}`,
          `--client-ca-file=${caFile}`,
          `--service-account-key-file=${saPub}`,
          `--service-account-signing-key-file=${saKey}`,
          '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
          '--api-audiences=https://kubernetes.default.svc.cluster.local',
          '--authorization-mode=RBAC',
          '--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/112',
          '--profiling=false',
          `--cert-dir=${join(dir, 'apiserver-certs')}`,
          ...(o.apiServerArgs ?? []),
        ],
        log: join(dir, 'kube-apiserver.log'),
        ready: async () => (await httpsGet(`${url}/readyz`, ca.certPem, admin.certPem, admin.keyPem)).status === 200,
      },
      readyTimeoutMs,
    );
    await apiserver.start();
    started.push(apiserver);

    let controllerManager: Supervised | undefined;
    if (o.controllerManager) {
      const kcm = await issue(ca, { commonName: 'system:kube-controller-manager', usage: 'client' });
      const kcmConfig = join(dir, 'kube-controller-manager.kubeconfig');
      writeFileSync(kcmConfig, kubeconfigYaml(url, ca.certPem, kcm), { mode: 0o600 });
      const kcmPort = await freePort();
      controllerManager = new Supervised(
        {
          name: 'kube-controller-manager',
          bin: tool('kubernetes', 'kube-controller-manager'),
          args: [
            `--kubeconfig=${kcmConfig}`,
            `--authentication-kubeconfig=${kcmConfig}`,
            `--authorization-kubeconfig=${kcmConfig}`,
            '--leader-elect=false',
            '--bind-address=127.0.0.1',
            `--secure-port=${kcmPort}`,
            `--cert-dir=${join(dir, 'kcm-certs')}`,
            `--controllers=${(o.controllers ?? CONTROLLERS).join(',')}`,
            `--service-account-private-key-file=${saKey}`,
            `--root-ca-file=${caFile}`,
            '--use-service-account-credentials=true',
          ],
          log: join(dir, 'kube-controller-manager.log'),
          ready: () => kcmHealthy(kcmPort),
        },
        readyTimeoutMs,
      );
      await controllerManager.start();
      started.push(controllerManager);
    }

    const kubectlBin = tool('kubernetes', 'kubectl');
    const kubectl = (args: string[], ko: KubectlOptions = {}): Promise<string> =>
      new Promise<string>((resolve, reject) => {
        const child = execFile(kubectlBin, args, { env: ko.kubeconfig ? { ...env, KUBECONFIG: ko.kubeconfig } : env, timeout: ko.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
          if (err) reject(new Error(`kubectl ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
          else resolve(stdout);
        });
        if (ko.input !== undefined) child.stdin?.end(ko.input);
      });

    let users = 0;
    const cp: ControlPlane = {
      dir,
      url,
      caPem: ca.certPem,
      kubeconfigPath,
      kc: kcFrom(readFileSync(kubeconfigPath, 'utf8')),
      env,
      apiserver,
      etcd,
      ...(controllerManager ? { controllerManager } : {}),
      kubectl,
      async userKubeconfig(user, groups = []) {
        const c = await issue(ca, { commonName: user, organizations: groups, usage: 'client' });
        const text = kubeconfigYaml(url, ca.certPem, c);
        const path = join(dir, `user-${users++}.kubeconfig`);
        writeFileSync(path, text, { mode: 0o600 });
        return { path, kc: kcFrom(text) };
      },
      async serviceAccountKubeconfig(namespace, name, expirationSeconds = 86_400) {
        const out = await kubectl(['create', 'token', name, '-n', namespace, `--duration=${expirationSeconds}s`]);
        const text = kubeconfigYaml(url, ca.certPem, { token: out.trim() });
        const path = join(dir, `sa-${namespace}-${name}-${users++}.kubeconfig`);
        writeFileSync(path, text, { mode: 0o600 });
        return { path, kc: kcFrom(text) };
      },
      close: cleanup,
    };
    return cp;
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** kube-controller-manager serves /healthz over TLS with its own self-signed certificate; only the status matters here. */
async function kcmHealthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`https://127.0.0.1:${port}/healthz`, { rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** Runs `fn` with a fresh control plane and always tears it down. */
export async function withControlPlane<T>(fn: (cp: ControlPlane) => Promise<T>, o: ControlPlaneOptions = {}): Promise<T> {
  const cp = await startControlPlane(o);
  try {
    return await fn(cp);
  } finally {
    await cp.close();
  }
}

/** The same kubeconfig (JSON, as this module writes them) pointed at another server URL: for a relay into a network namespace. */
export function kubeconfigWithServer(kubeconfig: string, server: string): string {
  const k = JSON.parse(kubeconfig) as { clusters: Array<{ cluster: { server: string } }> };
  for (const c of k.clusters) c.cluster.server = server;
  return JSON.stringify(k);
}
