// The ironlb.io/v1alpha1 API, defined once. Types are inferred from these schemas; the CRDs
// (deploy/crds/) are generated from them by src/api/generate.ts; the validator runs them.
//
// Scope: IPPool is cluster-scoped (address space belongs to the cluster). Every other
// configuration kind lives in the ironlb namespace (`ironlb-system`, as MetalLB does): objects of
// these kinds in other namespaces are ignored. ServiceAnnouncement lives beside its Service.
import * as s from './schema-dsl.ts';
import { durationPattern, parseDurationNs, poolEntryProblem } from './addr.ts';
import { parseApiAddress, parseRange } from '../util/address.ts';
import { poolEntryRules, poolOverlapRule } from './cel.ts';
import type { Infer, Schema } from './schema-dsl.ts';

export const GROUP = 'ironlb.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
/** The namespace whose configuration objects ironlb reads, and where it writes its state objects. */
export const DEFAULT_NAMESPACE = 'ironlb-system';

const NAME_RE = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const objName = () => s.string({ pattern: NAME_RE, maxLength: 253, patternHint: 'a Kubernetes object name (lowercase letters, digits, "-" and ".")' });

/** Linux interface names (IFNAMSIZ 16 with the NUL; no "/", ":" or whitespace). */
const IFNAME_RE = '^[A-Za-z0-9_.@-]{1,15}$';
// Addresses as Kubernetes' CEL reads them (Go netip: no zones, no leading zeros, no IPv4-mapped IPv6).
const IP_MESSAGE = 'must be an IPv4 or IPv6 address such as 192.0.2.1 or 2001:db8::1';
const ipCheck = (v: string): string | undefined => (parseApiAddress(v) ? undefined : IP_MESSAGE);
const ipRules = [{ rule: 'isIP(self)', message: IP_MESSAGE }];
const IPV4_MESSAGE = 'must be an IPv4 address in dotted form (the BGP router ID is 32 bits)';
const ipv4Check = (v: string): string | undefined => (parseApiAddress(v)?.family === 'IPv4' ? undefined : IPV4_MESSAGE);
const PEER_MESSAGE = 'must be a unicast IPv4 or IPv6 address (not unspecified, not multicast) such as 192.0.2.1 or 2001:db8::1';
const peerCheck = (v: string): string | undefined => {
  const ip = parseApiAddress(v);
  const multicast = ip && (ip.family === 'IPv4' ? ip.value >> 28n === 0xen : ip.value >> 120n === 0xffn);
  return ip && ip.value !== 0n && !multicast ? undefined : PEER_MESSAGE;
};
const peerRules = [{ rule: "isIP(self) && !ip(self).isUnspecified() && !cidr('224.0.0.0/4').containsIP(ip(self)) && !cidr('ff00::/8').containsIP(ip(self))", message: PEER_MESSAGE }];

/** Namespace names are DNS labels. */
const DNS_LABEL_RE = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
/** Label values: empty, or alphanumerics with "-", "_", "." inside (at most 63). */
const LABEL_VALUE_RE = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';
const labelValue = () => s.string({ maxLength: 63, pattern: LABEL_VALUE_RE, patternHint: 'a label value (at most 63 letters, digits, "-", "_", ".", starting and ending with a letter or digit)' });

// ---- shared pieces --------------------------------------------------------------------------

const selectorRequirement = s.object(
  {
    key: s.string({ minLength: 1, maxLength: 317 }).required(),
    operator: s.enumOf(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const).required(),
    values: s.array(labelValue(), { maxItems: 64 }),
  },
  {
    rules: [
      {
        rule: "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
        message: 'In and NotIn need a non-empty values list; Exists and DoesNotExist take no values',
        fieldPath: 'values',
        check: (r) => (r.operator === 'In' || r.operator === 'NotIn') === ((r.values?.length ?? 0) > 0),
      },
    ],
  },
);

export const labelSelector = (): Schema<{ matchLabels?: Record<string, string>; matchExpressions?: Infer<typeof selectorRequirement>[] }, boolean> =>
  s.object({
    matchLabels: s.map(labelValue(), { maxProperties: 64 }),
    matchExpressions: s.array(selectorRequirement, { maxItems: 32 }),
  });
const selectors = (what: string) => s.array(labelSelector(), { maxItems: 32, description: what });

const condition = s.object({
  type: s.string({ maxLength: 316 }).required(),
  status: s.enumOf(['True', 'False', 'Unknown'] as const).required(),
  reason: s.string({ maxLength: 1024 }),
  message: s.string({ maxLength: 32768 }),
  lastTransitionTime: s.string({ format: 'date-time' }),
  observedGeneration: s.int({ min: 0, format: 'int64' }),
});
export type Condition = Infer<typeof condition>;

const duration = (what: string, minMs: number, maxMs: number) => {
  const message = `must be between ${minMs / 1000}s and ${maxMs / 1000}s`;
  return s.string({
    pattern: durationPattern,
    maxLength: 32,
    description: what,
    patternHint: 'a duration such as "90s", "1m30s" or "500ms"',
    // Exact nanoseconds, as CEL's duration() compares them (no rounding to milliseconds).
    check: (v) => {
      const ns = parseDurationNs(v);
      return ns !== undefined && ns >= BigInt(minMs) * 1_000_000n && ns <= BigInt(maxMs) * 1_000_000n ? undefined : message;
    },
    // Guarded by the pattern: a malformed value is reported by it, not as a CEL evaluation error.
    rules: [{ rule: `!self.matches('${durationPattern.replaceAll('\\', '\\\\')}') || (duration(self) >= duration('${minMs}ms') && duration(self) <= duration('${maxMs}ms'))`, message }],
  });
};

