// Layer 2 quorum: a speaker cut off from the others sees only itself alive and, left alone, would
// answer ARP/NDP for every address while the rest of the cluster still does (split brain). It
// announces over Layer 2 only while it sees at least half of the known speakers: a 2-node cluster's
// survivor still serves (1 of 2), a cut-off node of 3 stops (1 of 3). Pure: counts in, answer out.

/** True when `alive` live speakers out of `known` may announce over Layer 2 (alive*2 >= known). */
export function hasL2Quorum(alive: number, known: number): boolean {
  // Unknown membership size (no Node listed yet): nothing to compare with, do not block.
  if (known <= 0) return true;
  return alive * 2 >= known;
}
