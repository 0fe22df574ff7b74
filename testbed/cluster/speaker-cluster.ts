// A cluster of `ironlb speaker` processes as children of a test or a benchmark, built from a
// topology (testbed/cluster/topology.ts): a real control plane (etcd + kube-apiserver, ironlb
// installed by helm; speakers authenticate as the chart's speaker ServiceAccount), N nodes each in
// its own network namespace on one bridge, router namespaces (with a routing daemon the caller's
// driver starts, or bare) and a client namespace on the same bridge. Nodes, Services, endpoints,
// configuration, owner probes and clients are the harness's shared pieces (objects.ts,
// workloads.ts, owners.ts, clients.ts, child.ts). No interface is created in the root namespace:
// speakers reach the API server through a Unix socket (speaker-child.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { DiscoveryV1Api, type V1Service } from '@kubernetes/client-node';
import { DEFAULT_NAMESPACE } from '../../src/api/index.ts';
import { Netns, bridge } from './netns.ts';
import { componentClients, startTestApiServer, type TestApiServer } from './apiserver.ts';
import { ChildLog, isRunning, killChild, metricValue } from './child.ts';
import { applyObject, readAnnouncement, registerNode, removeObject, setNodeLabels, setNodeStatus, type AnnouncementStatus } from './objects.ts';
import { createService, endpointSlice } from './workloads.ts';
import { neighbourMacs, nodesOfMacs, settledOwner, waitOwners } from './owners.ts';
import { tcpClient, type ClientResult } from './clients.ts';
import { SPEAKER_CHILD } from './speaker-child.ts';
import type { Topology } from './topology.ts';

export const NS = DEFAULT_NAMESPACE;
export const SECRET_NAME = 'ironlb-membership';
export const METRICS_PORT = 7473;
export const APP_PORT = 8080;

export class SpeakerNode {
  readonly name: string;
  readonly ns: Netns;
  readonly address: string;
  mac = '';
  proc: ChildProcess | undefined;
  exits = 0;
  private readonly out: ChildLog;
  private app: ChildProcess | undefined;

  constructor(name: string, ns: Netns, address: string) {
    this.name = name;
    this.ns = ns;
    this.address = address;
    this.out = new ChildLog(name);
  }

  /** The speaker's log lines (the last 400 or so). */
  get log(): string[] {
    return this.out.lines;
  }

  get running(): boolean {
    return isRunning(this.proc);
  }

  /** Last log lines of the speaker, for failure messages. */
  tail(n = 30): string {
    return this.out.tail(n);
  }

  /** Waits until the speaker logged a line matching `re` (e.g. /membership running/). */
  waitLog(re: RegExp, timeoutMs = 60_000, from = 0): Promise<string> {
    return this.out.waitLog(re, timeoutMs, from);
  }

  /** The log time (ms) of the first line at or after `from` matching `re` (pino's "time" field). */
  logTime(re: RegExp, from = 0): number | undefined {
    return this.out.logTime(re, from);
  }

  /** Kills the speaker at once (SIGKILL: no goodbye); resolves when it is gone, with the kill time. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number> {
    return killChild(this.proc, signal);
  }

  /** Follows a (re)started speaker process. */
  attach(proc: ChildProcess): void {
    this.proc = proc;
    this.out.follow(proc);
    proc.once('exit', () => this.exits++);
  }

  /** A TCP server on every address of the node that answers each connection with the node's name. */
  startApp(): void {
    const code = `require('net').createServer((s)=>{s.on('error',()=>{});s.end(${JSON.stringify(this.name)}+'\\n')}).listen(${APP_PORT},'0.0.0.0');setTimeout(()=>process.exit(0),600000)`;
    this.app = this.ns.spawn(process.execPath, ['-e', code]);
  }

  async metrics(): Promise<string> {
    return this.ns.exec('curl', ['-s', '--max-time', '2', `http://127.0.0.1:${METRICS_PORT}/metrics`]);
  }

