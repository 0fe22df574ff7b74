// MetalLB in FRR mode on a lab node (`ironlb lab up --implementation metallb-frr`): what MetalLB's
// FRR manifest (config/manifests/metallb-frr.yaml) runs in each speaker Pod, as processes in the
// node's namespace with their own folders under the lab's state folder:
//   - FRR from Debian: zebra, bgpd (-p 0: no listener, the speaker's sessions are outgoing), staticd
//     and bfdd, as the Pod's frr container starts them (its daemons file: bgpd=yes, bfdd=yes; zebra
//     and staticd always). watchfrr is left out: the lab restarts what it kills itself.
//   - the reloader sidecar's equivalent (frr-reloader.sh beside this file): the speaker writes
//     frr.conf and sends it SIGHUP; it applies the file with Debian's frr-reload.py.
//   - MetalLB's own speaker with METALLB_BGP_TYPE=frr, FRR_CONFIG_FILE and FRR_RELOADER_PID_FILE
//     pointing into the node's shared folder (the Pod's /etc/frr_reloader emptyDir).
// The speaker also polls /etc/frr_reloader/.status (a fixed path) every 30 s to re-send its config
// after a failed reload; that file does not exist here, which it treats as "nothing to check".
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FRR_DAEMONS = ['zebra', 'bgpd', 'staticd', 'bfdd'] as const;
export type FrrDaemon = (typeof FRR_DAEMONS)[number];
const RELOADER = fileURLToPath(new URL('./frr-reloader.sh', import.meta.url));

export interface FrrNodeDirs {
  /** The node's FRR folder: sockets, PID files, configuration, log (the Pod's /etc/frr and /var/run/frr). */
  frr: string;
  /** Shared between the speaker and the reloader (the Pod's /etc/frr_reloader). */
  shared: string;
}

export function frrNodeDirs(labDir: string, node: string): FrrNodeDirs {
  return { frr: join(labDir, 'metallb-frr', node, 'frr'), shared: join(labDir, 'metallb-frr', node, 'reloader') };
}

/** The Pod's startup configuration (its frr-startup ConfigMap), with the log in the node's folder. */
export function startupConfig(d: FrrNodeDirs): string {
  return ['frr defaults traditional', 'hostname Router', 'line vty', `log file ${join(d.frr, 'frr.log')} informational`, ''].join('\n');
}

/** Creates the node's folders and startup files (idempotent). The daemons drop to the frr user: the caller hands the FRR folder to it. */
export function prepareNode(d: FrrNodeDirs): void {
  mkdirSync(d.frr, { recursive: true });
  mkdirSync(d.shared, { recursive: true });
  if (!existsSync(join(d.frr, 'frr.conf'))) writeFileSync(join(d.frr, 'frr.conf'), startupConfig(d));
  writeFileSync(join(d.frr, 'vtysh.conf'), 'service integrated-vtysh-config\n');
  for (const f of FRR_DAEMONS) writeFileSync(join(d.frr, `${f}.conf`), 'hostname Router\n');
}

/** argv of one daemon ([program, ...args]): unix sockets only (-P 0), in the node's folder. */
export function daemonArgv(d: FrrNodeDirs, daemon: FrrDaemon): string[] {
  const common = ['-f', join(d.frr, `${daemon}.conf`), '-i', join(d.frr, `${daemon}.pid`), '-z', join(d.frr, 'zserv.api'), '--vty_socket', d.frr, '-P', '0'];
  const own: Record<FrrDaemon, string[]> = { zebra: ['-s', '90000000'], bgpd: ['-p', '0'], staticd: [], bfdd: [] };
  return [`/usr/lib/frr/${daemon}`, ...common, ...own[daemon]];
}

/** argv of the reloader ([program, ...args]). */
export function reloaderArgv(d: FrrNodeDirs): string[] {
  return ['/bin/bash', RELOADER, d.shared, d.frr];
}

/** The speaker's environment in FRR mode (the manifest's, with the node's folders). */
export function speakerEnv(d: FrrNodeDirs): Record<string, string> {
  return { METALLB_BGP_TYPE: 'frr', FRR_CONFIG_FILE: join(d.shared, 'frr.conf'), FRR_RELOADER_PID_FILE: join(d.shared, 'reloader.pid') };
}

/** The state keys of a node's FRR processes (Lab.state.pids). */
export const frrPidKeys = (node: string): string[] => [...FRR_DAEMONS.map((x) => `${node}-frr-${x}`), `${node}-frr-reloader`];
