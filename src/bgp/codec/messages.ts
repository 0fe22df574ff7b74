// BGP messages: framing (header, bounded reassembly) and the five message types, as pure
// functions over Buffers (RFC 4271 §4, RFC 2918, RFC 8654).
import { Afi, AttrFlag, Attr, AS_TRANS, Err, HEADER_LENGTH, HeaderSub, MAX_MESSAGE, MsgType, OpenSub, SAFI_UNICAST, UpdateSub } from './constants.ts';
import { BgpError } from './errors.ts';
import { ByteReader, ByteWriter, type Fail } from '../../util/bytes.ts';
import { decodeOptionalParameters, encodeCapabilities, type Capabilities } from './capabilities.ts';
import { decodeAttributes, type AttributeProblem, type DecodeContext, type DecodedAttributes } from './attributes.ts';
import { decodeNlri, formatAddress, parseAddress, type DecodedNlri } from './prefix.ts';

export interface OpenMessage {
  type: 'open';
  version: number;
  /** The 2-byte My AS field (AS_TRANS when the real ASN is in the 4-octet AS capability). */
  myAs: number;
  holdTime: number;
  bgpId: string;
  capabilities: Capabilities;
}

export interface UpdateMessage {
  type: 'update';
  withdrawn: DecodedNlri[];
  attrs: DecodedAttributes;
  nlri: DecodedNlri[];
  problems: AttributeProblem[];
  /** RFC 7606: the announced routes must be handled as withdrawn. */
  treatAsWithdraw: boolean;
  /** Set when this UPDATE is an End-of-RIB marker (RFC 4724 §2). */
  endOfRib?: { afi: number; safi: number };
}

export interface NotificationMessage {
  type: 'notification';
  code: number;
  subcode: number;
  data: Buffer;
}

export interface KeepaliveMessage {
  type: 'keepalive';
}

export interface RouteRefreshMessage {
  type: 'route-refresh';
  afi: number;
  safi: number;
  /** RFC 7313 message subtype: 0 normal, 1 BoRR, 2 EoRR. */
  subtype: number;
}

export type BgpMessage = OpenMessage | UpdateMessage | NotificationMessage | KeepaliveMessage | RouteRefreshMessage;

// ---------------------------------------------------------------------------------------------
// Framing

/** Wraps a body in the 19-byte header. */
export function encodeMessage(type: number, body: Buffer): Buffer {
  const b = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
  b.fill(0xff, 0, 16);
  b.writeUInt16BE(HEADER_LENGTH + body.length, 16);
  b[18] = type;
  body.copy(b, HEADER_LENGTH);
  return b;
}

export interface RawMessage {
  type: number;
  body: Buffer;
}

/**
 * Reassembles messages from a TCP byte stream. Memory is bounded: it never holds more than one
 * partial message plus the chunk being read, and a header announcing more than `maxSize` bytes
 * is a Bad Message Length error.
 */
export class MessageReader {
  maxSize = MAX_MESSAGE;
  private pending: Buffer | undefined;

  push(chunk: Buffer): void {
    this.pending = this.pending && this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
  }

  /** Bytes held that do not yet form a whole message. */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }

  /** The next whole message, or undefined when more bytes are needed. Throws BgpError on a bad header. */
  next(): RawMessage | undefined {
    const p = this.pending;
    if (!p || p.length < HEADER_LENGTH) return undefined;
    const h = new ByteReader(p, badLength, 0, HEADER_LENGTH);
    const marker = h.bytes(16, 'marker');
    for (let i = 0; i < 16; i++) {
      if (marker[i] !== 0xff) throw new BgpError(Err.HEADER, HeaderSub.NOT_SYNCHRONIZED, 'message marker is not all ones');
    }
    const length = h.u16('message length');
    const type = h.u8('message type');
    checkHeader(length, type, this.maxSize);
    if (p.length < length) return undefined;
    const body = p.subarray(HEADER_LENGTH, length);
    this.pending = p.length === length ? undefined : p.subarray(length);
    return { type, body };
  }
}

const badLength: Fail = (what) => new BgpError(Err.HEADER, HeaderSub.BAD_LENGTH, what);

