// Session settings: the BFDProfile fields (ms, as in the API) with MetalLB/FRR defaults, and checks.
import { type BfdAuth, validateAuth } from './auth.ts';

export interface BfdProfile {
  /** Slowest rate at which we accept packets from the peer, ms. */
  receiveInterval: number;
  /** Fastest rate at which we want to send, ms. */
  transmitInterval: number;
  detectMultiplier: number;
  /** Asked-for echo mode; refused (see docs/performance.md "BFD"): the session runs without echo. */
  echoMode: boolean;
  echoInterval: number;
  /** Wait for the peer's first packet before sending (RFC 5880 section 6.1). */
  passiveMode: boolean;
  /** Multihop only: lowest TTL accepted on received packets. */
  minimumTtl: number;
}

export const DEFAULT_PROFILE: Readonly<BfdProfile> = Object.freeze({
  receiveInterval: 300,
  transmitInterval: 300,
  detectMultiplier: 3,
  echoMode: false,
  echoInterval: 50,
  passiveMode: false,
  minimumTtl: 254,
});

export interface BfdSessionSpec {
  /** Caller's name for the session (e.g. the BGPPeer name); unique per manager. */
  key: string;
  peerAddress: string;
  /** Source address of our packets; also selects the family. Default: chosen by the kernel. */
  localAddress?: string;
  /** Linux interface to bind to (SO_BINDTODEVICE; needs the native addon). */
  interface?: string;
  multihop?: boolean;
  profile?: Partial<BfdProfile>;
  auth?: BfdAuth;
  /** Destination port override (tests only); default 3784 single hop, 4784 multihop. */
  peerPort?: number;
  /** Start in AdminDown. */
  adminDown?: boolean;
}

export function resolveProfile(p: Partial<BfdProfile> | undefined): BfdProfile {
  const r: BfdProfile = { ...DEFAULT_PROFILE };
  for (const [k, v] of Object.entries(p ?? {})) if (v !== undefined) (r as unknown as Record<string, unknown>)[k] = v;
  return r;
}

function checkInt(name: string, v: number, lo: number, hi: number): void {
  if (!Number.isInteger(v) || v < lo || v > hi) throw new Error(`BFD ${name} must be an integer in ${lo}-${hi}, got ${v}`);
}

/** Throws with what is wrong and the accepted range. */
export function validateSpec(s: BfdSessionSpec): BfdProfile {
  if (!s.key) throw new Error('BFD session key must be a non-empty string');
  if (!s.peerAddress) throw new Error(`BFD session ${s.key}: peerAddress is required`);
  const p = resolveProfile(s.profile);
  // Ranges as in MetalLB's BFDProfile.
  checkInt('receiveInterval (ms)', p.receiveInterval, 10, 60_000);
  checkInt('transmitInterval (ms)', p.transmitInterval, 10, 60_000);
  checkInt('detectMultiplier', p.detectMultiplier, 2, 255);
  checkInt('echoInterval (ms)', p.echoInterval, 10, 60_000);
  checkInt('minimumTtl', p.minimumTtl, 1, 254);
  if (s.peerPort !== undefined) checkInt('peerPort', s.peerPort, 1, 65_535);
  if (s.auth) validateAuth(s.auth);
  return p;
}
