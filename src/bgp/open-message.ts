// Our OPEN: which families a connection offers, and the capabilities that say so (RFC 4760
// multiprotocol, RFC 8950 extended next hop, RFC 4724 graceful restart, RFC 7911 ADD-PATH).
import { Afi, SAFI_UNICAST } from './codec/constants.ts';
import { emptyCapabilities } from './codec/capabilities.ts';
import { encodeOpen } from './codec/messages.ts';
import { interfaceAddresses } from './local-link.ts';
import type { ResolvedPeer } from './session.ts';
import type { Family } from './types.ts';

export const FAMILY_AFI: Record<Family, number> = { IPv4: Afi.IPV4, IPv6: Afi.IPV6 };

/**
 * The families to offer on a connection from `localAddress`: the configured ones; with
 * familiesFromInterface, a family other than the session's only when the interface holding the
 * local address has an address of it to give as next hop (an IPv6 one must be global).
 * `dropped` lists the ones left out.
 */
export function offeredFamilies(cfg: ResolvedPeer, ipv6Session: boolean, localAddress: string): { offered: Family[]; dropped: Family[] } {
  // Unnumbered: IPv4 goes with the IPv6 link-local next hop (RFC 8950), whatever the interface holds.
  if (!cfg.familiesFromInterface || cfg.interface !== undefined) return { offered: cfg.families, dropped: [] };
  const own: Family = ipv6Session ? 'IPv6' : 'IPv4';
  const iface = localAddress ? interfaceAddresses(localAddress.split('%')[0] as string) : {};
  const offered = cfg.families.filter((f) => f === own || (f === 'IPv4' ? iface.ipv4 !== undefined : iface.ipv6 !== undefined));
  return { offered, dropped: cfg.families.filter((f) => !offered.includes(f)) };
}

/**
 * The OPEN offering `families`. `firstSession` sets graceful restart's R bit: on this process's
 * first session, so a peer holding our stale routes does not wait for us.
 */
export function openMessage(cfg: ResolvedPeer, families: readonly Family[], ipv6Session: boolean, firstSession: boolean): Buffer {
  const caps = emptyCapabilities();
  for (const f of families) caps.multiprotocol.push({ afi: FAMILY_AFI[f], safi: SAFI_UNICAST });
  // RFC 8950 on IPv6 sessions, so IPv4 routes can carry the IPv6 session address as next hop.
  if (families.includes('IPv4') && ipv6Session) caps.extendedNextHop = [{ afi: Afi.IPV4, safi: SAFI_UNICAST, nextHopAfi: Afi.IPV6 }];
  caps.routeRefresh = true;
  caps.extendedMessage = true;
  caps.fourOctetAs = cfg.localAsn;
  if (cfg.gracefulRestart) {
    caps.gracefulRestart = {
      restarting: firstSession,
      notification: false,
      time: Math.min(Math.max(0, Math.round(cfg.gracefulRestart.restartTime)), 4095),
      families: families.map((f) => ({ afi: FAMILY_AFI[f], safi: SAFI_UNICAST, forwarding: true })),
    };
  }
  if (cfg.addPath) caps.addPath = families.map((f) => ({ afi: FAMILY_AFI[f], safi: SAFI_UNICAST, mode: 2 }));
  return encodeOpen({ asn: cfg.localAsn, holdTime: cfg.holdTime, bgpId: cfg.routerId, capabilities: caps });
}
