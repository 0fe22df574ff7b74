// Public types of the BGP engine API.
import type { Logger } from '../util/log.ts';
import type { Family } from '../util/address.ts';

export type { Family };

export interface PeerConfig {
  /** Unique name of the peer in this engine. */
  name: string;
  localAsn: number;
  /** The peer's AS. Exactly one of peerAsn and dynamicAsn. */
  peerAsn?: number;
  /**
   * Accept the AS the peer's OPEN carries: `internal` only our own AS (iBGP), `external` any
   * other (eBGP). Any other AS is refused with OPEN Message Error / Bad Peer AS (2/2).
   */
  dynamicAsn?: 'internal' | 'external';
  /** The peer's address. Exactly one of peerAddress and interface. */
  peerAddress?: string;
  /**
   * BGP unnumbered: the peer is whoever is on the other end of this interface, over IPv6
   * link-local addresses (its address learned from its Router Advertisements or its connection
   * to us; we send RAs so it learns ours). IPv4 routes go with IPv6 next hops (RFC 8950).
   */
  interface?: string;
  /** Default 179. */
  peerPort?: number;
  /** Source address of the session (and default next hop). */
  localAddress?: string;
  /** Overrides the engine's router ID for this peer. */
  routerId?: string;
  /** Seconds, 0 or >= 3. Default 90. */
  holdTime?: number;
  /** Seconds. Default a third of the negotiated hold time. */
  keepaliveTime?: number;
  /** Base connect-retry seconds (doubling per failure up to 60 s). Default 5. */
  connectRetryTime?: number;
  /** TCP MD5 key (RFC 2385), on active and passive sockets. */
  password?: string;
  /** eBGP multihop: the TTL of our packets (default 1 for eBGP when the native addon is available). */
  ebgpMultihop?: number;
  /** GTSM (RFC 5082): send with TTL 255, refuse segments that arrive with a lower TTL than this. */
  minTtl?: number;
  /** Never connect; wait for the peer. */
  passive?: boolean;
  gracefulRestart?: { restartTime: number; preserveOnShutdown?: boolean };
  /** Families announced on this session. Default: both. */
  families?: Family[];
  /**
   * Offer a family other than the peer address's only when the interface the session runs on
   * has an address of it (a global one for IPv6) to give as next hop; checked per connection.
   */
  familiesFromInterface?: boolean;
  /** Offer ADD-PATH send (RFC 7911) for our families. */
  addPath?: boolean;
  /** Bind the session to this interface or VRF (SO_BINDTODEVICE). */
  device?: string;
}

export type Origin = 'igp' | 'egp' | 'incomplete';

export interface NextHops {
  ipv4?: string;
  ipv6?: string;
  /** Sent with the IPv6 global next hop (a 32-byte MP_REACH next hop). */
  ipv6LinkLocal?: string;
}

export interface RouteAttributes {
  /** An address (of the route's family), or one per family. Default: the session's local address. */
  nextHop?: string | NextHops;
  origin?: Origin;
  med?: number;
  /** Sent only on iBGP sessions. */
  localPref?: number;
  /** "65000:100" or well-known names ("no-export", "no-advertise", "blackhole", ...). */
  communities?: string[];
  /** "1:2:3". */
  largeCommunities?: string[];
}

export interface EngineOptions {
  routerId?: string;
  /** How unnumbered peers (PeerConfig.interface) are found; tests may swap it. Default: RAs on the interface. */
  linkPeers?: import('./unnumbered/link-peers.ts').LinkPeerSourceFactory;
  /** Where to accept connections from peers; false: active only. Default { address: '::', port: 179 }. */
  listen?: { address: string; port: number } | false;
  logger?: Logger;
  /** Socket creation; tests and platforms without the native addon may swap it. */
  sockets?: import('./socket.ts').SocketFactory;
}

export type SessionState = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';

export interface StateEvent {
  peer: string;
  state: SessionState;
  previous: SessionState;
  reason?: string;
}

export interface PeerCounters {
  messagesIn: number;
  messagesOut: number;
  updatesIn: number;
  updatesOut: number;
  prefixesAnnouncedIn: number;
  prefixesWithdrawnIn: number;
  prefixesAnnouncedOut: number;
  prefixesWithdrawnOut: number;
  treatAsWithdraw: number;
  attributesDiscarded: number;
  notificationsIn: number;
  notificationsOut: number;
  routeRefreshIn: number;
  endOfRibIn: number;
  establishedTransitions: number;
  /** Outgoing TCP connection attempts. */
  connectAttempts: number;
}

export interface NegotiatedCapabilities {
  fourOctetAs: boolean;
  families: Family[];
  routeRefresh: boolean;
  extendedMessage: boolean;
  /** RFC 8950: IPv4 routes may carry an IPv6 next hop. */
  extendedNextHop: boolean;
  gracefulRestart: boolean;
  /** The peer's restart time (seconds) when it offered graceful restart. */
  peerRestartTime?: number;
  addPath: Family[];
  holdTime: number;
  keepaliveTime: number;
}

export interface PeerStatus {
  name: string;
  /** The configured address, or for an unnumbered peer the learned one ("fe80::1%eth0"; "" until learned). */
  peerAddress: string;
  /** Unnumbered peers: the interface. */
  interface?: string;
  /** Why routes of a family are not sent on this session (e.g. IPv4 without RFC 8950 on an unnumbered one). */
  notSent?: string[];
  state: SessionState;
  /** The peer's AS: configured, or learned from its OPEN with dynamicAsn (unset until then). */
  peerAsn?: number;
  /** Milliseconds since Established (0 when not established). */
  uptimeMs: number;
  peerRouterId?: string;
  localAddress?: string;
  negotiated?: NegotiatedCapabilities;
  /** Routes desired for this peer, and how many of them are on the wire. */
  routesDesired: number;
  routesAdvertised: number;
  counters: PeerCounters;
  lastError?: string;
}
