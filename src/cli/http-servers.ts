// The flags and start-up of a component's HTTP servers, shared by `ironlb controller` and
// `ironlb speaker`: metrics (optionally authenticated through the API server, over TLS) and, with
// --health-port, the kubelet's probes on an address of their own.
import type { Command } from 'commander';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Registry } from 'prom-client';
import { startHealthServer, type HealthServer, type Probe } from '../util/health-server.ts';
import { kubernetesAuthorizer, selfSignedServing } from '../util/metrics-auth.ts';

/**
 * How often the event-loop lag metric samples (prom-client's default is every 10 ms: a timer waking
 * the process 100 times a second, ~0.3% of a core at idle; docs/performance.md, Footprint). Every
 * 100 ms still gives hundreds of samples per scrape, and a stall longer than that is always seen.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

export interface HttpOpts {
  metricsPort: string;
  metricsHost: string;
  metricsAuth: string;
  healthPort?: string;
  healthHost: string;
}

export function httpOptions(cmd: Command, d: { metricsPort: number; healthHost: string }): Command {
  return cmd
    .option('--metrics-port <port>', 'port for /metrics (and /healthz, /readyz unless --health-port) (0 picks one)', String(d.metricsPort))
    .option('--metrics-host <address>', 'address for the metrics server', '0.0.0.0')
    .option(
      '--metrics-auth <mode>',
      '"kubernetes": HTTPS, and each request needs a bearer token the API server authenticates (TokenReview) and authorizes for the path (SubjectAccessReview: nonResourceURLs get); "none": plain HTTP for anyone who reaches the address',
      'none',
    )
    .option('--health-port <port>', '/healthz and /readyz on a port of their own, plain HTTP, never authenticated (for the kubelet\'s probes)')
    .option('--health-host <address>', 'address for --health-port', d.healthHost);
}

function port(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${flag} must be an integer from 0 to 65535, got "${text}"`);
  return n;
}

export interface HttpServers {
  metrics: HealthServer;
  health: HealthServer | undefined;
  close(): Promise<void>;
}

/** Starts the servers; fails fast (rejects) when an address cannot be bound or a flag is wrong. */
export async function startHttpServers(o: HttpOpts, c: { kc: KubeConfig; name: string; registry: Registry; healthz: () => Probe; readyz: () => Probe }): Promise<HttpServers> {
  if (o.metricsAuth !== 'none' && o.metricsAuth !== 'kubernetes') throw new Error(`--metrics-auth must be "kubernetes" or "none", got "${o.metricsAuth}"`);
  const metricsPort = port('--metrics-port', o.metricsPort);
  const healthPort = o.healthPort === undefined ? undefined : port('--health-port', o.healthPort);
  const secure = o.metricsAuth === 'kubernetes';
  const health = healthPort === undefined ? undefined : await startHealthServer({ port: healthPort, host: o.healthHost, healthz: c.healthz, readyz: c.readyz, probesOnly: true });
  try {
    const metrics = await startHealthServer({
      port: metricsPort,
      host: o.metricsHost,
      registry: c.registry,
      healthz: c.healthz,
      readyz: c.readyz,
      ...(secure ? { authorize: kubernetesAuthorizer({ kc: c.kc }), tls: await selfSignedServing(c.name) } : {}),
    });
    return { metrics, health, close: async () => void (await Promise.all([metrics.close(), health?.close()])) };
  } catch (err) {
    await health?.close();
    throw err;
  }
}
