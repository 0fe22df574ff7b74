// The lab: a whole cluster on this machine, in network namespaces. Building blocks (one namespace
// each): a switch holding the nodes' L2 segment (a bridge), N nodes (speaker, hostname backend,
// kube-proxy's part), a router (BIRD, ECMP) on that segment, a client on it, and an external client
// behind the router. The API server and the controller run in the current namespace on loopback.
//
// Every daemon is detached and recorded in DIR/state.json, and carries DIR/ in its command line, so
// `lab down` (another process, maybe after a crash) finds and stops all of it.
//
// This class is the lab's face (docs/lab.md); each job is a module of its own: state.ts (options,
// state, context), network.ts (topology), nodes.ts (node emulation), control.ts (control plane and
// controller), router-daemon.ts (routers), faults.ts, objects.ts (configuration and Services),
// observe.ts (observation), teardown.ts. The pieces shared with the speaker tests and the benches
// are the cluster harness's (testbed/cluster).
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Service } from '@kubernetes/client-node';
import type { KindName } from '../../src/api/index.ts';
import { applyObject, removeObject, setNodeLabels, type Announcement } from '../cluster/objects.ts';
import { serviceAddresses } from '../cluster/workloads.ts';
import type { ProbeResult, RunningClient } from '../cluster/clients.ts';
import { checkTopology, type RouterKind, type RouterSpec, type Topology } from '../cluster/topology.ts';
import { freePort } from '../controlplane.ts';
import { ensureDist } from './image.ts';
import { labPlan, DEFAULT_NET, type LabPlan, type NodePlan } from './plan.ts';
import { ensurePeersBuilt, isMetalLB, unavailable } from './peers.ts';
import type { KernelRoute, SessionRow } from './router.ts';
import { unnumberedUnavailable } from './unnumbered.ts';
import { DEFAULT_DIR, DEFAULT_PREFIX, LabContext, readState, type LabOptions, type LabState } from './state.ts';
import { buildNetwork } from './network.ts';
import { ensureFrr, ensureRelay, registerNodes, speakerPodPids, speakerRunning, startBackend, startSpeaker, waitSpeaker, writeNodeStatus, writeSpeakerKubeconfig } from './nodes.ts';
import { installMetalLB, routeWebhook, startControlPlane, startController, startControllerAsync, stopController } from './control.ts';
import { routerRoutes, routerSessions, startRouter } from './router-daemon.ts';
import { cutLink, healLink, killNode, killSpeaker, reviveNode } from './faults.ts';
import { applyConfig, applyExample, createLabService, deleteLabService, labEndpoints, waitAddresses, type ServiceOptions } from './objects.ts';
import { daemons, labAnnouncements, neighOwners, probe, requests, routeNodes } from './observe.ts';
import { labDown, labNamespaces } from './teardown.ts';
import { installKubeVip } from './kube-vip-node.ts';

export { DEFAULT_DIR, DEFAULT_PREFIX, SECRET_NAME, urlFor, type LabOptions, type LabState } from './state.ts';
export type { ServiceOptions } from './objects.ts';
export type { ProbeResult } from '../cluster/clients.ts';

/** The topology a lab's options describe (the cluster harness's description). */
export function labTopology(o: LabOptions): Topology {
  return {
    nodes: o.nodes ?? 3,
    routers: [{ kind: o.router ?? 'bird', bfd: o.bfd ?? true, holdTime: o.holdTime ?? 9, gracefulRestart: false }],
    clients: ['lan', 'ext'],
    implementation: o.implementation ?? 'ironlb',
    ...(o.unnumbered ? { unnumbered: true } : {}),
  };
}

export class Lab extends LabContext {
  /** Opens a running lab from its state folder. */
  static open(dir = DEFAULT_DIR): Lab {
    return new Lab(readState(dir));
  }

