// A cluster of `ironlb speaker` processes for tests, benchmarks and the lab: a real control plane
// (etcd + kube-apiserver, ironlb installed by helm; speakers authenticate as the chart's speaker
// ServiceAccount), N nodes each in its own network namespace on one bridge, optional BIRD
// routers and a client namespace on the same bridge, and helpers to seed Nodes, Services,
// EndpointSlices and configuration.
//
// The API server listens on loopback in the test's namespace; speakers in other namespaces reach it
// through a Unix socket (the filesystem is shared, loopback is not): the root side forwards the
// socket to the server, and each speaker child (this file run as a program) relays a loopback TCP
// port in its namespace to the socket. No interface is created in the root namespace.
//
// Child mode: node test/support/speaker-cluster.ts --api-socket PATH --kubeconfig PATH --dir DIR -- <speaker args>
//   (the kubeconfig's server is replaced by the relay's loopback address; TLS passes through)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { DiscoveryV1Api, type V1Service } from '@kubernetes/client-node';
import { API_VERSION, DEFAULT_NAMESPACE, expandAnnouncements, type NodeAnnouncementStatus, type ServiceAnnouncementStatus } from '../../src/api/index.ts';
import { isNotFound } from '../../src/k8s/index.ts';
import { relayToUnixSocket } from '../../testbed/lab/relay.ts';
import { kubeconfigWithServer } from '../../testbed/controlplane.ts';
import { Netns, bridge } from './netns.ts';
import { componentClients, startTestApiServer, type TestApiServer } from './apiserver.ts';
import { waitFor } from './wait.ts';
import { Bird } from './peers/bird.ts';

const SELF = fileURLToPath(import.meta.url);
export const NS = DEFAULT_NAMESPACE;
export const SECRET_NAME = 'ironlb-membership';
export const METRICS_PORT = 7473;
export const APP_PORT = 8080;
const GROUP = 'ironlb.io';
const VERSION = 'v1alpha1';

// ---- child mode ---------------------------------------------------------------------------------


async function runChild(argv: string[]): Promise<void> {
  const sep = argv.indexOf('--');
  const own = argv.slice(0, sep);
  const speakerArgs = argv.slice(sep + 1);
  const opt = (k: string): string => {
    const i = own.indexOf(k);
    if (i < 0 || own[i + 1] === undefined) throw new Error(`speaker child: ${k} is required`);
    return own[i + 1] as string;
  };
  const socket = opt('--api-socket');
  const dir = opt('--dir');
  const port = await relayToUnixSocket(socket);
  const kubeconfig = join(dir, `kubeconfig-${process.pid}`);
  writeFileSync(kubeconfig, kubeconfigWithServer(readFileSync(opt('--kubeconfig'), 'utf8'), `https://127.0.0.1:${port}`));
  // Only the speaker's subcommand: loading every other one costs seconds on a busy machine.
  const { Command } = await import('commander');
  const { registerSpeaker } = await import('../../src/cli/speaker.ts');
  const program = new Command('ironlb');
  registerSpeaker(program);
  await program.parseAsync([process.execPath, 'ironlb', 'speaker', '--kubeconfig', kubeconfig, ...speakerArgs]);
}

