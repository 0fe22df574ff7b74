// The table of resources the server knows: one line per built-in resource. CRDs add descriptors
// at run time (see crds.ts). Discovery, routing, storage and kubectl short names all come from here.

export interface ResourceDescriptor {
  group: string; // '' for the core group
  version: string;
  kind: string;
  listKind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  namespaced: boolean;
  /** Has a /status subresource: status is written only there, and ignored on the main resource. */
  status: boolean;
  categories: string[];
  /** Set for resources defined by a CustomResourceDefinition. */
  crd?: string;
}

/** Identifies a resource's storage and watchers: group and plural (versions share one store). */
export function resourceKey(d: Pick<ResourceDescriptor, 'group' | 'plural'>): string {
  return d.group ? `${d.plural}.${d.group}` : d.plural;
}

export function apiVersionOf(d: Pick<ResourceDescriptor, 'group' | 'version'>): string {
  return d.group ? `${d.group}/${d.version}` : d.version;
}

function r(group: string, version: string, kind: string, plural: string, namespaced: boolean, shortNames: string[] = [], status = false, categories: string[] = []): ResourceDescriptor {
  return { group, version, kind, listKind: `${kind}List`, plural, singular: kind.toLowerCase(), shortNames, namespaced, status, categories };
}

export const builtinResources: readonly ResourceDescriptor[] = [
  r('', 'v1', 'Namespace', 'namespaces', false, ['ns'], true),
  r('', 'v1', 'Service', 'services', true, ['svc'], true, ['all']),
  r('', 'v1', 'Endpoints', 'endpoints', true, ['ep']),
  r('', 'v1', 'Node', 'nodes', false, ['no'], true),
  r('', 'v1', 'Pod', 'pods', true, ['po'], true, ['all']),
  r('', 'v1', 'Secret', 'secrets', true),
  r('', 'v1', 'ConfigMap', 'configmaps', true, ['cm']),
  r('', 'v1', 'ServiceAccount', 'serviceaccounts', true, ['sa']),
  r('', 'v1', 'Event', 'events', true, ['ev']),
  r('discovery.k8s.io', 'v1', 'EndpointSlice', 'endpointslices', true),
  r('coordination.k8s.io', 'v1', 'Lease', 'leases', true),
  r('events.k8s.io', 'v1', 'Event', 'events', true, ['ev']),
  r('apiextensions.k8s.io', 'v1', 'CustomResourceDefinition', 'customresourcedefinitions', false, ['crd', 'crds'], true),
  r('apps', 'v1', 'Deployment', 'deployments', true, ['deploy'], true, ['all']),
  r('apps', 'v1', 'DaemonSet', 'daemonsets', true, ['ds'], true, ['all']),
  r('rbac.authorization.k8s.io', 'v1', 'Role', 'roles', true),
  r('rbac.authorization.k8s.io', 'v1', 'RoleBinding', 'rolebindings', true),
  r('rbac.authorization.k8s.io', 'v1', 'ClusterRole', 'clusterroles', false),
  r('rbac.authorization.k8s.io', 'v1', 'ClusterRoleBinding', 'clusterrolebindings', false),
  r('policy', 'v1', 'PodDisruptionBudget', 'poddisruptionbudgets', true, ['pdb'], true),
];

/** The registry of served resources, by group/version/plural; CRDs come and go at run time. */
export class ResourceRegistry {
  private readonly byGvr = new Map<string, ResourceDescriptor>();

  constructor(initial: readonly ResourceDescriptor[] = builtinResources) {
    for (const d of initial) this.add(d);
  }

  add(d: ResourceDescriptor): void {
    this.byGvr.set(`${d.group}/${d.version}/${d.plural}`, d);
  }

  remove(group: string, version: string, plural: string): void {
    this.byGvr.delete(`${group}/${version}/${plural}`);
  }

  get(group: string, version: string, plural: string): ResourceDescriptor | undefined {
    return this.byGvr.get(`${group}/${version}/${plural}`);
  }

  all(): ResourceDescriptor[] {
    return [...this.byGvr.values()];
  }

  /** Group name → versions served, in registration order (first is the preferred one). */
  groups(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const d of this.byGvr.values()) {
      const vs = out.get(d.group) ?? [];
      if (!vs.includes(d.version)) vs.push(d.version);
      out.set(d.group, vs);
    }
    return out;
  }

  inGroupVersion(group: string, version: string): ResourceDescriptor[] {
    return this.all().filter((d) => d.group === group && d.version === version);
  }
}
