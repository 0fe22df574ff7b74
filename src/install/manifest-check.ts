// Validates rendered objects: built-in kinds against the Kubernetes OpenAPI schemas shipped by the
// npm package kubernetes-models (ServiceMonitor by @kubernetes-models/prometheus-operator), and
// ironlb.io kinds against the project's CRD schemas (structural: types, bounds, unknown fields).
import { parse } from 'yaml';
import { renderCrds } from '../api/crd.ts';
import { GROUP } from '../api/kinds.ts';
import { prune, validate, type Schema, type StatusCause } from '../api/openapi-validator.ts';

interface Validatable {
  validate(): void;
}
type ModelClass = new (data: unknown) => Validatable;

/** Module path of the model class for an apiVersion/kind, or undefined when no package has it. */
function modelPath(apiVersion: string, kind: string): string | undefined {
  if (!/^[A-Za-z]+$/.test(kind)) return undefined;
  if (apiVersion === 'monitoring.coreos.com/v1') return `@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/${kind}`;
  if (!/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(apiVersion)) return undefined;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

let crdSchemas: Map<string, Schema> | undefined;
/** kind → openAPIV3Schema of the ironlb CRDs. */
export function ironlbSchemas(): Map<string, Schema> {
  if (!crdSchemas) {
    crdSchemas = new Map();
    for (const text of renderCrds().values()) {
      const crd = parse(text) as { spec: { names: { kind: string }; versions: Array<{ schema: { openAPIV3Schema: Schema } }> } };
      crdSchemas.set(crd.spec.names.kind, (crd.spec.versions[0] as { schema: { openAPIV3Schema: Schema } }).schema.openAPIV3Schema);
    }
  }
  return crdSchemas;
}

/** Problems of an ironlb.io object against its CRD schema, as "field: message". */
export function checkAgainstCrd(obj: Record<string, unknown>): string[] {
  const kind = String(obj.kind);
  const schema = ironlbSchemas().get(kind);
  if (!schema) return [`kind: ${JSON.stringify(kind)} is not an ironlb.io kind; one of ${[...ironlbSchemas().keys()].join(', ')}`];
  const dropped: string[] = [];
  const pruned = prune(structuredClone(obj), schema, true, dropped);
  const causes: StatusCause[] = [];
  validate(pruned, schema, '', causes);
  return [...dropped.map((d) => `${d}: unknown field (not in the ${kind} CRD)`), ...causes.map((c) => `${c.field ?? ''}: ${c.message}`)];
}

/** Problems of one object ("" list when valid). */
export async function checkObject(obj: Record<string, unknown>): Promise<string[]> {
  const apiVersion = typeof obj.apiVersion === 'string' ? obj.apiVersion : '';
  const kind = typeof obj.kind === 'string' ? obj.kind : '';
  if (!apiVersion || !kind) return ['apiVersion and kind are required'];
  if (apiVersion.startsWith(`${GROUP}/`)) return checkAgainstCrd(obj);
  const path = modelPath(apiVersion, kind);
  let Model: ModelClass | undefined;
  if (path) {
    try {
      Model = ((await import(path)) as Record<string, ModelClass>)[kind];
    } catch {
      Model = undefined;
    }
  }
  if (!Model) return [`no schema for ${apiVersion} ${kind}: add the package that ships it, or drop the object`];
  try {
    new Model(obj).validate();
    return [];
  } catch (err) {
    const e = err as { errors?: Array<{ instancePath?: string; message?: string; params?: unknown }>; message: string };
    if (e.errors?.length) return e.errors.map((x) => `${(x.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.') || '(root)'}: ${x.message ?? 'invalid'} ${x.params ? JSON.stringify(x.params) : ''}`.trim());
    return [e.message];
  }
}

/** Problems of many objects, prefixed by "Kind/name". */
export async function checkObjects(objs: ReadonlyArray<Record<string, unknown>>): Promise<string[]> {
  const out: string[] = [];
  for (const o of objs) {
    const meta = (o.metadata ?? {}) as { name?: string; namespace?: string };
    for (const p of await checkObject(o)) out.push(`${String(o.kind)}/${meta.namespace ? `${meta.namespace}/` : ''}${meta.name ?? '?'}: ${p}`);
  }
  return out;
}
