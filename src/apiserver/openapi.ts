// A minimal OpenAPI v3 index, enough for kubectl: it tells kubectl that every resource accepts
// fieldValidation (so `kubectl apply` validates on the server instead of asking for full schemas),
// and, having no component schemas, lets kubectl compute apply patches from its built-in types.
import { createHash } from 'node:crypto';
import { apiVersionOf, type ResourceDescriptor, type ResourceRegistry } from './resources.ts';

function gvPath(group: string, version: string): string {
  return group ? `apis/${group}/${version}` : `api/${version}`;
}

export function openApiV3Index(reg: ResourceRegistry): object {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const [group, versions] of reg.groups()) {
    for (const v of versions) {
      const p = gvPath(group, v);
      const hash = createHash('sha256').update(JSON.stringify(reg.inGroupVersion(group, v))).digest('hex').slice(0, 32).toUpperCase();
      paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` };
    }
  }
  return { paths };
}

const queryParams = ['fieldValidation', 'fieldManager', 'dryRun'].map((name) => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } }));

function ops(d: ResourceDescriptor, collection: boolean): object {
  const gvk = { group: d.group, version: d.version, kind: d.kind };
  const op = (action: string): object => ({
    operationId: `${action}${d.kind}`,
    parameters: queryParams,
    responses: { '200': { description: 'OK' } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk,
  });
  return collection ? { get: op('list'), post: op('post') } : { get: op('get'), put: op('put'), patch: op('patch'), delete: op('delete') };
}

export function openApiV3GroupVersion(reg: ResourceRegistry, group: string, version: string): object | undefined {
  const ds = reg.inGroupVersion(group, version);
  if (ds.length === 0) return undefined;
  const paths: Record<string, object> = {};
  for (const d of ds) {
    const base = d.namespaced ? `/${gvPath(group, version)}/namespaces/{namespace}/${d.plural}` : `/${gvPath(group, version)}/${d.plural}`;
    paths[base] = ops(d, true);
    paths[`${base}/{name}`] = ops(d, false);
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes (ironlb test double)', version: apiVersionOf({ group, version }) }, paths, components: { schemas: {} } };
}
