// A real control plane for a test (testbed/controlplane.ts: etcd + kube-apiserver, RBAC), with
// ironlb installed by real helm from the chart, admin clients, and clients that authenticate as
// ironlb's own ServiceAccounts with exactly the RBAC the chart renders.
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions, type KubectlOptions } from '../controlplane.ts';
import { helm, CHART_DIR, type Values } from '../helm.ts';
import { makeClients, type Clients } from '../../src/k8s/index.ts';
import { DEFAULT_NAMESPACE } from '../../src/api/index.ts';
import { waitFor } from './wait.ts';

export interface TestApiServer {
  cp: ControlPlane;
  url: string;
  /** The API server's loopback port (TLS). */
  port: number;
  /** Admin (system:masters). */
  kc: KubeConfig;
  kubeconfigPath: string;
  /** The control plane's folder, removed on close; kubectl's HOME and cache live here. */
  dir: string;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  coordination: CoordinationV1Api;
  kubectl(args: string[], opts?: KubectlOptions): Promise<string>;
  close(): Promise<void>;
}

export interface TestApiServerOptions extends ControlPlaneOptions {
  /**
   * Install ironlb with helm first (CRDs, namespace, ServiceAccounts, RBAC, membership Secret; the
   * Deployment and DaemonSet objects are inert without kubelets). Default true.
   */
  install?: boolean;
  /** Chart values for that install. */
  values?: Values;
}

export async function startTestApiServer(o: TestApiServerOptions = {}): Promise<TestApiServer> {
  const cp = await startControlPlane(o);
  try {
    if (o.install ?? true) await helmInstall(cp, o.values);
  } catch (err) {
    await cp.close();
    throw err;
  }
  return {
    cp,
    url: cp.url,
    port: Number(new URL(cp.url).port),
    kc: cp.kc,
    kubeconfigPath: cp.kubeconfigPath,
    dir: cp.dir,
    core: cp.kc.makeApiClient(CoreV1Api),
    custom: cp.kc.makeApiClient(CustomObjectsApi),
    coordination: cp.kc.makeApiClient(CoordinationV1Api),
    kubectl: cp.kubectl,
    close: () => cp.close(),
  };
}

/**
 * `helm install ironlb` into the control plane's namespace ironlb-system (created by helm), then
 * waits until its CRDs serve: Established, and listable (a new CRD's storage answers
 * 429 "storage is (re)initializing" for a moment after it is established).
 */
export async function helmInstall(cp: ControlPlane, values: Values = {}, verb: 'install' | 'upgrade' = 'install'): Promise<string> {
  const out = await helm([verb, 'ironlb', CHART_DIR, '--namespace', DEFAULT_NAMESPACE, ...(verb === 'install' ? ['--create-namespace'] : []), '--wait=false'], { env: cp.env, values, timeoutMs: 180_000 });
  const crds = (await cp.kubectl(['get', 'crds', '-o', 'name'])).split('\n').filter((n) => n.endsWith('.ironlb.io'));
  await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...crds]);
  const resources = crds.map((c) => c.replace(/^customresourcedefinition\.apiextensions\.k8s\.io\//, ''));
  await waitFor(
    async () => {
      // One call for all of them: it fails while any one answers 429.
      await cp.kubectl(['get', resources.join(','), '-A', '-o', 'name']);
      return true;
    },
    { what: 'ironlb CRDs listable', timeoutMs: 60_000, intervalMs: 200 },
  );
  return out;
}

/** Clients that act as ironlb's controller or speaker ServiceAccount (a bound token from the TokenRequest API). */
export async function componentClients(api: TestApiServer, component: 'controller' | 'speaker'): Promise<Clients & { kubeconfigPath: string }> {
  const { kc, path } = await api.cp.serviceAccountKubeconfig(DEFAULT_NAMESPACE, `ironlb-${component}`);
  return { ...makeClients(kc), kubeconfigPath: path };
}

/** Runs `fn` with a fresh control plane and always closes it, also when `fn` throws. */
export async function withApiServer<T>(fn: (s: TestApiServer) => Promise<T>, opts: TestApiServerOptions = {}): Promise<T> {
  const s = await startTestApiServer(opts);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}
