// The JSONPath subset CRD printer columns use: `.a.b`, `.a[0]`, `.a[*].b`, `.a[?(@.type=="Ready")].status`.
type Step = { kind: 'field'; name: string } | { kind: 'index'; i: number } | { kind: 'all' } | { kind: 'filter'; path: string[]; op: '==' | '!='; value: string };

function parse(expr: string): Step[] {
  let s = expr.trim();
  if (s.startsWith('{') && s.endsWith('}')) s = s.slice(1, -1);
  if (s.startsWith('$')) s = s.slice(1);
  const steps: Step[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] === '.') {
      const m = /^\.([A-Za-z0-9_\-/]+)/.exec(s.slice(i));
      if (!m) throw new Error(`bad JSONPath ${expr} at ${i}`);
      steps.push({ kind: 'field', name: m[1]! });
      i += m[0].length;
    } else if (s[i] === '[') {
      const end = s.indexOf(']', i);
      if (end < 0) throw new Error(`bad JSONPath ${expr}: unclosed [`);
      const inner = s.slice(i + 1, end).trim();
      i = end + 1;
      if (inner === '*') steps.push({ kind: 'all' });
      else if (/^-?\d+$/.test(inner)) steps.push({ kind: 'index', i: Number(inner) });
      else if (/^'.*'$|^".*"$/.test(inner)) steps.push({ kind: 'field', name: inner.slice(1, -1) });
      else {
        const m = /^\?\(@((?:\.[A-Za-z0-9_\-/]+)+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|(\S+))\)$/.exec(inner);
        if (!m) throw new Error(`unsupported JSONPath filter [${inner}] in ${expr}`);
        steps.push({ kind: 'filter', path: m[1]!.slice(1).split('.'), op: m[2] as '==' | '!=', value: m[3] ?? m[4] ?? m[5] ?? '' });
      }
    } else throw new Error(`bad JSONPath ${expr} at ${i}`);
  }
  return steps;
}

function dig(v: unknown, path: readonly string[]): unknown {
  let cur = v;
  for (const p of path) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[p] : undefined;
  return cur;
}

/** Every value the expression selects in `root` (none when a step does not apply). */
export function jsonPath(root: unknown, expr: string): unknown[] {
  let cur: unknown[] = [root];
  for (const st of parse(expr)) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (st.kind === 'field') {
        if (v !== null && typeof v === 'object' && !Array.isArray(v) && (v as Record<string, unknown>)[st.name] !== undefined) next.push((v as Record<string, unknown>)[st.name]);
      } else if (!Array.isArray(v)) continue;
      else if (st.kind === 'index') {
        const e = v[st.i < 0 ? v.length + st.i : st.i];
        if (e !== undefined) next.push(e);
      } else if (st.kind === 'all') next.push(...v);
      else next.push(...v.filter((e) => (String(dig(e, st.path)) === st.value) === (st.op === '==')));
    }
    cur = next;
  }
  return cur;
}
