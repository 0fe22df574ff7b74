// Speaker metrics (prom-client). One registry per speaker; membership and BFD register theirs on it.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface SpeakerMetrics {
  registry: Registry;
  announced: Gauge<'mode'>;
  sessions: Gauge<'state'>;
  sessionUp: Gauge<'peer'>;
  members: Gauge;
  l2Quorum: Gauge;
  failovers: Counter<'mode'>;
  failoverSeconds: Histogram;
  reconciles: Counter;
  reconcileSeconds: Histogram;
  configValid: Gauge;
  configRejectedObjects: Gauge;
  apiErrors: Counter<'op'>;
  unannounced: Gauge;
  fastTakeovers: Counter<'result'>;
  watchScheduling: Gauge<'scheduling'>;
  watchedOwners: Gauge;
}

export function createSpeakerMetrics(registry: Registry = new Registry()): SpeakerMetrics {
  const registers = [registry];
  return {
    registry,
    announced: new Gauge({ name: 'ironlb_speaker_announced_addresses', help: 'Addresses this node announces, by mode (layer2: owned addresses; bgp: prefixes summed over peers).', labelNames: ['mode'], registers }),
    sessions: new Gauge({ name: 'ironlb_speaker_bgp_sessions', help: 'BGP sessions of this node by state.', labelNames: ['state'], registers }),
    sessionUp: new Gauge({ name: 'ironlb_speaker_bgp_session_up', help: '1 while the session with a BGPPeer is Established.', labelNames: ['peer'], registers }),
    members: new Gauge({ name: 'ironlb_speaker_members_alive', help: 'Speakers alive according to membership (self included).', registers }),
    l2Quorum: new Gauge({ name: 'ironlb_speaker_l2_quorum', help: '1 while this node may announce over Layer 2 (it sees at least half of the known speakers alive, or the quorum is off), 0 while it holds back as possibly cut off.', registers }),
    failovers: new Counter({ name: 'ironlb_speaker_failovers_total', help: 'Addresses this node took over from another node that went down or left.', labelNames: ['mode'], registers }),
    failoverSeconds: new Histogram({
      name: 'ironlb_speaker_failover_duration_seconds',
      help: 'From membership declaring the previous owner down to this node announcing its addresses (detection time not included).',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    reconciles: new Counter({ name: 'ironlb_speaker_reconciles_total', help: 'Decisions taken (coalesced changes).', registers }),
    reconcileSeconds: new Histogram({ name: 'ironlb_speaker_reconcile_duration_seconds', help: 'Time to decide and apply one reconcile (Layer 2 part, synchronous).', buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1], registers }),
    configValid: new Gauge({ name: 'ironlb_speaker_config_valid', help: '1 when every configuration object is valid, 0 when some are rejected (they are skipped or keep their last accepted version; the rest applies).', registers }),
    configRejectedObjects: new Gauge({ name: 'ironlb_speaker_config_rejected_objects', help: 'Configuration objects whose current version is rejected (skipped, or served in their last accepted version).', registers }),
    apiErrors: new Counter({ name: 'ironlb_speaker_api_errors_total', help: 'Failed Kubernetes API writes by operation.', labelNames: ['op'], registers }),
    // For the "should be announced and is not" alert: the view is cluster-wide, so any speaker with quorum can tell.
    fastTakeovers: new Counter({ name: 'ironlb_speaker_fast_takeovers_total', help: 'Owner-watch suspicions of a Layer 2 owner still listed by membership (suspected: its addresses taken), and how each ended (confirmed by membership, or refuted: released after the hold time). Heard-again ends are not counted.', labelNames: ['result'], registers }),
    watchScheduling: new Gauge({ name: 'ironlb_speaker_owner_watch_scheduling', help: 'How the owner-watch heartbeat thread is scheduled: 1 for the one that applies (realtime: SCHED_FIFO; nice: a raised nice value, real-time refused; inherited: the process\'s own, both refused, e.g. no CAP_SYS_NICE).', labelNames: ['scheduling'], registers }),
    watchedOwners: new Gauge({ name: 'ironlb_speaker_watched_owners', help: 'Layer 2 owners this node watches with owner-watch heartbeats (those it would take addresses over from).', registers }),
    unannounced: new Gauge({ name: 'ironlb_speaker_services_unannounced', help: 'Services with an address and a ready endpoint that no node announces, in this speaker\'s cluster-wide view.', registers }),
  };
}