  /** Builds and starts the lab (without configuration or Services: see applyExample). */
  static async up(o: LabOptions = {}): Promise<Lab> {
    // Before anything is created: an implementation that cannot run here leaves nothing behind.
    const impl = o.implementation ?? 'ironlb';
    const why = unavailable(impl) ?? (o.unnumbered ? unnumberedUnavailable({ implementation: impl, router: o.router ?? 'bird' }) : undefined);
    if (why) throw new Error(why);
    const topology = checkTopology(labTopology(o));
    const router = topology.routers[0] as Required<RouterSpec> & { kind: RouterKind };
    const prefix = o.prefix ?? DEFAULT_PREFIX;
    const dir = o.dir ?? DEFAULT_DIR;
    const plan = labPlan(prefix, topology.nodes, o.net ?? DEFAULT_NET, { unnumbered: topology.unnumbered ?? false });
    if (existsSync(join(dir, 'state.json'))) throw new Error(`a lab is already running from ${dir}: "ironlb lab down" first (it also cleans up after a crash)`);
    const existing = await labNamespaces(prefix);
    if (existing.length) throw new Error(`namespaces of an earlier lab are left (${existing.join(', ')}): run "ironlb lab down" first`);
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const say = o.progress ?? ((): void => {});
    // Before anything is created: a first build takes minutes and must not count against the lab's deadlines.
    if (isMetalLB(impl) || impl === 'kube-vip') await ensurePeersBuilt(say);
    // ironlb runs as the image runs it: dist/ from the current sources (rebuilt only when they changed).
    else await ensureDist();
    const lab = new Lab({ version: 1, dir, plan, router: router.kind, bfd: router.bfd, holdTime: router.holdTime, pids: {}, macs: {}, logOffsets: {}, cut: [], createdAt: new Date().toISOString(), implementation: impl, ...(o.nodeArgs?.length ? { nodeArgs: o.nodeArgs } : {}), ...(o.speakerArgs?.length ? { speakerArgs: o.speakerArgs } : {}) });
    lab.save();
    try {
      say('starting the control plane (etcd, kube-apiserver, kube-controller-manager) and installing ironlb with helm');
      await startControlPlane(lab);
      // Clients from the admin kubeconfig the control plane wrote.
      const ready = new Lab(lab.state);
      say('creating the network: switch, nodes, router, clients');
      ready.state.macs = await buildNetwork(plan);
      ready.save();
      say('registering Nodes (as their kubelets would)');
      await registerNodes(ready);
      if (isMetalLB(impl)) {
        say('installing MetalLB from its module source (CRDs, namespace, ServiceAccounts, RBAC; no webhook)');
        await installMetalLB(ready);
      }
      if (impl === 'kube-vip') {
        say('installing kube-vip\'s RBAC (from "kube-vip manifest rbac") and its ServiceAccount token');
        await installKubeVip(ready);
      }
      say(`starting the router (${ready.state.router})`);
      await startRouter(ready);
      say(impl === 'kube-vip' ? 'kube-vip has no controller (the lab gives Services their addresses, as kube-vip-cloud-provider would)' : `starting the ${impl} controller`);
      if (impl === 'ironlb') ready.state.webhookPort = await freePort();
      await startControllerAsync(ready);
      if (impl === 'ironlb') await routeWebhook(ready);
      say(`starting ${plan.nodes.length} ${impl} speakers and hostname backends`);
      if (impl === 'ironlb') writeSpeakerKubeconfig(ready);
      await Promise.all(plan.nodes.map((n) => ensureRelay(ready, n.index)));
      if (impl === 'metallb-frr') await Promise.all(plan.nodes.map((n) => ensureFrr(ready, n.index)));
      for (const n of plan.nodes) {
        startBackend(ready, n.index);
        startSpeaker(ready, n.index);
      }
      await Promise.all(plan.nodes.map((n) => waitSpeaker(ready, n.index, (o.startTimeoutS ?? 120) * 1000)));
      return ready;
    } catch (err) {
      await Lab.down(dir, prefix).catch(() => undefined);
      throw err;
    }
  }

