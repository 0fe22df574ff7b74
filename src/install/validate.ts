// Offline validation of ironlb configuration files (`ironlb validate -f FILE...`): every ironlb.io
// object against its CRD schema, the whole set with the controller's own validateConfig, and the
// ironlb annotations of Services; each problem located at file:line:column through the YAML
// node of the field it names.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LineCounter, parseAllDocuments, isNode, type Document } from 'yaml';
import { ANNOTATION_ADDRESS_POOL, ANNOTATION_ALLOW_SHARED_IP, ANNOTATION_LOAD_BALANCER_IPS, CONFIG_KINDS, DEFAULT_NAMESPACE, GROUP, KINDS, VERSION, parseServiceRequest, validateConfig, type SecretLike, type ServiceLike } from '../api/index.ts';
import { describeValue } from '../api/schema-dsl.ts';
import { checkAgainstCrd } from './manifest-check.ts';

export interface Problem {
  file: string;
  line: number;
  column: number;
  /** Kind/name of the object, or "" for a file-level problem. */
  object: string;
  field: string;
  message: string;
  severity: 'error' | 'warning';
}

export function formatProblem(p: Problem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.severity}: ${p.object ? `${p.object}: ` : ''}${p.field ? `${p.field}: ` : ''}${p.message}`;
}

interface Located {
  file: string;
  doc: Document;
  lc: LineCounter;
  /** Path of the object inside its document (["items", 3] inside a List). */
  base: Array<string | number>;
  obj: Record<string, unknown>;
}

/** "spec.addresses[2]", 'matchLabels["a.b/c"]' → path segments. */
export function fieldSegments(field: string): Array<string | number> {
  const out: Array<string | number> = [];
  const re = /\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\.?([^.[\]]+)/g;
  for (const m of field.matchAll(re)) {
    if (m[1] !== undefined) out.push(Number(m[1]));
    else if (m[2] !== undefined) out.push(JSON.parse(`"${m[2]}"`) as string);
    else if (m[3] !== undefined && m[3] !== '(root)' && m[3] !== '<root>') out.push(m[3]);
  }
  return out;
}

function pos(lc: LineCounter, offset: number): { line: number; column: number } {
  const p = lc.linePos(offset);
  return { line: p.line, column: p.col };
}

function locate(l: Located, field: string): { line: number; column: number } {
  let segs = [...l.base, ...fieldSegments(field)];
  // The deepest node that exists: a missing required field points at its parent.
  for (;;) {
    const node = segs.length ? l.doc.getIn(segs, true) : l.doc.contents;
    if (isNode(node) && node.range) return pos(l.lc, node.range[0]);
    if (!segs.length) return { line: 1, column: 1 };
    segs = segs.slice(0, -1);
  }
}

function objName(o: Record<string, unknown>): string {
  const m = (o.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  return `${String(o.kind ?? '?')}/${typeof m.namespace === 'string' ? `${m.namespace}/` : ''}${typeof m.name === 'string' ? m.name : '(unnamed)'}`;
}

export interface ValidateOptions {
  /** The namespace ironlb reads its namespaced configuration from. */
  namespace?: string;
  /** Read a file's text (tests); default readFileSync. */
  read?: (file: string) => string;
}

export interface ValidateReport {
  problems: Problem[];
  /** ironlb objects checked. */
  objects: number;
  ok: boolean;
}

/** Files as kubectl -f takes them: a folder stands for its .yaml, .yml and .json files (sorted, not recursive). */
export function expandFiles(paths: readonly string[]): string[] {
  return paths.flatMap((p) => {
    if (p === '-') return [p];
    try {
      if (!statSync(p).isDirectory()) return [p];
    } catch {
      return [p]; // reported as unreadable by the caller
    }
    return readdirSync(p)
      .filter((f) => /\.(ya?ml|json)$/.test(f))
      .sort()
      .map((f) => join(p, f));
  });
}

export function validateFiles(files: readonly string[], opts: ValidateOptions = {}): ValidateReport {
  const ns = opts.namespace ?? DEFAULT_NAMESPACE;
  const read = opts.read ?? ((f: string) => readFileSync(f === '-' ? 0 : f, 'utf8'));
  const problems: Problem[] = [];
  const located: Located[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = read(file);
    } catch (err) {
      problems.push({ file, line: 0, column: 0, object: '', field: '', message: `cannot read: ${(err as Error).message}`, severity: 'error' });
      continue;
    }
    const lc = new LineCounter();
    for (const doc of parseAllDocuments(text, { lineCounter: lc, version: '1.1' })) {
      if (doc.errors.length) {
        for (const e of doc.errors) {
          problems.push({ file, ...pos(lc, e.pos[0]), object: '', field: '', message: `invalid YAML: ${e.message.split('\n')[0]}`, severity: 'error' });
        }
        continue;
      }
      const js = doc.toJS() as unknown;
      if (js === null || js === undefined) continue;
      if (typeof js !== 'object' || Array.isArray(js)) {
        problems.push({ file, ...locate({ file, doc, lc, base: [], obj: {} }, ''), object: '', field: '', message: 'a document must be a Kubernetes object (a map with apiVersion and kind)', severity: 'error' });
        continue;
      }
      const o = js as Record<string, unknown>;
      if (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items)) {
        o.items.forEach((item, i) => located.push({ file, doc, lc, base: ['items', i], obj: item as Record<string, unknown> }));
      } else located.push({ file, doc, lc, base: [], obj: o });
    }
  }

  const add = (l: Located, field: string, message: string, severity: Problem['severity'] = 'error') => problems.push({ file: l.file, ...locate(l, field), object: objName(l.obj), field, message, severity });

  const ours: Located[] = [];
  const secrets: SecretLike[] = [];
  for (const l of located) {
    const apiVersion = typeof l.obj.apiVersion === 'string' ? l.obj.apiVersion : '';
    const kind = typeof l.obj.kind === 'string' ? l.obj.kind : '';
    if (apiVersion.startsWith(`${GROUP}/`)) {
      if (apiVersion !== `${GROUP}/${VERSION}`) {
        add(l, 'apiVersion', `${JSON.stringify(apiVersion)} is not served; use ${GROUP}/${VERSION}`);
        continue;
      }
      ours.push(l);
      if (!(kind in KINDS)) continue; // reported by checkAgainstCrd below
      const def = KINDS[kind as keyof typeof KINDS];
      const metaNs = (l.obj.metadata as { namespace?: unknown } | undefined)?.namespace;
      if (def.scope === 'Namespaced' && (CONFIG_KINDS as readonly string[]).includes(kind) && typeof metaNs === 'string' && metaNs !== ns) {
        add(l, 'metadata.namespace', `ironlb reads ${kind} objects only from namespace ${ns}; this one is ignored (set metadata.namespace: ${ns}, or pass --namespace)`, 'warning');
      }
      if (def.scope === 'Cluster' && metaNs !== undefined) add(l, 'metadata.namespace', `${kind} is cluster-scoped; metadata.namespace is ignored`, 'warning');
    } else if (!apiVersion || !kind) {
      add(l, '', 'not a Kubernetes object (no apiVersion or kind): skipped; give objects as kubectl would apply them', 'warning');
    } else if (apiVersion === 'v1' && kind === 'Secret') {
      const metaNs = (l.obj.metadata as { namespace?: unknown } | undefined)?.namespace;
      if (metaNs === undefined || metaNs === ns) secrets.push(l.obj as SecretLike);
    } else if (apiVersion === 'v1' && kind === 'Service') {
      const r = parseServiceRequest(l.obj as ServiceLike);
      if (!r.ok) {
        // Point at the annotation or field the reason names.
        const ann = [ANNOTATION_LOAD_BALANCER_IPS, ANNOTATION_ADDRESS_POOL, ANNOTATION_ALLOW_SHARED_IP].find((a) => r.reason.includes(`annotation ${a}`));
        add(l, ann ? `metadata.annotations[${JSON.stringify(ann)}]` : r.reason.startsWith('spec.loadBalancerIP') ? 'spec.loadBalancerIP' : 'metadata.annotations', r.reason);
      }
    }
  }

  // Structural (CRD) problems first; validateConfig's for the same field are the same problem.
  const seen = new Set<string>();
  const byName = new Map<string, Located>();
  for (const l of ours) {
    const m = (l.obj.metadata ?? {}) as { name?: unknown };
    byName.set(`${String(l.obj.kind)}/${String(m.name)}`, l);
    for (const p of checkAgainstCrd(l.obj)) {
      const i = p.indexOf(': ');
      const field = p.slice(0, i);
      seen.add(`${objName(l.obj)}|${field}`);
      add(l, field, p.slice(i + 2));
    }
  }
  const r = validateConfig(ours.map((l) => l.obj), secrets);
  for (const e of r.errors) {
    const l = byName.get(`${e.kind}/${e.name}`) ?? ours[Number(/^item (\d+)$/.exec(e.name)?.[1] ?? -1)];
    if (!l) {
      problems.push({ file: files[0] ?? '-', line: 0, column: 0, object: `${e.kind}/${e.name}`, field: e.field, message: e.message, severity: 'error' });
      continue;
    }
    if (seen.has(`${objName(l.obj)}|${e.field}`)) continue;
    // Offline, a referenced Secret may well exist in the cluster: say so, do not fail.
    if (!secrets.length && e.field === 'spec.passwordSecret.name' && e.message.startsWith('names no Secret')) {
      add(l, e.field, `${describeValue(e.value)}: the Secret is not among the files, so it cannot be checked offline; it must exist in namespace ${ns} with a "password" key`, 'warning');
      continue;
    }
    add(l, e.field, `${describeValue(e.value)}: ${e.message}`);
  }
  problems.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column));
  return { problems, objects: ours.length, ok: !problems.some((p) => p.severity === 'error') };
}
