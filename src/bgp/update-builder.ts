// Packs routes into UPDATE messages: routes sharing an AttrSet go into as few messages as the
// message size allows. Pure: bytes in, bytes out; one encoder per session (its encoding context).
import { Afi, Attr, AttrFlag, HEADER_LENGTH, MsgType, SAFI_UNICAST } from './codec/constants.ts';
import { encodeAttributes, type OutgoingAttributes } from './codec/attributes.ts';
import { writeNlriText } from './codec/prefix.ts';
import type { AttrSet } from './attr-set.ts';
import type { Family } from './types.ts';

export interface EncodingContext {
  localAsn: number;
  ibgp: boolean;
  fourOctetAs: boolean;
  /** 4096, or 65535 with RFC 8654 extended messages. */
  maxSize: number;
  addPath: { ipv4: boolean; ipv6: boolean };
  /** The session's local address: the default next hop of its family. */
  localAddress: Buffer;
  /** The local interface's link-local address, sent with IPv6 next hops when the peer is on-link. */
  linkLocal6?: Buffer;
  /** Default next hop for the family the session is not: an address of the same interface. */
  otherFamilyNextHop?: Buffer;
  /** RFC 8950 negotiated: IPv4 routes may go in MP_REACH_NLRI with an IPv6 next hop. */
  ipv4WithIpv6NextHop?: boolean;
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

  constructor(ctx: EncodingContext) {
    this.ctx = ctx;
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
    if (family === 'ipv4') {
      const nh = set.nextHop4 ?? (c.localAddress.length === 4 ? c.localAddress : c.otherFamilyNextHop?.length === 4 ? c.otherFamilyNextHop : undefined);
      if (nh) {
        a.nextHop = nh;
        return { attrs: encodeAttributes(a, c.fourOctetAs) };
      }
      if (c.ipv4WithIpv6NextHop && c.localAddress.length === 16) {
        // RFC 8950: the IPv6 session address (and link-local) as the IPv4 route's next hop.
        const global = set.nextHop6 ?? c.localAddress;
        const ll = set.nextHop6 ? set.nextHop6LinkLocal : c.linkLocal6;
        return { attrs: encodeAttributes(a, c.fourOctetAs), nextHop: ll ? Buffer.concat([global, ll]) : global };
      }
      return 'an IPv4 route on an IPv6 session needs an IPv4 next hop: set nextHop.ipv4, give the session interface an IPv4 address, or use a peer with the extended next hop capability (RFC 8950)';
    }
    let global = set.nextHop6;
    let ll = set.nextHop6LinkLocal;
    if (!global) {
      // The session's address; on an IPv4 session the interface's global IPv6 address, else the
      // IPv4-mapped form (RFC 4291 §2.5.5.2), which many routers cannot forward to.
      if (c.localAddress.length === 16) global = c.localAddress;
      else if (c.otherFamilyNextHop?.length === 16) global = c.otherFamilyNextHop;
      else global = Buffer.concat([MAPPED_PREFIX, c.localAddress]);
      if (!ll) ll = c.linkLocal6;
    }
    return { attrs: encodeAttributes(a, c.fourOctetAs), nextHop: ll ? Buffer.concat([global, ll]) : global };
  }

  /**
   * Appends the UPDATEs announcing `prefixes` with `set` to `out`. Returns the number of
   * prefixes that could not be sent (with the reason), 0 when all went.
   */
  announce(family: Family, set: AttrSet, prefixes: readonly string[], out: Buffer[]): { skipped: number; reason?: string } {
    const e = this.encoded(family, set);
    if (typeof e === 'string') return { skipped: prefixes.length, reason: e };
    const addPath = this.ctx.addPath[family];
    const max = this.ctx.maxSize;
    let i = 0;
    while (i < prefixes.length) {
      const buf = Buffer.allocUnsafe(max);
      let off = HEADER_LENGTH;
      buf.writeUInt16BE(0, off); // no withdrawn routes
      off += 2;
      const attrLenAt = off;
      off += 2;
      off += e.attrs.copy(buf, off);
      if (family === 'ipv4' && !e.nextHop) {
        const nlriStart = off;
        off = this.fill(buf, off, max, prefixes, i, addPath, (n) => (i = n));
        buf.writeUInt16BE(nlriStart - attrLenAt - 2, attrLenAt);
      } else {
        const nh = e.nextHop as Buffer;
        const mpAt = off;
        buf[off] = AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH;
        buf[off + 1] = Attr.MP_REACH_NLRI;
        off += 4;
        buf.writeUInt16BE(family === 'ipv4' ? Afi.IPV4 : Afi.IPV6, off);
        buf[off + 2] = SAFI_UNICAST;
        buf[off + 3] = nh.length;
        off += 4;
        off += nh.copy(buf, off);
        buf[off++] = 0;
        off = this.fill(buf, off, max, prefixes, i, addPath, (n) => (i = n));
        buf.writeUInt16BE(off - mpAt - 4, mpAt + 2);
        buf.writeUInt16BE(off - attrLenAt - 2, attrLenAt);
      }
      out.push(finish(buf, off));
    }
    return { skipped: 0 };
  }

  /** Appends UPDATEs withdrawing `prefixes` to `out`. */
  withdraw(family: Family, prefixes: readonly string[], out: Buffer[]): void {
    const addPath = this.ctx.addPath[family];
    const max = this.ctx.maxSize;
    let i = 0;
    while (i < prefixes.length) {
      const buf = Buffer.allocUnsafe(max);
      let off = HEADER_LENGTH;
      if (family === 'ipv4') {
        off += 2;
        off = this.fill(buf, off, max - 2, prefixes, i, addPath, (n) => (i = n));
        buf.writeUInt16BE(off - HEADER_LENGTH - 2, HEADER_LENGTH);
        buf.writeUInt16BE(0, off);
        off += 2;
      } else {
        buf.writeUInt16BE(0, off);
        off += 2;
        const attrLenAt = off;
        off += 2;
        const mpAt = off;
        buf[off] = AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH;
        buf[off + 1] = Attr.MP_UNREACH_NLRI;
        off += 4;
        buf.writeUInt16BE(Afi.IPV6, off);
        buf[off + 2] = SAFI_UNICAST;
        off += 3;
        off = this.fill(buf, off, max, prefixes, i, addPath, (n) => (i = n));
        buf.writeUInt16BE(off - mpAt - 4, mpAt + 2);
        buf.writeUInt16BE(off - attrLenAt - 2, attrLenAt);
      }
      out.push(finish(buf, off));
    }
  }

  /** Writes NLRI from prefixes[from] on while they fit below `limit`; reports the next index. */
  private fill(buf: Buffer, off: number, limit: number, prefixes: readonly string[], from: number, addPath: boolean, setNext: (n: number) => void): number {
    let i = from;
    const pathId = addPath ? PATH_ID : undefined;
    for (; i < prefixes.length; i++) {
      const next = writeNlriText(buf, off, limit, prefixes[i] as string, pathId);
      if (next < 0) break;
      off = next;
    }
    if (i === from) throw new Error(`attributes leave no room for a prefix in a ${limit}-byte UPDATE`);
    setNext(i);
    return off;
  }
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
  return prefix.includes(':') ? 'ipv6' : 'ipv4';
}

