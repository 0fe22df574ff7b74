// The chart through real helm (built by scripts/setup.sh from helm.sh/helm/v3): template, lint,
// install and upgrade. Rendered output is split per document with the template it came from.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT, tool, toolVersion } from './tools.ts';

export const CHART_DIR = join(ROOT, 'deploy/helm/ironlb');

export type Values = Record<string, unknown>;

/** A Kubernetes object as rendered (plain YAML data). */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface RenderedObject {
  /** The chart file it came from: crds/NAME.yaml or templates/NAME.yaml. */
  source: string;
  object: K8sObject;
}

export interface HelmOptions {
  values?: Values;
  release?: string;
  namespace?: string;
  /** Environment (KUBECONFIG, HELM_*_HOME) for commands that reach a cluster. */
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

/** Runs helm; rejects with its stderr. Values are passed as a file (-f), never through --set parsing. */
export async function helm(args: string[], o: HelmOptions = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'ironlb-helm-'));
  try {
    const extra: string[] = [];
    if (o.values) {
      const f = join(dir, 'values.json');
      writeFileSync(f, JSON.stringify(o.values));
      extra.push('-f', f);
    }
    const env = { ...process.env, HELM_CACHE_HOME: join(dir, 'cache'), HELM_CONFIG_HOME: join(dir, 'config'), HELM_DATA_HOME: join(dir, 'data'), ...(o.env ?? {}) };
    return await new Promise<string>((resolve, reject) => {
      execFile(tool('helm', 'helm'), [...args, ...extra], { env, timeout: o.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`helm ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      });
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `helm template` of the chart, parsed; `includeCrds` adds crds/ first, as helm orders them. */
export async function renderChart(o: HelmOptions & { includeCrds?: boolean } = {}): Promise<RenderedObject[]> {
  // Offline, helm renders for the Kubernetes it was built against; name the release the tests run.
  const kubeVersion = toolVersion('kubernetes').replace(/^v/, '');
  const out = await helm(['template', o.release ?? 'ironlb', CHART_DIR, '--namespace', o.namespace ?? 'ironlb-system', '--kube-version', kubeVersion, ...(o.includeCrds ? ['--include-crds'] : [])], o);
  return parseRendered(out);
}

/** Splits helm's output into objects; each document's "# Source: CHART/PATH" line names its file. */
export function parseRendered(text: string): RenderedObject[] {
  const out: RenderedObject[] = [];
  for (const chunk of text.split(/^---\s*$/m)) {
    const m = /^# Source: [^/\s]+\/(\S+)/m.exec(chunk);
    for (const doc of parseAllDocuments(chunk)) {
      if (doc.errors.length) throw new Error(`helm rendered invalid YAML${m ? ` in ${m[1]}` : ''}: ${doc.errors[0]?.message}`);
      const obj = doc.toJS() as K8sObject | null;
      if (obj) out.push({ source: m?.[1] ?? '', object: obj });
    }
  }
  return out;
}

export function toYamlDocs(objs: readonly K8sObject[], stringify: (o: unknown) => string): string {
  return objs.map((o) => stringify(o)).join('---\n');
}
