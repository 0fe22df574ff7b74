// Who owns an address on the wire: the MACs that answer ARP (IPv4) or NDP (IPv6) for it, asked from
// a client namespace on the nodes' segment, mapped to node names. One copy for the lab, the speaker
// tests and the benches.
import type { Netns } from './netns.ts';
import { waitFor } from './wait.ts';

/** MACs (lower case, each once, sorted) that answer for `ip` from `client`'s eth0 within about `waitMs`. */
export async function neighbourMacs(client: Netns, ip: string, waitMs = 300): Promise<string[]> {
  let out = '';
  try {
    // Two requests 100 ms apart, then wait for late answers: every responder shows up.
    out = ip.includes(':')
      ? await client.exec('ndisc6', ['-m', '-n', '-r', '2', '-w', String(waitMs), ip, 'eth0'], 5000)
      : await client.exec('arping', ['-i', 'eth0', '-c', '2', '-W', '0.1', '-w', String(waitMs / 1000), ip], 5000);
  } catch (err) {
    // No answer (or not all): the tool exits non-zero; what it printed is in the message.
    out = err instanceof Error ? err.message : String(err);
  }
  const macs = new Set<string>();
  for (const m of out.matchAll(/([0-9a-f]{2}(?::[0-9a-f]{2}){5})/gi)) macs.add((m[1] as string).toLowerCase());
  return [...macs].sort();
}

/** Node names for MACs (`macOf` maps node name to MAC); a MAC of no node stays as it is unless `onlyNodes`. */
export function nodesOfMacs(macs: readonly string[], macOf: Readonly<Record<string, string>>, o: { onlyNodes?: boolean } = {}): string[] {
  const byMac = new Map(Object.entries(macOf).map(([name, mac]) => [mac.toLowerCase(), name]));
  return macs.flatMap((m) => {
    const name = byMac.get(m);
    return name ? [name] : o.onlyNodes ? [] : [m];
  }).sort();
}

/** Waits until `owners()` names exactly `want` ([]: nobody answers). */
export async function waitOwners(ip: string, owners: () => Promise<string[]>, want: readonly string[], timeoutMs = 10_000): Promise<void> {
  let last: string[] = [];
  const wanted = JSON.stringify([...want].sort());
  await waitFor(async () => {
    last = await owners();
    return JSON.stringify(last) === wanted;
  }, { what: `ARP/NDP answers for ${ip} from exactly [${want.join(', ')}]`, timeoutMs, intervalMs: 200 }).catch((err: Error) => {
    throw new Error(`${err.message}; last answered by [${last.join(', ')}]`);
  });
}

/**
 * Waits until the announcement status and the wire agree on one owner, and keep agreeing for
 * `stableMs` (0: the first agreement); returns it. Ownership moves back when a node rejoins, so a
 * first agreement may pass. `statusOwner` undefined: the wire alone (one node answering).
 */
export async function settledOwner(ip: string, statusOwner: (() => Promise<string | undefined>) | undefined, wireOwners: () => Promise<string[]>, o: { timeoutMs?: number; stableMs?: number; intervalMs?: number } = {}): Promise<string> {
  let seen = '';
  let since = 0;
  let cur = '';
  const stableMs = o.stableMs ?? 0;
  return waitFor(async () => {
    const wire = await wireOwners();
    const status = statusOwner ? ((await statusOwner().catch(() => undefined)) ?? '') : (wire.length === 1 ? wire[0]! : '');
    seen = `status ${statusOwner ? status || 'none' : 'not asked'}, wire ${wire.join(',') || 'none'}`;
    const agreed = status && wire.length === 1 && wire[0] === status ? status : '';
    if (agreed !== cur) {
      cur = agreed;
      since = Date.now();
    }
    return cur && Date.now() - since >= stableMs ? cur : undefined;
  }, { what: `${statusOwner ? 'status and ARP/NDP to agree on the owner' : 'one node answering ARP/NDP'} of ${ip}${stableMs ? ` for ${stableMs} ms` : ''}`, timeoutMs: o.timeoutMs ?? 20_000, intervalMs: o.intervalMs ?? (stableMs ? 250 : 200) }).catch((err: Error) => {
    throw new Error(`${err.message} (${seen})`);
  });
}
