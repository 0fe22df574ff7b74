// Membership: SWIM-style failure detection between speakers over authenticated UDP.
export { Membership, DEFAULT_PORT, DEFAULT_TIMING, type MembershipOptions, type MembershipEvents, type Peer, type Timing, type DownReason, type LocalState, type MemberInfo } from './membership.ts';
export { deriveKey, seal, open, openAny, parseKeyList, keyFingerprint, MAC_BYTES, MAX_KEYS } from './auth.ts';
export { encodeMessage, decodeMessage, peekMessage, DecodeError, WIRE_VERSION, MIN_WIRE_VERSION, type Message, type Update, type Body, type MemberState, type Peek } from './codec.ts';
export { ReplayGuard, type ReplayVerdict } from './replay.ts';
export { realClock, FakeClock, type Clock, type TimerHandle } from './clock.ts';
export { UdpTransport, MemoryNetwork, DEFAULT_RECEIVE_BUFFER, type Transport, type Datagram, type UdpTransportOptions } from './transport.ts';
