// The lab's BGP unnumbered mode (`ironlb lab up --bgp-unnumbered`, docs/lab.md): besides the LAN,
// each node has a point-to-point link to the router with nothing but link-local addresses on it
// (the router's side is named after the node, the node's side NODE_LINK), and the router (FRR,
// `neighbor nodeN interface`) peers with the nodes over those links only. The configuration is
// what an operator of MetalLB's FRR mode has, a BGPPeer with `interface` and `dynamicASN`, run
// through `ironlb migrate` as they would: the lab applies the migrated objects, and writes both
// files to its folder to be read.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { formatMigration, migrate, readObjects, type MigrationResult } from '../../src/migrate/index.ts';
import type { KindName } from '../../src/api/index.ts';
import { NODE_LINK, type LabPlan, type NodePlan } from './plan.ts';
import { nsIp } from './proc.ts';
import type { RouterKind } from './router.ts';

/** Why the mode cannot run with these options (undefined: it can). Checked before anything is created. */
export function unnumberedUnavailable(o: { implementation: string; router: RouterKind }): string | undefined {
  if (o.implementation !== 'ironlb') return `--bgp-unnumbered runs ironlb only (MetalLB's native BGP mode has no unnumbered peers); drop --implementation ${o.implementation}`;
  if (o.router !== 'frr') return '--bgp-unnumbered needs the FRR router (`neighbor IFNAME interface`): use --router frr, or leave --router out';
  return undefined;
}

/** The router-side name of node n's point-to-point link. */
export const routerLink = (n: NodePlan): string => n.link ?? n.name;

/** Creates every node's point-to-point link to the router (both namespaces must exist). */
export async function createNodeLinks(plan: LabPlan): Promise<void> {
  for (const n of plan.nodes) {
    // Link-local addresses only: the kernel adds them when the link comes up (DAD is off in the lab).
    await nsIp(plan.routerNs, 'link', 'add', routerLink(n), 'type', 'veth', 'peer', 'name', NODE_LINK, 'netns', n.ns);
    await nsIp(plan.routerNs, 'link', 'set', routerLink(n), 'up');
    await nsIp(n.ns, 'link', 'set', NODE_LINK, 'up');
  }
}

/** Node n's side of its link down (power-off, cut cable) or up; the router sees its carrier go and come. */
export async function setNodeLink(plan: LabPlan, n: NodePlan, state: 'up' | 'down'): Promise<void> {
  await nsIp(n.ns, 'link', 'set', NODE_LINK, state);
}

/**
 * The lab's configuration as MetalLB in FRR mode would hold it: the same pools and advertisements
 * as the numbered lab, and one BGPPeer for every node naming the node's link, with the router's AS
 * taken from its OPEN (dynamicASN: external).
 */
export function metallbUnnumberedYaml(plan: LabPlan, holdTime: number): string {
  const meta = (name: string) => ({ name, namespace: 'metallb-system' });
  const docs = [
    { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: meta('lab-l2'), spec: { addresses: [plan.l2Pool4, plan.l2Pool6] } },
    { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: meta('lab-bgp'), spec: { addresses: [plan.bgpPool4, plan.bgpPool6] } },
    { apiVersion: 'metallb.io/v1beta1', kind: 'L2Advertisement', metadata: meta('lab-l2'), spec: { ipAddressPools: ['lab-l2'] } },
    { apiVersion: 'metallb.io/v1beta1', kind: 'BGPAdvertisement', metadata: meta('lab-bgp'), spec: { ipAddressPools: ['lab-bgp'] } },
    {
      apiVersion: 'metallb.io/v1beta2',
      kind: 'BGPPeer',
      metadata: meta('router'),
      spec: { myASN: plan.asn, dynamicASN: 'external', interface: NODE_LINK, holdTime: `${holdTime}s`, keepaliveTime: `${Math.max(1, Math.floor(holdTime / 3))}s`, connectTime: '1s' },
    },
  ];
  return `# MetalLB (FRR mode) configuration of the lab's BGP unnumbered mode\n${docs.map((d) => stringify(d, { lineWidth: 0 })).join('---\n')}`;
}

/** `ironlb migrate --from metallb` of metallbUnnumberedYaml; a warning means it did not migrate as is: an error. */
export function migratedUnnumberedConfig(plan: LabPlan, holdTime: number): { metallb: string; result: MigrationResult } {
  const metallb = metallbUnnumberedYaml(plan, holdTime);
  const result = migrate('metallb', readObjects(metallb, 'metallb-unnumbered.yaml'));
  if (result.warnings.length) throw new Error(`ironlb migrate did not carry the lab's MetalLB FRR-mode configuration across as is:\n  ${result.warnings.join('\n  ')}`);
  return { metallb, result };
}

/** What the Lab offers this module: its folder and a create-or-replace of ironlb objects. */
export interface ConfigTarget {
  readonly dir: string;
  readonly plan: LabPlan;
  readonly state: { holdTime: number };
  apply(kind: KindName, name: string, spec: unknown, labels?: Record<string, string>): Promise<void>;
}

/**
 * Migrates the MetalLB configuration, writes both (DIR/metallb-unnumbered.yaml, the input;
 * DIR/ironlb-unnumbered.yaml, `ironlb migrate`'s output) and applies the migrated objects.
 */
export async function applyUnnumberedConfig(lab: ConfigTarget): Promise<void> {
  const { metallb, result } = migratedUnnumberedConfig(lab.plan, lab.state.holdTime);
  writeFileSync(join(lab.dir, 'metallb-unnumbered.yaml'), metallb);
  writeFileSync(join(lab.dir, 'ironlb-unnumbered.yaml'), formatMigration(result, 'metallb'));
  // Pools before the objects that name them.
  const order: KindName[] = ['IPPool', 'L2Advertisement', 'BGPAdvertisement', 'BGPPeer'];
  const objs = [...result.objects].sort((a, b) => order.indexOf(a.kind as KindName) - order.indexOf(b.kind as KindName));
  for (const o of objs) {
    const kind = o.kind as KindName;
    if (!order.includes(kind)) throw new Error(`the lab's migrated configuration holds a ${String(o.kind)}, which the lab does not apply`);
    const meta = o.metadata as { name: string; labels?: Record<string, string> };
    await lab.apply(kind, meta.name, o.spec, meta.labels);
  }
}
