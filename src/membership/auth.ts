// Message authentication: HMAC-SHA256 over the encoded message, keyed with HKDF from the shared
// Secret's bytes. Pure functions over Buffers.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

export const MAC_BYTES = 32;
// Fixed context: the same Secret used for something else (e.g. a BGP password) yields an unrelated key.
const HKDF_SALT = Buffer.from('ironlb.io/membership', 'utf8');
const HKDF_INFO = Buffer.from('hmac-sha256 key v1', 'utf8');

export function deriveKey(secret: Uint8Array): Buffer {
  if (secret.length < 16) throw new Error(`membership secret is ${secret.length} bytes; use at least 16 random bytes (e.g. openssl rand -base64 32)`);
  return Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, HKDF_INFO, 32));
}

/** Appends the MAC: returns body || HMAC(key, body). */
export function seal(key: Buffer, body: Buffer): Buffer {
  const mac = createHmac('sha256', key).update(body).digest();
  return Buffer.concat([body, mac]);
}

/** Returns the authenticated body, or undefined if the packet is too short or the MAC is wrong. */
export function open(key: Buffer, packet: Buffer): Buffer | undefined {
  if (packet.length <= MAC_BYTES) return undefined;
  const body = packet.subarray(0, packet.length - MAC_BYTES);
  const mac = packet.subarray(packet.length - MAC_BYTES);
  const want = createHmac('sha256', key).update(body).digest();
  return timingSafeEqual(mac, want) ? body : undefined;
}
