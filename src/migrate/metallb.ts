// MetalLB → ironlb: the metallb.io CRs (IPAddressPool, L2Advertisement, BGPAdvertisement,
// BGPPeer v1beta1/v1beta2, BFDProfile, Community), the legacy ConfigMap (key `config`:
// address-pools, peers, bgp-communities, bfd-profiles) and Service annotations
// (metallb.universe.tf/* and metallb.io/*). MetalLB's field names map almost one to one.
import { parse } from 'yaml';
import { ANNOTATION_ADDRESS_POOL, ANNOTATION_ALLOW_SHARED_IP, ANNOTATION_LOAD_BALANCER_IPS, BGP_PASSWORD_SECRET_KEY, BGP_PASSWORD_SECRET_TYPE } from '../api/index.ts';
import { Fields, Migration, isObj, metaOf, objectName, put, type MigrateOptions, type MigrationResult, type Obj } from './common.ts';

const GROUP = 'metallb.io';

/** A MetalLB label selector list (same shape as ironlb's). */
function selectors(v: unknown): Obj[] | undefined {
  return Array.isArray(v) && v.length ? (v as Obj[]) : undefined;
}

function communitySplit(list: unknown, aliases: Map<string, string>, where: string, m: Migration): { std: string[]; large: string[] } {
  const std: string[] = [];
  const large: string[] = [];
  for (const c of Array.isArray(list) ? (list as unknown[]) : []) {
    const s = String(c);
    const alias = aliases.get(s);
    if (alias !== undefined) (alias.startsWith('large:') ? large : std).push(s);
    else if (s.startsWith('large:')) large.push(s);
    else if (/^\d+:\d+$/.test(s)) std.push(s);
    else {
      m.warn(where, `community ${JSON.stringify(s)} names no Community alias among the inputs; kept as an alias name (add the Community object)`);
      std.push(s);
    }
  }
  return { std, large };
}

// ---- CRs ------------------------------------------------------------------------------------

function ipAddressPool(m: Migration, o: Obj): void {
  const meta = metaOf(o);
  const where = `IPAddressPool/${meta.name}`;
  const f = new Fields(o.spec);
  const spec: Obj = { addresses: f.take('addresses') ?? [] };
  put(spec, 'autoAssign', f.take('autoAssign'));
  put(spec, 'avoidBuggyIPs', f.take('avoidBuggyIPs'));
  const alloc = new Fields(f.take('serviceAllocation'));
  const allocateTo: Obj = {};
  put(allocateTo, 'priority', alloc.take('priority'));
  put(allocateTo, 'namespaces', alloc.take('namespaces'));
  put(allocateTo, 'namespaceSelectors', selectors(alloc.take('namespaceSelectors')));
  put(allocateTo, 'serviceSelectors', selectors(alloc.take('serviceSelectors')));
  alloc.warnRest(m, where, 'spec.serviceAllocation.');
  if (Object.keys(allocateTo).length) spec.allocateTo = allocateTo;
  f.warnRest(m, where);
  m.add('IPPool', meta.name, spec, meta.labels);
}

function l2Advertisement(m: Migration, o: Obj): void {
  const meta = metaOf(o);
  const where = `L2Advertisement/${meta.name}`;
  const f = new Fields(o.spec);
  const spec: Obj = {};
  put(spec, 'pools', f.take('ipAddressPools'));
  put(spec, 'poolSelectors', selectors(f.take('ipAddressPoolSelectors')));
  put(spec, 'nodeSelectors', selectors(f.take('nodeSelectors')));
  put(spec, 'interfaces', f.take('interfaces'));
  f.warnRest(m, where);
  m.add('L2Advertisement', meta.name, spec, meta.labels);
}

