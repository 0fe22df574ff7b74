// Checks a peer's OPEN against the peer's configuration and negotiates the timers (RFC 4271 §6.2,
// RFC 6793 for the 4-octet AS). Pure: returns the result or the error to send as NOTIFICATION.
import { Err, OpenSub } from './codec/constants.ts';
import { BgpError } from './codec/errors.ts';
import type { OpenMessage } from './codec/messages.ts';

export type DynamicAsn = 'internal' | 'external';

export interface OpenExpectation {
  localAsn: number;
  /** The peer's AS; unset when `dynamicAsn` says which ASes are accepted. */
  peerAsn?: number;
  /** Accept the AS the peer's OPEN gives: our own (internal) or any other (external). */
  dynamicAsn?: DynamicAsn;
  routerId: string;
  /** Seconds; 0 disables keepalives and the hold timer. */
  holdTime: number;
  /** Seconds; default one third of the negotiated hold time. */
  keepaliveTime?: number;
}

export interface Negotiated {
  peerAsn: number;
  peerRouterId: string;
  /** Seconds (0 = no hold timer). */
  holdTime: number;
  /** Seconds (0 = no keepalives). */
  keepaliveTime: number;
}

export function checkOpen(open: OpenMessage, exp: OpenExpectation): Negotiated | BgpError {
  const asn = open.capabilities.fourOctetAs ?? open.myAs;
  const bad = badPeerAs(asn, exp);
  if (bad) {
    // RFC 4271 §6.2: the data is the 2-octet My Autonomous System field as received.
    const d = Buffer.alloc(2);
    d.writeUInt16BE(open.myAs, 0);
    return new BgpError(Err.OPEN, OpenSub.BAD_PEER_AS, bad, d);
  }
  if (open.holdTime === 1 || open.holdTime === 2) {
    return new BgpError(Err.OPEN, OpenSub.UNACCEPTABLE_HOLD_TIME, `hold time ${open.holdTime} s is not allowed (0 or at least 3)`);
  }
  if (open.bgpId === '0.0.0.0' || open.bgpId === '255.255.255.255') {
    return new BgpError(Err.OPEN, OpenSub.BAD_BGP_ID, `BGP identifier ${open.bgpId} is not a valid router ID`);
  }
  // RFC 6286 §2.1: the identifier must be unique within the AS, so only iBGP refuses our own.
  if (asn === exp.localAsn && open.bgpId === exp.routerId) {
    return new BgpError(Err.OPEN, OpenSub.BAD_BGP_ID, `iBGP peer uses our own router ID ${open.bgpId}`);
  }
  const holdTime = Math.min(exp.holdTime, open.holdTime);
  const third = holdTime / 3;
  const keepaliveTime = holdTime === 0 ? 0 : exp.keepaliveTime !== undefined && exp.keepaliveTime > 0 ? Math.min(exp.keepaliveTime, third) : third;
  return { peerAsn: asn, peerRouterId: open.bgpId, holdTime, keepaliveTime };
}

/** Why the peer's AS is refused, or undefined when it is acceptable. */
function badPeerAs(asn: number, exp: OpenExpectation): string | undefined {
  if (exp.dynamicAsn === 'internal') {
    return asn === exp.localAsn ? undefined : `peer AS ${asn} is not our AS ${exp.localAsn}, and dynamicASN internal accepts only iBGP peers`;
  }
  if (exp.dynamicAsn === 'external') {
    return asn !== exp.localAsn ? undefined : `peer AS ${asn} is our own AS, and dynamicASN external accepts only eBGP peers`;
  }
  return asn === exp.peerAsn ? undefined : `peer AS ${asn} is not the configured ${exp.peerAsn ?? '(none)'}`;
}

/** Whether a session is iBGP: decided by the configuration, also for dynamic ASNs (before any OPEN). */
export function isIbgp(exp: Pick<OpenExpectation, 'localAsn' | 'peerAsn' | 'dynamicAsn'>): boolean {
  return exp.dynamicAsn !== undefined ? exp.dynamicAsn === 'internal' : exp.localAsn === exp.peerAsn;
}
