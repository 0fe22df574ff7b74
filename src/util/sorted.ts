// Sorted string lists kept in order by binary search (no re-sort on each change): the membership's
// live list and the incremental decider's node and key lists.

/** Index of the first element not less than `s`. */
export function lowerBound(list: readonly string[], s: string): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as string) < s) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Position of `s` in the list, or -1. */
export function sortedIndex(list: readonly string[], s: string): number {
  const i = lowerBound(list, s);
  return list[i] === s ? i : -1;
}

/** Inserts `s` unless present; true when the list changed. */
export function sortedInsert(list: string[], s: string): boolean {
  const i = lowerBound(list, s);
  if (list[i] === s) return false;
  list.splice(i, 0, s);
  return true;
}

/** Removes `s` if present; true when the list changed. */
export function sortedRemove(list: string[], s: string): boolean {
  const i = lowerBound(list, s);
  if (list[i] !== s) return false;
  list.splice(i, 1);
  return true;
}
