// OpenELB → ironlb: Eip (a pool plus its protocol: layer2, bgp or vip), BgpConf (the local AS and
// router ID, shared by every peer), BgpPeer (GoBGP-style neighbour settings) in
// network.kubesphere.io/v1alpha2, and the Service annotations lb.kubesphere.io/v1alpha1,
// protocol.openelb.kubesphere.io/v1alpha1, eip.openelb.kubesphere.io/v1alpha2 (pool) and
// eip.openelb.kubesphere.io/v1alpha1 (address).
import { ANNOTATION_ADDRESS_POOL, ANNOTATION_LOAD_BALANCER_IPS, BGP_PASSWORD_SECRET_KEY, BGP_PASSWORD_SECRET_TYPE } from '../api/index.ts';
import { Fields, Migration, isObj, metaOf, objectName, put, type MigrateOptions, type MigrationResult, type Obj } from './common.ts';

const GROUP = 'network.kubesphere.io';
export const OPENELB_DEFAULT_EIP = 'eip.openelb.kubesphere.io/is-default-eip';

function eip(m: Migration, o: Obj): void {
  const meta = metaOf(o);
  const where = `Eip/${meta.name}`;
  const f = new Fields(o.spec);
  const address = String(f.take('address') ?? '');
  const spec: Obj = { addresses: address.split(',').map((a) => a.trim()).filter(Boolean) };
  const isDefault = meta.annotations?.[OPENELB_DEFAULT_EIP] === 'true';
  const namespaces = f.take<string[]>('namespaces');
  const nsSel = f.take<Obj>('namespaceSelector');
  const priority = f.take<number>('priority');
  const allocateTo: Obj = {};
  put(allocateTo, 'priority', priority);
  put(allocateTo, 'namespaces', namespaces);
  if (isObj(nsSel) && Object.keys(nsSel).length) {
    // OpenELB's namespaceSelector is a map of labels; a LabelSelector shape is accepted too.
    allocateTo.namespaceSelectors = [nsSel.matchLabels || nsSel.matchExpressions ? nsSel : { matchLabels: nsSel }];
  }
  // OpenELB assigns automatically only from the default Eip and from namespace-bound Eips; any
  // other Eip serves Services that name it.
  spec.autoAssign = isDefault || !!namespaces?.length || 'namespaceSelectors' in allocateTo;
  if (Object.keys(allocateTo).length && (namespaces?.length || 'namespaceSelectors' in allocateTo)) spec.allocateTo = allocateTo;
  else if (priority !== undefined) m.warn(where, 'spec.priority orders namespace-bound Eips only; this Eip has no namespaces: dropped');
  if (f.take('disable') === true) {
    spec.autoAssign = false;
    m.warn(where, 'spec.disable: true has no exact equivalent: the pool is migrated with autoAssign: false (it still serves Services that ask for it by name or address); leave it out to stop assigning from it');
  }
  if (f.take('usingKnownIPs') === true) m.warn(where, 'spec.usingKnownIPs has no ironlb equivalent (ironlb never checks whether an address answers on the network): make sure the range is free');
  m.add('IPPool', meta.name, spec, meta.labels);

  const protocol = f.take<string>('protocol') ?? 'bgp';
  const iface = f.take<string>('interface');
  if (protocol === 'bgp') {
    m.add('BGPAdvertisement', meta.name, { pools: [meta.name] });
    if (iface) m.warn(where, 'spec.interface applies to layer2 only; dropped');
  } else if (protocol === 'layer2' || protocol === 'vip') {
    const l2: Obj = { pools: [meta.name] };
    if (iface?.startsWith('can_reach:')) {
      m.warn(where, `spec.interface ${JSON.stringify(iface)} has no equivalent: ironlb answers on every interface whose subnet contains the address; list interfaces in the L2Advertisement to restrict it`);
    } else if (iface) l2.interfaces = [iface];
    if (protocol === 'vip') m.warn(where, 'protocol vip (keepalived) becomes Layer 2 announcement (ARP/NDP from one elected node), the ironlb equivalent of a floating VIP');
    m.add('L2Advertisement', meta.name, l2);
  } else m.warn(where, `spec.protocol ${JSON.stringify(protocol)} is not bgp, layer2 or vip; the pool is migrated without an advertisement`);
  f.warnRest(m, where);
}