/** Exact nanoseconds of a duration field (undefined when unset or malformed). */
const ns = (v: string | undefined): bigint | undefined => (v === undefined ? undefined : parseDurationNs(v));

// ---- IPPool ---------------------------------------------------------------------------------

/** Entries per pool (was 1024): bounded by the runtime cost of the CEL rules (src/api/cel.ts). */
export const POOL_MAX_ENTRIES = 64;

export const ipPoolSpec = s.object({
  addresses: s
    .array(
      s.string({ maxLength: 100, check: poolEntryProblem, rules: poolEntryRules() }),
      // 64, not more: the API server cancels the overlap rule past 1M cost units per call, which
      // 128 long IPv6 ranges exceed (96 pass); the CRD's estimated cost is then ~13M of 100M.
      { minItems: 1, maxItems: POOL_MAX_ENTRIES, description: `Address ranges: CIDRs (10.0.0.0/24, fd00::/120), start-end ranges or single addresses, IPv4 and IPv6 (at most ${POOL_MAX_ENTRIES} entries).` },
    )
    .required(),
  autoAssign: s.bool({ default: true, description: 'When false, the pool serves only Services that ask for it by name or by address.' }),
  avoidBuggyIPs: s.bool({ default: false, description: 'Skip IPv4 addresses ending in .0 or .255.' }),
  allocateTo: s.object(
    {
      priority: s.int({ min: 0, max: 1_000_000, description: 'Lower is tried first; pools without a priority come last.' }),
      namespaces: s.array(s.string({ maxLength: 63, pattern: DNS_LABEL_RE, patternHint: 'a namespace name (a DNS label: lowercase letters, digits and "-")' }), { maxItems: 256, unique: true }),
      namespaceSelectors: selectors('Namespaces (by label) whose Services may use this pool.'),
      serviceSelectors: selectors('Services (by label) that may use this pool.'),
    },
    { description: 'Restricts the pool to some Services; a restricted pool is tried before unrestricted ones.' },
  ),
}, {
  rules: [{ ...poolOverlapRule(), fieldPath: 'addresses', check: (p) => poolOverlap(p.addresses) === undefined, why: (p) => poolOverlap(p.addresses) }],
});

/** The first overlap between a pool's own (individually valid) entries, described; else undefined. */
export function poolOverlap(addresses: readonly string[]): string | undefined {
  const ranges = addresses.flatMap((text, i) => {
    const r = parseRange(text);
    return r.ok && poolEntryProblem(text) === undefined ? [{ i, r: r.range }] : [];
  });
  ranges.sort((a, b) => (a.r.family < b.r.family ? -1 : a.r.family > b.r.family ? 1 : 0) || (a.r.first < b.r.first ? -1 : a.r.first > b.r.first ? 1 : 0));
  let reach: (typeof ranges)[number] | undefined;
  for (const cur of ranges) {
    if (reach && reach.r.family === cur.r.family && cur.r.first <= reach.r.last) {
      const [x, y] = reach.i < cur.i ? [reach, cur] : [cur, reach];
      return `entries [${x.i}] ${x.r.text} and [${y.i}] ${y.r.text} overlap; the entries of a pool must not overlap (remove or narrow one)`;
    }
    if (!reach || reach.r.family !== cur.r.family || cur.r.last > reach.r.last) reach = cur;
  }
  return undefined;
}

export const ipPoolStatus = s.object({
  assignedIPv4: s.int({ min: 0, format: 'int64' }),
  assignedIPv6: s.int({ min: 0, format: 'int64' }),
  availableIPv4: s.int({ min: 0, format: 'int64' }),
  availableIPv6: s.int({ min: 0, format: 'int64', description: 'Free IPv6 addresses, capped at 9007199254740991 (2^53-1, the largest integer a JSON client reads exactly); availableIPv6Exact has the exact count.' }),
  availableIPv6Exact: s.string({ pattern: '^(0|[1-9][0-9]*)$', maxLength: 40, description: 'Free IPv6 addresses, exactly, in decimal (an IPv6 pool can hold up to 2^128).' }),
  conditions: s.array(condition, { maxItems: 16 }),
});

// ---- L2Advertisement -----------------------------------------------------------------------

export const l2AdvertisementSpec = s.object({
  pools: s.array(objName(), { maxItems: 256, unique: true, description: 'IPPool names; with poolSelectors empty too, every pool.' }),
  poolSelectors: selectors('IPPools by label.'),
  nodeSelectors: selectors('Nodes allowed to announce; empty means every node.'),
  interfaces: s.array(s.string({ minLength: 1, maxLength: 15 }), { maxItems: 64, unique: true, description: 'Interfaces to announce on; empty means every eligible interface.' }),
  serviceSelectors: selectors('Services this advertisement applies to; empty means every Service.'),
});

// ---- BGPPeer --------------------------------------------------------------------------------

const asn = (what: string) => s.int({ min: 1, max: 4294967295, format: 'int64', description: what });

