// Removes network namespaces (and the daemons in them) that tests created and a crash left behind.
// Every test namespace name starts with "ilb" (or a branch's "hb-"/"ho-"); nothing else is touched.
import { execFileSync } from 'node:child_process';

let names: string[] = [];
try {
  names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith('ilb') || n.startsWith('hb-') || n.startsWith('ho-'));
} catch {
  process.exit(0);
}
for (const n of names) {
  try {
    const pids = execFileSync('ip', ['netns', 'pids', n], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const p of pids) {
      try { process.kill(Number(p), 'SIGKILL'); } catch { /* already gone */ }
    }
    execFileSync('ip', ['netns', 'del', n]);
  } catch { /* best effort */ }
}
if (names.length) console.error(`[cleanup] removed leftover namespaces: ${names.join(' ')}`);
