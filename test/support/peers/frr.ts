// FRR bgpd (without zebra) as a real peer: generated bgpd.conf, JSON queries through vtysh.
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { waitFor } from '../wait.ts';
import { sh } from '../netns.ts';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Netns } from '../netns.ts';
import { DaemonProcess, isV6 } from './process.ts';
import { PeerDaemonBase, startInTempDir } from './daemon.ts';
import { sortEntries, type DaemonConfig, type Family, type PeerDaemon, type RibEntry, type SessionInfo, type SessionState } from './types.ts';

export interface FrrOptions {
  /** Update-group coalesce time in ms; FRR's default (~1 s) delays the first UPDATE. */
  coalesceTimeMs?: number;
  /** Raw lines appended inside `router bgp`. */
  extra?: string[];
  /** Raw lines before `router bgp` (route-maps, prefix-lists). */
  preamble?: string[];
  /**
   * Run zebra too: bgpd learns interfaces (needed for `neighbor IF interface`, which also sends
   * RAs through zebra) and installs its routes in the namespace's kernel tables.
   */
  zebra?: boolean;
}

export function frrConfig(cfg: DaemonConfig, opts: FrrOptions = {}): string {
  const l: string[] = ['frr defaults traditional', 'hostname ilbg-frr', 'log stdout informational', '!'];
  l.push(...(opts.preamble ?? []));
  // Originated routes carry communities through a route-map each (`network P route-map M`).
  const routeMap = new Map<string, string>();
  (cfg.originate ?? []).forEach((r, i) => {
    if (!r.communities?.length && !r.largeCommunities?.length) return;
    const name = `ILBG-ORIG-${i}`;
    routeMap.set(r.prefix, name);
    l.push(`route-map ${name} permit 10`);
    if (r.communities?.length) l.push(` set community ${r.communities.join(' ')}`);
    if (r.largeCommunities?.length) l.push(` set large-community ${r.largeCommunities.join(' ')}`);
    l.push('exit', '!');
  });
  l.push(`router bgp ${cfg.asn}`, ` bgp router-id ${cfg.routerId}`, ' no bgp ebgp-requires-policy', ' no bgp network import-check',
    ' no bgp default ipv4-unicast', ' bgp bestpath as-path multipath-relax');
  if (opts.coalesceTimeMs !== undefined) l.push(` coalesce-time ${opts.coalesceTimeMs}`);
  if (cfg.neighbors.some((n) => n.gracefulRestart)) l.push(' bgp graceful-restart', ' bgp graceful-restart preserve-fw-state');
  if (cfg.neighbors.some((n) => n.gracefulRestart === false)) l.push(' bgp graceful-restart-disable');
  for (const n of cfg.neighbors) {
    const a = n.interface ?? n.address;
    if (n.interface) l.push(` neighbor ${a} interface remote-as ${n.asn}`);
    else {
      l.push(` neighbor ${a} remote-as ${n.asn}`);
      l.push(` neighbor ${a} update-source ${isV6(a) ? (cfg.localAddress6 ?? cfg.localAddress) : cfg.localAddress}`);
    }
    // Reconnect quickly: the default connect-retry is 120 s.
    l.push(` neighbor ${a} timers connect 1`);
    if (n.holdTime !== undefined) l.push(` neighbor ${a} timers ${Math.max(1, Math.floor(n.holdTime / 3))} ${n.holdTime}`);
    if (n.password) l.push(` neighbor ${a} password ${n.password}`);
    if (n.passive) l.push(` neighbor ${a} passive`);
    if (n.port) l.push(` neighbor ${a} port ${n.port}`);
    if (n.multihop) l.push(` neighbor ${a} ebgp-multihop ${n.multihop}`);
  }
  for (const o of opts.extra ?? []) l.push(` ${o}`);
  for (const f of ['ipv4', 'ipv6'] as const) {
    const ns = cfg.neighbors.filter((n) => (n.families ?? [isV6(n.address) ? 'ipv6' : 'ipv4']).includes(f));
    const routes = (cfg.originate ?? []).filter((r) => isV6(r.prefix) === (f === 'ipv6'));
    if (!ns.length && !routes.length) continue;
    l.push(` address-family ${f} unicast`);
    if (cfg.multipath) l.push('  maximum-paths 16', '  maximum-paths ibgp 16');
    for (const n of ns) {
      const a = n.interface ?? n.address;
      l.push(`  neighbor ${a} activate`);
      if (n.asn === cfg.asn) l.push(`  neighbor ${a} next-hop-self`);
      if (routes.some((r) => r.communities?.length || r.largeCommunities?.length)) l.push(`  neighbor ${a} send-community all`);
    }
    for (const r of routes) l.push(`  network ${r.prefix}${routeMap.has(r.prefix) ? ` route-map ${routeMap.get(r.prefix)}` : ''}`);
    l.push(' exit-address-family');
  }
  l.push('!');
  return l.join('\n') + '\n';
}

