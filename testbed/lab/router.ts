// The lab's router: BIRD 2 (or FRR) peered with every node over IPv4 and IPv6, installing the
// learned routes in its namespace's kernel table with ECMP. Config generation is pure; queries go
// through `ip` (kernel routes, what traffic actually follows) and birdc/vtysh (sessions).
import type { LabPlan } from './plan.ts';

// The router kinds are the cluster topology's (testbed/cluster/topology.ts).
import type { RouterKind } from '../cluster/topology.ts';
export type { RouterKind };

export interface RouterOptions {
  /** BFD on the sessions (the example BGPPeers then name a BFDProfile). */
  bfd: boolean;
  holdTime: number;
}

export function birdConfig(plan: LabPlan, o: RouterOptions): string {
  const l: string[] = [];
  l.push(`router id ${plan.router4};`);
  l.push('protocol device { scan time 10; }');
  // merge paths: routes to one prefix from several nodes become one multipath kernel route (ECMP).
  l.push('protocol kernel k4 { ipv4 { export all; import none; }; merge paths on; }');
  l.push('protocol kernel k6 { ipv6 { export all; import none; }; merge paths on; }');
  if (o.bfd) l.push('protocol bfd { interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }');
  for (const n of plan.nodes) {
    for (const [fam, local, peer] of [['ipv4', plan.router4, n.ipv4], ['ipv6', plan.router6, n.ipv6]] as const) {
      l.push(`protocol bgp ${n.name}_${fam === 'ipv4' ? 4 : 6} {`);
      l.push(`  local ${local} as ${plan.routerAsn};`, `  neighbor ${peer} as ${plan.asn};`, '  direct;', '  strict bind on;');
      l.push(`  hold time ${o.holdTime};`, `  keepalive time ${Math.max(1, Math.floor(o.holdTime / 3))};`);
      // The defaults wait a minute or more after an error: far too long for a lab where nodes die on purpose.
      l.push('  connect delay time 1;', '  connect retry time 2;', '  error wait time 1, 4;', '  error forget time 10;');
      if (o.bfd) l.push('  bfd on;');
      l.push(`  ${fam} { import all; export none; gateway direct; };`, '}');
    }
  }
  return `${l.join('\n')}\n`;
}

export function frrConfig(plan: LabPlan, o: RouterOptions): string {
  if (plan.unnumbered) return frrUnnumberedConfig(plan, o);
  const l: string[] = ['frr defaults traditional', 'hostname lab-router', 'log stdout informational', 'no ipv6 forwarding', '!'];
  l.push(`router bgp ${plan.routerAsn}`, ` bgp router-id ${plan.router4}`, ' no bgp ebgp-requires-policy', ' no bgp default ipv4-unicast', ' bgp bestpath as-path multipath-relax');
  for (const n of plan.nodes) {
    for (const peer of [n.ipv4, n.ipv6]) {
      l.push(` neighbor ${peer} remote-as ${plan.asn}`, ` neighbor ${peer} timers ${Math.max(1, Math.floor(o.holdTime / 3))} ${o.holdTime}`, ` neighbor ${peer} timers connect 1`);
      if (o.bfd) l.push(` neighbor ${peer} bfd profile lab`);
    }
  }
  for (const [fam, pick] of [['ipv4', (n: LabPlan['nodes'][number]) => n.ipv4], ['ipv6', (n: LabPlan['nodes'][number]) => n.ipv6]] as const) {
    l.push(` address-family ${fam} unicast`, '  maximum-paths ibgp 16', '  maximum-paths 16');
    for (const n of plan.nodes) l.push(`  neighbor ${pick(n)} activate`);
    l.push(' exit-address-family');
  }
  l.push('!');
  return `${l.join('\n')}\n`;
}

/**
 * BGP unnumbered mode: one eBGP session per node link, as a leaf switch running FRR peers with the
 * servers under it (`neighbor IFNAME interface remote-as external`). bgpd has zebra send RAs on
 * each link (that is how the speaker finds the router) and turns on the extended next hop
 * capability, so the nodes' IPv4 routes come with their link-local IPv6 next hops (RFC 8950) and
 * zebra installs them as `via inet6 fe80::... dev nodeN`. No BFD: ironlb does not run it for
 * unnumbered peers yet; a dead node's link goes down, which ends its session at once.
 */
