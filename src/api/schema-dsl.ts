// A small schema DSL: one definition gives the TypeScript type (by inference), the OpenAPI v3
// schema for the CRD (defaults, bounds, CEL rules) and the runtime validator (which also applies
// defaults, and enforces the CEL rules' intent in TypeScript since we cannot evaluate CEL here).

import { clip } from '../util/text.ts';

/** One field-level problem: where, what was found, and what is allowed. */
export interface FieldError {
  /** Dotted path from the object root, e.g. `spec.addresses[2]`. */
  path: string;
  value: unknown;
  message: string;
}

export type OpenAPISchema = { [key: string]: unknown };

/** A cross-field rule: the CEL text for the CRD and the same intent as a TypeScript predicate. */
export interface Rule<T> {
  rule: string;
  message: string;
  /** Path of the offending field relative to the object carrying the rule (for errors). */
  fieldPath?: string;
  check: (value: T) => boolean;
  /** A more precise TypeScript message when `check` fails (CEL's `message` is static). */
  why?: (value: T) => string | undefined;
}

/**
 * A schema for values of type T. `P` is true when the field is always present after defaulting
 * (required, or has a default), which makes it a non-optional property of the inferred object type.
 */
export interface Schema<T, P extends boolean = boolean> {
  readonly __type?: T;
  readonly present: P;
  readonly isRequired: boolean;
  readonly defaultValue: T | undefined;
  readonly description: string | undefined;
  toOpenAPI(): OpenAPISchema;
  /** Validates `value` (already known to be defined), appends errors, returns the defaulted value. */
  parse(value: unknown, path: string, errors: FieldError[]): T | undefined;
  required(): Schema<T, true>;
  describe(text: string): Schema<T, P>;
}

export type Infer<S> = S extends Schema<infer T, boolean> ? T : never;
type Props = Record<string, Schema<unknown, boolean>>;
type PresentKeys<P extends Props> = { [K in keyof P]: P[K] extends Schema<unknown, true> ? K : never }[keyof P];
type Simplify<T> = { [K in keyof T]: T[K] } & {};
export type ObjectType<P extends Props> = Simplify<
  { [K in PresentKeys<P>]: Infer<P[K]> } & { [K in Exclude<keyof P, PresentKeys<P>>]?: Infer<P[K]> }
>;

interface Base<T> {
  openapi: () => OpenAPISchema;
  parse: (value: unknown, path: string, errors: FieldError[]) => T | undefined;
  default?: T | undefined;
  description?: string | undefined;
}

function make<T, P extends boolean>(base: Base<T>, isRequired: boolean): Schema<T, P> {
  const present = (isRequired || base.default !== undefined) as P;
  return {
    present,
    isRequired,
    defaultValue: base.default,
    description: base.description,
    toOpenAPI() {
      const o = base.openapi();
      if (base.description) o.description = base.description;
      if (base.default !== undefined) o.default = base.default;
      return o;
    },
    parse: base.parse,
    required: () => make<T, true>(base, true),
    describe: (text: string) => make<T, P>({ ...base, description: text }, isRequired),
  };
}

export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  // JSON shows the type; clip bounds it and escapes what JSON leaves (bidirectional overrides).
  return clip(JSON.stringify(v) ?? String(v), 80);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

interface Common<T> {
  default?: T;
  description?: string;
}

/** A field with a default is always present after defaulting. */
type HasDefault<O> = O extends { default: {} } ? true : false;

export interface StringOpts extends Common<string> {
  pattern?: string;
  /** Words for the error when the pattern does not match, e.g. "a DNS label". */
  patternHint?: string;
  minLength?: number;
  maxLength?: number;
  format?: string;
  /** Extra semantic check: returns what is allowed when `v` is wrong, else undefined. */
  check?: (v: string) => string | undefined;
  /**
   * CEL rules on the value (x-kubernetes-validations, `self` is the string) that the API server
   * evaluates; `check` must refuse exactly what they refuse (unit and integration tests compare).
   */
  rules?: ReadonlyArray<{ rule: string; message: string }>;
}

