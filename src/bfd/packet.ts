// RFC 5880 section 4: the BFD Control packet, encoded and decoded as pure functions over Buffers.
// Authentication sections are carried as typed data here; digests are computed in auth.ts.
import { ByteReader, ByteWriter, type Fail } from '../util/bytes.ts';

export type BfdState = 'AdminDown' | 'Down' | 'Init' | 'Up';
export const STATES: readonly BfdState[] = ['AdminDown', 'Down', 'Init', 'Up'];

/** RFC 5880 section 4.1 diagnostic codes. */
export const Diag = {
  None: 0,
  ControlDetectionTimeExpired: 1,
  EchoFunctionFailed: 2,
  NeighborSignaledSessionDown: 3,
  ForwardingPlaneReset: 4,
  PathDown: 5,
  ConcatenatedPathDown: 6,
  AdministrativelyDown: 7,
  ReverseConcatenatedPathDown: 8,
} as const;
export type DiagCode = (typeof Diag)[keyof typeof Diag];

const DIAG_NAMES = ['None', 'ControlDetectionTimeExpired', 'EchoFunctionFailed', 'NeighborSignaledSessionDown',
  'ForwardingPlaneReset', 'PathDown', 'ConcatenatedPathDown', 'AdministrativelyDown', 'ReverseConcatenatedPathDown'];
export function diagName(code: number): string {
  return DIAG_NAMES[code] ?? `Reserved(${code})`;
}

/** RFC 5880 section 4.1 authentication types. */
export const AuthType = { SimplePassword: 1, KeyedMD5: 2, MeticulousKeyedMD5: 3, KeyedSHA1: 4, MeticulousKeyedSHA1: 5 } as const;
export type AuthTypeCode = (typeof AuthType)[keyof typeof AuthType];

export type AuthSection =
  | { type: 1; keyId: number; password: Buffer }
  | { type: 2 | 3 | 4 | 5; keyId: number; sequence: number; digest: Buffer };

export interface ControlPacket {
  version: number;
  diagnostic: number;
  state: BfdState;
  poll: boolean;
  final: boolean;
  controlPlaneIndependent: boolean;
  demand: boolean;
  multipoint: boolean;
  detectMult: number;
  myDiscriminator: number;
  yourDiscriminator: number;
  /** Microseconds, as on the wire. */
  desiredMinTxInterval: number;
  requiredMinRxInterval: number;
  requiredMinEchoRxInterval: number;
  auth?: AuthSection;
}

export const HEADER_LENGTH = 24;
/** Digest lengths by auth type (keyed MD5 16 bytes, keyed SHA1 20 bytes). */
export function digestLength(type: number): number {
  return type === 2 || type === 3 ? 16 : type === 4 || type === 5 ? 20 : 0;
}

export class BfdDecodeError extends Error {
  override name = 'BfdDecodeError';
}

/** Encodes a control packet. For keyed auth the digest is written as given (auth.ts fills it in). */
export function encodeControl(p: ControlPacket): Buffer {
  let authLen = 0;
  if (p.auth) {
    if (p.auth.type === 1) {
      const n = p.auth.password.length;
      if (n < 1 || n > 16) throw new RangeError(`BFD simple password must be 1-16 bytes, got ${n}`);
      authLen = 3 + n;
    } else {
      authLen = 8 + digestLength(p.auth.type);
    }
  }
  const w = new ByteWriter(HEADER_LENGTH + authLen);
  w.u8(((p.version & 0x7) << 5) | (p.diagnostic & 0x1f));
  w.u8((STATES.indexOf(p.state) << 6) | (p.poll ? 0x20 : 0) | (p.final ? 0x10 : 0) |
    (p.controlPlaneIndependent ? 0x08 : 0) | (p.auth ? 0x04 : 0) | (p.demand ? 0x02 : 0) | (p.multipoint ? 0x01 : 0));
  w.u8(p.detectMult & 0xff);
  w.u8(HEADER_LENGTH + authLen);
  w.u32(p.myDiscriminator).u32(p.yourDiscriminator).u32(p.desiredMinTxInterval).u32(p.requiredMinRxInterval).u32(p.requiredMinEchoRxInterval);
  const a = p.auth;
  if (a) {
    w.u8(a.type).u8(authLen).u8(a.keyId & 0xff);
    if (a.type === 1) {
      w.bytes(a.password);
    } else {
      const len = digestLength(a.type);
      if (a.digest.length !== len) throw new RangeError(`BFD auth type ${a.type} digest must be ${len} bytes, got ${a.digest.length}`);
      w.u8(0).u32(a.sequence).bytes(a.digest);
    }
  }
  return w.done();
}

