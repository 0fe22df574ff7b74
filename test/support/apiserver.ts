// Starts the in-repo API server for a test: a KubeConfig and clients pointed at it, a kubeconfig
// file and a private HOME/KUBECACHEDIR for kubectl, and one close() that undoes it all.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { startApiServer, type ApiServer, type ApiServerOptions } from '../../src/apiserver/index.ts';

export interface TestApiServer {
  server: ApiServer;
  url: string;
  kc: KubeConfig;
  /** Path of a kubeconfig file for this server (for kubectl or child processes). */
  kubeconfigPath: string;
  /** A temp folder removed on close; kubectl's HOME and cache live here. */
  dir: string;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  coordination: CoordinationV1Api;
  /** Runs kubectl against this server; rejects with kubectl's stderr on a non-zero exit. */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<string>;
  close(): Promise<void>;
}

export async function startTestApiServer(opts: ApiServerOptions = {}): Promise<TestApiServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ironlb-apiserver-'));
  let server: ApiServer;
  try {
    server = await startApiServer({ host: '127.0.0.1', port: 0, ...opts });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const kubeconfigPath = join(dir, 'kubeconfig');
  server.writeKubeconfig(kubeconfigPath);
  const kc = new KubeConfig();
  kc.loadFromString(server.kubeconfig());
  const env = { ...process.env, KUBECONFIG: kubeconfigPath, KUBECACHEDIR: join(dir, 'kube-cache'), HOME: dir };
  return {
    server,
    url: server.url,
    kc,
    kubeconfigPath,
    dir,
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    coordination: kc.makeApiClient(CoordinationV1Api),
    kubectl: (args, o = {}) =>
      new Promise<string>((resolve, reject) => {
        const child = execFile('kubectl', args, { env, timeout: o.timeoutMs ?? 30_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
          if (err) reject(new Error(`kubectl ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
          else resolve(stdout);
        });
        if (o.input !== undefined) child.stdin?.end(o.input);
      }),
    close: async () => {
      try {
        await server.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Runs `fn` with a fresh API server and always closes it, also when `fn` throws. */
export async function withApiServer<T>(fn: (s: TestApiServer) => Promise<T>, opts: ApiServerOptions = {}): Promise<T> {
  const s = await startTestApiServer(opts);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}
