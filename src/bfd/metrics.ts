// BFD metrics (prom-client), registered on the registry the caller passes in.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { STATES, type BfdState } from './packet.ts';

export class BfdMetrics {
  private readonly sessions: Gauge<'state'>;
  private readonly changes: Counter<'state' | 'diagnostic'>;
  private readonly detection: Histogram;
  private readonly negotiated: Gauge<'session'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.sessions = new Gauge({ name: 'ironlb_bfd_sessions', help: 'BFD sessions by state', labelNames: ['state'], registers });
    this.changes = new Counter({ name: 'ironlb_bfd_state_changes_total', help: 'BFD session state changes, by new state and diagnostic', labelNames: ['state', 'diagnostic'], registers });
    this.detection = new Histogram({
      name: 'ironlb_bfd_detection_seconds', help: 'Time from the last packet received to declaring a session Down by detection timeout',
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10], registers,
    });
    this.negotiated = new Gauge({ name: 'ironlb_bfd_detection_time_seconds', help: 'Negotiated detection time per session', labelNames: ['session'], registers });
  }

  /** Publishes the number of sessions in each state. */
  setStates(states: Iterable<BfdState>): void {
    const counts = new Map<BfdState, number>(STATES.map((s) => [s, 0]));
    for (const s of states) counts.set(s, (counts.get(s) ?? 0) + 1);
    for (const [s, n] of counts) this.sessions.set({ state: s }, n);
  }

  change(key: string, state: BfdState, diagnostic: string, detectionTimeMs: number, detectedAfterMs?: number): void {
    this.changes.inc({ state, diagnostic });
    if (detectedAfterMs !== undefined) this.detection.observe(detectedAfterMs / 1000);
    this.negotiated.set({ session: key }, detectionTimeMs / 1000);
  }

  timers(key: string, detectionTimeMs: number): void {
    this.negotiated.set({ session: key }, detectionTimeMs / 1000);
  }

  removed(key: string): void {
    this.negotiated.remove({ session: key });
  }
}
