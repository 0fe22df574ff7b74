// Path attributes: encoding what we announce, and decoding what peers send with the
// RFC 7606 revised error handling (treat-as-withdraw, attribute discard, session reset).
import { Afi, AsSegment, Attr, AttrFlag, AS_TRANS, Err, SAFI_UNICAST, UpdateSub } from './constants.ts';
import { BgpError } from './errors.ts';
import { ByteReader, type Fail } from '../../util/bytes.ts';
import { decodeNlri, formatAddress, parseAddress, type AfiNumber, type DecodedNlri } from './prefix.ts';
import type { LargeCommunity } from './communities.ts';

// ---------------------------------------------------------------------------------------------
// Encoding

/** Writes one attribute with the extended-length flag when the value needs it. */
export function encodeAttribute(flags: number, code: number, value: Buffer): Buffer {
  const ext = value.length > 255;
  const b = Buffer.allocUnsafe((ext ? 4 : 3) + value.length);
  b[0] = (ext ? flags | AttrFlag.EXTENDED_LENGTH : flags & ~AttrFlag.EXTENDED_LENGTH) & 0xff;
  b[1] = code;
  if (ext) b.writeUInt16BE(value.length, 2);
  else b[2] = value.length;
  value.copy(b, ext ? 4 : 3);
  return b;
}

function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0, 0);
  return b;
}

function asPathValue(asns: number[], fourOctet: boolean): Buffer {
  if (asns.length === 0) return Buffer.alloc(0);
  const segs: Buffer[] = [];
  for (let i = 0; i < asns.length; i += 255) {
    const chunk = asns.slice(i, i + 255);
    const w = fourOctet ? 4 : 2;
    const b = Buffer.allocUnsafe(2 + chunk.length * w);
    b[0] = AsSegment.AS_SEQUENCE;
    b[1] = chunk.length;
    chunk.forEach((a, j) => {
      if (fourOctet) b.writeUInt32BE(a >>> 0, 2 + j * 4);
      else b.writeUInt16BE(a > 0xffff ? AS_TRANS : a, 2 + j * 2);
    });
    segs.push(b);
  }
  return Buffer.concat(segs);
}

/** What we put in the path attributes of an UPDATE, except MP_REACH_NLRI (added per message). */
export interface OutgoingAttributes {
  origin: number;
  /** AS_SEQUENCE, leftmost first: [localAsn] on eBGP, [] on iBGP. */
  asPath: number[];
  /** IPv4 NEXT_HOP attribute (4 bytes), for IPv4 routes in the classic NLRI field. */
  nextHop?: Buffer;
  med?: number;
  localPref?: number;
  communities?: number[];
  largeCommunities?: LargeCommunity[];
}

/**
 * Encodes the attributes in type-code order. Without the 4-octet AS capability on the session,
 * ASNs over 65535 go out as AS_TRANS with the real path in AS4_PATH (RFC 6793 §4.2.2).
 */
