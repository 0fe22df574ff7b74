// decide() cost: one speaker's decision for S services on N nodes (Layer 2 and BGP advertisements,
// three peers), the work done on every coalesced change. Pure, in-process.
// Wall time includes waiting for a core on a shared machine; CPU time is the decision's own cost.
// Usage: node bench/speaker-decide.ts
import { decide, type DecideInput, type NodeFacts, type ServiceFacts } from '../src/speaker/decide.ts';

function input(services: number, nodes: number): DecideInput {
  const ns: NodeFacts[] = Array.from({ length: nodes }, (_, i) => ({ name: `node-${i}`, labels: { 'kubernetes.io/hostname': `node-${i}`, zone: `z${i % 3}` }, networkUnavailable: false, subnets: ['10.0.0.0/16'] }));
  const svcs: ServiceFacts[] = Array.from({ length: services }, (_, i) => ({
    key: `ns${i % 50}/svc-${i}`,
    labels: { app: `a${i % 20}` },
    ips: [`10.0.${Math.floor(i / 250)}.${(i % 250) + 1}`],
    pool: i % 2 ? 'l2' : 'bgp',
    externalTrafficPolicy: i % 5 === 0 ? 'Local' : 'Cluster',
    endpointNodes: new Set([`node-${i % nodes}`, `node-${(i + 1) % nodes}`]),
    hasServingEndpoint: true,
  }));
  return {
    self: 'node-0',
    nodes: ns,
    alive: new Set(ns.map((n) => n.name)),
    services: svcs,
    l2: [{ name: 'l2', pools: new Set(['l2']), nodeSelectors: [], serviceSelectors: [], interfaces: [] }],
    bgp: [{ name: 'b', pools: new Set(['bgp']), nodeSelectors: [], serviceSelectors: [], communities: ['65000:1'], largeCommunities: [], peers: [] }],
    peers: ['r1', 'r2', 'r3'].map((name) => ({ name, nodeSelectors: [] })),
  };
}

for (const [s, n] of [[100, 3], [1000, 10], [5000, 50]] as const) {
  const inp = input(s, n);
  decide(inp); // warm the hash cache, as a running speaker has
  const times: number[] = [];
  const cpu: number[] = [];
  const end = Date.now() + 5000;
  for (let i = 0; i < 200 && Date.now() < end; i++) {
    const t = performance.now();
    const c = process.cpuUsage();
    decide(inp);
    const d = process.cpuUsage(c);
    times.push(performance.now() - t);
    cpu.push((d.user + d.system) / 1000);
  }
  cpu.sort((a, b) => a - b);
  times.sort((a, b) => a - b);
  const p = (q: number) => (times[Math.min(times.length - 1, Math.floor(q * times.length))] ?? NaN).toFixed(2);
  const c50 = (cpu[Math.floor(cpu.length / 2)] ?? NaN).toFixed(2);
  console.log(`${s} services, ${n} nodes: decide wall p50 ${p(0.5)} ms, p99 ${p(0.99)} ms; CPU p50 ${c50} ms (${times.length} runs)`);
}
