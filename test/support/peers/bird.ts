// BIRD 2 as a real peer: generated config, control-socket queries, normalized RIB and sessions.
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Netns } from '../netns.ts';
import { DaemonProcess, isV6 } from './process.ts';
import { PeerDaemonBase, startInTempDir } from './daemon.ts';
import { sortEntries, type DaemonConfig, type Family, type NeighborConfig, type PeerDaemon, type RibEntry, type SessionInfo, type SessionState } from './types.ts';

export interface BirdOptions {
  /** Install selected routes, merged into ECMP routes, in the namespace's kernel table. */
  kernelEcmp?: boolean;
  /** Log every BGP state change and route with timestamps to DIR/bird.log (benchmarks). */
  debugLog?: boolean;
  /** Import only: export nothing to the neighbors (a pure receiver, for benchmarks). */
  receiveOnly?: boolean;
  /** Raw text appended to the config. */
  extra?: string;
}

function familiesOf(n: NeighborConfig): Family[] {
  return n.families ?? [isV6(n.address) ? 'ipv6' : 'ipv4'];
}

export function protocolName(index: number): string {
  return `n${index}`;
}

function birdCommunity(c: string): string {
  return `(${c.split(':').join(',')})`;
}

export function birdConfig(cfg: DaemonConfig, opts: BirdOptions = {}, logFile?: string): string {
  const lines: string[] = [];
  lines.push(`router id ${cfg.routerId};`);
  if (logFile) lines.push(`log "${logFile}" all;`);
  lines.push('timeformat protocol iso long;', 'timeformat route iso long;', 'timeformat log "%F %T.%6f";');
  lines.push('protocol device { scan time 10; }');
  if (opts.kernelEcmp) {
    lines.push('protocol kernel k4 { ipv4 { export all; import none; }; merge paths on; }');
    lines.push('protocol kernel k6 { ipv6 { export all; import none; }; merge paths on; }');
  }
  const origin = cfg.originate ?? [];
  const v4 = origin.filter((r) => !isV6(r.prefix));
  const v6 = origin.filter((r) => isV6(r.prefix));
  const staticRoute = (r: NonNullable<DaemonConfig['originate']>[number]): string => {
    const sets: string[] = [];
    for (const c of r.communities ?? []) sets.push(`bgp_community.add(${birdCommunity(c)});`);
    for (const c of r.largeCommunities ?? []) sets.push(`bgp_large_community.add(${birdCommunity(c)});`);
    return `  route ${r.prefix} blackhole${sets.length ? ` { ${sets.join(' ')} }` : ''};`;
  };
  if (v4.length) lines.push('protocol static s4 {', '  ipv4;', ...v4.map(staticRoute), '}');
  if (v6.length) lines.push('protocol static s6 {', '  ipv6;', ...v6.map(staticRoute), '}');
  cfg.neighbors.forEach((n, i) => {
    const ibgp = n.asn === cfg.asn;
    const local = isV6(n.address) ? (cfg.localAddress6 ?? cfg.localAddress) : cfg.localAddress;
    lines.push(`protocol bgp ${protocolName(i)} {`);
    if (opts.debugLog) lines.push('  debug { states };');
    if (n.interface) {
      // Link-local peering: the scope names the interface; the source is the link-local too.
      lines.push(`  local${cfg.port ? ` port ${cfg.port}` : ''} as ${cfg.asn};`);
      lines.push(`  neighbor ${n.address}%${n.interface}${n.port ? ` port ${n.port}` : ''} as ${n.asn};`);
      lines.push(`  interface "${n.interface}";`);
    } else {
      lines.push(`  local ${local}${cfg.port ? ` port ${cfg.port}` : ''} as ${cfg.asn};`);
      lines.push(`  neighbor ${n.address}${n.port ? ` port ${n.port}` : ''} as ${n.asn};`);
      lines.push('  strict bind on;');
    }
    if (n.multihop) lines.push(`  multihop ${n.multihop};`);
    else lines.push('  direct;');
    if (n.password) lines.push(`  password "${n.password}";`);
    if (n.passive) lines.push('  passive on;');
    if (n.holdTime !== undefined) lines.push(`  hold time ${n.holdTime};`, `  keepalive time ${Math.max(1, Math.floor(n.holdTime / 3))};`);
    if (n.gracefulRestart === true) lines.push('  graceful restart on;');
    if (n.gracefulRestart === false) lines.push('  graceful restart off;');
    // Reconnect quickly after errors: the defaults wait 60 s or more, far beyond a test.
    lines.push('  connect delay time 1;', '  connect retry time 2;', '  error wait time 1, 4;', '  error forget time 10;');
    for (const f of familiesOf(n)) {
      const gw = n.multihop ? '' : ' gateway direct;';
      const nh = ibgp ? ' next hop self;' : '';
      // RFC 8950: IPv4 routes with IPv6 next hops over a link-local session.
      const enh = n.interface && f === 'ipv4' && n.extendedNextHop !== false ? ' extended next hop on;' : '';
      lines.push(`  ${f} { import all; export ${opts.receiveOnly ? 'none' : 'all'};${gw}${nh}${enh} };`);
    }
    lines.push('}');
  });
  if (opts.extra) lines.push(opts.extra);
  return lines.join('\n') + '\n';
}