export function encodeAttributes(a: OutgoingAttributes, fourOctetAs: boolean): Buffer {
  const parts: Buffer[] = [];
  parts.push(encodeAttribute(AttrFlag.TRANSITIVE, Attr.ORIGIN, Buffer.from([a.origin])));
  parts.push(encodeAttribute(AttrFlag.TRANSITIVE, Attr.AS_PATH, asPathValue(a.asPath, fourOctetAs)));
  if (a.nextHop) parts.push(encodeAttribute(AttrFlag.TRANSITIVE, Attr.NEXT_HOP, a.nextHop));
  if (a.med !== undefined) parts.push(encodeAttribute(AttrFlag.OPTIONAL, Attr.MED, u32(a.med)));
  if (a.localPref !== undefined) parts.push(encodeAttribute(AttrFlag.TRANSITIVE, Attr.LOCAL_PREF, u32(a.localPref)));
  if (a.communities?.length) {
    const b = Buffer.allocUnsafe(4 * a.communities.length);
    a.communities.forEach((c, i) => b.writeUInt32BE(c >>> 0, i * 4));
    parts.push(encodeAttribute(AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE, Attr.COMMUNITIES, b));
  }
  if (!fourOctetAs && a.asPath.some((x) => x > 0xffff)) {
    parts.push(encodeAttribute(AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE, Attr.AS4_PATH, asPathValue(a.asPath, true)));
  }
  if (a.largeCommunities?.length) {
    const b = Buffer.allocUnsafe(12 * a.largeCommunities.length);
    a.largeCommunities.forEach((c, i) => {
      b.writeUInt32BE(c[0] >>> 0, i * 12);
      b.writeUInt32BE(c[1] >>> 0, i * 12 + 4);
      b.writeUInt32BE(c[2] >>> 0, i * 12 + 8);
    });
    parts.push(encodeAttribute(AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE, Attr.LARGE_COMMUNITIES, b));
  }
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// Decoding

export interface AsPathSegment {
  type: number;
  asns: number[];
}

export interface MpReach extends AfiSafiNumbers {
  nextHops: string[];
  nlri: DecodedNlri[];
}

export interface AfiSafiNumbers {
  afi: number;
  safi: number;
}

export interface MpUnreach extends AfiSafiNumbers {
  withdrawn: DecodedNlri[];
}

export interface DecodedAttributes {
  origin?: number;
  asPath?: AsPathSegment[];
  nextHop?: string;
  med?: number;
  localPref?: number;
  atomicAggregate?: boolean;
  aggregator?: { asn: number; address: string };
  communities?: number[];
  largeCommunities?: LargeCommunity[];
  extendedCommunities?: Buffer[];
  originatorId?: string;
  clusterList?: string[];
  as4Path?: AsPathSegment[];
  as4Aggregator?: { asn: number; address: string };
  mpReach?: MpReach;
  mpUnreach?: MpUnreach;
  /** Optional attributes we do not interpret, kept as raw values. */
  unknown: Array<{ flags: number; code: number; value: Buffer }>;
}

export type ErrorAction = 'treat-as-withdraw' | 'attribute-discard';

/** A non-fatal RFC 7606 finding: what was wrong and how it was handled. */
export interface AttributeProblem {
  action: ErrorAction;
  code: number;
  reason: string;
}

export interface DecodeContext {
  fourOctetAs: boolean;
  ibgp: boolean;
  /** Whether received NLRI of this family carry ADD-PATH path identifiers. */
  addPathReceive: (afi: number, safi: number) => boolean;
}

type Handling = 'taw' | 'discard' | 'reset';

// Expected Optional/Transitive flags of recognised attributes, and what a malformed one gets.
const RULES: Record<number, { flags: number; malformed: Handling }> = {
  [Attr.ORIGIN]: { flags: AttrFlag.TRANSITIVE, malformed: 'taw' },
  [Attr.AS_PATH]: { flags: AttrFlag.TRANSITIVE, malformed: 'taw' },
  [Attr.NEXT_HOP]: { flags: AttrFlag.TRANSITIVE, malformed: 'taw' },
  [Attr.MED]: { flags: AttrFlag.OPTIONAL, malformed: 'taw' },
  [Attr.LOCAL_PREF]: { flags: AttrFlag.TRANSITIVE, malformed: 'taw' },
  [Attr.ATOMIC_AGGREGATE]: { flags: AttrFlag.TRANSITIVE, malformed: 'discard' },
  [Attr.AGGREGATOR]: { flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE, malformed: 'discard' },
  [Attr.COMMUNITIES]: { flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE, malformed: 'taw' },
  [Attr.ORIGINATOR_ID]: { flags: AttrFlag.OPTIONAL, malformed: 'taw' },
  [Attr.CLUSTER_LIST]: { flags: AttrFlag.OPTIONAL, malformed: 'taw' },
  [Attr.MP_REACH_NLRI]: { flags: AttrFlag.OPTIONAL, malformed: 'reset' },
  [Attr.MP_UNREACH_NLRI]: { flags: AttrFlag.OPTIONAL, malformed: 'reset' },
  [Attr.EXTENDED_COMMUNITIES]: { flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE, malformed: 'taw' },
  [Attr.AS4_PATH]: { flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE, malformed: 'discard' },
  [Attr.AS4_AGGREGATOR]: { flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE, malformed: 'discard' },
  [Attr.LARGE_COMMUNITIES]: { flags: AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE, malformed: 'taw' },
};

class Malformed extends Error {
  readonly subcode: number;
  constructor(subcode: number, message: string) {
    super(message);
    this.subcode = subcode;
  }
}

const malformedAsPath: Fail = (what) => new Malformed(UpdateSub.MALFORMED_AS_PATH, what);
const malformedOptional: Fail = (what) => new Malformed(UpdateSub.OPTIONAL_ATTRIBUTE, what);

function decodeAsPath(v: Buffer, width: 2 | 4): AsPathSegment[] {
  const segs: AsPathSegment[] = [];
  const r = new ByteReader(v, malformedAsPath);
  while (r.remaining > 0) {
    r.need(2, 'AS_PATH segment header is truncated');
    const type = r.u8('AS_PATH segment type');
    const n = r.u8('AS_PATH segment length');
    if (type < AsSegment.AS_SET || type > AsSegment.AS_CONFED_SET) throw new Malformed(UpdateSub.MALFORMED_AS_PATH, `AS_PATH segment type ${type} is unknown`);
    if (n === 0) throw new Malformed(UpdateSub.MALFORMED_AS_PATH, 'AS_PATH segment is empty');
    r.need(n * width, 'AS_PATH segment overruns the attribute');
    const asns: number[] = [];
    for (let i = 0; i < n; i++) asns.push(width === 4 ? r.u32('AS number') : r.u16('AS number'));
    segs.push({ type, asns });
  }
  return segs;
}

function addrList(v: Buffer, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + size <= v.length; i += size) out.push(formatAddress(v.subarray(i, i + size)));
  return out;
}

