// Membership wire format: pure encode/decode over Buffers (no sockets, no timers, no keys).
// Authentication (the trailing HMAC) is added and checked by auth.ts around these bytes.
//
// Layout (big-endian), version 2:
//   'I' 'L' | version u8 | type u8 | from: len u8 + utf8 | to: len u8 + utf8
//   | epoch u64 | toEpoch u64 | seq u64 | timestamp u64 (ms) | sender incarnation u64
//   | body by type: ping: probeId u32 · ack/nack: probeId u32 + subject name · pingReq: probeId u32 + target name · gossip: —
//   | updates: count u8, each: state u8 | name | incarnation u64 | from name (empty if none)
// `to` names the receiver so a message captured on its way to one member cannot be replayed to another;
// `toEpoch` names the receiver's process (its epoch as the sender learned it), so a message captured
// before the receiver restarted cannot be replayed to its new process.
// Version 1 (ironlb 0.1) is the same without `toEpoch`: still decoded and encoded (a message without
// toEpoch) so that a rolling upgrade keeps old and new speakers talking.

import { ByteReader, ByteWriter, type Fail } from '../util/bytes.ts';

export const WIRE_VERSION = 2;
/** Oldest wire version still understood (speakers of the previous release, during an upgrade). */
export const MIN_WIRE_VERSION = 1;
const MAGIC0 = 0x49; // 'I'
const MAGIC1 = 0x4c; // 'L'
/** Kubernetes node names are DNS subdomains: at most 253 bytes. */
export const MAX_NAME_BYTES = 253;
export const MAX_UPDATES = 255;

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';
const STATE_CODES: Record<MemberState, number> = { alive: 1, suspect: 2, dead: 3, left: 4 };
const STATES_BY_CODE: Record<number, MemberState> = { 1: 'alive', 2: 'suspect', 3: 'dead', 4: 'left' };

/** One piggybacked membership change. `from` is who suspects (counts independent confirmations). */
export interface Update {
  name: string;
  state: MemberState;
  incarnation: number;
  from?: string;
}

export type Body =
  | { type: 'ping'; probeId: number }
  | { type: 'ack'; probeId: number; subject: string }
  | { type: 'nack'; probeId: number; subject: string }
  | { type: 'pingReq'; probeId: number; target: string }
  | { type: 'gossip' };

export type MessageType = Body['type'];
const TYPE_CODES: Record<MessageType, number> = { ping: 1, ack: 2, nack: 3, pingReq: 4, gossip: 5 };

export interface Header {
  from: string;
  to: string;
  /** Sender process epoch (ms at start): a restarted sender starts a new sequence space. */
  epoch: number;
  /**
   * The receiver's epoch as the sender knows it (0: not known yet). Absent: a version 1 message.
   * A receiver trusts only messages naming its own epoch (they were made after it started).
   */
  toEpoch?: number;
  /** Per-sender sequence number, strictly increasing within an epoch. */
  seq: number;
  /** Sender wall clock (ms since the Unix epoch) for the replay time window. */
  timestamp: number;
  /** The sender's own incarnation: every message is first-hand evidence that the sender is alive. */
  incarnation: number;
}

export type Message = Header & { body: Body; updates: Update[] };

export class DecodeError extends Error {
  override name = 'DecodeError';
}

const HEADER_FIXED_V1 = 2 + 1 + 1 + 1 + 1 + 8 * 4;
const HEADER_FIXED = HEADER_FIXED_V1 + 8;
/** Smallest possible encoded message (one-byte names, gossip, no updates), any version. */
export const MIN_MESSAGE_BYTES = HEADER_FIXED_V1 + 2 + 1;

function nameBytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** Bytes one update takes on the wire (for packing updates into a size budget). */
export function encodedUpdateSize(u: Update): number {
  return 1 + 1 + nameBytes(u.name) + 8 + 1 + (u.from ? nameBytes(u.from) : 0);
}

/** Bytes a message takes before its updates and MAC. */
export function encodedBaseSize(h: Pick<Header, 'from' | 'to' | 'toEpoch'>, body: Body): number {
  let n = (h.toEpoch === undefined ? HEADER_FIXED_V1 : HEADER_FIXED) + nameBytes(h.from) + nameBytes(h.to);
  switch (body.type) {
    case 'ping': n += 4; break;
    case 'ack': case 'nack': n += 4 + 1 + nameBytes(body.subject); break;
    case 'pingReq': n += 4 + 1 + nameBytes(body.target); break;
    case 'gossip': break;
  }
  return n + 1; // update count
}

