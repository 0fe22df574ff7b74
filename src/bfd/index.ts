// BFD (RFC 5880 asynchronous mode, RFC 5881 single hop, RFC 5883 multihop) for the speaker.
export { BfdManager, type BfdManagerOptions, type BfdStateEvent } from './manager.ts';
export { DEFAULT_PROFILE, resolveProfile, validateSpec, type BfdProfile, type BfdSessionSpec } from './profile.ts';
export type { BfdAuth, BfdAuthType } from './auth.ts';
export type { BfdState } from './packet.ts';
export type { SessionSnapshot, StateChange, TimersChange } from './session.ts';
export { BfdEngine, SINGLE_HOP_PORT, MULTI_HOP_PORT } from './engine.ts';
export { registerBfdCommand } from './cli.ts';
