// `ironlb dashboard`: a local web page of pools, Services, announcing nodes, BGP/BFD sessions,
// each speaker's membership view and a live timeline of failovers, served on 127.0.0.1 only.
import type { Command } from 'commander';
import { summary } from './commands.ts';
import { DEFAULT_LOAD_BALANCER_CLASS, DEFAULT_NAMESPACE } from '../api/index.ts';
import { loadKubeConfig, makeClients } from '../k8s/index.ts';
import { podProxySource } from '../dashboard/metrics.ts';
import { startDashboard } from '../dashboard/server.ts';

interface Opts {
  kubeconfig?: string;
  ironlbNamespace: string;
  port: string;
  metrics: boolean;
  metricsInterval: string;
  loadBalancerClass: string;
  ignoreServicesWithoutClass?: boolean;
}

export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description(summary('dashboard'))
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)')
    .option('--ironlb-namespace <ns>', 'namespace of ironlb\'s configuration, state and speaker Pods', DEFAULT_NAMESPACE)
    .option('--port <port>', 'loopback port of the page (0 picks a free one)', '7480')
    .option('--no-metrics', 'do not read the speakers\' /metrics (membership and quorum columns stay empty)')
    .option('--metrics-interval <ms>', 'between two reads of every speaker\'s /metrics (through the API server\'s Pod proxy)', '5000')
    .option('--load-balancer-class <class>', 'the class the controller serves', DEFAULT_LOAD_BALANCER_CLASS)
    .option('--ignore-services-without-class', 'as the controller flag: Services without a class are not ironlb\'s')
    .action(async (o: Opts) => {
      const port = Number(o.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be an integer from 0 to 65535, got "${o.port}"`);
      const interval = Number(o.metricsInterval);
      if (!Number.isInteger(interval) || interval < 1000) throw new Error(`--metrics-interval must be an integer of at least 1000 (ms), got "${o.metricsInterval}"`);
      const clients = makeClients(loadKubeConfig(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}));
      const d = await startDashboard({
        clients,
        namespace: o.ironlbNamespace,
        port,
        classPolicy: { loadBalancerClass: o.loadBalancerClass, handleServicesWithoutClass: !o.ignoreServicesWithoutClass },
        ...(o.metrics ? { metrics: podProxySource({ core: clients.core, namespace: o.ironlbNamespace }), metricsIntervalMs: interval } : {}),
      });
      process.stdout.write(`ironlb dashboard: ${d.url} (this machine only; Ctrl-C to stop)\n`);
      await new Promise<void>((resolve) => {
        const stop = (): void => void d.close().then(resolve, resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