interface LocalConf {
  as?: number;
  routerId?: string;
}

function bgpConf(m: Migration, o: Obj): LocalConf | undefined {
  const meta = metaOf(o);
  const where = `BgpConf/${meta.name}`;
  if (meta.name !== 'default') {
    m.warn(where, 'OpenELB reads only the BgpConf named "default"; this one is ignored');
    return undefined;
  }
  const f = new Fields(o.spec);
  const conf: LocalConf = {};
  const as = f.take<number>('as');
  if (as !== undefined) conf.as = as;
  const rid = f.take<string>('routerId');
  if (rid) conf.routerId = rid;
  const port = f.take<number>('listenPort');
  if (port !== undefined && port !== 179) m.warn(where, `spec.listenPort ${port}: set the speaker's listen port instead (Helm value speaker.bgp.port=${port}, or ironlb speaker --bgp-port=${port})`);
  f.warnRest(m, where, 'spec.', { listenAddress: 'set the Helm value speaker.bgp.listenAddress (ironlb speaker --bgp-listen)' });
  return conf;
}

function seconds(v: unknown): string | undefined {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? `${n}s` : undefined;
}

function bgpPeer(m: Migration, o: Obj, local: LocalConf | undefined): void {
  const meta = metaOf(o);
  const where = `BgpPeer/${meta.name}`;
  const f = new Fields(o.spec);
  const spec: Obj = {};
  if (local?.as !== undefined) spec.myASN = local.as;
  else m.warn(where, 'no BgpConf "default" among the inputs: set spec.myASN (the local AS) by hand');
  if (local?.routerId) spec.routerID = local.routerId;
  const conf = new Fields(f.take('conf'));
  put(spec, 'peerASN', conf.take('peerAs'));
  put(spec, 'peerAddress', conf.take('neighborAddress'));
  const pw = conf.take<string>('authPassword');
  if (pw) {
    const name = objectName(`${meta.name}-bgp-password`);
    m.objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: m.ns }, type: BGP_PASSWORD_SECRET_TYPE, stringData: { [BGP_PASSWORD_SECRET_KEY]: pw } });
    spec.passwordSecret = { name };
    m.warn(where, `spec.conf.authPassword moved into Secret ${m.ns}/${name} (in the output): keep the output private`);
  }
  conf.warnRest(m, where, 'spec.conf.');
  const sel = f.take<Obj>('nodeSelector');
  if (isObj(sel) && Object.keys(sel).length) spec.nodeSelectors = [sel];
  const transport = new Fields(f.take('transport'));
  put(spec, 'peerPort', transport.take('remotePort'));
  put(spec, 'sourceAddress', transport.take('localAddress'));
  if (transport.take('passiveMode') === true) m.warn(where, 'spec.transport.passiveMode: ironlb both listens and connects; there is no passive-only peer');
  transport.warnRest(m, where, 'spec.transport.');
  const t = f.take<Obj>('timers');
  const timers = new Fields(isObj(t) ? t.config : undefined);
  put(spec, 'holdTime', seconds(timers.take('holdTime')));
  put(spec, 'keepaliveTime', seconds(timers.take('keepaliveInterval')));
  put(spec, 'connectTime', seconds(timers.take('connectRetry')));
  timers.warnRest(m, where, 'spec.timers.config.');
  const mh = f.take<Obj>('ebgpMultihop');
  if (isObj(mh) && isObj(mh.config)) {
    if (mh.config.enabled === true) spec.ebgpMultiHop = true;
    if (mh.config.multihopTtl !== undefined) m.warn(where, `spec.ebgpMultihop.config.multihopTtl ${JSON.stringify(mh.config.multihopTtl)} has no ironlb equivalent (ebgpMultiHop has no TTL setting); dropped`);
  }
  const gr = f.take<Obj>('gracefulRestart');
  if (isObj(gr) && isObj(gr.config) && gr.config.enabled === true) spec.gracefulRestart = true;
  for (const [i, a] of (f.take<Obj[]>('afiSafis') ?? []).entries()) {
    const fam = isObj(a.config) && isObj(a.config.family) ? `${String(a.config.family.afi)}/${String(a.config.family.safi)}` : '?';
    if (!['AFI_IP/SAFI_UNICAST', 'AFI_IP6/SAFI_UNICAST'].includes(fam)) m.warn(where, `spec.afiSafis[${i}] family ${fam}: ironlb announces unicast routes of the peer address's family only`);
    const addPaths = isObj(a.addPaths) && isObj(a.addPaths.config) ? a.addPaths.config.sendMax : undefined;
    if (addPaths !== undefined) m.warn(where, `spec.afiSafis[${i}].addPaths.config.sendMax ${JSON.stringify(addPaths)}: ironlb does not send ADD-PATH; every node peers and announces its own route, which gives the same ECMP`);
  }
  f.warnRest(m, where);
  m.add('BGPPeer', meta.name, spec, meta.labels);
}

