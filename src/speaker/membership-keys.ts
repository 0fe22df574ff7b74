// The membership keys in the speakers' Secret (pure: Secret data in, keys or an error out).
//   secretkey:  one key (any bytes, at least 16), as created on install. Any single data key also works.
//   secretkeys: during a key rotation, one key per line (text), the first signs and all are accepted.
//               When present it replaces secretkey.
import { parseKeyList } from '../membership/auth.ts';

/** Data key of the single membership key. */
export const MEMBERSHIP_SECRET_KEY = 'secretkey';
/** Data key of a key list (rotation). */
export const MEMBERSHIP_KEY_LIST = 'secretkeys';

export type MembershipKeys = { ok: true; keys: Buffer[] } | { ok: false; error: string };

export function membershipKeys(data: Readonly<Record<string, string>> | undefined, secretRef: string): MembershipKeys {
  const d = data ?? {};
  const list = d[MEMBERSHIP_KEY_LIST];
  if (list !== undefined) {
    try {
      return { ok: true, keys: parseKeyList(Buffer.from(list, 'base64').toString('utf8')) };
    } catch (err) {
      return { ok: false, error: `Secret ${secretRef}, key "${MEMBERSHIP_KEY_LIST}": ${err instanceof Error ? err.message : String(err)}` };
    }
  }
  const names = Object.keys(d);
  const one = d[MEMBERSHIP_SECRET_KEY] ?? (names.length === 1 ? d[names[0]!] : undefined);
  if (one === undefined) {
    return { ok: false, error: `Secret ${secretRef} is missing or has no "${MEMBERSHIP_SECRET_KEY}" key: create it with kubectl -n <namespace> create secret generic <name> --from-literal=${MEMBERSHIP_SECRET_KEY}="$(openssl rand -base64 32)"` };
  }
  const key = Buffer.from(one, 'base64');
  if (key.length < 16) return { ok: false, error: `Secret ${secretRef}, key "${MEMBERSHIP_SECRET_KEY}": ${key.length} bytes; use at least 16 random bytes (openssl rand -base64 32)` };
  return { ok: true, keys: [key] };
}