export const bgpPeerSpec = s.object(
  {
    myASN: asn('Our AS number.').required(),
    peerASN: asn("The peer's AS number; or set dynamicASN."),
    dynamicASN: s.enumOf(['internal', 'external'] as const, { description: 'Accept any AS of this kind instead of a fixed peerASN.' }),
    peerAddress: s.string({ maxLength: 45, check: peerCheck, rules: peerRules, description: "The peer's address; or set interface (BGP unnumbered)." }),
    interface: s.string({
      pattern: IFNAME_RE, maxLength: 15, patternHint: 'a Linux interface name',
      description: "BGP unnumbered: peer over this interface with IPv6 link-local addresses instead of a peerAddress. The peer's address is learned from its Router Advertisements or from its connection to us; the speaker sends RAs (router lifetime 0) on the interface so the peer learns ours. IPv4 routes go with IPv6 next hops (RFC 8950 extended next hop).",
    }),
    vrf: s.string({
      pattern: IFNAME_RE, maxLength: 15, patternHint: 'a Linux VRF device name',
      description: 'Run the session in this VRF: bound to the VRF device, with a source address from the VRF. The node\'s kernel needs VRF support (CONFIG_NET_VRF, the vrf module); without it there is no VRF device to bind the session to.',
    }),
    disableMP: s.bool({ default: false, description: 'Carry only the address family of the session (IPv4 routes over IPv4 sessions, IPv6 over IPv6); MetalLB disableMP.' }),
    dualStackAddressFamily: s.bool({
      default: false,
      description: 'Always carry both address families over this one session (MP-BGP), even when the session interface has no address of the other family (IPv4 then goes with an IPv6 next hop where the peer supports RFC 8950). Default: the other family only when the session interface has an address of it.',
    }),
    peerPort: s.int({ min: 1, max: 65535, default: 179 }),
    sourceAddress: s.string({ maxLength: 45, check: ipCheck, rules: ipRules }),
    routerID: s.string({ maxLength: 15, check: ipv4Check, rules: [{ rule: 'isIP(self) && ip(self).family() == 4', message: IPV4_MESSAGE }] }),
    holdTime: duration('BGP hold time: 0s (no keepalives) or 3s to 65535s; default 90s.', 0, 65_535_000),
    keepaliveTime: duration('Keepalive interval, below the hold time; default a third of it.', 0, 65_535_000),
    connectTime: duration('Time between connection attempts; default 10s.', 1000, 65_535_000),
    passwordSecret: s.object(
      { name: objName().required() },
      { description: 'A kubernetes.io/basic-auth Secret in the ironlb namespace whose `password` key is the TCP MD5 password.' },
    ),
    ebgpMultiHop: s.bool({ default: false }),
    bfdProfile: objName().describe('BFDProfile name: run BFD with the peer.'),
    gracefulRestart: s.bool({ default: false }),
    nodeSelectors: selectors('Nodes that peer; empty means every node.'),
  },
  {
    rules: [
      {
        rule: 'has(self.peerAddress) != has(self.interface)',
        message: 'set exactly one of peerAddress and interface (BGP unnumbered)',
        fieldPath: 'peerAddress',
        check: (p) => (p.peerAddress !== undefined) !== (p.interface !== undefined),
      },
      {
        rule: '!(self.disableMP && self.dualStackAddressFamily)',
        message: 'disableMP (one family per session) and dualStackAddressFamily (both families on the session) exclude each other; set one',
        fieldPath: 'dualStackAddressFamily',
        check: (p) => !(p.disableMP && p.dualStackAddressFamily),
      },
      {
        rule: '!(has(self.interface) && self.ebgpMultiHop)',
        message: 'an unnumbered peer (interface) is on the link; ebgpMultiHop does not apply',
        fieldPath: 'ebgpMultiHop',
        check: (p) => !(p.interface !== undefined && p.ebgpMultiHop),
      },
      {
        rule: 'has(self.peerASN) != has(self.dynamicASN)',
        message: 'set exactly one of peerASN and dynamicASN',
        fieldPath: 'peerASN',
        check: (p) => (p.peerASN !== undefined) !== (p.dynamicASN !== undefined),
      },
      {
        rule: "!has(self.holdTime) || duration(self.holdTime) == duration('0s') || duration(self.holdTime) >= duration('3s')",
        message: 'holdTime must be 0s (no keepalives) or at least 3s (RFC 4271 4.2)',
        fieldPath: 'holdTime',
        check: (p) => {
          const h = ns(p.holdTime);
          return h === undefined || h === 0n || h >= 3_000_000_000n;
        },
      },
      {
        rule: "!has(self.keepaliveTime) || (has(self.holdTime) ? (duration(self.holdTime) == duration('0s') ? duration(self.keepaliveTime) == duration('0s') : duration(self.keepaliveTime) < duration(self.holdTime)) : duration(self.keepaliveTime) < duration('90s'))",
        message: 'keepaliveTime must be shorter than holdTime (90s when unset), and 0s when holdTime is 0s',
        fieldPath: 'keepaliveTime',
        check: (p) => {
          if (p.keepaliveTime === undefined) return true;
          const k = ns(p.keepaliveTime) ?? 0n;
          const h = p.holdTime === undefined ? 90_000_000_000n : (ns(p.holdTime) ?? 0n);
          return h === 0n ? k === 0n : k < h;
        },
      },
      {
        rule: '!(self.ebgpMultiHop && has(self.peerASN) && self.peerASN == self.myASN)',
        message: 'ebgpMultiHop applies to eBGP only; this peer is iBGP (peerASN == myASN)',
        fieldPath: 'ebgpMultiHop',
        check: (p) => !(p.ebgpMultiHop && p.peerASN === p.myASN),
      },
      {
        rule: '!has(self.sourceAddress) || !isIP(self.sourceAddress) || (has(self.peerAddress) ? (!isIP(self.peerAddress) || ip(self.sourceAddress).family() == ip(self.peerAddress).family()) : ip(self.sourceAddress).family() == 6)',
        message: 'sourceAddress must be of the family of peerAddress (both IPv4 or both IPv6); an unnumbered peer (interface) runs over IPv6',
        fieldPath: 'sourceAddress',
        check: (p) => p.sourceAddress === undefined || parseApiAddress(p.sourceAddress)?.family === (p.peerAddress !== undefined ? parseApiAddress(p.peerAddress)?.family : 'IPv6'),
      },
    ],
  },
);