  /** Value of one metric sample (first line matching name and label text), or undefined. */
  async metric(name: string, labels = ''): Promise<number | undefined> {
    return metricValue(await this.metrics(), name, labels);
  }
}

export interface ClusterOptions {
  /** Namespace prefix ("ilbs" for the speaker's tests). */
  prefix: string;
  nodes: number;
  /** Second octet of the IPv4 LAN 10.<net>.0.0/24 (nodes .1.., routers .254 down, client .200). */
  net: number;
  /** BIRD routers on the LAN (iBGP, AS routerAsn), each peering with every node. */
  routers?: number;
  routerAsn?: number;
  speakerAsn?: number;
  /** Router namespaces on the LAN without a daemon (the test starts its own), after `routers`. */
  bareRouters?: number;
  /** BIRD neighbours with graceful restart on. */
  routerGracefulRestart?: boolean;
  client?: boolean;
  /** Per node labels. */
  labels?: Array<Record<string, string>>;
  /** Chart values for the helm install (e.g. more Secrets the speakers may read). */
  values?: Record<string, unknown>;
  /** Also add VIPs to each node's loopback so the app server accepts them (Layer 2 tests). */
  localVips?: string[];
  /** `ironlb speaker` flags for every speaker this cluster starts (e.g. --owner-watch). */
  speakerArgs?: string[];
}

/** The topology these options describe. */
export function speakerTopology(o: ClusterOptions): Topology {
  return {
    nodes: o.nodes,
    routers: [
      ...Array.from({ length: o.routers ?? 0 }, () => ({ kind: 'bird' as const, holdTime: 9, ...(o.routerGracefulRestart ? { gracefulRestart: true } : {}) })),
      ...Array.from({ length: o.bareRouters ?? 0 }, () => ({ kind: 'none' as const })),
    ],
    clients: o.client ? ['lan'] : [],
    implementation: 'ironlb',
    ...(o.labels ? { labels: o.labels } : {}),
  };
}

/** What a router namespace's daemon is configured with (the caller's driver starts it). */
export interface RouterStart {
  asn: number;
  routerId: string;
  localAddress: string;
  neighbors: Array<{ address: string; asn: number; holdTime: number; gracefulRestart?: boolean }>;
}

/** Starts the routing daemon of a router namespace (test/support/speaker-cluster.ts: BIRD). */
export type RouterDriver<R> = (ns: Netns, o: RouterStart) => Promise<R>;