function bgpAdvertisement(m: Migration, o: Obj, aliases: Map<string, string>): void {
  const meta = metaOf(o);
  const where = `BGPAdvertisement/${meta.name}`;
  const f = new Fields(o.spec);
  const spec: Obj = {};
  put(spec, 'pools', f.take('ipAddressPools'));
  put(spec, 'poolSelectors', selectors(f.take('ipAddressPoolSelectors')));
  put(spec, 'aggregationLength', f.take('aggregationLength'));
  put(spec, 'aggregationLengthV6', f.take('aggregationLengthV6'));
  put(spec, 'localPref', f.take('localPref'));
  const c = communitySplit(f.take('communities'), aliases, where, m);
  put(spec, 'communities', c.std);
  put(spec, 'largeCommunities', c.large);
  put(spec, 'peers', f.take('peers'));
  put(spec, 'nodeSelectors', selectors(f.take('nodeSelectors')));
  f.warnRest(m, where);
  m.add('BGPAdvertisement', meta.name, spec, meta.labels);
}

function passwordSecret(m: Migration, peer: string, password: string): string {
  const name = objectName(`${peer}-bgp-password`);
  m.objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: m.ns }, type: BGP_PASSWORD_SECRET_TYPE, stringData: { [BGP_PASSWORD_SECRET_KEY]: password } });
  m.warn(`BGPPeer/${peer}`, `the plain-text password moved into Secret ${m.ns}/${name} (in the output): keep the output private`);
  return name;
}

// v1beta1 and v1beta2 differ in password (plain) vs passwordSecret, and v1beta2's extra fields.
function bgpPeer(m: Migration, o: Obj): void {
  const meta = metaOf(o);
  const where = `BGPPeer/${meta.name}`;
  const f = new Fields(o.spec);
  const spec: Obj = {};
  // vrf, interface (unnumbered), disableMP and dualStackAddressFamily have the same names and meaning in ironlb.
  for (const k of ['myASN', 'peerASN', 'dynamicASN', 'peerAddress', 'interface', 'vrf', 'peerPort', 'sourceAddress', 'routerID', 'holdTime', 'keepaliveTime', 'connectTime', 'ebgpMultiHop', 'bfdProfile', 'disableMP', 'dualStackAddressFamily']) put(spec, k, f.take(k));
  if (spec.vrf === '') delete spec.vrf; // MetalLB: "" is the default VRF
  put(spec, 'gracefulRestart', f.take('enableGracefulRestart'));
  put(spec, 'nodeSelectors', selectors(f.take('nodeSelectors')));
  const pw = f.take<string>('password');
  const ref = f.take<Obj>('passwordSecret');
  if (pw) spec.passwordSecret = { name: passwordSecret(m, meta.name, pw) };
  else if (isObj(ref) && typeof ref.name === 'string') {
    spec.passwordSecret = { name: ref.name };
    m.warn(where, `copy Secret ${typeof ref.namespace === 'string' ? ref.namespace : 'metallb-system'}/${ref.name} into namespace ${m.ns} (type ${BGP_PASSWORD_SECRET_TYPE}, key "${BGP_PASSWORD_SECRET_KEY}") before applying`);
  }
  f.warnRest(m, where, 'spec.');
  m.add('BGPPeer', meta.name, spec, meta.labels);
}

function bfdProfile(m: Migration, o: Obj): void {
  const meta = metaOf(o);
  const f = new Fields(o.spec);
  const spec: Obj = {};
  for (const k of ['receiveInterval', 'transmitInterval', 'detectMultiplier', 'echoMode', 'echoInterval', 'passiveMode', 'minimumTtl']) put(spec, k, f.take(k));
  f.warnRest(m, `BFDProfile/${meta.name}`);
  m.add('BFDProfile', meta.name, spec, meta.labels);
}

function community(m: Migration, o: Obj): void {
  const meta = metaOf(o);
  const f = new Fields(o.spec);
  const list = (f.take<Obj[]>('communities') ?? []).map((c) => ({ name: String(c.name), value: String(c.value) }));
  f.warnRest(m, `Community/${meta.name}`);
  m.add('Community', meta.name, { communities: list }, meta.labels);
}

// ---- legacy ConfigMap -----------------------------------------------------------------------

function kebabSelectors(v: unknown): Obj[] | undefined {
  if (!Array.isArray(v) || !v.length) return undefined;
  return (v as Obj[]).map((s) => {
    const out: Obj = {};
    if (isObj(s['match-labels'])) out.matchLabels = s['match-labels'];
    if (Array.isArray(s['match-expressions'])) out.matchExpressions = s['match-expressions'];
    return out;
  });
}