// ---- BGPAdvertisement -----------------------------------------------------------------------

export const STANDARD_COMMUNITY_RE = '^[0-9]{1,5}:[0-9]{1,5}$';
export const LARGE_COMMUNITY_RE = '^[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10}$';
export const COMMUNITY_ALIAS_RE = '^[A-Za-z0-9][-_A-Za-z0-9.]*$';
const U16 = 65535;
const U32 = 4294967295;
const partsAtMost = (text: string, max: number) => text.split(':').every((p) => Number(p) <= max);

/** A standard community "AS:VALUE" (each part <= 65535) or an alias name; the CEL rule is its twin. */
const communityRef = s.string({
  minLength: 1,
  maxLength: 63,
  check: (v) =>
    (new RegExp(STANDARD_COMMUNITY_RE).test(v) ? partsAtMost(v, U16) : new RegExp(COMMUNITY_ALIAS_RE).test(v))
      ? undefined
      : 'must be a standard community AS:VALUE (each part at most 65535) or the name of a Community alias',
  rules: [
    {
      rule: `self.matches('${STANDARD_COMMUNITY_RE}') ? self.split(':').all(p, int(p) <= ${U16}) : self.matches('${COMMUNITY_ALIAS_RE}')`,
      message: 'must be a standard community AS:VALUE (each part at most 65535) or the name of a Community alias',
    },
  ],
});
const LARGE_REF_RE = '^(large:)?[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10}$';
const largeCommunityRef = s.string({
  minLength: 1,
  maxLength: 63,
  check: (v) =>
    (new RegExp(LARGE_REF_RE).test(v) ? partsAtMost(v.replace(/^large:/, ''), U32) : new RegExp(COMMUNITY_ALIAS_RE).test(v))
      ? undefined
      : 'must be a large community G:L1:L2 (each part at most 4294967295, optionally prefixed "large:") or the name of a Community alias',
  rules: [
    {
      rule: `self.matches('${LARGE_REF_RE}') ? (self.startsWith('large:') ? self.substring(6) : self).split(':').all(p, int(p) <= ${U32}) : self.matches('${COMMUNITY_ALIAS_RE}')`,
      message: 'must be a large community G:L1:L2 (each part at most 4294967295, optionally prefixed "large:") or the name of a Community alias',
    },
  ],
});

export const bgpAdvertisementSpec = s.object({
  pools: s.array(objName(), { maxItems: 256, unique: true, description: 'IPPool names; with poolSelectors empty too, every pool.' }),
  poolSelectors: selectors('IPPools by label.'),
  aggregationLength: s.int({ min: 0, max: 32, default: 32, description: 'Prefix length announced for IPv4 addresses.' }),
  aggregationLengthV6: s.int({ min: 0, max: 128, default: 128, description: 'Prefix length announced for IPv6 addresses.' }),
  localPref: s.int({ min: 0, max: 4294967295, format: 'int64', description: 'LOCAL_PREF for iBGP peers.' }),
  communities: s.array(communityRef, {
    maxItems: 64,
    unique: true,
    description: 'Standard communities, as "65000:100" or the name of a Community alias.',
  }),
  largeCommunities: s.array(largeCommunityRef, {
    maxItems: 64,
    unique: true,
    description: 'Large communities, as "65000:1:2" or the name of a Community alias.',
  }),
  peers: s.array(objName(), { maxItems: 256, unique: true, description: 'BGPPeer names; empty means every peer.' }),
  nodeSelectors: selectors('Nodes that announce; empty means every node.'),
  serviceSelectors: selectors('Services this advertisement applies to; empty means every Service.'),
});

// ---- BFDProfile -----------------------------------------------------------------------------

const ms = (def: number, what: string) => s.int({ min: 10, max: 60_000, default: def, description: `${what} (milliseconds).` });
export const bfdProfileSpec = s.object({
  receiveInterval: ms(300, 'Minimum interval between received control packets'),
  transmitInterval: ms(300, 'Minimum interval between transmitted control packets'),
  detectMultiplier: s.int({ min: 2, max: 255, default: 3, description: 'Packets missed before the session is declared down.' }),
  echoMode: s.bool({ default: false }),
  echoInterval: ms(50, 'Minimum interval between echo packets'),
  passiveMode: s.bool({ default: false, description: 'Wait for the peer to start the session.' }),
  minimumTtl: s.int({ min: 1, max: 254, default: 254, description: 'Lowest TTL accepted for multi-hop sessions.' }),
});

// ---- Community ------------------------------------------------------------------------------

