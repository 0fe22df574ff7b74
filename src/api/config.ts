// Whole-configuration validation: every object against its schema, then the rules that span
// objects (overlapping pools, dangling references, aggregation vs. pool prefixes, secrets,
// conflicting local-pref). The result, ParsedConfig, is what the controller and speaker consume.
import { matchesAny, type LabelSelector } from '../util/selector.ts';
import { parseRange, parseDuration, rangeToCidrs, rangeSize, formatIP, type AddrRange, type Family, parseIP } from './addr.ts';
import { KINDS, CONFIG_KINDS, type ConfigKindName, type KindDef, type ObjectMeta } from './kinds.ts';
import type { IPPoolSpec, L2AdvertisementSpec, BGPPeerSpec, BGPAdvertisementSpec, BFDProfileSpec, CommunitySpec } from './kinds.ts';
import { describeValue, type FieldError } from './schema.ts';

/** One problem in the configuration: which object, which field, what value, what is allowed. */
export interface ConfigError {
  kind: string;
  name: string;
  namespace?: string;
  field: string;
  value: unknown;
  message: string;
}

export function formatConfigError(e: ConfigError): string {
  return `${e.kind}/${e.namespace ? `${e.namespace}/` : ''}${e.name}: ${e.field}: ${describeValue(e.value)}: ${e.message}`;
}

/** The part of a core/v1 Secret read for BGP passwords (structurally compatible with V1Secret). */
export interface SecretLike {
  metadata?: { name?: string; namespace?: string };
  type?: string;
  /** base64 values, as the API returns them. */
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

/** BGP passwords come from Secrets of this type (as in MetalLB), key `password`. */
export const BGP_PASSWORD_SECRET_TYPE = 'kubernetes.io/basic-auth';
export const BGP_PASSWORD_SECRET_KEY = 'password';

/** Largest pools accepted: bigger ones are almost surely a typo (0.0.0.0/0, fd00::/8). */
export const MAX_POOL_SIZE: Record<Family, { size: bigint; prefix: number }> = {
  4: { size: 1n << 24n, prefix: 8 },
  6: { size: 1n << 80n, prefix: 48 },
};

export interface ParsedPool {
  name: string;
  labels: Record<string, string>;
  /** Sorted by family, then by first address. */
  ranges: AddrRange[];
  autoAssign: boolean;
  avoidBuggyIPs: boolean;
  allocateTo?: {
    priority?: number;
    namespaces: string[];
    namespaceSelectors: LabelSelector[];
    serviceSelectors: LabelSelector[];
  };
  /** Number of addresses per family. */
  size: Record<Family, bigint>;
}

export interface ParsedL2Advertisement {
  name: string;
  /** Resolved pool names (pools + poolSelectors; both empty = every pool), sorted. */
  pools: string[];
  nodeSelectors: LabelSelector[];
  interfaces: string[];
  serviceSelectors: LabelSelector[];
}

export interface ParsedBGPPeer {
  name: string;
  myASN: number;
  peerASN?: number;
  dynamicASN?: 'internal' | 'external';
  /** Unset for an unnumbered peer (`interface`): its link-local address is learned on the link. */
  peerAddress?: string;
  /** BGP unnumbered: the interface the peer is on (IPv6 link-local session). */
  interface?: string;
  /** The VRF device the session is bound to. */
  vrf?: string;
  /** The session's own family: the peer address's; IPv6 for unnumbered peers. */
  family: Family;
  /** Only the session's own family (MetalLB disableMP). */
  disableMP: boolean;
  /** Both families on the session, whatever the session interface holds. */
  dualStackAddressFamily: boolean;
  peerPort: number;
  sourceAddress?: string;
  routerID?: string;
  holdTimeMs: number;
  keepaliveTimeMs: number;
  connectTimeMs: number;
  /** TCP MD5 password, from the referenced Secret. */
  password?: string;
  ebgpMultiHop: boolean;
  bfdProfile?: string;
  gracefulRestart: boolean;
  nodeSelectors: LabelSelector[];
}

export interface LargeCommunity {
  global: number;
  local1: number;
  local2: number;
}

export interface ParsedBGPAdvertisement {
  name: string;
  pools: string[];
  aggregationLength: number;
  aggregationLengthV6: number;
  localPref?: number;
  /** Standard communities as 32-bit values (high 16 bits: AS). Aliases resolved. */
  communities: number[];
  largeCommunities: LargeCommunity[];
  /** Resolved peer names (empty in the spec = every peer), sorted. */
  peers: string[];
  nodeSelectors: LabelSelector[];
  serviceSelectors: LabelSelector[];
}

export type ParsedBFDProfile = BFDProfileSpec & { name: string };

export type CommunityValue = { kind: 'standard'; value: number } | { kind: 'large'; value: LargeCommunity };

export interface ParsedConfig {
  pools: Map<string, ParsedPool>;
  l2Advertisements: ParsedL2Advertisement[];
  bgpPeers: Map<string, ParsedBGPPeer>;
  bgpAdvertisements: ParsedBGPAdvertisement[];
  bfdProfiles: Map<string, ParsedBFDProfile>;
  communities: Map<string, CommunityValue>;
}

export interface ValidationResult {
  config?: ParsedConfig;
  errors: ConfigError[];
}

interface Valid<S> {
  meta: ObjectMeta & { name: string };
  spec: S;
}

const DEFAULT_HOLD_MS = 90_000;
const DEFAULT_CONNECT_MS = 10_000;

/** Validates one object of a known kind against its schema; returns the defaulted object. */
export function validateObject(kind: ConfigKindName, obj: unknown): { spec?: unknown; meta?: ObjectMeta & { name: string }; errors: ConfigError[] } {
  const def: KindDef = KINDS[kind];
  const o = (typeof obj === 'object' && obj !== null ? obj : {}) as { metadata?: ObjectMeta; spec?: unknown };
  const name = o.metadata?.name;
  const where = { kind, name: typeof name === 'string' ? name : '(unnamed)' };
  const errs: FieldError[] = [];
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    return { errors: [{ ...where, field: '(root)', value: obj, message: 'must be an object with metadata and spec' }] };
  }
  if (typeof name !== 'string' || name === '') errs.push({ path: 'metadata.name', value: name, message: 'is required' });
  metadataStrings(o.metadata, errs);
  let spec: unknown;
  if (def.spec) {
    if (o.spec === undefined || o.spec === null) errs.push({ path: 'spec', value: o.spec, message: 'is required' });
    else spec = def.spec.parse(o.spec, 'spec', errs);
  }
  const errors = errs.map((e) => ({ ...where, field: e.path, value: e.value, message: e.message }));
  if (errors.length) return { errors };
  return { spec, meta: { ...(o.metadata as ObjectMeta), name: name as string }, errors };
}

