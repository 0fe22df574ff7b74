// CustomResourceDefinitions: checks a CRD enough to serve it, turns its served versions into
// resource descriptors, keeps each version's schema and printer columns, and reads CRD files.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { invalid, type StatusCause } from './errors.ts';
import type { ResourceDescriptor } from './resources.ts';
import type { Schema } from './schema.ts';
import type { KObject } from './store.ts';

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string;
  priority?: number;
  format?: string;
}

export interface CrdVersionInfo {
  descriptor: ResourceDescriptor;
  schema: Schema | undefined;
  columns: PrinterColumn[];
}

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {};
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Validates an apiextensions.k8s.io/v1 CRD and returns what serving it needs, one entry per served version. */
export function crdVersions(crd: KObject): CrdVersionInfo[] {
  const spec = obj(crd.spec);
  const names = obj(spec.names);
  const causes: StatusCause[] = [];
  const group = typeof spec.group === 'string' ? spec.group : '';
  const plural = typeof names.plural === 'string' ? names.plural : '';
  const kind = typeof names.kind === 'string' ? names.kind : '';
  if (!group.includes('.')) causes.push({ reason: 'FieldValueInvalid', field: 'spec.group', message: `Invalid value: ${JSON.stringify(group)}: should be a domain with at least one dot` });
  if (!DNS_LABEL.test(plural)) causes.push({ reason: 'FieldValueInvalid', field: 'spec.names.plural', message: `Invalid value: ${JSON.stringify(plural)}: a lowercase RFC 1123 label is required` });
  if (!kind) causes.push({ reason: 'FieldValueRequired', field: 'spec.names.kind', message: 'Required value' });
  if (crd.metadata.name !== `${plural}.${group}`) {
    causes.push({ reason: 'FieldValueInvalid', field: 'metadata.name', message: `Invalid value: ${JSON.stringify(crd.metadata.name)}: must be spec.names.plural+"."+spec.group` });
  }
  const scope = spec.scope;
  if (scope !== 'Namespaced' && scope !== 'Cluster') causes.push({ reason: 'FieldValueNotSupported', field: 'spec.scope', message: `Unsupported value: ${JSON.stringify(scope)}: supported values: "Cluster", "Namespaced"` });
  const versions = Array.isArray(spec.versions) ? (spec.versions as unknown[]).map(obj) : [];
  if (versions.length === 0) causes.push({ reason: 'FieldValueRequired', field: 'spec.versions', message: 'Required value: must have at least one version' });
  if (versions.length && versions.filter((v) => v.storage === true).length !== 1) {
    causes.push({ reason: 'FieldValueInvalid', field: 'spec.versions', message: 'Invalid value: must have exactly one version marked as storage version' });
  }
  versions.forEach((v, i) => {
    if (typeof v.name !== 'string' || !DNS_LABEL.test(v.name)) causes.push({ reason: 'FieldValueInvalid', field: `spec.versions[${i}].name`, message: `Invalid value: ${JSON.stringify(v.name)}: a lowercase RFC 1123 label is required` });
    const sch = obj(obj(v.schema).openAPIV3Schema);
    if (!obj(v.schema).openAPIV3Schema) causes.push({ reason: 'FieldValueRequired', field: `spec.versions[${i}].schema.openAPIV3Schema`, message: 'Required value: schemas are required' });
    else if (sch.type !== 'object') causes.push({ reason: 'FieldValueInvalid', field: `spec.versions[${i}].schema.openAPIV3Schema.type`, message: 'Invalid value: must be object at the root' });
  });
  if (causes.length) throw invalid('CustomResourceDefinition', 'apiextensions.k8s.io', crd.metadata.name ?? '', causes);

  return versions
    .filter((v) => v.served !== false)
    .map((v) => {
      const sub = obj(v.subresources);
      const descriptor: ResourceDescriptor = {
        group,
        version: v.name as string,
        kind,
        listKind: typeof names.listKind === 'string' ? names.listKind : `${kind}List`,
        plural,
        singular: typeof names.singular === 'string' ? names.singular : kind.toLowerCase(),
        shortNames: Array.isArray(names.shortNames) ? (names.shortNames as string[]) : [],
        categories: Array.isArray(names.categories) ? (names.categories as string[]) : [],
        namespaced: scope === 'Namespaced',
        status: sub.status !== undefined,
        crd: crd.metadata.name ?? '',
      };
      const columns = Array.isArray(v.additionalPrinterColumns) ? (v.additionalPrinterColumns as PrinterColumn[]) : [];
      return { descriptor, schema: obj(v.schema).openAPIV3Schema as Schema | undefined, columns };
    });
}

/** The status a real server reports once a CRD is served. */
export function establishedStatus(crd: KObject): Obj {
  const spec = obj(crd.spec);
  const t = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const cond = (type: string, reason: string, message: string): Obj => ({ type, status: 'True', lastTransitionTime: t, reason, message });
  return {
    conditions: [cond('NamesAccepted', 'NoConflicts', 'no conflicts found'), cond('Established', 'InitialNamesAccepted', 'the initial names have been accepted')],
    acceptedNames: spec.names,
    storedVersions: (Array.isArray(spec.versions) ? (spec.versions as Obj[]) : []).filter((v) => v.storage === true).map((v) => v.name),
  };
}

/** Reads the CRDs (kind CustomResourceDefinition) from YAML/JSON files, skipping other documents. */
export function readCrdFiles(paths: readonly string[]): KObject[] {
  const out: KObject[] = [];
  for (const p of paths) {
    for (const doc of parseAllDocuments(readFileSync(p, 'utf8'))) {
      if (doc.errors.length) throw new Error(`${p}: not valid YAML: ${doc.errors[0]!.message}`);
      const o = doc.toJS() as unknown;
      if (obj(o).kind === 'CustomResourceDefinition') out.push(o as KObject);
    }
  }
  return out;
}