export function string<O extends StringOpts>(opts: O = {} as O): Schema<string, HasDefault<O>> {
  const re = opts.pattern ? new RegExp(opts.pattern) : undefined;
  return make<string, HasDefault<O>>(
    {
      default: opts.default,
      description: opts.description,
      openapi: () => {
        const o: OpenAPISchema = { type: 'string' };
        if (opts.format) o.format = opts.format;
        if (opts.pattern) o.pattern = opts.pattern;
        if (opts.minLength !== undefined) o.minLength = opts.minLength;
        if (opts.maxLength !== undefined) o.maxLength = opts.maxLength;
        if (opts.rules?.length) o['x-kubernetes-validations'] = opts.rules.map((r) => ({ rule: r.rule, message: r.message }));
        return o;
      },
      parse: (v, path, errors) => {
        if (typeof v !== 'string') {
          // An unquoted yes/no/on/off/true/false or number in YAML 1.1 (kubectl) is not a string.
          const hint = typeof v === 'boolean' || typeof v === 'number' ? ': quote it in YAML ("yes", "on", "true", "0123"); kubectl reads YAML 1.1, where such words and numbers are not strings' : '';
          errors.push({ path, value: v, message: `must be a string, got ${typeName(v)}${hint}` });
          return undefined;
        }
        if (opts.minLength !== undefined && v.length < opts.minLength) {
          errors.push({ path, value: v, message: `must be at least ${opts.minLength} characters long` });
          return undefined;
        }
        if (opts.maxLength !== undefined && v.length > opts.maxLength) {
          errors.push({ path, value: v, message: `must be at most ${opts.maxLength} characters long` });
          return undefined;
        }
        if (re && !re.test(v)) {
          errors.push({ path, value: v, message: `must be ${opts.patternHint ?? `a string matching ${opts.pattern}`}` });
          return undefined;
        }
        if (opts.check) {
          const bad = opts.check(v);
          if (bad) {
            errors.push({ path, value: v, message: bad });
            return undefined;
          }
        }
        return v;
      },
    },
    false,
  );
}

export interface IntOpts extends Common<number> {
  min?: number;
  max?: number;
  format?: 'int32' | 'int64';
}

export function int<O extends IntOpts>(opts: O = {} as O): Schema<number, HasDefault<O>> {
  const range = `an integer${opts.min !== undefined ? ` >= ${opts.min}` : ''}${opts.min !== undefined && opts.max !== undefined ? ' and' : ''}${opts.max !== undefined ? ` <= ${opts.max}` : ''}`;
  return make<number, HasDefault<O>>(
    {
      default: opts.default,
      description: opts.description,
      openapi: () => {
        const o: OpenAPISchema = { type: 'integer' };
        if (opts.format) o.format = opts.format;
        if (opts.min !== undefined) o.minimum = opts.min;
        if (opts.max !== undefined) o.maximum = opts.max;
        return o;
      },
      parse: (v, path, errors) => {
        if (typeof v !== 'number' || !Number.isInteger(v)) {
          errors.push({ path, value: v, message: `must be ${range}, got ${typeName(v)}` });
          return undefined;
        }
        if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
          errors.push({ path, value: v, message: `must be ${range}` });
          return undefined;
        }
        return v;
      },
    },
    false,
  );
}

export function bool<O extends Common<boolean>>(opts: O = {} as O): Schema<boolean, HasDefault<O>> {
  return make<boolean, HasDefault<O>>(
    {
      default: opts.default,
      description: opts.description,
      openapi: () => ({ type: 'boolean' }),
      parse: (v, path, errors) => {
        if (typeof v !== 'boolean') {
          errors.push({ path, value: v, message: `must be true or false, got ${typeName(v)}` });
          return undefined;
        }
        return v;
      },
    },
    false,
  );
}

