// Which nodes must hear at once that a node died or left: the ones likely to take over its Layer 2
// addresses. Membership sends them the news directly; everyone else learns it through gossip.
// Pure: the last decision and the live set in, node names out.
//
// An estimate, not a second decision: per address the dead node owned, the two best-ranked other
// live nodes by the same rendezvous ranking decide() uses (the first is the new owner unless it is
// not eligible for that address or at its load cap). A wrong guess costs one datagram; the real new
// owner still learns of the death through gossip within the dissemination bound.
import type { Decision } from './decide.ts';
import { rankCandidates } from './owner.ts';

/** Addresses looked at per call, to bound the cost on a node owning thousands. */
const MAX_ADDRESSES = 64;

export function takeoverCandidates(decision: Decision | undefined, member: string, alive: readonly string[], max = 16): string[] {
  if (!decision) return [];
  const others = alive.filter((n) => n !== member);
  const out = new Set<string>();
  let looked = 0;
  for (const view of decision.services.values()) {
    for (const [ip, owner] of Object.entries(view.l2Owners)) {
      if (owner !== member) continue;
      for (const n of rankCandidates(ip, others).slice(0, 2)) out.add(n);
      if (out.size >= max || ++looked >= MAX_ADDRESSES) return [...out].slice(0, max);
    }
  }
  return [...out];
}
