// BFD (RFC 5880 asynchronous mode, RFC 5881 single hop, RFC 5883 multihop) for the speaker.
//
//   const bfd = new BfdManager({ registry });          // sessions run in a worker thread
//   await bfd.addSession({ key: peer.name, peerAddress, localAddress, multihop, profile, auth });
//   bfd.on('state', ({ key, state, previous, diagnostic }) => {
//     if (state === 'Down' && previous === 'Up') engine.resetPeer(key, `BFD down: ${diagnostic}`);
//   });
//   await bfd.updateSession(spec);   // timer changes: poll/final, no flap
//   await bfd.removeSession(key);    // tells the peer AdminDown first
//   await bfd.close();
//
// `profile` takes the BFDProfile spec fields as they are (ms; defaults 300/300/3). Echo mode is
// refused (docs/performance.md, BFD). A crashed worker is restarted with its sessions, which are
// first reported Down with diagnostic "WorkerRestarted".
export { BfdManager, type BfdManagerOptions, type BfdStateEvent } from './manager.ts';
export { DEFAULT_PROFILE, resolveProfile, validateSpec, type BfdProfile, type BfdSessionSpec } from './profile.ts';
export type { BfdAuth, BfdAuthType } from './auth.ts';
export type { BfdState } from './packet.ts';
export type { SessionSnapshot, StateChange, TimersChange } from './session.ts';
export { BfdEngine, SINGLE_HOP_PORT, MULTI_HOP_PORT } from './engine.ts';
