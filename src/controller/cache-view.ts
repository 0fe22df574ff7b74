// What the controller's caches keep of each Service and Namespace: the fields its decisions and
// writes read, and nothing else (pure). At 100,000 Services the full objects (every annotation,
// port names and node ports, cluster IPs, other controllers' conditions) were most of the
// process's memory; a hostile Service with a 200 KB annotation of another tool costs nothing here.
import type { V1Namespace, V1Service } from '@kubernetes/client-node';
import { ANNOTATION_ALLOCATED_FROM_POOL, ANNOTATION_ALLOW_SHARED_IP, ANNOTATION_ADDRESS_POOL, ANNOTATION_LOAD_BALANCER_IPS, CONDITION_ALLOCATED } from '../api/index.ts';

/** The annotations the controller reads (src/api/service.ts); every other one is dropped. */
export const SERVICE_ANNOTATIONS: readonly string[] = [ANNOTATION_LOAD_BALANCER_IPS, ANNOTATION_ADDRESS_POOL, ANNOTATION_ALLOW_SHARED_IP, ANNOTATION_ALLOCATED_FROM_POOL];

type Meta = NonNullable<V1Service['metadata']>;

/** Copies the named keys of `from` that are set (no key at all when none is). */
function pick<T extends object, K extends keyof T>(from: T | undefined, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  if (!from) return out;
  for (const k of keys) if (from[k] !== undefined && from[k] !== null) out[k] = from[k];
  return out;
}

function metadata(m: Meta | undefined, annotations: readonly string[]): Meta {
  const out: Meta = pick(m, ['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'labels']);
  if (m?.annotations) {
    let kept: Record<string, string> | undefined;
    for (const k of annotations) {
      const v = m.annotations[k];
      if (v !== undefined) (kept ??= {})[k] = v;
    }
    if (kept) out.annotations = kept;
  }
  return out;
}

/**
 * The Service as the controller's cache keeps it: identity and version, labels, ironlb's
 * annotations, the spec fields of an allocation request, the ingress addresses and ironlb's own
 * condition (the status patch merges conditions by type, so the others are never needed).
 */
export function serviceView(svc: V1Service): V1Service {
  const spec = svc.spec;
  const out: V1Service = { metadata: metadata(svc.metadata, SERVICE_ANNOTATIONS) };
  if (spec) {
    out.spec = pick(spec, ['type', 'loadBalancerIP', 'loadBalancerClass', 'ipFamilies', 'ipFamilyPolicy', 'externalTrafficPolicy', 'selector']);
    if (spec.ports) out.spec.ports = spec.ports.map((p) => (p.protocol === undefined ? { port: p.port } : { port: p.port, protocol: p.protocol }));
  }
  const ingress = svc.status?.loadBalancer?.ingress;
  const cond = svc.status?.conditions?.find((c) => c.type === CONDITION_ALLOCATED);
  if (ingress || cond) {
    out.status = {};
    if (ingress) out.status.loadBalancer = { ingress: ingress.map((i) => pick(i, ['ip', 'hostname'])) };
    if (cond) out.status.conditions = [cond];
  }
  return out;
}

/** A Namespace as the controller reads it: its name and labels (pool selectors match them). */
export function namespaceView(ns: V1Namespace): V1Namespace {
  return { metadata: metadata(ns.metadata, []) };
}
