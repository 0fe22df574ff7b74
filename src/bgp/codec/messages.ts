// BGP messages: framing (header, bounded reassembly) and the five message types, as pure
// functions over Buffers (RFC 4271 §4, RFC 2918, RFC 8654).
import { Afi, AttrFlag, Attr, AS_TRANS, Err, HEADER_LENGTH, HeaderSub, MAX_MESSAGE, MsgType, OpenSub, SAFI_UNICAST, UpdateSub } from './constants.ts';
import { BgpError } from './errors.ts';
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
    for (let i = 0; i < 16; i++) {
      if (p[i] !== 0xff) throw new BgpError(Err.HEADER, HeaderSub.NOT_SYNCHRONIZED, 'message marker is not all ones');
    }
    const length = p.readUInt16BE(16);
    const type = p[18] ?? 0;
    checkHeader(length, type, this.maxSize);
    if (p.length < length) return undefined;
    const body = p.subarray(HEADER_LENGTH, length);
    this.pending = p.length === length ? undefined : p.subarray(length);
    return { type, body };
  }
}

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
  const body = Buffer.allocUnsafe(10 + params.length);
  body[0] = 4;
  body.writeUInt16BE(o.asn > 0xffff ? AS_TRANS : o.asn, 1);
  body.writeUInt16BE(o.holdTime, 3);
  parseAddress(o.bgpId).copy(body, 5);
  body[9] = params.length;
  params.copy(body, 10);
  return encodeMessage(MsgType.OPEN, body);
}

export function decodeOpen(body: Buffer): OpenMessage {
  if (body.length < 10) throw new BgpError(Err.HEADER, HeaderSub.BAD_LENGTH, 'OPEN is shorter than 29 bytes');
  const version = body[0] ?? 0;
  if (version !== 4) throw new BgpError(Err.OPEN, OpenSub.UNSUPPORTED_VERSION, `BGP version ${version} is not supported; only 4`, Buffer.from([0, 4]));
  const paramLen = body[9] ?? 0;
  if (10 + paramLen !== body.length) throw new BgpError(Err.OPEN, 0, `OPEN optional parameter length ${paramLen} does not match the message`);
  return {
    type: 'open',
    version,
    myAs: body.readUInt16BE(1),
    holdTime: body.readUInt16BE(3),
    bgpId: formatAddress(body.subarray(5, 9)),
    capabilities: decodeOptionalParameters(body.subarray(10)),
  };
}

// ---------------------------------------------------------------------------------------------
// UPDATE

/** Builds an UPDATE from its three already-encoded fields. */
export function encodeUpdate(withdrawn: Buffer, attributes: Buffer, nlri: Buffer): Buffer {
  const total = HEADER_LENGTH + 4 + withdrawn.length + attributes.length + nlri.length;
  const b = Buffer.allocUnsafe(total);
  b.fill(0xff, 0, 16);
  b.writeUInt16BE(total, 16);
  b[18] = MsgType.UPDATE;
  let off = HEADER_LENGTH;
  b.writeUInt16BE(withdrawn.length, off);
  off += 2;
  off += withdrawn.copy(b, off);
  b.writeUInt16BE(attributes.length, off);
  off += 2;
  off += attributes.copy(b, off);
  nlri.copy(b, off);
  return b;
}

/** End-of-RIB: an empty UPDATE for IPv4 unicast, an empty MP_UNREACH_NLRI otherwise (RFC 4724 §2). */
export function encodeEndOfRib(afi: number, safi: number = SAFI_UNICAST): Buffer {
  if (afi === Afi.IPV4 && safi === SAFI_UNICAST) return encodeUpdate(Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0));
  const attr = Buffer.from([AttrFlag.OPTIONAL, Attr.MP_UNREACH_NLRI, 3, afi >> 8, afi & 0xff, safi]);
  return encodeUpdate(Buffer.alloc(0), attr, Buffer.alloc(0));
}

export function decodeUpdate(body: Buffer, ctx: DecodeContext): UpdateMessage {
  if (body.length < 4) throw new BgpError(Err.UPDATE, UpdateSub.MALFORMED_ATTRIBUTE_LIST, 'UPDATE is shorter than 23 bytes');
  const wLen = body.readUInt16BE(0);
  if (2 + wLen + 2 > body.length) throw new BgpError(Err.UPDATE, UpdateSub.MALFORMED_ATTRIBUTE_LIST, `withdrawn routes length ${wLen} overruns the UPDATE`);
  const aLen = body.readUInt16BE(2 + wLen);
  const aStart = 4 + wLen;
  if (aStart + aLen > body.length) throw new BgpError(Err.UPDATE, UpdateSub.MALFORMED_ATTRIBUTE_LIST, `path attribute length ${aLen} overruns the UPDATE`);
  const v4AddPath = ctx.addPathReceive(Afi.IPV4, SAFI_UNICAST);
  const withdrawn = decodeNlri(body.subarray(2, 2 + wLen), Afi.IPV4, v4AddPath);
  const nlri = decodeNlri(body.subarray(aStart + aLen), Afi.IPV4, v4AddPath);
  if (wLen === 0 && aLen === 0 && nlri.length === 0) {
    return { type: 'update', withdrawn, attrs: { unknown: [] }, nlri, problems: [], treatAsWithdraw: false, endOfRib: { afi: Afi.IPV4, safi: SAFI_UNICAST } };
  }
  const { attrs, problems } = decodeAttributes(body.subarray(aStart, aStart + aLen), ctx);
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
