// GoBGP (gobgpd) as a real peer: TOML config, JSON queries through the gobgp CLI in the namespace.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Netns } from '../netns.ts';
import { DaemonProcess, isV6 } from './process.ts';
import { PeerDaemonBase, startInTempDir } from './daemon.ts';
import { communityString, sortEntries, type DaemonConfig, type Family, type PeerDaemon, type RibEntry, type SessionInfo, type SessionState } from './types.ts';

// The API listens on the namespace's own loopback, so a fixed port cannot collide.
const API_PORT = 50051;

const q = (s: string): string => JSON.stringify(s);

export function gobgpConfig(cfg: DaemonConfig): string {
  const l: string[] = [];
  l.push('[global.config]', `  as = ${cfg.asn}`, `  router-id = ${q(cfg.routerId)}`, `  port = ${cfg.port ?? 179}`);
  const locals = [cfg.localAddress, ...(cfg.localAddress6 ? [cfg.localAddress6] : [])];
  l.push(`  local-address-list = [${locals.map(q).join(', ')}]`);
  if (cfg.multipath) l.push('[global.use-multiple-paths.config]', '  enabled = true');
  for (const n of cfg.neighbors) {
    const fams = n.families ?? [isV6(n.address) ? 'ipv6' : 'ipv4'];
    l.push('[[neighbors]]', '  [neighbors.config]', `    neighbor-address = ${q(n.address)}`, `    peer-as = ${n.asn}`);
    if (n.password) l.push(`    auth-password = ${q(n.password)}`);
    l.push('  [neighbors.timers.config]', '    connect-retry = 1', '    idle-hold-time-after-reset = 1');
    if (n.holdTime !== undefined) l.push(`    hold-time = ${n.holdTime}`, `    keepalive-interval = ${Math.max(1, Math.floor(n.holdTime / 3))}`);
    l.push('  [neighbors.transport.config]');
    l.push(`    local-address = ${q(isV6(n.address) ? (cfg.localAddress6 ?? cfg.localAddress) : cfg.localAddress)}`);
    if (n.passive) l.push('    passive-mode = true');
    if (n.port) l.push(`    remote-port = ${n.port}`);
    if (n.multihop) l.push('  [neighbors.ebgp-multihop.config]', '    enabled = true', `    multihop-ttl = ${n.multihop}`);
    if (n.gracefulRestart) l.push('  [neighbors.graceful-restart.config]', '    enabled = true', '    restart-time = 120');
    for (const f of fams) {
      l.push('  [[neighbors.afi-safis]]', '    [neighbors.afi-safis.config]', `      afi-safi-name = "${f}-unicast"`);
      if (n.gracefulRestart) l.push('    [neighbors.afi-safis.mp-graceful-restart.config]', '      enabled = true');
    }
  }
  return l.join('\n') + '\n';
}

interface GobgpAttr { type: number; nexthop?: string; value?: unknown; communities?: number[] }
interface GobgpPath { nlri?: { prefix?: string }; attrs?: GobgpAttr[]; best?: boolean; stale?: boolean; 'source-id'?: string; 'neighbor-ip'?: string }

function largeOf(a: GobgpAttr): string[] {
  const v = a.value as Array<{ ASN?: number; LocalData1?: number; LocalData2?: number }> | undefined;
  return (v ?? []).map((x) => `${x.ASN ?? 0}:${x.LocalData1 ?? 0}:${x.LocalData2 ?? 0}`);
}

export function parseGobgpRib(json: unknown, localSource?: string): RibEntry[] {
  const out: RibEntry[] = [];
  const dests = (json ?? {}) as Record<string, GobgpPath[]>;
  for (const [prefix, paths0] of Object.entries(dests)) {
    // Locally originated paths carry no neighbor: they are not "received".
    const paths = paths0.filter((p) => p['neighbor-ip'] !== undefined && p['neighbor-ip'] !== '<nil>' && p['neighbor-ip'] !== localSource);
    if (!paths.length) continue;
    const best = paths.find((p) => p.best) ?? paths[0]!;
    const nh = (p: GobgpPath): string | undefined => p.attrs?.find((a) => a.type === 3 || a.type === 14)?.nexthop;
    const e: RibEntry = {
      prefix,
      nextHops: [...new Set(paths.map(nh).filter((x): x is string => !!x))].sort(),
      communities: (best.attrs?.find((a) => a.type === 8)?.communities ?? []).map(communityString).sort(),
      largeCommunities: largeOf(best.attrs?.find((a) => a.type === 32) ?? { type: 32 }).sort(),
      stale: best.stale === true,
    };
    const lp = best.attrs?.find((a) => a.type === 5)?.value;
    if (typeof lp === 'number') e.localPref = lp;
    out.push(e);
  }
  return sortEntries(out);
}

