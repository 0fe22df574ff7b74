// How the lab and the benches run ironlb: as the image does, compiled JavaScript (dist/, built by
// scripts/build-dist.sh exactly as the Dockerfile builds it) with the Node options the chart gives
// each component, so every figure taken in the lab is the operator's figure.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sh } from './proc.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The image's entry point (Dockerfile ENTRYPOINT: node /app/dist/cli/main.js). */
export const DIST_CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const TEMPLATES = fileURLToPath(new URL('../../deploy/helm/ironlb/templates/', import.meta.url));
const IMAGE_CLI = '/app/dist/cli/main.js';

/** Builds dist/ from the current sources unless it is up to date (a no-op in ~20 ms then). */
export async function ensureDist(): Promise<void> {
  await sh(`${ROOT}scripts/build-dist.sh`, [], 300_000);
}

/**
 * The Node options the chart starts a component with: the arguments between `node` and the CLI in
 * the template's `command:` (none when the template keeps the image's entry point).
 */
export function chartNodeOptions(component: 'speaker' | 'controller'): string[] {
  return nodeOptionsOf(readFileSync(`${TEMPLATES}${component}.yaml`, 'utf8'));
}

/** Pure part of chartNodeOptions (tested on its own). */
export function nodeOptionsOf(template: string): string[] {
  const m = /^\s*command:\s*(\[.*\])\s*$/m.exec(template);
  if (!m) return [];
  const argv = JSON.parse(m[1] as string) as string[];
  const node = argv.indexOf('node');
  const cli = argv.indexOf(IMAGE_CLI);
  if (node < 0 || cli < node) throw new Error(`the chart's command ${m[1]} does not run node ${IMAGE_CLI}: update testbed/lab/image.ts`);
  return argv.slice(node + 1, cli);
}
