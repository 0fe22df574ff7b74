// Community text forms: RFC 1997 "asn:value" and well-known names, RFC 8092 "a:b:c".

const WELL_KNOWN: Record<string, number> = {
  'graceful-shutdown': 0xffff0000,
  'accept-own': 0xffff0001,
  'llgr-stale': 0xffff0006,
  'no-llgr': 0xffff0007,
  blackhole: 0xffff029a,
  'no-export': 0xffffff01,
  'no-advertise': 0xffffff02,
  'no-export-subconfed': 0xffffff03,
  'local-as': 0xffffff03,
  'no-peer': 0xffffff04,
};

const NAMES = new Map<number, string>();
for (const [k, v] of Object.entries(WELL_KNOWN)) if (!NAMES.has(v)) NAMES.set(v, k);

/** "65000:100" or a well-known name ("no-export") to the 32-bit value. */
export function parseCommunity(text: string): number {
  const t = text.trim().toLowerCase();
  const named = WELL_KNOWN[t];
  if (named !== undefined) return named;
  const m = /^(\d{1,5}):(\d{1,5})$/.exec(t);
  if (m) {
    const hi = Number(m[1]);
    const lo = Number(m[2]);
    if (hi <= 0xffff && lo <= 0xffff) return ((hi << 16) | lo) >>> 0;
  }
  throw new Error(`invalid community "${text}": expected "ASN:VALUE" with both 0..65535, or a well-known name (${Object.keys(WELL_KNOWN).join(', ')})`);
}

export function formatCommunity(v: number): string {
  return NAMES.get(v) ?? `${v >>> 16}:${v & 0xffff}`;
}

export type LargeCommunity = [number, number, number];

/** "1:2:3" (three 32-bit numbers) to its parts. */
export function parseLargeCommunity(text: string): LargeCommunity {
  const m = /^(\d{1,10}):(\d{1,10}):(\d{1,10})$/.exec(text.trim());
  if (m) {
    const parts = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (parts.every((p) => p <= 0xffffffff)) return parts as LargeCommunity;
  }
  throw new Error(`invalid large community "${text}": expected "GLOBAL:LOCAL1:LOCAL2", each 0..4294967295`);
}

export function formatLargeCommunity(c: LargeCommunity): string {
  return `${c[0]}:${c[1]}:${c[2]}`;
}
