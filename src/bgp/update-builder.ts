// Packs routes into UPDATE messages: routes sharing an AttrSet go into as few messages as the
// message size allows. Pure: bytes in, bytes out; one encoder per session (its encoding context).
import { Afi, Attr, AttrFlag, HEADER_LENGTH, MsgType, SAFI_UNICAST } from './codec/constants.ts';
import { encodeAttributes, type OutgoingAttributes } from './codec/attributes.ts';
import { isLinkLocal, writeNlriText } from './codec/prefix.ts';
import type { AttrSet } from './attr-set.ts';
import type { Family } from './types.ts';

export interface EncodingContext {
  localAsn: number;
  ibgp: boolean;
  fourOctetAs: boolean;
  /** 4096, or 65535 with RFC 8654 extended messages. */
  maxSize: number;
  addPath: Record<Family, boolean>;
  /** The session's local address: the default next hop of its family. */
  localAddress: Buffer;
  /** The local interface's link-local address, sent with IPv6 next hops when the peer is on-link. */
  linkLocal6?: Buffer;
  /** Default next hop for the family the session is not: an address of the same interface. */
  otherFamilyNextHop?: Buffer;
  /** RFC 8950 negotiated: IPv4 routes may go in MP_REACH_NLRI with an IPv6 next hop. */
  ipv4WithIpv6NextHop?: boolean;
  /**
   * A session from a link-local address (unnumbered): the interface's global IPv6, sent before
   * the link-local one (32 bytes); without it the link-local goes alone (16 bytes).
   */
  ipv6Global?: Buffer;
}

/** Path identifier sent with every route when ADD-PATH send is negotiated: one path per prefix. */
export const PATH_ID = 1;

const MAPPED_PREFIX = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]);

interface Encoded {
  /** Path attributes without MP_REACH_NLRI. */
  attrs: Buffer;
  /** MP_REACH next hop field: IPv6 routes, and IPv4 routes with an IPv6 next hop (RFC 8950). */
  nextHop?: Buffer;
}


export class UpdateEncoder {
  readonly ctx: EncodingContext;
  private readonly cache = new Map<string, Encoded | string>();
  /** IPv4 routes go in MP_REACH_NLRI (RFC 8950), so they are withdrawn in MP_UNREACH_NLRI too. */
  private readonly ipv4InMp: boolean;

  constructor(ctx: EncodingContext) {
    this.ctx = ctx;
    this.ipv4InMp = !!ctx.ipv4WithIpv6NextHop && ctx.localAddress.length === 16 && ctx.otherFamilyNextHop?.length !== 4;
  }

  /**
   * The default IPv6 next hop field: global, plus link-local when known (32 bytes). From a
   * link-local session address: the interface's global IPv6 and the link-local, or the
   * link-local alone when the interface has no global address (as FRR and BIRD take it).
   */
  private defaultIpv6NextHop(): Buffer {
    const c = this.ctx;
    if (c.localAddress.length === 16 && isLinkLocal(c.localAddress)) {
      const ll = c.linkLocal6 ?? c.localAddress;
      return c.ipv6Global ? Buffer.concat([c.ipv6Global, ll]) : ll;
    }
    // The session's address; on an IPv4 session the interface's global IPv6 address, else the
    // IPv4-mapped form (RFC 4291 §2.5.5.2), which many routers cannot forward to.
    let global: Buffer;
    if (c.localAddress.length === 16) global = c.localAddress;
    else if (c.otherFamilyNextHop?.length === 16) global = c.otherFamilyNextHop;
    else global = Buffer.concat([MAPPED_PREFIX, c.localAddress]);
    return c.linkLocal6 ? Buffer.concat([global, c.linkLocal6]) : global;
  }

  /** Attributes for a family, or the reason this set cannot be sent on this session. */
  encoded(family: Family, set: AttrSet): Encoded | string {
    const k = `${family}${set.id}`;
    let e = this.cache.get(k);
    if (e === undefined) {
      e = this.build(family, set);
      this.cache.set(k, e);
    }
    return e;
  }

  private build(family: Family, set: AttrSet): Encoded | string {
    const c = this.ctx;
    const a: OutgoingAttributes = { origin: set.origin, asPath: c.ibgp ? [] : [c.localAsn] };
    if (set.med !== undefined) a.med = set.med;
    if (c.ibgp) a.localPref = set.localPref ?? 100;
    if (set.communities.length) a.communities = [...set.communities];
    if (set.largeCommunities.length) a.largeCommunities = [...set.largeCommunities];
    if (family === 'IPv4') {
      const nh = set.nextHop4 ?? (c.localAddress.length === 4 ? c.localAddress : c.otherFamilyNextHop?.length === 4 ? c.otherFamilyNextHop : undefined);
      if (nh) {
        a.nextHop = nh;
        return { attrs: encodeAttributes(a, c.fourOctetAs) };
      }
      if (c.ipv4WithIpv6NextHop && c.localAddress.length === 16) {
        // RFC 8950: the IPv6 session address (and link-local) as the IPv4 route's next hop.
        if (!set.nextHop6) return { attrs: encodeAttributes(a, c.fourOctetAs), nextHop: this.defaultIpv6NextHop() };
        const ll = set.nextHop6LinkLocal;
        return { attrs: encodeAttributes(a, c.fourOctetAs), nextHop: ll ? Buffer.concat([set.nextHop6, ll]) : set.nextHop6 };
      }
      if (isLinkLocal(c.localAddress)) return 'IPv4 routes on a link-local (unnumbered) session need the extended next hop capability (RFC 8950), which the peer did not offer: enable it there (FRR: "neighbor IFNAME capability extended-nexthop", on by default for interface neighbors; BIRD: "ipv4 { extended next hop on; }")';
      return 'an IPv4 route on an IPv6 session needs an IPv4 next hop: set nextHop.ipv4, give the session interface an IPv4 address, or use a peer with the extended next hop capability (RFC 8950)';
    }
    const global = set.nextHop6;
    if (!global) return { attrs: encodeAttributes(a, c.fourOctetAs), nextHop: this.defaultIpv6NextHop() };
    const ll = set.nextHop6LinkLocal;
    return { attrs: encodeAttributes(a, c.fourOctetAs), nextHop: ll ? Buffer.concat([global, ll]) : global };
  }

