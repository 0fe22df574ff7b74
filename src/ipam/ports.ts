// Port lists packed into numbers (pure): protocol index × 65536 + port, sorted and unique, in an
// Int32Array. A Service may list thousands of ports (twelve hostile ones of 10,000 each cost the
// controller ~25 MiB as objects, strings and sets); packed, 10,000 ports are 40 KB, and whether two
// lists share a port is a binary search or a merge of two sorted arrays.
import type { Port, Protocol } from './types.ts';

const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

/** The packed form of one port, or -1 when it has no packed form (not an integer 0-65535, unknown protocol). */
export function portKey(p: { protocol?: string | undefined; port: number }): number {
  const i = PROTOCOLS.indexOf((p.protocol ?? 'TCP') as Protocol);
  return i >= 0 && Number.isInteger(p.port) && p.port >= 0 && p.port <= 0xffff ? i * 0x10000 + p.port : -1;
}

/** The port a packed key stands for. */
export function keyPort(k: number): Port {
  return { protocol: PROTOCOLS[k >>> 16] as Protocol, port: k & 0xffff };
}

/** The list packed, sorted, each port once; undefined when a port has no packed form. */
export function packPorts(list: readonly { protocol?: string | undefined; port: number }[]): Int32Array | undefined {
  const keys = new Int32Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const k = portKey(list[i] as Port);
    if (k < 0) return undefined;
    keys[i] = k;
  }
  keys.sort();
  let n = 0;
  for (let i = 0; i < keys.length; i++) if (n === 0 || keys[i] !== keys[n - 1]) keys[n++] = keys[i] as number;
  return n === keys.length ? keys : keys.slice(0, n);
}

/** Whether sorted `keys` holds `k`. */
export function hasKey(keys: Int32Array, k: number): boolean {
  let lo = 0;
  let hi = keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = keys[mid] as number;
    if (v === k) return true;
    if (v < k) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** The smallest key in both sorted arrays, or -1. */
export function commonKey(a: Int32Array, b: Int32Array): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i] as number;
    const y = b[j] as number;
    if (x === y) return x;
    if (x < y) i++;
    else j++;
  }
  return -1;
}

export function sameKeys(a: Int32Array | undefined, b: Int32Array | undefined): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
