// The allocator's address rule; addresses themselves are src/util/address.ts.

/** MetalLB's avoidBuggyIPs: an IPv4 address ending in .0 or .255 confuses some old firmwares. */
export function isBuggyIPv4(value: bigint): boolean {
  const last = value & 255n;
  return last === 0n || last === 255n;
}