/** An inner error's message without its NOTIFICATION suffix. */
function bare(e: unknown): string {
  return (e as Error).message.replace(/ \[[^\]]*\]$/, '');
}

function decodeMpReach(v: Buffer, ctx: DecodeContext): MpReach {
  const r = new ByteReader(v, malformedOptional);
  r.need(5, 'MP_REACH_NLRI is shorter than 5 bytes');
  const afi = r.u16('AFI');
  const safi = r.u8('SAFI');
  const nhLen = r.u8('next hop length');
  r.need(nhLen + 1, 'MP_REACH_NLRI next hop overruns the attribute');
  const nh = r.bytes(nhLen, 'next hop');
  r.skip(1, 'reserved byte');
  const rest = r.rest();
  if (safi !== SAFI_UNICAST || (afi !== Afi.IPV4 && afi !== Afi.IPV6)) {
    // A family we never negotiate: nothing to validate inside, and nothing to do with it.
    return { afi, safi, nextHops: [], nlri: [] };
  }
  let nextHops: string[];
  if (nhLen === 4) nextHops = addrList(nh, 4);
  else if (nhLen === 16 || nhLen === 32) nextHops = addrList(nh, 16);
  else throw new Malformed(UpdateSub.OPTIONAL_ATTRIBUTE, `MP_REACH_NLRI next hop length ${nhLen} is invalid`);
  let nlri: DecodedNlri[];
  try {
    nlri = decodeNlri(rest, afi as AfiNumber, ctx.addPathReceive(afi, safi));
  } catch (e) {
    throw new Malformed(UpdateSub.OPTIONAL_ATTRIBUTE, `MP_REACH_NLRI: ${bare(e)}`);
  }
  return { afi, safi, nextHops, nlri };
}

function decodeMpUnreach(v: Buffer, ctx: DecodeContext): MpUnreach {
  const r = new ByteReader(v, malformedOptional);
  r.need(3, 'MP_UNREACH_NLRI is shorter than 3 bytes');
  const afi = r.u16('AFI');
  const safi = r.u8('SAFI');
  if (safi !== SAFI_UNICAST || (afi !== Afi.IPV4 && afi !== Afi.IPV6)) return { afi, safi, withdrawn: [] };
  try {
    return { afi, safi, withdrawn: decodeNlri(r.rest(), afi as AfiNumber, ctx.addPathReceive(afi, safi)) };
  } catch (e) {
    throw new Malformed(UpdateSub.OPTIONAL_ATTRIBUTE, `MP_UNREACH_NLRI: ${bare(e)}`);
  }
}

