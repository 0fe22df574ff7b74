// Membership: SWIM-style failure detection between speakers over authenticated UDP.
export { Membership, DEFAULT_PORT, DEFAULT_TIMING, type MembershipOptions, type MembershipEvents, type Peer, type Timing, type DownReason, type LocalState, type MemberInfo } from './membership.ts';
export { deriveKey, seal, open, MAC_BYTES } from './auth.ts';
export { encodeMessage, decodeMessage, DecodeError, WIRE_VERSION, type Message, type Update, type Body, type MemberState } from './codec.ts';
export { ReplayGuard, type ReplayVerdict } from './replay.ts';
export { realClock, FakeClock, type Clock, type TimerHandle } from './clock.ts';
export { UdpTransport, MemoryNetwork, type Transport, type Datagram } from './transport.ts';
