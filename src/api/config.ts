// Whole-configuration validation: every object against its schema (the same checks the CRDs' CEL
// rules make), then the rules that span objects (overlapping pools, dangling references,
// aggregation vs. pool prefixes, secrets, conflicting local-pref). An invalid object is isolated:
// it is reported and skipped (or its last accepted version keeps serving) and the rest applies.
// The result, ParsedConfig, is what the controller and speaker consume.
import { matchesAny, type LabelSelector } from '../util/selector.ts';
import { parseDuration, MAX_POOL_SIZE, RESERVED } from './addr.ts';
import { parseRange, rangeToCidrs, rangeSize, formatAddress, parseAddress, type AddressRange, type Family } from '../util/address.ts';
import { KINDS, CONFIG_KINDS, type ConfigKindName, type KindDef, type ObjectMeta } from './kinds.ts';
import type { IPPoolSpec, L2AdvertisementSpec, BGPPeerSpec, BGPAdvertisementSpec, BFDProfileSpec, CommunitySpec } from './kinds.ts';
import { describeValue, type FieldError } from './schema-dsl.ts';

/** One problem in the configuration: which object, which field, what value, what is allowed. */
export interface ConfigError {
  kind: string;
  name: string;
  namespace?: string;
  field: string;
  value: unknown;
  message: string;
}

/** How every message about a reference to an object that does not exist (yet) begins. */
const NAMES_NO = 'names no ';

/**
 * Whether the error is a reference to an object not in the cluster (yet): objects are created in
 * any order (kubectl apply of a folder goes by file name, GitOps tools by their own order), so
 * admission warns about these instead of refusing; the components report them until the object
 * named appears.
 */
export function isDanglingReference(e: ConfigError): boolean {
  return e.message.startsWith(NAMES_NO);
}

export function formatConfigError(e: ConfigError): string {
  return `${e.kind}/${e.namespace ? `${e.namespace}/` : ''}${e.name}: ${e.field}: ${describeValue(e.value)}: ${e.message}`;
}

/**
 * The one-line summary for ConfigurationState and logs: how many objects are rejected and
 * skipped (or keep their last accepted version), that the rest is applied, and the first errors.
 */
export function configMessage(errors: readonly ConfigError[], rejected: readonly string[], kept: readonly string[]): string {
  if (!errors.length) return 'configuration valid and applied';
  const keptText = kept.length ? `; ${kept.length} of them keep their last accepted version (${kept.join(', ')})` : '';
  return `${rejected.length} object(s) rejected and skipped; the rest is applied${keptText}: ${errors.slice(0, 3).map(formatConfigError).join('; ')}${errors.length > 3 ? `; and ${errors.length - 3} more error(s)` : ''}`;
}

