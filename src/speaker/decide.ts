// decide(): the pure core of the speaker. From the cluster's facts (configuration, services with
// their addresses and endpoints, nodes, live members) it computes what THIS node announces over
// Layer 2 and BGP, and a cluster-wide view of who announces each service (identical on every node).
// No I/O, no clocks: the speaker loop feeds it and reconciles the announcers with its answer.
import { isIPv4 } from 'node:net';
import ipaddr from 'ipaddr.js';
import { matchesAny, type LabelSelector, type Labels } from '../util/selector.ts';
import { joined } from '../util/text.ts';
import { assignOwners, DEFAULT_LOAD_FACTOR } from './owner.ts';

/** Nodes carrying this label never announce (Kubernetes' well-known label). */
export const EXCLUDE_LB_LABEL = 'node.kubernetes.io/exclude-from-external-load-balancers';

export interface NodeFacts {
  name: string;
  labels: Labels;
  /** Condition NetworkUnavailable=True. */
  networkUnavailable: boolean;
  /**
   * Subnets (CIDRs) of the node's Layer 2 interfaces, as the node's speaker published them. When
   * known, the node owns an address over L2 only if one of them holds it (one pool may span several
   * L2 segments); unknown (undefined) means any address.
   */
  subnets?: readonly string[];
}

export interface ServiceFacts {
  /** namespace/name */
  key: string;
  labels: Labels;
  /** Addresses the controller assigned (status.loadBalancer.ingress). */
  ips: readonly string[];
  /** Pool the addresses came from. */
  pool: string;
  externalTrafficPolicy: 'Cluster' | 'Local';
  /** Nodes that host a ready endpoint (or a serving one while all are terminating). */
  endpointNodes: ReadonlySet<string>;
  /** Whether the service has any ready/serving endpoint at all (some may have no node name). */
  hasServingEndpoint: boolean;
}

interface AdvertisementBase {
  name: string;
  /** Pools this advertisement covers; null means every pool. Resolved from pools + poolSelectors. */
  pools: ReadonlySet<string> | null;
  nodeSelectors: readonly LabelSelector[];
  serviceSelectors: readonly LabelSelector[];
}

export interface L2Policy extends AdvertisementBase {
  /** Interface names (or patterns, interpreted by the announcer); empty means any eligible. */
  interfaces: readonly string[];
}

export interface BgpPolicy extends AdvertisementBase {
  aggregationLength?: number;
  aggregationLengthV6?: number;
  localPref?: number;
  communities: readonly string[];
  largeCommunities: readonly string[];
  /** BGPPeer names; empty means every peer. */
  peers: readonly string[];
}

export interface PeerFacts {
  name: string;
  nodeSelectors: readonly LabelSelector[];
}

export interface DecideInput {
  self: string;
  nodes: readonly NodeFacts[];
  /** Live speakers according to membership (self included). */
  alive: ReadonlySet<string>;
  services: readonly ServiceFacts[];
  l2: readonly L2Policy[];
  bgp: readonly BgpPolicy[];
  peers: readonly PeerFacts[];
  loadFactor?: number;
}

export interface L2Announcement {
  services: string[];
  /** Empty: any eligible interface whose subnet holds the address. */
  interfaces: string[];
}

export interface BgpRoute {
  localPref?: number;
  communities: string[];
  largeCommunities: string[];
  services: string[];
}

export interface ServiceView {
  /** Layer 2 owner node of each address, if announced over L2. */
  l2Owners: Record<string, string>;
  /** Nodes announcing over BGP (to at least one peer). */
  bgpNodes: string[];
  /** Why it is not announced at all, when it isn't. */
  reason?: string;
}

export interface Decision {
  l2: Map<string, L2Announcement>;
  /** peer name → prefix → route */
  bgp: Map<string, Map<string, BgpRoute>>;
  services: Map<string, ServiceView>;
}

export const poolCovered = (ad: AdvertisementBase, pool: string): boolean => ad.pools === null || ad.pools.has(pool);

export function nodeCanAnnounce(n: NodeFacts): boolean {
  return !n.networkUnavailable && !Object.hasOwn(n.labels, EXCLUDE_LB_LABEL);
}

// Parsing addresses dominated decide()'s time (ipaddr.parse tries IPv6 first and throws for IPv4):
// parse each distinct text once. Bounded caches, cleared when they grow past a limit.
const CACHE_LIMIT = 100_000;
const ipCache = new Map<string, ipaddr.IPv4 | ipaddr.IPv6>();
function parseIp(ip: string): ipaddr.IPv4 | ipaddr.IPv6 {
  let a = ipCache.get(ip);
  if (!a) {
    a = isIPv4(ip) ? ipaddr.IPv4.parse(ip) : ipaddr.IPv6.parse(ip);
    if (ipCache.size > CACHE_LIMIT) ipCache.clear();
    ipCache.set(ip, a);
  }
  return a;
}
const cidrCache = new Map<string, [ipaddr.IPv4 | ipaddr.IPv6, number] | null>();
function parseCidr(c: string): [ipaddr.IPv4 | ipaddr.IPv6, number] | null {
  let r = cidrCache.get(c);
  if (r === undefined) {
    try {
      r = ipaddr.parseCIDR(c);
    } catch {
      r = null;
    }
    if (cidrCache.size > CACHE_LIMIT) cidrCache.clear();
    cidrCache.set(c, r);
  }
  return r;
}

