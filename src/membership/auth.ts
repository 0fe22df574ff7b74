// Message authentication: HMAC-SHA256 over the encoded message, keyed with HKDF from the shared
// Secret's bytes. Pure functions over Buffers. During a key rotation several keys are accepted:
// messages are sealed with the first and opened with any.
import { createHash, createHmac, createSecretKey, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';

export const MAC_BYTES = 32;
// Fixed context: the same Secret used for something else (e.g. a BGP password) yields an unrelated key.
const HKDF_SALT = Buffer.from('ironlb.io/membership', 'utf8');
const HKDF_INFO = Buffer.from('hmac-sha256 key v1', 'utf8');

export function deriveKey(secret: Uint8Array): Buffer {
  if (secret.length < 16) throw new Error(`membership secret is ${secret.length} bytes; use at least 16 random bytes (e.g. openssl rand -base64 32)`);
  return Buffer.from(hkdfSync('sha256', secret, HKDF_SALT, HKDF_INFO, 32));
}

/** At most this many keys at once (a rotation needs two; each costs one HMAC per unknown-key datagram). */
export const MAX_KEYS = 4;

/** A short public name for a derived key (logs, metrics): 8 hex digits of its SHA-256, not the key. */
export function keyFingerprint(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/**
 * Parses a key list: one key per line (surrounding whitespace and empty lines ignored, duplicates
 * dropped), the first one signs. Throws with what to fix when a key is short or there are none.
 */
export function parseKeyList(text: string): Buffer[] {
  const out: Buffer[] = [];
  const seen = new Set<string>();
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  for (const [i, line] of lines.entries()) {
    const b = Buffer.from(line, 'utf8');
    if (b.length < 16) throw new Error(`membership key list: key ${i + 1} is ${b.length} bytes; use at least 16 random bytes (e.g. openssl rand -base64 32)`);
    if (seen.has(line)) continue;
    seen.add(line);
    out.push(b);
  }
  if (out.length === 0) throw new Error('membership key list is empty: put one key per line, the signing key first');
  if (out.length > MAX_KEYS) throw new Error(`membership key list has ${out.length} keys; at most ${MAX_KEYS} (a rotation needs two)`);
  return out;
}

// createHmac with a Buffer key builds a KeyObject on every call, which cost more than the hash itself
// (half of the membership CPU at 200 members); each derived key gets one, made once.
const keyObjects = new WeakMap<Buffer, KeyObject>();
function keyObject(key: Buffer): KeyObject {
  let k = keyObjects.get(key);
  if (!k) keyObjects.set(key, (k = createSecretKey(key)));
  return k;
}

/** Appends the MAC: returns body || HMAC(key, body). */
export function seal(key: Buffer, body: Buffer): Buffer {
  const mac = createHmac('sha256', keyObject(key)).update(body).digest();
  return Buffer.concat([body, mac]);
}

/** Returns the authenticated body, or undefined if the packet is too short or the MAC is wrong. */
export function open(key: Buffer, packet: Buffer): Buffer | undefined {
  if (packet.length <= MAC_BYTES) return undefined;
  const body = packet.subarray(0, packet.length - MAC_BYTES);
  const mac = packet.subarray(packet.length - MAC_BYTES);
  const want = createHmac('sha256', keyObject(key)).update(body).digest();
  return timingSafeEqual(mac, want) ? body : undefined;
}

/** Opens a packet with the first key that authenticates it; returns the body and that key's index. */
export function openAny(keys: readonly Buffer[], packet: Buffer): { body: Buffer; keyIndex: number } | undefined {
  for (const [keyIndex, key] of keys.entries()) {
    const body = open(key, packet);
    if (body) return { body, keyIndex };
  }
  return undefined;
}
