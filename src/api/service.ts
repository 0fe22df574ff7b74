// The Service side of the API: annotations under ironlb.io/, loadBalancerIP, loadBalancerClass,
// and how a Service's request is read (pure; no client calls).
import { parseAddress, type Family } from '../util/address.ts';
import { quote } from '../util/text.ts';

/** Requested addresses: comma-separated, at most one IPv4 and one IPv6. */
export const ANNOTATION_LOAD_BALANCER_IPS = 'ironlb.io/loadBalancerIPs';
/** Requested pool, by IPPool name. */
export const ANNOTATION_ADDRESS_POOL = 'ironlb.io/address-pool';
/** Sharing key: Services with the same key may share an address (compatible ports permitting). */
export const ANNOTATION_ALLOW_SHARED_IP = 'ironlb.io/allow-shared-ip';
/**
 * Written by older controllers: the pool the address came from. Only read now (Services
 * allocated by an older version keep it until their next change); see CONDITION_ALLOCATED.
 */
export const ANNOTATION_ALLOCATED_FROM_POOL = 'ironlb.io/ip-allocated-from-pool';

/**
 * The condition the controller keeps in the Service's status (status.conditions) while the Service
 * holds addresses: status "True", reason "FromPool", message the pool's name. Written with the
 * addresses in one status write, so the controller needs no permission on the Service itself.
 */
export const CONDITION_ALLOCATED = 'ironlb.io/IPAllocated';
export const CONDITION_ALLOCATED_REASON = 'FromPool';

export const DEFAULT_LOAD_BALANCER_CLASS = 'ironlb.io/ironlb';

/** The part of a core/v1 Service ironlb reads (structurally compatible with V1Service). */
export interface ServiceLike {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: {
    type?: string;
    loadBalancerIP?: string;
    loadBalancerClass?: string;
    ipFamilies?: string[];
    ipFamilyPolicy?: string;
    externalTrafficPolicy?: string;
    selector?: Record<string, string>;
    ports?: Array<{ port: number; protocol?: string }>;
  };
  status?: {
    loadBalancer?: { ingress?: Array<{ ip?: string; hostname?: string }> };
    conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string; lastTransitionTime?: Date | string }>;
  };
}

/**
 * The pool a Service's addresses were allocated from, as recorded on the Service: the condition
 * CONDITION_ALLOCATED, else the annotation older versions wrote; undefined when neither is there.
 */
export function allocatedPool(svc: ServiceLike): string | undefined {
  const c = svc.status?.conditions?.find((x) => x.type === CONDITION_ALLOCATED);
  if (c) return c.status === 'True' && c.message ? c.message : undefined;
  return svc.metadata?.annotations?.[ANNOTATION_ALLOCATED_FROM_POOL] || undefined;
}

export interface ClassPolicy {
  /** Our class name; default ironlb.io/ironlb. */
  loadBalancerClass?: string;
  /** Whether Services without a class are ours; default true. */
  handleServicesWithoutClass?: boolean;
}

/** True when the Service is of type LoadBalancer and of our class (or has none and we take those). */
export function isOurs(svc: ServiceLike, policy: ClassPolicy = {}): boolean {
  if (svc.spec?.type !== 'LoadBalancer') return false;
  const cls = svc.spec.loadBalancerClass;
  if (cls === undefined || cls === '') return policy.handleServicesWithoutClass ?? true;
  return cls === (policy.loadBalancerClass ?? DEFAULT_LOAD_BALANCER_CLASS);
}

export interface ServiceRequest {
  /** Requested addresses by family (at most one each). */
  addresses: Partial<Record<Family, string>>;
  pool?: string;
  sharingKey?: string;
}

export type RequestParse = { ok: true; request: ServiceRequest } | { ok: false; reason: string };

/**
 * Reads what a Service asks for. Errors name the annotation or field, the value, and what is
 * allowed; the controller turns them into an AllocationFailed Event.
 */
export function parseServiceRequest(svc: ServiceLike): RequestParse {
  const ann = svc.metadata?.annotations ?? {};
  const request: ServiceRequest = { addresses: {} };
  const fromAnn = ann[ANNOTATION_LOAD_BALANCER_IPS]?.trim();
  const fromSpec = svc.spec?.loadBalancerIP?.trim();
  if (fromAnn && fromSpec) {
    return {
      ok: false,
      reason: `both spec.loadBalancerIP (${quote(fromSpec)}) and annotation ${ANNOTATION_LOAD_BALANCER_IPS} (${quote(fromAnn)}) are set; use only the annotation`,
    };
  }
  const source = fromAnn ? `annotation ${ANNOTATION_LOAD_BALANCER_IPS}` : 'spec.loadBalancerIP';
  const text = fromAnn || fromSpec;
  if (text) {
    const items = text.split(',').map((x) => x.trim()).filter((x) => x !== '');
    for (const item of items) {
      const ip = parseAddress(item);
      if (!ip) return { ok: false, reason: `${source}: ${quote(item)} is not an IP address; expected at most one IPv4 and one IPv6 address, comma-separated` };
      if (request.addresses[ip.family]) {
        return { ok: false, reason: `${source}: ${quote(text)} has more than one ${ip.family} address; at most one per family is allowed` };
      }
      request.addresses[ip.family] = item;
    }
  }
  const pool = ann[ANNOTATION_ADDRESS_POOL]?.trim();
  if (pool) request.pool = pool;
  const key = ann[ANNOTATION_ALLOW_SHARED_IP]?.trim();
  if (key) request.sharingKey = key;
  return { ok: true, request };
}
