// Child processes the harness starts (speakers, agents, clients): whether they run, a bounded log of
// their lines, waiting for a line, the time a line was logged, a kill that waits until they are
// gone, JSON lines read as they come, and one metric read from a Prometheus text page.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { waitFor } from './wait.ts';

export function isRunning(proc: ChildProcess | undefined): boolean {
  return proc !== undefined && proc.exitCode === null && proc.signalCode === null;
}

/** Kills `proc` (SIGKILL by default: no goodbye) and waits until it is gone (SIGKILL after `graceMs`); returns the kill time. */
export async function killChild(proc: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGKILL', graceMs = 15_000): Promise<number> {
  const t = Date.now();
  if (proc && isRunning(proc)) {
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([gone, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    if (isRunning(proc)) proc.kill('SIGKILL');
  }
  return t;
}

/** Parses each JSON line `proc` prints into `into` (a partial line at exit is skipped); returns `into`. */
export function jsonLines<T>(proc: ChildProcess, into: T[] = [], keep: (line: string) => boolean = () => true): T[] {
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    if (!keep(l)) return;
    try {
      into.push(JSON.parse(l) as T);
    } catch { /* a partial line at exit */ }
  });
  return into;
}

/** The log of a child: its stdout and stderr lines, the last `max` kept. */
export class ChildLog {
  readonly lines: string[] = [];
  private readonly who: string;
  private readonly max: number;

  constructor(who: string, max = 400) {
    this.who = who;
    this.max = max;
  }

  /** Reads `proc`'s stdout and stderr into the log. */
  follow(proc: ChildProcess): void {
    const keep = (line: string): void => {
      this.lines.push(line);
      if (this.lines.length > this.max) this.lines.splice(0, this.max / 4);
    };
    if (proc.stdout) createInterface({ input: proc.stdout }).on('line', keep);
    if (proc.stderr) createInterface({ input: proc.stderr }).on('line', keep);
  }

  /** Last lines, for failure messages. */
  tail(n = 30): string {
    return this.lines.slice(-n).join('\n');
  }

  /** Waits until a line at or after `from` matches `re`; returns it. */
  async waitLog(re: RegExp, timeoutMs = 60_000, from = 0): Promise<string> {
    return waitFor(() => this.lines.slice(from).find((l) => re.test(l)), { what: `${this.who} to log ${re}`, timeoutMs, intervalMs: 100 }).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.tail()}`);
    });
  }

  /** The log time (ms) of the first line at or after `from` matching `re` (pino's "time" field). */
  logTime(re: RegExp, from = 0): number | undefined {
    const line = this.lines.slice(from).find((l) => re.test(l));
    const m = line ? /"time":(\d+)/.exec(line) : null;
    return m ? Number(m[1]) : undefined;
  }
}

/** Value of one sample in a Prometheus text page (first line with this name and exactly this label text), or undefined. */
export function metricValue(text: string, name: string, labels = ''): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (labels ? rest.startsWith(`{${labels}}`) : rest.startsWith(' ')) return Number(rest.slice(rest.lastIndexOf(' ') + 1));
  }
  return undefined;
}
