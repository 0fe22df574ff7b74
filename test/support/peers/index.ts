// Real BGP daemons as test peers: one module per daemon, one normalized view (types.ts).
export * from './types.ts';
export { Bird, birdCommand, birdConfig, parseBirdRoutes, parseBirdProtocols, type BirdOptions } from './bird.ts';
export { Frr, frrConfig, parseFrrRib, type FrrOptions } from './frr.ts';
export { Gobgp, gobgpConfig, parseGobgpRib } from './gobgp.ts';
export { Exabgp, exabgpConfig, replayExabgpLog } from './exabgp.ts';
export { DaemonProcess, tempDir, removeDir, isV6 } from './process.ts';
export { link, type Link } from './topology.ts';
export { IronlbSpeaker, type SpeakerProcess } from './ironlb.ts';
export { startDaemon, sessionState, DAEMON_KINDS, type DaemonKind } from './start.ts';