const LB = 'lb.kubesphere.io/v1alpha1';
const PROTOCOL = 'protocol.openelb.kubesphere.io/v1alpha1';
const EIP_POOL = 'eip.openelb.kubesphere.io/v1alpha2';
const EIP_ADDRESS = 'eip.openelb.kubesphere.io/v1alpha1';

function service(m: Migration, o: Obj): void {
  const meta = metaOf(o);
  const ns = meta.namespace ?? 'default';
  const where = `Service/${ns}/${meta.name}`;
  const ann = meta.annotations ?? {};
  const set: Record<string, string> = {};
  const remove: string[] = [];
  for (const [k, v] of Object.entries(ann)) {
    if (k === LB) {
      remove.push(k);
      if (v !== 'openelb') m.warn(where, `annotation ${LB}: ${JSON.stringify(v)} is not "openelb"; check which implementation owns this Service`);
    } else if (k === PROTOCOL) {
      remove.push(k);
      if (!['bgp', 'layer2', 'vip'].includes(v)) m.warn(where, `annotation ${PROTOCOL}: ${JSON.stringify(v)} is unknown`);
      // The announcement mode follows the pool's advertisements in ironlb, not the Service.
    } else if (k === EIP_POOL) {
      remove.push(k);
      set[ANNOTATION_ADDRESS_POOL] = v;
    } else if (k === EIP_ADDRESS) {
      remove.push(k);
      set[ANNOTATION_LOAD_BALANCER_IPS] = v;
    } else if (/(^|\.)openelb\.kubesphere\.io\/|^lb\.kubesphere\.io\//.test(k)) {
      remove.push(k);
      m.warn(where, `annotation ${k} has no ironlb equivalent; remove it`);
    }
  }
  const spec = isObj(o.spec) ? o.spec : {};
  if (spec.type === 'LoadBalancer' && ann[LB] === undefined && !spec.loadBalancerClass) {
    m.warn(where, `OpenELB ignores this Service (no ${LB} annotation) but ironlb will serve it; if another implementation serves it, run ironlb with --ignore-services-without-class and give ironlb's Services spec.loadBalancerClass ironlb.io/ironlb`);
  }
  if (remove.length || Object.keys(set).length) m.services.push({ namespace: ns, name: meta.name, set, remove });
}

export function migrateOpenELB(docs: readonly Obj[], opts: MigrateOptions = {}): MigrationResult {
  const m = new Migration(opts);
  let local: LocalConf | undefined;
  for (const o of docs) if (o.kind === 'BgpConf' && String(o.apiVersion).startsWith(`${GROUP}/`)) local = bgpConf(m, o) ?? local;
  for (const o of docs) {
    const apiVersion = String(o.apiVersion ?? '');
    const kind = String(o.kind ?? '');
    const meta = metaOf(o);
    if (apiVersion.startsWith(`${GROUP}/`)) {
      if (kind === 'Eip') eip(m, o);
      else if (kind === 'BgpPeer') bgpPeer(m, o, local);
      else if (kind !== 'BgpConf') m.warn(`${kind}/${meta.name}`, `${apiVersion} ${kind} has no ironlb equivalent; skipped`);
    } else if (apiVersion === 'v1' && kind === 'Service') service(m, o);
    else m.warn(`${kind || '(no kind)'}/${meta.name}`, `${apiVersion || '(no apiVersion)'} ${kind} is not an OpenELB object; skipped`);
  }
  return m.result();
}
