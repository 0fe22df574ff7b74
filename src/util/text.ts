// User-provided text in Event messages, logs and admission answers: cut to a bound and made
// printable. A Service annotation may hold 256 KiB, control characters and bidirectional overrides
// that make a terminal or `kubectl describe` show something other than what is stored; every such
// value passes through `clip` (or `quote`) before it reaches a message.

/** Default bound for one value inside a message. */
export const MAX_VALUE = 256;

// C0 and C1 controls, DEL, and the invisible or direction-changing format characters (ALM, zero
// width, LRM/RLM, line and paragraph separators, embeddings and overrides, isolates, BOM).
// eslint-disable-next-line no-control-regex
const HOSTILE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;

const escapeChar = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * At most `max` characters of `value` (plus a note of how many were cut), with hostile characters
 * written as `\uXXXX` escapes. Never splits a surrogate pair or an escape. Non-strings are shown
 * as JSON first. Work is bounded by `max`, not by the length of the value.
 */
export function clip(value: unknown, max = MAX_VALUE): string {
  const s = typeof value === 'string' ? value : value === undefined ? 'undefined' : safeJson(value, max);
  if (s.length <= max && !HOSTILE.test(s)) return s; // the common case: nothing to do
  let out = '';
  let i = 0;
  for (; i < s.length; i++) {
    let c = s[i] as string;
    const code = c.charCodeAt(0);
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < s.length) c = s.slice(i, i + 2);
    const piece = c.length === 1 && HOSTILE.test(c) ? escapeChar(c) : c;
    if (out.length + piece.length > max) break;
    out += piece;
    i += c.length - 1;
  }
  return i < s.length ? `${out}… (${s.length - i} more characters)` : out;
}

/** `clip` in double quotes: a value shown inside a sentence. */
export function quote(value: unknown, max = MAX_VALUE): string {
  return `"${clip(value, max)}"`;
}

function safeJson(value: unknown, max: number): string {
  try {
    const j = JSON.stringify(value);
    return j === undefined ? String(value) : j.length > max * 4 ? j.slice(0, max * 4) : j;
  } catch {
    return String(value);
  }
}

/**
 * The parts as one flat string. In V8 `a + b` (and a template) of 13 or more characters is a rope:
 * 32 bytes pointing at both parts, which stay alive with it; kept once per Service (its key, its
 * route's prefix), ropes and their parts cost megabytes at 100k. A join builds one flat string.
 */
export const joined = (...parts: string[]): string => parts.join('');