export class SpeakerClusterHarness<R extends { stop(): Promise<void> }> {
  api!: TestApiServer;
  readonly nodes: SpeakerNode[] = [];
  readonly routers: R[] = [];
  routerAddresses: string[] = [];
  /** Namespaces of the bare routers (option bareRouters), with their addresses. */
  readonly bareRouters: Array<{ ns: Netns; address: string }> = [];
  client: Netns | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'ilbs-'));
  readonly socket = join(this.dir, 'api.sock');
  readonly opts: ClusterOptions;
  readonly topology: Topology;
  private readonly namespaces: Netns[] = [];
  private relay: net.Server | undefined;
  private discovery!: DiscoveryV1Api;
  /** The speaker ServiceAccount's kubeconfig (bound token). */
  private speakerKubeconfig = '';

  private readonly startRouter: RouterDriver<R>;

  protected constructor(opts: ClusterOptions, startRouter: RouterDriver<R>) {
    this.opts = opts;
    this.startRouter = startRouter;
    this.topology = speakerTopology(opts);
  }

  /** Sets `c` up; on failure removes what was made and rethrows. */
  protected static async build<C extends SpeakerClusterHarness<{ stop(): Promise<void> }>>(c: C): Promise<C> {
    try {
      await c.setup();
    } catch (err) {
      await c.destroy();
      throw err;
    }
    return c;
  }

  get lan(): string {
    return `10.${this.opts.net}.0`;
  }

  private async setup(): Promise<void> {
    const o = this.opts;
    const t = this.topology;
    this.api = await startTestApiServer(o.values ? { values: o.values } : {});
    this.speakerKubeconfig = (await componentClients(this.api, 'speaker')).kubeconfigPath;
    this.discovery = this.api.kc.makeApiClient(DiscoveryV1Api);
    const target = this.api.port;
    this.relay = net.createServer((c) => {
      const u = net.connect(target, '127.0.0.1');
      c.pipe(u).pipe(c);
      c.on('error', () => u.destroy());
      u.on('error', () => c.destroy());
    });
    await new Promise<void>((r) => this.relay!.listen(this.socket, r));
    // Namespace and membership Secret (random key): from the chart's install.

    const sw = await this.ns();
    const plug = await bridge(sw);
    const host = async (port: string, address: string): Promise<Netns> => {
      const ns = await this.ns();
      await plug(ns, 'eth0', port);
      await ns.ip('addr', 'add', `${address}/24`, 'dev', 'eth0');
      return ns;
    };
    for (let i = 0; i < t.nodes; i++) {
      const address = `${this.lan}.${i + 1}`;
      const ns = await host(`p${i}`, address);
      // The app server accepts VIPs bound to lo; the kernel must not answer ARP for them itself.
      await ns.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
      for (const vip of o.localVips ?? []) await ns.ip('addr', 'add', `${vip}/32`, 'dev', 'lo');
      const node = new SpeakerNode(`n${i}`, ns, address);
      node.mac = (JSON.parse(await ns.ip('-j', 'link', 'show', 'eth0')) as Array<{ address: string }>)[0]?.address ?? '';
      this.nodes.push(node);
      await registerNode(this.api.core, node.name, [address], t.labels?.[i] ?? {});
    }
    if (t.clients.includes('lan')) this.client = await host('pc', `${this.lan}.200`);
    // Routers from .254 down: those with a daemon first, then the bare ones.
    let r = 0;
    for (const spec of t.routers) {
      const address = `${this.lan}.${254 - r}`;
      const ns = await host(spec.kind === 'none' ? `pb${r - (o.routers ?? 0)}` : `pr${r}`, address);
      r++;
      if (spec.kind === 'none') {
        this.bareRouters.push({ ns, address });
        continue;
      }
      this.routerAddresses.push(address);
      this.routers.push(await this.startRouter(ns, {
        asn: o.routerAsn ?? 64512,
        routerId: address,
        localAddress: address,
        neighbors: this.nodes.map((n) => ({ address: n.address, asn: o.speakerAsn ?? 64512, holdTime: spec.holdTime ?? 9, ...(spec.gracefulRestart ? { gracefulRestart: true } : {}) })),
      }));
    }
  }

  private async ns(): Promise<Netns> {
    const n = await Netns.create(this.opts.prefix);
    this.namespaces.push(n);
    return n;
  }

  private nodeNamed(name: string): SpeakerNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}: nodes are ${this.nodes.map((n) => n.name).join(', ')}`);
    return node;
  }

  /** Node status: InternalIP, Ready, and NetworkUnavailable when asked. */
  async setNodeStatus(name: string, o: { networkUnavailable?: boolean }): Promise<void> {
    await setNodeStatus(this.api.core, name, [this.nodeNamed(name).address], o);
  }

  async setNodeLabels(name: string, labels: Record<string, string | null>): Promise<void> {
    await setNodeLabels(this.api.core, name, labels);
  }

  /** Starts (or restarts) the speaker of node i. */
  startSpeaker(i: number, extra: string[] = []): SpeakerNode {
    const node = this.nodes[i];
    if (!node) throw new Error(`no node ${i}`);
    const args = [SPEAKER_CHILD, '--api-socket', this.socket, '--kubeconfig', this.speakerKubeconfig, '--dir', this.dir, '--', '--node-name', node.name, '--namespace', NS, '--metrics-port', String(METRICS_PORT), '--interfaces', 'eth0', ...(this.opts.speakerArgs ?? []), ...extra];
    node.attach(node.ns.spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, IRONLB_LOG_LEVEL: process.env.IRONLB_LOG_LEVEL ?? 'info' } }));
    return node;
  }

  // ---- configuration and workloads ---------------------------------------------------------------

  /** Creates or replaces an ironlb.io object (IPPool cluster-scoped, others in NS). */
  async apply(kind: string, name: string, spec: unknown, labels?: Record<string, string>): Promise<void> {
    await applyObject(this.api.custom, kind, name, spec, labels);
  }

  async remove(kind: string, name: string): Promise<void> {
    await removeObject(this.api.custom, kind, name);
  }

  /** A LoadBalancer Service holding `ips` (as the controller would have written), with endpoints on `endpointNodes`. */
  async service(name: string, ips: string[], o: { etp?: 'Local' | 'Cluster'; endpointNodes?: string[]; labels?: Record<string, string> } = {}): Promise<V1Service> {
    const svc = await createService(this.api.core, name, 'default', { port: APP_PORT, ips, ...(o.etp ? { etp: o.etp } : {}), ...(o.labels ? { labels: o.labels } : {}) });
    await this.endpoints(name, o.endpointNodes ?? this.nodes.map((n) => n.name));
    return svc;
  }

  /** Replaces the Service's EndpointSlice: one ready endpoint on each named node. */
  async endpoints(service: string, nodes: string[]): Promise<void> {
    await endpointSlice(this.discovery, service, nodes, { namespace: 'default', port: APP_PORT });
  }

  /** The Service's ServiceAnnouncement status (undefined: none yet). */
  async announcement(service: string): Promise<AnnouncementStatus | undefined> {
    return readAnnouncement(this.api.custom, service);
  }

  // ---- probes from the client namespace ----------------------------------------------------------

  private clientNs(): Netns {
    if (!this.client) throw new Error('cluster has no client namespace: create it with client: true');
    return this.client;
  }

  /** MACs that answer an ARP request for `ip` from the client (each once), within `waitMs`. */
  async arp(ip: string, waitMs = 300): Promise<string[]> {
    return neighbourMacs(this.clientNs(), ip, waitMs);
  }

  /** Node names whose MAC answers ARP for `ip`. */
  async arpOwners(ip: string, waitMs = 300): Promise<string[]> {
    return nodesOfMacs(await this.arp(ip, waitMs), Object.fromEntries(this.nodes.map((n) => [n.name, n.mac])));
  }

  /** The node that Service `svc`'s status names as Layer 2 owner of `ip` once ARP agrees (only it answers). */
  async settledL2Owner(svc: string, ip: string, timeoutMs = 60_000, stableMs = 0): Promise<SpeakerNode> {
    const status = async (): Promise<string | undefined> => (await this.announcement(svc))?.announcements?.find((a) => a.mode === 'layer2')?.node;
    return this.nodeNamed(await settledOwner(ip, status, () => this.arpOwners(ip), { timeoutMs, stableMs }));
  }

  /** Waits until exactly the given nodes answer ARP for ip (none: nobody answers). */
  async waitArpOwners(ip: string, want: string[], timeoutMs = 10_000): Promise<void> {
    await waitOwners(ip, () => this.arpOwners(ip), want, timeoutMs);
  }

  /**
   * A TCP client in the client namespace connecting to ip:APP_PORT every intervalMs (timeout connectTimeoutMs),
   * recording which node answered. Stop it with the returned function; it ends by itself after maxMs.
   */
  tcpClient(ip: string, intervalMs = 50, maxMs = 60_000, connectTimeoutMs = 150): { results: ClientResult[]; stop: () => void } {
    return tcpClient(this.clientNs(), ip, APP_PORT, { intervalMs, maxMs, connectTimeoutMs });
  }

  async destroy(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.kill().catch(() => 0)));
    await Promise.all(this.routers.map((r) => r.stop().catch(() => {})));
    await Promise.all(this.namespaces.map((n) => n.destroy()));
    await new Promise<void>((r) => (this.relay ? this.relay.close(() => r()) : r()));
    await this.api?.close().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }
}
