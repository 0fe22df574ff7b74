// OPEN optional parameters and capabilities (RFC 5492, RFC 9072 extended parameters).
import { Afi, Cap, Err, OpenSub, SAFI_UNICAST } from './constants.ts';
import { BgpError } from './errors.ts';
import { ByteReader, type Fail } from '../../util/bytes.ts';

const openError: Fail = (what) => new BgpError(Err.OPEN, 0, what);

export interface AfiSafi {
  afi: number;
  safi: number;
}

export interface GracefulRestartCap {
  /** R bit: the sender has restarted (RFC 4724 §3). */
  restarting: boolean;
  /** N bit: RFC 8538 notification support (decoded, never sent). */
  notification: boolean;
  /** Restart time in seconds (12 bits). */
  time: number;
  families: Array<AfiSafi & { forwarding: boolean }>;
}

/** ADD-PATH send/receive per family (RFC 7911): 1 receive, 2 send, 3 both. */
export interface AddPathEntry extends AfiSafi {
  mode: number;
}

/** RFC 8950: NLRI of (afi, safi) may carry a next hop of nextHopAfi. */
export interface ExtendedNextHop extends AfiSafi {
  nextHopAfi: number;
}

export interface Capabilities {
  multiprotocol: AfiSafi[];
  extendedNextHop?: ExtendedNextHop[];
  routeRefresh: boolean;
  enhancedRouteRefresh: boolean;
  extendedMessage: boolean;
  fourOctetAs?: number;
  gracefulRestart?: GracefulRestartCap;
  addPath: AddPathEntry[];
  unknown: Array<{ code: number; data: Buffer }>;
}

export function emptyCapabilities(): Capabilities {
  return { multiprotocol: [], routeRefresh: false, enhancedRouteRefresh: false, extendedMessage: false, addPath: [], unknown: [] };
}

function cap(code: number, data: Buffer): Buffer {
  if (data.length > 255) throw new Error(`capability ${code} is ${data.length} bytes, over 255`);
  return Buffer.concat([Buffer.from([code, data.length]), data]);
}

function afiSafiBytes(f: AfiSafi): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(f.afi, 0);
  b[3] = f.safi;
  return b;
}

/**
 * The value of the Extended Next Hop Encoding capability (RFC 8950 §3, code 5): per entry the
 * NLRI AFI (2 bytes), NLRI SAFI (2 bytes; unlike elsewhere), next hop AFI (2 bytes).
 */
export function encodeExtendedNextHop(entries: readonly ExtendedNextHop[]): Buffer {
  const b = Buffer.alloc(6 * entries.length);
  entries.forEach((e, i) => {
    b.writeUInt16BE(e.afi & 0xffff, i * 6);
    b.writeUInt16BE(e.safi & 0xffff, i * 6 + 2);
    b.writeUInt16BE(e.nextHopAfi & 0xffff, i * 6 + 4);
  });
  return b;
}

/** Decodes the capability's value; a length that is not a multiple of 6 is an OPEN Message Error. */
export function decodeExtendedNextHop(d: Buffer): ExtendedNextHop[] {
  if (d.length % 6 !== 0) throw new BgpError(Err.OPEN, 0, `extended next hop capability has length ${d.length}, not a multiple of 6`);
  const out: ExtendedNextHop[] = [];
  for (let i = 0; i < d.length; i += 6) out.push({ afi: d.readUInt16BE(i), safi: d.readUInt16BE(i + 2), nextHopAfi: d.readUInt16BE(i + 4) });
  return out;
}

/** Whether `caps` lets IPv4 unicast routes carry an IPv6 next hop (RFC 8950 §4). */
export function ipv4OverIpv6(entries: readonly ExtendedNextHop[] | undefined): boolean {
  return !!entries?.some((x) => x.afi === Afi.IPV4 && x.safi === SAFI_UNICAST && x.nextHopAfi === Afi.IPV6);
}

/** Encodes capabilities as the OPEN's optional parameters (one parameter per capability). */
export function encodeCapabilities(c: Capabilities): Buffer {
  const caps: Buffer[] = [];
  for (const f of c.multiprotocol) caps.push(cap(Cap.MULTIPROTOCOL, afiSafiBytes(f)));
  if (c.routeRefresh) caps.push(cap(Cap.ROUTE_REFRESH, Buffer.alloc(0)));
  if (c.enhancedRouteRefresh) caps.push(cap(Cap.ENHANCED_ROUTE_REFRESH, Buffer.alloc(0)));
  if (c.extendedNextHop?.length) caps.push(cap(Cap.EXTENDED_NEXT_HOP, encodeExtendedNextHop(c.extendedNextHop)));
  if (c.extendedMessage) caps.push(cap(Cap.EXTENDED_MESSAGE, Buffer.alloc(0)));
  if (c.gracefulRestart) {
    const gr = c.gracefulRestart;
    const b = Buffer.alloc(2 + 4 * gr.families.length);
    b.writeUInt16BE(((gr.restarting ? 0x8 : 0) | (gr.notification ? 0x4 : 0)) << 12 | (gr.time & 0xfff), 0);
    gr.families.forEach((f, i) => {
      b.writeUInt16BE(f.afi, 2 + i * 4);
      b[4 + i * 4] = f.safi;
      b[5 + i * 4] = f.forwarding ? 0x80 : 0;
    });
    caps.push(cap(Cap.GRACEFUL_RESTART, b));
  }
  if (c.fourOctetAs !== undefined) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(c.fourOctetAs >>> 0, 0);
    caps.push(cap(Cap.FOUR_OCTET_AS, b));
  }
  if (c.addPath.length) {
    const b = Buffer.alloc(4 * c.addPath.length);
    c.addPath.forEach((f, i) => {
      b.writeUInt16BE(f.afi, i * 4);
      b[i * 4 + 2] = f.safi;
      b[i * 4 + 3] = f.mode;
    });
    caps.push(cap(Cap.ADD_PATH, b));
  }
  for (const u of c.unknown) caps.push(cap(u.code, u.data));
  return Buffer.concat(caps.map((v) => Buffer.concat([Buffer.from([2, v.length]), v])));
}

