// What the lab shows a person: Services with their addresses and announcing nodes, the router's
// routes and next hops, BGP sessions, requests from both clients and which node answered, and the
// state of every node's daemons and link.
import { urlFor, type Lab, type ProbeResult } from './lab.ts';

export interface Summary {
  services: Array<{ name: string; addresses: string[]; announced: string[] }>;
  routes: Array<{ prefix: string; nextHops: string[] }>;
  sessions: { established: number; total: number; down: string[] };
  requests: Array<{ from: 'lan' | 'ext'; url: string; answers: Record<string, number> }>;
  nodes: Array<{ name: string; ipv4: string; ipv6: string; speaker: boolean; backend: boolean; link: boolean }>;
}

const count = (rs: ProbeResult[], url: string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const r of rs.filter((x) => x.url === url)) {
    const k = r.node ?? `error ${r.err ?? ''}`.trim();
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
};

export async function summarize(lab: Lab, o: { requests?: number } = {}): Promise<Summary> {
  const list = await lab.core.listNamespacedService({ namespace: 'default' });
  const services: Summary['services'] = [];
  for (const s of list.items.filter((x) => x.spec?.type === 'LoadBalancer')) {
    const name = s.metadata?.name ?? '';
    const anns = await lab.announcements(name);
    const announced = [...new Set(anns.map((a) => `${a.mode === 'layer2' ? 'L2' : 'BGP'} ${a.node}`))].sort();
    services.push({ name, addresses: (s.status?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? '').filter(Boolean), announced });
  }
  const routes = await lab.routes().catch(() => []);
  const rows = await lab.sessions().catch(() => []);
  const n = o.requests ?? 6;
  const requests: Summary['requests'] = [];
  const urls = services.flatMap((s) => s.addresses.map((a) => urlFor(a, lab.plan.appPort)));
  if (n > 0 && urls.length) {
    for (const from of ['lan', 'ext'] as const) {
      const rs = await lab.requests(from, urls, n, { timeoutMs: 1500 }).catch(() => []);
      for (const u of urls) requests.push({ from, url: u, answers: count(rs, u) });
    }
  }
  const d = lab.daemons();
  return {
    services,
    routes,
    sessions: { established: rows.filter((r) => r.state === 'Established').length, total: rows.length, down: rows.filter((r) => r.state !== 'Established').map((r) => `${r.name} ${r.state}`) },
    requests,
    nodes: lab.plan.nodes.map((x) => ({ name: x.name, ipv4: x.ipv4, ipv6: x.ipv6, speaker: d[`${x.name}-speaker`] ?? false, backend: d[`${x.name}-backend`] ?? false, link: !lab.state.cut.includes(x.name) })),
  };
}

export function formatSummary(lab: Lab, s: Summary): string {
  const out: string[] = [];
  const hop = (h: string): string => {
    const node = lab.plan.nodes.find((x) => x.ipv4 === h || x.ipv6 === h);
    return node ? `${node.name} (${h})` : h;
  };
  out.push('SERVICES (namespace default)');
  for (const v of s.services) out.push(`  ${v.name.padEnd(14)} ${(v.addresses.join(', ') || 'pending').padEnd(32)} ${v.announced.join(', ') || 'not announced'}`);
  out.push('', `ROUTER (${lab.state.router}) kernel routes learned over BGP, ECMP next hops; sessions ${s.sessions.established}/${s.sessions.total} Established${s.sessions.down.length ? ` (not: ${s.sessions.down.join(', ')})` : ''}`);
  if (!s.routes.length) out.push('  (none)');
  for (const r of s.routes) out.push(`  ${r.prefix.padEnd(22)} via ${r.nextHops.map(hop).join(', ')}`);
  if (s.requests.length) {
    out.push('', 'REQUESTS (each on a new connection) and the node that answered');
    for (const r of s.requests) {
      const who = Object.entries(r.answers).sort().map(([k, c]) => `${k} x${c}`).join(', ');
      out.push(`  ${r.from === 'lan' ? 'client on the LAN ' : 'client behind the router'.padEnd(18)} -> ${r.url.padEnd(28)} ${who}`);
    }
  }
  out.push('', 'NODES');
  for (const x of s.nodes) out.push(`  ${x.name.padEnd(7)} ${x.ipv4.padEnd(13)} ${x.ipv6.padEnd(16)} speaker ${x.speaker ? 'running' : 'STOPPED'}, backend ${x.backend ? 'running' : 'STOPPED'}${lab.state.cut.includes(x.name) ? ', link CUT' : ''}`);
  return out.join('\n');
}
