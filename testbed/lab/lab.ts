// The lab: a whole cluster on this machine, in network namespaces. Building blocks (one namespace
// each): a switch holding the nodes' L2 segment (a bridge), N nodes (speaker, hostname backend,
// kube-proxy's part), a router (BIRD, ECMP) on that segment, a client on it, and an external client
// behind the router. The API server and the controller run in the current namespace on loopback.
//
// Every daemon is detached and recorded in DIR/state.json, and carries DIR/ in its command line, so
// `lab down` (another process, maybe after a crash) finds and stops all of it.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { AdmissionregistrationV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, type V1Service } from '@kubernetes/client-node';
import { API_VERSION, DEFAULT_NAMESPACE, GROUP, KINDS, VERSION, expandAnnouncements, type KindName, type NodeAnnouncement, type ServiceAnnouncementStatus } from '../../src/api/index.ts';
import { isNotFound } from '../../src/k8s/index.ts';
import { KubeConfig } from '@kubernetes/client-node';
import { freePort, kubeconfigWithServer } from '../controlplane.ts';
import { chartNodeOptions, DIST_CLI, ensureDist } from './image.ts';
import { labPlan, DEFAULT_NET, type LabPlan, type NodePlan } from './plan.ts';
import { alive, nsExec, nsIp, pidsWith, sh, signal, spawnDaemon, waitGone } from './proc.ts';
import { birdConfig, frrBfdConfig, frrConfig, frrZebraConfig, parseBirdProtocols, parseKernelRoutes, type KernelRoute, type RouterKind, type SessionRow } from './router.ts';
import { applyUnnumberedConfig, createNodeLinks, setNodeLink, unnumberedUnavailable } from './unnumbered.ts';
import { ensurePeersBuilt, isMetalLB, kubectl, METALLB_GROUP, METALLB_NS, metallbManifest, metallbObjects, metallbProgram, RELAY_PORT, serviceAnnotations, SPEAKER_LABELS, tokenKubeconfig, unavailable, writeMemberlistKey, type Implementation } from './peers.ts';
import { randomBytes } from 'node:crypto';
import { daemonArgv, FRR_DAEMONS, frrNodeDirs, frrPidKeys, prepareNode, reloaderArgv, speakerEnv } from './metallb-frr.ts';
import net from 'node:net';
import { engineOfPool, firstFreeAddress, KUBE_VIP_CLASS, KUBE_VIP_HOST, KUBE_VIP_IPS, KUBE_VIP_NS, KUBE_VIP_SA, kubeVipCommand, kubeVipProgram, kubeVipRbac } from './kube-vip.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const AGENT = (f: string): string => join(HERE, f);
export const DEFAULT_DIR = '/run/ironlb-lab';
export const DEFAULT_PREFIX = 'ilab';
export const SECRET_NAME = 'ironlb-membership';
const METRICS_PORT = 7473;

export interface LabOptions {
  /** Namespace prefix ("ilab" for `ironlb lab up`, "ilbx…" for the e2e tests). */
  prefix?: string;
  /** State folder (PIDs, logs, kubeconfig, router config). */
  dir?: string;
  nodes?: number;
  /** Second octet of the lab's 10.x/16 (and fd00:x::/48). */
  net?: number;
  router?: RouterKind;
  bfd?: boolean;
  /** BGP hold time at the router (seconds). */
  holdTime?: number;
  /** Progress lines (the CLI prints them). */
  progress?: (line: string) => void;
  /** Seconds to wait for the speakers to start (a busy machine needs more). */
  startTimeoutS?: number;
  /** Which load balancer runs on the lab (testbed/lab/peers.ts): ironlb (default) or a peer it is compared with. */
  implementation?: Implementation;
  /** Node options for ironlb's controller and speakers after the chart's (bench/footprint.ts: --heapsnapshot-signal, V8 heap settings). */
  nodeArgs?: string[];
  /** Extra `ironlb speaker` flags for every speaker (bench/footprint.ts: timer settings). */
  speakerArgs?: string[];
  /** BGP unnumbered mode: node links to the router, FRR router (testbed/lab/unnumbered.ts). */
  unnumbered?: boolean;
}

export interface LabState {
  version: 1;
  dir: string;
  plan: LabPlan;
  router: RouterKind;
  bfd: boolean;
  holdTime: number;
  pids: Record<string, number>;
  macs: Record<string, string>;
  /** Where each speaker's current run starts in its log file. */
  logOffsets: Record<string, number>;
  /** Links cut with cut-link (node names). */
  cut: string[];
  apiUrl?: string;
  /** Loopback port of the controller's admission webhook. */
  webhookPort?: number;
  createdAt: string;
  /** Absent in labs started before the comparison existed: ironlb. */
  implementation?: Implementation;
  /** LabOptions.nodeArgs and speakerArgs, kept for restarts. */
  nodeArgs?: string[];
  speakerArgs?: string[];
}

export interface ServiceOptions {
  pool?: string;
  etp?: 'Cluster' | 'Local';
  /** Nodes holding a ready endpoint (default: every node). */
  endpointNodes?: string[];
  dualStack?: boolean;
  family?: 'IPv4' | 'IPv6';
  /** ironlb.io/loadBalancerIPs */
  ips?: string[];
  sharingKey?: string;
  port?: number;
  labels?: Record<string, string>;
  namespace?: string;
}

export interface ProbeResult {
  t: number;
  url: string;
  node?: string;
  err?: string;
}

const plural = (kind: KindName): string => KINDS[kind].plural;

function writeJson(path: string, v: unknown): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(v, null, 2));
  renameSync(`${path}.tmp`, path);
}

/** `http://ADDR:PORT/` with IPv6 addresses bracketed. */
export function urlFor(ip: string, port = 80): string {
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}/`;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false> | T | undefined | false, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let i = 0; i < Math.ceil(timeoutMs / intervalMs) + 1; i++) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`lab: timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
}

export class Lab {
  readonly state: LabState;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly discovery: DiscoveryV1Api;
  readonly admission: AdmissionregistrationV1Api;

  private constructor(state: LabState) {
    this.state = state;
    // The admin kubeconfig the control-plane agent wrote; before it exists, clients point nowhere.
    const kc = new KubeConfig();
    const file = join(state.dir, 'kubeconfig');
    if (existsSync(file)) kc.loadFromFile(file);
    else kc.loadFromOptions({ clusters: [{ name: 'none', server: 'https://127.0.0.1:1' }], users: [{ name: 'none' }], contexts: [{ name: 'none', cluster: 'none', user: 'none' }], currentContext: 'none' });
    this.core = kc.makeApiClient(CoreV1Api);
    this.custom = kc.makeApiClient(CustomObjectsApi);
    this.discovery = kc.makeApiClient(DiscoveryV1Api);
    this.admission = kc.makeApiClient(AdmissionregistrationV1Api);
  }

  get dir(): string {
    return this.state.dir;
  }
  get implementation(): Implementation {
    return this.state.implementation ?? 'ironlb';
  }
  get plan(): LabPlan {
    return this.state.plan;
  }
  get kubeconfig(): string {
    return join(this.dir, 'kubeconfig');
  }
  /** What every daemon of this lab has in its command line. */
  get marker(): string {
    return `${this.dir}/`;
  }

  node(ref: number | string): NodePlan {
    const n = typeof ref === 'number' ? this.plan.nodes[ref] : this.plan.nodes.find((x) => x.name === ref || String(x.index) === ref);
    if (!n) throw new Error(`lab has no node "${ref}": nodes are ${this.plan.nodes.map((x) => `${x.index} (${x.name})`).join(', ')}`);
    return n;
  }

  /** Opens a running lab from its state folder. */
  static open(dir = DEFAULT_DIR): Lab {
    const file = join(dir, 'state.json');
    if (!existsSync(file)) throw new Error(`no lab state in ${dir}: start one with "ironlb lab up" (or pass --dir)`);
    return new Lab(JSON.parse(readFileSync(file, 'utf8')) as LabState);
  }

  private save(): void {
    writeJson(join(this.dir, 'state.json'), this.state);
  }

  private log(name: string): string {
    return join(this.dir, 'logs', `${name}.log`);
  }

