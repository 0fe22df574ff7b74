// Writes deploy/crds/*.yaml from the API definition. Run: node src/api/generate.ts
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { renderCrds } from './crd.ts';

export const CRD_DIR = fileURLToPath(new URL('../../deploy/crds/', import.meta.url));

export function writeCrds(dir: string = CRD_DIR): string[] {
  mkdirSync(dir, { recursive: true });
  const files = renderCrds();
  // Remove generated files of kinds that no longer exist.
  for (const f of readdirSync(dir)) if (f.startsWith('ironlb.io_') && !files.has(f)) rmSync(join(dir, f));
  for (const [name, text] of files) writeFileSync(join(dir, name), text);
  return [...files.keys()];
}

const isMain = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  for (const f of writeCrds()) console.log(`wrote deploy/crds/${f}`);
}
