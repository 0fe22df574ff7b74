// Layer 2 metrics, registered in the registry the caller passes (shared when several announcers
// use one registry).
import { Counter, Registry } from 'prom-client';

export interface Layer2Metrics {
  requests: Counter<'interface' | 'protocol'>;
  replies: Counter<'interface' | 'protocol'>;
  gratuitous: Counter<'interface' | 'protocol'>;
  sendErrors: Counter<'interface' | 'protocol'>;
}

function counter(registry: Registry, name: string, help: string): Counter<'interface' | 'protocol'> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<'interface' | 'protocol'>;
  return new Counter({ name, help, labelNames: ['interface', 'protocol'], registers: [registry] });
}

export function layer2Metrics(registry: Registry): Layer2Metrics {
  return {
    requests: counter(registry, 'ironlb_layer2_requests_total', 'ARP requests and Neighbor Solicitations seen, per interface'),
    replies: counter(registry, 'ironlb_layer2_replies_total', 'ARP replies and Neighbor Advertisements sent in answer, per interface'),
    gratuitous: counter(registry, 'ironlb_layer2_gratuitous_total', 'Gratuitous ARP and unsolicited Neighbor Advertisements sent, per interface'),
    sendErrors: counter(registry, 'ironlb_layer2_send_errors_total', 'Frames the kernel refused to send, per interface'),
  };
}
