// Drives testbed/tools/layer2-agent.ts in a child process (typically inside a network namespace): sends
// commands, collects its JSON-line events. Used by the Layer 2 tests and benchmark.
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AddressOptions, AnnouncerOptions } from '../../src/layer2/announcer.ts';

export const AGENT_SCRIPT = fileURLToPath(new URL('./layer2-agent.ts', import.meta.url));

export interface AgentEvent {
  event: string;
  t: number;
  [k: string]: unknown;
}

export type Spawner = (cmd: string, args: string[]) => ChildProcess;

export class AgentProcess {
  readonly child: ChildProcess;
  readonly events: AgentEvent[] = [];
  stderr = '';
  private buf = '';

  constructor(spawn: Spawner, opts: AnnouncerOptions) {
    this.child = spawn(process.execPath, [AGENT_SCRIPT, JSON.stringify(opts)]);
    this.child.stdout?.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        try {
          this.events.push(JSON.parse(line) as AgentEvent);
        } catch {
          this.stderr += `unparsable stdout line: ${line}\n`;
        }
      }
    });
    // Keep only the tail: a failing agent could log a lot.
    this.child.stderr?.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-8000)));
  }

  send(cmd: { set?: Record<string, AddressOptions>; metrics?: boolean; refresh?: boolean; exit?: boolean }): void {
    this.child.stdin?.write(`${JSON.stringify(cmd)}\n`);
  }

  /** The first event after index `from` satisfying `pred`, or undefined. */
  find(pred: (e: AgentEvent) => boolean, from = 0): AgentEvent | undefined {
    for (let i = from; i < this.events.length; i++) if (pred(this.events[i]!)) return this.events[i];
    return undefined;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