function decodeOne(code: number, v: Buffer, out: DecodedAttributes, ctx: DecodeContext): void {
  const len = v.length;
  switch (code) {
    case Attr.ORIGIN:
      if (len !== 1) throw new Malformed(UpdateSub.ATTRIBUTE_LENGTH, `ORIGIN has length ${len}, expected 1`);
      if ((v[0] ?? 0) > 2) throw new Malformed(UpdateSub.INVALID_ORIGIN, `ORIGIN value ${v[0]} is undefined`);
      out.origin = v[0] ?? 0;
      return;
    case Attr.AS_PATH:
      out.asPath = decodeAsPath(v, ctx.fourOctetAs ? 4 : 2);
      return;
    case Attr.NEXT_HOP:
      if (len !== 4) throw new Malformed(UpdateSub.ATTRIBUTE_LENGTH, `NEXT_HOP has length ${len}, expected 4`);
      out.nextHop = formatAddress(v);
      return;
    case Attr.MED:
      if (len !== 4) throw new Malformed(UpdateSub.ATTRIBUTE_LENGTH, `MED has length ${len}, expected 4`);
      out.med = v.readUInt32BE(0);
      return;
    case Attr.LOCAL_PREF:
      if (len !== 4) throw new Malformed(UpdateSub.ATTRIBUTE_LENGTH, `LOCAL_PREF has length ${len}, expected 4`);
      out.localPref = v.readUInt32BE(0);
      return;
    case Attr.ATOMIC_AGGREGATE:
      if (len !== 0) throw new Malformed(UpdateSub.ATTRIBUTE_LENGTH, `ATOMIC_AGGREGATE has length ${len}, expected 0`);
      out.atomicAggregate = true;
      return;
    case Attr.AGGREGATOR: {
      const w = ctx.fourOctetAs ? 8 : 6;
      if (len !== w) throw new Malformed(UpdateSub.ATTRIBUTE_LENGTH, `AGGREGATOR has length ${len}, expected ${w}`);
      out.aggregator = { asn: w === 8 ? v.readUInt32BE(0) : v.readUInt16BE(0), address: formatAddress(v.subarray(w - 4)) };
      return;
    }
    case Attr.COMMUNITIES:
      if (len === 0 || len % 4) throw new Malformed(UpdateSub.OPTIONAL_ATTRIBUTE, `COMMUNITIES has length ${len}, not a positive multiple of 4`);
      out.communities = [];
      for (let i = 0; i < len; i += 4) out.communities.push(v.readUInt32BE(i));
      return;
    case Attr.ORIGINATOR_ID:
      if (len !== 4) throw new Malformed(UpdateSub.ATTRIBUTE_LENGTH, `ORIGINATOR_ID has length ${len}, expected 4`);
      out.originatorId = formatAddress(v);
      return;
    case Attr.CLUSTER_LIST:
      if (len === 0 || len % 4) throw new Malformed(UpdateSub.ATTRIBUTE_LENGTH, `CLUSTER_LIST has length ${len}, not a positive multiple of 4`);
      out.clusterList = addrList(v, 4);
      return;
    case Attr.MP_REACH_NLRI:
      out.mpReach = decodeMpReach(v, ctx);
      return;
    case Attr.MP_UNREACH_NLRI:
      out.mpUnreach = decodeMpUnreach(v, ctx);
      return;
    case Attr.EXTENDED_COMMUNITIES:
      if (len === 0 || len % 8) throw new Malformed(UpdateSub.OPTIONAL_ATTRIBUTE, `EXTENDED_COMMUNITIES has length ${len}, not a positive multiple of 8`);
      out.extendedCommunities = [];
      for (let i = 0; i < len; i += 8) out.extendedCommunities.push(Buffer.from(v.subarray(i, i + 8)));
      return;
    case Attr.AS4_PATH:
      out.as4Path = decodeAsPath(v, 4);
      return;
    case Attr.AS4_AGGREGATOR:
      if (len !== 8) throw new Malformed(UpdateSub.OPTIONAL_ATTRIBUTE, `AS4_AGGREGATOR has length ${len}, expected 8`);
      out.as4Aggregator = { asn: v.readUInt32BE(0), address: formatAddress(v.subarray(4)) };
      return;
    case Attr.LARGE_COMMUNITIES:
      if (len === 0 || len % 12) throw new Malformed(UpdateSub.OPTIONAL_ATTRIBUTE, `LARGE_COMMUNITIES has length ${len}, not a positive multiple of 12`);
      out.largeCommunities = [];
      for (let i = 0; i < len; i += 12) out.largeCommunities.push([v.readUInt32BE(i), v.readUInt32BE(i + 4), v.readUInt32BE(i + 8)]);
      return;
  }
}

export interface AttributesResult {
  attrs: DecodedAttributes;
  problems: AttributeProblem[];
}

