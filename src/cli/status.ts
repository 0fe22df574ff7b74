// `ironlb status [service]`: Services, addresses, announcing nodes, BGP sessions, pool usage and,
// for a Service without an address, why. Also `kubectl ironlb status` (bin/kubectl-ironlb).
import type { Command } from 'commander';
import { summary } from './commands.ts';
import { DEFAULT_LOAD_BALANCER_CLASS, DEFAULT_NAMESPACE } from '../api/index.ts';
import { loadKubeConfig, makeClients } from '../k8s/index.ts';
import { collectStatus, formatStatus } from '../status/index.ts';

interface Opts {
  kubeconfig?: string;
  namespace?: string;
  allNamespaces?: boolean;
  ironlbNamespace: string;
  output: string;
  loadBalancerClass: string;
  ignoreServicesWithoutClass?: boolean;
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
    .action(async (service: string | undefined, o: Opts) => {
      if (o.output !== 'text' && o.output !== 'json') throw new Error(`--output must be "text" or "json", got "${o.output}"`);
      // kubectl passes its own --kubeconfig through the environment (KUBECONFIG) to plugins.
      const kc = loadKubeConfig(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {});
      const { core, custom, coordination } = makeClients(kc);
      const { namespace: serviceNamespace, name } = serviceTarget(service, o.namespace, kc.getContextObject(kc.getCurrentContext())?.namespace);
      const report = await collectStatus({
        core,
        custom,
        coordination,
        namespace: o.ironlbNamespace,
        ...(serviceNamespace ? { serviceNamespace } : {}),
        ...(name ? { service: name } : {}),
        classPolicy: { loadBalancerClass: o.loadBalancerClass, handleServicesWithoutClass: !o.ignoreServicesWithoutClass },
      });
      process.stdout.write(o.output === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report));
    });
}