  /** Builds and starts the lab (without configuration or Services: see applyExample). */
  static async up(o: LabOptions = {}): Promise<Lab> {
    // Before anything is created: an implementation that cannot run here leaves nothing behind.
    const impl = o.implementation ?? 'ironlb';
    const why = unavailable(impl) ?? (o.unnumbered ? unnumberedUnavailable({ implementation: impl, router: o.router ?? 'bird' }) : undefined);
    if (why) throw new Error(why);
    const prefix = o.prefix ?? DEFAULT_PREFIX;
    const dir = o.dir ?? DEFAULT_DIR;
    const plan = labPlan(prefix, o.nodes ?? 3, o.net ?? DEFAULT_NET, { unnumbered: o.unnumbered ?? false });
    if (existsSync(join(dir, 'state.json'))) throw new Error(`a lab is already running from ${dir}: "ironlb lab down" first (it also cleans up after a crash)`);
    const existing = (await sh('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`${prefix}-`));
    if (existing.length) throw new Error(`namespaces of an earlier lab are left (${existing.join(', ')}): run "ironlb lab down" first`);
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const say = o.progress ?? ((): void => {});
    // Before anything is created: a first build takes minutes and must not count against the lab's deadlines.
    if (isMetalLB(impl) || impl === 'kube-vip') await ensurePeersBuilt(say);
    // ironlb runs as the image runs it: dist/ from the current sources (rebuilt only when they changed).
    else await ensureDist();
    const lab = new Lab({ version: 1, dir, plan, router: o.router ?? 'bird', bfd: o.bfd ?? true, holdTime: o.holdTime ?? 9, pids: {}, macs: {}, logOffsets: {}, cut: [], createdAt: new Date().toISOString(), implementation: impl, ...(o.nodeArgs?.length ? { nodeArgs: o.nodeArgs } : {}), ...(o.speakerArgs?.length ? { speakerArgs: o.speakerArgs } : {}) });
    lab.save();
    try {
      say('starting the control plane (etcd, kube-apiserver, kube-controller-manager) and installing ironlb with helm');
      lab.state.pids.apiserver = spawnDaemon(undefined, process.execPath, [AGENT('controlplane-agent.ts'), '--lab-dir', lab.marker], lab.log('controlplane'), lab.childEnv());
      lab.save();
      const info = await until('the lab control plane', 180_000, () => {
        if (!alive(lab.state.pids.apiserver ?? 0)) throw new Error(`the control plane exited: see ${lab.log('controlplane')} and ${join(dir, 'controlplane')}/*.log`);
        const f = join(dir, 'apiserver.json');
        return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as { url: string }) : undefined;
      });
      lab.state.apiUrl = info.url;
      lab.save();
      const ready = new Lab(lab.state);
      say('creating the network: switch, nodes, router, clients');
      await ready.network();
      say('registering Nodes (as their kubelets would)');
      await ready.seedApi();
      if (isMetalLB(impl)) {
        say('installing MetalLB from its module source (CRDs, namespace, ServiceAccounts, RBAC; no webhook)');
        await ready.installMetalLB();
      }
      if (impl === 'kube-vip') {
        say('installing kube-vip\'s RBAC (from "kube-vip manifest rbac") and its ServiceAccount token');
        await ready.installKubeVip();
      }
      say(`starting the router (${ready.state.router})`);
      await ready.startRouter();
      say(impl === 'kube-vip' ? 'kube-vip has no controller (the lab gives Services their addresses, as kube-vip-cloud-provider would)' : `starting the ${impl} controller`);
      if (impl === 'ironlb') ready.state.webhookPort = await freePort();
      await ready.startControllerAsync();
      if (impl === 'ironlb') await ready.routeWebhook();
      say(`starting ${plan.nodes.length} ${impl} speakers and hostname backends`);
      if (impl === 'ironlb') ready.writeSpeakerKubeconfig();
      await Promise.all(plan.nodes.map((n) => ready.ensureRelay(n.index)));
      if (impl === 'metallb-frr') await Promise.all(plan.nodes.map((n) => ready.ensureFrr(n.index)));
      for (const n of plan.nodes) {
        ready.startBackend(n.index);
        ready.startSpeaker(n.index);
      }
      await Promise.all(plan.nodes.map((n) => ready.waitSpeaker(n.index, (o.startTimeoutS ?? 120) * 1000)));
      return ready;
    } catch (err) {
      await Lab.down(dir, prefix).catch(() => undefined);
      throw err;
    }
  }

  private childEnv(): NodeJS.ProcessEnv {
    // Children log at info level to their files whatever this process's level is (tests silence theirs).
    return { ...process.env, IRONLB_LOG_LEVEL: process.env.IRONLB_LAB_LOG_LEVEL ?? 'info', NODE_ENV: 'production' };
  }

  private async ns(name: string): Promise<void> {
    await sh('ip', ['netns', 'add', name]);
    await nsIp(name, 'link', 'set', 'lo', 'up');
  }

  private async network(): Promise<void> {
    const p = this.plan;
    const sysctl = (ns: string, ...kv: string[]): Promise<string> => nsExec(ns, 'sysctl', ['-q', '-w', ...kv]);
    await this.ns(p.switchNs);
    await nsIp(p.switchNs, 'link', 'add', 'br0', 'type', 'bridge');
    // Forward at once (no STP delay) and flood multicast (no snooping) so NDP reaches every host.
    await nsIp(p.switchNs, 'link', 'set', 'br0', 'type', 'bridge', 'forward_delay', '0', 'stp_state', '0', 'mcast_snooping', '0');
    await nsIp(p.switchNs, 'link', 'set', 'br0', 'up');
    const plug = async (ns: string, port: string): Promise<void> => {
      await nsIp(p.switchNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await nsIp(p.switchNs, 'link', 'set', port, 'master', 'br0');
      await nsIp(p.switchNs, 'link', 'set', port, 'up');
      await nsIp(ns, 'link', 'set', 'eth0', 'up');
    };
    // Before any interface exists, so every interface inherits it. No ICMP redirects: the router would
    // tell the LAN client to go straight to one node, and ECMP would stop spreading its requests.
    const base = (ns: string): Promise<string> =>
      sysctl(ns, 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0',
        'net.ipv4.conf.all.send_redirects=0', 'net.ipv4.conf.default.send_redirects=0', 'net.ipv4.conf.all.accept_redirects=0', 'net.ipv4.conf.default.accept_redirects=0',
        'net.ipv6.conf.all.accept_redirects=0', 'net.ipv6.conf.default.accept_redirects=0');
    // Nodes in parallel: each is a few dozen `ip` commands, slow on a busy machine one after another.
    await Promise.all(p.nodes.map(async (n) => {
      await this.ns(n.ns);
      await base(n.ns);
      // kube-proxy's part: service addresses are local, but the kernel must not answer ARP/NDP for
      // them (the speaker does). A local route, unlike an address on eth0, is never announced; the
      // kernel answers NDP only for assigned addresses, and arp_ignore=1 only for addresses on the
      // asking interface.
      await sysctl(n.ns, 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2');
      await plug(n.ns, n.port);
      await nsIp(n.ns, 'addr', 'add', `${n.ipv4}/24`, 'dev', 'eth0');
      await nsIp(n.ns, '-6', 'addr', 'add', `${n.ipv6}/64`, 'dev', 'eth0', 'nodad');
      await nsIp(n.ns, 'route', 'add', 'default', 'via', p.router4);
      await nsIp(n.ns, '-6', 'route', 'add', 'default', 'via', p.router6);
      for (const r of p.serviceRanges4) await nsIp(n.ns, 'route', 'add', 'local', r, 'dev', 'lo');
      for (const r of p.serviceRanges6) await nsIp(n.ns, '-6', 'route', 'add', 'local', r, 'dev', 'lo');
      this.state.macs[n.name] = (JSON.parse(await nsIp(n.ns, '-j', 'link', 'show', 'eth0')) as Array<{ address: string }>)[0]?.address ?? '';
    }));
    await this.ns(p.routerNs);
    await base(p.routerNs);
    await sysctl(p.routerNs, 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.fib_multipath_hash_policy=1', 'net.ipv6.fib_multipath_hash_policy=1');
    await plug(p.routerNs, 'pr');
    await nsIp(p.routerNs, 'addr', 'add', `${p.router4}/24`, 'dev', 'eth0');
    await nsIp(p.routerNs, '-6', 'addr', 'add', `${p.router6}/64`, 'dev', 'eth0', 'nodad');
    if (p.unnumbered) await createNodeLinks(p);
    await this.ns(p.clientNs);
    await base(p.clientNs);
    await plug(p.clientNs, 'pc');
    await nsIp(p.clientNs, 'addr', 'add', `${p.client4}/24`, 'dev', 'eth0');
    await nsIp(p.clientNs, '-6', 'addr', 'add', `${p.client6}/64`, 'dev', 'eth0', 'nodad');
    await nsIp(p.clientNs, 'route', 'add', 'default', 'via', p.router4);
    await nsIp(p.clientNs, '-6', 'route', 'add', 'default', 'via', p.router6);
    await this.ns(p.extClientNs);
    await base(p.extClientNs);
    await nsIp(p.routerNs, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', p.extClientNs);
    await nsIp(p.routerNs, 'link', 'set', 'eth1', 'up');
    await nsIp(p.extClientNs, 'link', 'set', 'eth0', 'up');
    await nsIp(p.routerNs, 'addr', 'add', `${p.routerExt4}/24`, 'dev', 'eth1');
    await nsIp(p.routerNs, '-6', 'addr', 'add', `${p.routerExt6}/64`, 'dev', 'eth1', 'nodad');
    await nsIp(p.extClientNs, 'addr', 'add', `${p.ext4}/24`, 'dev', 'eth0');
    await nsIp(p.extClientNs, '-6', 'addr', 'add', `${p.ext6}/64`, 'dev', 'eth0', 'nodad');
    await nsIp(p.extClientNs, 'route', 'add', 'default', 'via', p.routerExt4);
    await nsIp(p.extClientNs, '-6', 'route', 'add', 'default', 'via', p.routerExt6);
    this.save();
  }

  private async seedApi(): Promise<void> {
    // Namespace, ServiceAccounts, RBAC and the membership Secret came with the helm install.
    for (const n of this.plan.nodes) {
      await this.core.createNode({ body: { metadata: { name: n.name, labels: { 'kubernetes.io/hostname': n.name, 'lab.ironlb.io/index': String(n.index) } } } });
      await this.setNodeStatus(n.name);
    }
  }

  /** Node status as a kubelet would write it: addresses, Ready, NetworkUnavailable when asked. */
  async setNodeStatus(name: string, o: { networkUnavailable?: boolean } = {}): Promise<void> {
    const n = this.node(name);
    const cur = await this.core.readNode({ name });
    const now = new Date();
    await this.core.replaceNodeStatus({
      name,
      body: {
        ...cur,
        status: {
          addresses: [{ type: 'InternalIP', address: n.ipv4 }, { type: 'InternalIP', address: n.ipv6 }, { type: 'Hostname', address: name }],
          conditions: [
            { type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: now, lastTransitionTime: now },
            { type: 'NetworkUnavailable', status: o.networkUnavailable ? 'True' : 'False', reason: 'Lab', lastHeartbeatTime: now, lastTransitionTime: now },
          ],
        },
      },
    });
  }

  async setNodeLabels(name: string, labels: Record<string, string | null>): Promise<void> {
    const cur = await this.core.readNode({ name });
    const next: Record<string, string> = { ...(cur.metadata?.labels ?? {}) };
    for (const [k, v] of Object.entries(labels)) {
      if (v === null) delete next[k];
      else next[k] = v;
    }
    await this.core.replaceNode({ name, body: { ...cur, metadata: { ...cur.metadata, labels: next } } });
  }

  // ---- daemons -----------------------------------------------------------------------------------

  private async startRouter(): Promise<void> {
    const p = this.plan;
    const o = { bfd: this.state.bfd, holdTime: this.state.holdTime };
    if (this.state.router === 'bird') {
      writeFileSync(join(this.dir, 'bird.conf'), birdConfig(p, o));
      this.state.pids.router = spawnDaemon(p.routerNs, 'bird', ['-f', '-c', join(this.dir, 'bird.conf'), '-s', join(this.dir, 'bird.ctl'), '-P', join(this.dir, 'bird.pid')], this.log('router'));
      this.save();
      await until('BIRD control socket', 20_000, async () => {
        if (!alive(this.state.pids.router ?? 0)) throw new Error(`bird exited: see ${this.log('router')}`);
        await sh('birdc', ['-s', join(this.dir, 'bird.ctl'), 'show', 'status'], 3000);
        return true;
      });
      return;
    }
    // FRR: zebra installs the routes in the kernel (ECMP), bgpd and bfdd talk to the nodes.
    const fdir = join(this.dir, 'frr');
    mkdirSync(fdir, { recursive: true });
    writeFileSync(join(fdir, 'frr.conf'), frrConfig(p, o));
    writeFileSync(join(fdir, 'zebra.conf'), frrZebraConfig(p));
    writeFileSync(join(fdir, 'bfdd.conf'), frrBfdConfig());
    // The daemons drop to the frr user: their folder (PID files, sockets) must be theirs.
    await sh('chown', ['-R', 'frr:frr', fdir]);
    const common = ['-z', join(fdir, 'zserv.api'), '--vty_socket', fdir];
    this.state.pids.zebra = spawnDaemon(p.routerNs, '/usr/lib/frr/zebra', ['-f', join(fdir, 'zebra.conf'), '-i', join(fdir, 'zebra.pid'), ...common], this.log('zebra'));
    await until(`FRR zebra (it runs as the frr user, which must be able to reach ${fdir}; see ${this.log('zebra')})`, 20_000, () => existsSync(join(fdir, 'zserv.api')));
    if (o.bfd) this.state.pids.bfdd = spawnDaemon(p.routerNs, '/usr/lib/frr/bfdd', ['-f', join(fdir, 'bfdd.conf'), '-i', join(fdir, 'bfdd.pid'), ...common], this.log('bfdd'));
    this.state.pids.router = spawnDaemon(p.routerNs, '/usr/lib/frr/bgpd', ['-f', join(fdir, 'frr.conf'), '-i', join(fdir, 'bgpd.pid'), '-P', '0', ...common], this.log('router'));
    this.save();
    await until('FRR bgpd', 20_000, () => {
      if (!alive(this.state.pids.router ?? 0)) throw new Error(`bgpd exited: see ${this.log('router')}`);
      return existsSync(join(fdir, 'bgpd.vty'));
    });
  }

  /** Starts the controller of the lab's implementation (MetalLB's needs a free metrics port first). */
  async startControllerAsync(): Promise<void> {
    // kube-vip has no controller of its own (kube-vip-cloud-provider's part is the lab's: service()).
    if (this.implementation === 'kube-vip') return;
    if (!isMetalLB(this.implementation)) return this.startController();
    // Root namespace, loopback: a port of its own, since several labs may run at once.
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    this.state.pids.controller = spawnDaemon(undefined, metallbProgram('controller'), ['--kubeconfig', join(this.dir, 'metallb-controller.kubeconfig'), '--namespace', METALLB_NS, '--webhook-mode', 'disabled', '--disable-cert-rotation', '--port', String(port), '--log-level', 'info'], this.log('controller'), { ...process.env, ...(this.implementation === 'metallb-frr' ? { METALLB_BGP_TYPE: 'frr' } : {}) });
    this.save();
  }

  startController(): void {
    if (this.implementation === 'kube-vip') return;
    if (isMetalLB(this.implementation)) {
      void this.startControllerAsync();
      return;
    }
    // The admission webhook on a loopback port (kept across restarts); the API server is pointed
    // at it by address (routeWebhook), as kube-proxy would route the webhook Service to the Pod.
    const webhook = this.state.webhookPort ? ['--webhook-port', String(this.state.webhookPort), '--webhook-host', '127.0.0.1', '--webhook-cert-ips', '127.0.0.1'] : [];
    this.state.pids.controller = spawnDaemon(undefined, process.execPath, [...chartNodeOptions('controller'), ...(this.state.nodeArgs ?? []), DIST_CLI, 'controller', '--kubeconfig', join(this.dir, 'controller.kubeconfig'), '--metrics-port', '0', '--metrics-host', '127.0.0.1', '--no-leader-elect', ...webhook], this.log('controller'), this.childEnv());
    this.save();
  }

  /** Points the ValidatingWebhookConfiguration at the controller's loopback port (kube-proxy's part). */
  async routeWebhook(): Promise<void> {
    const api = this.admission;
    await until('the controller to publish its webhook CA', 60_000, async () => {
      const cfg = await api.readValidatingWebhookConfiguration({ name: 'ironlb-validating' });
      const w = cfg.webhooks?.[0];
      if (!w?.clientConfig.caBundle) return undefined;
      const url = `https://127.0.0.1:${this.state.webhookPort}/validate`;
      if (w.clientConfig.url === url) return true;
      for (const x of cfg.webhooks ?? []) x.clientConfig = { url, caBundle: x.clientConfig.caBundle };
      await api.replaceValidatingWebhookConfiguration({ name: 'ironlb-validating', body: cfg });
      return true;
    });
  }

  /** Stops the controller (SIGKILL: a crash) and waits until it is gone. */
  async stopController(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const pid = this.state.pids.controller;
    if (pid === undefined) return;
    signal(pid, sig);
    await waitGone([pid], 10_000);
    delete this.state.pids.controller;
    this.save();
  }

  startBackend(i: number): void {
    const n = this.node(i);
    this.state.pids[`${n.name}-backend`] = spawnDaemon(n.ns, process.execPath, [AGENT('backend.ts'), '--lab-dir', this.marker, '--name', n.name, '--port', String(this.plan.appPort), '--port', String(this.plan.appPort2)], this.log(`${n.name}-backend`));
    this.save();
  }

  /** Starts node i's speaker; the log file is appended to, so waitSpeaker looks past `logOffset`. */
  startSpeaker(i: number, extra: string[] = []): number {
    const n = this.node(i);
    if (isMetalLB(this.implementation)) return this.startMetalLBSpeaker(i, extra);
    if (this.implementation === 'kube-vip') return this.startKubeVip(i, extra);
    // The image's process exactly (node, the chart's Node options, dist/cli/main.js speaker), as the
    // speaker ServiceAccount, reaching the API server through the node's relay (ensureRelay).
    const args = [...chartNodeOptions('speaker'), ...(this.state.nodeArgs ?? []), DIST_CLI, 'speaker', '--kubeconfig', this.speakerKubeconfig, '--node-name', n.name, '--namespace', DEFAULT_NAMESPACE, '--interfaces', 'eth0', '--metrics-port', String(METRICS_PORT), ...(this.state.speakerArgs ?? []), ...extra];
    const file = this.log(`${n.name}-speaker`);
    const offset = existsSync(file) ? readFileSync(file).length : 0;
    this.state.pids[`${n.name}-speaker`] = spawnDaemon(n.ns, process.execPath, args, file, this.childEnv());
    this.state.logOffsets[n.name] = offset;
    this.save();
    return offset;
  }

  /** Waits until node i's speaker has joined the membership (its log says so). */
  async waitSpeaker(i: number, timeoutMs = 120_000): Promise<void> {
    const n = this.node(i);
    const file = this.log(`${n.name}-speaker`);
    const from = this.state.logOffsets[n.name] ?? 0;
    // ironlb says so when its membership runs; MetalLB's speaker once its informers have synced.
    const ready = isMetalLB(this.implementation) ? /"event":"startUpdate"|Starting workers/ : this.implementation === 'kube-vip' ? /beginning watching services/ : /membership running/;
    await until(`${n.name}'s speaker to start`, timeoutMs, () => {
      const pid = this.state.pids[`${n.name}-speaker`] ?? 0;
      const text = readFileSync(file).subarray(from).toString();
      if (!alive(pid)) throw new Error(`${n.name}'s speaker exited: ${text.split('\n').slice(-15).join('\n')}`);
      return ready.test(text);
    }, 200);
    // kube-vip's BGP engine, the node's second process: up once its BGP server has started.
    if (this.implementation === 'kube-vip') {
      const bgpFile = this.log(`${n.name}-speaker-bgp`);
      const bgpFrom = this.state.logOffsets[`${n.name}-bgp`] ?? 0;
      await until(`${n.name}'s kube-vip BGP engine to start`, timeoutMs, () => {
        const text = existsSync(bgpFile) ? readFileSync(bgpFile).subarray(bgpFrom).toString() : '';
        if (!alive(this.state.pids[`${n.name}-speaker-bgp`] ?? 0)) throw new Error(`${n.name}'s kube-vip BGP engine exited: ${text.split('\n').slice(-15).join('\n')}`);
        return /Starting Kube-vip Manager with the BGP engine/.test(text) && /beginning services leadership|watching services|Starting the BGP server|bgp/i.test(text.split('Starting Kube-vip Manager with the BGP engine')[1] ?? '');
      }, 200);
    }
  }

  // ---- kube-vip ----------------------------------------------------------------------------------

  /** kube-vip's RBAC (its own generator's) and a kubeconfig with its ServiceAccount's token through each node's relay. */
  async installKubeVip(): Promise<void> {
    const objs = await kubeVipRbac();
    await kubectl(this.dir, ['apply', '--server-side', '--force-conflicts', '-f', '-'], objs.map((o) => JSON.stringify(o)).join('\n'));
    const t = await this.core.createNamespacedServiceAccountToken({ name: KUBE_VIP_SA, namespace: KUBE_VIP_NS, body: { spec: { audiences: [], expirationSeconds: 7 * 86_400 } } });
    const token = t.status?.token;
    if (!token) throw new Error(`the API server issued no token for ServiceAccount ${KUBE_VIP_NS}/${KUBE_VIP_SA}`);
    const kubeconfig = tokenKubeconfig(readFileSync(join(this.dir, 'kubeconfig'), 'utf8'), `https://127.0.0.1:${RELAY_PORT}`, token);
    writeFileSync(join(this.dir, 'kube-vip.kubeconfig'), kubeconfig, { mode: 0o600 });
    // kube-vip's manager reads /etc/kubernetes/admin.conf or $HOME/.kube/config, not --k8sConfigPath.
    mkdirSync(join(this.kubeVipHome, '.kube'), { recursive: true });
    writeFileSync(join(this.kubeVipHome, '.kube', 'config'), kubeconfig, { mode: 0o600 });
  }

  private get kubeVipHome(): string {
    return join(this.dir, 'kube-vip-home');
  }

  /** Node i's two kube-vip processes (ARP engine as "-speaker", BGP engine as "-speaker-bgp"). */
  private startKubeVip(i: number, extra: string[]): number {
    const n = this.node(i);
    const p = this.plan;
    const o = { kubeconfig: join(this.dir, 'kube-vip.kubeconfig'), asn: p.asn, routerAsn: p.routerAsn, router4: p.router4, holdTime: this.state.holdTime };
    const offsetOf = (f: string): number => (existsSync(f) ? readFileSync(f).length : 0);
    const file = this.log(`${n.name}-speaker`);
    const offset = offsetOf(file);
    const start = (engine: 'arp' | 'bgp', port: number, log: string): number => {
      const c = kubeVipCommand(engine, n, { ...o, metricsPort: port });
      return spawnDaemon(n.ns, kubeVipProgram(), [...c.argv, ...extra], log, { ...process.env, HOME: this.kubeVipHome, ...c.env });
    };
    this.state.pids[`${n.name}-speaker`] = start('arp', METRICS_PORT, file);
    this.state.logOffsets[n.name] = offset;
    const bgpFile = this.log(`${n.name}-speaker-bgp`);
    this.state.logOffsets[`${n.name}-bgp`] = offsetOf(bgpFile);
    this.state.pids[`${n.name}-speaker-bgp`] = start('bgp', METRICS_PORT + 1, bgpFile);
    this.save();
    return offset;
  }

  /** kube-vip-cloud-provider's part: the first free address(es) of the Service's pool. */
  private async kubeVipAddresses(o: ServiceOptions): Promise<string> {
    const p = this.plan;
    const pools = engineOfPool(o.pool) === 'bgp' ? [p.bgpPool4, p.bgpPool6] : [p.l2Pool4, p.l2Pool6];
    const used = new Set<string>();
    for (const s of (await this.core.listServiceForAllNamespaces()).items) for (const a of (s.metadata?.annotations?.[KUBE_VIP_IPS] ?? '').split(',')) if (a) used.add(a);
    const families: Array<'IPv4' | 'IPv6'> = o.dualStack ? ['IPv4', 'IPv6'] : [o.family ?? 'IPv4'];
    const out: string[] = [];
    for (const f of families) {
      const ip = firstFreeAddress(pools, used, f);
      if (!ip) throw new Error(`the lab's ${o.pool ?? 'lab-l2'} pool has no free ${f} address left for kube-vip`);
      used.add(ip);
      out.push(ip);
    }
    return out.join(',');
  }

  // ---- MetalLB -----------------------------------------------------------------------------------

  /**
   * MetalLB's manifest (its module source, without Deployment/DaemonSet/webhook), its ServiceAccounts'
   * kubeconfigs (bound tokens), the memberlist key (the Secret its controller would have created)
   * and the speaker Pods as the DaemonSet and the kubelets would have made them.
   */
  async installMetalLB(): Promise<void> {
    const objs = metallbManifest(undefined, this.implementation === 'metallb-frr' ? 'frr' : 'native');
    await kubectl(this.dir, ['apply', '--server-side', '--force-conflicts', '-f', '-'], objs.map((o) => JSON.stringify(o)).join('\n'));
    // A new CRD answers 429 for a moment after it is Established (docs/controlplane.md).
    for (const plural of ['ipaddresspools', 'l2advertisements', 'bgppeers', 'bgpadvertisements', 'bfdprofiles', 'servicel2statuses', 'servicebgpstatuses']) {
      await until(`MetalLB's ${plural} to serve`, 60_000, async () => {
        await this.custom.listNamespacedCustomObject({ group: METALLB_GROUP, version: plural === 'bgppeers' ? 'v1beta2' : 'v1beta1', namespace: METALLB_NS, plural });
        return true;
      }, 250);
    }
    const admin = readFileSync(join(this.dir, 'kubeconfig'), 'utf8');
    for (const sa of ['controller', 'speaker']) {
      const t = await this.core.createNamespacedServiceAccountToken({ name: sa, namespace: METALLB_NS, body: { spec: { audiences: [], expirationSeconds: 7 * 86_400 } } });
      const token = t.status?.token;
      if (!token) throw new Error(`the API server issued no token for ServiceAccount ${METALLB_NS}/${sa}`);
      const server = sa === 'controller' ? (this.state.apiUrl ?? '') : `https://127.0.0.1:${RELAY_PORT}`;
      writeFileSync(join(this.dir, `metallb-${sa}.kubeconfig`), tokenKubeconfig(admin, server, token), { mode: 0o600 });
    }
    const key = randomBytes(16).toString('base64').replace(/=+$/, '');
    await this.core.createNamespacedSecret({ namespace: METALLB_NS, body: { metadata: { name: 'memberlist', namespace: METALLB_NS }, stringData: { secretkey: key } } });
    writeMemberlistKey(this.dir, key);
    for (const n of this.plan.nodes) await this.writeSpeakerPod(n.name);
  }

  /** The speaker Pod of a node, Running and Ready with the node's address (memberlist finds its peers by these Pod IPs). */
  private async writeSpeakerPod(node: string): Promise<void> {
    const n = this.node(node);
    const name = `speaker-${n.name}`;
    let pod = await this.core.readNamespacedPod({ name, namespace: METALLB_NS }).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
    pod ??= await this.core.createNamespacedPod({
      namespace: METALLB_NS,
      body: {
        metadata: { name, namespace: METALLB_NS, labels: SPEAKER_LABELS },
        spec: { nodeName: n.name, hostNetwork: true, serviceAccountName: 'speaker', containers: [{ name: 'speaker', image: 'quay.io/metallb/speaker:local' }] },
      },
    });
    const now = new Date();
    const cond = (type: string) => ({ type, status: 'True', lastTransitionTime: now });
    await this.core.replaceNamespacedPodStatus({
      name,
      namespace: METALLB_NS,
      body: {
        ...pod,
        status: {
          phase: 'Running', hostIP: n.ipv4, hostIPs: [{ ip: n.ipv4 }], podIP: n.ipv4, podIPs: [{ ip: n.ipv4 }], startTime: now,
          conditions: [cond('PodScheduled'), cond('Initialized'), cond('ContainersReady'), cond('Ready')],
          containerStatuses: [{ name: 'speaker', ready: true, restartCount: 0, image: 'quay.io/metallb/speaker:local', imageID: '', started: true, state: { running: { startedAt: now } } }],
        },
      },
    });
  }

  /** The speakers' kubeconfig: the speaker ServiceAccount's, with the node's relay as the server (the same port in every node). */
  get speakerKubeconfig(): string {
    return join(this.dir, 'speaker-relay.kubeconfig');
  }

  writeSpeakerKubeconfig(): void {
    writeFileSync(this.speakerKubeconfig, kubeconfigWithServer(readFileSync(join(this.dir, 'speaker.kubeconfig'), 'utf8'), `https://127.0.0.1:${RELAY_PORT}`), { mode: 0o600 });
  }

  /** Starts node i's relay to the API server (every speaker connects to it) unless it runs; waits until it listens. */
  async ensureRelay(i: number): Promise<void> {
    const n = this.node(i);
    const key = `${n.name}-relay`;
    if (alive(this.state.pids[key] ?? 0)) return;
    const file = this.log(key);
    const from = existsSync(file) ? readFileSync(file).length : 0;
    this.state.pids[key] = spawnDaemon(n.ns, process.execPath, [AGENT('relay-agent.ts'), '--lab-dir', this.marker, '--port', String(RELAY_PORT)], file);
    this.save();
    await until(`${n.name}'s relay to the API server to listen`, 30_000, () => {
      const text = readFileSync(file).subarray(from).toString();
      if (!alive(this.state.pids[key] ?? 0)) throw new Error(`${n.name}'s relay exited: ${text.trim()}`);
      return text.includes('relay listening');
    }, 50);
  }

  /**
   * MetalLB in FRR mode: node i's FRR daemons and reloader (testbed/lab/metallb-frr.ts), started
   * unless they run; waits until zebra serves and the reloader has written its PID file (the speaker
   * signals it through that file).
   */
  async ensureFrr(i: number): Promise<void> {
    const n = this.node(i);
    const d = frrNodeDirs(this.dir, n.name);
    const running = (k: string): boolean => alive(this.state.pids[k] ?? 0);
    if (frrPidKeys(n.name).every(running)) return;
    prepareNode(d);
    await sh('chown', ['-R', 'frr:frr', d.frr]);
    const log = this.log(`${n.name}-frr`);
    for (const daemon of FRR_DAEMONS) {
      const key = `${n.name}-frr-${daemon}`;
      if (running(key)) continue;
      const [prog, ...args] = daemonArgv(d, daemon);
      this.state.pids[key] = spawnDaemon(n.ns, prog!, args, log);
      this.save();
      // The others connect to zebra at start.
      if (daemon === 'zebra') await until(`${n.name}'s FRR zebra (see ${log})`, 20_000, () => {
        if (!running(key)) throw new Error(`${n.name}'s zebra exited: see ${log}`);
        return existsSync(join(d.frr, 'zserv.api'));
      });
    }
    await until(`${n.name}'s FRR bgpd and bfdd (see ${log})`, 20_000, () => {
      for (const x of FRR_DAEMONS) if (!running(`${n.name}-frr-${x}`)) throw new Error(`${n.name}'s ${x} exited: see ${log}`);
      return existsSync(join(d.frr, 'bgpd.vty')) && existsSync(join(d.frr, 'bfdd.vty'));
    });
    const key = `${n.name}-frr-reloader`;
    if (!running(key)) {
      rmSync(join(d.shared, 'reloader.pid'), { force: true });
      const [prog, ...args] = reloaderArgv(d);
      this.state.pids[key] = spawnDaemon(n.ns, prog!, args, this.log(`${n.name}-reloader`));
      this.save();
      await until(`${n.name}'s FRR reloader (see ${this.log(`${n.name}-reloader`)})`, 20_000, () => existsSync(join(d.shared, 'reloader.pid')));
    }
  }

  /** PIDs of node i's speaker "Pod": the speaker, and in FRR mode its FRR daemons and reloader. */
  speakerPodPids(i: number): number[] {
    const n = this.node(i);
    const keys = [`${n.name}-speaker`, `${n.name}-speaker-bgp`, ...(this.implementation === 'metallb-frr' ? frrPidKeys(n.name) : [])];
    return keys.map((k) => this.state.pids[k]).filter((x): x is number => x !== undefined && alive(x));
  }

  private startMetalLBSpeaker(i: number, extra: string[]): number {
    const n = this.node(i);
    const args = [
      '--kubeconfig', join(this.dir, 'metallb-speaker.kubeconfig'), '--node-name', n.name, '--pod-name', `speaker-${n.name}`, '--namespace', METALLB_NS,
      '--ml-bindaddr', n.ipv4, '--ml-labels', Object.entries(SPEAKER_LABELS).map(([k, v]) => `${k}=${v}`).join(','), '--ml-secret-key-path', join(this.dir, 'metallb-memberlist'),
      '--port', String(METRICS_PORT), '--log-level', 'info', ...extra,
    ];
    const file = this.log(`${n.name}-speaker`);
    const offset = existsSync(file) ? readFileSync(file).length : 0;
    const env = this.implementation === 'metallb-frr' ? { ...process.env, ...speakerEnv(frrNodeDirs(this.dir, n.name)) } : process.env;
    this.state.pids[`${n.name}-speaker`] = spawnDaemon(n.ns, metallbProgram('speaker'), args, file, env);
    this.state.logOffsets[n.name] = offset;
    this.save();
    return offset;
  }

  speakerRunning(i: number): boolean {
    return alive(this.state.pids[`${this.node(i).name}-speaker`] ?? 0);
  }

  /** Kills node i's speaker (SIGKILL by default: no goodbye). Returns the time of the kill. */
  async killSpeaker(i: number, sig: NodeJS.Signals = 'SIGKILL'): Promise<number> {
    const n = this.node(i);
    // MetalLB in FRR mode: a SIGKILL is the speaker container crashing (FRR in the Pod keeps its
    // sessions and routes); a SIGTERM is the Pod stopping, which stops its FRR and reloader too.
    const keys = [`${n.name}-speaker`, `${n.name}-speaker-bgp`, ...(this.implementation === 'metallb-frr' && sig !== 'SIGKILL' ? frrPidKeys(n.name) : [])];
    const pids = keys.map((k) => this.state.pids[k]).filter((x): x is number => x !== undefined);
    const t = Date.now();
    for (const p of pids) signal(p, sig);
    await waitGone(pids, 15_000);
    for (const k of keys) delete this.state.pids[k];
    this.save();
    return t;
  }

  /** A node stopping: its speaker and backend die and its link goes down. Returns the time. */
  async killNode(i: number): Promise<number> {
    const n = this.node(i);
    const t = Date.now();
    const keys = [`${n.name}-speaker`, `${n.name}-speaker-bgp`, `${n.name}-backend`, `${n.name}-relay`, ...frrPidKeys(n.name)];
    const pids = keys.map((k) => this.state.pids[k]).filter((x): x is number => x !== undefined);
    await nsIp(this.plan.switchNs, 'link', 'set', n.port, 'down');
    if (this.plan.unnumbered) await setNodeLink(this.plan, n, 'down');
    // Process groups too (each daemon leads its own): the FRR reloader's `sleep` child dies with it.
    for (const p of pids) signal(-p, 'SIGKILL') || signal(p, 'SIGKILL');
    await waitGone(pids, 10_000);
    for (const k of keys) delete this.state.pids[k];
    await this.forgetRuntimeAddresses(i);
    if (!this.state.cut.includes(n.name)) this.state.cut.push(n.name);
    this.save();
    return t;
  }

  /**
   * A powered-off node comes back without what programs configured at run time: addresses a load
   * balancer put on eth0 (kube-vip's ARP leader adds its Service addresses there) are gone after
   * the reboot. The node's own addresses stay (its network configuration).
   */
  private async forgetRuntimeAddresses(i: number): Promise<void> {
    const n = this.node(i);
    const out = await nsIp(n.ns, '-j', 'addr', 'show', 'dev', 'eth0');
    const infos = (JSON.parse(out || '[]') as Array<{ addr_info?: Array<{ local?: string; prefixlen?: number; scope?: string }> }>).flatMap((x) => x.addr_info ?? []);
    for (const a of infos) {
      if (!a.local || a.scope === 'link' || a.local === n.ipv4 || a.local === n.ipv6) continue;
      await nsIp(n.ns, 'addr', 'del', `${a.local}/${a.prefixlen ?? (a.local.includes(':') ? 128 : 32)}`, 'dev', 'eth0').catch(() => undefined);
    }
  }

  /** Brings a killed node back: link up, backend, speaker; waits until the speaker runs. */
  async reviveNode(i: number, timeoutMs = 120_000): Promise<void> {
    const n = this.node(i);
    await this.healLink(i);
    await this.ensureRelay(i);
    if (this.implementation === 'metallb-frr') await this.ensureFrr(i);
    if (!alive(this.state.pids[`${n.name}-backend`] ?? 0)) this.startBackend(i);
    if (!this.speakerRunning(i)) this.startSpeaker(i);
    await this.waitSpeaker(i, timeoutMs);
  }

  /** Cuts node i's cable: its switch port goes down (processes keep running). Returns the time. */
  async cutLink(i: number): Promise<number> {
    const n = this.node(i);
    const t = Date.now();
    await nsIp(this.plan.switchNs, 'link', 'set', n.port, 'down');
    if (this.plan.unnumbered) await setNodeLink(this.plan, n, 'down');
    if (!this.state.cut.includes(n.name)) this.state.cut.push(n.name);
    this.save();
    return t;
  }

  async healLink(i: number): Promise<void> {
    const n = this.node(i);
    await nsIp(this.plan.switchNs, 'link', 'set', n.port, 'up');
    if (this.plan.unnumbered) await setNodeLink(this.plan, n, 'up');
    this.state.cut = this.state.cut.filter((x) => x !== n.name);
    this.save();
  }

  // ---- configuration and workloads ---------------------------------------------------------------

  /** Creates or replaces an ironlb.io object (IPPool cluster-scoped, the others in ironlb-system). */
  async apply(kind: KindName, name: string, spec: unknown, labels?: Record<string, string>): Promise<void> {
    const cluster = kind === 'IPPool';
    const body = { apiVersion: API_VERSION, kind, metadata: { name, ...(cluster ? {} : { namespace: DEFAULT_NAMESPACE }), ...(labels ? { labels } : {}) }, spec };
    const base = { group: GROUP, version: VERSION, plural: plural(kind) };
    try {
      const cur = (cluster ? await this.custom.getClusterCustomObject({ ...base, name }) : await this.custom.getNamespacedCustomObject({ ...base, namespace: DEFAULT_NAMESPACE, name })) as { metadata: { resourceVersion: string } };
      const b = { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata.resourceVersion } };
      if (cluster) await this.custom.replaceClusterCustomObject({ ...base, name, body: b });
      else await this.custom.replaceNamespacedCustomObject({ ...base, namespace: DEFAULT_NAMESPACE, name, body: b });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      if (cluster) await this.custom.createClusterCustomObject({ ...base, body });
      else await this.custom.createNamespacedCustomObject({ ...base, namespace: DEFAULT_NAMESPACE, body });
    }
  }

  async remove(kind: KindName, name: string): Promise<void> {
    const base = { group: GROUP, version: VERSION, plural: plural(kind), name };
    if (kind === 'IPPool') await this.custom.deleteClusterCustomObject(base);
    else await this.custom.deleteNamespacedCustomObject({ ...base, namespace: DEFAULT_NAMESPACE });
  }

  /** The example configuration: an L2 pool and advertisement, a BGP pool, peers (v4, v6) and advertisement. */
  async applyConfig(): Promise<void> {
    const p = this.plan;
    if (p.unnumbered) return applyUnnumberedConfig(this);
    // kube-vip takes its configuration from its flags (kubeVipArgs): one engine per process.
    if (this.implementation === 'kube-vip') return;
    if (this.implementation === 'metallb') {
      // The same pools and router in MetalLB's CRDs. Its native BGP speaks IPv4 only (it refuses the
      // whole configuration if a BGP-advertised pool holds IPv6) and has no BFD, so: one peer (v4), an
      // IPv4-only BGP pool, no BFD profile; it also refuses connectTime in native mode.
      const objs = metallbObjects({
        pools: [{ name: 'lab-l2', addresses: [p.l2Pool4, p.l2Pool6] }, { name: 'lab-bgp', addresses: [p.bgpPool4] }],
        l2: [{ name: 'lab-l2', pools: ['lab-l2'] }],
        bgp: [{ name: 'lab-bgp', pools: ['lab-bgp'] }],
        peers: [{ name: 'router', myASN: p.asn, peerASN: p.routerAsn, peerAddress: p.router4, holdTime: `${this.state.holdTime}s` }],
      });
      await kubectl(this.dir, ['apply', '--server-side', '--force-conflicts', '-f', '-'], objs.map((o) => JSON.stringify(o)).join('\n'));
      return;
    }
    if (this.implementation === 'metallb-frr') {
      // FRR mode has what native lacks: IPv6 sessions and pools, BFD, connectTime. So the same
      // configuration as ironlb's: dual-stack pools, a peer per family, the same BFD profile.
      const bfd = this.state.bfd ? { bfdProfile: 'lab-fast' } : {};
      const peer = (name: string, addr: string) => ({ name, myASN: p.asn, peerASN: p.routerAsn, peerAddress: addr, holdTime: `${this.state.holdTime}s`, connectTime: '1s', ...bfd });
      const objs = metallbObjects({
        pools: [{ name: 'lab-l2', addresses: [p.l2Pool4, p.l2Pool6] }, { name: 'lab-bgp', addresses: [p.bgpPool4, p.bgpPool6] }],
        l2: [{ name: 'lab-l2', pools: ['lab-l2'] }],
        bgp: [{ name: 'lab-bgp', pools: ['lab-bgp'] }],
        peers: [peer('router', p.router4), peer('router-v6', p.router6)],
        bfdProfiles: this.state.bfd ? [{ name: 'lab-fast', receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 }] : [],
      });
      await kubectl(this.dir, ['apply', '--server-side', '--force-conflicts', '-f', '-'], objs.map((o) => JSON.stringify(o)).join('\n'));
      return;
    }
    await this.apply('IPPool', 'lab-l2', { addresses: [p.l2Pool4, p.l2Pool6] });
    await this.apply('IPPool', 'lab-bgp', { addresses: [p.bgpPool4, p.bgpPool6] });
    await this.apply('L2Advertisement', 'lab-l2', { pools: ['lab-l2'] });
    if (this.state.bfd) await this.apply('BFDProfile', 'lab-fast', { receiveInterval: 100, transmitInterval: 100, detectMultiplier: 3 });
    const peer = (addr: string) => ({ myASN: p.asn, peerASN: p.routerAsn, peerAddress: addr, holdTime: `${this.state.holdTime}s`, connectTime: '1s', ...(this.state.bfd ? { bfdProfile: 'lab-fast' } : {}) });
    // The webhook checks references against its caches, which may not hold the BFDProfile created
    // a moment ago: a refusal naming it is retried (bounded), any other error is not.
    const applyPeer = async (name: string, addr: string): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.apply('BGPPeer', name, peer(addr));
        } catch (err) {
          const refusedRef = /names no BFDProfile/.test(String((err as { body?: unknown }).body ?? ''));
          if (!refusedRef || attempt >= 40) throw err;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    };
    await applyPeer('router', p.router4);
    await applyPeer('router-v6', p.router6);
    await this.apply('BGPAdvertisement', 'lab-bgp', { pools: ['lab-bgp'] });
  }

  /** The example Services: hello-l2 (dual stack, Layer 2), hello-bgp (BGP, ECMP), hello-local (BGP, ETP Local on the last node). */
  async applyExample(): Promise<void> {
    await this.applyConfig();
    const last = this.plan.nodes[this.plan.nodes.length - 1]!.name;
    await this.service('hello-l2', { pool: 'lab-l2', dualStack: true });
    await this.service('hello-bgp', { pool: 'lab-bgp' });
    await this.service('hello-local', { pool: 'lab-bgp', etp: 'Local', endpointNodes: [last] });
  }

  /** Creates a Service of type LoadBalancer and its backend Pods (the node's backend process answers for them). */
  async service(name: string, o: ServiceOptions = {}): Promise<V1Service> {
    const namespace = o.namespace ?? 'default';
    const ann = serviceAnnotations(this.implementation, o);
    if (this.implementation === 'kube-vip') ann[KUBE_VIP_IPS] = o.ips?.join(',') ?? (await this.kubeVipAddresses(o));
    const port = o.port ?? this.plan.appPort;
    const svc = await this.core.createNamespacedService({
      namespace,
      body: {
        metadata: { name, namespace, annotations: ann, ...(o.labels ? { labels: o.labels } : {}) },
        spec: {
          type: 'LoadBalancer',
          ports: [{ name: 'http', port, targetPort: this.plan.appPort, protocol: 'TCP' }],
          selector: { app: name },
          externalTrafficPolicy: o.etp ?? 'Cluster',
          ...(this.implementation === 'kube-vip' ? { loadBalancerClass: KUBE_VIP_CLASS[engineOfPool(o.pool)] } : {}),
          ...(o.dualStack ? { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'] } : o.family ? { ipFamilyPolicy: 'SingleStack', ipFamilies: [o.family] } : {}),
        },
      },
    });
    await this.endpoints(name, o.endpointNodes ?? this.plan.nodes.map((n) => n.name), namespace);
    return svc;
  }

  /**
   * The Service's backends: one Pod on each named node, made as the scheduler and that node's
   * kubelet would (bound to the node, host network, Running and Ready with the node's address);
   * kube-controller-manager's EndpointSlice controller turns them into the Service's EndpointSlices.
   * Pods on other nodes are removed (force: no kubelet is there to confirm).
   */
  async endpoints(service: string, nodes: string[], namespace = 'default'): Promise<void> {
    const label = `lab.ironlb.io/service=${service}`;
    const want = new Set(nodes);
    for (const p of (await this.core.listNamespacedPod({ namespace, labelSelector: label })).items) {
      if (!want.has(p.spec?.nodeName ?? '')) await this.core.deleteNamespacedPod({ name: p.metadata?.name ?? '', namespace, gracePeriodSeconds: 0 }).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
    }
    for (const n of nodes) {
      const node = this.node(n);
      const name = `${service}-${node.name}`;
      let pod = await this.core.readNamespacedPod({ name, namespace }).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
      pod ??= await this.core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name, namespace, labels: { app: service, 'lab.ironlb.io/service': service } },
          spec: { nodeName: node.name, hostNetwork: true, containers: [{ name: 'backend', image: 'lab.ironlb.io/backend:local', ports: [{ name: 'http', containerPort: this.plan.appPort }] }] },
        },
      });
      if (pod.status?.podIP === node.ipv4 && pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) continue;
      const now = new Date();
      const cond = (type: string) => ({ type, status: 'True', lastTransitionTime: now });
      await this.core.replaceNamespacedPodStatus({
        name,
        namespace,
        body: {
          ...pod,
          status: {
            phase: 'Running',
            // Host network on a dual-stack node: the kubelet reports both of the node's addresses, so
            // IPv6-only Services get endpoints too.
            hostIP: node.ipv4,
            hostIPs: [{ ip: node.ipv4 }, { ip: node.ipv6 }],
            podIP: node.ipv4,
            podIPs: [{ ip: node.ipv4 }, { ip: node.ipv6 }],
            startTime: now,
            conditions: [cond('PodScheduled'), cond('Initialized'), cond('ContainersReady'), cond('Ready')],
            containerStatuses: [{ name: 'backend', ready: true, restartCount: 0, image: 'lab.ironlb.io/backend:local', imageID: '', started: true, state: { running: { startedAt: now } } }],
          },
        },
      });
    }
  }

  async deleteService(name: string, namespace = 'default'): Promise<void> {
    await this.core.deleteNamespacedService({ name, namespace });
    await this.core.deleteCollectionNamespacedPod({ namespace, labelSelector: `lab.ironlb.io/service=${name}`, gracePeriodSeconds: 0 }).catch(() => undefined);
  }

  /** The Service's ingress addresses (empty while pending). */
  async addresses(name: string, namespace = 'default'): Promise<string[]> {
    const s = await this.core.readNamespacedService({ name, namespace });
    return (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter(Boolean);
  }

  /** Waits until the Service has `count` addresses; returns them. */
  async waitAddresses(name: string, count = 1, timeoutMs = 30_000, namespace = 'default'): Promise<string[]> {
    return until(`${count} address(es) on Service ${namespace}/${name}`, timeoutMs, async () => {
      const a = await this.addresses(name, namespace);
      return a.length === count ? a : undefined;
    }, 200);
  }

  /** Who announces the Service (its ServiceAnnouncement status). */
  async announcements(name: string, namespace = 'default'): Promise<Array<{ node: string; mode: string; address?: string; interfaces?: string[]; peers?: string[] }>> {
    if (isMetalLB(this.implementation)) return this.metallbAnnouncements(name, namespace);
    if (this.implementation === 'kube-vip') return this.kubeVipAnnouncements(name, namespace);
    try {
      const o = (await this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: KINDS.ServiceAnnouncement.plural, namespace, name })) as { status?: ServiceAnnouncementStatus };
      if (!o.status?.bgp) return o.status?.announcements ?? [];
      // BGP nodes of externalTrafficPolicy Cluster are in the NodeAnnouncements: joined back per node.
      const nodes = (await this.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: KINDS.NodeAnnouncement.plural, namespace: DEFAULT_NAMESPACE })) as { items: NodeAnnouncement[] };
      return expandAnnouncements(o.status, nodes.items.map((n) => n.status));
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
  }

  /**
   * kube-vip keeps no status object: the ARP engine's leader names itself in the Service's
   * kube-vip.io/vipHost annotation; the BGP engine announces from every node whose engine runs.
   */
  private async kubeVipAnnouncements(name: string, namespace: string): Promise<Array<{ node: string; mode: string }>> {
    const s = await this.core.readNamespacedService({ name, namespace }).catch((err: unknown) => (isNotFound(err) ? undefined : Promise.reject(err)));
    if (!s?.status?.loadBalancer?.ingress?.length) return [];
    if (s.spec?.loadBalancerClass === KUBE_VIP_CLASS.bgp) return this.plan.nodes.filter((n) => alive(this.state.pids[`${n.name}-speaker-bgp`] ?? 0) && !this.state.cut.includes(n.name)).map((n) => ({ node: n.name, mode: 'bgp' }));
    const host = s.metadata?.annotations?.[KUBE_VIP_HOST];
    return host ? [{ node: host, mode: 'layer2' }] : [];
  }

  /** MetalLB's own statuses: ServiceL2Status (the announcing node) and ServiceBGPStatus (per node, its peers). */
  private async metallbAnnouncements(name: string, namespace: string): Promise<Array<{ node: string; mode: string; interfaces?: string[]; peers?: string[] }>> {
    const sel = `metallb.io/service-name=${name},metallb.io/service-namespace=${namespace}`;
    type St = { items: Array<{ status?: { node?: string; interfaces?: Array<{ name: string }>; peers?: string[] } }> };
    const list = (plural: string) => this.custom.listNamespacedCustomObject({ group: METALLB_GROUP, version: 'v1beta1', namespace: METALLB_NS, plural, labelSelector: sel }) as Promise<St>;
    const [l2, bgp] = await Promise.all([list('servicel2statuses'), list('servicebgpstatuses')]);
    return [
      ...l2.items.filter((x) => x.status?.node).map((x) => ({ node: x.status?.node ?? '', mode: 'layer2', interfaces: (x.status?.interfaces ?? []).map((i) => i.name) })),
      ...bgp.items.filter((x) => x.status?.node).map((x) => ({ node: x.status?.node ?? '', mode: 'bgp', peers: x.status?.peers ?? [] })),
    ];
  }

  // ---- observing -----------------------------------------------------------------------------------

  /** The router's kernel routes installed by its BGP daemon: prefix → next hops (ECMP). */
  async routes(): Promise<KernelRoute[]> {
    const [v4, v6] = await Promise.all([nsIp(this.plan.routerNs, '-j', '-4', 'route', 'show'), nsIp(this.plan.routerNs, '-j', '-6', 'route', 'show')]);
    return [...parseKernelRoutes(v4), ...parseKernelRoutes(v6)];
  }

  /** Next hops of one prefix at the router, mapped to node names ([] when absent). */
  async routeNodes(prefix: string): Promise<string[]> {
    const r = (await this.routes()).find((x) => x.prefix === prefix);
    return (r?.nextHops ?? []).map((h) => this.plan.nodes.find((n) => n.ipv4 === h || n.ipv6 === h || (n.link !== undefined && h.endsWith(`%${n.link}`)))?.name ?? h).sort();
  }

  /** The router's BGP sessions. */
  async sessions(): Promise<SessionRow[]> {
    if (this.state.router === 'bird') return parseBirdProtocols(await sh('birdc', ['-s', join(this.dir, 'bird.ctl'), 'show', 'protocols'], 5000));
    const out = await nsExec(this.plan.routerNs, 'vtysh', ['--vty_socket', join(this.dir, 'frr'), '-c', 'show bgp summary json'], 10_000);
    const j = JSON.parse(out) as Record<string, { peers?: Record<string, { state?: string }> }>;
    const rows: SessionRow[] = [];
    for (const af of Object.values(j)) for (const [peer, v] of Object.entries(af.peers ?? {})) rows.push({ name: peer, state: v.state ?? '' });
    return rows;
  }

  /** Requests from a client namespace ("lan" on the nodes' segment, "ext" behind the router). */
  async requests(from: 'lan' | 'ext', urls: string[], count: number, o: { intervalMs?: number; timeoutMs?: number } = {}): Promise<ProbeResult[]> {
    const ns = from === 'lan' ? this.plan.clientNs : this.plan.extClientNs;
    const out = await nsExec(ns, process.execPath, [AGENT('probe.ts'), ...urls.flatMap((u) => ['--url', u]), '--count', String(count), '--interval', String(o.intervalMs ?? 0), '--timeout', String(o.timeoutMs ?? 1000), '--max-ms', '60000'], 90_000);
    return out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as ProbeResult);
  }

  /**
   * A probe running in the background (for failover measurements): a request every intervalMs,
   * results appended as they come. Ends by itself after maxMs; stop() ends it sooner.
   */
  probe(from: 'lan' | 'ext', url: string, o: { intervalMs?: number; timeoutMs?: number; maxMs?: number } = {}): { results: ProbeResult[]; stop: () => void } {
    const ns = from === 'lan' ? this.plan.clientNs : this.plan.extClientNs;
    const maxMs = o.maxMs ?? 60_000;
    const proc = spawn('ip', ['netns', 'exec', ns, process.execPath, AGENT('probe.ts'), '--url', url, '--count', '1000000', '--interval', String(o.intervalMs ?? 20), '--timeout', String(o.timeoutMs ?? 300), '--max-ms', String(maxMs)], { stdio: ['ignore', 'pipe', 'ignore'] });
    const results: ProbeResult[] = [];
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      try {
        results.push(JSON.parse(l) as ProbeResult);
      } catch { /* a partial line at exit */ }
    });
    return { results, stop: () => proc.kill('SIGKILL') };
  }

  /** Node names whose MAC answers ARP (IPv4) or NDP (IPv6) for ip, asked from the LAN client. */
  async neighOwners(ip: string): Promise<string[]> {
    let out = '';
    try {
      out = ip.includes(':')
        ? await nsExec(this.plan.clientNs, 'ndisc6', ['-m', '-n', '-r', '2', '-w', '300', ip, 'eth0'], 5000)
        : await nsExec(this.plan.clientNs, 'arping', ['-i', 'eth0', '-c', '2', '-W', '0.1', '-w', '0.3', ip], 5000);
    } catch (err) {
      out = err instanceof Error ? err.message : String(err);
    }
    const macs = new Set<string>();
    for (const m of out.matchAll(/([0-9a-f]{2}(?::[0-9a-f]{2}){5})/gi)) macs.add((m[1] as string).toLowerCase());
    const own = new Set(Object.values(this.state.macs));
    return [...macs].filter((m) => own.has(m)).map((m) => Object.entries(this.state.macs).find(([, v]) => v === m)?.[0] ?? m).sort();
  }

  /** Which daemons are alive. */
  daemons(): Record<string, boolean> {
    const out: Record<string, boolean> = {};
    for (const [k, pid] of Object.entries(this.state.pids)) out[k] = alive(pid);
    return out;
  }

  // ---- teardown ------------------------------------------------------------------------------------

  /**
   * Removes a lab: every process whose command line names the state folder, every namespace with
   * the prefix (and what runs in it), and the folder. Works without state (after a crash).
   * Returns what was removed.
   */
  static async down(dir = DEFAULT_DIR, prefix = DEFAULT_PREFIX): Promise<string[]> {
    const removed: string[] = [];
    const marker = `${dir}/`;
    let pids = pidsWith(marker);
    try {
      const st = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as LabState;
      for (const p of Object.values(st.pids)) if (alive(p) && !pids.includes(p) && pidsWith(marker).includes(p)) pids.push(p);
    } catch { /* no state: the scan above is what there is */ }
    for (const p of pids) signal(p, 'SIGKILL');
    await waitGone(pids, 5000);
    if (pids.length) removed.push(`${pids.length} processes`);
    let names: string[] = [];
    try {
      names = (await sh('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`${prefix}-`));
    } catch { /* no namespaces */ }
    for (const n of names) {
      try {
        const inside = (await sh('ip', ['netns', 'pids', n])).split('\n').filter(Boolean).map(Number);
        for (const p of inside) signal(p, 'SIGKILL');
        await waitGone(inside, 3000);
      } catch { /* already gone */ }
      try {
        await sh('ip', ['netns', 'del', n]);
        removed.push(n);
      } catch { /* already gone */ }
    }
    if (existsSync(dir)) {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    }
    return removed;
  }

  /** Tears this lab down (the e2e tests' `finally`). */
  async destroy(): Promise<string[]> {
    return Lab.down(this.dir, this.plan.prefix);
  }
}
