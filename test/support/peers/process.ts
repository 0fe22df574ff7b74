// Running a daemon in the foreground inside a namespace: temp dir, bounded output capture,
// stop by PID with a deadline. Every daemon module builds on this.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, type ChildProcess } from 'node:child_process';
import type { Netns } from '../netns.ts';

const OUTPUT_LIMIT = 64 * 1024;

/**
 * ILBG_PEERS_UNPRIVILEGED=1 runs every daemon as nobody (setpriv, no capabilities, no new
 * privileges): its temp dir is handed to nobody and the namespace lets unprivileged processes
 * bind port 179 (a per-namespace sysctl, so nothing outside the test changes).
 */
export const UNPRIVILEGED = process.env.ILBG_PEERS_UNPRIVILEGED === '1';
const NOBODY = '65534';

export async function tempDir(kind: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `ilbg-${kind}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export class DaemonProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  private out = '';
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;

  /** `needsRoot`: keep root even with ILBG_PEERS_UNPRIVILEGED (e.g. BIRD writing kernel routes). */
  constructor(ns: Netns, cmd: string, args: string[], dir?: string, needsRoot = false) {
    if (UNPRIVILEGED && !needsRoot) {
      if (dir) execFileSync('chown', ['-R', `${NOBODY}:${NOBODY}`, dir]);
      execFileSync('ip', ['netns', 'exec', ns.name, 'sysctl', '-q', '-w', 'net.ipv4.ip_unprivileged_port_start=0']);
      args = [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--no-new-privs', cmd, ...args];
      cmd = 'setpriv';
    }
    // `ip netns exec` and setpriv exec the command, so the child's PID is the daemon's own.
    this.child = ns.spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (this.child.pid === undefined) throw new Error(`could not start ${cmd} in ${ns.name}`);
    this.pid = this.child.pid;
    const keep = (b: Buffer): void => {
      this.out += b.toString();
      if (this.out.length > OUTPUT_LIMIT) this.out = this.out.slice(-OUTPUT_LIMIT);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => {
        this.exitCode = code;
        resolve();
      });
    });
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  output(): string {
    return this.out;
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves once the process has exited. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.running) return;
    try { process.kill(this.pid, 'SIGTERM'); } catch { /* gone */ }
    const timer = setTimeout(() => {
      try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ }
    }, graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ }
    await this.exited;
  }

  /** Resolves when the process exits (or rejects with its output after timeoutMs). */
  async waitExit(timeoutMs: number): Promise<number | null | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const t = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`process ${this.pid} still running after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      await Promise.race([this.exited, t]);
    } finally {
      clearTimeout(timer);
    }
    return this.exitCode;
  }
}

export function isV6(address: string): boolean {
  return address.includes(':');
}
