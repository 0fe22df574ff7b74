// The BGP engine's public face: the engine API, its types, and the codec for tools and tests.
export { BgpEngine, DEFAULT_PORT, ROUTE_CHUNK } from './engine.ts';
export type { BgpEngineEvents } from './engine.ts';
export type * from './types.ts';
export { plainSockets, nativeSockets, defaultSockets } from './socket.ts';
export type { SocketFactory, BgpListener, ConnectRequest, ListenRequest } from './socket.ts';
export * as codec from './codec/index.ts';
