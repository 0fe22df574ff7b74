// Owner-watch heartbeats: the wire format (pure functions over Buffers).
//
//   "ILBW" | version 1 | flags | takeovers u16 | epoch u64 | seq u32 | timestamp u64 |
//   from (u8 length + UTF-8) | to (u8 length + UTF-8) | HMAC-SHA256 (32 bytes)
//
// flags: bit 0 WATCHING (the sender watches the receiver: "send me your heartbeats"), bit 1 HOLDING
// (the sender announces addresses of the receiver's after a fast suspicion). `takeovers` counts the
// sender's fast takeovers of the receiver's addresses: a receiver that sees it grow, and HOLDING
// clear, announces its addresses again (the clients that followed the taker must come back).
//
// The MAC key is derived with HKDF from the membership Secret's keys, with its own context, so the
// same Secret yields unrelated keys for membership and for heartbeats.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export const MAGIC = Buffer.from('ILBW', 'ascii');
export const VERSION = 1;
export const MAC_BYTES = 32;
export const FLAG_WATCHING = 1;
export const FLAG_HOLDING = 2;
const FIXED = 4 + 1 + 1 + 2 + 8 + 4 + 8;
const HKDF_SALT = Buffer.from('ironlb.io/owner-watch', 'utf8');
const HKDF_INFO = Buffer.from('hmac-sha256 key v1', 'utf8');

export interface Heartbeat {
  flags: number;
  takeovers: number;
  /** The sender's start time (ms): a restarted sender starts a new sequence. */
  epoch: number;
  seq: number;
  /** The sender's clock when sent (ms). */
  timestamp: number;
  from: string;
  to: string;
}

/** The heartbeat key for one membership Secret key (at least 16 bytes, as membership requires). */
export function deriveWatchKey(secret: Uint8Array): Buffer {
  if (secret.length < 16) throw new Error(`membership secret is ${secret.length} bytes; use at least 16 random bytes (e.g. openssl rand -base64 32)`);
  return Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, HKDF_INFO, 32));
}

function name(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  if (b.length > 255) throw new Error(`node name longer than 255 bytes: ${s.slice(0, 40)}…`);
  return b;
}

/** Encodes and seals a heartbeat with `key` (a derived watch key). */
export function encodeHeartbeat(h: Heartbeat, key: Buffer): Buffer {
  const from = name(h.from);
  const to = name(h.to);
  const body = Buffer.alloc(FIXED + 2 + from.length + to.length);
  MAGIC.copy(body, 0);
  body.writeUInt8(VERSION, 4);
  body.writeUInt8(h.flags & 0xff, 5);
  body.writeUInt16BE(h.takeovers & 0xffff, 6);
  body.writeBigUInt64BE(BigInt(Math.trunc(h.epoch)), 8);
  body.writeUInt32BE(h.seq >>> 0, 16);
  body.writeBigUInt64BE(BigInt(Math.trunc(h.timestamp)), 20);
  let off = FIXED;
  body.writeUInt8(from.length, off++);
  from.copy(body, off);
  off += from.length;
  body.writeUInt8(to.length, off++);
  to.copy(body, off);
  const mac = createHmac('sha256', key).update(body).digest();
  return Buffer.concat([body, mac]);
}

/**
 * Opens a heartbeat with the first of `keys` that authenticates it. Undefined for anything short,
 * malformed or not authenticated (the MAC is checked before any field is trusted).
 */
export function decodeHeartbeat(packet: Buffer, keys: readonly Buffer[]): Heartbeat | undefined {
  if (packet.length < FIXED + 2 + MAC_BYTES) return undefined;
  if (!packet.subarray(0, 4).equals(MAGIC) || packet[4] !== VERSION) return undefined;
  const body = packet.subarray(0, packet.length - MAC_BYTES);
  const mac = packet.subarray(packet.length - MAC_BYTES);
  if (!keys.some((k) => timingSafeEqual(mac, createHmac('sha256', k).update(body).digest()))) return undefined;
  let off = FIXED;
  const fl = body.readUInt8(off++);
  if (off + fl + 1 > body.length) return undefined;
  const from = body.toString('utf8', off, off + fl);
  off += fl;
  const tl = body.readUInt8(off++);
  if (off + tl !== body.length) return undefined;
  const to = body.toString('utf8', off, off + tl);
  return {
    flags: body.readUInt8(5),
    takeovers: body.readUInt16BE(6),
    epoch: Number(body.readBigUInt64BE(8)),
    seq: body.readUInt32BE(16),
    timestamp: Number(body.readBigUInt64BE(20)),
    from,
    to,
  };
}
