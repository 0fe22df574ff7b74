// The lab's topology: the namespaces and links of the plan (testbed/lab/plan.ts). A switch (a
// bridge holding the nodes' segment), the nodes with kube-proxy's part of their networking, the
// router on the segment (and on point-to-point node links in BGP unnumbered mode), a client on the
// segment and an external client behind the router. Namespaces have fixed names so that `lab down`
// finds them from another process.
import { Netns, bridge } from '../cluster/netns.ts';
import type { LabPlan, NodePlan } from './plan.ts';
import { createNodeLinks } from './unnumbered.ts';

const sysctl = (ns: Netns, ...kv: string[]): Promise<string> => ns.exec('sysctl', ['-q', '-w', ...kv]);

/**
 * Before any interface exists, so every interface inherits it. No ICMP redirects: the router would
 * tell the LAN client to go straight to one node, and ECMP would stop spreading its requests.
 */
const base = (ns: Netns): Promise<string> =>
  sysctl(ns, 'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0',
    'net.ipv4.conf.all.send_redirects=0', 'net.ipv4.conf.default.send_redirects=0', 'net.ipv4.conf.all.accept_redirects=0', 'net.ipv4.conf.default.accept_redirects=0',
    'net.ipv6.conf.all.accept_redirects=0', 'net.ipv6.conf.default.accept_redirects=0');

/** A namespace of the plan with the lab's base settings. */
async function host(name: string): Promise<Netns> {
  const ns = await Netns.named(name);
  await base(ns);
  return ns;
}

/** eth0's addresses (dual stack, no DAD) and, when given, default routes. */
async function address(ns: Netns, v4: string, v6: string, gw?: { v4: string; v6: string }): Promise<void> {
  await ns.ip('addr', 'add', `${v4}/24`, 'dev', 'eth0');
  await ns.ip('-6', 'addr', 'add', `${v6}/64`, 'dev', 'eth0', 'nodad');
  if (!gw) return;
  await ns.ip('route', 'add', 'default', 'via', gw.v4);
  await ns.ip('-6', 'route', 'add', 'default', 'via', gw.v6);
}

/**
 * Node emulation, the network part: a node on the switch, its addresses, and kube-proxy's part:
 * service addresses are local, but the kernel must not answer ARP/NDP for them (the speaker does).
 * A local route, unlike an address on eth0, is never announced; the kernel answers NDP only for
 * assigned addresses, and arp_ignore=1 only for addresses on the asking interface. Returns eth0's MAC.
 */
async function node(p: LabPlan, n: NodePlan, plug: (host: Netns, hostIf: string, portIf: string) => Promise<void>): Promise<string> {
  const ns = await host(n.ns);
  await sysctl(ns, 'net.ipv4.conf.all.arp_ignore=1', 'net.ipv4.conf.all.arp_announce=2');
  await plug(ns, 'eth0', n.port);
  await address(ns, n.ipv4, n.ipv6, { v4: p.router4, v6: p.router6 });
  for (const r of p.serviceRanges4) await ns.ip('route', 'add', 'local', r, 'dev', 'lo');
  for (const r of p.serviceRanges6) await ns.ip('-6', 'route', 'add', 'local', r, 'dev', 'lo');
  return (JSON.parse(await ns.ip('-j', 'link', 'show', 'eth0')) as Array<{ address: string }>)[0]?.address ?? '';
}

/** Creates every namespace and link of the plan; returns the nodes' MACs by node name. */
export async function buildNetwork(p: LabPlan): Promise<Record<string, string>> {
  const sw = await Netns.named(p.switchNs);
  const plug = await bridge(sw);
  // Nodes in parallel: each is a few dozen `ip` commands, slow on a busy machine one after another.
  const macs = await Promise.all(p.nodes.map((n) => node(p, n, plug)));
  const router = await host(p.routerNs);
  await sysctl(router, 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', 'net.ipv4.fib_multipath_hash_policy=1', 'net.ipv6.fib_multipath_hash_policy=1');
  await plug(router, 'eth0', 'pr');
  await address(router, p.router4, p.router6);
  if (p.unnumbered) await createNodeLinks(p);
  const lan = await host(p.clientNs);
  await plug(lan, 'eth0', 'pc');
  await address(lan, p.client4, p.client6, { v4: p.router4, v6: p.router6 });
  // The external client hangs off the router's eth1: traffic from it is routed (ECMP), never switched.
  const ext = await host(p.extClientNs);
  await router.ip('link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ext.name);
  await router.ip('link', 'set', 'eth1', 'up');
  await ext.ip('link', 'set', 'eth0', 'up');
  await router.ip('addr', 'add', `${p.routerExt4}/24`, 'dev', 'eth1');
  await router.ip('-6', 'addr', 'add', `${p.routerExt6}/64`, 'dev', 'eth1', 'nodad');
  await address(ext, p.ext4, p.ext6, { v4: p.routerExt4, v6: p.routerExt6 });
  return Object.fromEntries(p.nodes.map((n, i) => [n.name, macs[i] ?? '']));
}

/** A node's cable: its switch port (the node's processes keep running). */
export async function setSwitchPort(p: LabPlan, n: NodePlan, state: 'up' | 'down'): Promise<void> {
  await Netns.existing(p.switchNs).ip('link', 'set', n.port, state);
}