const truncated: Fail = (what, at) => new BfdDecodeError(`${what} is truncated: ${at.need} bytes needed, ${at.left} left`);

/**
 * Decodes and validates a control packet per RFC 5880 section 6.8.6 (the checks that need no
 * session): version 1, length consistent with the datagram and the A bit, non-zero Detect Mult,
 * M bit clear, non-zero My Discriminator. Throws BfdDecodeError on anything else; callers drop it.
 */
export function decodeControl(buf: Uint8Array): ControlPacket {
  const r = new ByteReader(buf, truncated);
  if (r.remaining < HEADER_LENGTH) throw new BfdDecodeError(`packet is ${r.remaining} bytes, shorter than the 24-byte BFD header`);
  const first = r.u8('version');
  const version = first >> 5;
  if (version !== 1) throw new BfdDecodeError(`BFD version ${version}, only version 1 is supported`);
  const flags = r.u8('flags');
  const hasAuth = (flags & 0x04) !== 0;
  const detectMult = r.u8('Detect Mult');
  const length = r.u8('length');
  if (length < (hasAuth ? 26 : HEADER_LENGTH)) throw new BfdDecodeError(`length field ${length} too small`);
  if (length > r.end) throw new BfdDecodeError(`length field ${length} exceeds datagram of ${r.end} bytes`);
  if (detectMult === 0) throw new BfdDecodeError('Detect Mult is zero');
  if (flags & 0x01) throw new BfdDecodeError('Multipoint bit set');
  const myDiscriminator = r.u32('My Discriminator');
  if (myDiscriminator === 0) throw new BfdDecodeError('My Discriminator is zero');
  const p: ControlPacket = {
    version,
    diagnostic: first & 0x1f,
    state: STATES[flags >> 6]!,
    poll: (flags & 0x20) !== 0,
    final: (flags & 0x10) !== 0,
    controlPlaneIndependent: (flags & 0x08) !== 0,
    demand: (flags & 0x02) !== 0,
    multipoint: false,
    detectMult,
    myDiscriminator,
    yourDiscriminator: r.u32('Your Discriminator'),
    desiredMinTxInterval: r.u32('Desired Min TX Interval'),
    requiredMinRxInterval: r.u32('Required Min RX Interval'),
    requiredMinEchoRxInterval: r.u32('Required Min Echo RX Interval'),
  };
  if (p.poll && p.final) throw new BfdDecodeError('Poll and Final bits both set');
  if (p.yourDiscriminator === 0 && p.state !== 'Down' && p.state !== 'AdminDown') {
    throw new BfdDecodeError(`Your Discriminator is zero in state ${p.state}`);
  }
  if (hasAuth) {
    const type = r.u8('auth type');
    const authLen = r.u8('auth length');
    if (HEADER_LENGTH + authLen > length) throw new BfdDecodeError(`auth length ${authLen} overruns packet length ${length}`);
    const keyId = r.u8('auth key ID');
    if (type === 1) {
      if (authLen < 4 || authLen > 19) throw new BfdDecodeError(`simple password auth length ${authLen} not in 4-19`);
      p.auth = { type: 1, keyId, password: Buffer.from(r.bytes(authLen - 3, 'password')) };
    } else if (type >= 2 && type <= 5) {
      const want = 8 + digestLength(type);
      if (authLen !== want) throw new BfdDecodeError(`auth type ${type} length ${authLen}, expected ${want}`);
      r.skip(1, 'reserved byte');
      p.auth = { type: type as 2 | 3 | 4 | 5, keyId, sequence: r.u32('sequence number'), digest: Buffer.from(r.bytes(want - 8, 'digest')) };
    } else {
      throw new BfdDecodeError(`unknown auth type ${type}`);
    }
  }
  return p;
}