const COMMUNITY_VALUE_RE = '^([0-9]{1,5}:[0-9]{1,5}|large:[0-9]{1,10}:[0-9]{1,10}:[0-9]{1,10})$';
const COMMUNITY_RANGE_MESSAGE = 'each part of a standard community must be at most 65535, of a large community at most 4294967295';

export const communitySpec = s.object({
  communities: s
    .array(
      s.object({
        name: s.string({ pattern: COMMUNITY_ALIAS_RE, maxLength: 63, patternHint: 'an alias name (letters, digits, "-", "_", ".")' }).required(),
        value: s
          .string({
            pattern: COMMUNITY_VALUE_RE,
            maxLength: 40,
            patternHint: 'a standard community "65000:100" or a large community "large:65000:1:2"',
            check: (v) => (v.startsWith('large:') ? partsAtMost(v.slice(6), U32) : partsAtMost(v, U16)) ? undefined : COMMUNITY_RANGE_MESSAGE,
            rules: [
              {
                rule: `!self.matches('${COMMUNITY_VALUE_RE}') || (self.startsWith('large:') ? self.substring(6).split(':').all(p, int(p) <= ${U32}) : self.split(':').all(p, int(p) <= ${U16}))`,
                message: COMMUNITY_RANGE_MESSAGE,
              },
            ],
          })
          .required(),
      }),
      // Alias names are distinct within one object: the API server enforces it (a list-map).
      { minItems: 1, maxItems: 1024, mapKeys: ['name'] },
    )
    .required(),
});

// ---- state kinds written by ironlb ----------------------------------------------------------

const configErrorItem = s.object({
  kind: s.string({ maxLength: 63 }),
  name: s.string({ maxLength: 253 }),
  field: s.string({ maxLength: 1024 }),
  value: s.string({ maxLength: 1024 }),
  message: s.string({ maxLength: 4096 }).required(),
});

export const configurationStateStatus = s.object({
  component: s.string({ maxLength: 300, description: '"controller" or "speaker-<node>".' }).required(),
  valid: s.bool().required(),
  message: s.string({ maxLength: 32768 }),
  errors: s.array(configErrorItem, { maxItems: 100 }),
  lastValidTime: s.string({ format: 'date-time' }),
  observedTime: s.string({ format: 'date-time' }),
  l2Subnets: s
    .array(s.string({ maxLength: 49 }), { maxItems: 256 })
    .describe('Speakers: the subnets of this node\'s Layer 2 interfaces (empty: Layer 2 off here), for electing Layer 2 owners on the right segment. Replaces the Node annotation ironlb.io/l2-subnets.'),
});

export const serviceAnnouncementStatus = s.object({
  service: s.string({ maxLength: 253, description: 'Name of the Service (same namespace).' }).required(),
  addresses: s.array(s.string({ maxLength: 45 }), { maxItems: 2 }),
  announcements: s.array(
    s.object({
      node: s.string({ maxLength: 253 }).required(),
      mode: s.enumOf(['layer2', 'bgp'] as const).required(),
      address: s.string({ maxLength: 45 }),
      interfaces: s.array(s.string({ maxLength: 15 }), { maxItems: 64 }),
      peers: s.array(s.string({ maxLength: 253 }), { maxItems: 256 }),
    }),
    { maxItems: 1024 },
  ),
  // A printer column of `announcements[*].node` shows only the first node (the API server takes the
  // first JSONPath result): this list is what `kubectl get serviceannouncements` shows.
  nodes: s.array(s.string({ maxLength: 253 }), { maxItems: 1024 }).describe('Nodes listed in announcements (each once, sorted): the Layer 2 owners, and for externalTrafficPolicy Local the first BGP nodes. BGP nodes of externalTrafficPolicy Cluster are in the NodeAnnouncements (see bgp).'),
  // Per Service only what is per Service: a node lost or back must not rewrite every Service's
  // object (at 1,000 nodes that was 61 KiB each). Which nodes announce an advertisement, and to
  // which peers, is per node (NodeAnnouncement).
  bgp: s
    .object({
      advertisements: s.array(s.string({ maxLength: 253 }), { maxItems: 64 }).describe('BGPAdvertisements announcing the Service. Every node whose NodeAnnouncement lists one of them announces it (externalTrafficPolicy Cluster).'),
      externalTrafficPolicy: s.enumOf(['Cluster', 'Local'] as const),
      localNodes: s.int({ min: 0 }).describe('externalTrafficPolicy Local: how many nodes announce the Service (those with a ready endpoint); the first 16 are in announcements.'),
    })
    .describe('Present when the Service is announced over BGP.'),
  message: s.string({ maxLength: 4096, description: 'Why the Service is not announced, when it is not.' }),
  observedTime: s.string({ format: 'date-time' }),
});

export const nodeAnnouncementStatus = s.object({
  node: s.string({ maxLength: 253 }).required(),
  bgp: s
    .array(
      s.object({
        advertisement: s.string({ maxLength: 253 }).required(),
        peers: s.array(s.string({ maxLength: 253 }), { maxItems: 256 }),
      }),
      { maxItems: 64 },
    )
    .describe('BGPAdvertisements this node announces (it is selected and reaches at least one of their peers), with the BGPPeers each goes to. Empty: the node announces nothing over BGP.'),
  observedTime: s.string({ format: 'date-time' }),
});