function legacyConfig(m: Migration, text: string, where: string): void {
  let cfg: unknown;
  try {
    cfg = parse(text);
  } catch (err) {
    m.warn(where, `data.config is not valid YAML (${(err as Error).message}); nothing migrated from it`);
    return;
  }
  const c = new Fields(cfg);
  const communities = new Map<string, string>(Object.entries((c.take<Obj>('bgp-communities') ?? {}) as Record<string, string>));
  const resolve = (list: unknown, at: string) => {
    const out: string[] = [];
    for (const x of Array.isArray(list) ? list : []) {
      const v = communities.get(String(x)) ?? String(x);
      if (/^\d+:\d+$/.test(v)) out.push(v);
      else m.warn(at, `community ${JSON.stringify(x)} is neither AS:VALUE nor a bgp-communities name; dropped`);
    }
    return out;
  };
  for (const [i, p] of (c.take<Obj[]>('bfd-profiles') ?? []).entries()) {
    const f = new Fields(p);
    const name = objectName(String(f.take('name') ?? `bfd-${i}`));
    const spec: Obj = {};
    for (const [from, to] of [
      ['receive-interval', 'receiveInterval'],
      ['transmit-interval', 'transmitInterval'],
      ['detect-multiplier', 'detectMultiplier'],
      ['echo-interval', 'echoInterval'],
      ['echo-mode', 'echoMode'],
      ['passive-mode', 'passiveMode'],
      ['minimum-ttl', 'minimumTtl'],
    ] as const)
      put(spec, to, f.take(from));
    f.warnRest(m, `${where} bfd-profiles[${i}]`, '');
    m.add('BFDProfile', name, spec);
  }
  for (const [i, p] of (c.take<Obj[]>('peers') ?? []).entries()) {
    const f = new Fields(p);
    const addr = String(f.take('peer-address') ?? '');
    const name = objectName(String(f.take('name') ?? `peer-${addr}`));
    const at = `${where} peers[${i}] (${addr})`;
    const spec: Obj = { myASN: f.take('my-asn'), peerASN: f.take('peer-asn'), peerAddress: addr };
    put(spec, 'peerPort', f.take('peer-port'));
    put(spec, 'holdTime', f.take('hold-time'));
    put(spec, 'keepaliveTime', f.take('keepalive-time'));
    put(spec, 'routerID', f.take('router-id'));
    put(spec, 'sourceAddress', f.take('source-address'));
    put(spec, 'ebgpMultiHop', f.take('ebgp-multihop'));
    put(spec, 'bfdProfile', f.take('bfd-profile'));
    put(spec, 'nodeSelectors', kebabSelectors(f.take('node-selectors')));
    const pw = f.take<string>('password');
    if (pw) spec.passwordSecret = { name: passwordSecret(m, name, pw) };
    f.warnRest(m, at, '');
    m.add('BGPPeer', name, spec);
  }
  for (const [i, p] of (c.take<Obj[]>('address-pools') ?? []).entries()) {
    const f = new Fields(p);
    const name = objectName(String(f.take('name') ?? `pool-${i}`));
    const at = `${where} address-pools[${i}] (${name})`;
    const spec: Obj = { addresses: f.take('addresses') ?? [] };
    put(spec, 'autoAssign', f.take('auto-assign'));
    put(spec, 'avoidBuggyIPs', f.take('avoid-buggy-ips'));
    m.add('IPPool', name, spec);
    const protocol = f.take<string>('protocol');
    const advs = f.take<Obj[]>('bgp-advertisements');
    if (protocol === 'layer2') m.add('L2Advertisement', name, { pools: [name] });
    else if (protocol === 'bgp') {
      const list = advs?.length ? advs : [{}];
      list.forEach((a, j) => {
        const af = new Fields(a);
        const s: Obj = { pools: [name] };
        put(s, 'aggregationLength', af.take('aggregation-length'));
        put(s, 'aggregationLengthV6', af.take('aggregation-length-v6'));
        put(s, 'localPref', af.take('localpref'));
        put(s, 'communities', resolve(af.take('communities'), `${at} bgp-advertisements[${j}]`));
        af.warnRest(m, `${at} bgp-advertisements[${j}]`, '');
        m.add('BGPAdvertisement', list.length > 1 ? `${name}-${j}` : name, s);
      });
    } else m.warn(at, `protocol ${JSON.stringify(protocol)} is not layer2 or bgp; the pool is migrated without an advertisement`);
    f.warnRest(m, at, '');
  }
  c.warnRest(m, where, '');
}

