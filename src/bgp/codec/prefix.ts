// IP prefixes: text <-> bytes, and the NLRI encoding (RFC 4271 §4.3, RFC 4760, RFC 7911 path IDs).
import { addressToBytes as parseAddress, bytesToAddress } from '../../util/address.ts';
import { Afi, Err, UpdateSub } from './constants.ts';
import { BgpError } from './errors.ts';
import { ByteReader, type Fail } from '../../util/bytes.ts';

export type AfiNumber = typeof Afi.IPV4 | typeof Afi.IPV6;

export interface Prefix {
  afi: AfiNumber;
  length: number;
  /** The address, 4 or 16 bytes, host bits cleared. */
  addr: Buffer;
}

/** Address text to 4 or 16 bytes (throws a readable error), and back; see src/util/address.ts. */
export { addressToBytes as parseAddress } from '../../util/address.ts';

/** Formats 4 or 16 address bytes as text (RFC 5952 form for IPv6). */
export function formatAddress(addr: Uint8Array): string {
  if (addr.length !== 4 && addr.length !== 16) throw new Error(`an IP address has 4 or 16 bytes, got ${addr.length}`);
  return bytesToAddress(addr);
}

/** Parses "10.0.0.1/32" or "fd00::/64" (a bare address means a host route); clears host bits. */
export function parsePrefix(text: string): Prefix {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const addr = parseAddress(addrText);
  const max = addr.length * 8;
  let length = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
      throw new Error(`invalid prefix "${text}": the length must be 0..${max}`);
    }
    length = Number(lenText);
  }
  maskInPlace(addr, length);
  return { afi: addr.length === 4 ? Afi.IPV4 : Afi.IPV6, length, addr };
}

function maskInPlace(addr: Buffer, length: number): void {
  for (let i = 0; i < addr.length; i++) {
    const bits = length - i * 8;
    if (bits >= 8) continue;
    addr[i] = bits <= 0 ? 0 : (addr[i] ?? 0) & (0xff << (8 - bits));
  }
}

export function formatPrefix(p: Prefix): string {
  return `${formatAddress(p.addr)}/${p.length}`;
}

// Results of parseIPv4PrefixFast, in module scope so the hot path allocates nothing.
let fastAddr = 0;
let fastLength = 0;
let fastCanonical = false;

/**
 * Parses dotted IPv4 with an optional "/len" without allocating, into fastAddr (host bits
 * cleared), fastLength and fastCanonical (the text is already in canonical form). Returns false
 * when the text is not that form. The hot path for 100k-route tables.
 */
function parseIPv4PrefixFast(text: string): boolean {
  let addr = 0;
  let octet = -1;
  let digits = 0;
  let dots = 0;
  let canonical = true;
  let i = 0;
  const n = text.length;
  for (; i < n; i++) {
    const ch = text.charCodeAt(i);
    if (ch >= 48 && ch <= 57) {
      if (digits === 1 && octet === 0) canonical = false; // leading zero
      octet = (octet < 0 ? 0 : octet * 10) + (ch - 48);
      if (++digits > 3 || octet > 255) return false;
    } else if (ch === 46) {
      if (digits === 0 || dots === 3) return false;
      addr = addr * 256 + octet;
      dots++;
      octet = -1;
      digits = 0;
    } else break;
  }
  if (dots !== 3 || digits === 0) return false;
  addr = addr * 256 + octet;
  let length = 32;
  if (i < n) {
    if (text.charCodeAt(i) !== 47 || i + 1 >= n || n - i - 1 > 2) return false;
    length = 0;
    for (let j = i + 1; j < n; j++) {
      const ch = text.charCodeAt(j);
      if (ch < 48 || ch > 57) return false;
      length = length * 10 + (ch - 48);
    }
    if (length > 32) return false;
    if (n - i - 1 === 2 && text.charCodeAt(i + 1) === 48) canonical = false;
  } else canonical = false; // no "/len"
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  const masked = (addr & mask) >>> 0;
  fastAddr = masked;
  fastLength = length;
  fastCanonical = canonical && masked === addr;
  return true;
}

