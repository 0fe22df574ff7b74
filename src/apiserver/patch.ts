// The three PATCH flavours kubectl and clients send, as pure functions over JSON values.
// Strategic merge patch is approximated (see docs/apiserver.md): a merge patch whose lists of objects
// merge by a guessed key (name, port, ...) when both sides carry it, and are replaced otherwise.
import { ApiError, badRequest } from './errors.ts';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return patch;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// Keys that identify list elements in Kubernetes' strategic merge (patchMergeKey), in the order tried.
const MERGE_KEYS = ['name', 'port', 'containerPort', 'mountPath', 'devicePath', 'type', 'ip', 'topologyKey'];

function guessMergeKey(a: Json[], b: Json[]): string | undefined {
  const elems = [...a, ...b];
  if (b.length === 0 || !elems.every(isObject)) return undefined;
  return MERGE_KEYS.find((k) => elems.every((e) => (e as JsonObject)[k] !== undefined || Object.hasOwn(e as JsonObject, '$patch')));
}

function strategicList(orig: Json[], patch: Json[], order: Json[] | undefined): Json[] {
  if (patch.some((e) => isObject(e) && e.$patch === 'replace')) return patch.filter((e) => !(isObject(e) && e.$patch === 'replace'));
  const key = guessMergeKey(orig, patch);
  if (!key) return patch;
  const byKey = new Map<string, Json>();
  for (const e of orig) byKey.set(JSON.stringify((e as JsonObject)[key]), e);
  const added: Json[] = [];
  for (const e of patch as JsonObject[]) {
    const id = JSON.stringify(e[key]);
    if (e.$patch === 'delete') {
      byKey.delete(id);
      continue;
    }
    if (byKey.has(id)) byKey.set(id, strategicMerge(byKey.get(id), e));
    else {
      byKey.set(id, strategicMerge(undefined, e));
      added.push(id);
    }
  }
  let result = [...byKey.values()];
  if (order) {
    const pos = new Map(order.filter(isObject).map((o, i) => [JSON.stringify(o[key]), i] as const));
    const rank = (e: Json): number => pos.get(JSON.stringify((e as JsonObject)[key])) ?? Number.MAX_SAFE_INTEGER;
    result = result.map((e, i) => [e, i] as const).sort((x, y) => rank(x[0]) - rank(y[0]) || x[1] - y[1]).map(([e]) => e);
  }
  return result;
}

/** Strategic merge patch, approximated: see the file comment. Directives ($setElementOrder, $retainKeys, $patch) are honoured where simple. */
export function strategicMerge(target: Json | undefined, patch: Json): Json {
  if (!isObject(patch)) return patch;
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return rest;
  }
  if (patch.$patch === 'delete') return null;
  const out: JsonObject = isObject(target) ? { ...target } : {};
  const retain = Array.isArray(patch.$retainKeys) ? new Set(patch.$retainKeys.map(String)) : undefined;
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) continue;
    if (v === null) {
      delete out[k];
    } else if (Array.isArray(v) && Array.isArray(out[k])) {
      const order = patch[`$setElementOrder/${k}`];
      out[k] = strategicList(out[k] as Json[], v, Array.isArray(order) ? order : undefined);
    } else if (Array.isArray(v)) {
      out[k] = v.map((e) => (isObject(e) ? strategicMerge(undefined, e) : e));
    } else {
      out[k] = strategicMerge(out[k], v);
    }
  }
  for (const [k, v] of Object.entries(patch)) {
    const m = /^\$deleteFromPrimitiveList\/(.+)$/.exec(k);
    if (m && Array.isArray(v) && Array.isArray(out[m[1]!])) {
      const drop = new Set(v.map((x) => JSON.stringify(x)));
      out[m[1]!] = (out[m[1]!] as Json[]).filter((x) => !drop.has(JSON.stringify(x)));
    }
  }
  if (retain) for (const k of Object.keys(out)) if (!retain.has(k)) delete out[k];
  return out;
}

