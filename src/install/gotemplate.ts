// A Go text/template renderer for the subset of Helm's template language the ironlb chart uses
// (no helm binary exists where the chart is checked). Anything outside the subset is refused with
// the template name and line, never silently rendered differently from Helm.
//
// Subset: text, {{/* comments */}}, "{{-" / "-}}" trimming; actions with pipelines ("a | f b");
// .Field chains on ".", "$" and variables; string (double-quoted and raw), number, bool and nil
// literals; parenthesised sub-pipelines; "$x := ..." (not "$x = ..."); if / else if / else, with / else,
// range (over lists and maps, with "$i, $v :=" or "$v :="), define, include, template; the functions
// listed in FUNCTIONS below.
import { randomInt } from 'node:crypto';
import { stringify } from 'yaml';

export type Value = unknown;

export class TemplateError extends Error {
  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = 'TemplateError';
  }
}

// ---- lexing ---------------------------------------------------------------------------------

type Piece = { kind: 'text'; text: string } | { kind: 'action'; text: string; line: number };

function split(src: string, name: string): Piece[] {
  const out: Piece[] = [];
  let i = 0;
  let line = 1;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out.push({ kind: 'text', text: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    if (src.startsWith('- ', start) || src.startsWith('-\n', start) || src.startsWith('-\t', start)) {
      text = text.replace(/[ \t\r\n]+$/, '');
      start += 1;
    }
    out.push({ kind: 'text', text });
    line += (src.slice(i, open).match(/\n/g) ?? []).length;
    // Find the closing braces outside string literals.
    let j = start;
    let quote: string | undefined;
    for (; j < src.length; j++) {
      const c = src[j];
      if (quote) {
        if (c === '\\' && quote === '"') j++;
        else if (c === quote) quote = undefined;
        continue;
      }
      if (c === '"' || c === '`') quote = c;
      else if (c === '}' && src[j + 1] === '}') break;
    }
    if (j >= src.length) throw new TemplateError(`${name}:${line}`, 'unclosed action: "{{" without "}}"');
    let body = src.slice(start, j);
    let end = j + 2;
    let trimAfter = false;
    if (/[ \t\r\n]-$/.test(body)) {
      body = body.slice(0, -1);
      trimAfter = true;
    }
    out.push({ kind: 'action', text: body.trim(), line });
    line += (src.slice(open, end).match(/\n/g) ?? []).length;
    if (trimAfter) {
      const m = /^[ \t\r\n]*/.exec(src.slice(end));
      const skipped = m ? m[0] : '';
      line += (skipped.match(/\n/g) ?? []).length;
      end += skipped.length;
    }
    i = end;
  }
  return out;
}

type Tok = { t: 'str'; v: string } | { t: 'num'; v: number } | { t: 'id'; v: string } | { t: 'field'; v: string[] } | { t: 'var'; v: string; fields: string[] } | { t: 'punct'; v: string };

function tokenize(text: string, where: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  const fieldChain = (): string[] => {
    const fields: string[] = [];
    while (text[i] === '.' && /[A-Za-z_]/.test(text[i + 1] ?? '')) {
      i++;
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i)) as RegExpExecArray;
      fields.push(m[0]);
      i += m[0].length;
    }
    return fields;
  };
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      toks.push({ t: 'str', v: JSON.parse(text.slice(i, j + 1)) as string });
      i = j + 1;
      continue;
    }
    if (c === '`') {
      const j = text.indexOf('`', i + 1);
      if (j < 0) throw new TemplateError(where, 'unterminated raw string');
      toks.push({ t: 'str', v: text.slice(i + 1, j) });
      i = j + 1;
      continue;
    }
    if (c === '(' || c === ')' || c === '|' || c === ',') {
      toks.push({ t: 'punct', v: c });
      i++;
      continue;
    }
    if (text.startsWith(':=', i)) {
      toks.push({ t: 'punct', v: ':=' });
      i += 2;
      continue;
    }
    if (c === '=') {
      toks.push({ t: 'punct', v: '=' });
      i++;
      continue;
    }
    if (c === '$') {
      const m = /^\$[A-Za-z0-9_]*/.exec(text.slice(i)) as RegExpExecArray;
      i += m[0].length;
      toks.push({ t: 'var', v: m[0], fields: fieldChain() });
      continue;
    }
    if (c === '.') {
      if (!/[A-Za-z_]/.test(text[i + 1] ?? '')) {
        i++;
        toks.push({ t: 'field', v: [] });
        continue;
      }
      toks.push({ t: 'field', v: fieldChain() });
      continue;
    }
    const num = /^-?[0-9]+(\.[0-9]+)?/.exec(text.slice(i));
    if (num) {
      toks.push({ t: 'num', v: Number(num[0]) });
      i += num[0].length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (id) {
      toks.push({ t: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    throw new TemplateError(where, `unexpected character ${JSON.stringify(c)} in action`);
  }
  return toks;
}

// ---- parsing --------------------------------------------------------------------------------

type Arg =
  | { k: 'lit'; v: Value }
  | { k: 'field'; base: 'dot' | string; path: string[] }
  | { k: 'call'; fn: string; args: Arg[] }
  | { k: 'pipe'; p: Pipeline };
interface Pipeline {
  decl?: { names: string[]; assign: boolean };
  cmds: Arg[];
}

type Node =
  | { k: 'text'; text: string }
  | { k: 'out'; p: Pipeline; where: string }
  | { k: 'if'; branches: Array<{ p: Pipeline; body: Node[] }>; els: Node[]; where: string }
  | { k: 'with'; p: Pipeline; body: Node[]; els: Node[]; where: string }
  | { k: 'range'; p: Pipeline; body: Node[]; els: Node[]; where: string }
  | { k: 'include'; name: Pipeline; ctx: Pipeline; where: string };

function parsePipeline(toks: Tok[], where: string): Pipeline {
  let pos = 0;
  const p: Pipeline = { cmds: [] };
  // "$a := ..." / "$a, $b := ..." / "$a = ..."
  const declEnd = toks.findIndex((t) => t.t === 'punct' && (t.v === ':=' || t.v === '='));
  if (declEnd > 0) {
    const names = toks
      .slice(0, declEnd)
      .filter((t) => !(t.t === 'punct' && t.v === ','))
      .map((t) => {
        if (t.t !== 'var' || t.fields.length) throw new TemplateError(where, 'only variables can be declared or assigned');
        return t.v;
      });
    // Go's "$x = v" writes the variable of an enclosing block; block scopes here are copies, so
    // refuse it rather than render it differently.
    if ((toks[declEnd] as { v: string }).v === '=') throw new TemplateError(where, `assignment "${names.join(', ')} = ..." is not in the supported subset; declare with ":=" instead`);
    p.decl = { names, assign: false };
    pos = declEnd + 1;
  }
  const operand = (): Arg => {
    const t = toks[pos++];
    if (!t) throw new TemplateError(where, 'missing operand');
    switch (t.t) {
      case 'str':
        return { k: 'lit', v: t.v };
      case 'num':
        return { k: 'lit', v: t.v };
      case 'field':
        return { k: 'field', base: 'dot', path: t.v };
      case 'var':
        return { k: 'field', base: t.v, path: t.fields };
      case 'id':
        if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
        if (t.v === 'nil') return { k: 'lit', v: undefined };
        return { k: 'call', fn: t.v, args: [] };
      case 'punct':
        if (t.v === '(') {
          let depth = 1;
          const startPos = pos;
          while (pos < toks.length && depth > 0) {
            const x = toks[pos++] as Tok;
            if (x.t === 'punct' && x.v === '(') depth++;
            if (x.t === 'punct' && x.v === ')') depth--;
          }
          if (depth !== 0) throw new TemplateError(where, 'unbalanced parentheses');
          return { k: 'pipe', p: parsePipeline(toks.slice(startPos, pos - 1), where) };
        }
        throw new TemplateError(where, `unexpected ${JSON.stringify(t.v)}`);
    }
  };
  while (pos < toks.length) {
    const head = operand();
    const args: Arg[] = [];
    while (pos < toks.length && !(toks[pos]?.t === 'punct' && (toks[pos] as { v: string }).v === '|')) args.push(operand());
    if (head.k === 'call') {
      if (!Object.hasOwn(FUNCTIONS, head.fn) && head.fn !== 'include') throw new TemplateError(where, `function "${head.fn}" is not in the supported subset (${[...Object.keys(FUNCTIONS), 'include'].sort().join(', ')})`);
      head.args = args;
    } else if (args.length) throw new TemplateError(where, 'a value cannot take arguments');
    p.cmds.push(head);
    if (pos < toks.length) pos++; // the '|'
  }
  if (!p.cmds.length && !p.decl) throw new TemplateError(where, 'empty pipeline');
  return p;
}

interface Parsed {
  nodes: Node[];
  defines: Map<string, Node[]>;
}

function parse(src: string, name: string): Parsed {
  const pieces = split(src, name);
  const defines = new Map<string, Node[]>();
  let pos = 0;
  // Parses until one of `stops` (an action keyword); returns the nodes and the stopping action.
  const block = (stops: string[]): { nodes: Node[]; stop?: { word: string; rest: Tok[]; where: string } } => {
    const nodes: Node[] = [];
    while (pos < pieces.length) {
      const pc = pieces[pos++] as Piece;
      if (pc.kind === 'text') {
        if (pc.text) nodes.push({ k: 'text', text: pc.text });
        continue;
      }
      const where = `${name}:${pc.line}`;
      if (pc.text.startsWith('/*')) {
        if (!pc.text.endsWith('*/')) throw new TemplateError(where, 'a comment must be the whole action: {{/* ... */}}');
        continue;
      }
      const toks = tokenize(pc.text, where);
      const first = toks[0];
      const word = first?.t === 'id' ? first.v : '';
      const rest = toks.slice(1);
      if (['end', 'else'].includes(word)) {
        if (!stops.includes(word)) throw new TemplateError(where, `unexpected {{${word}}}`);
        return { nodes, stop: { word, rest, where } };
      }
      if (word === 'if') {
        const branches = [{ p: parsePipeline(rest, where), body: [] as Node[] }];
        let els: Node[] = [];
        for (;;) {
          const b = block(['else', 'end']);
          (branches[branches.length - 1] as { body: Node[] }).body = b.nodes;
          if (!b.stop) throw new TemplateError(where, '{{if}} without {{end}}');
          if (b.stop.word === 'end') break;
          if (b.stop.rest[0]?.t === 'id' && b.stop.rest[0].v === 'if') {
            branches.push({ p: parsePipeline(b.stop.rest.slice(1), b.stop.where), body: [] });
            continue;
          }
          const e = block(['end']);
          if (!e.stop) throw new TemplateError(where, '{{if}} without {{end}}');
          els = e.nodes;
          break;
        }
        nodes.push({ k: 'if', branches, els, where });
      } else if (word === 'with' || word === 'range') {
        const p = parsePipeline(rest, where);
        const b = block(['else', 'end']);
        if (!b.stop) throw new TemplateError(where, `{{${word}}} without {{end}}`);
        let els: Node[] = [];
        if (b.stop.word === 'else') {
          const e = block(['end']);
          if (!e.stop) throw new TemplateError(where, `{{${word}}} without {{end}}`);
          els = e.nodes;
        }
        nodes.push({ k: word, p, body: b.nodes, els, where });
      } else if (word === 'define') {
        const n = rest[0];
        if (n?.t !== 'str' || rest.length !== 1) throw new TemplateError(where, '{{define}} takes one quoted name');
        const b = block(['end']);
        if (!b.stop) throw new TemplateError(where, '{{define}} without {{end}}');
        defines.set(n.v, b.nodes);
      } else if (word === 'template') {
        const n = rest[0];
        if (n?.t !== 'str') throw new TemplateError(where, '{{template}} takes a quoted name');
        nodes.push({ k: 'include', name: { cmds: [{ k: 'lit', v: n.v }] }, ctx: rest.length > 1 ? parsePipeline(rest.slice(1), where) : { cmds: [{ k: 'field', base: 'dot', path: [] }] }, where });
      } else if (['block', 'break', 'continue', 'tpl'].includes(word)) {
        throw new TemplateError(where, `{{${word}}} is not in the supported subset`);
      } else {
        nodes.push({ k: 'out', p: parsePipeline(toks, where), where });
      }
    }
    return { nodes };
  };
  const top = block([]);
  return { nodes: top.nodes, defines };
}

// ---- evaluation -----------------------------------------------------------------------------

export function truthy(v: Value): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function toText(v: Value): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `[${v.map(toText).join(' ')}]`;
  return `map[${Object.entries(v as Record<string, Value>)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, x]) => `${k}:${toText(x)}`)
    .join(' ')}]`;
}

function indentLines(n: number, s: string): string {
  const pad = ' '.repeat(n);
  return s
    .split('\n')
    .map((l) => pad + l)
    .join('\n');
}

function num(v: Value, fn: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new Error(`${fn}: ${JSON.stringify(v)} is not a number`);
  return n;
}

export interface RenderHooks {
  /** Helm's lookup: the live object, or undefined (as with `helm template`, which sees no cluster). */
  lookup?: (apiVersion: string, kind: string, namespace: string, name: string) => Record<string, unknown> | undefined;
  /** Random source for randAlphaNum (tests make it deterministic). */
  random?: (n: number) => number;
}

type Fn = (hooks: RenderHooks, ...args: Value[]) => Value;
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Functions of the subset; semantics follow Go templates and Sprig/Helm. The piped value is the last argument. */
const FUNCTIONS: Record<string, Fn> = {
  // Helm's toYaml goes through JSON, so map keys come out sorted.
  toYaml: (_h, v) => (v === undefined || v === null ? 'null' : stringify(v, { lineWidth: 0, sortMapEntries: true }).replace(/\n$/, '')),
  toJson: (_h, v) => JSON.stringify(v ?? null),
  indent: (_h, n, s) => indentLines(num(n, 'indent'), toText(s)),
  nindent: (_h, n, s) => `\n${indentLines(num(n, 'nindent'), toText(s))}`,
  quote: (_h, ...vs) => vs.map((v) => JSON.stringify(toText(v))).join(' '),
  squote: (_h, ...vs) => vs.map((v) => `'${toText(v)}'`).join(' '),
  default: (_h, d, v) => (truthy(v) ? v : d),
  required: (_h, msg, v) => {
    if (v === undefined || v === null || v === '') throw new Error(toText(msg));
    return v;
  },
  b64enc: (_h, v) => Buffer.from(toText(v)).toString('base64'),
  b64dec: (_h, v) => Buffer.from(toText(v), 'base64').toString('utf8'),
  randAlphaNum: (h, n) => {
    const r = h.random ?? ((k: number) => randomInt(k));
    return Array.from({ length: num(n, 'randAlphaNum') }, () => ALNUM[r(ALNUM.length)]).join('');
  },
  lookup: (h, apiVersion, kind, namespace, name) => h.lookup?.(toText(apiVersion), toText(kind), toText(namespace), toText(name)) ?? {},
  printf: (_h, fmt, ...args) => {
    let i = 0;
    return toText(fmt).replace(/%[sdvq%]/g, (m) => {
      if (m === '%%') return '%';
      const a = args[i++];
      return m === '%q' ? JSON.stringify(toText(a)) : toText(a);
    });
  },
  trunc: (_h, n, s) => toText(s).slice(0, num(n, 'trunc')),
  trimSuffix: (_h, suf, s) => (toText(s).endsWith(toText(suf)) ? toText(s).slice(0, -toText(suf).length) : toText(s)),
  lower: (_h, s) => toText(s).toLowerCase(),
  toString: (_h: RenderHooks, v: Value) => toText(v),
  int: (_h, v) => Math.trunc(num(v, 'int')),
  join: (_h, sep, list) => (Array.isArray(list) ? list.map(toText).join(toText(sep)) : toText(list)),
  list: (_h, ...vs) => vs,
  dict: (_h, ...kv) => {
    const o: Record<string, Value> = {};
    for (let i = 0; i + 1 < kv.length; i += 2) o[toText(kv[i])] = kv[i + 1];
    return o;
  },
  hasKey: (_h, m, k) => typeof m === 'object' && m !== null && Object.hasOwn(m, toText(k)),
  index: (_h, m, ...keys) => keys.reduce<Value>((acc, k) => (acc === undefined || acc === null ? undefined : (acc as Record<string, Value>)[toText(k)]), m),
  empty: (_h, v) => !truthy(v),
  not: (_h, v) => !truthy(v),
  and: (_h, ...vs) => vs.find((v) => !truthy(v)) ?? vs[vs.length - 1],
  or: (_h, ...vs) => vs.find((v) => truthy(v)) ?? vs[vs.length - 1],
  eq: (_h, a, ...bs) => bs.some((b) => a === b),
  ne: (_h, a, b) => a !== b,
  lt: (_h, a, b) => num(a, 'lt') < num(b, 'lt'),
  le: (_h, a, b) => num(a, 'le') <= num(b, 'le'),
  gt: (_h, a, b) => num(a, 'gt') > num(b, 'gt'),
  ge: (_h, a, b) => num(a, 'ge') >= num(b, 'ge'),
};

interface Scope {
  dot: Value;
  vars: Map<string, Value>;
}

export interface TemplateSet {
  /** Renders the named file with `data` as "." and "$". */
  render(name: string, data: Value, hooks?: RenderHooks): string;
  names(): string[];
}

/** Parses every file (name → text); `define`s from any file are visible to all, as in Helm. */
export function parseTemplates(files: ReadonlyMap<string, string>): TemplateSet {
  const parsed = new Map<string, Node[]>();
  const defines = new Map<string, Node[]>();
  for (const [name, text] of files) {
    const p = parse(text, name);
    parsed.set(name, p.nodes);
    for (const [d, body] of p.defines) defines.set(d, body);
  }

  const evalPipe = (p: Pipeline, scope: Scope, hooks: RenderHooks, where: string): Value => {
    let v: Value;
    let first = true;
    for (const cmd of p.cmds) {
      v = evalArg(cmd, scope, hooks, where, first ? undefined : { v });
      first = false;
    }
    if (p.decl) {
      const names = p.decl.names;
      for (const n of names) {
        if (p.decl.assign && !scope.vars.has(n)) throw new TemplateError(where, `assignment to undeclared variable ${n}`);
        scope.vars.set(n, v);
      }
      return undefined;
    }
    return v;
  };

  const evalArg = (a: Arg, scope: Scope, hooks: RenderHooks, where: string, piped?: { v: Value }): Value => {
    switch (a.k) {
      case 'lit':
        if (piped) throw new TemplateError(where, 'cannot pipe into a literal');
        return a.v;
      case 'pipe':
        if (piped) throw new TemplateError(where, 'cannot pipe into a parenthesised pipeline');
        return evalPipe(a.p, { dot: scope.dot, vars: scope.vars }, hooks, where);
      case 'field': {
        if (piped) throw new TemplateError(where, 'cannot pipe into a field');
        let v: Value;
        if (a.base === 'dot') v = scope.dot;
        else if (scope.vars.has(a.base)) v = scope.vars.get(a.base);
        else throw new TemplateError(where, `undefined variable ${a.base}`);
        for (const f of a.path) v = v === undefined || v === null || typeof v !== 'object' ? undefined : (v as Record<string, Value>)[f];
        return v;
      }
      case 'call': {
        const args = a.args.map((x) => evalArg(x, scope, hooks, where));
        if (piped) args.push(piped.v);
        if (a.fn === 'include') {
          const [n, ctx] = args;
          return renderDefine(toText(n), ctx, hooks, where);
        }
        try {
          return (FUNCTIONS[a.fn] as Fn)(hooks, ...args);
        } catch (err) {
          throw new TemplateError(where, `${a.fn}: ${(err as Error).message}`);
        }
      }
    }
  };

  const renderDefine = (name: string, ctx: Value, hooks: RenderHooks, where: string): string => {
    const body = defines.get(name);
    if (!body) throw new TemplateError(where, `no template named "${name}" is defined`);
    return renderNodes(body, { dot: ctx, vars: new Map([['$', ctx]]) }, hooks);
  };

  const renderNodes = (nodes: Node[], scope: Scope, hooks: RenderHooks): string => {
    let out = '';
    for (const n of nodes) {
      switch (n.k) {
        case 'text':
          out += n.text;
          break;
        case 'out': {
          const v = evalPipe(n.p, scope, hooks, n.where);
          if (!n.p.decl) out += toText(v);
          break;
        }
        case 'include':
          out += renderDefine(toText(evalPipe(n.name, scope, hooks, n.where)), evalPipe(n.ctx, scope, hooks, n.where), hooks, n.where);
          break;
        case 'if': {
          const inner: Scope = { dot: scope.dot, vars: new Map(scope.vars) };
          const b = n.branches.find((br) => truthy(evalPipe(br.p, inner, hooks, n.where)));
          out += renderNodes(b ? b.body : n.els, inner, hooks);
          break;
        }
        case 'with': {
          const inner: Scope = { dot: scope.dot, vars: new Map(scope.vars) };
          const v = evalPipe(n.p.decl ? { cmds: n.p.cmds } : n.p, inner, hooks, n.where);
          if (n.p.decl) for (const name of n.p.decl.names) inner.vars.set(name, v);
          out += truthy(v) ? renderNodes(n.body, { dot: v, vars: inner.vars }, hooks) : renderNodes(n.els, inner, hooks);
          break;
        }
        case 'range': {
          const inner: Scope = { dot: scope.dot, vars: new Map(scope.vars) };
          const v = evalPipe({ cmds: n.p.cmds }, inner, hooks, n.where);
          const entries: Array<[Value, Value]> = Array.isArray(v)
            ? v.map((x, i) => [i, x])
            : v && typeof v === 'object'
              ? Object.keys(v)
                  .sort()
                  .map((k) => [k, (v as Record<string, Value>)[k]])
              : typeof v === 'number'
                ? Array.from({ length: v }, (_, i) => [i, i])
                : [];
          if (v !== undefined && v !== null && typeof v !== 'object' && typeof v !== 'number') throw new TemplateError(n.where, `range over ${typeof v} is not allowed`);
          if (!entries.length) {
            out += renderNodes(n.els, inner, hooks);
            break;
          }
          const names = n.p.decl?.names ?? [];
          for (const [k, x] of entries) {
            const vars = new Map(inner.vars);
            if (names.length === 1) vars.set(names[0] as string, x);
            if (names.length === 2) {
              vars.set(names[0] as string, k);
              vars.set(names[1] as string, x);
            }
            out += renderNodes(n.body, { dot: x, vars }, hooks);
          }
          break;
        }
      }
    }
    return out;
  };

  return {
    names: () => [...parsed.keys()],
    render: (name, data, hooks = {}) => {
      const nodes = parsed.get(name);
      if (!nodes) throw new Error(`no template file ${name}`);
      return renderNodes(nodes, { dot: data, vars: new Map([['$', data]]) }, hooks);
    },
  };
}