/** Sends one command on BIRD's control socket; returns the reply's text lines without codes. */
export function birdCommand(socketPath: string, command: string, timeoutMs = 10_000): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    let greeted = false;
    const lines: string[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`birdc "${command}" on ${socketPath}: no reply within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (err?: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(lines);
    };
    sock.on('error', (e) => finish(new Error(`birdc "${command}" on ${socketPath}: ${e.message}`)));
    sock.on('data', (d) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^(\d{4})([ -])(.*)$/.exec(line);
        if (!greeted) {
          // Greeting "0001 BIRD x.y ready."
          if (m && m[2] === ' ') {
            greeted = true;
            sock.write(`${command}\n`);
          }
          continue;
        }
        if (m) {
          const code = Number(m[1]);
          if (code >= 8000) return finish(new Error(`birdc "${command}": ${m[3]}`));
          if (code !== 0) lines.push(m[3] ?? '');
          if (m[2] === ' ') return finish();
        } else if (line.startsWith(' ')) {
          lines.push(line.slice(1));
        }
      }
    });
  });
}

/** Parses `show route all` (codes stripped) into normalized entries. */
export function parseBirdRoutes(lines: string[], protocols?: Set<string>, staleProtocols?: Set<string>): RibEntry[] {
  interface Path { proto: string; primary: boolean; nextHop?: string; communities: string[]; large: string[]; localPref?: number; stale: boolean; }
  const byPrefix = new Map<string, Path[]>();
  let prefix = '';
  let path: Path | undefined;
  for (const raw of lines) {
    const route = /^(\S+)?\s+(?:unicast|blackhole|unreachable|prohibited)\s+\[(\S+)\s[^\]]*\]\s*(\*)?\s*(\(\d+\))?/.exec(raw);
    if (route && !raw.startsWith('\t')) {
      if (route[1]) prefix = route[1];
      path = { proto: route[2] ?? '', primary: route[3] === '*', communities: [], large: [], stale: staleProtocols?.has(route[2] ?? '') ?? false };
      const list = byPrefix.get(prefix) ?? [];
      list.push(path);
      byPrefix.set(prefix, list);
      continue;
    }
    if (!path) continue;
    const t = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^BGP\.next_hop:\s+(\S+)/.exec(t))) path.nextHop = m[1];
    else if ((m = /^BGP\.local_pref:\s+(\d+)/.exec(t))) path.localPref = Number(m[1]);
    else if ((m = /^BGP\.community:\s*(.*)$/.exec(t))) path.communities = [...(m[1] ?? '').matchAll(/\((\d+),\s*(\d+)\)/g)].map((x) => `${x[1]}:${x[2]}`);
    else if ((m = /^BGP\.large_community:\s*(.*)$/.exec(t))) path.large = [...(m[1] ?? '').matchAll(/\((\d+),\s*(\d+),\s*(\d+)\)/g)].map((x) => `${x[1]}:${x[2]}:${x[3]}`);
  }
  const out: RibEntry[] = [];
  for (const [p, paths0] of byPrefix) {
    const paths = protocols ? paths0.filter((x) => protocols.has(x.proto)) : paths0.filter((x) => x.nextHop !== undefined);
    if (!paths.length) continue;
    const best = paths.find((x) => x.primary) ?? paths[0]!;
    const e: RibEntry = {
      prefix: p,
      nextHops: [...new Set(paths.map((x) => x.nextHop ?? ''))].filter(Boolean).sort(),
      communities: [...best.communities].sort(),
      largeCommunities: [...best.large].sort(),
      stale: best.stale,
    };
    if (best.localPref !== undefined) e.localPref = best.localPref;
    out.push(e);
  }
  return sortEntries(out);
}

export interface BirdProtocolInfo {
  state: SessionState;
  grActive: boolean;
  imported: Partial<Record<Family, number>>;
  /** UPDATE-borne route announcements received, summed over channels ("Import updates"). */
  importUpdates: number;
}

/** Parses `show protocols all` (codes stripped): BGP state, graceful restart, imported counts. */
export function parseBirdProtocols(lines: string[]): Map<string, BirdProtocolInfo> {
  const out = new Map<string, BirdProtocolInfo>();
  let cur: BirdProtocolInfo | undefined;
  let channel: Family | undefined;
  for (const l of lines) {
    const head = /^(\S+)\s+BGP\s/.exec(l);
    if (head) {
      cur = { state: 'idle', grActive: false, imported: {}, importUpdates: 0 };
      channel = undefined;
      out.set(head[1] ?? '', cur);
      continue;
    }
    if (/^\S/.test(l)) {
      cur = undefined;
      continue;
    }
    if (!cur) continue;
    let m: RegExpExecArray | null;
    if ((m = /^\s*BGP state:\s+(\S+)/.exec(l))) cur.state = birdStates[(m[1] ?? '').toLowerCase()] ?? 'idle';
    else if (/^\s*Neighbor graceful restart active/.test(l)) cur.grActive = true;
    else if ((m = /^\s*Channel\s+(ipv4|ipv6)/.exec(l))) channel = m[1] as Family;
    else if ((m = /^\s*Routes:\s+(\d+) imported/.exec(l)) && channel) cur.imported[channel] = Number(m[1]);
    else if ((m = /^\s*Import updates:\s+(\d+)/.exec(l))) cur.importUpdates += Number(m[1]);
  }
  return out;
}

const birdStates: Record<string, SessionState> = {
  idle: 'idle', connect: 'connect', active: 'active', opensent: 'opensent', openconfirm: 'openconfirm', established: 'established',
};

export class Bird extends PeerDaemonBase implements PeerDaemon {
  readonly kind = 'bird' as const;
  readonly socket: string;
  readonly logFile: string;
  private readonly needsRoot: boolean;

  private constructor(ns: Netns, dir: string, cfg: DaemonConfig, needsRoot: boolean) {
    super(ns, dir, cfg);
    this.needsRoot = needsRoot;
    this.socket = join(dir, 'bird.ctl');
    this.logFile = join(dir, 'bird.log');
  }

  static async start(ns: Netns, cfg: DaemonConfig, opts: BirdOptions = {}): Promise<Bird> {
    return startInTempDir('bird', async (dir) => {
      await writeFile(join(dir, 'bird.conf'), birdConfig(cfg, opts, opts.debugLog ? join(dir, 'bird.log') : undefined));
      // Installing routes in the kernel (ECMP check) needs CAP_NET_ADMIN: no unprivileged run then.
      const b = new Bird(ns, dir, cfg, opts.kernelEcmp === true);
      await b.boot();
      return b;
    });
  }

  protected override spawn(): DaemonProcess {
    const dir = this.dir;
    return new DaemonProcess(this.ns, 'bird', ['-f', '-c', join(dir, 'bird.conf'), '-s', join(dir, 'bird.ctl'), '-P', join(dir, 'bird.pid')], dir, this.needsRoot);
  }

  protected override async ready(): Promise<void> {
    await this.waitAnswering('bird', 'BIRD control socket', async () => {
      await this.command('show status');
      return true;
    }, 10_000, 50);
  }

  command(cmd: string): Promise<string[]> {
    return birdCommand(this.socket, cmd);
  }

  neighborProtocol(address: string): string {
    const i = this.cfg.neighbors.findIndex((n) => n.address === address);
    if (i < 0) throw new Error(`BIRD has no neighbor ${address}; configured: ${this.cfg.neighbors.map((n) => n.address).join(', ')}`);
    return protocolName(i);
  }

  /**
   * Routes learned over BGP (static/originated routes are left out). BIRD does not print a
   * per-route stale flag: a route is reported stale while its protocol's neighbor graceful
   * restart is active (from the peer's restart until End-of-RIB has been processed).
   */
  async rib(family: Family): Promise<RibEntry[]> {
    const lines = await this.command(`show route all table master${family === 'ipv4' ? 4 : 6}`);
    const protos = new Set(this.cfg.neighbors.map((_, i) => protocolName(i)));
    const info = parseBirdProtocols(await this.command('show protocols all'));
    const staleProtos = new Set([...info].filter(([, v]) => v.grActive).map(([k]) => k));
    return parseBirdRoutes(lines, protos, staleProtos);
  }

  /** Number of routes a neighbor's protocol has imported for a family (cheap, for benchmarks). */
  async importedCount(address: string, family: Family = 'ipv4'): Promise<number> {
    const name = this.neighborProtocol(address);
    const info = parseBirdProtocols(await this.command(`show protocols all ${name}`));
    return info.get(name)?.imported[family] ?? 0;
  }

  /** The parsed `show protocols all` block of a neighbor's protocol. */
  async protocolInfo(address: string): Promise<BirdProtocolInfo | undefined> {
    const name = this.neighborProtocol(address);
    return parseBirdProtocols(await this.command(`show protocols all ${name}`)).get(name);
  }

  async sessions(): Promise<SessionInfo[]> {
    const info = parseBirdProtocols(await this.command('show protocols all'));
    return this.cfg.neighbors.map((n, i) => ({ neighbor: n.address, state: info.get(protocolName(i))?.state ?? 'idle' }));
  }

  async requestRouteRefresh(neighbor: string): Promise<void> {
    await this.command(`reload in ${this.neighborProtocol(neighbor)}`);
  }

  async shutdownNeighbor(neighbor: string): Promise<void> {
    await this.command(`disable ${this.neighborProtocol(neighbor)}`);
  }

  async enableNeighbor(neighbor: string): Promise<void> {
    await this.command(`enable ${this.neighborProtocol(neighbor)}`);
  }
}
