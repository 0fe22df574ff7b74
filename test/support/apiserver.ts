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

/**
 * A test CRD (test.ironlb.io Widget) exercising defaults, enum, pattern, bounds, preserve-unknown-fields,
 * int-or-string, the status subresource and printer columns. Written as in YAML (JSON field names,
 * not client-node's typed ones): give it to `crds`, kubectl, or `loadYaml` for the typed client.
 */
export const widgetCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.test.ironlb.io' },
  spec: {
    group: 'test.ironlb.io',
    scope: 'Namespaced',
    names: { kind: 'Widget', listKind: 'WidgetList', plural: 'widgets', singular: 'widget', shortNames: ['wg'] },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: [
          { name: 'Size', type: 'integer', jsonPath: '.spec.size' },
          { name: 'Mode', type: 'string', jsonPath: '.spec.mode' },
          { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
          { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
        ],
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              apiVersion: { type: 'string' },
              kind: { type: 'string' },
              metadata: { type: 'object' },
              spec: {
                type: 'object',
                required: ['name'],
                properties: {
                  name: { type: 'string', pattern: '^[a-z]+$' },
                  size: { type: 'integer', minimum: 1, maximum: 10, default: 3 },
                  mode: { type: 'string', enum: ['fast', 'slow'], default: 'fast' },
                  tags: { type: 'array', maxItems: 2, items: { type: 'string' } },
                  extra: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
                  port: { 'x-kubernetes-int-or-string': true },
                },
                'x-kubernetes-validations': [{ rule: 'self.size < 100', message: 'not evaluated here' }],
              },
              status: { type: 'object', properties: { conditions: { type: 'array', items: { type: 'object', properties: { type: { type: 'string' }, status: { type: 'string' } } } } } },
            },
          },
        },
      },
    ],
  },
};
