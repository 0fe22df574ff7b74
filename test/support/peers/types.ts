// Normalized views of what a real BGP daemon holds, so tests compare peers with one vocabulary.
import type { Netns } from '../netns.ts';

export type Family = 'ipv4' | 'ipv6';

/** One prefix as a peer holds it. nextHops lists every received path's next hop (sorted). */
export interface RibEntry {
  prefix: string;
  nextHops: string[];
  /** Of the best (or first) path, "ASN:VALUE", sorted. */
  communities: string[];
  /** Of the best (or first) path, "GLOBAL:LOCAL1:LOCAL2", sorted. */
  largeCommunities: string[];
  localPref?: number;
  /** The best (or first) path is marked stale (graceful restart). */
  stale?: boolean;
  /** Next hops the daemon selected for forwarding (best + multipath), where it reports them. */
  selectedNextHops?: string[];
}

/** RFC 4271 state names, lower case. */
export type SessionState = 'idle' | 'connect' | 'active' | 'opensent' | 'openconfirm' | 'established';

export interface SessionInfo {
  neighbor: string;
  state: SessionState;
}

export interface NeighborConfig {
  /** The neighbor's address; with `interface`, its link-local address (BIRD) or unused (FRR learns it). */
  address: string;
  /**
   * BGP unnumbered over this interface: FRR `neighbor IF interface` (peer learned from RAs), BIRD
   * `neighbor ADDRESS%IF` with `interface` and extended next hop on IPv4.
   */
  interface?: string;
  /** With `interface`: BIRD offers the extended next hop capability (RFC 8950) on IPv4; default true. */
  extendedNextHop?: boolean;
  asn: number;
  /** Port the neighbor listens on (when we connect to it). */
  port?: number;
  password?: string;
  /** Only accept connections from this neighbor, never dial it. */
  passive?: boolean;
  holdTime?: number;
  /** Advertise graceful restart and keep this neighbor's routes stale when it restarts. */
  gracefulRestart?: boolean;
  families?: Family[];
  /** eBGP multihop TTL; needed for loopback peers. */
  multihop?: number;
}

/** A route the daemon itself originates (fixtures, benchmarks). */
export interface OriginRoute {
  prefix: string;
  nextHop?: string;
  communities?: string[];
  largeCommunities?: string[];
}

export interface DaemonConfig {
  asn: number;
  routerId: string;
  /** Address the daemon binds and uses as its source (must exist in the namespace). */
  localAddress: string;
  /** Extra local address for IPv6 sessions (daemons that take a per-neighbor source). */
  localAddress6?: string;
  /** BGP listen port; 179 by default (the namespace is ours, so no collision). */
  port?: number;
  neighbors: NeighborConfig[];
  /** Select several equal paths (ECMP). */
  multipath?: boolean;
  originate?: OriginRoute[];
}

export interface PeerDaemon {
  readonly kind: 'bird' | 'frr' | 'gobgp' | 'exabgp';
  readonly ns: Netns;
  readonly pid: number;
  readonly dir: string;
  rib(family: Family): Promise<RibEntry[]>;
  sessions(): Promise<SessionInfo[]>;
  /** Asks the daemon to send ROUTE-REFRESH to this neighbor. */
  requestRouteRefresh(neighbor: string): Promise<void>;
  /** Administratively shuts the session down: the daemon sends a NOTIFICATION (Cease), except ExaBGP (closes only). */
  shutdownNeighbor(neighbor: string): Promise<void>;
  enableNeighbor(neighbor: string): Promise<void>;
  /** Stops the daemon (SIGTERM, then SIGKILL) and waits for it to exit. */
  stop(): Promise<void>;
  /** Stops and starts again with the same config and files. */
  restart(): Promise<void>;
  /** The daemon's recent output, for failure messages. */
  output(): string;
}

export function communityString(n: number): string {
  return `${Math.floor(n / 65536)}:${n % 65536}`;
}

export function sortEntries(list: RibEntry[]): RibEntry[] {
  return list.sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));
}