/** One Event text per rejected object: its errors, and whether its last accepted version serves. */
export function objectEvents(errors: readonly ConfigError[], kept: readonly string[]): Map<string, { kind: string; name: string; message: string }> {
  const out = new Map<string, { kind: string; name: string; message: string }>();
  const byObject = new Map<string, ConfigError[]>();
  for (const e of errors) byObject.set(`${e.kind}/${e.name}`, [...(byObject.get(`${e.kind}/${e.name}`) ?? []), e]);
  for (const [k, errs] of byObject) {
    const { kind, name } = errs[0] as ConfigError;
    const isKept = kept.some((x) => x.startsWith(`${kind}/`) && x.endsWith(`/${name}`));
    const what = isKept ? 'this version is rejected; the last accepted version keeps serving' : 'rejected and skipped; the rest of the configuration is applied';
    out.set(k, { kind, name, message: `${what}: ${errs.map(formatConfigError).join('; ')}` });
  }
  return out;
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

export { MAX_POOL_SIZE, RESERVED };

export interface ParsedPool {
  name: string;
  labels: Record<string, string>;
  /** Sorted by family, then by first address. */
  ranges: AddressRange[];
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

export interface ValidationOptions {
  /**
   * The raw objects accepted last time (ValidationResult.accepted). An object whose current
   * version is rejected keeps serving in its accepted version, so a bad edit never renumbers.
   */
  previous?: readonly unknown[];
  /**
   * The Secret names the component may read (its --bgp-password-secrets, the chart's
   * bgpPasswordSecrets): a BGPPeer naming another Secret is told so, not that it is missing.
   * Undefined: no such limit (offline validation).
   */
  readableSecrets?: readonly string[];
}

export interface ValidationResult {
  /** The configuration of the accepted objects: always there, empty when nothing is valid. */
  config: ParsedConfig;
  /** Every problem found, also those of objects whose last accepted version keeps serving. */
  errors: ConfigError[];
  /** Keys (objectKey) of the objects whose current version is not applied, sorted. */
  rejected: string[];
  /** The subset of `rejected` whose last accepted version keeps serving instead. */
  kept: string[];
  /** The raw objects applied (current or kept versions): pass them as `previous` next time. */
  accepted: unknown[];
}

/** "Kind/name" for cluster-scoped objects, "Kind/namespace/name" for the others. */
export function objectKey(kind: string, name: string, namespace?: string): string {
  return `${kind}/${namespace ? `${namespace}/` : ''}${name}`;
}

/** A configuration object that passed its own checks (schema and CEL-equivalent rules). */
interface Candidate {
  kind: ConfigKindName;
  key: string;
  meta: ObjectMeta & { name: string };
  spec: unknown;
  raw: unknown;
  /** The last accepted version standing in for a rejected current one. */
  previous: boolean;
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


function created(meta: ObjectMeta): number {
  const t = meta.creationTimestamp === undefined ? NaN : new Date(meta.creationTimestamp).getTime();
  return Number.isFinite(t) ? t : 0;
}

/** Oldest first, then by name: who wins a conflict between two objects. */
function byAge(a: { meta: ObjectMeta & { name: string } }, b: { meta: ObjectMeta & { name: string } }): number {
  return created(a.meta) - created(b.meta) || (a.meta.name < b.meta.name ? -1 : a.meta.name > b.meta.name ? 1 : 0);
}

function byName(a: { meta: { name: string } }, b: { meta: { name: string } }): number {
  return a.meta.name < b.meta.name ? -1 : a.meta.name > b.meta.name ? 1 : 0;
}

/** Checks one raw object on its own; a Candidate when it passes. */
function candidate(obj: unknown, i: number, errors: ConfigError[] | undefined, previous: boolean): Candidate | undefined {
  const kind = kindOf(obj);
  if (!kind || !(CONFIG_KINDS as readonly string[]).includes(kind)) {
    if (kind === undefined) errors?.push({ kind: '(unknown)', name: `item ${i}`, field: 'kind', value: kind, message: `is required; one of ${CONFIG_KINDS.join(', ')}` });
    return undefined;
  }
  const r = validateObject(kind as ConfigKindName, obj);
  errors?.push(...r.errors);
  if (!r.meta) return undefined;
  const namespace = KINDS[kind as ConfigKindName].scope === 'Cluster' ? undefined : r.meta.namespace;
  return { kind: kind as ConfigKindName, key: objectKey(kind, r.meta.name, namespace), meta: r.meta, spec: r.spec, raw: obj, previous };
}

/**
 * Validates the whole configuration and isolates what is wrong. `objects` are ironlb.io objects
 * of any config kind (others are ignored), raw as read from the API or a file; `secrets` are the
 * Secrets of the ironlb namespace.
 *
 * An object that fails its own checks is skipped, unless `options.previous` holds an accepted
 * version of it, which then keeps serving. Conflicts between objects are settled the same way
 * every time: of two overlapping pools (or two Communities defining one alias, or two
 * BGPAdvertisements with different localPref for one pool and peer) the newer one, by
 * creationTimestamp then name, is rejected; an object naming a missing or rejected object is
 * rejected. A rejected object falls back to its last accepted version when there is one, and the
 * checks run again until nothing changes (bounded: every round rejects or replaces an object).
 * Every error is returned, with the configuration of what is accepted.
 */
export function validateConfig(objects: readonly unknown[], secrets: readonly SecretLike[] = [], options: ValidationOptions = {}): ValidationResult {
  const errors: ConfigError[] = [];
  const cands = new Map<string, Candidate>();
  const rejected = new Set<string>();
  const kept = new Set<string>();
  const previous = new Map<string, Candidate>();
  (options.previous ?? []).forEach((obj, i) => {
    const c = candidate(obj, i, undefined, true);
    if (c && !previous.has(c.key)) previous.set(c.key, c);
  });
  const seen = new Set<string>();
  objects.forEach((obj, i) => {
    const own: ConfigError[] = [];
    const c = candidate(obj, i, own, false);
    errors.push(...own);
    const meta = (obj as { metadata?: ObjectMeta } | null)?.metadata;
    const kind = kindOf(obj);
    const name = meta?.name;
    if (!kind || !(CONFIG_KINDS as readonly string[]).includes(kind) || typeof name !== 'string' || name === '') return;
    const key = objectKey(kind, name, KINDS[kind as ConfigKindName].scope === 'Cluster' ? undefined : meta?.namespace);
    if (seen.has(key)) {
      // Only in files (the API server keeps names unique); a copy that fails on its own says so alone.
      if (c) errors.push({ kind, name, field: 'metadata.name', value: name, message: `duplicate ${kind} name; names must be unique` });
      return;
    }
    seen.add(key);
    if (c) {
      cands.set(key, c);
      return;
    }
    rejected.add(key);
    const prev = previous.get(key);
    if (prev) {
      cands.set(key, prev);
      kept.add(key);
    }
  });

  let built = buildConfig([...cands.values()], secrets, rejected, options.readableSecrets);
  for (let round = 0; built.faults.size > 0 && round <= objects.length + 1; round++) {
    for (const [key, errs] of built.faults) {
      errors.push(...errs);
      rejected.add(key);
      const c = cands.get(key);
      const prev = previous.get(key);
      if (c && !c.previous && prev && JSON.stringify(prev.spec) !== JSON.stringify(c.spec)) {
        cands.set(key, prev);
        kept.add(key);
      } else {
        cands.delete(key);
        kept.delete(key);
      }
    }
    built = buildConfig([...cands.values()], secrets, rejected, options.readableSecrets);
  }
  return {
    config: built.config,
    errors,
    rejected: [...rejected].sort(),
    kept: [...kept].sort(),
    accepted: [...cands.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map((c) => c.raw),
  };
}

/**
 * One round: the configuration of `cands`, and the objects at fault in it with their errors.
 * Kinds are resolved in dependency order (pools, communities and BFD profiles, peers, then the
 * advertisements), so one round settles everything unless a fallback version changes things.
 */
function buildConfig(cands: readonly Candidate[], secrets: readonly SecretLike[], rejected: ReadonlySet<string>, readable?: readonly string[]): { config: ParsedConfig; faults: Map<string, ConfigError[]> } {
  const faults = new Map<string, ConfigError[]>();
  const keyOf = new Map<string, string>();
  for (const c of cands) keyOf.set(`${c.kind}/${c.meta.name}`, c.key);
  const fault = (kind: string, name: string, field: string, value: unknown, message: string) => {
    const key = keyOf.get(`${kind}/${name}`) ?? objectKey(kind, name);
    faults.set(key, [...(faults.get(key) ?? []), { kind, name, field, value, message }]);
  };
  // Rejected before this round, or at fault in it (an earlier kind of this round).
  const isRejected = (kind: string, name: string) => [...rejected, ...faults.keys()].some((k) => k.startsWith(`${kind}/`) && k.endsWith(`/${name}`));
  const missing = (kind: string, name: string, existing: Iterable<string>) =>
    isRejected(kind, name) ? `names ${kind}/${name}, which is rejected (see its own errors); fix it or name another` : `${NAMES_NO}${kind}; existing: ${[...existing].join(', ') || '(none)'}`;
  const list = <S>(k: ConfigKindName): Array<Valid<S>> => cands.filter((c) => c.kind === k).map((c) => ({ meta: c.meta, spec: c.spec as S }));

  // ---- pools: the older of two overlapping pools keeps its addresses.
  const pools = new Map<string, ParsedPool>();
  /** Accepted ranges per family, sorted and disjoint, for a binary search per new range. */
  const taken: Record<Family, Array<{ pool: string; r: AddressRange }>> = { IPv4: [], IPv6: [] };
  const clash = (r: AddressRange) => {
    const arr = taken[r.family];
    let lo = 0;
    let hi = arr.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((arr[mid] as { r: AddressRange }).r.last < r.first) lo = mid + 1;
      else hi = mid;
    }
    const next = arr[lo];
    return next && next.r.first <= r.last ? next : undefined;
  };
  for (const { meta, spec } of list<IPPoolSpec>('IPPool').sort(byAge)) {
    const ranges: AddressRange[] = [];
    const size: Record<Family, bigint> = { IPv4: 0n, IPv6: 0n };
    let ok = true;
    spec.addresses.forEach((text, i) => {
      const p = parseRange(text);
      if (!p.ok) return; // refused by the schema already
      const other = clash(p.range);
      if (other) {
        ok = false;
        fault('IPPool', meta.name, `spec.addresses[${i}]`, text, `overlaps ${other.r.text} of IPPool/${other.pool} (from ${formatAddress(p.range.family, p.range.first > other.r.first ? p.range.first : other.r.first)}); pools must not overlap, and IPPool/${other.pool} (older, or first by name) keeps them: remove or narrow one of the two`);
      }
      ranges.push(p.range);
      size[p.range.family] += rangeSize(p.range);
    });
    if (!ok) continue;
    for (const r of ranges) {
      const arr = taken[r.family];
      let at = arr.findIndex((x) => x.r.first > r.first);
      if (at < 0) at = arr.length;
      arr.splice(at, 0, { pool: meta.name, r });
    }
    ranges.sort((a, b) => (a.family < b.family ? -1 : a.family > b.family ? 1 : 0) || (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
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
  const sortedPools = new Map([...pools].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

  /** Pool names of an advertisement; undefined when a named pool is missing (a fault is recorded). */
  const resolvePools = (kind: string, name: string, names: string[] | undefined, selectors: LabelSelector[] | undefined): string[] | undefined => {
    const out = new Set<string>();
    let ok = true;
    (names ?? []).forEach((p, i) => {
      if (sortedPools.has(p)) out.add(p);
      else {
        ok = false;
        fault(kind, name, `spec.pools[${i}]`, p, missing('IPPool', p, sortedPools.keys()));
      }
    });
    if (selectors?.length) for (const p of sortedPools.values()) if (matchesAny(selectors, p.labels)) out.add(p.name);
    if (!names?.length && !selectors?.length) for (const p of sortedPools.keys()) out.add(p);
    return ok ? [...out].sort() : undefined;
  };

  // ---- BFD profiles; communities (the older Community keeps an alias both define)
  const bfdProfiles = new Map<string, ParsedBFDProfile>();
  for (const { meta, spec } of list<BFDProfileSpec>('BFDProfile').sort(byName)) bfdProfiles.set(meta.name, { ...spec, name: meta.name });

  const communities = new Map<string, CommunityValue>();
  const aliasOwner = new Map<string, string>();
  for (const { meta, spec } of list<CommunitySpec>('Community').sort(byAge)) {
    let ok = true;
    const mine = new Map<string, CommunityValue>();
    spec.communities.forEach((c, i) => {
      const owner = aliasOwner.get(c.name);
      if (owner !== undefined) {
        ok = false;
        fault('Community', meta.name, `spec.communities[${i}].name`, c.name, `duplicate alias: Community/${owner} (older, or first by name) defines it too; alias names must be unique across all Community objects`);
        return;
      }
      const v: CommunityValue | undefined = c.value.startsWith('large:')
        ? ((l) => (l ? { kind: 'large' as const, value: l } : undefined))(parseLargeCommunity(c.value.slice(6)))
        : ((n) => (n === undefined ? undefined : { kind: 'standard' as const, value: n }))(parseStandardCommunity(c.value));
      if (v) mine.set(c.name, v); // out-of-range values are refused by the schema already
    });
    if (!ok) continue;
    for (const [k, v] of mine) {
      communities.set(k, v);
      aliasOwner.set(k, meta.name);
    }
  }

  // ---- L2 advertisements
  const l2Advertisements: ParsedL2Advertisement[] = [];
  for (const { meta, spec } of list<L2AdvertisementSpec>('L2Advertisement').sort(byName)) {
    const advPools = resolvePools('L2Advertisement', meta.name, spec.pools, spec.poolSelectors);
    if (!advPools) continue;
    l2Advertisements.push({ name: meta.name, pools: advPools, nodeSelectors: spec.nodeSelectors ?? [], interfaces: spec.interfaces ?? [], serviceSelectors: spec.serviceSelectors ?? [] });
  }

  // ---- BGP peers
  const bgpPeers = new Map<string, ParsedBGPPeer>();
  const secretsByName = new Map<string, SecretLike>();
  for (const s of secrets) if (s.metadata?.name) secretsByName.set(s.metadata.name, s);
  for (const { meta, spec } of list<BGPPeerSpec>('BGPPeer').sort(byName)) {
    const peerIP = spec.peerAddress === undefined ? undefined : parseAddress(spec.peerAddress);
    // An unnumbered peer (interface) runs over IPv6 link-local addresses.
    const family: Family = peerIP?.family ?? (spec.interface !== undefined ? 'IPv6' : 'IPv4');
    let ok = true;
    const bad = (field: string, value: unknown, message: string) => {
      ok = false;
      fault('BGPPeer', meta.name, field, value, message);
    };
    if (spec.bfdProfile !== undefined && !bfdProfiles.has(spec.bfdProfile)) bad('spec.bfdProfile', spec.bfdProfile, missing('BFDProfile', spec.bfdProfile, bfdProfiles.keys()));
    let password: string | undefined;
    if (spec.passwordSecret) {
      const sname = spec.passwordSecret.name;
      const sec = secretsByName.get(sname);
      if (!sec && readable && !readable.includes(sname)) {
        bad('spec.passwordSecret.name', sname, `names a Secret ironlb may not read: it reads only the Secrets listed in the chart value bgpPasswordSecrets (flag --bgp-password-secrets; now ${readable.length ? readable.join(', ') : 'none'}); add "${sname}" there and upgrade the release (helm upgrade --reuse-values --set-json 'bgpPasswordSecrets=[...]')`);
      } else if (!sec) bad('spec.passwordSecret.name', sname, `${NAMES_NO}Secret in the ironlb namespace; create a ${BGP_PASSWORD_SECRET_TYPE} Secret with a "${BGP_PASSWORD_SECRET_KEY}" key`);
      else if (sec.type !== BGP_PASSWORD_SECRET_TYPE) bad('spec.passwordSecret.name', sname, `names a Secret of type ${JSON.stringify(sec.type ?? 'Opaque')}; it must be of type ${BGP_PASSWORD_SECRET_TYPE}`);
      else {
        password = decodeSecretValue(sec, BGP_PASSWORD_SECRET_KEY);
        if (!password) bad('spec.passwordSecret.name', sname, `names a Secret without a non-empty "${BGP_PASSWORD_SECRET_KEY}" key; add it`);
        else if (Buffer.byteLength(password) > 80) bad('spec.passwordSecret.name', sname, 'holds a password longer than 80 bytes, the TCP MD5 key limit');
      }
    }
    if (!ok) continue;
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

  // ---- BGP advertisements: references first; then the older keeps a localPref both set.
  const bgpAdvertisements: ParsedBGPAdvertisement[] = [];
  for (const { meta, spec } of list<BGPAdvertisementSpec>('BGPAdvertisement').sort(byAge)) {
    const name = meta.name;
    let ok = true;
    const bad = (field: string, value: unknown, message: string) => {
      ok = false;
      fault('BGPAdvertisement', name, field, value, message);
    };
    const advPools = resolvePools('BGPAdvertisement', name, spec.pools, spec.poolSelectors);
    if (!advPools) ok = false;
    for (const pn of advPools ?? []) {
      const pool = sortedPools.get(pn) as ParsedPool;
      for (const r of pool.ranges) {
        const agg = r.family === 'IPv4' ? spec.aggregationLength : spec.aggregationLengthV6;
        const widest = Math.min(...rangeToCidrs(r).map((c) => c.prefix));
        if (agg < widest) {
          const field = r.family === 'IPv4' ? 'spec.aggregationLength' : 'spec.aggregationLengthV6';
          bad(field, agg, `is shorter than the /${widest} prefix of ${r.text} in IPPool/${pn}, so it would announce addresses outside the pool; use ${widest} or longer`);
        }
      }
    }
    const peers = new Set<string>();
    (spec.peers ?? []).forEach((p, i) => {
      if (bgpPeers.has(p)) peers.add(p);
      else bad(`spec.peers[${i}]`, p, missing('BGPPeer', p, bgpPeers.keys()));
    });
    if (!spec.peers?.length) for (const p of bgpPeers.keys()) peers.add(p);
    const std: number[] = [];
    (spec.communities ?? []).forEach((c, i) => {
      const field = `spec.communities[${i}]`;
      const alias = communities.get(c);
      if (alias) {
        if (alias.kind === 'standard') std.push(alias.value);
        else bad(field, c, 'is the alias of a large community; list it under largeCommunities');
        return;
      }
      const v = parseStandardCommunity(c);
      if (v !== undefined) std.push(v);
      else bad(field, c, `${NAMES_NO}Community alias; known aliases: ${[...communities.keys()].join(', ') || '(none)'}`);
    });
    const large: LargeCommunity[] = [];
    (spec.largeCommunities ?? []).forEach((c, i) => {
      const field = `spec.largeCommunities[${i}]`;
      const alias = communities.get(c);
      if (alias) {
        if (alias.kind === 'large') large.push(alias.value);
        else bad(field, c, 'is the alias of a standard community; list it under communities');
        return;
      }
      const v = parseLargeCommunity(c.startsWith('large:') ? c.slice(6) : c);
      if (v) large.push(v);
      else bad(field, c, `${NAMES_NO}Community alias; known aliases: ${[...communities.keys()].join(', ') || '(none)'}`);
    });
    if (!ok) continue;
    const adv: ParsedBGPAdvertisement = {
      name,
      pools: advPools ?? [],
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
      const other = bgpAdvertisements.find((o) => o.localPref !== undefined && o.localPref !== adv.localPref && adv.pools.some((p) => o.pools.includes(p)) && (adv.peers.some((p) => o.peers.includes(p)) || (adv.peers.length === 0 && o.peers.length === 0)));
      if (other) {
        const pool = adv.pools.find((p) => other.pools.includes(p));
        bad('spec.localPref', adv.localPref, `conflicts with localPref ${other.localPref} of BGPAdvertisement/${other.name} for IPPool/${pool}; advertisements of the same pool to the same peers must use one localPref, and BGPAdvertisement/${other.name} (older, or first by name) keeps it`);
        continue;
      }
    }
    bgpAdvertisements.push(adv);
  }
  bgpAdvertisements.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  return { config: { pools: sortedPools, l2Advertisements, bgpPeers, bgpAdvertisements, bfdProfiles, communities }, faults };
}