if (process.argv[1] === SELF) {
  runChild(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`speaker child failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(2);
  });
}

// ---- harness ------------------------------------------------------------------------------------

export interface SpeakerNodeOptions {
  labels?: Record<string, string>;
}

export class SpeakerNode {
  readonly name: string;
  readonly ns: Netns;
  readonly address: string;
  mac = '';
  proc: ChildProcess | undefined;
  log: string[] = [];
  exits = 0;
  private app: ChildProcess | undefined;

  constructor(name: string, ns: Netns, address: string) {
    this.name = name;
    this.ns = ns;
    this.address = address;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Last log lines of the speaker, for failure messages. */
  tail(n = 30): string {
    return this.log.slice(-n).join('\n');
  }

  /** Waits until the speaker logged a line matching `re` (e.g. /membership running/). */
  async waitLog(re: RegExp, timeoutMs = 60_000, from = 0): Promise<string> {
    return waitFor(() => this.log.slice(from).find((l) => re.test(l)), { what: `${this.name} to log ${re}`, timeoutMs, intervalMs: 100 }).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.tail()}`);
    });
  }

  /** The log time (ms) of the first line at or after `from` matching `re` (pino's "time" field). */
  logTime(re: RegExp, from = 0): number | undefined {
    const line = this.log.slice(from).find((l) => re.test(l));
    const m = line ? /"time":(\d+)/.exec(line) : null;
    return m ? Number(m[1]) : undefined;
  }

  /** Kills the speaker at once (SIGKILL: no goodbye); resolves when it is gone, with the kill time. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number> {
    const p = this.proc;
    const t = Date.now();
    if (p && this.running) {
      const gone = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill(signal);
      await Promise.race([gone, new Promise((r) => setTimeout(r, 15_000))]);
      if (this.running) p.kill('SIGKILL');
    }
    return t;
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
    const text = await this.metrics();
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const rest = line.slice(name.length);
      if (labels ? rest.startsWith(`{${labels}}`) : rest.startsWith(' ')) return Number(rest.slice(rest.lastIndexOf(' ') + 1));
    }
    return undefined;
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

export class SpeakerCluster {
  api!: TestApiServer;
  readonly nodes: SpeakerNode[] = [];
  readonly routers: Bird[] = [];
  routerAddresses: string[] = [];
  /** Namespaces of the bare routers (option bareRouters), with their addresses. */
  readonly bareRouters: Array<{ ns: Netns; address: string }> = [];
  client: Netns | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'ilbs-'));
  readonly socket = join(this.dir, 'api.sock');
  readonly opts: ClusterOptions;
  private readonly namespaces: Netns[] = [];
  private relay: net.Server | undefined;
  private discovery!: DiscoveryV1Api;
  /** The speaker ServiceAccount's kubeconfig (bound token). */
  private speakerKubeconfig = '';

  private constructor(opts: ClusterOptions) {
    this.opts = opts;
  }

  static async create(opts: ClusterOptions): Promise<SpeakerCluster> {
    const c = new SpeakerCluster(opts);
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
    for (let i = 0; i < o.nodes; i++) {
      const ns = await this.ns();
      await plug(ns, 'eth0', `p${i}`);
      const address = `${this.lan}.${i + 1}`;
      await ns.ip('addr', 'add', `${address}/24`, 'dev', 'eth0');
      // The app server accepts VIPs bound to lo; the kernel must not answer ARP for them itself.
      await ns.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2']);
      for (const vip of o.localVips ?? []) await ns.ip('addr', 'add', `${vip}/32`, 'dev', 'lo');
      const node = new SpeakerNode(`n${i}`, ns, address);
      node.mac = JSON.parse(await ns.ip('-j', 'link', 'show', 'eth0'))[0].address as string;
      this.nodes.push(node);
      await this.createNode(node, o.labels?.[i] ?? {});
    }
    if (o.client) {
      this.client = await this.ns();
      await plug(this.client, 'eth0', 'pc');
      await this.client.ip('addr', 'add', `${this.lan}.200/24`, 'dev', 'eth0');
    }
    for (let r = 0; r < (o.routers ?? 0); r++) {
      const ns = await this.ns();
      await plug(ns, 'eth0', `pr${r}`);
      const address = `${this.lan}.${254 - r}`;
      await ns.ip('addr', 'add', `${address}/24`, 'dev', 'eth0');
      this.routerAddresses.push(address);
      const asn = o.routerAsn ?? 64512;
      this.routers.push(
        await Bird.start(ns, {
          asn,
          routerId: address,
          localAddress: address,
          neighbors: this.nodes.map((n) => ({ address: n.address, asn: o.speakerAsn ?? 64512, holdTime: 9, ...(o.routerGracefulRestart ? { gracefulRestart: true } : {}) })),
        }),
      );
    }
    await this.bare(plug);
  }

  private async bare(plug: (host: Netns, hostIf: string, portIf: string) => Promise<void>): Promise<void> {
    const first = 254 - (this.opts.routers ?? 0);
    for (let r = 0; r < (this.opts.bareRouters ?? 0); r++) {
      const ns = await this.ns();
      await plug(ns, 'eth0', `pb${r}`);
      const address = `${this.lan}.${first - r}`;
      await ns.ip('addr', 'add', `${address}/24`, 'dev', 'eth0');
      this.bareRouters.push({ ns, address });
    }
  }

  private async ns(): Promise<Netns> {
    const n = await Netns.create(this.opts.prefix);
    this.namespaces.push(n);
    return n;
  }

  private async createNode(node: SpeakerNode, labels: Record<string, string>): Promise<void> {
    const core = this.api.core;
    await core.createNode({ body: { metadata: { name: node.name, labels: { 'kubernetes.io/hostname': node.name, ...labels } } } });
    await this.setNodeStatus(node.name, {});
  }

  /** Node status: InternalIP, Ready, and NetworkUnavailable when asked. */
  async setNodeStatus(name: string, o: { networkUnavailable?: boolean }): Promise<void> {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}`);
    const core = this.api.core;
    const cur = await core.readNode({ name });
    const now = new Date();
    await core.replaceNodeStatus({
      name,
      body: {
        ...cur,
        status: {
          addresses: [{ type: 'InternalIP', address: node.address }, { type: 'Hostname', address: name }],
          conditions: [
            { type: 'Ready', status: 'True', reason: 'KubeletReady', lastHeartbeatTime: now, lastTransitionTime: now },
            { type: 'NetworkUnavailable', status: o.networkUnavailable ? 'True' : 'False', reason: 'Test', lastHeartbeatTime: now, lastTransitionTime: now },
          ],
        },
      },
    });
  }

  async setNodeLabels(name: string, labels: Record<string, string | null>): Promise<void> {
    const cur = await this.api.core.readNode({ name });
    const next: Record<string, string> = { ...(cur.metadata?.labels ?? {}) };
    for (const [k, v] of Object.entries(labels)) {
      if (v === null) delete next[k];
      else next[k] = v;
    }
    await this.api.core.replaceNode({ name, body: { ...cur, metadata: { ...cur.metadata, labels: next } } });
  }

  /** Starts (or restarts) the speaker of node i. */
  startSpeaker(i: number, extra: string[] = []): SpeakerNode {
    const node = this.nodes[i];
    if (!node) throw new Error(`no node ${i}`);
    const args = [SELF, '--api-socket', this.socket, '--kubeconfig', this.speakerKubeconfig, '--dir', this.dir, '--', '--node-name', node.name, '--namespace', NS, '--metrics-port', String(METRICS_PORT), '--interfaces', 'eth0', ...(this.opts.speakerArgs ?? []), ...extra];
    const proc = node.ns.spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, IRONLB_LOG_LEVEL: process.env.IRONLB_LOG_LEVEL ?? 'info' } });
    node.proc = proc;
    const keep = (line: string): void => {
      node.log.push(line);
      if (node.log.length > 400) node.log.splice(0, 100);
    };
    createInterface({ input: proc.stdout! }).on('line', keep);
    createInterface({ input: proc.stderr! }).on('line', keep);
    proc.once('exit', () => node.exits++);
    return node;
  }

  // ---- configuration and workloads ---------------------------------------------------------------

  /** Creates or replaces an ironlb.io object (IPPool cluster-scoped, others in NS). */
  async apply(kind: string, name: string, spec: unknown, labels?: Record<string, string>): Promise<void> {
    const plural = `${kind.toLowerCase()}${kind.endsWith('s') ? 'es' : 's'}`.replace(/ys$/, 'ies');
    const cluster = kind === 'IPPool';
    const { custom } = this.api;
    const body = { apiVersion: API_VERSION, kind, metadata: { name, ...(cluster ? {} : { namespace: NS }), ...(labels ? { labels } : {}) }, spec };
    const base = { group: GROUP, version: VERSION, plural };
    try {
      const cur = (cluster ? await custom.getClusterCustomObject({ ...base, name }) : await custom.getNamespacedCustomObject({ ...base, namespace: NS, name })) as { metadata: { resourceVersion: string } };
      const b = { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata.resourceVersion } };
      if (cluster) await custom.replaceClusterCustomObject({ ...base, name, body: b });
      else await custom.replaceNamespacedCustomObject({ ...base, namespace: NS, name, body: b });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      if (cluster) await custom.createClusterCustomObject({ ...base, body });
      else await custom.createNamespacedCustomObject({ ...base, namespace: NS, body });
    }
  }

  async remove(kind: string, name: string): Promise<void> {
    const plural = `${kind.toLowerCase()}${kind.endsWith('s') ? 'es' : 's'}`.replace(/ys$/, 'ies');
    const base = { group: GROUP, version: VERSION, plural, name };
    if (kind === 'IPPool') await this.api.custom.deleteClusterCustomObject(base);
    else await this.api.custom.deleteNamespacedCustomObject({ ...base, namespace: NS });
  }

  /** A LoadBalancer Service holding `ips` (as the controller would have written), with endpoints on `endpointNodes`. */
  async service(name: string, ips: string[], o: { etp?: 'Local' | 'Cluster'; endpointNodes?: string[]; labels?: Record<string, string> } = {}): Promise<V1Service> {
    const core = this.api.core;
    const created = await core.createNamespacedService({
      namespace: 'default',
      body: {
        metadata: { name, namespace: 'default', ...(o.labels ? { labels: o.labels } : {}) },
        spec: { type: 'LoadBalancer', ports: [{ port: APP_PORT, protocol: 'TCP' }], selector: { app: name }, externalTrafficPolicy: o.etp ?? 'Cluster' },
      },
    });
    const svc = await core.replaceNamespacedServiceStatus({ name, namespace: 'default', body: { ...created, status: { loadBalancer: { ingress: ips.map((ip) => ({ ip, ipMode: 'VIP' })) } } } });
    await this.endpoints(name, o.endpointNodes ?? this.nodes.map((n) => n.name));
    return svc;
  }

  /** Replaces the Service's EndpointSlice: one ready endpoint on each named node. */
  async endpoints(service: string, nodes: string[]): Promise<void> {
    const name = `${service}-slice`;
    const body = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      addressType: 'IPv4',
      metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': service } },
      ports: [{ port: APP_PORT, protocol: 'TCP' }],
      endpoints: nodes.map((n, i) => ({ addresses: [`10.244.${i}.10`], nodeName: n, conditions: { ready: true, serving: true, terminating: false } })),
    };
    try {
      const cur = await this.discovery.readNamespacedEndpointSlice({ name, namespace: 'default' });
      await this.discovery.replaceNamespacedEndpointSlice({ name, namespace: 'default', body: { ...body, metadata: { ...body.metadata, resourceVersion: cur.metadata?.resourceVersion } } });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.discovery.createNamespacedEndpointSlice({ namespace: 'default', body });
    }
  }

  async announcement(service: string): Promise<{ announcements?: Array<{ node: string; mode: string; address?: string; interfaces?: string[]; peers?: string[] }>; message?: string } | undefined> {
    try {
      const o = (await this.api.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: 'serviceannouncements', namespace: 'default', name: service })) as { status?: ServiceAnnouncementStatus };
      if (!o.status?.bgp) return o.status;
      // BGP nodes of externalTrafficPolicy Cluster are in the NodeAnnouncements: joined back per node.
      const nodes = (await this.api.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, plural: 'nodeannouncements', namespace: DEFAULT_NAMESPACE })) as { items: Array<{ status?: NodeAnnouncementStatus }> };
      return { ...o.status, announcements: expandAnnouncements(o.status, nodes.items.map((n) => n.status)) };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  // ---- probes from the client namespace ----------------------------------------------------------

  /** MACs that answer an ARP request for `ip` from the client (each once), within `waitMs`. */
  async arp(ip: string, waitMs = 300): Promise<string[]> {
    if (!this.client) throw new Error('cluster has no client namespace');
    let out = '';
    try {
      // Two requests 100 ms apart, then wait for late answers: every responder shows up.
      out = await this.client.exec('arping', ['-i', 'eth0', '-c', '2', '-W', '0.1', '-w', String(waitMs / 1000), ip], 5000);
    } catch (err) {
      out = err instanceof Error ? err.message : String(err);
    }
    const macs = new Set<string>();
    for (const m of out.matchAll(/bytes from ([0-9a-f:]{17})/gi)) macs.add((m[1] as string).toLowerCase());
    return [...macs].sort();
  }

  /** Node names whose MAC answers ARP for `ip`. */
  /** The node that Service `svc`'s status names as Layer 2 owner of `ip` once ARP agrees (only it answers). */
  async settledL2Owner(svc: string, ip: string, timeoutMs = 60_000): Promise<SpeakerNode> {
    const name = await waitFor(
      async () => {
        const l2 = (await this.announcement(svc))?.announcements?.find((a) => a.mode === 'layer2');
        const arp = await this.arpOwners(ip);
        return l2 && arp.length === 1 && arp[0] === l2.node ? l2.node : undefined;
      },
      { what: `status and ARP to agree on the owner of ${ip}`, timeoutMs, intervalMs: 200 },
    );
    return this.nodes.find((n) => n.name === name) as SpeakerNode;
  }

  async arpOwners(ip: string, waitMs = 300): Promise<string[]> {
    const macs = await this.arp(ip, waitMs);
    return macs.map((m) => this.nodes.find((n) => n.mac === m)?.name ?? m).sort();
  }

  /**
   * A TCP client in the client namespace connecting to ip:APP_PORT every intervalMs (timeout connectTimeoutMs),
   * recording which node answered. Stop it with the returned function; it ends by itself after maxMs.
   */
  tcpClient(ip: string, intervalMs = 50, maxMs = 60_000, connectTimeoutMs = 150): { results: Array<{ t: number; node?: string; err?: string }>; stop: () => void } {
    if (!this.client) throw new Error('cluster has no client namespace');
    const code = `
