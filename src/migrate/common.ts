// Shared pieces of the migrators: the result shape, warnings, and a "take" helper that consumes
// the fields it maps, so every field left over is reported as having no ironlb equivalent.
import { API_VERSION, DEFAULT_NAMESPACE } from '../api/index.ts';

export type Obj = Record<string, unknown>;

export interface ServiceRewrite {
  namespace: string;
  name: string;
  /** Annotations to set (ironlb's). */
  set: Record<string, string>;
  /** Annotations to remove (the old implementation's). */
  remove: string[];
}

export interface MigrationResult {
  /** ironlb objects (and Secrets for BGP passwords), ready to apply. */
  objects: Obj[];
  services: ServiceRewrite[];
  /** One line per setting without an equivalent, or that needs a manual step. */
  warnings: string[];
}

export interface MigrateOptions {
  /** Namespace for ironlb's namespaced configuration objects. */
  namespace?: string;
}

export class Migration {
  readonly ns: string;
  readonly objects: Obj[] = [];
  readonly services: ServiceRewrite[] = [];
  readonly warnings: string[] = [];

  constructor(opts: MigrateOptions = {}) {
    this.ns = opts.namespace ?? DEFAULT_NAMESPACE;
  }

  warn(where: string, message: string): void {
    this.warnings.push(`${where}: ${message}`);
  }

  /** Adds an ironlb object; IPPool is cluster-scoped, the others live in the ironlb namespace. */
  add(kind: string, name: string, spec: Obj, labels?: Record<string, string>): Obj {
    const metadata: Obj = { name };
    if (kind !== 'IPPool') metadata.namespace = this.ns;
    if (labels && Object.keys(labels).length) metadata.labels = labels;
    const o = { apiVersion: API_VERSION, kind, metadata, spec };
    this.objects.push(o);
    return o;
  }

  result(): MigrationResult {
    return { objects: this.objects, services: this.services, warnings: this.warnings };
  }
}

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A view of a source object's fields: `take` returns a field and marks it consumed; `rest` lists
 * what was not consumed (reported as settings without an equivalent).
 */
export class Fields {
  #opts: Obj;
  #used = new Set<string>();
  constructor(o: unknown) {
    this.#opts = isObj(o) ? o : {};
  }
  take<T = unknown>(key: string): T | undefined {
    this.#used.add(key);
    const v = this.#opts[key];
    return v === null ? undefined : (v as T | undefined);
  }
  has(key: string): boolean {
    return this.#opts[key] !== undefined && this.#opts[key] !== null;
  }
  rest(): string[] {
    return Object.keys(this.#opts).filter((k) => !this.#used.has(k) && this.#opts[k] !== undefined && this.#opts[k] !== null);
  }
  /** Warns once per field left over: "<where>: <prefix>field has no ironlb equivalent; dropped". */
  warnRest(m: Migration, where: string, prefix = 'spec.', why: Record<string, string> = {}): void {
    for (const k of this.rest()) m.warn(where, `${prefix}${k} (${JSON.stringify(this.#opts[k])}) has no ironlb equivalent; dropped${why[k] ? `: ${why[k]}` : ''}`);
  }
}

/** Copies a field under a new name when set. */
export function put(target: Obj, key: string, v: unknown): void {
  if (v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0)) target[key] = v;
}

export function metaOf(o: Obj): { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } {
  const m = isObj(o.metadata) ? o.metadata : {};
  const out: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } = { name: typeof m.name === 'string' ? m.name : '' };
  if (typeof m.namespace === 'string') out.namespace = m.namespace;
  if (isObj(m.labels)) out.labels = m.labels as Record<string, string>;
  if (isObj(m.annotations)) out.annotations = m.annotations as Record<string, string>;
  return out;
}

/** A valid object name from anything (lowercase, [-a-z0-9.]). */
export function objectName(s: string): string {
  const n = s
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return n.slice(0, 253) || 'unnamed';
}