/**
 * Decodes the Path Attributes field. Errors that RFC 7606 handles without a session reset are
 * returned in `problems`; those that require one throw a BgpError.
 */
export function decodeAttributes(field: Buffer, ctx: DecodeContext): AttributesResult {
  const attrs: DecodedAttributes = { unknown: [] };
  const problems: AttributeProblem[] = [];
  const seen = new Set<number>();
  // Truncation here is not an exception: RFC 7606 makes most of it treat-as-withdraw.
  const r = new ByteReader(field);
  while (r.remaining > 0) {
    if (r.remaining < 3) {
      problems.push({ action: 'treat-as-withdraw', code: 0, reason: 'attribute header is truncated' });
      break;
    }
    const flags = r.u8('attribute flags');
    const code = r.u8('attribute type');
    const ext = (flags & AttrFlag.EXTENDED_LENGTH) !== 0;
    if (ext && r.remaining < 2) {
      problems.push({ action: 'treat-as-withdraw', code, reason: 'attribute header is truncated' });
      break;
    }
    const len = ext ? r.u16('attribute length') : r.u8('attribute length');
    if (len > r.remaining) {
      // RFC 7606 §4: an attribute overrunning the field makes the rest unparseable.
      if (code === Attr.MP_REACH_NLRI || code === Attr.MP_UNREACH_NLRI) {
        throw new BgpError(Err.UPDATE, UpdateSub.MALFORMED_ATTRIBUTE_LIST, `attribute ${code} overruns the path attributes`);
      }
      problems.push({ action: 'treat-as-withdraw', code, reason: `attribute ${code} length ${len} overruns the path attributes` });
      break;
    }
    const value = r.bytes(len, 'attribute value');

    if (seen.has(code)) {
      if (code === Attr.MP_REACH_NLRI || code === Attr.MP_UNREACH_NLRI) {
        throw new BgpError(Err.UPDATE, UpdateSub.MALFORMED_ATTRIBUTE_LIST, `attribute ${code} appears twice`);
      }
      problems.push({ action: 'attribute-discard', code, reason: `attribute ${code} appears twice: later copies discarded` });
      continue;
    }
    seen.add(code);

    const rule = RULES[code];
    if (!rule) {
      if ((flags & AttrFlag.OPTIONAL) === 0) {
        throw new BgpError(Err.UPDATE, UpdateSub.UNRECOGNIZED_WELL_KNOWN, `well-known attribute ${code} is not recognised`, encodeAttribute(flags, code, value));
      }
      attrs.unknown.push({ flags, code, value: Buffer.from(value) });
      continue;
    }
    // Attributes that only make sense inside an AS are dropped when an external peer sends them.
    if (!ctx.ibgp && (code === Attr.LOCAL_PREF || code === Attr.ORIGINATOR_ID || code === Attr.CLUSTER_LIST)) {
      problems.push({ action: 'attribute-discard', code, reason: `attribute ${code} from an external peer discarded` });
      continue;
    }
    try {
      if ((flags & (AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE)) !== rule.flags) {
        throw new Malformed(UpdateSub.ATTRIBUTE_FLAGS, `attribute ${code} has flags 0x${flags.toString(16)}`);
      }
      decodeOne(code, value, attrs, ctx);
    } catch (e) {
      if (!(e instanceof Malformed)) throw e;
      if (rule.malformed === 'reset') throw new BgpError(Err.UPDATE, e.subcode, e.message, encodeAttribute(flags, code, value));
      problems.push({ action: rule.malformed === 'taw' ? 'treat-as-withdraw' : 'attribute-discard', code, reason: e.message });
    }
  }
  return { attrs, problems };
}

// ---------------------------------------------------------------------------------------------
// Re-encoding decoded attributes (round-trip tests, scripted peers)

function segmentsValue(segs: AsPathSegment[], width: 2 | 4): Buffer {
  return Buffer.concat(segs.map((s) => {
    const b = Buffer.allocUnsafe(2 + s.asns.length * width);
    b[0] = s.type;
    b[1] = s.asns.length;
    s.asns.forEach((a, i) => (width === 4 ? b.writeUInt32BE(a >>> 0, 2 + i * 4) : b.writeUInt16BE(a & 0xffff, 2 + i * 2)));
    return b;
  }));
}