/**
 * Decodes the OPEN's optional parameters into capabilities. Parameter types other than
 * Capabilities (2) are refused as RFC 5492 requires; malformed lengths are errors.
 */
export function decodeOptionalParameters(params: Buffer): Capabilities {
  const c = emptyCapabilities();
  const r = new ByteReader(params, openError);
  // RFC 9072: a first parameter of type 255 announces 2-byte lengths.
  const extended = params.length >= 3 && params[0] === 255;
  if (extended) r.skip(3, 'extended parameters header');
  while (r.remaining > 0) {
    r.need(extended ? 3 : 2, 'optional parameter header is truncated');
    const type = r.u8('parameter type');
    const len = extended ? r.u16('parameter length') : r.u8('parameter length');
    const value = r.bytes(len, 'optional parameter overruns the OPEN message');
    if (type !== 2) throw new BgpError(Err.OPEN, OpenSub.UNSUPPORTED_OPTIONAL_PARAMETER, `unsupported optional parameter type ${type}`);
    decodeCapabilityList(value, c);
  }
  return c;
}

function decodeCapabilityList(b: Buffer, c: Capabilities): void {
  const r = new ByteReader(b, openError);
  while (r.remaining > 0) {
    r.need(2, 'capability header is truncated');
    const code = r.u8('capability code');
    const len = r.u8('capability length');
    if (len > r.remaining) throw openError(`capability ${code} overruns its parameter`, { need: len, offset: r.offset, left: r.remaining });
    const d = r.bytes(len, 'capability value');
    switch (code) {
      case Cap.MULTIPROTOCOL:
        if (len !== 4) throw new BgpError(Err.OPEN, 0, `multiprotocol capability has length ${len}, expected 4`);
        c.multiprotocol.push({ afi: d.readUInt16BE(0), safi: d[3] ?? 0 });
        break;
      case Cap.ROUTE_REFRESH:
      case Cap.ROUTE_REFRESH_OLD:
        c.routeRefresh = true;
        break;
      case Cap.ENHANCED_ROUTE_REFRESH:
        c.enhancedRouteRefresh = true;
        break;
      case Cap.EXTENDED_MESSAGE:
        c.extendedMessage = true;
        break;
      case Cap.EXTENDED_NEXT_HOP:
        c.extendedNextHop = [...(c.extendedNextHop ?? []), ...decodeExtendedNextHop(d)];
        break;
      case Cap.FOUR_OCTET_AS:
        if (len !== 4) throw new BgpError(Err.OPEN, 0, `4-octet AS capability has length ${len}, expected 4`);
        c.fourOctetAs = d.readUInt32BE(0);
        break;
      case Cap.GRACEFUL_RESTART: {
        if (len < 2 || (len - 2) % 4 !== 0) throw new BgpError(Err.OPEN, 0, `graceful restart capability has length ${len}`);
        const w = d.readUInt16BE(0);
        const families: GracefulRestartCap['families'] = [];
        for (let i = 2; i < len; i += 4) families.push({ afi: d.readUInt16BE(i), safi: d[i + 2] ?? 0, forwarding: ((d[i + 3] ?? 0) & 0x80) !== 0 });
        c.gracefulRestart = { restarting: (w & 0x8000) !== 0, notification: (w & 0x4000) !== 0, time: w & 0xfff, families };
        break;
      }
      case Cap.ADD_PATH:
        if (len % 4 !== 0) throw new BgpError(Err.OPEN, 0, `ADD-PATH capability has length ${len}, not a multiple of 4`);
        for (let i = 0; i < len; i += 4) c.addPath.push({ afi: d.readUInt16BE(i), safi: d[i + 2] ?? 0, mode: d[i + 3] ?? 0 });
        break;
      default:
        // Unknown capabilities are ignored (RFC 5492 §3), kept only for status.
        c.unknown.push({ code, data: Buffer.from(d) });
    }
  }
}

/** The families a peer supports: IPv4 unicast alone when it sent no multiprotocol capability (RFC 4760 §8). */
export function peerFamilies(c: Capabilities): AfiSafi[] {
  return c.multiprotocol.length ? c.multiprotocol : [{ afi: Afi.IPV4, safi: SAFI_UNICAST }];
}