export const bgpSessionStateStatus = s.object({
  node: s.string({ maxLength: 253 }).required(),
  peer: s.string({ maxLength: 253 }).required(),
  // Unnumbered peers: the learned link-local address with its interface, "fe80::1%eth0".
  peerAddress: s.string({ maxLength: 61 }),
  state: s.enumOf(['Idle', 'Connect', 'Active', 'OpenSent', 'OpenConfirm', 'Established'] as const).required(),
  bfdState: s.enumOf(['AdminDown', 'Down', 'Init', 'Up'] as const),
  advertisedPrefixes: s.int({ min: 0 }),
  lastError: s.string({ maxLength: 4096 }),
  lastTransitionTime: s.string({ format: 'date-time' }),
});

// ---- types ----------------------------------------------------------------------------------

/** The subset of metav1.ObjectMeta ironlb reads and writes (structurally compatible with V1ObjectMeta). */
export interface ObjectMeta {
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  uid?: string;
  generation?: number;
  creationTimestamp?: Date | string;
  deletionTimestamp?: Date | string;
  generateName?: string;
}

export interface KubeObject<Kind extends string, Spec, Status = never> {
  apiVersion?: string;
  kind?: Kind;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}
export interface StateObject<Kind extends string, Status> {
  apiVersion?: string;
  kind?: Kind;
  metadata: ObjectMeta;
  status?: Status;
}

export type IPPoolSpec = Infer<typeof ipPoolSpec>;
export type IPPoolStatus = Infer<typeof ipPoolStatus>;
export type L2AdvertisementSpec = Infer<typeof l2AdvertisementSpec>;
export type BGPPeerSpec = Infer<typeof bgpPeerSpec>;
export type BGPAdvertisementSpec = Infer<typeof bgpAdvertisementSpec>;
export type BFDProfileSpec = Infer<typeof bfdProfileSpec>;
export type CommunitySpec = Infer<typeof communitySpec>;
export type ConfigurationStateStatus = Infer<typeof configurationStateStatus>;
export type ServiceAnnouncementStatus = Infer<typeof serviceAnnouncementStatus>;
export type BGPSessionStateStatus = Infer<typeof bgpSessionStateStatus>;
export type NodeAnnouncementStatus = Infer<typeof nodeAnnouncementStatus>;

export type IPPool = KubeObject<'IPPool', IPPoolSpec, IPPoolStatus>;
export type L2Advertisement = KubeObject<'L2Advertisement', L2AdvertisementSpec>;
export type BGPPeer = KubeObject<'BGPPeer', BGPPeerSpec>;
export type BGPAdvertisement = KubeObject<'BGPAdvertisement', BGPAdvertisementSpec>;
export type BFDProfile = KubeObject<'BFDProfile', BFDProfileSpec>;
export type Community = KubeObject<'Community', CommunitySpec>;
export type ConfigurationState = StateObject<'ConfigurationState', ConfigurationStateStatus>;
export type ServiceAnnouncement = StateObject<'ServiceAnnouncement', ServiceAnnouncementStatus>;
export type BGPSessionState = StateObject<'BGPSessionState', BGPSessionStateStatus>;
export type NodeAnnouncement = StateObject<'NodeAnnouncement', NodeAnnouncementStatus>;

// ---- the kinds table (drives CRDs, validation and the clients) --------------------------------

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'boolean' | 'date' | 'number';
  jsonPath: string;
  priority?: number;
  description?: string;
}

export interface KindDef {
  kind: string;
  plural: string;
  singular: string;
  shortNames: readonly string[];
  scope: 'Cluster' | 'Namespaced';
  spec?: Schema<unknown, boolean>;
  status?: Schema<unknown, boolean>;
  /** Status written through the /status subresource (kinds with a user-owned spec). */
  statusSubresource: boolean;
  columns: readonly PrinterColumn[];
  description: string;
  /** Markdown after the kind's tables in docs/reference.md (how a feature works, examples). */
  notes?: readonly string[];
}

const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

