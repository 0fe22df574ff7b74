// From Kubernetes objects and the parsed configuration to decide()'s plain inputs (pure).
// Kept apart from the loop so the mapping (endpoint readiness, node conditions, pools, communities)
// is table-tested without an API server.
import type { V1EndpointSlice, V1Node, V1Service } from '@kubernetes/client-node';
import { allocatedPool, isOurs, type ClassPolicy, type ParsedConfig } from '../api/index.ts';
import { parseAddress, type Family } from '../util/address.ts';
import { joined } from '../util/text.ts';
import type { BgpPolicy, L2Policy, NodeFacts, PeerFacts, ServiceFacts } from './decide.ts';

/**
 * Annotation speakers before 0.2 wrote on their own Node: the subnets of its Layer 2 interfaces.
 * Speakers now publish them in their ConfigurationState (status.l2Subnets) and need no write
 * access to Nodes; the annotation is still read for a node whose speaker has not published there
 * yet (an older speaker during a rolling upgrade).
 */
export const ANNOTATION_L2_SUBNETS = 'ironlb.io/l2-subnets';
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** namespace/name (one flat string: kept once per Service by the decider, util/text.ts). */
export const serviceKeyOf = (s: { metadata?: { namespace?: string; name?: string } }): string => joined(s.metadata?.namespace ?? '', '/', s.metadata?.name ?? '');

/**
 * `published`: the node's subnets from its speaker's ConfigurationState (status.l2Subnets), which
 * win over the legacy Node annotation. Neither: the node counts as on every subnet.
 */
export function nodeFacts(n: V1Node, published?: readonly string[]): NodeFacts {
  const conds = n.status?.conditions ?? [];
  const f: NodeFacts = {
    name: n.metadata?.name ?? '',
    labels: n.metadata?.labels ?? {},
    networkUnavailable: conds.some((c) => c.type === 'NetworkUnavailable' && c.status === 'True'),
  };
  const subnets = n.metadata?.annotations?.[ANNOTATION_L2_SUBNETS];
  if (published !== undefined) f.subnets = [...published];
  else if (subnets !== undefined) f.subnets = subnets.split(',').map((x) => x.trim()).filter(Boolean);
  return f;
}

/** The node's InternalIP of a family (the first one listed), for membership and BGP. */
export function nodeAddress(n: V1Node, family?: Family): string | undefined {
  for (const a of n.status?.addresses ?? []) {
    if (a.type !== 'InternalIP') continue;
    const ip = parseAddress(a.address);
    if (ip && (family === undefined || ip.family === family)) return a.address;
  }
  return undefined;
}

export function nodeReady(n: V1Node): boolean {
  return (n.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** Endpoint facts of one Service from its EndpointSlices (Kubernetes semantics: unset ready = ready). */
export function endpointFacts(slices: readonly V1EndpointSlice[]): { endpointNodes: Set<string>; hasServingEndpoint: boolean } {
  const ready = new Set<string>();
  const serving = new Set<string>();
  let anyReady = false;
  let anyServing = false;
  for (const sl of slices) {
    for (const ep of sl.endpoints ?? []) {
      const c = ep.conditions ?? {};
      const isReady = c.ready !== false;
      // serving is unset on old API servers: fall back to ready.
      const isServing = c.serving ?? isReady;
      if (isReady) {
        anyReady = true;
        if (ep.nodeName) ready.add(ep.nodeName);
      }
      if (isServing) {
        anyServing = true;
        if (ep.nodeName) serving.add(ep.nodeName);
      }
    }
  }
  // While every endpoint is terminating, the serving ones still take traffic (as kube-proxy does).
  return anyReady ? { endpointNodes: ready, hasServingEndpoint: true } : { endpointNodes: serving, hasServingEndpoint: anyServing };
}

/** Groups EndpointSlices by the "namespace/name" of their Service. */
export function slicesByService(slices: readonly V1EndpointSlice[]): Map<string, V1EndpointSlice[]> {
  const m = new Map<string, V1EndpointSlice[]>();
  for (const sl of slices) {
    const name = sl.metadata?.labels?.[SERVICE_NAME_LABEL];
    if (!name) continue;
    const key = `${sl.metadata?.namespace ?? ''}/${name}`;
    const list = m.get(key);
    if (list) list.push(sl);
    else m.set(key, [sl]);
  }
  return m;
}

/** The pool holding an address, by the configuration's ranges. */
export function poolOf(ip: string, config: ParsedConfig): string | undefined {
  const a = parseAddress(ip);
  if (!a) return undefined;
  for (const p of config.pools.values()) if (p.ranges.some((r) => r.family === a.family && r.first <= a.value && a.value <= r.last)) return p.name;
  return undefined;
}

/** Facts of a Service we announce, or undefined when it is not ours or has no address yet. */
export function serviceFacts(svc: V1Service, slices: readonly V1EndpointSlice[], config: ParsedConfig, policy: ClassPolicy = {}): ServiceFacts | undefined {
  if (!isOurs(svc, policy)) return undefined;
  const ips = (svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip).filter((ip): ip is string => typeof ip === 'string' && parseAddress(ip) !== undefined);
  if (ips.length === 0) return undefined;
  // The pool decides which advertisements apply: prefer the configuration's ranges (the truth now),
  // then the controller's annotation.
  // The pool recorded by the controller (status condition, or older versions' annotation) when no pool holds the address now.
  const pool = poolOf(ips[0] as string, config) ?? allocatedPool(svc);
  if (pool === undefined) return undefined;
  return {
    key: serviceKeyOf(svc),
    labels: svc.metadata?.labels ?? {},
    ips,
    pool,
    externalTrafficPolicy: svc.spec?.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
    ...endpointFacts(slices),
  };
}

export const communityText = (n: number): string => `${Math.floor(n / 65536)}:${n % 65536}`;

/** Advertisements and peers of the parsed configuration as decide() takes them. */
export function policies(config: ParsedConfig): { l2: L2Policy[]; bgp: BgpPolicy[]; peers: PeerFacts[] } {
  return {
    l2: config.l2Advertisements.map((a) => ({ name: a.name, pools: new Set(a.pools), nodeSelectors: a.nodeSelectors, serviceSelectors: a.serviceSelectors, interfaces: a.interfaces })),
    bgp: config.bgpAdvertisements.map((a) => ({
      name: a.name,
      pools: new Set(a.pools),
      nodeSelectors: a.nodeSelectors,
      serviceSelectors: a.serviceSelectors,
      aggregationLength: a.aggregationLength,
      aggregationLengthV6: a.aggregationLengthV6,
      ...(a.localPref !== undefined ? { localPref: a.localPref } : {}),
      communities: a.communities.map(communityText),
      largeCommunities: a.largeCommunities.map((c) => `${c.global}:${c.local1}:${c.local2}`),
      peers: a.peers,
    })),
    peers: [...config.bgpPeers.values()].map((p) => ({ name: p.name, nodeSelectors: p.nodeSelectors })),
  };
}
