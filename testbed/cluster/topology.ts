// What a cluster is made of, said once: nodes, the router(s) the nodes peer with, the client
// namespaces traffic comes from, and which load balancer runs on it. The lab (testbed/lab: daemons
// that outlive the CLI, a dual-stack plan, kube-controller-manager) and the speaker test harness
// (testbed/cluster/speaker-cluster.ts: speakers as children of the test) are both built from one.
import type { Implementation } from '../lab/peers.ts';

/** The routing daemon of a router namespace; 'none': the namespace only (a test starts its own). */
export type RouterKind = 'bird' | 'frr';

export interface RouterSpec {
  kind: RouterKind | 'none';
  /** BFD on the sessions. */
  bfd?: boolean;
  /** BGP hold time (seconds). */
  holdTime?: number;
  /** Graceful restart on the router's neighbours. */
  gracefulRestart?: boolean;
}

/** "lan": a client on the nodes' segment; "ext": a client behind the router. */
export type ClientKind = 'lan' | 'ext';

export interface Topology {
  nodes: number;
  /** Router namespaces on the nodes' segment, in order. */
  routers: RouterSpec[];
  clients: ClientKind[];
  implementation: Implementation;
  /** Node labels, per node index. */
  labels?: Array<Record<string, string>>;
  /** BGP unnumbered: each node also has a point-to-point link to the (first) router. */
  unnumbered?: boolean;
}

/** Checks a topology before anything is created; returns it. */
export function checkTopology(t: Topology): Topology {
  if (!Number.isInteger(t.nodes) || t.nodes < 1 || t.nodes > 40) throw new Error(`a cluster has 1 to 40 nodes, got ${t.nodes}`);
  if (t.unnumbered && t.routers[0]?.kind !== 'frr') throw new Error('BGP unnumbered needs an FRR router first (`neighbor IFNAME interface`)');
  if (t.labels && t.labels.length > t.nodes) throw new Error(`labels for ${t.labels.length} nodes, but the cluster has ${t.nodes}`);
  return t;
}