export function enumOf<const V extends readonly string[], O extends Common<V[number]> = Common<V[number]>>(values: V, opts: O = {} as O): Schema<V[number], HasDefault<O>> {
  return make<V[number], HasDefault<O>>(
    {
      default: opts.default,
      description: opts.description,
      openapi: () => ({ type: 'string', enum: [...values] }),
      parse: (v, path, errors) => {
        if (typeof v !== 'string' || !values.includes(v)) {
          errors.push({ path, value: v, message: `must be one of ${values.join(', ')}` });
          return undefined;
        }
        return v as V[number];
      },
    },
    false,
  );
}

export interface ArrayOpts<T> extends Common<T[]> {
  minItems?: number;
  maxItems?: number;
  /** Items must be distinct (x-kubernetes-list-type: set for scalars). */
  unique?: boolean;
  /** Items are objects keyed by these fields, distinct per key (x-kubernetes-list-type: map). */
  mapKeys?: readonly string[];
}

export function array<T, O extends ArrayOpts<T> = ArrayOpts<T>>(item: Schema<T, boolean>, opts: O = {} as O): Schema<T[], HasDefault<O>> {
  return make<T[], HasDefault<O>>(
    {
      default: opts.default,
      description: opts.description,
      openapi: () => {
        const o: OpenAPISchema = { type: 'array', items: item.toOpenAPI() };
        if (opts.minItems !== undefined) o.minItems = opts.minItems;
        if (opts.maxItems !== undefined) o.maxItems = opts.maxItems;
        if (opts.unique) o['x-kubernetes-list-type'] = 'set';
        if (opts.mapKeys?.length) {
          o['x-kubernetes-list-type'] = 'map';
          o['x-kubernetes-list-map-keys'] = [...opts.mapKeys];
        }
        return o;
      },
      parse: (v, path, errors) => {
        if (!Array.isArray(v)) {
          errors.push({ path, value: v, message: `must be a list, got ${typeName(v)}` });
          return undefined;
        }
        if (opts.minItems !== undefined && v.length < opts.minItems) {
          errors.push({ path, value: v, message: `must have at least ${opts.minItems} item(s)` });
          return undefined;
        }
        if (opts.maxItems !== undefined && v.length > opts.maxItems) {
          errors.push({ path, value: `${v.length} items`, message: `must have at most ${opts.maxItems} items` });
          return undefined;
        }
        const out: T[] = [];
        let ok = true;
        const seen = new Set<string>();
        v.forEach((x: unknown, i) => {
          const p = `${path}[${i}]`;
          if (x === undefined || x === null) {
            errors.push({ path: p, value: x, message: 'must not be null' });
            ok = false;
            return;
          }
          const r = item.parse(x, p, errors);
          if (r === undefined) ok = false;
          else out.push(r);
          if (opts.unique) {
            const key = JSON.stringify(x);
            if (seen.has(key)) {
              errors.push({ path: p, value: x, message: 'duplicate item: items must be distinct' });
              ok = false;
            }
            seen.add(key);
          }
          if (opts.mapKeys?.length && typeof x === 'object') {
            const key = JSON.stringify(opts.mapKeys.map((k) => (x as Record<string, unknown>)[k]));
            if (seen.has(key)) {
              const what = opts.mapKeys.map((k) => `${k} ${describeValue((x as Record<string, unknown>)[k])}`).join(', ');
              errors.push({ path: p, value: x, message: `duplicate item with ${what}: ${opts.mapKeys.join(', ')} must be distinct within the list` });
              ok = false;
            }
            seen.add(key);
          }
        });
        return ok ? out : undefined;
      },
    },
    false,
  );
}

/** A map with string keys (matchLabels and the like): `additionalProperties`. */
export function map<T>(value: Schema<T, boolean>, opts: Common<Record<string, T>> & { maxProperties?: number } = {}): Schema<Record<string, T>, boolean> {
  return make<Record<string, T>, boolean>(
    {
      default: opts.default,
      description: opts.description,
      openapi: () => {
        const o: OpenAPISchema = { type: 'object', additionalProperties: value.toOpenAPI() };
        if (opts.maxProperties !== undefined) o.maxProperties = opts.maxProperties;
        return o;
      },
      parse: (v, path, errors) => {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) {
          errors.push({ path, value: v, message: `must be an object (a map of keys to values), got ${typeName(v)}` });
          return undefined;
        }
        const out: Record<string, T> = {};
        let ok = true;
        for (const [k, x] of Object.entries(v)) {
          const r = value.parse(x, `${path}[${JSON.stringify(k)}]`, errors);
          if (r === undefined) ok = false;
          else out[k] = r;
        }
        return ok ? out : undefined;
      },
    },
    false,
  );
}