/** The canonical text of a prefix, used as the key of routes everywhere. */
export function canonicalPrefix(text: string): string {
  if (parseIPv4PrefixFast(text)) {
    if (fastCanonical) return text;
    const a = fastAddr;
    return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}/${fastLength}`;
  }
  return formatPrefix(parsePrefix(text));
}

/**
 * Writes the NLRI entry of a canonical prefix text at `off` if it fits below `limit`; returns
 * the new offset, or -1 when it does not fit.
 */
export function writeNlriText(buf: Buffer, off: number, limit: number, text: string, pathId?: number): number {
  if (!parseIPv4PrefixFast(text)) {
    const p = parsePrefix(text);
    if (off + nlriSize(p, pathId !== undefined) > limit) return -1;
    return writeNlri(buf, off, p, pathId);
  }
  const addr = fastAddr;
  const length = fastLength;
  const bytes = (length + 7) >> 3;
  if (off + 1 + bytes + (pathId !== undefined ? 4 : 0) > limit) return -1;
  if (pathId !== undefined) {
    buf.writeUInt32BE(pathId, off);
    off += 4;
  }
  buf[off++] = length;
  for (let k = 0; k < bytes; k++) buf[off++] = (addr >>> (24 - 8 * k)) & 255;
  return off;
}

/** Bytes the prefix takes in an NLRI field (plus 4 with an ADD-PATH path identifier). */
export function nlriSize(p: Prefix, addPath = false): number {
  return 1 + ((p.length + 7) >> 3) + (addPath ? 4 : 0);
}

/** Writes one NLRI entry at `off`; returns the offset after it. */
export function writeNlri(buf: Buffer, off: number, p: Prefix, pathId?: number): number {
  if (pathId !== undefined) {
    buf.writeUInt32BE(pathId, off);
    off += 4;
  }
  buf[off++] = p.length;
  const n = (p.length + 7) >> 3;
  p.addr.copy(buf, off, 0, n);
  return off + n;
}

export interface DecodedNlri {
  prefix: string;
  pathId?: number;
}

/**
 * Decodes an NLRI field. A length over the family's maximum or a truncated entry is an
 * "Invalid Network Field" error (RFC 4271 §6.3; RFC 7606 §5.3: session reset, since the rest
 * of the field cannot be located).
 */
const invalidNetworkField: Fail = (what) => new BgpError(Err.UPDATE, UpdateSub.INVALID_NETWORK_FIELD, what);

export function decodeNlri(buf: Uint8Array, afi: AfiNumber, addPath: boolean): DecodedNlri[] {
  const out: DecodedNlri[] = [];
  const size = afi === Afi.IPV4 ? 4 : 16;
  const r = new ByteReader(buf, invalidNetworkField);
  while (r.remaining > 0) {
    const pathId = addPath ? r.u32('NLRI path identifier is truncated') : undefined;
    const length = r.u8('NLRI entry is truncated');
    if (length > size * 8) throw new BgpError(Err.UPDATE, UpdateSub.INVALID_NETWORK_FIELD, `NLRI prefix length ${length} is over ${size * 8}`);
    const addr = Buffer.alloc(size);
    r.bytes((length + 7) >> 3, 'NLRI prefix bytes are truncated').copy(addr);
    maskInPlace(addr, length);
    const entry: DecodedNlri = { prefix: `${formatAddress(addr)}/${length}` };
    if (pathId !== undefined) entry.pathId = pathId;
    out.push(entry);
  }
  return out;
}

/** An IPv6 link-local address (fe80::/10) in wire form. */
export function isLinkLocal(b: Buffer): boolean {
  return b.length === 16 && b[0] === 0xfe && ((b[1] ?? 0) & 0xc0) === 0x80;
}
