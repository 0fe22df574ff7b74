// The API's behaviour without HTTP: resolves resources, applies defaults, schemas and the status
// subresource rules, and performs each verb against the store. server.ts maps HTTP onto this.
import { ApiError, badRequest, invalid, type StatusCause } from './errors.ts';
import { crdVersions, establishedStatus, type CrdVersionInfo, type PrinterColumn } from './crds.ts';
import { defaultNamespace, defaultService, ServiceAllocator } from './defaults.ts';
import { jsonPatch, mergePatch, strategicMerge, type Json } from './patch.ts';
import { apiVersionOf, ResourceRegistry, resourceKey, type ResourceDescriptor } from './resources.ts';
import { applyDefaults, prune, validate } from './schema.ts';
import { matchFields, matchLabels, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { Store, type KObject, type StoreOptions } from './store.ts';

export interface CoreOptions extends StoreOptions {}

export interface ListOptions {
  labelSelector?: string | null;
  fieldSelector?: string | null;
  limit?: number;
  continueToken?: string | null;
}

export interface ListResult {
  items: KObject[];
  resourceVersion: number;
  continueToken?: string;
  remaining?: number;
}

export type Subresource = 'status' | undefined;

export interface WriteOptions {
  /** `Strict` rejects fields a CRD schema does not declare (kubectl apply asks for it); otherwise they are pruned. */
  fieldValidation?: string | null;
}

// Namespaces the real server refuses to delete.
const PROTECTED_NAMESPACES = new Set(['default', 'kube-system', 'kube-public']);
// Resources whose status is set by the client on create (the others start with an empty status).
const STATUS_ON_CREATE = new Set(['nodes', 'namespaces', 'customresourcedefinitions']);
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function nameCauses(d: ResourceDescriptor, name: string, generated: boolean): StatusCause[] {
  const field = generated ? 'metadata.generateName' : 'metadata.name';
  if (!name) return [{ reason: 'FieldValueRequired', field: 'metadata.name', message: 'Required value: name or generateName is required' }];
  if (d.group === '' && (d.plural === 'services' || d.plural === 'namespaces')) {
    const re = d.plural === 'services' ? DNS1035_LABEL : DNS1123_LABEL;
    const probe = generated ? `${name}a` : name;
    if (probe.length > 63 || !re.test(probe)) {
      const what = d.plural === 'services' ? "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character" : "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
      return [{ reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(name)}: ${what}` }];
    }
    return [];
  }
  if (d.plural === 'nodes' || d.plural === 'events' || d.crd !== undefined || d.group.startsWith('rbac.')) {
    // Lenient like the real server for these: any path-safe name.
    return /[/%]/.test(name) || name === '.' || name === '..' ? [{ reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(name)}: may not contain '/' or '%'` }] : [];
  }
  const probe = generated ? `${name}a` : name;
  if (probe.length > 253 || !DNS1123_SUBDOMAIN.test(probe)) {
    return [{ reason: 'FieldValueInvalid', field, message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character` }];
  }
  return [];
}

export class ApiCore {
  readonly registry = new ResourceRegistry();
  readonly store: Store;
  private readonly crdInfo = new Map<string, CrdVersionInfo>();
  private readonly alloc = new ServiceAllocator();
  private readonly nsDescriptor: ResourceDescriptor;
  private readonly crdDescriptor: ResourceDescriptor;

  constructor(opts: CoreOptions = {}) {
    this.store = new Store(opts);
    this.nsDescriptor = this.registry.get('', 'v1', 'namespaces')!;
    this.crdDescriptor = this.registry.get('apiextensions.k8s.io', 'v1', 'customresourcedefinitions')!;
    for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
      this.create(this.nsDescriptor, undefined, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    }
  }

  resolve(group: string, version: string, plural: string): ResourceDescriptor {
    const d = this.registry.get(group, version, plural);
    if (!d) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${plural}${group ? `.${group}` : ''} ${version})`);
    return d;
  }

  printerColumns(d: ResourceDescriptor): PrinterColumn[] | undefined {
    return this.crdInfo.get(`${d.group}/${d.version}/${d.plural}`)?.columns;
  }

  /** The object as the client asked for it: apiVersion of the requested version, kind set. */
  output(d: ResourceDescriptor, o: KObject): KObject {
    const apiVersion = apiVersionOf(d);
    return o.apiVersion === apiVersion && o.kind === d.kind ? o : { ...o, apiVersion, kind: d.kind };
  }

  private requireNamespace(d: ResourceDescriptor, ns: string | undefined): void {
    if (!d.namespaced) return;
    if (!ns) throw badRequest(`${d.plural} is namespaced: the request needs a namespace (/namespaces/NAMESPACE/${d.plural})`);
    const n = this.store.get(this.nsDescriptor, undefined, ns);
    if (!n) throw new ApiError(404, 'NotFound', `namespaces "${ns}" not found`, { name: ns, kind: 'namespaces' });
    if (n.metadata.deletionTimestamp) throw new ApiError(403, 'Forbidden', `${d.plural} is forbidden: unable to create new content in namespace ${ns} because it is being terminated`);
  }

  get(d: ResourceDescriptor, ns: string | undefined, name: string): KObject {
    return this.output(d, this.store.mustGet(d, ns, name));
  }

  list(d: ResourceDescriptor, ns: string | undefined, opts: ListOptions = {}): ListResult {
    const labels = parseLabelSelector(opts.labelSelector);
    const fields = parseFieldSelector(opts.fieldSelector);
    const { items, resourceVersion } = this.store.list(d, ns);
    let start = 0;
    if (opts.continueToken) {
      let after: string;
      try {
        after = (JSON.parse(Buffer.from(opts.continueToken, 'base64url').toString('utf8')) as { k: string }).k;
      } catch {
        throw badRequest('invalid continue token: pass the metadata.continue value of the previous page unchanged');
      }
      start = items.findIndex((o) => `${o.metadata.namespace ?? ''}/${o.metadata.name ?? ''}` > after);
      if (start < 0) start = items.length;
    }
    const matched: KObject[] = [];
    let i = start;
    const limit = opts.limit && opts.limit > 0 ? opts.limit : Infinity;
    for (; i < items.length && matched.length < limit; i++) {
      const o = items[i]!;
      if (matchLabels(labels, o.metadata.labels) && matchFields(fields, o)) matched.push(this.output(d, o));
    }
    const res: ListResult = { items: matched, resourceVersion };
    if (i < items.length && matched.length >= limit) {
      const last = matched[matched.length - 1]!;
      res.continueToken = Buffer.from(JSON.stringify({ k: `${last.metadata.namespace ?? ''}/${last.metadata.name ?? ''}` })).toString('base64url');
      res.remaining = items.length - i;
    }
    return res;
  }

  /** Schema, defaults and name checks common to create and update. */
  private admit(d: ResourceDescriptor, o: KObject, old: KObject | undefined, w: WriteOptions): KObject {
    let obj: KObject = { ...o, apiVersion: apiVersionOf(d), kind: d.kind, metadata: { ...o.metadata } };
    const info = this.crdInfo.get(`${d.group}/${d.version}/${d.plural}`);
    if (info?.schema) {
      const dropped: string[] = [];
      obj = prune(obj, info.schema, true, dropped) as KObject;
      if (w.fieldValidation === 'Strict' && dropped.length) {
        throw badRequest(`strict decoding error: ${dropped.map((p) => `unknown field "${p}"`).join(', ')}`);
      }
      obj = applyDefaults(obj, info.schema) as KObject;
      const causes: StatusCause[] = [];
      validate(obj, info.schema, '', causes);
      if (causes.length) throw invalid(d.kind, d.group, obj.metadata.name ?? obj.metadata.generateName ?? '', causes);
    }
    if (d.group === '' && d.plural === 'services') obj = defaultService(obj, this.alloc, old);
    if (d.group === '' && d.plural === 'namespaces') obj = defaultNamespace(obj);
    return obj;
  }

  private checkMetadata(body: unknown, d: ResourceDescriptor, ns: string | undefined): KObject {
    if (!isObj(body)) throw badRequest(`the request body must be a JSON or YAML object (a ${d.kind})`);
    if (body.kind !== undefined && body.kind !== d.kind) throw badRequest(`the body's kind "${String(body.kind)}" does not match the resource ${d.plural} (kind ${d.kind})`);
    if (body.apiVersion !== undefined && body.apiVersion !== apiVersionOf(d)) {
      throw badRequest(`the body's apiVersion "${String(body.apiVersion)}" does not match the request path (${apiVersionOf(d)})`);
    }
    const meta = body.metadata === undefined ? {} : body.metadata;
    if (!isObj(meta)) throw badRequest('metadata must be an object');
    if (d.namespaced && meta.namespace !== undefined && meta.namespace !== '' && meta.namespace !== ns) {
      throw badRequest(`the namespace of the object (${String(meta.namespace)}) does not match the namespace on the request (${ns ?? ''})`);
    }
    for (const f of ['labels', 'annotations'] as const) {
      const m = meta[f];
      if (m === undefined || m === null) continue;
      if (!isObj(m) || Object.values(m).some((v) => typeof v !== 'string')) {
        throw invalid(d.kind, d.group, String(meta.name ?? ''), [{ reason: 'FieldValueTypeInvalid', field: `metadata.${f}`, message: 'Invalid value: must be a map of string keys to string values' }]);
      }
    }
    const out = { ...body, metadata: { ...meta } } as KObject;
    if (d.namespaced) out.metadata.namespace = ns;
    else delete out.metadata.namespace;
    return out;
  }

  create(d: ResourceDescriptor, ns: string | undefined, body: unknown, w: WriteOptions = {}): KObject {
    this.requireNamespace(d, ns);
    let o = this.checkMetadata(body, d, ns);
    const generated = !o.metadata.name && typeof o.metadata.generateName === 'string';
    const causes = nameCauses(d, String(generated ? o.metadata.generateName : (o.metadata.name ?? '')), generated);
    if (causes.length) throw invalid(d.kind, d.group, String(o.metadata.name ?? ''), causes);
    if (d.status && !STATUS_ON_CREATE.has(d.plural)) delete o.status;
    if (resourceKey(d) === resourceKey(this.crdDescriptor)) {
      const versions = crdVersions(o);
      o = { ...o, status: establishedStatus(o) };
      const created = this.store.create(d, this.admit(d, o, undefined, w));
      this.registerCrd(versions);
      return this.output(d, created);
    }
    return this.output(d, this.store.create(d, this.admit(d, o, undefined, w)));
  }

  update(d: ResourceDescriptor, ns: string | undefined, name: string, body: unknown, sub: Subresource, w: WriteOptions = {}): KObject {
    const cur = this.store.mustGet(d, ns, name);
    let o = this.checkMetadata(body, d, ns);
    if (o.metadata.name !== undefined && o.metadata.name !== name) throw badRequest(`the name of the object (${String(o.metadata.name)}) does not match the name on the URL (${name})`);
    o.metadata.name = name;
    if (sub === 'status') {
      // Only status changes through /status; the rest is the stored object.
      o = { ...cur, status: o.status, metadata: { ...cur.metadata, resourceVersion: o.metadata.resourceVersion } };
    } else if (d.status) {
      o = cur.status === undefined ? (({ status: _, ...rest }) => rest as KObject)(o) : { ...o, status: cur.status };
    }
    if (resourceKey(d) === resourceKey(this.crdDescriptor)) {
      const versions = crdVersions(o);
      if (sub !== 'status') o = { ...o, status: establishedStatus(o) };
      const updated = this.store.update(d, this.admit(d, o, cur, w));
      for (const v of crdVersions(cur)) this.registry.remove(v.descriptor.group, v.descriptor.version, v.descriptor.plural);
      this.registerCrd(versions);
      return this.output(d, updated);
    }
    return this.output(d, this.store.update(d, this.admit(d, o, cur, w)));
  }

  /** PATCH by content type; server-side apply (apply-patch+yaml) creates the object when absent. */
  patch(d: ResourceDescriptor, ns: string | undefined, name: string, contentType: string, patch: unknown, sub: Subresource, w: WriteOptions = {}): KObject {
    const ct = contentType.split(';')[0]!.trim().toLowerCase();
    const cur = this.store.get(d, ns, name);
    if (ct === 'application/apply-patch+yaml' && !cur) {
      if (!isObj(patch)) throw badRequest('an apply patch must be an object');
      return this.create(d, ns, { ...patch, metadata: { ...(isObj(patch.metadata) ? patch.metadata : {}), name } }, w);
    }
    if (!cur) this.store.mustGet(d, ns, name);
    const base = this.output(d, cur!) as unknown as Json;
    let next: Json;
    switch (ct) {
      case 'application/json-patch+json':
        next = jsonPatch(base, patch);
        break;
      case 'application/merge-patch+json':
        next = mergePatch(base, patch as Json);
        break;
      case 'application/strategic-merge-patch+json':
        if (d.crd !== undefined) throw new ApiError(415, 'UnsupportedMediaType', `strategic merge patch is not supported for custom resources (${d.plural}.${d.group}): use application/merge-patch+json`);
        next = strategicMerge(base, patch as Json);
        break;
      case 'application/apply-patch+yaml':
        next = d.crd !== undefined ? mergePatch(base, patch as Json) : strategicMerge(base, patch as Json);
        break;
      default:
        throw new ApiError(415, 'UnsupportedMediaType', `the PATCH content type "${contentType}" is not supported: use application/merge-patch+json, application/json-patch+json, application/strategic-merge-patch+json or application/apply-patch+yaml`);
    }
    if (!isObj(next)) throw badRequest('the patched object is not an object');
    const meta = isObj(next.metadata) ? next.metadata : {};
    // A resourceVersion inside the patch is a precondition; otherwise the patch applies to the current object.
    const patchRv = isObj(patch) && isObj(patch.metadata) ? patch.metadata.resourceVersion : undefined;
    next = { ...next, metadata: { ...meta, resourceVersion: typeof patchRv === 'string' ? patchRv : cur!.metadata.resourceVersion } } as unknown as Json;
    return this.update(d, ns, name, next, sub, w);
  }

  delete(d: ResourceDescriptor, ns: string | undefined, name: string, opts: { preconditionRv?: string; preconditionUid?: string; gracePeriodSeconds?: number } = {}): KObject {
    if (d === this.nsDescriptor || resourceKey(d) === resourceKey(this.nsDescriptor)) {
      if (PROTECTED_NAMESPACES.has(name)) throw new ApiError(403, 'Forbidden', `namespaces "${name}" is forbidden: this namespace may not be deleted`);
      this.store.mustGet(d, undefined, name);
      // Namespace deletion is synchronous here: contents first, then the namespace itself.
      this.store.deleteNamespaceContents(this.registry.all(), name);
      return this.output(d, this.store.delete(d, undefined, name, { ...opts, force: true }));
    }
    if (resourceKey(d) === resourceKey(this.crdDescriptor)) {
      const cur = this.store.mustGet(d, undefined, name);
      const deleted = this.store.delete(d, undefined, name, { ...opts, force: true });
      for (const v of crdVersions(cur)) {
        this.store.dropResource(v.descriptor);
        this.registry.remove(v.descriptor.group, v.descriptor.version, v.descriptor.plural);
        this.crdInfo.delete(`${v.descriptor.group}/${v.descriptor.version}/${v.descriptor.plural}`);
      }
      return this.output(d, deleted);
    }
    const deleted = this.store.delete(d, ns, name, { preconditionRv: opts.preconditionRv, preconditionUid: opts.preconditionUid });
    if (d.group === '' && d.plural === 'services' && !this.store.get(d, ns, name)) this.alloc.release(deleted);
    return this.output(d, deleted);
  }

  deleteCollection(d: ResourceDescriptor, ns: string | undefined, opts: ListOptions): number {
    const { items } = this.list(d, ns, opts);
    for (const o of items) this.delete(d, o.metadata.namespace, o.metadata.name ?? '');
    return items.length;
  }

  /** Serves a CRD's versions (used for CRDs created through the API and preloaded ones). */
  private registerCrd(versions: CrdVersionInfo[]): void {
    for (const v of versions) {
      this.registry.add(v.descriptor);
      this.crdInfo.set(`${v.descriptor.group}/${v.descriptor.version}/${v.descriptor.plural}`, v);
    }
  }

  /** Creates (or replaces) a CRD object as if POSTed, for preloading from files. */
  loadCrd(crd: KObject): void {
    const existing = this.store.get(this.crdDescriptor, undefined, crd.metadata.name ?? '');
    const body = { ...crd, metadata: { ...crd.metadata, resourceVersion: undefined } };
    if (existing) this.update(this.crdDescriptor, undefined, crd.metadata.name ?? '', body, undefined);
    else this.create(this.crdDescriptor, undefined, body);
  }
}
