// Client set-up: kubeconfig file, in-cluster service account, or the default search path.
import { KubeConfig, CoreV1Api, CustomObjectsApi, CoordinationV1Api } from '@kubernetes/client-node';

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
}

export function makeClients(kc: KubeConfig): Clients {
  return { kc, core: kc.makeApiClient(CoreV1Api), custom: kc.makeApiClient(CustomObjectsApi), coordination: kc.makeApiClient(CoordinationV1Api) };
}
