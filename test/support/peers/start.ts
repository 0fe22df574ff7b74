// Starts any of the four daemons by kind, for tests that run the same case against each.
import type { Netns } from '../netns.ts';
import { Bird, type BirdOptions } from './bird.ts';
import { Exabgp } from './exabgp.ts';
import { Frr, type FrrOptions } from './frr.ts';
import { Gobgp } from './gobgp.ts';
import type { DaemonConfig, PeerDaemon } from './types.ts';

export type DaemonKind = PeerDaemon['kind'];
export const DAEMON_KINDS: readonly DaemonKind[] = ['bird', 'frr', 'gobgp', 'exabgp'];

export async function startDaemon(kind: DaemonKind, ns: Netns, cfg: DaemonConfig, opts: { bird?: BirdOptions; frr?: FrrOptions } = {}): Promise<PeerDaemon> {
  switch (kind) {
    case 'bird': return Bird.start(ns, cfg, opts.bird);
    // No update-group coalescing delay: the tests measure ironlb, not FRR's batching.
    case 'frr': return Frr.start(ns, cfg, { coalesceTimeMs: 0, ...opts.frr });
    case 'gobgp': return Gobgp.start(ns, cfg);
    case 'exabgp': return Exabgp.start(ns, cfg);
  }
}

/** Waits until the daemon reports the session with `neighbor` in `state`. */
export function sessionState(d: PeerDaemon, neighbor: string): Promise<string | undefined> {
  return d.sessions().then((l) => l.find((s) => s.neighbor === neighbor)?.state);
}
