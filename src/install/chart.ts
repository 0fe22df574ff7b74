// Renders the Helm chart (deploy/helm/ironlb) as `helm template --include-crds` would, with the
// Go-template subset of gotemplate.ts: values merged over values.yaml, every templates/*.yaml
// rendered, the output split into documents and parsed.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, parseAllDocuments } from 'yaml';
import { parseTemplates, type RenderHooks } from './gotemplate.ts';

export const CHART_DIR = fileURLToPath(new URL('../../deploy/helm/ironlb/', import.meta.url));

export type Values = Record<string, unknown>;

/** A Kubernetes object as rendered (plain YAML data). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface RenderedObject {
  /** The template (or crds/ file) it came from, e.g. templates/speaker.yaml. */
  source: string;
  object: K8sObject;
}

export interface ReleaseOptions {
  name?: string;
  namespace?: string;
  isUpgrade?: boolean;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Helm's value coalescing: maps merge key by key, anything else (lists too) replaces; null deletes. */
export function mergeValues(base: Values, over: Values): Values {
  const out: Values = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete out[k];
    else if (isPlainObject(v) && isPlainObject(out[k])) out[k] = mergeValues(out[k] as Values, v);
    else out[k] = structuredClone(v);
  }
  return out;
}

export function loadChart(dir: string = CHART_DIR): { chart: Record<string, unknown>; values: Values; templates: Map<string, string>; crds: Map<string, string> } {
  const chart = parse(readFileSync(join(dir, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
  const values = (parse(readFileSync(join(dir, 'values.yaml'), 'utf8')) ?? {}) as Values;
  const templates = new Map<string, string>();
  for (const f of readdirSync(join(dir, 'templates')).sort()) {
    if (f.endsWith('.yaml') || f.endsWith('.tpl')) templates.set(`templates/${f}`, readFileSync(join(dir, 'templates', f), 'utf8'));
    else if (f !== 'NOTES.txt') throw new Error(`deploy/helm chart: templates/${f} is neither .yaml nor .tpl; the renderer handles only those`);
  }
  const crds = new Map<string, string>();
  if (existsSync(join(dir, 'crds'))) for (const f of readdirSync(join(dir, 'crds')).sort()) crds.set(`crds/${f}`, readFileSync(join(dir, 'crds', f), 'utf8'));
  return { chart, values, templates, crds };
}

export interface RenderOptions extends ReleaseOptions, RenderHooks {
  values?: Values;
  /** Include crds/ (as `helm template --include-crds`). Default true. */
  includeCrds?: boolean;
  dir?: string;
}

/** Renders the chart to objects, in Helm's install order (CRDs, then by kind). */
export function renderChart(opts: RenderOptions = {}): RenderedObject[] {
  const c = loadChart(opts.dir);
  const values = mergeValues(c.values, opts.values ?? {});
  const data = {
    Values: values,
    Release: { Name: opts.name ?? 'ironlb', Namespace: opts.namespace ?? 'ironlb-system', Service: 'Helm', IsInstall: !opts.isUpgrade, IsUpgrade: !!opts.isUpgrade, Revision: 1 },
    Chart: { Name: c.chart.name, Version: c.chart.version, AppVersion: c.chart.appVersion },
  };
  const set = parseTemplates(c.templates);
  const out: RenderedObject[] = [];
  const hooks: RenderHooks = {};
  if (opts.lookup) hooks.lookup = opts.lookup;
  if (opts.random) hooks.random = opts.random;
  const addDocs = (source: string, text: string) => {
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length) throw new Error(`${source}: rendered YAML is invalid: ${doc.errors[0]?.message}\n--- rendered text ---\n${text}`);
      const obj = doc.toJS() as K8sObject | null;
      if (obj === null || obj === undefined) continue;
      if (!obj.apiVersion || !obj.kind || !obj.metadata?.name) throw new Error(`${source}: a rendered document lacks apiVersion, kind or metadata.name`);
      out.push({ source, object: obj });
    }
  };
  if (opts.includeCrds ?? true) for (const [name, text] of c.crds) addDocs(name, text);
  for (const name of set.names()) {
    if (!name.endsWith('.yaml')) continue;
    addDocs(name, set.render(name, data, hooks));
  }
  return sortForInstall(out);
}

// Helm's InstallOrder (the part that applies here).
const ORDER = ['Namespace', 'PriorityClass', 'CustomResourceDefinition', 'ServiceAccount', 'Secret', 'ConfigMap', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'Service', 'DaemonSet', 'Deployment', 'PodDisruptionBudget'];

export function sortForInstall(objs: RenderedObject[]): RenderedObject[] {
  const rank = (k: string) => {
    const i = ORDER.indexOf(k);
    return i < 0 ? ORDER.length : i;
  };
  return objs
    .map((o, i) => ({ o, i }))
    .sort((a, b) => rank(a.o.object.kind) - rank(b.o.object.kind) || a.i - b.i)
    .map((x) => x.o);
}
