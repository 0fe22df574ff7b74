// ExaBGP as a real peer. ExaBGP keeps no queryable RIB: a JSON API process appends every
// message it receives to a file, and the RIB and session states are rebuilt from that log.
// Commands (teardown, route refresh) go to the same process through a command file.
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Netns } from '../netns.ts';
import { DaemonProcess, isV6, UNPRIVILEGED } from './process.ts';
import { PeerDaemonBase, startInTempDir } from './daemon.ts';
import { sortEntries, type DaemonConfig, type Family, type PeerDaemon, type RibEntry, type SessionInfo, type SessionState } from './types.ts';

export function exabgpConfig(cfg: DaemonConfig, dir: string): string {
  const l: string[] = ['process api {', `  run /bin/sh ${join(dir, 'api.sh')};`, '  encoder json;', '}'];
  for (const n of cfg.neighbors) {
    const fams = n.families ?? [isV6(n.address) ? 'ipv6' : 'ipv4'];
    l.push(`neighbor ${n.address} {`, `  router-id ${cfg.routerId};`,
      `  local-address ${isV6(n.address) ? (cfg.localAddress6 ?? cfg.localAddress) : cfg.localAddress};`,
      `  local-as ${cfg.asn};`, `  peer-as ${n.asn};`);
    if (n.holdTime !== undefined) l.push(`  hold-time ${n.holdTime};`);
    if (n.password) l.push(`  md5-password "${n.password}";`);
    if (n.passive) l.push('  passive;');
    if (n.port) l.push(`  connect ${n.port};`);
    if (n.multihop) l.push(`  outgoing-ttl ${n.multihop};`);
    l.push('  family {', ...fams.map((f) => `    ${f} unicast;`), '  }');
    l.push('  capability {', '    route-refresh;', ...(n.gracefulRestart ? ['    graceful-restart 120;'] : []), '  }');
    l.push('  api {', '    processes [ api ];', '    receive { parsed; update; refresh; notification; }', '    neighbor-changes;', '  }');
    const routes = (cfg.originate ?? []).filter((r) => fams.includes(isV6(r.prefix) ? 'ipv6' : 'ipv4'));
    if (routes.length) {
      l.push('  static {');
      for (const r of routes) {
        let s = `    route ${r.prefix} next-hop ${r.nextHop ?? 'self'}`;
        if (r.communities?.length) s += ` community [ ${r.communities.join(' ')} ]`;
        if (r.largeCommunities?.length) s += ` large-community [ ${r.largeCommunities.join(' ')} ]`;
        l.push(`${s};`);
      }
      l.push('  }');
    }
    l.push('}');
  }
  return l.join('\n') + '\n';
}

interface ExaNlri { nlri?: string }
interface ExaMessage {
  type?: string;
  neighbor?: {
    address?: { local?: string; peer?: string };
    state?: string;
    message?: {
      eor?: unknown;
      update?: {
        attribute?: { 'local-preference'?: number; community?: number[][]; 'large-community'?: number[][] };
        announce?: Record<string, Record<string, ExaNlri[]>>;
        withdraw?: Record<string, ExaNlri[]>;
      };
    };
  };
}

/** What ExaBGP has been told, rebuilt from its JSON log: neighbor → prefix → entry. */
export function replayExabgpLog(text: string): { ribs: Map<string, Map<string, RibEntry>>; states: Map<string, SessionState> } {
  const ribs = new Map<string, Map<string, RibEntry>>();
  const states = new Map<string, SessionState>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let m: ExaMessage;
    try { m = JSON.parse(line) as ExaMessage; } catch { continue; }
    const peer = m.neighbor?.address?.peer;
    if (!peer) continue;
    if (m.type === 'state') {
      const s = m.neighbor?.state;
      states.set(peer, s === 'up' ? 'established' : s === 'connected' ? 'opensent' : 'idle');
      // ExaBGP does not retain routes of a session that went down.
      if (s === 'down') ribs.delete(peer);
      continue;
    }
    const u = m.neighbor?.message?.update;
    if (m.type !== 'update' || !u) continue;
    const rib = ribs.get(peer) ?? new Map<string, RibEntry>();
    ribs.set(peer, rib);
    for (const list of Object.values(u.withdraw ?? {})) for (const w of list) if (w.nlri) rib.delete(w.nlri);
    const a = u.attribute ?? {};
    for (const byNh of Object.values(u.announce ?? {})) {
      for (const [nh, list] of Object.entries(byNh)) {
        for (const n of list) {
          if (!n.nlri) continue;
          const e: RibEntry = {
            prefix: n.nlri,
            nextHops: [nh],
            communities: (a.community ?? []).map((c) => c.join(':')).sort(),
            largeCommunities: (a['large-community'] ?? []).map((c) => c.join(':')).sort(),
          };
          if (a['local-preference'] !== undefined) e.localPref = a['local-preference'];
          rib.set(n.nlri, e);
        }
      }
    }
  }
  return { ribs, states };
}