/** The membership fields on top of the shared writer: 64-bit counters as safe integers, names. */
class Writer extends ByteWriter {
  u64n(v: number, what: string): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${what} must be a non-negative safe integer, got ${v}`);
    this.u64(BigInt(v));
  }
  name(s: string, what: string, allowEmpty = false): void {
    const n = nameBytes(s);
    if (n > MAX_NAME_BYTES || (!allowEmpty && n === 0)) throw new RangeError(`${what} must be 1..${MAX_NAME_BYTES} bytes, got ${n}`);
    this.u8(n);
    this.utf8(s);
  }
}

export function encodeMessage(m: Message): Buffer {
  if (m.updates.length > MAX_UPDATES) throw new RangeError(`at most ${MAX_UPDATES} updates per message, got ${m.updates.length}`);
  let size = encodedBaseSize(m, m.body);
  for (const u of m.updates) size += encodedUpdateSize(u);
  const w = new Writer(size);
  w.u8(MAGIC0);
  w.u8(MAGIC1);
  w.u8(m.toEpoch === undefined ? 1 : WIRE_VERSION);
  w.u8(TYPE_CODES[m.body.type]);
  w.name(m.from, 'sender name');
  w.name(m.to, 'receiver name');
  w.u64n(m.epoch, 'epoch');
  if (m.toEpoch !== undefined) w.u64n(m.toEpoch, 'toEpoch');
  w.u64n(m.seq, 'seq');
  w.u64n(m.timestamp, 'timestamp');
  w.u64n(m.incarnation, 'incarnation');
  const b = m.body;
  switch (b.type) {
    case 'ping': w.u32(b.probeId); break;
    case 'ack': case 'nack': w.u32(b.probeId); w.name(b.subject, 'subject'); break;
    case 'pingReq': w.u32(b.probeId); w.name(b.target, 'target'); break;
    case 'gossip': break;
  }
  w.u8(m.updates.length);
  for (const u of m.updates) {
    w.u8(STATE_CODES[u.state]);
    w.name(u.name, 'update name');
    w.u64n(u.incarnation, 'update incarnation');
    w.name(u.from ?? '', 'update from', true);
  }
  return w.done();
}

const truncatedMessage: Fail = (what, at) => new DecodeError(`truncated: ${what} needs ${at.need} bytes at offset ${at.offset}, ${at.left} left`);

/** The membership fields on top of the shared reader. */
class Reader extends ByteReader {
  constructor(buf: Buffer) {
    super(buf, truncatedMessage);
  }
  u64n(what: string): number {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError(`${what} out of range: ${v}`);
    return Number(v);
  }
  name(what: string, allowEmpty = false): string {
    const n = this.u8(`${what} length`);
    if (n === 0 && !allowEmpty) throw new DecodeError(`${what} is empty`);
    if (n > MAX_NAME_BYTES) throw new DecodeError(`${what} is ${n} bytes, at most ${MAX_NAME_BYTES}`);
    return this.utf8(n, what);
  }
  finish(): void {
    if (this.remaining !== 0) throw new DecodeError(`${this.remaining} trailing bytes`);
  }
}

/** What can be read from a datagram before it is authenticated, to drop junk without a MAC. */
export type Peek =
  | { ok: true; version: number; from: string; to: string }
  | { ok: false; reason: 'size' | 'magic' | 'version' };

/**
 * Cheap checks on an unauthenticated datagram (no allocation beyond the two names): its size
 * (`macBytes` trailing, at most `maxBytes` in all), magic, version, and the sender and receiver
 * names. Anything that fails here cannot be a message of ours, so no HMAC is spent on it.
 */
export function peekMessage(buf: Buffer, macBytes: number, maxBytes: number): Peek {
  if (buf.length < MIN_MESSAGE_BYTES + macBytes || buf.length > maxBytes) return { ok: false, reason: 'size' };
  if (buf[0] !== MAGIC0 || buf[1] !== MAGIC1) return { ok: false, reason: 'magic' };
  const version = buf[2]!;
  if (version < MIN_WIRE_VERSION || version > WIRE_VERSION) return { ok: false, reason: 'version' };
  const fromLen = buf[4]!;
  const toAt = 5 + fromLen;
  if (fromLen === 0 || fromLen > MAX_NAME_BYTES || toAt >= buf.length) return { ok: false, reason: 'size' };
  const toLen = buf[toAt]!;
  if (toLen === 0 || toLen > MAX_NAME_BYTES || toAt + 1 + toLen > buf.length - macBytes) return { ok: false, reason: 'size' };
  return { ok: true, version, from: buf.toString('utf8', 5, toAt), to: buf.toString('utf8', toAt + 1, toAt + 1 + toLen) };
}

/** Decodes an (already authenticated) message; throws DecodeError on anything malformed. */
export function decodeMessage(buf: Buffer): Message {
  const r = new Reader(buf);
  if (r.u8('magic') !== MAGIC0 || r.u8('magic') !== MAGIC1) throw new DecodeError('bad magic: not an ironlb membership message');
  const version = r.u8('version');
  if (version < MIN_WIRE_VERSION || version > WIRE_VERSION) throw new DecodeError(`unsupported wire version ${version} (this build speaks ${MIN_WIRE_VERSION} to ${WIRE_VERSION})`);
  const typeCode = r.u8('type');
  const from = r.name('sender name');
  const to = r.name('receiver name');
  const epoch = r.u64n('epoch');
  const toEpoch = version >= 2 ? r.u64n('toEpoch') : undefined;
  const seq = r.u64n('seq');
  const timestamp = r.u64n('timestamp');
  const incarnation = r.u64n('incarnation');
  let body: Body;
  switch (typeCode) {
    case 1: body = { type: 'ping', probeId: r.u32('probeId') }; break;
    case 2: body = { type: 'ack', probeId: r.u32('probeId'), subject: r.name('subject') }; break;
    case 3: body = { type: 'nack', probeId: r.u32('probeId'), subject: r.name('subject') }; break;
    case 4: body = { type: 'pingReq', probeId: r.u32('probeId'), target: r.name('target') }; break;
    case 5: body = { type: 'gossip' }; break;
    default: throw new DecodeError(`unknown message type ${typeCode}`);
  }
  const count = r.u8('update count');
  const updates: Update[] = [];
  for (let i = 0; i < count; i++) {
    const code = r.u8('update state');
    const state = STATES_BY_CODE[code];
    if (!state) throw new DecodeError(`unknown member state ${code}`);
    const name = r.name('update name');
    const inc = r.u64n('update incarnation');
    const uf = r.name('update from', true);
    updates.push(uf ? { name, state, incarnation: inc, from: uf } : { name, state, incarnation: inc });
  }
  r.finish();
  const header = { from, to, epoch, seq, timestamp, incarnation };
  return toEpoch === undefined ? { ...header, body, updates } : { ...header, toEpoch, body, updates };
}
