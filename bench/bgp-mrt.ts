// MRT TABLE_DUMP_V2 (RFC 6396) writer: a RIB of IPv4 routes sharing one set of attributes, for
// loading GoBGP with `gobgp mrt inject global FILE` (one CLI call per route is far too slow).
const TABLE_DUMP_V2 = 13;
const PEER_INDEX_TABLE = 1;
const RIB_IPV4_UNICAST = 2;

function record(subtype: number, body: Buffer, time: number): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt32BE(time, 0);
  h.writeUInt16BE(TABLE_DUMP_V2, 4);
  h.writeUInt16BE(subtype, 6);
  h.writeUInt32BE(body.length, 8);
  return Buffer.concat([h, body]);
}

function ipv4(a: string): Buffer {
  return Buffer.from(a.split('.').map(Number));
}

/** `count` consecutive /32s from `first`, all with ORIGIN IGP, empty AS_PATH, NEXT_HOP nextHop. */
export function mrtRib(first: string, count: number, nextHop: string, peerAddress: string, peerAsn: number): Buffer {
  const time = Math.floor(Date.now() / 1000);
  const parts: Buffer[] = [];
  // One peer: type 0x02 = IPv4 address, 4-octet AS.
  const peer = Buffer.concat([Buffer.from([0x02]), ipv4(peerAddress), ipv4(peerAddress), Buffer.alloc(4)]);
  peer.writeUInt32BE(peerAsn, 9);
  const pit = Buffer.concat([ipv4(peerAddress), Buffer.from([0, 0, 0, 1]), peer]);
  parts.push(record(PEER_INDEX_TABLE, pit, time));
  // ORIGIN IGP, AS_PATH empty, NEXT_HOP.
  const attrs = Buffer.concat([Buffer.from([0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4]), ipv4(nextHop)]);
  const base = ipv4(first).readUInt32BE(0);
  for (let i = 0; i < count; i++) {
    const body = Buffer.alloc(4 + 1 + 4 + 2 + 2 + 4 + 2 + attrs.length);
    let o = body.writeUInt32BE(i, 0);
    o = body.writeUInt8(32, o);
    o = body.writeUInt32BE((base + i) >>> 0, o);
    o = body.writeUInt16BE(1, o); // entry count
    o = body.writeUInt16BE(0, o); // peer index
    o = body.writeUInt32BE(time, o);
    o = body.writeUInt16BE(attrs.length, o);
    attrs.copy(body, o);
    parts.push(record(RIB_IPV4_UNICAST, body, time));
  }
  return Buffer.concat(parts);
}

/** The i-th /32 after `first`, as text. */
export function nthAddress(first: string, i: number): string {
  const n = (ipv4(first).readUInt32BE(0) + i) >>> 0;
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