export function onSegment(n: NodeFacts, ips: readonly string[]): boolean {
  if (n.subnets === undefined) return true;
  const subnets = n.subnets;
  return ips.every((ip) => {
    const addr = parseIp(ip);
    return subnets.some((c) => {
      const net = parseCidr(c);
      return net !== null && net[0].kind() === addr.kind() && addr.match(net[0], net[1]);
    });
  });
}

function endpointOk(svc: ServiceFacts, node: string): boolean {
  return svc.externalTrafficPolicy !== 'Local' || svc.endpointNodes.has(node);
}

const aggCache = new Map<string, string>();
/** Prefix announced for an address under an aggregation length (default host route). */
export function aggregate(ip: string, v4Len = 32, v6Len = 128): string {
  // A host route of an IPv4 address in its usual form is the address itself: no parse, no cache
  // entry (100k of them at 100k Services).
  // (net.isIPv4 accepts only the dotted-decimal form without leading zeros: already canonical.)
  if (v4Len === 32 && isIPv4(ip)) return joined(ip, '/32');
  const key = `${ip}|${v4Len}|${v6Len}`;
  let out = aggCache.get(key);
  if (out !== undefined) return out;
  // Not through parseIp's cache: the result is cached here, and 100k parsed addresses kept
  // twice cost megabytes.
  const v4 = isIPv4(ip);
  const len = v4 ? v4Len : v6Len;
  const net = v4 ? ipaddr.IPv4.networkAddressFromCIDR(`${ip}/${len}`) : ipaddr.IPv6.networkAddressFromCIDR(`${ip}/${len}`);
  out = `${net.toString()}/${len}`;
  if (aggCache.size > CACHE_LIMIT) aggCache.clear();
  aggCache.set(key, out);
  return out;
}

/** Groups services connected through shared addresses, so one node owns all of a group's addresses. */
function l2Units(services: readonly ServiceFacts[]): Array<{ ips: string[]; services: ServiceFacts[] }> {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let r = x;
    for (let p = parent.get(r); p !== undefined && p !== r; p = parent.get(r)) r = p;
    parent.set(x, r);
    return r;
  };
  for (const s of services) {
    for (const ip of s.ips) if (!parent.has(ip)) parent.set(ip, ip);
    for (let i = 1; i < s.ips.length; i++) {
      const a = find(s.ips[0] as string);
      const b = find(s.ips[i] as string);
      if (a !== b) parent.set(a < b ? b : a, a < b ? a : b);
    }
  }
  const groups = new Map<string, { ips: Set<string>; services: ServiceFacts[] }>();
  for (const s of services) {
    if (s.ips.length === 0) continue;
    const root = find(s.ips[0] as string);
    let g = groups.get(root);
    if (!g) groups.set(root, (g = { ips: new Set(), services: [] }));
    for (const ip of s.ips) g.ips.add(ip);
    g.services.push(s);
  }
  return [...groups.values()].map((g) => ({ ips: [...g.ips].sort(), services: g.services }));
}

