// `ironlb status [service]`: Services, addresses, announcing nodes, BGP sessions, pool usage and,
// for a Service without an address, why. Also `kubectl ironlb status` (bin/kubectl-ironlb).
import type { Command } from 'commander';
import { summary } from './commands.ts';
import { DEFAULT_LOAD_BALANCER_CLASS, DEFAULT_NAMESPACE } from '../api/index.ts';
import { loadKubeConfig, makeClients } from '../k8s/index.ts';
import { collectStatus, formatStatus, StatusWatcher, type StatusReport } from '../status/index.ts';

interface Opts {
  kubeconfig?: string;
  namespace?: string;
  allNamespaces?: boolean;
  ironlbNamespace: string;
  output: string;
  loadBalancerClass: string;
  ignoreServicesWithoutClass?: boolean;
  watch?: boolean;
  interval: string;
}

/** One frame of `status -w`: on a terminal the screen is redrawn; otherwise frames follow each other. */
export function watchFrame(r: StatusReport, output: 'text' | 'json', tty: boolean, now = new Date()): string {
  if (output === 'json') return `${JSON.stringify(r)}\n`;
  const head = `ironlb status at ${now.toISOString()} (follows changes; Ctrl-C to stop)\n\n`;
  return tty ? `\x1b[H\x1b[2J${head}${formatStatus(r)}` : `${head}${formatStatus(r)}\n`;
}

/** `[service]` and -n: NAMESPACE/NAME wins; a bare NAME takes -n, else the context's namespace. */
export function serviceTarget(service: string | undefined, namespace: string | undefined, contextNamespace: string | undefined): { namespace?: string; name?: string } {
  if (service?.includes('/')) {
    const [ns, name] = service.split('/', 2) as [string, string];
    if (!ns || !name) throw new Error(`a Service is NAME or NAMESPACE/NAME, got "${service}"`);
    return { namespace: ns, name };
  }
  if (service) return { namespace: namespace ?? contextNamespace ?? 'default', name: service };
  return namespace ? { namespace } : {};
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description(summary('status'))
    .argument('[service]', 'one Service: NAME (with -n) or NAMESPACE/NAME')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)')
    .option('-n, --namespace <ns>', 'only Services of this namespace (default: all namespaces)')
    .option('--ironlb-namespace <ns>', 'namespace of ironlb\'s configuration and state', DEFAULT_NAMESPACE)
    .option('-o, --output <format>', 'text or json', 'text')
    .option('--load-balancer-class <class>', 'the class the controller serves', DEFAULT_LOAD_BALANCER_CLASS)
    .option('--ignore-services-without-class', 'as the controller flag: Services without a class are not ironlb\'s')
    .option('-w, --watch', 'follow changes: watch the API and redraw on every change (JSON: one report per line)')
    .option('--interval <ms>', 'with --watch: least time between two redraws', '1000')
    .action(async (service: string | undefined, o: Opts) => {
      if (o.output !== 'text' && o.output !== 'json') throw new Error(`--output must be "text" or "json", got "${o.output}"`);
      const interval = Number(o.interval);
      if (!Number.isInteger(interval) || interval < 100 || interval > 60_000) throw new Error(`--interval must be an integer from 100 to 60000 (ms), got "${o.interval}"`);
      // kubectl passes its own --kubeconfig through the environment (KUBECONFIG) to plugins.
      const kc = loadKubeConfig(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {});
      const clients = makeClients(kc);
      const { core, custom, coordination } = clients;
      const { namespace: serviceNamespace, name } = serviceTarget(service, o.namespace, kc.getContextObject(kc.getCurrentContext())?.namespace);
      const classPolicy = { loadBalancerClass: o.loadBalancerClass, handleServicesWithoutClass: !o.ignoreServicesWithoutClass };
      if (o.watch) {
        const w = new StatusWatcher({
          clients,
          namespace: o.ironlbNamespace,
          ...(serviceNamespace ? { serviceNamespace } : {}),
          ...(name ? { service: name } : {}),
          classPolicy,
          minIntervalMs: interval,
        });
        const out = o.output as 'text' | 'json';
        w.on('report', (r) => process.stdout.write(watchFrame(r, out, process.stdout.isTTY === true)));
        await w.start();
        await new Promise<void>((resolve) => {
          const stop = (): void => void w.stop().then(resolve, resolve);
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
        return;
      }
      const report = await collectStatus({
        core,
        custom,
        coordination,
        namespace: o.ironlbNamespace,
        ...(serviceNamespace ? { serviceNamespace } : {}),
        ...(name ? { service: name } : {}),
        classPolicy,
      });
      process.stdout.write(o.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
    });
}