export const KINDS = {
  IPPool: {
    kind: 'IPPool',
    plural: 'ippools',
    singular: 'ippool',
    shortNames: ['ipp'],
    scope: 'Cluster',
    spec: ipPoolSpec,
    status: ipPoolStatus,
    statusSubresource: true,
    description: 'A pool of addresses for Services of type LoadBalancer (cluster-scoped).',
    columns: [
      { name: 'Auto Assign', type: 'boolean', jsonPath: '.spec.autoAssign' },
      { name: 'Avoid Buggy IPs', type: 'boolean', jsonPath: '.spec.avoidBuggyIPs' },
      { name: 'Addresses', type: 'string', jsonPath: '.spec.addresses' },
      { name: 'Assigned IPv4', type: 'integer', jsonPath: '.status.assignedIPv4' },
      { name: 'Assigned IPv6', type: 'integer', jsonPath: '.status.assignedIPv6' },
      { name: 'Available IPv4', type: 'integer', jsonPath: '.status.availableIPv4', priority: 1 },
      { name: 'Available IPv6', type: 'string', jsonPath: '.status.availableIPv6Exact', priority: 1 },
      age,
    ],
  },
  L2Advertisement: {
    kind: 'L2Advertisement',
    plural: 'l2advertisements',
    singular: 'l2advertisement',
    shortNames: ['l2adv'],
    scope: 'Namespaced',
    spec: l2AdvertisementSpec,
    statusSubresource: false,
    description: 'Announce addresses of some pools over Layer 2 (ARP for IPv4, NDP for IPv6).',
    columns: [
      { name: 'Pools', type: 'string', jsonPath: '.spec.pools' },
      { name: 'Pool Selectors', type: 'string', jsonPath: '.spec.poolSelectors', priority: 1 },
      { name: 'Interfaces', type: 'string', jsonPath: '.spec.interfaces' },
      { name: 'Node Selectors', type: 'string', jsonPath: '.spec.nodeSelectors', priority: 1 },
      age,
    ],
  },
  BGPPeer: {
    kind: 'BGPPeer',
    plural: 'bgppeers',
    singular: 'bgppeer',
    shortNames: ['bgpp'],
    scope: 'Namespaced',
    spec: bgpPeerSpec,
    statusSubresource: false,
    description: 'A BGP neighbour of the speakers.',
    notes: [
      '### BGP unnumbered (`interface`)',
      '',
      'A BGPPeer with `interface` instead of `peerAddress` peers with whoever is on the other end of that',
      "interface of each selected node, over the IPv6 link-local addresses (as MetalLB's FRR mode and FRR's",
      '`neighbor IFNAME interface` do). Set `dynamicASN` (or `peerASN` when every router has the same AS).',
      '',
      "- **Finding the peer.** The speaker sends Router Advertisements on the interface (router lifetime 0, so",
      '  no host takes the node as its default router: three a second apart, then every 10 s, and one at once',
      "  to a Router Solicitation or a newly heard neighbour) and a Router Solicitation when it starts. The peer's address is the source",
      '  of the RAs it sends (FRR sends them for every interface neighbour), or of the connection it opens to',
      "  us (BIRD, configured with the node's link-local address). The most recently heard neighbour is tried",
      '  first; a new one makes a waiting session connect at once, so a replaced router is found again within',
      "  one RA interval. Routers are found this way rather than from the kernel's neighbour table, which holds",
      '  an entry only after traffic has flowed, also for hosts that speak no BGP; FRR, too, learns its peer',
      '  from RAs only, so it accepts our connection only once it has heard ours. Needs the speaker\'s NET_RAW',
      '  capability (as Layer 2 does); switch ports with RA Guard must let the node\'s RAs through, as for any',
      '  host running FRR unnumbered.',
      '- **Routes.** The session offers IPv4 and IPv6 unicast. IPv6 routes go with the interface\'s global IPv6',
      '  address and its link-local one (a 32-byte next hop) when it has a global address, else with the',
      '  link-local alone (16 bytes). IPv4 routes go in MP_REACH_NLRI with that IPv6 next hop, which needs the',
      '  Extended Next Hop capability (RFC 8950, code 5) from the peer; routers install them as',
      '  `10.0.0.1 via inet6 fe80::... dev eth0`. A peer that does not offer it gets IPv6 routes only, and the',
      '  session\'s BGPSessionState and the speaker\'s log say why IPv4 routes are not sent.',
      '- **Status.** BGPSessionState shows the learned address (`fe80::...%eth0`) as `peerAddress`; until a',
      '  neighbour is heard, `lastError` says what the session waits for ("no BGP neighbour heard on eth0 yet",',
      '  or that the interface is missing, down, or has no link-local address yet).',
      '- **Limits.** `ebgpMultiHop` does not apply; `bfdProfile` is not run for unnumbered peers yet (the',
      '  speaker logs a warning). With a password the key is set for each neighbour heard on the interface, so',
      '  a peer that connects before it is heard (one that sends no RAs) is refused until then.',
      '',
      'The router, FRR (with zebra, which sends the RAs):',
      '',
      '```',
      'router bgp 65000',
      ' neighbor eth0 interface remote-as external',
      ' address-family ipv4 unicast',
      '  neighbor eth0 activate',
      ' exit-address-family',
      ' address-family ipv6 unicast',
      '  neighbor eth0 activate',
      ' exit-address-family',
      '```',
      '',
      'FRR turns the extended next hop capability on by itself for interface neighbours. BIRD 2 (the',
      "node's link-local address as neighbour; a `protocol radv` on the interface would also let the speaker",
      'find BIRD before BIRD connects):',
      '',
      '```',
      'protocol bgp node1 {',
      '  local as 65000;',
      '  neighbor fe80::1c2d:3eff:fe4f:5a6b%eth0 as 64512;',
      '  interface "eth0";',
      '  direct;',
      '  ipv4 { import all; export none; extended next hop on; };',
      '  ipv6 { import all; export none; };',
      '}',
      '```',
      '',
      'And the BGPPeer:',
      '',
      '```yaml',
      'apiVersion: ironlb.io/v1alpha1',
      'kind: BGPPeer',
      'metadata: { name: leaf, namespace: ironlb-system }',
      'spec:',
      '  myASN: 64512',
      '  dynamicASN: external',
      '  interface: eth0',
      '```',
    ],
    columns: [
      { name: 'Address', type: 'string', jsonPath: '.spec.peerAddress' },
      { name: 'Interface', type: 'string', jsonPath: '.spec.interface', priority: 1 },
      { name: 'VRF', type: 'string', jsonPath: '.spec.vrf', priority: 1 },
      { name: 'My ASN', type: 'integer', jsonPath: '.spec.myASN' },
      { name: 'Peer ASN', type: 'integer', jsonPath: '.spec.peerASN' },
      { name: 'Dynamic ASN', type: 'string', jsonPath: '.spec.dynamicASN', priority: 1 },
      { name: 'BFD Profile', type: 'string', jsonPath: '.spec.bfdProfile' },
      { name: 'Multi Hops', type: 'boolean', jsonPath: '.spec.ebgpMultiHop', priority: 1 },
      age,
    ],
  },
  BGPAdvertisement: {
    kind: 'BGPAdvertisement',
    plural: 'bgpadvertisements',
    singular: 'bgpadvertisement',
    shortNames: ['bgpadv'],
    scope: 'Namespaced',
    spec: bgpAdvertisementSpec,
    statusSubresource: false,
    description: 'Announce addresses of some pools over BGP, with attributes.',
    columns: [
      { name: 'Pools', type: 'string', jsonPath: '.spec.pools' },
      { name: 'Peers', type: 'string', jsonPath: '.spec.peers' },
      { name: 'Aggregation', type: 'integer', jsonPath: '.spec.aggregationLength', priority: 1 },
      { name: 'Local Pref', type: 'integer', jsonPath: '.spec.localPref', priority: 1 },
      age,
    ],
  },
  BFDProfile: {
    kind: 'BFDProfile',
    plural: 'bfdprofiles',
    singular: 'bfdprofile',
    shortNames: ['bfdp'],
    scope: 'Namespaced',
    spec: bfdProfileSpec,
    statusSubresource: false,
    description: 'BFD session parameters, referenced by BGPPeers.',
    columns: [
      { name: 'Receive', type: 'integer', jsonPath: '.spec.receiveInterval' },
      { name: 'Transmit', type: 'integer', jsonPath: '.spec.transmitInterval' },
      { name: 'Multiplier', type: 'integer', jsonPath: '.spec.detectMultiplier' },
      { name: 'Echo', type: 'boolean', jsonPath: '.spec.echoMode' },
      age,
    ],
  },
  Community: {
    kind: 'Community',
    plural: 'communities',
    singular: 'community',
    shortNames: ['comm'],
    scope: 'Namespaced',
    spec: communitySpec,
    statusSubresource: false,
    description: 'Named aliases for BGP standard and large communities.',
    columns: [age],
  },
  ConfigurationState: {
    kind: 'ConfigurationState',
    plural: 'configurationstates',
    singular: 'configurationstate',
    shortNames: ['cfgstate'],
    scope: 'Namespaced',
    status: configurationStateStatus,
    statusSubresource: false,
    description: 'Written by ironlb: whether a component (controller, speaker-<node>) accepted the configuration, and why not; a speaker\'s also lists its node\'s Layer 2 subnets.',
    columns: [
      { name: 'Component', type: 'string', jsonPath: '.status.component' },
      { name: 'Valid', type: 'boolean', jsonPath: '.status.valid' },
      { name: 'Message', type: 'string', jsonPath: '.status.message' },
      age,
    ],
  },
  ServiceAnnouncement: {
    kind: 'ServiceAnnouncement',
    plural: 'serviceannouncements',
    singular: 'serviceannouncement',
    shortNames: ['svcann'],
    scope: 'Namespaced',
    status: serviceAnnouncementStatus,
    statusSubresource: false,
    description: 'Written by ironlb: which nodes announce a Service over Layer 2 (on which interfaces), and which BGPAdvertisements announce it (their nodes and peers: NodeAnnouncements).',
    columns: [
      { name: 'Service', type: 'string', jsonPath: '.status.service' },
      { name: 'Addresses', type: 'string', jsonPath: '.status.addresses' },
      { name: 'Nodes', type: 'string', jsonPath: '.status.nodes' },
      { name: 'BGP', type: 'string', jsonPath: '.status.bgp.advertisements' },
      age,
    ],
  },
  NodeAnnouncement: {
    kind: 'NodeAnnouncement',
    plural: 'nodeannouncements',
    singular: 'nodeannouncement',
    shortNames: ['nodeann'],
    scope: 'Namespaced',
    status: nodeAnnouncementStatus,
    statusSubresource: false,
    description: 'Written by ironlb speakers, one per live node: which BGPAdvertisements the node announces, to which peers. Removed when the node is lost.',
    columns: [
      { name: 'Node', type: 'string', jsonPath: '.status.node' },
      { name: 'Advertisements', type: 'string', jsonPath: '.status.bgp[*].advertisement' },
      age,
    ],
  },
  BGPSessionState: {
    kind: 'BGPSessionState',
    plural: 'bgpsessionstates',
    singular: 'bgpsessionstate',
    shortNames: ['bgpss'],
    scope: 'Namespaced',
    status: bgpSessionStateStatus,
    statusSubresource: false,
    description: 'Written by ironlb speakers: the state of one node\'s session with one BGP peer.',
    columns: [
      { name: 'Node', type: 'string', jsonPath: '.status.node' },
      { name: 'Peer', type: 'string', jsonPath: '.status.peer' },
      { name: 'State', type: 'string', jsonPath: '.status.state' },
      { name: 'BFD', type: 'string', jsonPath: '.status.bfdState', priority: 1 },
      age,
    ],
  },
} as const satisfies Record<string, KindDef>;

export type KindName = keyof typeof KINDS;
export const CONFIG_KINDS = ['IPPool', 'L2Advertisement', 'BGPPeer', 'BGPAdvertisement', 'BFDProfile', 'Community'] as const;
export type ConfigKindName = (typeof CONFIG_KINDS)[number];
