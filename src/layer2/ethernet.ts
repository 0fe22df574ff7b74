// Ethernet II framing and MAC address helpers (pure).
import { ByteReader, ByteWriter } from '../util/bytes.ts';

export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
export const ETH_HEADER_LEN = 14;
/** Minimum Ethernet payload + header without FCS: shorter frames are padded. */
export const ETH_MIN_FRAME = 60;

export const BROADCAST_MAC = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
export const ZERO_MAC = Buffer.alloc(6);

/** Parses "aa:bb:cc:dd:ee:ff" (or with '-') into 6 bytes; throws on anything else. */
export function parseMac(text: string): Buffer {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new Error(`not a MAC address: "${text}" (expected six hex bytes like 02:00:00:00:00:01)`);
  }
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(b: Buffer): string {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push((b[i] ?? 0).toString(16).padStart(2, '0'));
  return out.join(':');
}

export interface EthernetHeader {
  dst: Buffer;
  src: Buffer;
  ethertype: number;
}

/** Reads the Ethernet header; null if the frame is too short. Slices share the frame's memory. */
export function decodeEthernet(frame: Buffer): EthernetHeader | null {
  if (frame.length < ETH_HEADER_LEN) return null;
  const r = new ByteReader(frame);
  return { dst: r.bytes(6, 'destination'), src: r.bytes(6, 'source'), ethertype: r.u16('ethertype') };
}

/** Writes an Ethernet header into `frame` (which must be at least 14 bytes). */
export function writeEthernet(frame: Buffer, dst: Buffer, src: Buffer, ethertype: number): ByteWriter {
  return new ByteWriter(frame).bytes(dst.subarray(0, 6)).bytes(src.subarray(0, 6)).u16(ethertype);
}