const fsmStates: Record<number, SessionState> = { 1: 'idle', 2: 'connect', 3: 'active', 4: 'opensent', 5: 'openconfirm', 6: 'established' };

export class Gobgp extends PeerDaemonBase implements PeerDaemon {
  readonly kind = 'gobgp' as const;

  static async start(ns: Netns, cfg: DaemonConfig): Promise<Gobgp> {
    return startInTempDir('gobgp', async (dir) => {
      await writeFile(join(dir, 'gobgpd.toml'), gobgpConfig(cfg));
      const g = new Gobgp(ns, dir, cfg);
      await g.boot();
      return g;
    });
  }

  protected override spawn(): DaemonProcess {
    return new DaemonProcess(this.ns, 'gobgpd', ['-f', join(this.dir, 'gobgpd.toml'), '-t', 'toml', '--api-hosts', `127.0.0.1:${API_PORT}`, '--pprof-disable', '-l', 'info'], this.dir);
  }

  /** Waits for the API, then adds the configured routes (GoBGP keeps none across a restart). */
  protected override async ready(): Promise<void> {
    await this.waitAnswering('gobgpd', 'gobgpd API', async () => {
      await this.cli(['global']);
      return true;
    }, 10_000, 100);
    const cfg = this.cfg;
    for (const r of cfg.originate ?? []) await this.addRoute(r.prefix, r.nextHop ?? (isV6(r.prefix) ? (cfg.localAddress6 ?? '::') : cfg.localAddress), r.communities, r.largeCommunities);
  }

  /** Runs the gobgp CLI against this daemon. */
  cli(args: string[], timeoutMs = 20_000): Promise<string> {
    return this.ns.exec('gobgp', ['-u', '127.0.0.1', '-p', String(API_PORT), ...args], timeoutMs);
  }

  async addRoute(prefix: string, nextHop: string, communities: string[] = [], large: string[] = []): Promise<void> {
    const args = ['global', 'rib', 'add', '-a', isV6(prefix) ? 'ipv6' : 'ipv4', prefix, 'nexthop', nextHop];
    if (communities.length) args.push('community', communities.join(','));
    if (large.length) args.push('large-community', large.join(','));
    await this.cli(args);
  }

  async rib(family: Family): Promise<RibEntry[]> {
    const out = await this.cli(['-j', 'global', 'rib', '-a', family]);
    return parseGobgpRib(JSON.parse(out || '{}'));
  }

  async sessions(): Promise<SessionInfo[]> {
    const out = await this.cli(['-j', 'neighbor']);
    const list = JSON.parse(out || '[]') as Array<{ conf?: { neighbor_address?: string }; state?: { neighbor_address?: string; session_state?: number } }>;
    return list.map((n) => ({
      neighbor: n.state?.neighbor_address ?? n.conf?.neighbor_address ?? '',
      state: fsmStates[n.state?.session_state ?? 1] ?? 'idle',
    }));
  }

  async requestRouteRefresh(neighbor: string): Promise<void> {
    // `gobgp neighbor X softresetin` re-runs policy over GoBGP's own Adj-RIB-In and sends nothing.
    throw new Error(`GoBGP 3.10 cannot be made to send ROUTE-REFRESH to ${neighbor}: use BIRD, FRR or ExaBGP for that`);
  }

  /** Messages received from a neighbor by type, e.g. { refresh: 1, update: 3 }. */
  async received(neighbor: string): Promise<Record<string, number>> {
    const out = JSON.parse((await this.cli(['-j', 'neighbor', neighbor])) || '{}') as { state?: { messages?: { received?: Record<string, number> } } };
    return out.state?.messages?.received ?? {};
  }

  async shutdownNeighbor(neighbor: string): Promise<void> {
    await this.cli(['neighbor', neighbor, 'disable']);
  }

  async enableNeighbor(neighbor: string): Promise<void> {
    await this.cli(['neighbor', neighbor, 'enable']);
  }
}
