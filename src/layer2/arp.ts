// ARP for IPv4 over Ethernet (RFC 826, gratuitous forms per RFC 5227): pure encode/decode.
import { ByteReader } from '../util/bytes.ts';
import { BROADCAST_MAC, ETH_HEADER_LEN, ETH_MIN_FRAME, ETHERTYPE_ARP, ZERO_MAC, decodeEthernet, writeEthernet } from './ethernet.ts';

export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
const ARP_LEN = 28;

export interface ArpPacket {
  /** Ethernet destination and source of the frame carrying it. */
  ethDst: Buffer;
  ethSrc: Buffer;
  op: number;
  senderMac: Buffer;
  /** Dotted-quad IPv4. */
  senderIp: string;
  targetMac: Buffer;
  targetIp: string;
}

/** Writes dotted-quad `ip` into `out` at `off` (4 bytes); throws on anything else. On the reply path: no regex, no split. */
export function writeIpv4(ip: string, out: Buffer, off = 0): void {
  let part = 0;
  let digits = 0;
  let value = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 46; // end acts as a final '.'
    if (c >= 48 && c <= 57 && digits < 3) {
      value = value * 10 + (c - 48);
      digits++;
    } else if (c === 46 && digits > 0 && value <= 255 && part < 4) {
      out[off + part++] = value;
      value = 0;
      digits = 0;
    } else {
      throw new Error(`not an IPv4 address: "${ip}"`);
    }
  }
  if (part !== 4) throw new Error(`not an IPv4 address: "${ip}"`);
}

export function ipv4ToBytes(ip: string): Buffer {
  const b = Buffer.alloc(4);
  writeIpv4(ip, b);
  return b;
}

export function bytesToIpv4(b: Buffer, off = 0): string {
  return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
}

/**
 * Decodes an Ethernet frame carrying ARP for IPv4 over Ethernet. Returns null for anything else
 * (other hardware/protocol types, wrong lengths, truncation): never throws.
 */
export function decodeArp(frame: Buffer): ArpPacket | null {
  const eth = decodeEthernet(frame);
  if (!eth || eth.ethertype !== ETHERTYPE_ARP || frame.length < ETH_HEADER_LEN + ARP_LEN) return null;
  const r = new ByteReader(frame, undefined, ETH_HEADER_LEN, ETH_HEADER_LEN + ARP_LEN);
  if (r.u16('hardware type') !== 1 || r.u16('protocol type') !== 0x0800 || r.u8('hardware length') !== 6 || r.u8('protocol length') !== 4) return null;
  const op = r.u16('operation');
  if (op !== ARP_REQUEST && op !== ARP_REPLY) return null;
  return {
    ethDst: eth.dst,
    ethSrc: eth.src,
    op,
    senderMac: r.bytes(6, 'sender MAC'),
    senderIp: bytesToIpv4(r.bytes(4, 'sender IP')),
    targetMac: r.bytes(6, 'target MAC'),
    targetIp: bytesToIpv4(r.bytes(4, 'target IP')),
  };
}

/** Why an ARP request must not be answered, or null when it may be. */
export type ArpDropReason = 'sender-multicast' | 'sender-broadcast' | 'sender-mac-group';

/**
 * RFC 1812 4.2.2.11 / RFC 5227: a sender protocol address that is multicast (224/4) or the
 * limited broadcast is never a host's own, and an answer to it would be misdirected (or, with a
 * group sender MAC, reflected to a whole segment). Probes (sender 0.0.0.0) are not dropped: the
 * owner answers them (RFC 5227 2.1.1).
 */
export function arpRequestDropReason(req: ArpPacket): ArpDropReason | null {
  const first = parseInt(req.senderIp, 10);
  if (first >= 224 && first <= 239) return 'sender-multicast';
  if (req.senderIp === '255.255.255.255') return 'sender-broadcast';
  if ((req.senderMac[0]! & 1) === 1) return 'sender-mac-group';
  return null;
}

export interface ArpFields {
  ethDst: Buffer;
  ethSrc: Buffer;
  op: number;
  senderMac: Buffer;
  senderIp: string;
  targetMac: Buffer;
  targetIp: string;
}

/** Encodes an ARP frame, padded to the Ethernet minimum. */
export function encodeArp(p: ArpFields): Buffer {
  const f = Buffer.alloc(ETH_MIN_FRAME);
  const w = writeEthernet(f, p.ethDst, p.ethSrc, ETHERTYPE_ARP).u16(1).u16(0x0800).u8(6).u8(4).u16(p.op).bytes(p.senderMac.subarray(0, 6));
  writeIpv4(p.senderIp, f, w.offset);
  w.offset += 4;
  w.bytes(p.targetMac.subarray(0, 6));
  writeIpv4(p.targetIp, f, w.offset);
  return f;
}

/** The reply to `req` saying `ip` is at `mac`, unicast to the requester. */
export function arpReply(req: ArpPacket, mac: Buffer, ip: string): Buffer {
  return encodeArp({ ethDst: req.senderMac, ethSrc: mac, op: ARP_REPLY, senderMac: mac, senderIp: ip, targetMac: req.senderMac, targetIp: req.senderIp });
}

/**
 * Gratuitous ARP, both forms receivers honour: a broadcast request (sender = target = ip, target
 * MAC zero) and a broadcast reply (target MAC = sender MAC, which Linux needs to treat a reply as
 * gratuitous and override an existing entry).
 */
export function gratuitousArp(mac: Buffer, ip: string): [Buffer, Buffer] {
  return [
    encodeArp({ ethDst: BROADCAST_MAC, ethSrc: mac, op: ARP_REQUEST, senderMac: mac, senderIp: ip, targetMac: ZERO_MAC, targetIp: ip }),
    encodeArp({ ethDst: BROADCAST_MAC, ethSrc: mac, op: ARP_REPLY, senderMac: mac, senderIp: ip, targetMac: mac, targetIp: ip }),
  ];
}
