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

function metadata(m: Meta | undefined, annotations: readonly string[]): Meta {
  const out: Meta = pick(m, ['name', 'uid', 'resourceVersion', 'deletionTimestamp', 'labels']);
  // Shared by many objects: one copy each (watched objects arrive as JSON, a new string per field).
  if (m?.namespace !== undefined) out.namespace = str(m.namespace) as string;
  const ct = m?.creationTimestamp;
  if (ct !== undefined && ct !== null) out.creationTimestamp = typeof ct === 'string' ? (str(ct) as unknown as Date) : ct;
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

type Spec = NonNullable<V1Service['spec']>;
type Condition = NonNullable<NonNullable<V1Service['status']>['conditions']>[number];

/** A Service's ports as the allocator reads them; short lists are shared (frozen) between Services. */
function ports(list: NonNullable<Spec['ports']>): NonNullable<Spec['ports']> {
  const make = () => Object.freeze(list.map((p) => Object.freeze(p.protocol === undefined ? { port: p.port } : { port: p.port, protocol: str(p.protocol) as string }))) as NonNullable<Spec['ports']>;
  if (list.length > 8) return make();
  return share(`p:${list.map((p) => `${p.port}/${p.protocol ?? ''}`).join(',')}`, make);
}

/**
 * The Service as the controller's cache keeps it: identity and version, labels, ironlb's
 * annotations, the spec fields of an allocation request, the ingress addresses and ironlb's own
 * condition (the status patch merges conditions by type, so the others are never needed) with
 * the fields read of it.
 */
export function serviceView(svc: V1Service): V1Service {
  const spec = svc.spec;
  const out: V1Service = { metadata: metadata(svc.metadata, SERVICE_ANNOTATIONS) };
  if (spec) {
    const o: Spec = {};
    if (spec.type !== undefined) o.type = str(spec.type) as string;
    if (spec.loadBalancerIP) o.loadBalancerIP = spec.loadBalancerIP;
    if (spec.loadBalancerClass !== undefined) o.loadBalancerClass = str(spec.loadBalancerClass) as string;
    if (spec.ipFamilies) o.ipFamilies = share(`f:${spec.ipFamilies.join(',')}`, () => Object.freeze([...spec.ipFamilies!]) as string[]);
    if (spec.ipFamilyPolicy !== undefined) o.ipFamilyPolicy = str(spec.ipFamilyPolicy) as string;
    if (spec.externalTrafficPolicy !== undefined) o.externalTrafficPolicy = str(spec.externalTrafficPolicy) as string;
    if (spec.selector) o.selector = spec.selector;
    if (spec.ports) o.ports = ports(spec.ports);
    out.spec = o;
  }
  const ingress = svc.status?.loadBalancer?.ingress;
  const cond = svc.status?.conditions?.find((c) => c.type === CONDITION_ALLOCATED);
  if (ingress || cond) {
    out.status = {};
    if (ingress) out.status.loadBalancer = { ingress: ingress.map((i) => pick(i, ['ip', 'hostname'])) };
    if (cond) {
      // Only what is read of it (its status, the pool in its message, the transition time kept on rewrite).
      const c: Partial<Condition> = { type: CONDITION_ALLOCATED, status: str(cond.status) as string };
      if (cond.message !== undefined) c.message = str(cond.message) as string;
      if (cond.lastTransitionTime !== undefined) c.lastTransitionTime = typeof cond.lastTransitionTime === 'string' ? (str(cond.lastTransitionTime) as unknown as Date) : cond.lastTransitionTime;
      out.status.conditions = [c as Condition];
    }
  }
  return out;
}

/** A Namespace as the controller reads it: its name and labels (pool selectors match them). */
export function namespaceView(ns: V1Namespace): V1Namespace {
  return { metadata: metadata(ns.metadata, []) };
}