function nlriValue(list: DecodedNlri[]): Buffer {
  return Buffer.concat(list.map((n) => {
    const slash = n.prefix.lastIndexOf('/');
    const len = Number(n.prefix.slice(slash + 1));
    const addr = parseAddressBytes(n.prefix.slice(0, slash));
    const bytes = (len + 7) >> 3;
    const head = n.pathId !== undefined ? 5 : 1;
    const b = Buffer.alloc(head + bytes);
    if (n.pathId !== undefined) b.writeUInt32BE(n.pathId, 0);
    b[head - 1] = len;
    addr.copy(b, head, 0, bytes);
    return b;
  }));
}

/** Encodes an NLRI list (path identifiers included when present). */
export function encodeNlriList(list: DecodedNlri[]): Buffer {
  return nlriValue(list);
}

/**
 * Encodes decoded attributes back to wire form, in type-code order, with the standard flags.
 * decodeAttributes(encodeDecodedAttributes(a)) gives `a` back for valid input.
 */
export function encodeDecodedAttributes(a: DecodedAttributes, fourOctetAs: boolean): Buffer {
  const T = AttrFlag.TRANSITIVE;
  const O = AttrFlag.OPTIONAL;
  const parts: Array<[number, Buffer]> = [];
  const add = (code: number, flags: number, v: Buffer): void => {
    parts.push([code, encodeAttribute(flags, code, v)]);
  };
  if (a.origin !== undefined) add(Attr.ORIGIN, T, Buffer.from([a.origin]));
  if (a.asPath) add(Attr.AS_PATH, T, segmentsValue(a.asPath, fourOctetAs ? 4 : 2));
  if (a.nextHop !== undefined) add(Attr.NEXT_HOP, T, parseAddressBytes(a.nextHop));
  if (a.med !== undefined) add(Attr.MED, O, u32(a.med));
  if (a.localPref !== undefined) add(Attr.LOCAL_PREF, T, u32(a.localPref));
  if (a.atomicAggregate) add(Attr.ATOMIC_AGGREGATE, T, Buffer.alloc(0));
  if (a.aggregator) {
    const asn = fourOctetAs ? u32(a.aggregator.asn) : Buffer.from([a.aggregator.asn >> 8, a.aggregator.asn & 0xff]);
    add(Attr.AGGREGATOR, O | T, Buffer.concat([asn, parseAddressBytes(a.aggregator.address)]));
  }
  if (a.communities) add(Attr.COMMUNITIES, O | T, Buffer.concat(a.communities.map(u32)));
  if (a.originatorId !== undefined) add(Attr.ORIGINATOR_ID, O, parseAddressBytes(a.originatorId));
  if (a.clusterList) add(Attr.CLUSTER_LIST, O, Buffer.concat(a.clusterList.map(parseAddressBytes)));
  if (a.mpReach) {
    const m = a.mpReach;
    const nh = Buffer.concat(m.nextHops.map(parseAddressBytes));
    add(Attr.MP_REACH_NLRI, O, Buffer.concat([Buffer.from([m.afi >> 8, m.afi & 0xff, m.safi, nh.length]), nh, Buffer.from([0]), nlriValue(m.nlri)]));
  }
  if (a.mpUnreach) {
    const m = a.mpUnreach;
    add(Attr.MP_UNREACH_NLRI, O, Buffer.concat([Buffer.from([m.afi >> 8, m.afi & 0xff, m.safi]), nlriValue(m.withdrawn)]));
  }
  if (a.extendedCommunities) add(Attr.EXTENDED_COMMUNITIES, O | T, Buffer.concat(a.extendedCommunities));
  if (a.as4Path) add(Attr.AS4_PATH, O | T, segmentsValue(a.as4Path, 4));
  if (a.as4Aggregator) add(Attr.AS4_AGGREGATOR, O | T, Buffer.concat([u32(a.as4Aggregator.asn), parseAddressBytes(a.as4Aggregator.address)]));
  if (a.largeCommunities) add(Attr.LARGE_COMMUNITIES, O | T, Buffer.concat(a.largeCommunities.map((c) => Buffer.concat([u32(c[0]), u32(c[1]), u32(c[2])]))));
  for (const u of a.unknown) parts.push([u.code, encodeAttribute(u.flags, u.code, u.value)]);
  parts.sort((x, y) => x[0] - y[0]);
  return Buffer.concat(parts.map((p) => p[1]));
}

function parseAddressBytes(text: string): Buffer {
  return parseAddress(text);
}
