// The lab's state: its options, what it records in DIR/state.json (so that another process, `lab
// down` after a crash too, finds every daemon), and the context every part of the lab works in
// (the plan, the API clients, log files, the node lookup).
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdmissionregistrationV1Api, CoreV1Api, CustomObjectsApi, DiscoveryV1Api, KubeConfig } from '@kubernetes/client-node';
import type { LabPlan, NodePlan } from './plan.ts';
import type { Implementation } from './peers.ts';
import type { RouterKind } from '../cluster/topology.ts';

export const DEFAULT_DIR = '/run/ironlb-lab';
export const DEFAULT_PREFIX = 'ilab';
export const SECRET_NAME = 'ironlb-membership';
export const METRICS_PORT = 7473;

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

/** Reads DIR/state.json. */
export function readState(dir: string): LabState {
  const file = join(dir, 'state.json');
  if (!existsSync(file)) throw new Error(`no lab state in ${dir}: start one with "ironlb lab up" (or pass --dir)`);
  return JSON.parse(readFileSync(file, 'utf8')) as LabState;
}

/** `http://ADDR:PORT/` with IPv6 addresses bracketed. */
export function urlFor(ip: string, port = 80): string {
  return `http://${ip.includes(':') ? `[${ip}]` : ip}:${port}/`;
}

/** A lab's state with its API clients: what every part of the lab works with. */
export class LabContext {
  readonly state: LabState;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly discovery: DiscoveryV1Api;
  readonly admission: AdmissionregistrationV1Api;

  protected constructor(state: LabState) {
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
  /** The speakers' kubeconfig: the speaker ServiceAccount's, with the node's relay as the server (the same port in every node). */
  get speakerKubeconfig(): string {
    return join(this.dir, 'speaker-relay.kubeconfig');
  }

  node(ref: number | string): NodePlan {
    const n = typeof ref === 'number' ? this.plan.nodes[ref] : this.plan.nodes.find((x) => x.name === ref || String(x.index) === ref);
    if (!n) throw new Error(`lab has no node "${ref}": nodes are ${this.plan.nodes.map((x) => `${x.index} (${x.name})`).join(', ')}`);
    return n;
  }

  /** Writes the state (atomically: a crash leaves the old or the new file). */
  save(): void {
    const path = join(this.dir, 'state.json');
    writeFileSync(`${path}.tmp`, JSON.stringify(this.state, null, 2));
    renameSync(`${path}.tmp`, path);
  }

  /** The log file of a daemon. */
  logFile(name: string): string {
    return join(this.dir, 'logs', `${name}.log`);
  }

  /** The environment of ironlb's children: info level to their files whatever this process's level is (tests silence theirs). */
  childEnv(): NodeJS.ProcessEnv {
    return { ...process.env, IRONLB_LOG_LEVEL: process.env.IRONLB_LAB_LOG_LEVEL ?? 'info', NODE_ENV: 'production' };
  }

  /** Records a daemon's PID (undefined: forgets it) and saves. */
  setPid(key: string, pid: number | undefined): void {
    if (pid === undefined) delete this.state.pids[key];
    else this.state.pids[key] = pid;
    this.save();
  }
}
