// RFC 5880 sections 4.2-4.4 and 6.7: signing and checking the authentication section.
// Pure over Buffers (node:crypto hashes only); sequence-number state is passed in and returned.
import { createHash, timingSafeEqual } from 'node:crypto';
import { type AuthSection, type ControlPacket, digestLength, encodeControl } from './packet.ts';

export type BfdAuthType = 'simple' | 'keyed-md5' | 'meticulous-keyed-md5' | 'keyed-sha1' | 'meticulous-keyed-sha1';

export interface BfdAuth {
  type: BfdAuthType;
  keyId: number;
  /** The password (simple, 1-16 bytes) or key (MD5 up to 16 bytes, SHA1 up to 20 bytes). */
  secret: string;
}

const CODES: Record<BfdAuthType, 1 | 2 | 3 | 4 | 5> = {
  simple: 1, 'keyed-md5': 2, 'meticulous-keyed-md5': 3, 'keyed-sha1': 4, 'meticulous-keyed-sha1': 5,
};

export function authTypeCode(t: BfdAuthType): 1 | 2 | 3 | 4 | 5 {
  return CODES[t];
}

/** Throws with what is wrong if the auth settings can't be used. */
export function validateAuth(a: BfdAuth): void {
  const code = CODES[a.type];
  if (code === undefined) throw new Error(`unknown BFD auth type "${a.type}"; use one of ${Object.keys(CODES).join(', ')}`);
  if (!Number.isInteger(a.keyId) || a.keyId < 0 || a.keyId > 255) throw new Error(`BFD auth keyId must be 0-255, got ${a.keyId}`);
  const len = Buffer.byteLength(a.secret);
  const max = code === 1 || code === 2 || code === 3 ? 16 : 20;
  if (len < 1 || len > max) throw new Error(`BFD ${a.type} secret must be 1-${max} bytes, got ${len}`);
}

function keyBytes(secret: string, size: number): Buffer {
  const k = Buffer.alloc(size);
  Buffer.from(secret).copy(k, 0, 0, size);
  return k;
}

function hash(code: number, data: Buffer): Buffer {
  return createHash(code === 2 || code === 3 ? 'md5' : 'sha1').update(data).digest();
}

/** Encodes `p` with an authentication section for `auth` and transmit sequence `seq`. */
export function encodeAuthenticated(p: Omit<ControlPacket, 'auth'>, auth: BfdAuth, seq: number): Buffer {
  const code = CODES[auth.type];
  if (code === 1) {
    return encodeControl({ ...p, auth: { type: 1, keyId: auth.keyId, password: Buffer.from(auth.secret) } });
  }
  // The digest is computed over the packet with the key (zero-padded) in the digest field.
  const len = digestLength(code);
  const buf = encodeControl({ ...p, auth: { type: code, keyId: auth.keyId, sequence: seq >>> 0, digest: keyBytes(auth.secret, len) } });
  hash(code, buf).copy(buf, 32);
  return buf;
}

export interface AuthRxState {
  /** bfd.AuthSeqKnown */
  known: boolean;
  /** bfd.RcvAuthSeq */
  rcvSeq: number;
}

/** True if `a` lies in [lo, lo + span] modulo 2^32. */
function inWindow(a: number, lo: number, span: number): boolean {
  return ((a - lo) >>> 0) <= span;
}

/**
 * Checks a received packet's authentication (raw bytes and decoded form). Returns the new sequence
 * state if valid, or a reason string if the packet must be dropped.
 */
export function verifyAuth(raw: Uint8Array, pkt: ControlPacket, auth: BfdAuth | undefined, rx: AuthRxState, detectMult: number): AuthRxState | string {
  if (!auth) return pkt.auth ? 'packet is authenticated but the session has no authentication' : rx;
  const sec: AuthSection | undefined = pkt.auth;
  if (!sec) return 'packet is not authenticated but the session requires it';
  const code = CODES[auth.type];
  if (sec.type !== code) return `auth type ${sec.type}, session uses ${code}`;
  if (sec.keyId !== auth.keyId) return `auth key id ${sec.keyId}, session uses ${auth.keyId}`;
  if (sec.type === 1) {
    const want = Buffer.from(auth.secret);
    return sec.password.length === want.length && timingSafeEqual(sec.password, want) ? rx : 'wrong password';
  }
  const meticulous = code === 3 || code === 5;
  if (rx.known) {
    const span = 3 * detectMult;
    const ok = meticulous ? inWindow(sec.sequence, (rx.rcvSeq + 1) >>> 0, span - 1) : inWindow(sec.sequence, rx.rcvSeq, span);
    if (!ok) return `sequence ${sec.sequence} outside window after ${rx.rcvSeq}`;
  }
  const len = digestLength(code);
  const copy = Buffer.from(raw.subarray(0, 24 + 8 + len));
  keyBytes(auth.secret, len).copy(copy, 32);
  const digest = hash(code, copy);
  if (!timingSafeEqual(digest, sec.digest)) return 'digest mismatch';
  return { known: true, rcvSeq: sec.sequence };
}
