// Wire constants of BGP-4 and its extensions, named once (RFC 4271, 4760, 5492, 6793, 4724, 7911, 8654).

export const HEADER_LENGTH = 19;
/** RFC 4271 maximum message size; RFC 8654 raises it to 65535 for all but OPEN and KEEPALIVE. */
export const MAX_MESSAGE = 4096;
export const MAX_EXTENDED_MESSAGE = 65535;

export const MsgType = {
  OPEN: 1,
  UPDATE: 2,
  NOTIFICATION: 3,
  KEEPALIVE: 4,
  ROUTE_REFRESH: 5,
} as const;

export const Attr = {
  ORIGIN: 1,
  AS_PATH: 2,
  NEXT_HOP: 3,
  MED: 4,
  LOCAL_PREF: 5,
  ATOMIC_AGGREGATE: 6,
  AGGREGATOR: 7,
  COMMUNITIES: 8,
  ORIGINATOR_ID: 9,
  CLUSTER_LIST: 10,
  MP_REACH_NLRI: 14,
  MP_UNREACH_NLRI: 15,
  EXTENDED_COMMUNITIES: 16,
  AS4_PATH: 17,
  AS4_AGGREGATOR: 18,
  LARGE_COMMUNITIES: 32,
} as const;

export const AttrFlag = {
  OPTIONAL: 0x80,
  TRANSITIVE: 0x40,
  PARTIAL: 0x20,
  EXTENDED_LENGTH: 0x10,
} as const;

export const Afi = { IPV4: 1, IPV6: 2 } as const;
export const SAFI_UNICAST = 1;

export const Cap = {
  MULTIPROTOCOL: 1,
  ROUTE_REFRESH: 2,
  EXTENDED_NEXT_HOP: 5,
  EXTENDED_MESSAGE: 6,
  GRACEFUL_RESTART: 64,
  FOUR_OCTET_AS: 65,
  ADD_PATH: 69,
  ENHANCED_ROUTE_REFRESH: 70,
  ROUTE_REFRESH_OLD: 128,
} as const;

export const AS_TRANS = 23456;
export const AsSegment = { AS_SET: 1, AS_SEQUENCE: 2, AS_CONFED_SEQUENCE: 3, AS_CONFED_SET: 4 } as const;
export const Origin = { IGP: 0, EGP: 1, INCOMPLETE: 2 } as const;

/** NOTIFICATION error codes and subcodes (RFC 4271 §4.5, RFC 4486, RFC 6608, RFC 7313). */
export const Err = {
  HEADER: 1,
  OPEN: 2,
  UPDATE: 3,
  HOLD_TIMER: 4,
  FSM: 5,
  CEASE: 6,
  ROUTE_REFRESH: 7,
} as const;

export const HeaderSub = { NOT_SYNCHRONIZED: 1, BAD_LENGTH: 2, BAD_TYPE: 3 } as const;
export const OpenSub = {
  UNSUPPORTED_VERSION: 1,
  BAD_PEER_AS: 2,
  BAD_BGP_ID: 3,
  UNSUPPORTED_OPTIONAL_PARAMETER: 4,
  UNACCEPTABLE_HOLD_TIME: 6,
  UNSUPPORTED_CAPABILITY: 7,
} as const;
export const UpdateSub = {
  MALFORMED_ATTRIBUTE_LIST: 1,
  UNRECOGNIZED_WELL_KNOWN: 2,
  MISSING_WELL_KNOWN: 3,
  ATTRIBUTE_FLAGS: 4,
  ATTRIBUTE_LENGTH: 5,
  INVALID_ORIGIN: 6,
  INVALID_NEXT_HOP: 8,
  OPTIONAL_ATTRIBUTE: 9,
  INVALID_NETWORK_FIELD: 10,
  MALFORMED_AS_PATH: 11,
} as const;
export const FsmSub = { UNSPECIFIED: 0, OPEN_SENT: 1, OPEN_CONFIRM: 2, ESTABLISHED: 3 } as const;
export const CeaseSub = {
  MAX_PREFIXES: 1,
  ADMIN_SHUTDOWN: 2,
  PEER_DECONFIGURED: 3,
  ADMIN_RESET: 4,
  CONNECTION_REJECTED: 5,
  OTHER_CONFIG_CHANGE: 6,
  COLLISION_RESOLUTION: 7,
  OUT_OF_RESOURCES: 8,
  HARD_RESET: 9,
} as const;

const codeNames: Record<number, string> = {
  1: 'Message Header Error',
  2: 'OPEN Message Error',
  3: 'UPDATE Message Error',
  4: 'Hold Timer Expired',
  5: 'Finite State Machine Error',
  6: 'Cease',
  7: 'ROUTE-REFRESH Message Error',
};

/** Subcode names per code, as the RFCs (and the IANA registry) name them. */
const subcodeNames: Record<number, Record<number, string>> = {
  // RFC 4271 §6.1
  1: { 0: 'Unspecific', 1: 'Connection Not Synchronized', 2: 'Bad Message Length', 3: 'Bad Message Type' },
  // RFC 4271 §6.2, RFC 5492 (7), RFC 9234 (11)
  2: {
    0: 'Unspecific', 1: 'Unsupported Version Number', 2: 'Bad Peer AS', 3: 'Bad BGP Identifier', 4: 'Unsupported Optional Parameter',
    5: 'Authentication Failure (deprecated)', 6: 'Unacceptable Hold Time', 7: 'Unsupported Capability', 11: 'Role Mismatch',
  },
  // RFC 4271 §6.3
  3: {
    0: 'Unspecific', 1: 'Malformed Attribute List', 2: 'Unrecognized Well-known Attribute', 3: 'Missing Well-known Attribute',
    4: 'Attribute Flags Error', 5: 'Attribute Length Error', 6: 'Invalid ORIGIN Attribute', 7: 'AS Routing Loop (deprecated)',
    8: 'Invalid NEXT_HOP Attribute', 9: 'Optional Attribute Error', 10: 'Invalid Network Field', 11: 'Malformed AS_PATH',
  },
  // RFC 6608
  5: {
    0: 'Unspecified Error', 1: 'Receive Unexpected Message in OpenSent State', 2: 'Receive Unexpected Message in OpenConfirm State',
    3: 'Receive Unexpected Message in Established State',
  },
  // RFC 4486, RFC 8538 (9), RFC 9384 (10)
  6: {
    0: 'Unspecific', 1: 'Maximum Number of Prefixes Reached', 2: 'Administrative Shutdown', 3: 'Peer De-configured',
    4: 'Administrative Reset', 5: 'Connection Rejected', 6: 'Other Configuration Change', 7: 'Connection Collision Resolution',
    8: 'Out of Resources', 9: 'Hard Reset', 10: 'BFD Down',
  },
  // RFC 7313
  7: { 0: 'Reserved', 1: 'Invalid Message Length' },
};

/**
 * A readable name for a NOTIFICATION code/subcode, for logs and status, with the numbers:
 * "Cease/Administrative Shutdown (6/2)", "Hold Timer Expired (4/0)", "code 9/subcode 1 (9/1)".
 */
export function notificationName(code: number, subcode: number): string {
  const c = codeNames[code];
  const nums = `(${code}/${subcode})`;
  if (!c) return `code ${code}/subcode ${subcode} ${nums}`;
  // Hold Timer Expired has no subcodes (RFC 4271 §6.5): 0 needs no name.
  if (code === Err.HOLD_TIMER && subcode === 0) return `${c} ${nums}`;
  return `${c}/${subcodeNames[code]?.[subcode] ?? `subcode ${subcode}`} ${nums}`;
}
