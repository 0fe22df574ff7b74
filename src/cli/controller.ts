// `ironlb controller`: the address allocator for Services of type LoadBalancer.
import type { Command } from 'commander';
import { summary } from './commands.ts';
import { hostname } from 'node:os';
import { collectDefaultMetrics } from 'prom-client';
import { DEFAULT_LOAD_BALANCER_CLASS, DEFAULT_NAMESPACE } from '../api/index.ts';
import { AdmissionWebhook, Controller, COMPONENT, CONTROLLER_RATE_LIMIT, createMetrics } from '../controller/index.ts';
import { EVENT_LOOP_SAMPLE_MS, httpOptions, startHttpServers, type HttpOpts } from './http-servers.ts';
import { loadKubeConfig, makeClients } from '../k8s/index.ts';
import { logger } from '../util/log.ts';

interface Opts extends HttpOpts {
  kubeconfig?: string;
  namespace: string;
  bgpPasswordSecrets?: string;
  leaderElect: boolean;
  leaseName: string;
  leaseDuration: string;
  renewDeadline: string;
  retryPeriod: string;
  loadBalancerClass: string;
  ignoreServicesWithoutClass?: boolean;
  identity?: string;
  webhookPort: string;
  webhookHost: string;
  webhookSecret: string;
  webhookConfiguration: string;
  webhookService: string;
  webhookCertIps?: string;
  kubeApiQps: string;
  kubeApiBurst: string;
}

function num(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || n > max) throw new Error(`${flag} must be a number from ${min} to ${max}, got "${text}"`);
  return n;
}

export function registerController(program: Command): void {
  const cmd = program
    .command('controller')
    .description(summary('controller'))
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)')
    .option('--namespace <ns>', 'namespace of ironlb configuration, Secrets, Lease and state', DEFAULT_NAMESPACE)
    .option('--bgp-password-secrets <list>', 'comma-separated Secrets (in --namespace) BGPPeers may name as passwordSecret; no other Secret is read')
    .option('--no-leader-elect', 'do not use leader election (run exactly one replica)')
    .option('--lease-name <name>', 'name of the coordination.k8s.io Lease', COMPONENT)
    .option('--lease-duration <seconds>', 'how long a standby waits before taking a silent leader\'s Lease', '15')
    .option('--renew-deadline <seconds>', 'how long the leader retries renewing before stepping down', '10')
    .option('--retry-period <seconds>', 'interval between Lease renewals or acquisition attempts', '2')
    .option('--load-balancer-class <class>', 'the spec.loadBalancerClass handled', DEFAULT_LOAD_BALANCER_CLASS)
    .option('--ignore-services-without-class', 'leave Services without a loadBalancerClass to another implementation')
    .option('--identity <id>', 'identity in the Lease and Events (default: hostname-pid)')
    .option('--webhook-port <port>', 'port of the validating admission webhook (HTTPS); 0 turns it off', '0')
    .option('--webhook-host <address>', 'address of the admission webhook', '0.0.0.0')
    .option('--webhook-secret <name>', 'Secret (in --namespace) holding the webhook\'s CA and serving certificate, created empty by the chart', 'ironlb-webhook-cert')
    .option('--webhook-configuration <name>', 'ValidatingWebhookConfiguration whose caBundle the controller keeps current', 'ironlb-validating')
    .option('--webhook-service <name>', 'Service in front of the webhook (its DNS names go into the certificate)', 'ironlb-webhook')
    .option('--webhook-cert-ips <list>', 'comma-separated IP addresses also put in the certificate, for an API server that calls the webhook by address')
    .option('--kube-api-qps <n>', 'client-side limit of Kubernetes API calls per second (sustained)', String(CONTROLLER_RATE_LIMIT.qps))
    .option('--kube-api-burst <n>', 'Kubernetes API calls allowed at once above --kube-api-qps', String(CONTROLLER_RATE_LIMIT.burst));
  httpOptions(cmd, { metricsPort: 7472, healthHost: '0.0.0.0' })
    .action(async (o: Opts) => {
      const log = logger('cli');
      const leaseDurationMs = num('--lease-duration', o.leaseDuration, 1, 3600) * 1000;
      const renewDeadlineMs = num('--renew-deadline', o.renewDeadline, 0.5, 3600) * 1000;
      const retryPeriodMs = num('--retry-period', o.retryPeriod, 0.1, 3600) * 1000;
      const metrics = createMetrics();
      collectDefaultMetrics({ register: metrics.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
      const webhookPort = num('--webhook-port', o.webhookPort, 0, 65535);
      const rateLimit = { qps: num('--kube-api-qps', o.kubeApiQps, 1, 100_000), burst: num('--kube-api-burst', o.kubeApiBurst, 1, 100_000) };
      const clients = makeClients(loadKubeConfig(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}), { rateLimit, userAgent: COMPONENT });
      const controller = new Controller({
        clients,
        namespace: o.namespace,
        loadBalancerClass: o.loadBalancerClass,
        handleServicesWithoutClass: !o.ignoreServicesWithoutClass,
        identity: o.identity ?? `${hostname()}-${process.pid}`,
        leaderElection: o.leaderElect ? { leaseName: o.leaseName, leaseDurationMs, renewDeadlineMs, retryPeriodMs } : false,
        metrics,
        bgpPasswordSecrets: (o.bgpPasswordSecrets ?? '').split(',').map((x) => x.trim()).filter(Boolean),
      });
      const server = await startHttpServers(o, { kc: clients.kc, name: 'ironlb-controller', registry: metrics.registry, healthz: () => controller.healthz(), readyz: () => controller.readyz() });
      log.info({ port: server.metrics.port, healthPort: server.health?.port, metricsAuth: o.metricsAuth, namespace: o.namespace, class: o.loadBalancerClass }, 'controller starting');
      let webhook: AdmissionWebhook | undefined;
      if (webhookPort > 0) {
        const svc = `${o.webhookService}.${o.namespace}.svc`;
        webhook = new AdmissionWebhook({
          clients,
          namespace: o.namespace,
          host: o.webhookHost,
          port: webhookPort,
          secretName: o.webhookSecret,
          configurationName: o.webhookConfiguration,
          dnsNames: [svc, `${svc}.cluster.local`, `${o.webhookService}.${o.namespace}`],
          ipAddresses: (o.webhookCertIps ?? '').split(',').map((x) => x.trim()).filter(Boolean),
          snapshot: () => controller.configSnapshot(),
        });
      }
      const stop = (): void => {
        log.info('stopping');
        void Promise.resolve(webhook?.stop())
          .then(() => controller.stop())
          .then(() => server.close())
          .then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await controller.start();
      // After the caches are filled: the webhook judges changes against them.
      await webhook?.start();
    });
}
