// OpenAPI v3 structural schemas as the CRDs declare them, for `ironlb validate` (offline, before
// anything reaches a cluster): defaulting, pruning of unknown fields and validation (type, enum,
// pattern, bounds, required), with Kubernetes-style field paths. CEL rules
// (x-kubernetes-validations) are left to the API server, which evaluates them on apply.

/** One problem at one field, as the API server's Status causes name them. */
export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  maxItems?: number;
  minProperties?: number;
  maxProperties?: number;
  default?: unknown;
  nullable?: boolean;
  format?: string;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  [k: string]: unknown;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Applies `default`s where a field is absent, recursively, as the API server does on read and write. */
export function applyDefaults(value: unknown, s: Schema | undefined): unknown {
  if (!s) return value;
  if (isObj(value)) {
    const out: Obj = { ...value };
    for (const [k, ps] of Object.entries(s.properties ?? {})) {
      if (out[k] === undefined && ps.default !== undefined) out[k] = structuredClone(ps.default);
      if (out[k] !== undefined) out[k] = applyDefaults(out[k], ps);
    }
    if (isObj(s.additionalProperties)) {
      for (const k of Object.keys(out)) if (!s.properties?.[k]) out[k] = applyDefaults(out[k], s.additionalProperties);
    }
    return out;
  }
  if (Array.isArray(value) && s.items) return value.map((v) => applyDefaults(v, s.items));
  return value;
}

/**
 * Drops fields the schema does not declare, unless x-kubernetes-preserve-unknown-fields says
 * otherwise. The paths dropped are pushed on `dropped` (for fieldValidation=Strict/Warn).
 */
export function prune(value: unknown, s: Schema | undefined, isRoot = false, dropped: string[] = [], path = ''): unknown {
  if (!s) return value;
  if (isObj(value)) {
    const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
    const out: Obj = {};
    for (const [k, v] of Object.entries(value)) {
      const at = path ? `${path}.${k}` : k;
      // apiVersion, kind and metadata are always kept at the root and in embedded resources.
      if ((isRoot || s['x-kubernetes-embedded-resource']) && (k === 'apiVersion' || k === 'kind' || k === 'metadata')) {
        out[k] = v;
        continue;
      }
      const ps = s.properties?.[k];
      if (ps) out[k] = prune(v, ps, false, dropped, at);
      else if (isObj(s.additionalProperties)) out[k] = prune(v, s.additionalProperties, false, dropped, at);
      else if (preserve || s.additionalProperties === true) out[k] = v;
      else dropped.push(at);
    }
    return out;
  }
  if (Array.isArray(value) && s.items) return value.map((v, i) => prune(v, s.items, false, dropped, `${path}[${i}]`));
  return value;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeOk(v: unknown, s: Schema): boolean {
  if (s['x-kubernetes-int-or-string']) return typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v));
  switch (s.type) {
    case undefined:
      return true;
    case 'object':
      return isObj(v);
    case 'array':
      return Array.isArray(v);
    case 'string':
      return typeof v === 'string';
    case 'integer':
      return typeof v === 'number' && Number.isInteger(v);
    case 'number':
      return typeof v === 'number';
    case 'boolean':
      return typeof v === 'boolean';
    default:
      return true;
  }
}

const patternCache = new Map<string, RegExp | null>();

function compiled(p: string): RegExp | null {
  let re = patternCache.get(p);
  if (re === undefined) {
    try {
      re = new RegExp(p, 'u');
    } catch {
      re = null; // an ECMAScript-incompatible pattern is skipped rather than failing every write
    }
    patternCache.set(p, re);
  }
  return re;
}

