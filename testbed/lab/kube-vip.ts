// kube-vip (v1.0.0, built by `scripts/go-tools.sh peers` from tools/kube-vip/go.mod) in the lab, for
// the comparison (`ironlb lab up --implementation kube-vip`). Nothing here imitates kube-vip: the
// lab installs the RBAC its own generator prints (`kube-vip manifest rbac`), starts its program on
// every node as its DaemonSet would (host network, its ServiceAccount's token), and does the one
// job of kube-vip-cloud-provider, which cannot be built here (the Go module proxy refuses
// github.com/kube-vip/kube-vip-cloud-provider with 403): giving each Service an address from the
// lab's pool in the `kube-vip.io/loadbalancerIPs` annotation, first free address first, as that
// provider's range allocator does.
//
// kube-vip runs one engine per process (ARP or BGP), so each node runs two: Layer 2 Services carry
// loadBalancerClass `kube-vip.io/arp`, BGP Services `kube-vip.io/bgp`, and each process serves
// only its class (--lbClassOnly). ARP mode elects a leader per Service through a Lease
// (--servicesElection, kube-vip's flag defaults: lease 5 s, renew 3 s, retry 1 s); the leader puts
// the address on its interface (the kernel then answers ARP) and sends gratuitous ARP. BGP mode
// announces every Service from every node (GoBGP inside kube-vip; no BFD), so the router's hold
// time detects a dead node.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import ipaddr from 'ipaddr.js';
import { parseAllDocuments } from 'yaml';
import { tool } from '../tools.ts';
import type { K8sObject } from './peers.ts';

const run = promisify(execFile);

export const KUBE_VIP_NS = 'kube-system';
export const KUBE_VIP_SA = 'kube-vip';
/** The loadBalancerClass each engine serves. */
export const KUBE_VIP_CLASS = { arp: 'kube-vip.io/arp', bgp: 'kube-vip.io/bgp' } as const;
export type KubeVipEngine = keyof typeof KUBE_VIP_CLASS;
/** Annotations kube-vip reads (the address) and writes (the ARP leader). */
export const KUBE_VIP_IPS = 'kube-vip.io/loadbalancerIPs';
export const KUBE_VIP_HOST = 'kube-vip.io/vipHost';

export const kubeVipProgram = (): string => tool('kube-vip', 'kube-vip');

/** kube-vip's ServiceAccount, ClusterRole and binding, as its own generator prints them. */
export async function kubeVipRbac(): Promise<K8sObject[]> {
  const { stdout } = await run(kubeVipProgram(), ['manifest', 'rbac'], { timeout: 30_000 });
  const objs = parseAllDocuments(stdout).map((d) => d.toJS() as K8sObject | null).filter((o): o is K8sObject => !!o);
  if (!objs.some((o) => o.kind === 'ClusterRole')) throw new Error(`"kube-vip manifest rbac" printed no ClusterRole: ${stdout.slice(0, 300)}`);
  return objs;
}

export interface KubeVipNode {
  name: string;
  ipv4: string;
}

/**
 * The program's arguments and environment for one engine on one node (its flag defaults for the
 * lease timings). The BGP peer goes in the environment (`bgp_peers`, as kube-vip's own DaemonSet
 * manifests set it): v1.0.0's manager does not read the --bgppeers flag.
 */
export function kubeVipCommand(engine: KubeVipEngine, n: KubeVipNode, o: { kubeconfig: string; metricsPort: number; asn: number; routerAsn: number; router4: string; holdTime: number }): { argv: string[]; env: Record<string, string> } {
  const common = ['manager', '--services', '--nodeName', n.name, '--k8sConfigPath', o.kubeconfig, '--namespace', KUBE_VIP_NS, '--lbClassOnly', '--lbClassName', KUBE_VIP_CLASS[engine], '--prometheusHTTPServer', `127.0.0.1:${o.metricsPort}`, '--interface', 'eth0', '--serviceInterface', 'eth0'];
  if (engine === 'arp') return { argv: [...common, '--arp', '--servicesElection', '--servicesLeaseName', 'kube-vip-arp'], env: {} };
  // Keepalive a third of the hold time, as the other implementations' sessions use.
  return {
    argv: [...common, '--bgp', '--localAS', String(o.asn), '--bgpRouterID', n.ipv4, '--bgpHoldTimer', String(o.holdTime), '--bgpKeepAliveInterval', String(Math.max(1, Math.floor(o.holdTime / 3)))],
    env: { bgp_peers: `${o.router4}:${o.routerAsn}::false` },
  };
}

/** Which engine serves a pool of the lab (BGP pools are named lab-bgp*). */
export const engineOfPool = (pool: string | undefined): KubeVipEngine => (pool?.includes('bgp') ? 'bgp' : 'arp');

/** An address as a number, and back (the lab's pools are IPv4 and IPv6 ranges or CIDRs). */
const toBig = (a: ipaddr.IPv4 | ipaddr.IPv6): bigint => a.toByteArray().reduce((n, b) => (n << 8n) | BigInt(b), 0n);
function fromBig(n: bigint, bytes: number): string {
  const out: number[] = [];
  for (let i = 0; i < bytes; i++) out.unshift(Number((n >> BigInt(8 * i)) & 0xffn));
  return ipaddr.fromByteArray(out).toString();
}

/**
 * kube-vip-cloud-provider's part: the first address of `pools` ("a-b" ranges or CIDRs; a CIDR
 * without its network and IPv4 broadcast address) of the wanted family that no Service holds.
 */
export function firstFreeAddress(pools: string[], used: ReadonlySet<string>, family: 'IPv4' | 'IPv6'): string | undefined {
  for (const p of pools) {
    let first: ipaddr.IPv4 | ipaddr.IPv6;
    let last: bigint;
    if (p.includes('-')) {
      const [a, b] = p.split('-') as [string, string];
      first = ipaddr.parse(a.trim());
      last = toBig(ipaddr.parse(b.trim()));
    } else {
      const [net, len] = ipaddr.parseCIDR(p);
      first = net;
      const bits = net.toByteArray().length * 8;
      last = toBig(net) + (1n << BigInt(bits - len)) - (net.kind() === 'ipv4' ? 2n : 1n);
      first = ipaddr.fromByteArray(net.toByteArray().map((b, i, arr) => (i === arr.length - 1 ? b + 1 : b)));
    }
    if ((first.kind() === 'ipv4') !== (family === 'IPv4')) continue;
    const bytes = first.toByteArray().length;
    // Bounded: the lab's pools hold at most a few hundred addresses; never more than 65,536 tried.
    for (let n = toBig(first), k = 0; n <= last && k < 65_536; n++, k++) {
      const ip = fromBig(n, bytes);
      if (!used.has(ip)) return ip;
    }
  }
  return undefined;
}
