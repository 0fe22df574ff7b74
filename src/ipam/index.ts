// The allocator's public face: what the controller uses. Pure: plain data in, plain data out.
//
// Typical use by the controller:
//   const a = new Allocator();
//   a.setPools(pools);                          // from IPPools
//   for (const s of servicesWithAddresses) a.confirm(req(s), s.status.ips);   // start-up, first
//   for (const s of pending) a.assign(req(s));  // then everything else, and on every change
//   a.release(key);                             // Service deleted or no longer ours

/** IP address helpers: strict parsing, canonical formatting (RFC 5952 for IPv6). */
export { parseAddress, formatAddress, canonicalAddress, type Address, type Family } from '../util/address.ts';
export { isBuggyIPv4 } from './address.ts';

/**
 * The allocator. One instance holds the pools and every Service's assignment.
 * - `setPools(specs)`: install a configuration; returns the assignments it revoked (released) and
 *   those whose pool got another name; on a configuration error changes nothing.
 * - `assign(req)`: requested or automatic assignment; idempotent while the request still fits.
 * - `confirm(req, ips)`: start-up re-registration of addresses a Service already holds.
 * - `release(key)`, `lookup(key)`, `holders(ip)`, `poolFor(ip)`, `poolUsage(pool)`, `assignments()`.
 * Costs: O(log n) per assignment, release and lookup in the addresses in use, for any pool size.
 */
export { Allocator } from './allocator.ts';

/** A canonical backend key from a Service's pod selector, for `ServiceRequest.backendKey`. */
export { backendKeyOf } from './allocator.ts';
/** Port lists packed into numbers: what the controller's cache keeps of Services with many ports. */
export { packPorts, keyPort, portKey } from './ports.ts';

/** Parses one pool address entry (CIDR, start-end, or address), with the reason when it is not one. */
export { parseRange, type AddressRange } from '../util/address.ts';

/** Input and result types; see each for its fields. */
export type {
  AllocateTo,
  AssignResult,
  Assignment,
  ConfirmResult,
  FamilyUsage,
  IpFamilyPolicy,
  LabelSelector,
  Labels,
  PoolError,
  PoolSpec,
  PoolUsage,
  Port,
  Protocol,
  Reason,
  Refusal,
  Repooled,
  Revoked,
  ServiceRequest,
  SetPoolsResult,
} from './types.ts';