const net=require('net');const end=Date.now()+${maxMs};
function once(){if(Date.now()>end)process.exit(0);const t=Date.now();let done=false;const s=net.connect({host:${JSON.stringify(ip)},port:${APP_PORT}});let buf='';
const fin=(r)=>{if(done)return;done=true;s.destroy();process.stdout.write(JSON.stringify({t,...r})+'\\n');setTimeout(once,${intervalMs});};
s.setTimeout(${connectTimeoutMs},()=>fin({err:'timeout'}));s.on('data',(d)=>{buf+=d;if(buf.includes('\\n'))fin({node:buf.trim()});});s.on('error',(e)=>fin({err:e.code||e.message}));s.on('end',()=>fin(buf?{node:buf.trim()}:{err:'eof'}));}
once();`;
    const proc = this.client.spawn(process.execPath, ['-e', code]);
    const results: Array<{ t: number; node?: string; err?: string }> = [];
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      try {
        results.push(JSON.parse(l) as { t: number; node?: string; err?: string });
      } catch { /* partial line at exit */ }
    });
    return { results, stop: () => proc.kill('SIGKILL') };
  }

  /** Waits until exactly the given nodes answer ARP for ip (none: nobody answers). */
  async waitArpOwners(ip: string, want: string[], timeoutMs = 10_000): Promise<void> {
    let last: string[] = [];
    await waitFor(async () => {
      last = await this.arpOwners(ip);
      return JSON.stringify(last) === JSON.stringify([...want].sort());
    }, {
      what: `ARP answers for ${ip} from exactly [${want.join(', ')}]`,
      timeoutMs,
      intervalMs: 200,
    }).catch((err: Error) => {
      throw new Error(`${err.message}; last answered by [${last.join(', ')}]`);
    });
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
