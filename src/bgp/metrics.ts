// Prometheus metrics of the BGP engine (default registry, labelled by peer name).
import client from 'prom-client';

function gauge(name: string, help: string): client.Gauge<'peer'> {
  const existing = client.register.getSingleMetric(name);
  return (existing as client.Gauge<'peer'> | undefined) ?? new client.Gauge({ name, help, labelNames: ['peer'] });
}

function counter(name: string, help: string): client.Counter<'peer'> {
  const existing = client.register.getSingleMetric(name);
  return (existing as client.Counter<'peer'> | undefined) ?? new client.Counter({ name, help, labelNames: ['peer'] });
}

export const bgpMetrics = {
  sessionUp: gauge('ironlb_bgp_session_up', 'BGP session state: 1 when Established'),
  updatesSent: counter('ironlb_bgp_updates_sent_total', 'BGP UPDATE messages sent'),
  routesAdvertised: gauge('ironlb_bgp_routes_advertised', 'Routes in the Adj-RIB-Out that are on the wire'),
};
