// What the controller's caches keep of each Service and Namespace: the fields its decisions and
// writes read, and nothing else (pure). At 100,000 Services the full objects (every annotation,
// port names and node ports, cluster IPs, other controllers' conditions) were most of the
// process's memory; a hostile Service with a 200 KB annotation of another tool costs nothing here.
import type { V1Namespace, V1Service } from '@kubernetes/client-node';
import { sameLabels } from '../util/selector.ts';
import { packPorts, type Port, type Protocol } from '../ipam/index.ts';
import { ANNOTATION_ALLOCATED_FROM_POOL, ANNOTATION_ALLOW_SHARED_IP, ANNOTATION_ADDRESS_POOL, ANNOTATION_LOAD_BALANCER_IPS, CONDITION_ALLOCATED } from '../api/index.ts';

/** The annotations the controller reads (src/api/service.ts); every other one is dropped. */
export const SERVICE_ANNOTATIONS: readonly string[] = [ANNOTATION_LOAD_BALANCER_IPS, ANNOTATION_ADDRESS_POOL, ANNOTATION_ALLOW_SHARED_IP, ANNOTATION_ALLOCATED_FROM_POOL];

type Meta = NonNullable<V1Service['metadata']>;

/**
 * Values repeated across Services (enumerations, pool names, common port lists and families) are
 * shared: one copy each instead of one per Service. Bounded; past the bound values are not shared.
 */
const SHARED_LIMIT = 10_000;
const shared = new Map<string, unknown>();
function share<T>(key: string, make: () => T): T {
  const hit = shared.get(key);
  if (hit !== undefined) return hit as T;
  const v = make();
  if (shared.size < SHARED_LIMIT) shared.set(key, v);
  return v;
}
const str = (s: string | undefined): string | undefined => (s === undefined || s.length > 64 ? s : share(`s:${s}`, () => s));

/**
 * A timestamp as one shared string: the list's typed objects carry Dates (some 96 bytes each, two
 * per Service), watch events strings; readers parse either (`new Date(x)`).
 */
function time(t: Date | string | undefined | null): Date | undefined {
  if (t === undefined || t === null) return undefined;
  return str(typeof t === 'string' ? t : t.toISOString()) as unknown as Date;
}

function metadata(m: Meta | undefined, annotations: readonly string[]): Meta {
  let kept: Record<string, string> | undefined;
  if (m?.annotations) {
    for (const k of annotations) {
      const v = m.annotations[k];
      if (v !== undefined) (kept ??= {})[k] = v;
    }
  }
  // Every key in one literal, so each view has one shape with its fields inside the object (keys
  // added one by one spill into a separate property array: 40 bytes per object, four per Service).
  // Absent fields are undefined, which JSON and every reader treat as missing.
  return {
    name: m?.name,
    // Shared by many objects: one copy each (watched objects arrive as JSON, a new string per field).
    namespace: str(m?.namespace),
    uid: m?.uid,
    resourceVersion: m?.resourceVersion,
    creationTimestamp: time(m?.creationTimestamp),
    deletionTimestamp: m?.deletionTimestamp ?? undefined,
    labels: m?.labels,
    annotations: kept,
  };
}

type Spec = NonNullable<V1Service['spec']>;
type Condition = NonNullable<NonNullable<V1Service['status']>['conditions']>[number];

/** A Service's ports as the allocator reads them; short lists are shared (frozen) between Services. */
function ports(list: NonNullable<Spec['ports']>): NonNullable<Spec['ports']> {
  const make = () => Object.freeze(list.map((p) => Object.freeze(p.protocol === undefined ? { port: p.port } : { port: p.port, protocol: str(p.protocol) as string }))) as NonNullable<Spec['ports']>;
  if (list.length > 8) return make();
  return share(`p:${list.map((p) => `${p.port}/${p.protocol ?? ''}`).join(',')}`, make);
}

/** Beyond this many ports the cache keeps them packed (src/ipam/ports.ts), as the allocator does. */
const PACK_MIN = 16;
const PROTOCOLS: readonly string[] = ['TCP', 'UDP', 'SCTP'];

/** A Service port as the allocator reads it: no protocol or one it does not know counts as TCP. */
export function requestPort(p: { protocol?: string | undefined; port: number }): Port {
  return { protocol: (p.protocol !== undefined && PROTOCOLS.includes(p.protocol) ? p.protocol : 'TCP') as Protocol, port: p.port };
}

/** The spec as the cache keeps it: a Service with many ports has them packed instead of `ports`. */
type ViewSpec = Spec & { packedPorts?: Int32Array | undefined };

/** The packed ports of a cached Service with many ports (the allocator's `packedPorts`), else undefined. */
export function packedPortsOf(svc: { spec?: object | undefined }): Int32Array | undefined {
  const p = (svc.spec as ViewSpec | undefined)?.packedPorts;
  return p instanceof Int32Array ? p : undefined;
}

/**
 * The Service as the controller's cache keeps it: identity and version, labels, ironlb's
 * annotations, the spec fields of an allocation request, the ingress addresses and ironlb's own
 * condition (the status patch merges conditions by type, so the others are never needed) with
 * the fields read of it.
 */
export function serviceView(svc: V1Service): V1Service {
  const spec = svc.spec;
  const ingress = svc.status?.loadBalancer?.ingress;
  const cond = svc.status?.conditions?.find((c) => c.type === CONDITION_ALLOCATED);
  const meta = metadata(svc.metadata, SERVICE_ANNOTATIONS);
  const packed = spec?.ports && spec.ports.length > PACK_MIN ? packPorts(spec.ports.map(requestPort)) : undefined;
  return {
    metadata: meta,
    spec: spec
      ? ({
          type: str(spec.type),
          loadBalancerIP: spec.loadBalancerIP || undefined,
          loadBalancerClass: str(spec.loadBalancerClass),
          ipFamilies: spec.ipFamilies ? share(`f:${spec.ipFamilies.join(',')}`, () => Object.freeze([...spec.ipFamilies!]) as string[]) : undefined,
          ipFamilyPolicy: str(spec.ipFamilyPolicy),
          externalTrafficPolicy: str(spec.externalTrafficPolicy),
          // Often the Service's own labels: then one object for both.
          selector: sameLabels(spec.selector, meta.labels) ? meta.labels : spec.selector,
          ports: spec.ports && !packed ? ports(spec.ports) : undefined,
          packedPorts: packed,
        } as ViewSpec)
      : undefined,
    status:
      ingress || cond
        ? {
            loadBalancer: ingress ? { ingress: ingress.map((i) => ({ ip: i.ip, hostname: i.hostname })) } : undefined,
            // Only what is read of it (its status, the pool in its message, the transition time kept on rewrite).
            conditions: cond ? [{ type: CONDITION_ALLOCATED, status: str(cond.status) as string, message: str(cond.message), lastTransitionTime: time(cond.lastTransitionTime) } as Condition] : undefined,
          }
        : undefined,
  };
}

/** A Namespace as the controller reads it: its name and labels (pool selectors match them). */
export function namespaceView(ns: V1Namespace): V1Namespace {
  return { metadata: metadata(ns.metadata, []) };
}
