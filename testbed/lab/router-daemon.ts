// The lab's router daemons: BIRD, or FRR (zebra installs the routes in the kernel with ECMP, bgpd
// and bfdd talk to the nodes), started detached in the router namespace with the configuration
// testbed/lab/router.ts generates; and the router's view: its kernel routes and BGP sessions.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '../cluster/wait.ts';
import { alive, nsExec, nsIp, sh, spawnDaemon } from './proc.ts';
import { birdConfig, frrBfdConfig, frrConfig, frrZebraConfig, parseBirdProtocols, parseKernelRoutes, type KernelRoute, type SessionRow } from './router.ts';
import type { LabContext } from './state.ts';

const birdCtl = (lab: LabContext): string => join(lab.dir, 'bird.ctl');
const frrDir = (lab: LabContext): string => join(lab.dir, 'frr');

export async function startRouter(lab: LabContext): Promise<void> {
  const p = lab.plan;
  const o = { bfd: lab.state.bfd, holdTime: lab.state.holdTime };
  if (lab.state.router === 'bird') {
    writeFileSync(join(lab.dir, 'bird.conf'), birdConfig(p, o));
    lab.setPid('router', spawnDaemon(p.routerNs, 'bird', ['-f', '-c', join(lab.dir, 'bird.conf'), '-s', birdCtl(lab), '-P', join(lab.dir, 'bird.pid')], lab.logFile('router')));
    await waitFor(async () => {
      if (!alive(lab.state.pids.router ?? 0)) throw new Error(`bird exited: see ${lab.logFile('router')}`);
      await sh('birdc', ['-s', birdCtl(lab), 'show', 'status'], 3000);
      return true;
    }, { what: 'BIRD control socket', timeoutMs: 20_000, intervalMs: 100 });
    return;
  }
  const fdir = frrDir(lab);
  mkdirSync(fdir, { recursive: true });
  writeFileSync(join(fdir, 'frr.conf'), frrConfig(p, o));
  writeFileSync(join(fdir, 'zebra.conf'), frrZebraConfig(p));
  writeFileSync(join(fdir, 'bfdd.conf'), frrBfdConfig());
  // The daemons drop to the frr user: their folder (PID files, sockets) must be theirs.
  await sh('chown', ['-R', 'frr:frr', fdir]);
  const common = ['-z', join(fdir, 'zserv.api'), '--vty_socket', fdir];
  lab.setPid('zebra', spawnDaemon(p.routerNs, '/usr/lib/frr/zebra', ['-f', join(fdir, 'zebra.conf'), '-i', join(fdir, 'zebra.pid'), ...common], lab.logFile('zebra')));
  await waitFor(() => existsSync(join(fdir, 'zserv.api')), { what: `FRR zebra (it runs as the frr user, which must be able to reach ${fdir}; see ${lab.logFile('zebra')})`, timeoutMs: 20_000, intervalMs: 100 });
  if (o.bfd) lab.setPid('bfdd', spawnDaemon(p.routerNs, '/usr/lib/frr/bfdd', ['-f', join(fdir, 'bfdd.conf'), '-i', join(fdir, 'bfdd.pid'), ...common], lab.logFile('bfdd')));
  lab.setPid('router', spawnDaemon(p.routerNs, '/usr/lib/frr/bgpd', ['-f', join(fdir, 'frr.conf'), '-i', join(fdir, 'bgpd.pid'), '-P', '0', ...common], lab.logFile('router')));
  await waitFor(() => {
    if (!alive(lab.state.pids.router ?? 0)) throw new Error(`bgpd exited: see ${lab.logFile('router')}`);
    return existsSync(join(fdir, 'bgpd.vty'));
  }, { what: 'FRR bgpd', timeoutMs: 20_000, intervalMs: 100 });
}

/** The router's kernel routes installed by its BGP daemon: prefix → next hops (ECMP). */
export async function routerRoutes(lab: LabContext): Promise<KernelRoute[]> {
  const [v4, v6] = await Promise.all([nsIp(lab.plan.routerNs, '-j', '-4', 'route', 'show'), nsIp(lab.plan.routerNs, '-j', '-6', 'route', 'show')]);
  return [...parseKernelRoutes(v4), ...parseKernelRoutes(v6)];
}

/** The router's BGP sessions. */
export async function routerSessions(lab: LabContext): Promise<SessionRow[]> {
  if (lab.state.router === 'bird') return parseBirdProtocols(await sh('birdc', ['-s', birdCtl(lab), 'show', 'protocols'], 5000));
  const out = await nsExec(lab.plan.routerNs, 'vtysh', ['--vty_socket', frrDir(lab), '-c', 'show bgp summary json'], 10_000);
  const j = JSON.parse(out) as Record<string, { peers?: Record<string, { state?: string }> }>;
  const rows: SessionRow[] = [];
  for (const af of Object.values(j)) for (const [peer, v] of Object.entries(af.peers ?? {})) rows.push({ name: peer, state: v.state ?? '' });
  return rows;
}
