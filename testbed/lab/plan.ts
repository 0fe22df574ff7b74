// The lab's address plan, derived from one number so that several labs (the user's and the e2e
// tests') never overlap: everything lives in 10.<net>.0.0/16 and fd00:<net>::/48, inside network
// namespaces the lab creates. Pure: no I/O.

export interface NodePlan {
  index: number;
  name: string;
  /** Namespace name. */
  ns: string;
  /** Port of the node on the switch's bridge (switch-side interface name). */
  port: string;
  ipv4: string;
  ipv6: string;
  /**
   * BGP unnumbered mode: the router-side name of the node's point-to-point link (FRR's
   * `neighbor IFNAME interface`); the node's side is NODE_LINK. Absent in labs started before it.
   */
  link?: string;
}

/** The node's side of its point-to-point link to the router (BGP unnumbered mode). */
export const NODE_LINK = 'eth1';

export interface LabPlan {
  prefix: string;
  net: number;
  /** Namespaces: switch (bridge of the nodes' L2 segment), router, clients. */
  switchNs: string;
  routerNs: string;
  clientNs: string;
  extClientNs: string;
  nodes: NodePlan[];
  lan4: string;
  lan6: string;
  router4: string;
  router6: string;
  client4: string;
  client6: string;
  /** The segment behind the router: router's side, external client's side. */
  routerExt4: string;
  routerExt6: string;
  ext4: string;
  ext6: string;
  /** Example pools: Layer 2 (on the LAN) and BGP (routed). */
  l2Pool4: string;
  l2Pool6: string;
  bgpPool4: string;
  bgpPool6: string;
  /**
   * Ranges every node accepts as local (kube-proxy's part): spare room around the example pools so
   * pools added at run time (tests) are served too. L2 ranges sit inside the LAN subnet.
   */
  serviceRanges4: string[];
  serviceRanges6: string[];
  asn: number;
  routerAsn: number;
  /**
   * BGP unnumbered mode (`ironlb lab up --bgp-unnumbered`): each node also has a point-to-point link
   * to the router with nothing but link-local addresses on it, and peers with the router over it
   * only (eBGP: the router has its own AS). Absent in labs started before it.
   */
  unnumbered?: boolean;
  /** Port the hostname backends listen on (and the example Services expose). */
  appPort: number;
  /** A second port of the backends (Services sharing an address need distinct ports). */
  appPort2: number;
}

export const DEFAULT_NET = 150;

export interface PlanOptions {
  /** BGP unnumbered mode (see LabPlan.unnumbered). */
  unnumbered?: boolean;
}

export function labPlan(prefix: string, nodes: number, net: number = DEFAULT_NET, o: PlanOptions = {}): LabPlan {
  if (!/^il(ab|b[a-z])[a-z0-9]{0,11}$/.test(prefix)) throw new Error(`lab prefix must start with "ilab" (ironlb lab up) or "ilb" and a letter (tests, e.g. "ilbx"), then up to 11 lowercase letters or digits; got "${prefix}"`);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 40) throw new Error(`lab nodes must be 1 to 40, got ${nodes}`);
  if (!Number.isInteger(net) || net < 1 || net > 254) throw new Error(`lab net must be 1 to 254 (second octet of 10.x), got ${net}`);
  const v4 = `10.${net}`;
  const v6 = `fd00:${net.toString(16)}`;
  return {
    prefix,
    net,
    switchNs: `${prefix}-sw`,
    routerNs: `${prefix}-rtr`,
    clientNs: `${prefix}-cl`,
    extClientNs: `${prefix}-ext`,
    nodes: Array.from({ length: nodes }, (_, i) => ({
      index: i,
      name: `node${i}`,
      ns: `${prefix}-n${i}`,
      port: `p${i}`,
      ipv4: `${v4}.0.${11 + i}`,
      ipv6: `${v6}::${(0x11 + i).toString(16)}`,
      link: `node${i}`,
    })),
    lan4: `${v4}.0.0/24`,
    lan6: `${v6}::/64`,
    router4: `${v4}.0.254`,
    router6: `${v6}::fe`,
    client4: `${v4}.0.250`,
    client6: `${v6}::fa`,
    routerExt4: `${v4}.1.1`,
    routerExt6: `${v6}:1::1`,
    ext4: `${v4}.1.2`,
    ext6: `${v6}:1::2`,
    l2Pool4: `${v4}.0.64-${v4}.0.79`,
    l2Pool6: `${v6}::100-${v6}::10f`,
    bgpPool4: `${v4}.2.0/26`,
    bgpPool6: `${v6}:2::/120`,
    serviceRanges4: [`${v4}.0.64/26`, `${v4}.2.0/23`],
    serviceRanges6: [`${v6}::100/120`, `${v6}:2::/64`],
    asn: 64512,
    // Unnumbered peers are eBGP, as in MetalLB's FRR-mode examples (dynamicASN: external).
    routerAsn: o.unnumbered ? 64513 : 64512,
    ...(o.unnumbered ? { unnumbered: true } : {}),
    appPort: 80,
    appPort2: 8080,
  };
}