function checkHeader(length: number, type: number, maxSize: number): void {
  const bad = (): never => {
    const d = Buffer.alloc(2);
    d.writeUInt16BE(length, 0);
    throw new BgpError(Err.HEADER, HeaderSub.BAD_LENGTH, `message length ${length} is invalid for type ${type}`, d);
  };
  if (length < HEADER_LENGTH || length > maxSize) bad();
  switch (type) {
    case MsgType.OPEN:
      if (length < 29 || length > MAX_MESSAGE) bad();
      break;
    case MsgType.UPDATE:
      if (length < 23) bad();
      break;
    case MsgType.NOTIFICATION:
      if (length < 21) bad();
      break;
    case MsgType.KEEPALIVE:
      if (length !== HEADER_LENGTH) bad();
      break;
    case MsgType.ROUTE_REFRESH:
      if (length !== 23) bad();
      break;
    default:
      throw new BgpError(Err.HEADER, HeaderSub.BAD_TYPE, `message type ${type} is unknown`, Buffer.from([type]));
  }
}

// ---------------------------------------------------------------------------------------------
// OPEN

export interface OpenFields {
  /** The real local ASN; the My AS field carries AS_TRANS when it does not fit in 2 bytes. */
  asn: number;
  holdTime: number;
  bgpId: string;
  capabilities: Capabilities;
}

export function encodeOpen(o: OpenFields): Buffer {
  const params = encodeCapabilities(o.capabilities);
  if (params.length > 255) throw new Error(`OPEN optional parameters are ${params.length} bytes, over 255`);
  const w = new ByteWriter(10 + params.length);
  w.u8(4).u16(o.asn > 0xffff ? AS_TRANS : o.asn).u16(o.holdTime).bytes(parseAddress(o.bgpId)).u8(params.length).bytes(params);
  return encodeMessage(MsgType.OPEN, w.done());
}

export function decodeOpen(body: Buffer): OpenMessage {
  const r = new ByteReader(body, badLength);
  r.need(10, 'OPEN is shorter than 29 bytes');
  const version = r.u8('version');
  if (version !== 4) throw new BgpError(Err.OPEN, OpenSub.UNSUPPORTED_VERSION, `BGP version ${version} is not supported; only 4`, Buffer.from([0, 4]));
  const myAs = r.u16('My AS');
  const holdTime = r.u16('Hold Time');
  const bgpId = formatAddress(r.bytes(4, 'BGP Identifier'));
  const paramLen = r.u8('optional parameters length');
  if (paramLen !== r.remaining) throw new BgpError(Err.OPEN, 0, `OPEN optional parameter length ${paramLen} does not match the message`);
  return { type: 'open', version, myAs, holdTime, bgpId, capabilities: decodeOptionalParameters(r.rest()) };
}

// ---------------------------------------------------------------------------------------------
// UPDATE

/** Builds an UPDATE from its three already-encoded fields. */
export function encodeUpdate(withdrawn: Buffer, attributes: Buffer, nlri: Buffer): Buffer {
  const total = HEADER_LENGTH + 4 + withdrawn.length + attributes.length + nlri.length;
  const w = new ByteWriter(Buffer.allocUnsafe(total));
  w.fill(0xff, 16).u16(total).u8(MsgType.UPDATE);
  w.u16(withdrawn.length).bytes(withdrawn).u16(attributes.length).bytes(attributes).bytes(nlri);
  return w.done();
}

/** End-of-RIB: an empty UPDATE for IPv4 unicast, an empty MP_UNREACH_NLRI otherwise (RFC 4724 §2). */
export function encodeEndOfRib(afi: number, safi: number = SAFI_UNICAST): Buffer {
  if (afi === Afi.IPV4 && safi === SAFI_UNICAST) return encodeUpdate(Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0));
  const attr = Buffer.from([AttrFlag.OPTIONAL, Attr.MP_UNREACH_NLRI, 3, afi >> 8, afi & 0xff, safi]);
  return encodeUpdate(Buffer.alloc(0), attr, Buffer.alloc(0));
}

const malformedAttributeList: Fail = (what) => new BgpError(Err.UPDATE, UpdateSub.MALFORMED_ATTRIBUTE_LIST, what);

