// One-shot commands, optionally inside a network namespace, with errors that name the command and
// its stderr. Shared by the lab's daemons, the namespaces of the test harness and the peer drivers.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function sh(cmd: string, args: readonly string[], timeoutMs = 20_000): Promise<string> {
  try {
    const { stdout } = await run(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** Runs a command inside a network namespace (by name). */
export function nsExec(ns: string, cmd: string, args: readonly string[], timeoutMs?: number): Promise<string> {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args], timeoutMs);
}

export function nsIp(ns: string, ...args: string[]): Promise<string> {
  return nsExec(ns, 'ip', args);
}
