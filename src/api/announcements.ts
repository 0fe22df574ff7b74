// Who announces a Service, from its ServiceAnnouncement and the NodeAnnouncements (pure).
//
// A ServiceAnnouncement holds only what is per Service: its Layer 2 owners, the BGPAdvertisements
// announcing it, and for externalTrafficPolicy Local the first nodes with an endpoint. Which nodes
// announce an advertisement (and to which peers) is per node, in that node's NodeAnnouncement: a
// node lost or back then changes one object, not every Service's. This joins the two back into
// one entry per announcing node, as `ironlb status`, the dashboard and the lab show them.
import type { NodeAnnouncementStatus, ServiceAnnouncementStatus } from './kinds.ts';

export type AnnouncementEntry = NonNullable<ServiceAnnouncementStatus['announcements']>[number];

/** How many externalTrafficPolicy Local BGP nodes a ServiceAnnouncement lists (localNodes counts them all). */
export const LOCAL_BGP_SAMPLE = 16;

/**
 * Every announcement of a Service: its Layer 2 entries and Local BGP entries as written, and for
 * externalTrafficPolicy Cluster one BGP entry per node whose NodeAnnouncement lists one of the
 * Service's advertisements (peers: the union over those advertisements), by node name.
 */
export function expandAnnouncements(st: ServiceAnnouncementStatus | undefined, nodes: Iterable<NodeAnnouncementStatus | undefined>): AnnouncementEntry[] {
  const own = st?.announcements ?? [];
  const bgp = st?.bgp;
  if (!bgp || bgp.externalTrafficPolicy === 'Local' || !bgp.advertisements?.length) return [...own];
  const ads = new Set(bgp.advertisements);
  const out: AnnouncementEntry[] = own.filter((a) => a.mode !== 'bgp');
  const entries: AnnouncementEntry[] = [];
  for (const n of nodes) {
    if (!n) continue;
    const peers = new Set<string>();
    let any = false;
    for (const e of n.bgp ?? []) {
      if (!ads.has(e.advertisement)) continue;
      any = true;
      for (const p of e.peers ?? []) peers.add(p);
    }
    if (any) entries.push({ node: n.node, mode: 'bgp', peers: [...peers].sort() });
  }
  entries.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return [...out, ...entries];
}

/** Whether a ServiceAnnouncement says the Service is announced at all (over Layer 2 or BGP). */
export const isAnnounced = (st: ServiceAnnouncementStatus | undefined): boolean => (st?.announcements?.length ?? 0) > 0 || st?.bgp !== undefined;
