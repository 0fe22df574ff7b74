// Prometheus metrics of one Membership instance (prom-client, on the registry the caller passes).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Why a datagram was dropped. Before the MAC (cheap, so a flood of junk costs no HMAC): size, magic,
 * version, misdirected, unknown-sender. Then auth (no key opens it), malformed, out-of-range
 * (an incarnation beyond any this cluster can have), the replay checks (clock-skew, future-epoch,
 * duplicate, busy), and error (a bug met while handling it; logged).
 */
export type RejectReason =
  | 'size' | 'magic' | 'version' | 'misdirected' | 'unknown-sender'
  | 'auth' | 'malformed' | 'out-of-range'
  | 'clock-skew' | 'future-epoch' | 'duplicate' | 'busy'
  | 'error';

export interface MembershipMetrics {
  members: Gauge<'state'>;
  localHealth: Gauge;
  probes: Counter;
  probeFailures: Counter;
  suspicions: Counter;
  refutations: Counter;
  rejected: Counter<'reason'>;
  /** Messages that named an earlier process of this member (first contact after a restart): answered, not trusted. */
  unverified: Counter;
  authenticated: Counter<'key'>;
  keys: Gauge;
  receiveBuffer: Gauge;
  sent: Counter;
  received: Counter;
  detection: Histogram;
}

export interface MetricSources {
  states: () => Record<string, number>;
  health: () => number;
  keys: () => number;
  receiveBuffer: () => number | undefined;
}

export function createMetrics(registry: Registry, src: MetricSources): MembershipMetrics {
  const registers = [registry];
  return {
    members: new Gauge({
      name: 'ironlb_membership_members',
      help: 'Members by state as this speaker sees them (self counted as alive)',
      labelNames: ['state'],
      registers,
      collect() {
        for (const [state, n] of Object.entries(src.states())) this.set({ state }, n);
      },
    }),
    localHealth: new Gauge({
      name: 'ironlb_membership_local_health',
      help: 'Local health multiplier score (0 = healthy); probe timers are scaled by 1 + score',
      registers,
      collect() {
        this.set(src.health());
      },
    }),
    probes: new Counter({ name: 'ironlb_membership_probes_total', help: 'Probes started (direct pings to a live member)', registers }),
    probeFailures: new Counter({ name: 'ironlb_membership_probe_failures_total', help: 'Probes that got no ack, directly or through other members', registers }),
    suspicions: new Counter({ name: 'ironlb_membership_suspicions_total', help: 'Members this speaker started to suspect', registers }),
    refutations: new Counter({ name: 'ironlb_membership_refutations_total', help: 'Times this speaker refuted a suspicion or death claim about itself', registers }),
    rejected: new Counter({
      name: 'ironlb_membership_messages_rejected_total',
      help: 'Datagrams dropped, by reason: size, magic, version, misdirected, unknown-sender (before the MAC); auth (wrong key or forged), malformed, out-of-range, clock-skew, future-epoch, duplicate, busy, error',
      labelNames: ['reason'],
      registers,
    }),
    unverified: new Counter({
      name: 'ironlb_membership_messages_unverified_total',
      help: 'Authenticated messages addressed to an earlier process of this member (first contact after a restart, or a replay): answered with a ping, content ignored',
      registers,
    }),
    authenticated: new Counter({
      name: 'ironlb_membership_messages_authenticated_total',
      help: 'Messages whose MAC verified, by key: signing (the first key) or other (an older or newer key during a rotation)',
      labelNames: ['key'],
      registers,
    }),
    keys: new Gauge({
      name: 'ironlb_membership_keys',
      help: 'Membership keys accepted now (2 during a key rotation)',
      registers,
      collect() {
        this.set(src.keys());
      },
    }),
    receiveBuffer: new Gauge({
      name: 'ironlb_membership_receive_buffer_bytes',
      help: 'Receive buffer of the membership UDP socket as the kernel granted it (Linux reports twice the size asked for)',
      registers,
      collect() {
        const v = src.receiveBuffer();
        if (v !== undefined) this.set(v);
      },
    }),
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