export class Exabgp extends PeerDaemonBase implements PeerDaemon {
  readonly kind = 'exabgp' as const;

  static async start(ns: Netns, cfg: DaemonConfig): Promise<Exabgp> {
    return startInTempDir('exabgp', async (dir) => {
      // The API process: stdin (ExaBGP's JSON messages) to a file; the command file, followed
      // until ExaBGP exits, to stdout (its command input). dash gives a background job /dev/null as stdin, hence fd 3.
      await writeFile(join(dir, 'api.sh'), `exec 3<&0\ncat <&3 >> ${join(dir, 'events.jsonl')} &\nexec tail -n +1 -f --pid=$PPID ${join(dir, 'commands')}\n`);
      await writeFile(join(dir, 'commands'), '');
      await writeFile(join(dir, 'events.jsonl'), '');
      await writeFile(join(dir, 'exabgp.conf'), exabgpConfig(cfg, dir));
      const e = new Exabgp(ns, dir, cfg);
      await e.boot();
      return e;
    });
  }

  protected override spawn(): DaemonProcess {
    const { ns, dir, cfg } = this;
    const env = [
      `exabgp.daemon.user=${UNPRIVILEGED ? 'nobody' : 'root'}`, 'exabgp.daemon.drop=false', `exabgp.tcp.bind=${[cfg.localAddress, ...(cfg.localAddress6 ? [cfg.localAddress6] : [])].join(" ")}`, `exabgp.tcp.port=${cfg.port ?? 179}`,
      'exabgp.api.cli=false', 'exabgp.log.destination=stdout', 'exabgp.api.ack=false', ...(process.env.ILBG_EXABGP_DEBUG ? ['exabgp.log.level=DEBUG', 'exabgp.log.network=true', 'exabgp.log.processes=true'] : []),
    ];
    return new DaemonProcess(ns, 'env', [...env, 'exabgp', join(dir, 'exabgp.conf')], dir);
  }

  protected override async ready(): Promise<void> {
    // ExaBGP has no status endpoint; its API process starting shows the config was accepted.
    await this.waitAnswering('exabgp', 'ExaBGP API process', async () => {
      const pids = (await this.ns.exec('ip', ['netns', 'pids', this.ns.name]).catch(() => '')).split('\n').filter(Boolean);
      for (const p of pids) {
        const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
        if (cmd.includes('tail') && cmd.includes(this.dir)) return true;
      }
      return false;
    }, 15_000, 100);
  }

  async log(): Promise<string> {
    return readFile(join(this.dir, 'events.jsonl'), 'utf8');
  }

  /** Sends an API command, e.g. "neighbor 10.0.0.2 teardown 2". */
  async send(command: string): Promise<void> {
    await appendFile(join(this.dir, 'commands'), `${command}\n`);
  }

  async rib(family: Family): Promise<RibEntry[]> {
    const { ribs } = replayExabgpLog(await this.log());
    const merged = new Map<string, RibEntry>();
    for (const rib of ribs.values()) {
      for (const e of rib.values()) {
        if (isV6(e.prefix) !== (family === 'ipv6')) continue;
        const prev = merged.get(e.prefix);
        if (prev) prev.nextHops = [...new Set([...prev.nextHops, ...e.nextHops])].sort();
        else merged.set(e.prefix, { ...e, nextHops: [...e.nextHops] });
      }
    }
    return sortEntries([...merged.values()]);
  }

  async sessions(): Promise<SessionInfo[]> {
    const { states } = replayExabgpLog(await this.log());
    return this.cfg.neighbors.map((n) => ({ neighbor: n.address, state: states.get(n.address) ?? 'idle' }));
  }

  async requestRouteRefresh(neighbor: string): Promise<void> {
    const n = this.cfg.neighbors.find((x) => x.address === neighbor);
    for (const f of n?.families ?? [isV6(neighbor) ? 'ipv6' : 'ipv4']) await this.send(`neighbor ${neighbor} announce route-refresh ${f} unicast`);
  }

  async shutdownNeighbor(neighbor: string): Promise<void> {
    // Asks for Cease/administrative shutdown, but ExaBGP 4.2.21 was seen closing the TCP
    // session without any NOTIFICATION. It reconnects by itself afterwards.
    await this.send(`neighbor ${neighbor} teardown 2`);
  }

  async enableNeighbor(): Promise<void> {
    // Nothing to do: ExaBGP re-establishes after a teardown on its own.
  }
}