export function decide(input: DecideInput): Decision {
  const nodeByName = new Map(input.nodes.map((n) => [n.name, n]));
  const liveNodes = input.nodes.filter((n) => input.alive.has(n.name) && nodeCanAnnounce(n));
  const self = nodeByName.get(input.self);
  const services = new Map<string, ServiceView>();
  for (const s of input.services) services.set(s.key, { l2Owners: {}, bgpNodes: [] });

  // Selector matches are computed once per (advertisement, node) and per service, not per pair:
  // decide() runs on every change and at failover, for thousands of services.
  const matchNodes = (sels: readonly LabelSelector[]): Set<string> => {
    const out = new Set<string>();
    for (const n of input.nodes) if (matchesAny(sels, n.labels)) out.add(n.name);
    return out;
  };

  // ---- Layer 2: one owner per unit among eligible live nodes.
  const l2Nodes = new Map(input.l2.map((ad) => [ad, matchNodes(ad.nodeSelectors)]));
  const l2BySvc = new Map<ServiceFacts, L2Policy[]>();
  for (const svc of input.services) l2BySvc.set(svc, input.l2.filter((ad) => poolCovered(ad, svc.pool) && matchesAny(ad.serviceSelectors, svc.labels)));
  const l2Ads = (svc: ServiceFacts, node: NodeFacts): L2Policy[] => (l2BySvc.get(svc) ?? []).filter((ad) => l2Nodes.get(ad)?.has(node.name));
  const units = l2Units(input.services.filter((s) => s.hasServingEndpoint && (l2BySvc.get(s)?.length ?? 0) > 0));
  const ownerUnits = units.map((u) => ({
    key: u.ips[0] as string,
    // With explicit interfaces the advertisement says where to answer; otherwise the node must sit on
    // the address's subnet.
    candidates: liveNodes
      .filter((n) => {
        let seg: boolean | undefined;
        return u.services.every((s) => endpointOk(s, n.name) && l2Ads(s, n).some((ad) => ad.interfaces.length > 0 || (seg ??= onSegment(n, u.ips))));
      })
      .map((n) => n.name),
  }));
  const owners = assignOwners(ownerUnits, input.loadFactor ?? DEFAULT_LOAD_FACTOR);
  const l2 = new Map<string, L2Announcement>();
  for (const u of units) {
    const owner = owners.get(u.ips[0] as string);
    if (owner === undefined) continue;
    for (const s of u.services) {
      const view = services.get(s.key);
      if (view) for (const ip of s.ips) view.l2Owners[ip] = owner;
    }
    if (owner !== input.self || !self) continue;
    const ifaces = new Set<string>();
    let any = false;
    for (const s of u.services) {
      for (const ad of l2Ads(s, self)) {
        if (ad.interfaces.length === 0) any = true;
        for (const i of ad.interfaces) ifaces.add(i);
      }
    }
    for (const ip of u.ips) {
      l2.set(ip, { services: u.services.map((s) => s.key).sort(), interfaces: any ? [] : [...ifaces].sort() });
    }
  }

  // ---- BGP: every eligible node announces, each with its own next hop (the engine's job).
  const bgpNodes = new Map(input.bgp.map((ad) => [ad, matchNodes(ad.nodeSelectors)]));
  const peersOfNode = new Map(liveNodes.map((n) => [n.name, input.peers.filter((p) => matchesAny(p.nodeSelectors, n.labels))]));
  const bgp = new Map<string, Map<string, BgpRoute>>();
  const routeServices = new Map<BgpRoute, Set<string>>();
  for (const svc of input.services) {
    if (!svc.hasServingEndpoint || svc.ips.length === 0) continue;
    const ads = input.bgp.filter((ad) => poolCovered(ad, svc.pool) && matchesAny(ad.serviceSelectors, svc.labels));
    if (ads.length === 0) continue;
    const view = services.get(svc.key);
    for (const node of liveNodes) {
      if (!endpointOk(svc, node.name)) continue;
      const nodeAds = ads.filter((ad) => bgpNodes.get(ad)?.has(node.name));
      if (nodeAds.length === 0) continue;
      const nodePeers = peersOfNode.get(node.name) ?? [];
      const reaches = nodeAds.some((ad) => nodePeers.some((p) => ad.peers.length === 0 || ad.peers.includes(p.name)));
      if (!reaches) continue;
      view?.bgpNodes.push(node.name);
      if (node.name !== input.self) continue;
      for (const ad of nodeAds) {
        for (const peer of nodePeers) {
          if (ad.peers.length > 0 && !ad.peers.includes(peer.name)) continue;
          let routes = bgp.get(peer.name);
          if (!routes) bgp.set(peer.name, (routes = new Map()));
          for (const ip of svc.ips) {
            const prefix = aggregate(ip, ad.aggregationLength, ad.aggregationLengthV6);
            let r = routes.get(prefix);
            if (!r) {
              r = { communities: [], largeCommunities: [], services: [] };
              routes.set(prefix, r);
              routeServices.set(r, new Set());
            }
            if (ad.localPref !== undefined) r.localPref = Math.max(r.localPref ?? 0, ad.localPref);
            if (ad.communities.length) r.communities = union(r.communities, ad.communities);
            if (ad.largeCommunities.length) r.largeCommunities = union(r.largeCommunities, ad.largeCommunities);
            routeServices.get(r)?.add(svc.key);
          }
        }
      }
    }
  }
  // Services per route collected in sets: an aggregate can cover thousands of them.
  for (const [r, set] of routeServices) r.services = [...set].sort();

  for (const svc of input.services) {
    const view = services.get(svc.key);
    if (!view) continue;
    view.bgpNodes.sort();
    if (Object.keys(view.l2Owners).length === 0 && view.bgpNodes.length === 0) view.reason = whyNotAnnounced(svc, input, liveNodes);
  }
  return { l2, bgp, services };
}

export function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}

export function whyNotAnnounced(svc: ServiceFacts, input: Pick<DecideInput, 'l2' | 'bgp'>, liveNodes: readonly NodeFacts[]): string {
  if (svc.ips.length === 0) return 'no address assigned yet';
  if (!svc.hasServingEndpoint) return 'no ready or serving endpoint: nothing would answer, so the address is not announced';
  const covering = [...input.l2, ...input.bgp].filter((ad) => poolCovered(ad, svc.pool) && matchesAny(ad.serviceSelectors, svc.labels));
  if (covering.length === 0) return `no L2Advertisement or BGPAdvertisement covers pool "${svc.pool}" and selects this service: create one`;
  if (liveNodes.length === 0) return 'no live node may announce (all down, NetworkUnavailable, or excluded from external load balancers)';
  if (svc.externalTrafficPolicy === 'Local' && !liveNodes.some((n) => svc.endpointNodes.has(n.name)))
    return 'externalTrafficPolicy Local: no live eligible node hosts a ready endpoint';
  return 'no live node matches the advertisements\' node selectors (or, for BGP, has a matching peer)';
}