/** Why a value kubectl reads from unquoted YAML is not the string it was meant to be. */
export const YAML_STRING_HINT = 'quote it in YAML ("yes", "on", "true", "0123"): kubectl reads YAML 1.1, where such words and numbers are not strings';

/**
 * Labels and annotations are maps of strings, as the API server decodes them (a boolean or a
 * number there makes kubectl apply fail, e.g. an unquoted `yes` read as YAML 1.1).
 */
function metadataStrings(metadata: unknown, errs: FieldError[]): void {
  if (typeof metadata !== 'object' || metadata === null) return;
  for (const key of ['labels', 'annotations'] as const) {
    const m = (metadata as Record<string, unknown>)[key];
    if (m === undefined || m === null) continue;
    if (typeof m !== 'object' || Array.isArray(m)) {
      errs.push({ path: `metadata.${key}`, value: m, message: 'must be a map of strings' });
      continue;
    }
    for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
      if (typeof v !== 'string') errs.push({ path: `metadata.${key}.${k}`, value: v, message: `must be a string, got ${v === null ? 'null' : typeof v}: ${YAML_STRING_HINT}` });
    }
  }
}

function kindOf(obj: unknown): string | undefined {
  const k = (obj as { kind?: unknown } | null)?.kind;
  return typeof k === 'string' ? k : undefined;
}

function decodeSecretValue(s: SecretLike, key: string): string | undefined {
  const str = s.stringData?.[key];
  if (str !== undefined) return str;
  const b64 = s.data?.[key];
  return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('utf8');
}