interface FrrNexthop { ip?: string; afi?: string; scope?: string; used?: boolean }
interface FrrPath {
  valid?: boolean; bestpath?: unknown; multipath?: boolean; stale?: boolean; locPrf?: number; localpref?: number;
  nexthops?: FrrNexthop[]; community?: { string?: string }; largeCommunity?: { string?: string };
  peer?: { peerId?: string };
}

/**
 * Parses `show bgp <afi> unicast json detail`: `routes: { prefix: [header, path...] }` where the
 * header carries only prefix and version, and `bestpath` is an object on the best path.
 */
export function parseFrrRib(json: unknown): RibEntry[] {
  const routes = ((json ?? {}) as { routes?: Record<string, FrrPath[]> }).routes ?? {};
  const out: RibEntry[] = [];
  for (const [prefix, paths0] of Object.entries(routes)) {
    // Locally originated paths have peerId "(unspec)": they are not "received".
    const paths = paths0.filter((p) => p.nexthops !== undefined && p.peer?.peerId !== undefined && p.peer.peerId !== '(unspec)');
    if (!paths.length) continue;
    const best = paths.find((p) => !!p.bestpath) ?? paths[0]!;
    const nh = (p: FrrPath): string | undefined => p.nexthops?.find((n) => n.scope !== 'link-local')?.ip ?? p.nexthops?.[0]?.ip;
    const e: RibEntry = {
      prefix,
      nextHops: [...new Set(paths.map(nh).filter((x): x is string => !!x))].sort(),
      communities: (best.community?.string ?? '').split(' ').filter(Boolean).sort(),
      largeCommunities: (best.largeCommunity?.string ?? '').split(' ').filter(Boolean).sort(),
      stale: best.stale === true,
      selectedNextHops: [...new Set(paths.filter((p) => p.valid && (!!p.bestpath || p.multipath)).map(nh).filter((x): x is string => !!x))].sort(),
    };
    const lp = best.locPrf ?? best.localpref;
    if (typeof lp === 'number') e.localPref = lp;
    out.push(e);
  }
  return sortEntries(out);
}

/**
 * Commands on a daemon's vty socket, one connection, as vtysh speaks it: each command and a NUL
 * out; its output, three NULs and a status byte (0 = success) back. ~100x faster than running
 * vtysh (which costs ~0.4 s a call here). Returns each command's output.
 */
export function vtyCommands(socketPath: string, commands: string[], timeoutMs = 10_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    const results: string[] = [];
    let chunks: Buffer[] = [];
    let size = 0;
    const fail = (msg: string): void => {
      clearTimeout(timer);
      sock.destroy();
      reject(new Error(`vty ${JSON.stringify(commands)} on ${socketPath}: ${msg}`));
    };
    const timer = setTimeout(() => fail(`no reply within ${timeoutMs} ms`), timeoutMs);
    const next = (): void => {
      if (results.length === commands.length) {
        clearTimeout(timer);
        sock.destroy();
        resolve(results);
        return;
      }
      sock.write(`${commands[results.length]}\0`);
    };
    sock.on('connect', next);
    sock.on('error', (e) => fail(e.message));
    sock.on('data', (d: Buffer) => {
      chunks.push(d);
      size += d.length;
      if (size < 4) return;
      // A reply ends with 0 0 0 STATUS; those 4 bytes may straddle chunks.
      const tail = Buffer.concat(chunks.slice(-4)).subarray(-4);
      if (tail[0] !== 0 || tail[1] !== 0 || tail[2] !== 0) return;
      const text = Buffer.concat(chunks, size).subarray(0, size - 4).toString();
      chunks = [];
      size = 0;
      if (tail[3] !== 0) return fail(`"${commands[results.length]}" failed: ${text.trim() || `status ${tail[3]}`}`);
      results.push(text);
      next();
    });
  });
}

export async function vtyCommand(socketPath: string, command: string, timeoutMs = 10_000): Promise<string> {
  return (await vtyCommands(socketPath, [command], timeoutMs))[0] ?? '';
}

const frrStates: Record<string, SessionState> = {
  Idle: 'idle', Connect: 'connect', Active: 'active', OpenSent: 'opensent', OpenConfirm: 'openconfirm', Established: 'established',
};

export class Frr extends PeerDaemonBase implements PeerDaemon {
  readonly kind = 'frr' as const;

  private zebra: DaemonProcess | undefined;

