// Layer 2 metrics, registered in the registry the caller passes (shared when several announcers
// use one registry). Kernel counters of the packet sockets (PACKET_STATISTICS) are read when the
// registry is scraped, through the collect hooks announcers register.
import { Counter, Gauge, Registry } from 'prom-client';

type Labels = 'interface' | 'protocol';

export interface Layer2Metrics {
  requests: Counter<Labels>;
  replies: Counter<Labels>;
  gratuitous: Counter<Labels>;
  sendErrors: Counter<Labels>;
  /**
   * Requests for our addresses not answered because RFC 826/5227/4861 say to drop them, by reason;
   * "malformed": frames that passed the kernel filter but failed decoding or RFC 4861 validity
   * (truncated, bad lengths or checksum, hop limit not 255, ...), whatever their target.
   */
  dropped: Counter<Labels | 'reason'>;
  /** Frames read and not answered because they asked nothing of the responder, by reason. */
  ignored: Counter<Labels | 'reason'>;
  /** Frames the kernel dropped because a packet socket's receive buffer was full. */
  receiveDrops: Counter<Labels>;
  /** Frames the packet sockets' filters let through (including dropped ones). */
  receivedFrames: Counter<Labels>;
  receiveBuffer: Gauge<Labels>;
  /** 1 while the socket's answering thread runs real-time (SCHED_FIFO), else 0. */
  responderRealtime: Gauge<Labels>;
  /** Times a flood of frames sent a real-time answering thread back to normal priority for a second. */
  responderDemotions: Counter<Labels>;
  /** Socket errors (ENETDOWN on a link flap, ...), each followed by a reopen. */
  socketErrors: Counter<Labels>;
  /** Runs `fn` before each scrape (to read kernel counters); returns the unregister function. */
  onCollect(fn: () => void): () => void;
}

const hooks = new WeakMap<Registry, Set<() => void>>();

function runHooks(registry: Registry): void {
  for (const h of hooks.get(registry) ?? []) {
    try {
      h();
    } catch {
      /* a socket closed under us: its counters are gone */
    }
  }
}

function counter<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], collect?: () => void): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter<L>({ name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) });
}

function gauge(registry: Registry, name: string, help: string): Gauge<Labels> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<Labels>;
  return new Gauge({ name, help, labelNames: ['interface', 'protocol'], registers: [registry] });
}

export function layer2Metrics(registry: Registry): Layer2Metrics {
  const L = ['interface', 'protocol'] as const;
  return {
    // Registered first: its collect hook brings every per-frame and kernel counter up to date
    // before any of them is read (responders count frames in plain numbers, not per frame here).
    requests: counter(registry, 'ironlb_layer2_requests_total', 'ARP requests and Neighbor Solicitations seen, per interface', L, () => runHooks(registry)),
    replies: counter(registry, 'ironlb_layer2_replies_total', 'ARP replies and Neighbor Advertisements sent in answer, per interface', L),
    gratuitous: counter(registry, 'ironlb_layer2_gratuitous_total', 'Gratuitous ARP and unsolicited Neighbor Advertisements sent, per interface', L),
    sendErrors: counter(registry, 'ironlb_layer2_send_errors_total', 'Frames the kernel refused to send, per interface', L),
    dropped: counter(registry, 'ironlb_layer2_dropped_total', 'Requests for announced addresses dropped unanswered as RFC 826/5227/4861 require, by reason ("malformed": failed decoding or validity checks, any address)', ['interface', 'protocol', 'reason'] as const),
    ignored: counter(registry, 'ironlb_layer2_ignored_total', 'Frames the responder read and left unanswered because they ask nothing of it, by reason (not-request, other-host, not-announced, gratuitous, own-frame)', ['interface', 'protocol', 'reason'] as const),
    receiveDrops: counter(registry, 'ironlb_layer2_receive_drops_total', 'Frames the kernel dropped because a packet socket receive buffer was full (PACKET_STATISTICS)', L),
    receivedFrames: counter(registry, 'ironlb_layer2_received_frames_total', 'Frames that passed the packet socket filters, dropped ones included (PACKET_STATISTICS)', L),
    receiveBuffer: gauge(registry, 'ironlb_layer2_receive_buffer_bytes', 'Receive buffer in effect per packet socket (SO_RCVBUF, as the kernel reports it)'),
    responderRealtime: gauge(registry, 'ironlb_layer2_responder_realtime', '1 while the socket\'s answering thread runs at real-time priority (SCHED_FIFO; needs CAP_SYS_NICE), else 0'),
    responderDemotions: counter(registry, 'ironlb_layer2_responder_realtime_demotions_total', 'Times a flood of frames (over 20,000/s) sent a real-time answering thread back to normal priority for a second', L),
    socketErrors: counter(registry, 'ironlb_layer2_socket_errors_total', 'Packet socket errors (e.g. ENETDOWN on a link flap), each followed by reopening the sockets', L),
    onCollect(fn) {
      let set = hooks.get(registry);
      if (!set) hooks.set(registry, (set = new Set()));
      set.add(fn);
      return () => set.delete(fn);
    },
  };
}