  /**
   * Appends the UPDATEs announcing `prefixes` with `set` to `out`. Returns the number of
   * prefixes that could not be sent (with the reason), 0 when all went.
   */
  announce(family: Family, set: AttrSet, prefixes: readonly string[], out: Buffer[]): { skipped: number; reason?: string } {
    const e = this.encoded(family, set);
    if (typeof e === 'string') return { skipped: prefixes.length, reason: e };
    this.pack(family, prefixes, out, (buf, nlri) => {
      let off = HEADER_LENGTH;
      buf.writeUInt16BE(0, off); // no withdrawn routes
      off += 2;
      const attrLenAt = off;
      off += 2;
      off += e.attrs.copy(buf, off);
      if (family === 'IPv4' && !e.nextHop) {
        buf.writeUInt16BE(off - attrLenAt - 2, attrLenAt);
        return nlri(off, buf.length);
      }
      const nh = e.nextHop as Buffer;
      const mpAt = off;
      off = startMpAttribute(buf, off, Attr.MP_REACH_NLRI, family);
      buf[off++] = nh.length;
      off += nh.copy(buf, off);
      buf[off++] = 0; // reserved
      off = nlri(off, buf.length);
      endMpAttribute(buf, mpAt, attrLenAt, off);
      return off;
    });
    return { skipped: 0 };
  }

  /** Appends UPDATEs withdrawing `prefixes` to `out`. */
  withdraw(family: Family, prefixes: readonly string[], out: Buffer[]): void {
    this.pack(family, prefixes, out, (buf, nlri) => {
      let off = HEADER_LENGTH;
      if (family === 'IPv4' && !this.ipv4InMp) {
        // Withdrawn routes, then an empty path attributes field (2 bytes kept free for it).
        off = nlri(off + 2, buf.length - 2);
        buf.writeUInt16BE(off - HEADER_LENGTH - 2, HEADER_LENGTH);
        buf.writeUInt16BE(0, off);
        return off + 2;
      }
      buf.writeUInt16BE(0, off);
      off += 2;
      const attrLenAt = off;
      off += 2;
      const mpAt = off;
      off = startMpAttribute(buf, off, Attr.MP_UNREACH_NLRI, family);
      off = nlri(off, buf.length);
      endMpAttribute(buf, mpAt, attrLenAt, off);
      return off;
    });
  }

  /**
   * UPDATEs until every prefix is in one: `message` writes one from HEADER_LENGTH on into a
   * maxSize buffer and returns its end; its `nlri(off, limit)` writes as many of the prefixes
   * still to go as fit below `limit` and returns the offset after them.
   */
  private pack(family: Family, prefixes: readonly string[], out: Buffer[], message: (buf: Buffer, nlri: (off: number, limit: number) => number) => number): void {
    const pathId = this.ctx.addPath[family] ? PATH_ID : undefined;
    let i = 0;
    while (i < prefixes.length) {
      const buf = Buffer.allocUnsafe(this.ctx.maxSize);
      const end = message(buf, (off, limit) => {
        const from = i;
        for (; i < prefixes.length; i++) {
          const next = writeNlriText(buf, off, limit, prefixes[i] as string, pathId);
          if (next < 0) break;
          off = next;
        }
        if (i === from) throw new Error(`attributes leave no room for a prefix in a ${limit}-byte UPDATE`);
        return off;
      });
      out.push(finish(buf, end));
    }
  }
}

/**
 * Starts an MP_REACH_NLRI or MP_UNREACH_NLRI attribute (RFC 4760) at `off`: flags (extended
 * length, filled in by endMpAttribute), type, AFI and SAFI. Returns the offset after them.
 */
function startMpAttribute(buf: Buffer, off: number, type: number, family: Family): number {
  buf[off] = AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH;
  buf[off + 1] = type;
  buf.writeUInt16BE(family === 'IPv4' ? Afi.IPV4 : Afi.IPV6, off + 4);
  buf[off + 6] = SAFI_UNICAST;
  return off + 7;
}

/** Writes the lengths of the MP attribute at `mpAt` and of the path attributes at `attrLenAt`, both ending at `end`. */
function endMpAttribute(buf: Buffer, mpAt: number, attrLenAt: number, end: number): void {
  buf.writeUInt16BE(end - mpAt - 4, mpAt + 2);
  buf.writeUInt16BE(end - attrLenAt - 2, attrLenAt);
}

function finish(buf: Buffer, len: number): Buffer {
  buf.fill(0xff, 0, 16);
  buf.writeUInt16BE(len, 16);
  buf[18] = MsgType.UPDATE;
  // Copy out so the message does not pin a maxSize-byte allocation.
  return Buffer.from(buf.subarray(0, len));
}

/** A route's family from its canonical prefix text. */
export function familyOf(prefix: string): Family {
  return prefix.includes(':') ? 'IPv6' : 'IPv4';
}