  /** The topology this lab was built from. */
  get topology(): Topology {
    return labTopology({ nodes: this.plan.nodes.length, router: this.state.router, bfd: this.state.bfd, holdTime: this.state.holdTime, implementation: this.implementation, unnumbered: this.plan.unnumbered ?? false });
  }

  // ---- nodes (node emulation: testbed/lab/nodes.ts) ------------------------------------------------

  /** Node status as a kubelet would write it: addresses, Ready, NetworkUnavailable when asked. */
  setNodeStatus(name: string, o: { networkUnavailable?: boolean } = {}): Promise<void> {
    return writeNodeStatus(this, name, o);
  }
  setNodeLabels(name: string, labels: Record<string, string | null>): Promise<void> {
    return setNodeLabels(this.core, name, labels);
  }
  startBackend(i: number): void {
    startBackend(this, i);
  }
  /** Starts node i's speaker; the log file is appended to, so waitSpeaker looks past the returned offset. */
  startSpeaker(i: number, extra: string[] = []): number {
    return startSpeaker(this, i, extra);
  }
  /** Waits until node i's speaker has joined the membership (its log says so). */
  waitSpeaker(i: number, timeoutMs = 120_000): Promise<void> {
    return waitSpeaker(this, i, timeoutMs);
  }
  speakerRunning(i: number): boolean {
    return speakerRunning(this, i);
  }
  /** PIDs of node i's speaker "Pod": the speaker, and in FRR mode its FRR daemons and reloader. */
  speakerPodPids(i: number): number[] {
    return speakerPodPids(this, i);
  }
  writeSpeakerKubeconfig(): void {
    writeSpeakerKubeconfig(this);
  }
  ensureRelay(i: number): Promise<void> {
    return ensureRelay(this, i);
  }
  ensureFrr(i: number): Promise<void> {
    return ensureFrr(this, i);
  }

  // ---- controller (testbed/lab/control.ts) ---------------------------------------------------------

  /** Starts the controller of the lab's implementation (MetalLB's needs a free metrics port first). */
  startControllerAsync(): Promise<void> {
    return startControllerAsync(this);
  }
  startController(): void {
    startController(this);
  }
  /** Points the ValidatingWebhookConfiguration at the controller's loopback port (kube-proxy's part). */
  routeWebhook(): Promise<void> {
    return routeWebhook(this);
  }
  /** Stops the controller (SIGKILL: a crash) and waits until it is gone. */
  stopController(sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return stopController(this, sig);
  }
  installMetalLB(): Promise<void> {
    return installMetalLB(this);
  }
  /** kube-vip's RBAC (its own generator's) and a kubeconfig with its ServiceAccount's token through each node's relay. */
  installKubeVip(): Promise<void> {
    return installKubeVip(this);
  }

  // ---- faults (testbed/lab/faults.ts) --------------------------------------------------------------

  /** Kills node i's speaker (SIGKILL by default: no goodbye). Returns the time of the kill. */
  killSpeaker(i: number, sig: NodeJS.Signals = 'SIGKILL'): Promise<number> {
    return killSpeaker(this, i, sig);
  }
  /** A node stopping: its speaker and backend die and its link goes down. Returns the time. */
  killNode(i: number): Promise<number> {
    return killNode(this, i);
  }
  /** Brings a killed node back: link up, backend, speaker; waits until the speaker runs. */
  reviveNode(i: number, timeoutMs = 120_000): Promise<void> {
    return reviveNode(this, i, timeoutMs);
  }
  /** Cuts node i's cable: its switch port goes down (processes keep running). Returns the time. */
  cutLink(i: number): Promise<number> {
    return cutLink(this, i);
  }
  healLink(i: number): Promise<void> {
    return healLink(this, i);
  }

  // ---- configuration and workloads (testbed/lab/objects.ts) --------------------------------------