// ---- Services -------------------------------------------------------------------------------

const SERVICE_ANNOTATIONS: Record<string, string | null> = {
  'address-pool': ANNOTATION_ADDRESS_POOL,
  loadBalancerIPs: ANNOTATION_LOAD_BALANCER_IPS,
  'allow-shared-ip': ANNOTATION_ALLOW_SHARED_IP,
  // Written by MetalLB's controller; ironlb writes its own.
  'ip-allocated-from-pool': null,
};

export function migrateMetalLBService(m: Migration, o: Obj): void {
  const meta = metaOf(o);
  const ns = meta.namespace ?? 'default';
  const where = `Service/${ns}/${meta.name}`;
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const [k, v] of Object.entries(meta.annotations ?? {})) {
    const m2 = /^(metallb\.universe\.tf|metallb\.io)\/(.+)$/.exec(k);
    if (!m2) continue;
    remove.push(k);
    const to = SERVICE_ANNOTATIONS[m2[2] as string];
    if (to) set[to] = v;
    else if (to === undefined) m.warn(where, `annotation ${k} has no ironlb equivalent; remove it`);
  }
  const spec = isObj(o.spec) ? o.spec : {};
  if (typeof spec.loadBalancerClass === 'string' && spec.loadBalancerClass !== '') {
    m.warn(where, `spec.loadBalancerClass is ${JSON.stringify(spec.loadBalancerClass)} and immutable: run ironlb with --load-balancer-class=${spec.loadBalancerClass} (Helm value loadBalancerClass), or recreate the Service`);
  }
  if (remove.length || Object.keys(set).length) m.services.push({ namespace: ns, name: meta.name, set, remove });
}

// ---- entry ----------------------------------------------------------------------------------

export function migrateMetalLB(docs: readonly Obj[], opts: MigrateOptions = {}): MigrationResult {
  const m = new Migration(opts);
  // Community aliases first: advertisements need to know which aliases are large communities.
  const aliases = new Map<string, string>();
  for (const o of docs) {
    if (o.kind === 'Community' && String(o.apiVersion).startsWith(`${GROUP}/`)) {
      for (const c of ((isObj(o.spec) ? o.spec.communities : []) as Obj[] | undefined) ?? []) aliases.set(String(c.name), String(c.value));
    }
  }
  for (const o of docs) {
    const apiVersion = String(o.apiVersion ?? '');
    const kind = String(o.kind ?? '');
    const meta = metaOf(o);
    if (apiVersion.startsWith(`${GROUP}/`)) {
      if (kind === 'IPAddressPool') ipAddressPool(m, o);
      else if (kind === 'L2Advertisement') l2Advertisement(m, o);
      else if (kind === 'BGPAdvertisement') bgpAdvertisement(m, o, aliases);
      else if (kind === 'BGPPeer') bgpPeer(m, o);
      else if (kind === 'BFDProfile') bfdProfile(m, o);
      else if (kind === 'Community') community(m, o);
      else m.warn(`${kind}/${meta.name}`, `${apiVersion} ${kind} has no ironlb equivalent; skipped`);
    } else if (apiVersion === 'v1' && kind === 'ConfigMap') {
      const data = isObj(o.data) ? o.data : {};
      if (typeof data.config === 'string') legacyConfig(m, data.config, `ConfigMap/${meta.namespace ?? 'metallb-system'}/${meta.name}`);
      else m.warn(`ConfigMap/${meta.name}`, 'no "config" key: not a MetalLB configuration; skipped');
    } else if (apiVersion === 'v1' && kind === 'Service') migrateMetalLBService(m, o);
    else m.warn(`${kind || '(no kind)'}/${meta.name}`, `${apiVersion || '(no apiVersion)'} ${kind} is not a MetalLB object; skipped`);
  }
  return m.result();
}
