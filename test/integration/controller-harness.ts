// Shared set-up for the controller's integration tests: a real control plane with ironlb installed
// by helm, controllers started in-process as the chart's controller ServiceAccount (so every call
// they make passes the chart's RBAC), and small helpers that act as the cluster admin.
import type { CoreV1Event, V1Service } from '@kubernetes/client-node';
import { componentClients, startTestApiServer, type TestApiServer } from '../support/apiserver.ts';
import { waitFor } from '../support/wait.ts';
import { Controller, type ControllerOptions } from '../../src/controller/index.ts';
import { makeClients, retryOnConflict, type Clients } from '../../src/k8s/index.ts';
import { API_VERSION, DEFAULT_NAMESPACE } from '../../src/api/index.ts';

export const NS = DEFAULT_NAMESPACE;

export interface Harness {
  api: TestApiServer;
  /** The cluster admin's clients (the test acts as the operator). */
  clients: Clients;
  /** The controller ServiceAccount's clients (what the controllers run with). */
  controllerClients: Clients;
  controllers: Controller[];
  startController(o?: Partial<ControllerOptions>): Promise<Controller>;
  pool(name: string, spec: Record<string, unknown>, labels?: Record<string, string>): Promise<void>;
  replacePool(name: string, spec: Record<string, unknown>): Promise<void>;
  config(kind: string, plural: string, name: string, spec: unknown): Promise<void>;
  service(name: string, o?: SvcOpts): Promise<V1Service>;
  get(name: string, namespace?: string): Promise<V1Service>;
  /** Waits until the Service's ingress IPs satisfy `pred`, returns them. */
  waitIPs(name: string, pred?: (ips: string[]) => boolean, namespace?: string, timeoutMs?: number): Promise<string[]>;
  /** Waits for an Event on the object with this reason (and message matching), returns it. */
  waitEvent(name: string, reason: string, message?: RegExp, namespace?: string): Promise<CoreV1Event>;
  events(name: string, namespace?: string): Promise<CoreV1Event[]>;
}

export interface SvcOpts {
  namespace?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  ports?: Array<{ port: number; protocol?: string }>;
  loadBalancerIP?: string;
  loadBalancerClass?: string;
  type?: string;
  ipFamilyPolicy?: string;
  ipFamilies?: string[];
  selector?: Record<string, string>;
}

export const ips = (s: V1Service): string[] => (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '');

export function serviceBody(name: string, o: SvcOpts = {}): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: o.namespace ?? 'default', ...(o.annotations ? { annotations: o.annotations } : {}), ...(o.labels ? { labels: o.labels } : {}) },
    spec: {
      type: o.type ?? 'LoadBalancer',
      ports: (o.ports ?? [{ port: 80 }]).map((p) => ({ port: p.port, protocol: p.protocol ?? 'TCP' })),
      selector: o.selector ?? { app: name },
      ...(o.loadBalancerIP ? { loadBalancerIP: o.loadBalancerIP } : {}),
      ...(o.loadBalancerClass ? { loadBalancerClass: o.loadBalancerClass } : {}),
      ...(o.ipFamilyPolicy ? { ipFamilyPolicy: o.ipFamilyPolicy } : {}),
      ...(o.ipFamilies ? { ipFamilies: o.ipFamilies } : {}),
    },
  };
}

/** Fast leader election for tests: takeover within ~2 s of a silent leader. */
export const FAST_ELECTION = { leaseDurationMs: 2000, renewDeadlineMs: 1500, retryPeriodMs: 250 };

export async function withCluster(fn: (h: Harness) => Promise<void>): Promise<void> {
  const api = await startTestApiServer();
  // Its own User-Agent, so that field managers tell the admin's writes from the controller's.
  const clients = makeClients(api.kc, { userAgent: 'test-admin' });
  let controllerClients: Clients;
  try {
    controllerClients = await componentClients(api, 'controller');
  } catch (err) {
    await api.close();
    throw err;
  }
  const controllers: Controller[] = [];
  let n = 0;
  const h: Harness = {
    api,
    clients,
    controllerClients,
    controllers,
    async startController(o = {}) {
      const c = new Controller({ clients: controllerClients, namespace: NS, identity: `ctl-${n++}`, leaderElection: FAST_ELECTION, poolStatusDelayMs: 50, ...o });
      controllers.push(c);
      await c.start();
      return c;
    },
    async pool(name, spec, labels) {
      await clients.custom.createClusterCustomObject({ group: 'ironlb.io', version: 'v1alpha1', plural: 'ippools', body: { apiVersion: API_VERSION, kind: 'IPPool', metadata: { name, ...(labels ? { labels } : {}) }, spec } });
    },
    async replacePool(name, spec) {
      // The controller writes the pool's status meanwhile (a new resourceVersion): re-read on 409.
      await retryOnConflict(async () => {
        const cur = (await clients.custom.getClusterCustomObject({ group: 'ironlb.io', version: 'v1alpha1', plural: 'ippools', name })) as { spec: unknown };
        await clients.custom.replaceClusterCustomObject({ group: 'ironlb.io', version: 'v1alpha1', plural: 'ippools', name, body: { ...cur, spec } });
      });
    },
    async config(kind, plural, name, spec) {
      await clients.custom.createNamespacedCustomObject({ group: 'ironlb.io', version: 'v1alpha1', namespace: NS, plural, body: { apiVersion: API_VERSION, kind, metadata: { name, namespace: NS }, spec } });
    },
    async service(name, o = {}) {
      return clients.core.createNamespacedService({ namespace: o.namespace ?? 'default', body: serviceBody(name, o) });
    },
    get: (name, namespace = 'default') => clients.core.readNamespacedService({ name, namespace }),
    async waitIPs(name, pred = (x) => x.length > 0, namespace = 'default', timeoutMs = 15_000) {
      return waitFor(
        async () => {
          const got = ips(await h.get(name, namespace));
          return pred(got) ? got : undefined;
        },
        { what: `addresses of Service ${namespace}/${name}`, timeoutMs, intervalMs: 50 },
      );
    },
    async events(name, namespace = 'default') {
      const list = await clients.core.listNamespacedEvent({ namespace });
      return list.items.filter((e) => e.involvedObject.name === name);
    },
    async waitEvent(name, reason, message, namespace = 'default') {
      return waitFor(
        async () => (await h.events(name, namespace)).find((e) => e.reason === reason && (!message || message.test(e.message ?? ''))),
        { what: `Event ${reason}${message ? ` ${message}` : ''} on ${namespace}/${name}`, timeoutMs: 15_000, intervalMs: 50 },
      );
    },
  };
  try {
    await fn(h);
  } finally {
    for (const c of controllers) await c.stop().catch(() => undefined);
    await api.close();
  }
}
