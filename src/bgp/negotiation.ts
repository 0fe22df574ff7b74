// What an established session runs with, from our offer and the peer's OPEN: the families both
// sides have, the UPDATE encoding context (next hops from the session's interface, ADD-PATH,
// extended messages, RFC 8950) and the negotiated capabilities reported in status.
import { MAX_EXTENDED_MESSAGE, MAX_MESSAGE, SAFI_UNICAST } from './codec/constants.ts';
import { ipv4OverIpv6, peerFamilies, type Capabilities } from './codec/capabilities.ts';
import { isLinkLocal, parseAddress } from './codec/prefix.ts';
import { addressesOfInterface, interfaceAddresses, linkLocalFor } from './local-link.ts';
import { FAMILY_AFI } from './open-message.ts';
import type { ResolvedPeer } from './session.ts';
import type { EncodingContext } from './update-builder.ts';
import type { Family, NegotiatedCapabilities } from './types.ts';

export interface NegotiationInput {
  cfg: ResolvedPeer;
  ibgp: boolean;
  ipv6Session: boolean;
  /** The peer's capabilities (its OPEN). */
  caps: Capabilities;
  /** The families our OPEN offered. */
  offered: readonly Family[];
  /** The session's local address, unmapped ("fe80::1%eth0" when link-local). */
  localAddress: string;
  /** Hold and keepalive times the FSM negotiated. */
  timers: { holdTime: number; keepaliveTime: number } | undefined;
}

export interface Negotiated {
  families: Set<Family>;
  encoding: EncodingContext;
  capabilities: NegotiatedCapabilities;
}

export function negotiate(i: NegotiationInput): Negotiated {
  const { cfg, caps } = i;
  const theirs = peerFamilies(caps);
  const families = new Set(i.offered.filter((f) => theirs.some((x) => x.afi === FAMILY_AFI[f] && x.safi === SAFI_UNICAST)));
  const addPath = (f: Family): boolean => !!cfg.addPath && caps.addPath.some((x) => x.afi === FAMILY_AFI[f] && x.safi === SAFI_UNICAST && (x.mode & 1) !== 0);
  const local = i.localAddress.split('%')[0] as string;
  const ctx: EncodingContext = {
    localAsn: cfg.localAsn,
    ibgp: i.ibgp,
    fourOctetAs: caps.fourOctetAs !== undefined,
    maxSize: caps.extendedMessage ? MAX_EXTENDED_MESSAGE : MAX_MESSAGE,
    addPath: { IPv4: addPath('IPv4'), IPv6: addPath('IPv6') },
    // A link-local source comes with its scope ("fe80::1%eth0"): the bytes are the address.
    localAddress: parseAddress(local),
  };
  if (i.ipv6Session && ipv4OverIpv6(caps.extendedNextHop)) ctx.ipv4WithIpv6NextHop = true;
  if (cfg.interface !== undefined) {
    // Unnumbered: next hops from the interface itself. IPv6 routes (and IPv4 ones, RFC 8950)
    // go with its global IPv6 plus link-local (32 bytes) when it has a global address, else with
    // the link-local alone; IPv4 with the interface's IPv4 only when the peer lacks RFC 8950.
    const iface = addressesOfInterface(cfg.interface);
    // The session's own source when it is link-local (an interface may hold several).
    const ll = isLinkLocal(ctx.localAddress) ? ctx.localAddress : iface.linkLocal;
    if (ll) ctx.linkLocal6 = ll;
    if (iface.ipv6) ctx.ipv6Global = iface.ipv6;
    if (!ctx.ipv4WithIpv6NextHop && iface.ipv4) ctx.otherFamilyNextHop = iface.ipv4;
  } else {
    const iface = interfaceAddresses(local);
    const other = ctx.localAddress.length === 4 ? iface.ipv6 : iface.ipv4;
    if (other) ctx.otherFamilyNextHop = other;
    // A link-local next hop only when the peer is on-link (RFC 2545 §3): in one of the subnets of
    // the session's interface; on an IPv4 session only along with the interface's global IPv6.
    if (cfg.ebgpMultihop === undefined || cfg.ebgpMultihop <= 1) {
      const ll = ctx.localAddress.length === 16 || iface.ipv6 ? linkLocalFor(local, cfg.peerAddress as string) : undefined;
      if (ll) ctx.linkLocal6 = ll;
    }
  }
  const capabilities: NegotiatedCapabilities = {
    fourOctetAs: ctx.fourOctetAs,
    families: [...families],
    routeRefresh: caps.routeRefresh,
    extendedMessage: caps.extendedMessage,
    extendedNextHop: !!ctx.ipv4WithIpv6NextHop,
    gracefulRestart: !!(caps.gracefulRestart && cfg.gracefulRestart),
    addPath: (['IPv4', 'IPv6'] as const).filter((f) => ctx.addPath[f]),
    holdTime: i.timers?.holdTime ?? 0,
    keepaliveTime: i.timers?.keepaliveTime ?? 0,
  };
  if (caps.gracefulRestart) capabilities.peerRestartTime = caps.gracefulRestart.time;
  return { families, encoding: ctx, capabilities };
}