  static async start(ns: Netns, cfg: DaemonConfig, opts: FrrOptions = {}): Promise<Frr> {
    return startInTempDir('frr', async (dir) => {
      await writeFile(join(dir, 'bgpd.conf'), frrConfig(cfg, opts));
      const f = new Frr(ns, dir, cfg);
      if (opts.zebra) {
        await writeFile(join(dir, 'zebra.conf'), 'hostname ilbg-zebra\nlog stdout informational\n');
        // zebra drops to user frr: its pid file and sockets go in a folder of that user. Started
        // as root even in the unprivileged mode of these tests, since it writes kernel routes.
        await sh('chown', ['frr:frr', dir]);
        const z = new DaemonProcess(ns, '/usr/lib/frr/zebra', ['-f', join(dir, 'zebra.conf'), '-i', join(dir, 'zebra.pid'), '-z', join(dir, 'zserv.api'), '--vty_socket', dir], dir, true);
        f.zebra = z;
        try {
          await waitFor(async () => {
            if (!z.running) throw new Error(`zebra exited: ${z.output()}`);
            return existsSync(join(dir, 'zserv.api'));
          }, { what: 'FRR zebra socket', timeoutMs: 15_000, intervalMs: 100 });
          await f.boot();
        } catch (e) {
          await z.stop();
          throw e;
        }
        return f;
      }
      await f.boot();
      return f;
    });
  }

  protected override spawn(): DaemonProcess {
    const { dir, cfg } = this;
    const args = ['-f', join(dir, 'bgpd.conf'), '-i', join(dir, 'bgpd.pid'), '-z', join(dir, 'zserv.api'), ...(this.zebra ? [] : ['-Z']), '-S',
      '-p', String(cfg.port ?? 179), '-l', cfg.localAddress, '--vty_socket', dir, '-P', '0'];
    if (cfg.localAddress6) args.push('-l', cfg.localAddress6);
    return new DaemonProcess(this.ns, '/usr/lib/frr/bgpd', args, dir);
  }

  override async stop(): Promise<void> {
    // bgpd first: it withdraws its kernel routes through zebra.
    await this.proc.stop();
    await this.zebra?.stop();
    await super.stop();
  }

  override output(): string {
    return this.zebra ? `${this.proc.output()}\n--- zebra:\n${this.zebra.output().slice(-1500)}` : this.proc.output();
  }

  protected override async ready(): Promise<void> {
    await this.waitAnswering('bgpd', 'FRR bgpd vty', async () => {
      await this.show('show bgp summary json');
      return true;
    }, 15_000, 100);
  }

  /** A read-only command straight on bgpd's vty socket (fast; enough for every `show`). */
  show(command: string): Promise<string> {
    return vtyCommand(join(this.dir, 'bgpd.vty'), command);
  }

  /** Runs vtysh against this bgpd (slow, ~0.4 s; needed for `configure terminal`). */
  vtysh(...commands: string[]): Promise<string> {
    const args = ['--vty_socket', this.dir, '-d', 'bgpd'];
    for (const c of commands) args.push('-c', c);
    return this.ns.exec('vtysh', args);
  }

  async rib(family: Family): Promise<RibEntry[]> {
    const out = await this.show(`show bgp ${family} unicast json detail`);
    return parseFrrRib(JSON.parse(out || '{}'));
  }

  async sessions(): Promise<SessionInfo[]> {
    const out = JSON.parse((await this.show('show bgp neighbors json')) || '{}') as Record<string, { bgpState?: string }>;
    return Object.entries(out).map(([neighbor, v]) => ({ neighbor, state: frrStates[v.bgpState ?? 'Idle'] ?? 'idle' }));
  }

  /** Prefixes received from a neighbor (cheap, for benchmarks). */
  async receivedCount(neighbor: string): Promise<number> {
    const out = JSON.parse((await this.show(`show bgp neighbors ${neighbor} json`)) || '{}') as Record<string, { addressFamilyInfo?: Record<string, { acceptedPrefixCounter?: number }> }>;
    let n = 0;
    for (const af of Object.values(out[neighbor]?.addressFamilyInfo ?? {})) n += af.acceptedPrefixCounter ?? 0;
    return n;
  }

  async requestRouteRefresh(neighbor: string): Promise<void> {
    await vtyCommands(join(this.dir, 'bgpd.vty'), ['enable', `clear bgp ${neighbor} soft in`]);
  }

  /** Configuration lines inside `router bgp`, over the vty socket. */
  async configure(lines: string[]): Promise<void> {
    await vtyCommands(join(this.dir, 'bgpd.vty'), ['enable', 'configure terminal', `router bgp ${this.cfg.asn}`, ...lines, 'end']);
  }

  async shutdownNeighbor(neighbor: string): Promise<void> {
    await this.configure([`neighbor ${neighbor} shutdown`]);
  }

  async enableNeighbor(neighbor: string): Promise<void> {
    await this.configure([`no neighbor ${neighbor} shutdown`]);
  }
}