export function decodeUpdate(body: Buffer, ctx: DecodeContext): UpdateMessage {
  const r = new ByteReader(body, malformedAttributeList);
  r.need(4, 'UPDATE is shorter than 23 bytes');
  const wLen = r.u16('withdrawn routes length');
  if (wLen + 2 > r.remaining) throw malformedAttributeList(`withdrawn routes length ${wLen} overruns the UPDATE`, { need: wLen + 2, offset: r.offset, left: r.remaining });
  const withdrawnField = r.bytes(wLen, 'withdrawn routes');
  const aLen = r.u16('path attribute length');
  if (aLen > r.remaining) throw malformedAttributeList(`path attribute length ${aLen} overruns the UPDATE`, { need: aLen, offset: r.offset, left: r.remaining });
  const attributeField = r.bytes(aLen, 'path attributes');
  const v4AddPath = ctx.addPathReceive(Afi.IPV4, SAFI_UNICAST);
  const withdrawn = decodeNlri(withdrawnField, Afi.IPV4, v4AddPath);
  const nlri = decodeNlri(r.rest(), Afi.IPV4, v4AddPath);
  if (wLen === 0 && aLen === 0 && nlri.length === 0) {
    return { type: 'update', withdrawn, attrs: { unknown: [] }, nlri, problems: [], treatAsWithdraw: false, endOfRib: { afi: Afi.IPV4, safi: SAFI_UNICAST } };
  }
  const { attrs, problems } = decodeAttributes(attributeField, ctx);
  const msg: UpdateMessage = { type: 'update', withdrawn, attrs, nlri, problems, treatAsWithdraw: false };
  const announces = nlri.length > 0 || (attrs.mpReach?.nlri.length ?? 0) > 0;
  if (announces) {
    // RFC 7606 §3.d: a missing well-known mandatory attribute means treat-as-withdraw.
    if (attrs.origin === undefined && !problems.some((p) => p.code === Attr.ORIGIN)) problems.push({ action: 'treat-as-withdraw', code: Attr.ORIGIN, reason: 'ORIGIN is missing' });
    if (attrs.asPath === undefined && !problems.some((p) => p.code === Attr.AS_PATH)) problems.push({ action: 'treat-as-withdraw', code: Attr.AS_PATH, reason: 'AS_PATH is missing' });
    if (nlri.length > 0 && attrs.nextHop === undefined && !problems.some((p) => p.code === Attr.NEXT_HOP)) problems.push({ action: 'treat-as-withdraw', code: Attr.NEXT_HOP, reason: 'NEXT_HOP is missing' });
  }
  msg.treatAsWithdraw = problems.some((p) => p.action === 'treat-as-withdraw');
  const un = attrs.mpUnreach;
  // Only an empty MP_UNREACH_NLRI (some peers write it with the extended-length flag).
  const onlyUnreach = Object.keys(attrs).length === 2 && attrs.unknown.length === 0 && problems.length === 0;
  if (un && un.withdrawn.length === 0 && wLen === 0 && nlri.length === 0 && onlyUnreach) {
    msg.endOfRib = { afi: un.afi, safi: un.safi };
  }
  return msg;
}

// ---------------------------------------------------------------------------------------------
// NOTIFICATION, KEEPALIVE, ROUTE-REFRESH

export function encodeNotification(code: number, subcode: number, data: Buffer = Buffer.alloc(0)): Buffer {
  return encodeMessage(MsgType.NOTIFICATION, Buffer.concat([Buffer.from([code, subcode]), data]));
}

export function decodeNotification(body: Buffer): NotificationMessage {
  return { type: 'notification', code: body[0] ?? 0, subcode: body[1] ?? 0, data: Buffer.from(body.subarray(2)) };
}

const KEEPALIVE = encodeMessage(MsgType.KEEPALIVE, Buffer.alloc(0));
export function encodeKeepalive(): Buffer {
  return KEEPALIVE;
}

export function encodeRouteRefresh(afi: number, safi: number, subtype = 0): Buffer {
  return encodeMessage(MsgType.ROUTE_REFRESH, Buffer.from([afi >> 8, afi & 0xff, subtype, safi]));
}

export function decodeRouteRefresh(body: Buffer): RouteRefreshMessage {
  return { type: 'route-refresh', afi: body.readUInt16BE(0), subtype: body[2] ?? 0, safi: body[3] ?? 0 };
}

/** Decodes a framed message's body by type. Throws BgpError for errors needing a NOTIFICATION. */
export function decodeMessage(raw: RawMessage, ctx: DecodeContext): BgpMessage {
  switch (raw.type) {
    case MsgType.OPEN:
      return decodeOpen(raw.body);
    case MsgType.UPDATE:
      return decodeUpdate(raw.body, ctx);
    case MsgType.NOTIFICATION:
      return decodeNotification(raw.body);
    case MsgType.KEEPALIVE:
      return { type: 'keepalive' };
    case MsgType.ROUTE_REFRESH:
      return decodeRouteRefresh(raw.body);
    default:
      throw new BgpError(Err.HEADER, HeaderSub.BAD_TYPE, `message type ${raw.type} is unknown`, Buffer.from([raw.type]));
  }
}
