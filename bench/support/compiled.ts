// Benches measure ironlb as the image runs it: compiled JavaScript (tsc with tsconfig.build.json,
// as scripts/build-dist.sh and the Dockerfile build it) under the chart's Node options, not the
// TypeScript sources (Node's type stripping alone costs ~30 MB of RSS). compileBench compiles one
// bench entry (a child process's script) with the sources it imports into a temp dir that resolves
// packages and the native addon from this checkout.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CompiledBench {
  /** The compiled entry (.js) to run with node. */
  entry: string;
  /** Removes the temp dir. */
  remove(): Promise<void>;
}

/** Compiles `entry` (an absolute .ts path inside this checkout) and what it imports. */
export async function compileBench(entry: string): Promise<CompiledBench> {
  const dir = await mkdtemp(join(tmpdir(), 'ilb-bench-'));
  try {
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({
      extends: join(ROOT, 'tsconfig.build.json'),
      compilerOptions: { rootDir: ROOT, outDir: dir, sourceMap: false, typeRoots: [join(ROOT, 'node_modules/@types')] },
      include: [entry],
    }));
    await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')]);
    await writeFile(join(dir, 'package.json'), '{"type":"module"}\n');
    await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    await symlink(join(ROOT, 'src/native/build'), join(dir, 'src/native/build')).catch(() => {});
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`cannot compile ${entry} for the bench: ${err instanceof Error ? err.message : String(err)} ${(err as { stdout?: string }).stdout ?? ''}`);
  }
  return { entry: join(dir, relative(ROOT, entry).replace(/\.ts$/, '.js')), remove: () => rm(dir, { recursive: true, force: true }) };
}

/** This process's peak and current RSS (MiB) from /proc (VmHWM, VmRSS). */
export async function ownRss(): Promise<{ peakMiB: number; rssMiB: number }> {
  const status = await readFile('/proc/self/status', 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  return { peakMiB: kb('VmHWM') / 1024, rssMiB: kb('VmRSS') / 1024 };
}
