// `ironlb migrate`: MetalLB or OpenELB configuration in, ironlb objects and Service annotation
// rewrites out, with a warning for every setting that has no equivalent.
import { parseAllDocuments, stringify } from 'yaml';
import { isObj, type MigrateOptions, type MigrationResult, type Obj } from './common.ts';
import { migrateMetalLB } from './metallb.ts';
import { migrateOpenELB } from './openelb.ts';

export type { MigrateOptions, MigrationResult, ServiceRewrite } from './common.ts';
export { migrateMetalLB } from './metallb.ts';
export { migrateOpenELB } from './openelb.ts';

export const SOURCES = ['metallb', 'openelb'] as const;
export type Source = (typeof SOURCES)[number];

/** Parses YAML text (many documents; Lists are flattened) into objects. */
export function readObjects(text: string, where: string): Obj[] {
  const out: Obj[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length) throw new Error(`${where}: invalid YAML: ${doc.errors[0]?.message.split('\n')[0]}`);
    const v = doc.toJS() as unknown;
    if (v === null || v === undefined) continue;
    if (!isObj(v)) throw new Error(`${where}: a document is not an object (expected Kubernetes objects with apiVersion and kind)`);
    if (typeof v.kind === 'string' && v.kind.endsWith('List') && Array.isArray(v.items)) out.push(...(v.items as Obj[]));
    else out.push(v);
  }
  return out;
}

export function migrate(from: Source, docs: readonly Obj[], opts: MigrateOptions = {}): MigrationResult {
  return from === 'metallb' ? migrateMetalLB(docs, opts) : migrateOpenELB(docs, opts);
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=,@-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

/** The kubectl commands that rewrite one Service's annotations. */
export function annotateCommand(r: MigrationResult['services'][number]): string {
  const args = [...Object.entries(r.set).map(([k, v]) => `${k}=${v}`), ...r.remove.map((k) => `${k}-`)];
  return `kubectl -n ${shellQuote(r.namespace)} annotate service ${shellQuote(r.name)} --overwrite ${args.map(shellQuote).join(' ')}`;
}

/** YAML to apply, followed by the Service rewrites as commented kubectl commands. */
export function formatMigration(r: MigrationResult, from: Source): string {
  const parts = [`# Migrated from ${from} by \`ironlb migrate\`. Check with: ironlb validate -f FILE\n`];
  // YAML 1.1 rules, as kubectl reads them: strings such as "yes", "on", "0755" or "1:20" are quoted
  // (YAML 1.2 would leave them plain, and kubectl would read a boolean or a number).
  parts.push(r.objects.map((o) => stringify(o, { lineWidth: 0, version: '1.1' })).join('---\n'));
  if (r.services.length) {
    parts.push('# Service annotations to rewrite (after ironlb runs and the old implementation is removed):\n');
    for (const s of r.services) parts.push(`#   ${annotateCommand(s)}\n`);
  }
  if (r.warnings.length) {
    parts.push(`# ${r.warnings.length} warning(s):\n`);
    for (const w of r.warnings) parts.push(`#   ${w}\n`);
  }
  return parts.join('');
}
