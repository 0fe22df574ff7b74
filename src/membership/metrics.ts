// Prometheus metrics of one Membership instance (prom-client, on the registry the caller passes).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type RejectReason = 'auth' | 'malformed' | 'misdirected' | 'unknown-sender' | 'stale-epoch' | 'duplicate' | 'too-old' | 'clock-skew';

export interface MembershipMetrics {
  members: Gauge<'state'>;
  localHealth: Gauge;
  probes: Counter;
  probeFailures: Counter;
  suspicions: Counter;
  refutations: Counter;
  rejected: Counter<'reason'>;
  sent: Counter;
  received: Counter;
  detection: Histogram;
}

export function createMetrics(registry: Registry, collectStates: () => Record<string, number>, collectHealth: () => number): MembershipMetrics {
  const registers = [registry];
  return {
    members: new Gauge({
      name: 'ironlb_membership_members',
      help: 'Members by state as this speaker sees them (self counted as alive)',
      labelNames: ['state'],
      registers,
      collect() {
        for (const [state, n] of Object.entries(collectStates())) this.set({ state }, n);
      },
    }),
    localHealth: new Gauge({
      name: 'ironlb_membership_local_health',
      help: 'Local health multiplier score (0 = healthy); probe timers are scaled by 1 + score',
      registers,
      collect() {
        this.set(collectHealth());
      },
    }),
    probes: new Counter({ name: 'ironlb_membership_probes_total', help: 'Probes started (direct pings to a live member)', registers }),
    probeFailures: new Counter({ name: 'ironlb_membership_probe_failures_total', help: 'Probes that got no ack, directly or through other members', registers }),
    suspicions: new Counter({ name: 'ironlb_membership_suspicions_total', help: 'Members this speaker started to suspect', registers }),
    refutations: new Counter({ name: 'ironlb_membership_refutations_total', help: 'Times this speaker refuted a suspicion or death claim about itself', registers }),
    rejected: new Counter({ name: 'ironlb_membership_messages_rejected_total', help: 'Messages dropped, by reason (auth = wrong key or forged)', labelNames: ['reason'], registers }),
    sent: new Counter({ name: 'ironlb_membership_messages_sent_total', help: 'Messages sent', registers }),
    received: new Counter({ name: 'ironlb_membership_messages_received_total', help: 'Datagrams received (before authentication)', registers }),
    detection: new Histogram({
      name: 'ironlb_membership_detection_seconds',
      help: 'From the last message heard from a member to this speaker declaring it dead',
      buckets: [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1, 1.5, 2, 5],
      registers,
    }),
  };
}