/** Validates `v` against `s`, pushing one cause per violation (path like `spec.addresses[0]`). */
export function validate(v: unknown, s: Schema | undefined, path: string, causes: StatusCause[]): void {
  if (!s) return;
  const at = path || '<root>';
  if (v === null) {
    if (!s.nullable && s.type) causes.push({ reason: 'FieldValueTypeInvalid', field: at, message: `Invalid value: "null": ${at} in body must be of type ${s.type}: "null"` });
    return;
  }
  if (!typeOk(v, s)) {
    const want = s['x-kubernetes-int-or-string'] ? 'integer or string' : s.type;
    causes.push({ reason: 'FieldValueTypeInvalid', field: at, message: `Invalid value: "${typeName(v)}": ${at} in body must be of type ${want}: "${typeName(v)}"` });
    return;
  }
  if (s.enum && !s.enum.some((e) => JSON.stringify(e) === JSON.stringify(v))) {
    causes.push({ reason: 'FieldValueNotSupported', field: at, message: `Unsupported value: ${JSON.stringify(v)}: supported values: ${s.enum.map((e) => JSON.stringify(e)).join(', ')}` });
  }
  if (typeof v === 'string') {
    if (s.pattern) {
      const re = compiled(s.pattern);
      if (re && !re.test(v)) causes.push({ reason: 'FieldValueInvalid', field: at, message: `Invalid value: ${JSON.stringify(v)}: ${at} in body should match '${s.pattern}'` });
    }
    if (s.minLength !== undefined && [...v].length < s.minLength) causes.push({ reason: 'FieldValueInvalid', field: at, message: `Invalid value: ${JSON.stringify(v)}: ${at} in body should be at least ${s.minLength} chars long` });
    if (s.maxLength !== undefined && [...v].length > s.maxLength) causes.push({ reason: 'FieldValueTooLong', field: at, message: `Too long: may not be more than ${s.maxLength} bytes` });
  }
  if (typeof v === 'number') {
    if (s.minimum !== undefined && (s.exclusiveMinimum ? v <= s.minimum : v < s.minimum)) {
      causes.push({ reason: 'FieldValueInvalid', field: at, message: `Invalid value: ${v}: ${at} in body should be greater than ${s.exclusiveMinimum ? '' : 'or equal to '}${s.minimum}` });
    }
    if (s.maximum !== undefined && (s.exclusiveMaximum ? v >= s.maximum : v > s.maximum)) {
      causes.push({ reason: 'FieldValueInvalid', field: at, message: `Invalid value: ${v}: ${at} in body should be less than ${s.exclusiveMaximum ? '' : 'or equal to '}${s.maximum}` });
    }
  }
  if (Array.isArray(v)) {
    if (s.minItems !== undefined && v.length < s.minItems) causes.push({ reason: 'FieldValueInvalid', field: at, message: `Invalid value: ${v.length}: ${at} in body should have at least ${s.minItems} items` });
    if (s.maxItems !== undefined && v.length > s.maxItems) causes.push({ reason: 'FieldValueTooMany', field: at, message: `Too many: ${v.length}: must have at most ${s.maxItems} items` });
    if (s.items) v.forEach((e, i) => validate(e, s.items, `${path}[${i}]`, causes));
  }
  if (isObj(v)) {
    for (const r of s.required ?? []) {
      if (v[r] === undefined) causes.push({ reason: 'FieldValueRequired', field: path ? `${path}.${r}` : r, message: 'Required value' });
    }
    const n = Object.keys(v).length;
    if (s.minProperties !== undefined && n < s.minProperties) causes.push({ reason: 'FieldValueInvalid', field: at, message: `Invalid value: ${n}: ${at} in body should have at least ${s.minProperties} properties` });
    if (s.maxProperties !== undefined && n > s.maxProperties) causes.push({ reason: 'FieldValueTooMany', field: at, message: `Too many: ${n}: must have at most ${s.maxProperties} properties` });
    for (const [k, e] of Object.entries(v)) {
      if (path === '' && (k === 'metadata' || k === 'apiVersion' || k === 'kind')) continue;
      const ps = s.properties?.[k] ?? (isObj(s.additionalProperties) ? s.additionalProperties : undefined);
      validate(e, ps, path ? `${path}.${k}` : k, causes);
    }
  }
  for (const sub of s.allOf ?? []) validate(v, sub, path, causes);
  if (s.anyOf?.length) {
    const ok = s.anyOf.some((sub) => {
      const c: StatusCause[] = [];
      validate(v, sub, path, c);
      return c.length === 0;
    });
    if (!ok) causes.push({ reason: 'FieldValueInvalid', field: at, message: `Invalid value: ${JSON.stringify(v)}: ${at} in body must match at least one schema in anyOf` });
  }
  if (s.oneOf?.length) {
    const n = s.oneOf.filter((sub) => {
      const c: StatusCause[] = [];
      validate(v, sub, path, c);
      return c.length === 0;
    }).length;
    if (n !== 1) causes.push({ reason: 'FieldValueInvalid', field: at, message: `Invalid value: ${JSON.stringify(v)}: ${at} in body must match exactly one schema in oneOf (matched ${n})` });
  }
}
