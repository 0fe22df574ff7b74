// Removing a lab: every process whose command line names the state folder, every namespace with
// the prefix (and what runs in it), and the folder. Works without state (after a crash).
import { existsSync, rmSync } from 'node:fs';
import { alive, pidsWith, sh, signal, waitGone } from './proc.ts';
import { readState } from './state.ts';

/** Namespaces whose names start with `${prefix}-`. */
export async function labNamespaces(prefix: string): Promise<string[]> {
  return (await sh('ip', ['netns', 'list'])).split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`${prefix}-`));
}

/** Removes a lab; returns what was removed. */
export async function labDown(dir: string, prefix: string): Promise<string[]> {
  const removed: string[] = [];
  const marker = `${dir}/`;
  const pids = pidsWith(marker);
  try {
    for (const p of Object.values(readState(dir).pids)) if (alive(p) && !pids.includes(p) && pidsWith(marker).includes(p)) pids.push(p);
  } catch { /* no state: the scan above is what there is */ }
  for (const p of pids) signal(p, 'SIGKILL');
  await waitGone(pids, 5000);
  if (pids.length) removed.push(`${pids.length} processes`);
  const names = await labNamespaces(prefix).catch(() => []);
  for (const n of names) {
    try {
      const inside = (await sh('ip', ['netns', 'pids', n])).split('\n').filter(Boolean).map(Number);
      for (const p of inside) signal(p, 'SIGKILL');
      await waitGone(inside, 3000);
    } catch { /* already gone */ }
    try {
      await sh('ip', ['netns', 'del', n]);
      removed.push(n);
    } catch { /* already gone */ }
  }
  if (existsSync(dir)) {
    rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  return removed;
}
