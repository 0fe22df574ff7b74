// The allocator's own plain input and output types: no Kubernetes objects, so the allocator can be
// table-tested and reasoned about on its own. The controller maps IPPools and Services onto these.
import type { LabelSelector, Labels } from '../util/selector.ts';
import type { Family } from '../util/address.ts';

export type { Family, LabelSelector, Labels };

/** Restrictions of a pool to some Services (IPPool spec.allocateTo). */
export interface AllocateTo {
  /** Lower is tried first; a pool without a priority comes after every pool with one. */
  priority?: number;
  /** Namespaces whose Services may use the pool. */
  namespaces?: readonly string[];
  /** Namespaces (by their labels) whose Services may use the pool; ORed with `namespaces`. */
  namespaceSelectors?: readonly LabelSelector[];
  /** Services (by their labels) that may use the pool; ANDed with the namespace condition. */
  serviceSelectors?: readonly LabelSelector[];
}

/** One address pool (IPPool). */
export interface PoolSpec {
  name: string;
  /** CIDRs ("10.0.0.0/24", "fd00::/64"), ranges ("10.0.0.10-10.0.0.20") or single addresses. */
  addresses: readonly string[];
  /** Default true. When false the pool serves only Services asking for it by name or address. */
  autoAssign?: boolean;
  /** Default false. When true, IPv4 addresses ending in .0 or .255 are never handed out. */
  avoidBuggyIPs?: boolean;
  allocateTo?: AllocateTo;
}

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface Port {
  protocol: Protocol;
  port: number;
}

export type IpFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack';

/** What the allocator needs to know about one Service. */
export interface ServiceRequest {
  /** Unique key, conventionally "namespace/name". */
  key: string;
  namespace: string;
  /** The Service's labels (for serviceSelectors). */
  labels?: Labels;
  /** The labels of the Service's namespace (for namespaceSelectors). */
  namespaceLabels?: Labels;
  /** Addresses asked for (annotation or spec.loadBalancerIP): at most one per family. */
  requestedAddresses?: readonly string[];
  /** Pool asked for by name (annotation). */
  pool?: string;
  /** Services with the same non-empty sharing key may share an address. */
  sharingKey?: string;
  /** The Service's ports: two Services sharing an address may not use the same (protocol, port). */
  ports?: readonly Port[];
  /**
   * The ports packed (protocol index × 65536 + port, sorted, each once: `packPorts`), used instead
   * of `ports` when given: what the controller's cache keeps of a Service with many ports.
   */
  packedPorts?: Int32Array;
  /** Default SingleStack. */
  ipFamilyPolicy?: IpFamilyPolicy;
  /** spec.ipFamilies, primary first. Empty or absent: any family for SingleStack, both otherwise. */
  ipFamilies?: readonly Family[];
  /**
   * Identifies the Service's backends (its pod selector; see `backendKeyOf`). Only compared when
   * externalTrafficPolicy is Local: sharing Services must then select the same pods, or traffic to
   * the shared address would reach nodes without local endpoints for one of them.
   */
  backendKey?: string;
  /** Default Cluster. */
  externalTrafficPolicy?: 'Cluster' | 'Local';
}

/** Machine-readable reasons for a refusal. */
export type Reason =
  /** The request itself is malformed (bad address, two addresses of one family, ...). */
  | 'InvalidRequest'
  /** The pool named in the request does not exist. */
  | 'UnknownPool'
  /** The pool (named, or holding the requested address) is restricted to other Services. */
  | 'PoolNotAllowed'
  /** No pool may serve this Service with the families it needs. */
  | 'NoPoolMatches'
  /** Pools may serve the Service but have no free address left. */
  | 'PoolExhausted'
  /** A requested address is in no pool. */
  | 'NotInAnyPool'
  /** Requested addresses are in different pools (dual stack needs one pool). */
  | 'AddressesInDifferentPools'
  /** A requested address is outside the pool named in the request. */
  | 'NotInRequestedPool'
  /** A requested address ends in .0 or .255 and its pool has avoidBuggyIPs. */
  | 'BuggyAddress'
  /** The address is held by another Service and sharing is not possible. */
  | 'AddressInUse'
  /** The address is shared under another sharing key. */
  | 'SharingKeyMismatch'
  /** The address is shared by Services with other backends (externalTrafficPolicy Local). */
  | 'BackendKeyMismatch'
  /** A Service on the shared address already uses one of the ports. */
  | 'PortConflict'
  /** RequireDualStack, and no single eligible pool can give both families. */
  | 'DualStackUnavailable'
  /** The addresses do not fit spec.ipFamilyPolicy / spec.ipFamilies. */
  | 'FamilyMismatch'
  /** confirm: the Service holds addresses other than those it now requests. */
  | 'RequestMismatch';

/** A refusal: a machine reason and a message saying what is wrong and what to do. */
export interface Refusal {
  ok: false;
  reason: Reason;
  message: string;
}

/** An assignment held by a Service. */
export interface Assignment {
  key: string;
  pool: string;
  /** Canonical addresses, primary family first (ipFamilies order), at most one per family. */
  addresses: string[];
}

/** Result of `assign`. */
export type AssignResult =
  | (Assignment & {
      ok: true;
      /** False when the Service already held exactly this assignment. */
      changed: boolean;
      /** Addresses the Service held before and lost by this call (moved). */
      released: string[];
    })
  | (Refusal & {
      /** Addresses the Service held before and lost by this call (no longer compatible). */
      released: string[];
    });

/** Result of `confirm`. */
export type ConfirmResult = (Assignment & { ok: true }) | Refusal;

/** An assignment that a new configuration no longer allows; it has been released. */
export interface Revoked extends Assignment {
  reason: Reason;
  message: string;
}

/** A kept assignment whose address now belongs to a pool with another name. */
export interface Repooled {
  key: string;
  from: string;
  to: string;
  addresses: string[];
}

/** An error in a pool configuration, naming the pool, the field and the value. */
export interface PoolError {
  pool: string;
  field: string;
  value: string;
  message: string;
}

/** Result of `setPools`. On error nothing changes: the previous pools stay in force. */
export type SetPoolsResult =
  | { ok: true; revoked: Revoked[]; repooled: Repooled[] }
  | { ok: false; errors: PoolError[] };

/** Counts for one family of one pool. bigint: an IPv6 pool can hold more than 2^53 addresses. */
export interface FamilyUsage {
  /** Addresses the pool can hand out (after avoidBuggyIPs). */
  total: bigint;
  /** Distinct addresses in use (a shared address counts once). */
  assigned: bigint;
  available: bigint;
}

export interface PoolUsage {
  pool: string;
  IPv4: FamilyUsage;
  IPv6: FamilyUsage;
}