interface JsonPatchOp {
  op: string;
  path: string;
  from?: string;
  value?: Json;
}

function parsePointer(p: string): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) throw badRequest(`JSON patch path "${p}" must start with "/"`);
  return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function resolveParent(doc: Json, tokens: string[], path: string): { parent: Json; last: string } {
  let cur: Json = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(t)] as Json;
    else if (isObject(cur)) cur = cur[t] as Json;
    else cur = undefined as unknown as Json;
    if (cur === undefined || cur === null || typeof cur !== 'object') {
      throw new ApiError(422, 'Invalid', `JSON patch: path "${path}" does not exist in the object (missing parent "${t}")`);
    }
  }
  return { parent: cur, last: tokens[tokens.length - 1]! };
}

function getAt(doc: Json, path: string): Json {
  let cur: Json | undefined = doc;
  for (const t of parsePointer(path)) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObject(cur)) cur = cur[t];
    else cur = undefined;
    if (cur === undefined) throw new ApiError(422, 'Invalid', `JSON patch: path "${path}" does not exist in the object`);
  }
  return cur as Json;
}

function removeAt(doc: Json, path: string): Json {
  const { parent, last } = resolveParent(doc, parsePointer(path), path);
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!Number.isInteger(i) || i < 0 || i >= parent.length) throw new ApiError(422, 'Invalid', `JSON patch: cannot remove "${path}": index out of range`);
    return parent.splice(i, 1)[0] as Json;
  }
  const o = parent as JsonObject;
  if (!Object.hasOwn(o, last)) throw new ApiError(422, 'Invalid', `JSON patch: cannot remove "${path}": no such field`);
  const v = o[last] as Json;
  delete o[last];
  return v;
}

function addAt(doc: Json, path: string, value: Json, replace: boolean): Json {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return value;
  const { parent, last } = resolveParent(doc, tokens, path);
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(i) || i < 0 || i > parent.length || (replace && i >= parent.length)) throw new ApiError(422, 'Invalid', `JSON patch: index in "${path}" is out of range`);
    if (replace) parent[i] = value;
    else parent.splice(i, 0, value);
  } else {
    const o = parent as JsonObject;
    if (replace && !Object.hasOwn(o, last)) throw new ApiError(422, 'Invalid', `JSON patch: cannot replace "${path}": no such field`);
    o[last] = value;
  }
  return doc;
}

/** RFC 6902 JSON patch; a failed `test` is a 422, as on the real server. */
export function jsonPatch(target: Json, ops: unknown): Json {
  if (!Array.isArray(ops)) throw badRequest('a JSON patch must be an array of operations ([{"op":"replace","path":"/spec/x","value":1}])');
  let doc = structuredClone(target);
  for (const raw of ops as JsonPatchOp[]) {
    if (!isObject(raw as unknown) || typeof raw.op !== 'string' || typeof raw.path !== 'string') throw badRequest(`invalid JSON patch operation ${JSON.stringify(raw)}: needs "op" and "path"`);
    switch (raw.op) {
      case 'add':
        doc = addAt(doc, raw.path, structuredClone(raw.value ?? null), false);
        break;
      case 'replace':
        doc = addAt(doc, raw.path, structuredClone(raw.value ?? null), true);
        break;
      case 'remove':
        removeAt(doc, raw.path);
        break;
      case 'move': {
        const v = removeAt(doc, raw.from ?? '');
        doc = addAt(doc, raw.path, v, false);
        break;
      }
      case 'copy':
        doc = addAt(doc, raw.path, structuredClone(getAt(doc, raw.from ?? '')), false);
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, raw.path)) !== JSON.stringify(raw.value)) throw new ApiError(422, 'Invalid', `JSON patch: test failed at "${raw.path}"`);
        break;
      default:
        throw badRequest(`unknown JSON patch op "${raw.op}": use add, remove, replace, move, copy or test`);
    }
  }
  return doc;
}
