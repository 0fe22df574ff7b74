// What every peer daemon wrapper shares: its namespace, temp dir and config, the running process,
// waiting until it answers, restart and stop. Each daemon module adds how to spawn it, how to ask
// whether it answers, and its own queries.
import type { Netns } from '../netns.ts';
import { waitFor } from '../wait.ts';
import { DaemonProcess, removeDir, tempDir } from './process.ts';
import type { DaemonConfig } from './types.ts';

export abstract class PeerDaemonBase {
  readonly ns: Netns;
  readonly dir: string;
  readonly cfg: DaemonConfig;
  /** Set by boot(), which every start calls before handing the daemon out. */
  protected proc!: DaemonProcess;

  protected constructor(ns: Netns, dir: string, cfg: DaemonConfig) {
    this.ns = ns;
    this.dir = dir;
    this.cfg = cfg;
  }

  /** A new process of the daemon from the files in `dir` (at start and at restart). */
  protected abstract spawn(): DaemonProcess;

  /** Resolves once the daemon answers. */
  protected abstract ready(): Promise<void>;

  /** Spawns the daemon and waits until it answers. */
  protected async boot(): Promise<void> {
    this.proc = this.spawn();
    await this.ready();
  }

  /** Polls `probe` until the daemon answers; while it polls, a daemon that exited shows its output. */
  protected async waitAnswering(name: string, what: string, probe: () => Promise<boolean>, timeoutMs: number, intervalMs: number): Promise<void> {
    await waitFor(async () => {
      if (!this.proc.running) throw new Error(`${name} exited: ${this.proc.output()}`);
      return probe();
    }, { what, timeoutMs, intervalMs });
  }

  get pid(): number {
    return this.proc.pid;
  }

  output(): string {
    return this.proc.output();
  }

  async restart(): Promise<void> {
    await this.proc.stop();
    await this.boot();
  }

  async stop(): Promise<void> {
    await this.proc.stop();
    await removeDir(this.dir);
  }
}

/**
 * Makes a daemon's temp dir and starts the daemon in it with `start`; removes the dir when the
 * start fails (the daemon's stop() removes it otherwise).
 */
export async function startInTempDir<T>(kind: string, start: (dir: string) => Promise<T>): Promise<T> {
  const dir = await tempDir(kind);
  try {
    return await start(dir);
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
}