const RESERVED: Array<{ family: Family; first: bigint; last: bigint; what: string }> = [
  { family: 4, first: 0n, last: 0x00ffffffn, what: '0.0.0.0/8 ("this network")' },
  { family: 4, first: 0x7f000000n, last: 0x7fffffffn, what: 'loopback 127.0.0.0/8' },
  { family: 4, first: 0xa9fe0000n, last: 0xa9feffffn, what: 'link-local 169.254.0.0/16' },
  { family: 4, first: 0xe0000000n, last: 0xffffffffn, what: 'multicast and reserved 224.0.0.0/3' },
  { family: 6, first: 0n, last: 1n, what: 'unspecified/loopback ::/127' },
  { family: 6, first: 0xfe80n << 112n, last: (0xfebfn << 112n) | ((1n << 112n) - 1n), what: 'link-local fe80::/10' },
  { family: 6, first: 0xffn << 120n, last: (1n << 128n) - 1n, what: 'multicast ff00::/8' },
];

function parseStandardCommunity(text: string): number | undefined {
  const m = /^([0-9]{1,5}):([0-9]{1,5})$/.exec(text);
  if (!m) return undefined;
  const a = Number(m[1]);
  const b = Number(m[2]);
  return a <= 65535 && b <= 65535 ? a * 65536 + b : undefined;
}

function parseLargeCommunity(text: string): LargeCommunity | undefined {
  const m = /^([0-9]{1,10}):([0-9]{1,10}):([0-9]{1,10})$/.exec(text);
  if (!m) return undefined;
  const [g, l1, l2] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const max = 4294967295;
  return g <= max && l1 <= max && l2 <= max ? { global: g, local1: l1, local2: l2 } : undefined;
}

/**
 * Validates the whole configuration. `objects` are ironlb.io objects of any config kind (others are
 * ignored), raw as read from the API or a file; `secrets` are the Secrets of the ironlb namespace.
 * Returns the parsed configuration only when there is no error at all.
 */