export interface ObjectOpts<T> extends Common<T> {
  rules?: Rule<T>[];
  /** Accept and keep fields not declared here (x-kubernetes-preserve-unknown-fields). */
  preserveUnknown?: boolean;
}

function joinPath(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

export function object<P extends Props, O extends ObjectOpts<ObjectType<P>> = ObjectOpts<ObjectType<P>>>(props: P, opts: O = {} as O): Schema<ObjectType<P>, HasDefault<O>> {
  return make<ObjectType<P>, HasDefault<O>>(
    {
      default: opts.default,
      description: opts.description,
      openapi: () => {
        const properties: Record<string, OpenAPISchema> = {};
        const required: string[] = [];
        for (const [k, s] of Object.entries(props)) {
          properties[k] = s.toOpenAPI();
          if (s.isRequired) required.push(k);
        }
        const o: OpenAPISchema = { type: 'object', properties };
        if (required.length) o.required = required;
        if (opts.preserveUnknown) o['x-kubernetes-preserve-unknown-fields'] = true;
        if (opts.rules?.length) {
          o['x-kubernetes-validations'] = opts.rules.map((r) => {
            const v: OpenAPISchema = { rule: r.rule, message: r.message };
            if (r.fieldPath) v.fieldPath = `.${r.fieldPath}`;
            return v;
          });
        }
        return o;
      },
      parse: (v, path, errors) => {
        if (typeof v !== 'object' || v === null || Array.isArray(v)) {
          errors.push({ path, value: v, message: `must be an object, got ${typeName(v)}` });
          return undefined;
        }
        const input = v as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        let ok = true;
        for (const [k, s] of Object.entries(props)) {
          const x = input[k];
          const p = joinPath(path, k);
          if (x === undefined || x === null) {
            if (s.isRequired) {
              errors.push({ path: p, value: x, message: 'is required' });
              ok = false;
            } else if (s.defaultValue !== undefined) {
              out[k] = structuredClone(s.defaultValue);
            }
            continue;
          }
          const r = s.parse(x, p, errors);
          if (r === undefined) ok = false;
          else out[k] = r;
        }
        for (const k of Object.keys(input)) {
          if (Object.hasOwn(props, k)) continue;
          if (opts.preserveUnknown) {
            out[k] = input[k];
            continue;
          }
          errors.push({ path: joinPath(path, k), value: input[k], message: `unknown field; allowed fields: ${Object.keys(props).join(', ')}` });
          ok = false;
        }
        if (!ok) return undefined;
        const typed = out as ObjectType<P>;
        for (const r of opts.rules ?? []) {
          if (!r.check(typed)) {
            const p = r.fieldPath ? joinPath(path, r.fieldPath) : path || '(root)';
            const value = r.fieldPath ? r.fieldPath.split('.').reduce<unknown>((acc, key) => (acc as Record<string, unknown> | undefined)?.[key], typed) : typed;
            errors.push({ path: p, value, message: r.why?.(typed) ?? r.message });
            ok = false;
          }
        }
        return ok ? typed : undefined;
      },
    },
    false,
  );
}

/** A free-form value kept as is (used sparingly: e.g. condition-free extension points). */
export function unknownValue(opts: Common<unknown> = {}): Schema<unknown, boolean> {
  return make<unknown, boolean>(
    {
      default: opts.default,
      description: opts.description,
      openapi: () => ({ 'x-kubernetes-preserve-unknown-fields': true }),
      parse: (v) => v,
    },
    false,
  );
}