  /** Creates or replaces an ironlb.io object (IPPool cluster-scoped, the others in ironlb-system). */
  apply(kind: KindName, name: string, spec: unknown, labels?: Record<string, string>): Promise<void> {
    return applyObject(this.custom, kind, name, spec, labels);
  }
  remove(kind: KindName, name: string): Promise<void> {
    return removeObject(this.custom, kind, name);
  }
  /** The example configuration: an L2 pool and advertisement, a BGP pool, peers (v4, v6) and advertisement. */
  applyConfig(): Promise<void> {
    return applyConfig(this);
  }
  /** The example Services: hello-l2 (dual stack, Layer 2), hello-bgp (BGP, ECMP), hello-local (BGP, ETP Local on the last node). */
  applyExample(): Promise<void> {
    return applyExample(this);
  }
  /** Creates a Service of type LoadBalancer and its backend Pods (the node's backend process answers for them). */
  service(name: string, o: ServiceOptions = {}): Promise<V1Service> {
    return createLabService(this, name, o);
  }
  /** The Service's backends: one Pod on each named node, Running and Ready (Pods on other nodes are removed). */
  endpoints(service: string, nodes: string[], namespace = 'default'): Promise<void> {
    return labEndpoints(this, service, nodes, namespace);
  }
  deleteService(name: string, namespace = 'default'): Promise<void> {
    return deleteLabService(this, name, namespace);
  }
  /** The Service's ingress addresses (empty while pending). */
  addresses(name: string, namespace = 'default'): Promise<string[]> {
    return serviceAddresses(this.core, name, namespace);
  }
  /** Waits until the Service has `count` addresses; returns them. */
  waitAddresses(name: string, count = 1, timeoutMs = 30_000, namespace = 'default'): Promise<string[]> {
    return waitAddresses(this, name, count, timeoutMs, namespace);
  }

  // ---- observing (testbed/lab/observe.ts) ----------------------------------------------------------

  /** Who announces the Service (its ServiceAnnouncement status, or MetalLB's statuses). */
  announcements(name: string, namespace = 'default'): Promise<Announcement[]> {
    return labAnnouncements(this, name, namespace);
  }
  /** The router's kernel routes installed by its BGP daemon: prefix → next hops (ECMP). */
  routes(): Promise<KernelRoute[]> {
    return routerRoutes(this);
  }
  /** Next hops of one prefix at the router, mapped to node names ([] when absent). */
  routeNodes(prefix: string): Promise<string[]> {
    return routeNodes(this, prefix);
  }
  /** The router's BGP sessions. */
  sessions(): Promise<SessionRow[]> {
    return routerSessions(this);
  }
  /** Requests from a client namespace ("lan" on the nodes' segment, "ext" behind the router). */
  requests(from: 'lan' | 'ext', urls: string[], count: number, o: { intervalMs?: number; timeoutMs?: number } = {}): Promise<ProbeResult[]> {
    return requests(this, from, urls, count, o);
  }
  /** A probe running in the background (for failover measurements); ends after maxMs, or at stop(). */
  probe(from: 'lan' | 'ext', url: string, o: { intervalMs?: number; timeoutMs?: number; maxMs?: number } = {}): RunningClient<ProbeResult> {
    return probe(this, from, url, o);
  }
  /** Node names whose MAC answers ARP (IPv4) or NDP (IPv6) for ip, asked from the LAN client. */
  neighOwners(ip: string): Promise<string[]> {
    return neighOwners(this, ip);
  }
  /** Which daemons are alive. */
  daemons(): Record<string, boolean> {
    return daemons(this);
  }

  // ---- teardown (testbed/lab/teardown.ts) ----------------------------------------------------------

  /**
   * Removes a lab: every process whose command line names the state folder, every namespace with
   * the prefix (and what runs in it), and the folder. Works without state (after a crash).
   * Returns what was removed.
   */
  static down(dir = DEFAULT_DIR, prefix = DEFAULT_PREFIX): Promise<string[]> {
    return labDown(dir, prefix);
  }
  /** Tears this lab down (the e2e tests' `finally`). */
  destroy(): Promise<string[]> {
    return Lab.down(this.dir, this.plan.prefix);
  }
}

export type { LabPlan, NodePlan };
