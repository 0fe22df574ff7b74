// Running commands for the lab: one-shot commands (optionally inside a network namespace) and
// detached daemons whose PIDs the lab records, so `lab down` can stop them from another process.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';

// One-shot commands are the cluster harness's; re-exported for the lab's and the tests' imports.
export { sh, nsExec, nsIp } from '../cluster/shell.ts';

/**
 * Starts a daemon that outlives this process (the CLI returns while the lab runs), with stdout and
 * stderr appended to `logFile`. `ns` undefined: in the current namespace. Returns its PID.
 */
export function spawnDaemon(ns: string | undefined, cmd: string, args: readonly string[], logFile: string, env: NodeJS.ProcessEnv = process.env): number {
  const fd = openSync(logFile, 'a');
  try {
    const argv = ns ? ['netns', 'exec', ns, cmd, ...args] : [...args];
    const child = spawn(ns ? 'ip' : cmd, argv, { detached: true, stdio: ['ignore', fd, fd], env });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${cmd} (see ${logFile})`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/** Command line of a process, or '' when it is gone. */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** PIDs of processes whose command line contains `marker` (the lab's state folder). */
export function pidsWith(marker: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    if (pid === process.pid) continue;
    if (cmdline(pid).includes(marker)) out.push(pid);
  }
  return out;
}

/** Sends `signal` to a PID (ignoring a process already gone); true if the signal was delivered. */
export function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Waits (bounded) until none of the PIDs is alive; SIGKILLs the ones left at the deadline. */
export async function waitGone(pids: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    if (!pids.some(alive)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const p of pids) signal(p, 'SIGKILL');
}