export function validateConfig(objects: readonly unknown[], secrets: readonly SecretLike[] = []): ValidationResult {
  const errors: ConfigError[] = [];
  const byKind = new Map<ConfigKindName, Array<Valid<unknown>>>();
  const seen = new Set<string>();
  objects.forEach((obj, i) => {
    const kind = kindOf(obj);
    if (!kind || !(CONFIG_KINDS as readonly string[]).includes(kind)) {
      if (kind === undefined) errors.push({ kind: '(unknown)', name: `item ${i}`, field: 'kind', value: kind, message: `is required; one of ${CONFIG_KINDS.join(', ')}` });
      return;
    }
    const r = validateObject(kind as ConfigKindName, obj);
    errors.push(...r.errors);
    if (!r.meta) return;
    const key = `${kind}/${r.meta.namespace ?? ''}/${r.meta.name}`;
    if (seen.has(key)) {
      errors.push({ kind, name: r.meta.name, field: 'metadata.name', value: r.meta.name, message: `duplicate ${kind} name; names must be unique` });
      return;
    }
    seen.add(key);
    const list = byKind.get(kind as ConfigKindName) ?? [];
    list.push({ meta: r.meta, spec: r.spec });
    byKind.set(kind as ConfigKindName, list);
  });
  const list = <S>(k: ConfigKindName): Array<Valid<S>> => ((byKind.get(k) ?? []) as Array<Valid<S>>).slice().sort((a, b) => (a.meta.name < b.meta.name ? -1 : a.meta.name > b.meta.name ? 1 : 0));
  const err = (kind: string, name: string, field: string, value: unknown, message: string) => errors.push({ kind, name, field, value, message });

  // ---- pools
  const pools = new Map<string, ParsedPool>();
  const allRanges: Array<{ pool: string; field: string; r: AddrRange }> = [];
  for (const { meta, spec } of list<IPPoolSpec>('IPPool')) {
    const ranges: AddrRange[] = [];
    const size: Record<Family, bigint> = { 4: 0n, 6: 0n };
    spec.addresses.forEach((text, i) => {
      const field = `spec.addresses[${i}]`;
      const p = parseRange(text);
      if (!p.ok) return err('IPPool', meta.name, field, text, p.reason); // unreachable after the schema, kept for safety
      const r = p.range;
      const max = MAX_POOL_SIZE[r.family];
      if (rangeSize(r) > max.size) {
        return err('IPPool', meta.name, field, text, `is too large (${rangeSize(r)} addresses); an IPv${r.family} range may hold at most 2^${Math.log2(Number(max.size))} addresses (a /${max.prefix}); list the part you use`);
      }
      const bad = RESERVED.find((x) => x.family === r.family && r.first <= x.last && x.first <= r.last);
      if (bad) return err('IPPool', meta.name, field, text, `overlaps ${bad.what}, which cannot be a service address; use unicast addresses`);
      ranges.push(r);
      size[r.family] += rangeSize(r);
      allRanges.push({ pool: meta.name, field, r });
    });
    ranges.sort((a, b) => a.family - b.family || (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
    const pool: ParsedPool = { name: meta.name, labels: meta.labels ?? {}, ranges, autoAssign: spec.autoAssign, avoidBuggyIPs: spec.avoidBuggyIPs, size };
    if (spec.allocateTo) {
      const a = spec.allocateTo;
      pool.allocateTo = {
        ...(a.priority !== undefined ? { priority: a.priority } : {}),
        namespaces: a.namespaces ?? [],
        namespaceSelectors: a.namespaceSelectors ?? [],
        serviceSelectors: a.serviceSelectors ?? [],
      };
    }
    pools.set(meta.name, pool);
  }
  // Overlaps, within and across pools: sort once, sweep keeping the furthest-reaching range.
  allRanges.sort((a, b) => a.r.family - b.r.family || (a.r.first < b.r.first ? -1 : a.r.first > b.r.first ? 1 : 0));
  let reach: (typeof allRanges)[number] | undefined;
  for (const cur of allRanges) {
    if (reach && reach.r.family === cur.r.family && cur.r.first <= reach.r.last) {
      const other = reach.pool === cur.pool ? `${reach.r.text} in the same pool` : `${reach.r.text} of IPPool/${reach.pool}`;
      err('IPPool', cur.pool, cur.field, cur.r.text, `overlaps ${other} (from ${formatIP(cur.r.family, cur.r.first)}); pools and their ranges must not overlap`);
    }
    if (!reach || reach.r.family !== cur.r.family || cur.r.last > reach.r.last) reach = cur;
  }

  const resolvePools = (kind: string, name: string, names: string[] | undefined, selectors: LabelSelector[] | undefined): string[] => {
    const out = new Set<string>();
    (names ?? []).forEach((p, i) => {
      if (pools.has(p)) out.add(p);
      else err(kind, name, `spec.pools[${i}]`, p, `names no IPPool; existing pools: ${[...pools.keys()].join(', ') || '(none)'}`);
    });
    if (selectors?.length) for (const p of pools.values()) if (matchesAny(selectors, p.labels)) out.add(p.name);
    if (!names?.length && !selectors?.length) for (const p of pools.keys()) out.add(p);
    return [...out].sort();
  };

  // ---- BFD profiles, communities
  const bfdProfiles = new Map<string, ParsedBFDProfile>();
  for (const { meta, spec } of list<BFDProfileSpec>('BFDProfile')) bfdProfiles.set(meta.name, { ...spec, name: meta.name });

  const communities = new Map<string, CommunityValue>();
  for (const { meta, spec } of list<CommunitySpec>('Community')) {
    spec.communities.forEach((c, i) => {
      const field = `spec.communities[${i}]`;
      if (communities.has(c.name)) return err('Community', meta.name, `${field}.name`, c.name, 'duplicate alias; alias names must be unique across all Community objects');
      if (c.value.startsWith('large:')) {
        const v = parseLargeCommunity(c.value.slice(6));
        if (!v) return err('Community', meta.name, `${field}.value`, c.value, 'is not a large community; expected large:G:L1:L2 with each part at most 4294967295');
        communities.set(c.name, { kind: 'large', value: v });
      } else {
        const v = parseStandardCommunity(c.value);
        if (v === undefined) return err('Community', meta.name, `${field}.value`, c.value, 'is not a standard community; expected AS:VALUE with each part at most 65535');
        communities.set(c.name, { kind: 'standard', value: v });
      }
    });
  }

  // ---- L2 advertisements
  const l2Advertisements: ParsedL2Advertisement[] = [];
  for (const { meta, spec } of list<L2AdvertisementSpec>('L2Advertisement')) {
    l2Advertisements.push({
      name: meta.name,
      pools: resolvePools('L2Advertisement', meta.name, spec.pools, spec.poolSelectors),
      nodeSelectors: spec.nodeSelectors ?? [],
      interfaces: spec.interfaces ?? [],
      serviceSelectors: spec.serviceSelectors ?? [],
    });
  }

  // ---- BGP peers
  const bgpPeers = new Map<string, ParsedBGPPeer>();
  const secretsByName = new Map<string, SecretLike>();
  for (const s of secrets) if (s.metadata?.name) secretsByName.set(s.metadata.name, s);
  for (const { meta, spec } of list<BGPPeerSpec>('BGPPeer')) {
    const peerIP = spec.peerAddress === undefined ? undefined : parseIP(spec.peerAddress);
    const family: Family = peerIP?.family ?? (spec.interface !== undefined ? 6 : 4);
    if (spec.sourceAddress !== undefined && parseIP(spec.sourceAddress)?.family !== family) {
      const what = spec.peerAddress !== undefined ? `the family of peerAddress ${spec.peerAddress}` : 'as an unnumbered session (interface) runs over IPv6 link-local addresses; or leave it unset';
      err('BGPPeer', meta.name, 'spec.sourceAddress', spec.sourceAddress, `must be an IPv${family} address, ${what}`);
    }
    if (spec.bfdProfile !== undefined && !bfdProfiles.has(spec.bfdProfile)) {
      err('BGPPeer', meta.name, 'spec.bfdProfile', spec.bfdProfile, `names no BFDProfile; existing profiles: ${[...bfdProfiles.keys()].join(', ') || '(none)'}`);
    }
    let password: string | undefined;
    if (spec.passwordSecret) {
      const sname = spec.passwordSecret.name;
      const sec = secretsByName.get(sname);
      if (!sec) err('BGPPeer', meta.name, 'spec.passwordSecret.name', sname, `names no Secret in the ironlb namespace; create a ${BGP_PASSWORD_SECRET_TYPE} Secret with a "${BGP_PASSWORD_SECRET_KEY}" key`);
      else if (sec.type !== BGP_PASSWORD_SECRET_TYPE) err('BGPPeer', meta.name, 'spec.passwordSecret.name', sname, `names a Secret of type ${JSON.stringify(sec.type ?? 'Opaque')}; it must be of type ${BGP_PASSWORD_SECRET_TYPE}`);
      else {
        password = decodeSecretValue(sec, BGP_PASSWORD_SECRET_KEY);
        if (!password) err('BGPPeer', meta.name, 'spec.passwordSecret.name', sname, `names a Secret without a non-empty "${BGP_PASSWORD_SECRET_KEY}" key; add it`);
        else if (Buffer.byteLength(password) > 80) err('BGPPeer', meta.name, 'spec.passwordSecret.name', sname, 'holds a password longer than 80 bytes, the TCP MD5 key limit');
      }
    }
    const holdTimeMs = spec.holdTime === undefined ? DEFAULT_HOLD_MS : (parseDuration(spec.holdTime) ?? DEFAULT_HOLD_MS);
    const keepaliveTimeMs = spec.keepaliveTime === undefined ? Math.floor(holdTimeMs / 3) : (parseDuration(spec.keepaliveTime) ?? 0);
    bgpPeers.set(meta.name, {
      name: meta.name,
      myASN: spec.myASN,
      ...(spec.peerASN !== undefined ? { peerASN: spec.peerASN } : {}),
      ...(spec.dynamicASN !== undefined ? { dynamicASN: spec.dynamicASN } : {}),
      ...(spec.peerAddress !== undefined ? { peerAddress: spec.peerAddress } : {}),
      ...(spec.interface !== undefined ? { interface: spec.interface } : {}),
      ...(spec.vrf !== undefined ? { vrf: spec.vrf } : {}),
      family,
      disableMP: spec.disableMP,
      dualStackAddressFamily: spec.dualStackAddressFamily,
      peerPort: spec.peerPort,
      ...(spec.sourceAddress !== undefined ? { sourceAddress: spec.sourceAddress } : {}),
      ...(spec.routerID !== undefined ? { routerID: spec.routerID } : {}),
      holdTimeMs,
      keepaliveTimeMs,
      connectTimeMs: spec.connectTime === undefined ? DEFAULT_CONNECT_MS : (parseDuration(spec.connectTime) ?? DEFAULT_CONNECT_MS),
      ...(password !== undefined ? { password } : {}),
      ebgpMultiHop: spec.ebgpMultiHop,
      ...(spec.bfdProfile !== undefined ? { bfdProfile: spec.bfdProfile } : {}),
      gracefulRestart: spec.gracefulRestart,
      nodeSelectors: spec.nodeSelectors ?? [],
    });
  }

  // ---- BGP advertisements
  const bgpAdvertisements: ParsedBGPAdvertisement[] = [];
  for (const { meta, spec } of list<BGPAdvertisementSpec>('BGPAdvertisement')) {
    const name = meta.name;
    const advPools = resolvePools('BGPAdvertisement', name, spec.pools, spec.poolSelectors);
    for (const pn of advPools) {
      const pool = pools.get(pn) as ParsedPool;
      for (const r of pool.ranges) {
        const agg = r.family === 4 ? spec.aggregationLength : spec.aggregationLengthV6;
        const widest = Math.min(...rangeToCidrs(r).map((c) => c.prefix));
        if (agg < widest) {
          const field = r.family === 4 ? 'spec.aggregationLength' : 'spec.aggregationLengthV6';
          err('BGPAdvertisement', name, field, agg, `is shorter than the /${widest} prefix of ${r.text} in IPPool/${pn}, so it would announce addresses outside the pool; use ${widest} or longer`);
        }
      }
    }
    const peers = new Set<string>();
    (spec.peers ?? []).forEach((p, i) => {
      if (bgpPeers.has(p)) peers.add(p);
      else err('BGPAdvertisement', name, `spec.peers[${i}]`, p, `names no BGPPeer; existing peers: ${[...bgpPeers.keys()].join(', ') || '(none)'}`);
    });
    if (!spec.peers?.length) for (const p of bgpPeers.keys()) peers.add(p);
    const std: number[] = [];
    (spec.communities ?? []).forEach((c, i) => {
      const field = `spec.communities[${i}]`;
      const alias = communities.get(c);
      if (alias) {
        if (alias.kind === 'standard') std.push(alias.value);
        else err('BGPAdvertisement', name, field, c, 'is the alias of a large community; list it under largeCommunities');
        return;
      }
      const v = parseStandardCommunity(c);
      if (v !== undefined) std.push(v);
      else if (/^[0-9:]+$/.test(c)) err('BGPAdvertisement', name, field, c, 'is not a standard community; expected AS:VALUE with each part at most 65535');
      else err('BGPAdvertisement', name, field, c, `names no Community alias; known aliases: ${[...communities.keys()].join(', ') || '(none)'}`);
    });
    const large: LargeCommunity[] = [];
    (spec.largeCommunities ?? []).forEach((c, i) => {
      const field = `spec.largeCommunities[${i}]`;
      const alias = communities.get(c);
      if (alias) {
        if (alias.kind === 'large') large.push(alias.value);
        else err('BGPAdvertisement', name, field, c, 'is the alias of a standard community; list it under communities');
        return;
      }
      const v = parseLargeCommunity(c.startsWith('large:') ? c.slice(6) : c);
      if (v) large.push(v);
      else if (/^[0-9:]+$/.test(c)) err('BGPAdvertisement', name, field, c, 'is not a large community; expected G:L1:L2 with each part at most 4294967295');
      else err('BGPAdvertisement', name, field, c, `names no Community alias; known aliases: ${[...communities.keys()].join(', ') || '(none)'}`);
    });
    const adv: ParsedBGPAdvertisement = {
      name,
      pools: advPools,
      aggregationLength: spec.aggregationLength,
      aggregationLengthV6: spec.aggregationLengthV6,
      ...(spec.localPref !== undefined ? { localPref: spec.localPref } : {}),
      communities: [...new Set(std)].sort((a, b) => a - b),
      largeCommunities: large,
      peers: [...peers].sort(),
      nodeSelectors: spec.nodeSelectors ?? [],
      serviceSelectors: spec.serviceSelectors ?? [],
    };
    // The same prefix can carry one LOCAL_PREF only: two advertisements of a pool to a peer must agree.
    if (adv.localPref !== undefined) {
      for (const other of bgpAdvertisements) {
        if (other.localPref === undefined || other.localPref === adv.localPref) continue;
        const pool = adv.pools.find((p) => other.pools.includes(p));
        const peer = adv.peers.find((p) => other.peers.includes(p));
        if (pool !== undefined && (peer !== undefined || (adv.peers.length === 0 && other.peers.length === 0))) {
          err('BGPAdvertisement', name, 'spec.localPref', adv.localPref, `conflicts with localPref ${other.localPref} of BGPAdvertisement/${other.name} for IPPool/${pool}; advertisements of the same pool to the same peers must use one localPref`);
        }
      }
    }
    bgpAdvertisements.push(adv);
  }

  if (errors.length) return { errors };
  return { config: { pools, l2Advertisements, bgpPeers, bgpAdvertisements, bfdProfiles, communities }, errors };
}