function frrUnnumberedConfig(plan: LabPlan, o: RouterOptions): string {
  const links = plan.nodes.map((n) => n.link ?? n.name);
  const l: string[] = ['frr defaults traditional', 'hostname lab-router', 'log stdout informational', '!'];
  l.push(`router bgp ${plan.routerAsn}`, ` bgp router-id ${plan.router4}`, ' no bgp ebgp-requires-policy', ' no bgp default ipv4-unicast', ' bgp bestpath as-path multipath-relax');
  for (const ifname of links) {
    l.push(` neighbor ${ifname} interface remote-as external`, ` neighbor ${ifname} timers ${Math.max(1, Math.floor(o.holdTime / 3))} ${o.holdTime}`, ` neighbor ${ifname} timers connect 1`);
  }
  for (const fam of ['ipv4', 'ipv6'] as const) {
    l.push(` address-family ${fam} unicast`, '  maximum-paths 16');
    for (const ifname of links) l.push(`  neighbor ${ifname} activate`);
    l.push(' exit-address-family');
  }
  l.push('!');
  return `${l.join('\n')}\n`;
}

/**
 * zebra's configuration. In unnumbered mode a node's power-off takes the router's interface down,
 * and the kernel drops that interface's nexthop from the multipath route's nexthop group. FRR 8.4
 * does not notice, and when the node comes back within the time it keeps unused groups (180 s) it
 * reuses that group as if it were whole: the kernel route stays without the node although its
 * session is up (fixed in FRR 9: FRRouting/frr#13413, #14080). Keeping unused groups 1 s makes it
 * build a new one. (Without kernel nexthop groups, `no zebra nexthop kernel enable`, FRR 8.4 writes
 * IPv4-via-IPv6 routes as `via 169.254.0.1 onlink` with a static neighbour instead of `via inet6`.)
 */
export function frrZebraConfig(plan: LabPlan): string {
  return ['hostname lab-router', ...(plan.unnumbered ? ['zebra nexthop-group keep 1'] : []), ''].join('\n');
}

/** bfdd's own configuration: the profile the BGP neighbours name (100 ms x 3, like BIRD's). */
export function frrBfdConfig(): string {
  return ['bfd', ' profile lab', '  receive-interval 100', '  transmit-interval 100', '  detect-multiplier 3', ' !', '!', ''].join('\n');
}

export interface KernelRoute {
  prefix: string;
  nextHops: string[];
}

interface IpJsonHop {
  gateway?: string;
  /** RTA_VIA: a next hop of the other family (IPv4 via inet6, RFC 8950). */
  via?: { family?: string; host?: string };
  dev?: string;
}

interface IpJsonRoute extends IpJsonHop {
  dst?: string;
  protocol?: string;
  nexthops?: IpJsonHop[];
}

/** A next hop as text: its address, and `%dev` for a link-local one (only the device makes it unique). */
function hopText(h: IpJsonHop): string {
  const a = h.gateway ?? h.via?.host ?? '';
  return /^fe80:/i.test(a) && h.dev ? `${a}%${h.dev}` : a;
}

/**
 * Parses `ip -j route` output into the routes a routing daemon installed (prefix → next hops).
 * Link-local next hops (BGP unnumbered) read `fe80::...%DEV`, also IPv4 routes `via inet6`.
 */
export function parseKernelRoutes(json: string, protocols: readonly string[] = ['bird', 'bgp']): KernelRoute[] {
  const rows = JSON.parse(json || '[]') as IpJsonRoute[];
  const out: KernelRoute[] = [];
  for (const r of rows) {
    if (!r.dst || !protocols.includes(r.protocol ?? '')) continue;
    const hops = r.nexthops ? r.nexthops.map(hopText) : [hopText(r)];
    const prefix = r.dst.includes('/') ? r.dst : `${r.dst}/${r.dst.includes(':') ? 128 : 32}`;
    out.push({ prefix, nextHops: hops.filter(Boolean).sort() });
  }
  return out.sort((a, b) => a.prefix.localeCompare(b.prefix));
}

export interface SessionRow {
  name: string;
  state: string;
}

/** Parses `birdc show protocols` into BGP protocol names and their states. */
export function parseBirdProtocols(text: string): SessionRow[] {
  const out: SessionRow[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s+BGP\s+\S+\s+\S+\s+\S+(?:\s+\S+)?\s+(\w+)\s*$/.exec(line.trim()) ?? /^(\S+)\s+BGP\s+.*\b(Established|Idle|Connect|Active|OpenSent|OpenConfirm|Down)\b/.exec(line.trim());
    if (m) out.push({ name: m[1] ?? '', state: m[2] ?? '' });
  }
  return out;
}
