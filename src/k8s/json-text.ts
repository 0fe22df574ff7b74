// Text-level trimming of the API server's JSON before it is parsed (pure). A list page of 500
// Services is some 770 KB, about half of it managedFields: thousands of small objects per page that
// JSON.parse would build only for the cache view to drop them (and a Service with 10,000 ports
// carries some 60,000 of them). Cutting them out of the text first halves what is parsed and
// collected.

const KEY = '"managedFields":';
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;

/** Index just past the string whose opening quote is at `i`, or -1 (unterminated). */
function skipString(text: string, i: number): number {
  for (let j = i + 1; j < text.length; ) {
    const q = text.indexOf('"', j);
    if (q < 0) return -1;
    // Escaped when preceded by an odd number of backslashes.
    let n = 0;
    while (text.charCodeAt(q - 1 - n) === BACKSLASH) n++;
    if (n % 2 === 0) return q + 1;
    j = q + 1;
  }
  return -1;
}

/** Index just past the JSON value starting at `i` (no leading whitespace), or -1 when it does not end. */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return skipString(text, i);
  if (c !== OPEN_BRACE && c !== 0x5b /* [ */) {
    // A number or a literal: up to the next delimiter.
    let j = i;
    while (j < text.length && !',}] \t\r\n'.includes(text[j] as string)) j++;
    return j > i ? j : -1;
  }
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const d = text.charCodeAt(j);
    if (d === QUOTE) {
      j = skipString(text, j) - 1;
      if (j < 0) return -1;
    } else if (d === OPEN_BRACE || d === 0x5b) depth++;
    else if (d === 0x7d /* } */ || d === 0x5d /* ] */) {
      if (--depth === 0) return j + 1;
    }
  }
  return -1;
}

/**
 * The compact JSON text without its members named managedFields (the API server writes one in
 * each object's metadata). A literal `"managedFields":` is always such a member: a quote inside a
 * string is escaped, and no value is followed by a letter. Members it cannot cut cleanly (text that
 * is not compact, or not valid JSON) are left for JSON.parse, which then keeps them or fails as it
 * would have.
 */
export function dropManagedFields(text: string): string {
  let at = text.indexOf(KEY);
  if (at < 0) return text;
  const parts: string[] = [];
  let from = 0;
  while (at >= 0) {
    const before = text.charCodeAt(at - 1);
    const end = before === COMMA || before === OPEN_BRACE ? skipValue(text, at + KEY.length) : -1;
    if (end < 0) {
      at = text.indexOf(KEY, at + KEY.length);
      continue;
    }
    if (before === COMMA) {
      // `,"managedFields":V` goes.
      parts.push(text.slice(from, at - 1));
      from = end;
    } else {
      // `{"managedFields":V,` goes (or `"managedFields":V` when it is the only member).
      parts.push(text.slice(from, at));
      from = text.charCodeAt(end) === COMMA ? end + 1 : end;
    }
    at = text.indexOf(KEY, from);
  }
  parts.push(text.slice(from));
  return parts.join('');
}

/**
 * Where the elements of a list's top-level `items` array are in the compact JSON text of the list,
 * and the list without them (`"items":[]`, for its metadata): each element can then be cut,
 * parsed and reduced on its own, so a page never exists as objects all at once (a page holding
 * twelve Services of 10,000 ports was ~13 MB parsed in one ~100 ms step, all of it garbage a
 * moment later). undefined when the text is not a compact JSON object with an `items` array; the
 * caller parses it whole then, which fails as it would have.
 */
export function listItemRanges(text: string): { envelope: string; items: Array<[number, number]> } | undefined {
  if (text.charCodeAt(0) !== OPEN_BRACE) return undefined;
  let at: [number, number] | undefined;
  const items: Array<[number, number]> = [];
  let i = 1;
  if (text.charCodeAt(i) === 0x7d) return undefined;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return undefined;
    const keyEnd = skipString(text, i);
    if (keyEnd < 0 || text.charCodeAt(keyEnd) !== 0x3a /* : */) return undefined;
    const v = keyEnd + 1;
    let end: number;
    if (at === undefined && keyEnd - i === 7 && text.startsWith('"items"', i) && text.charCodeAt(v) === 0x5b /* [ */) {
      let j = v + 1;
      if (text.charCodeAt(j) === 0x5d /* ] */) end = j + 1;
      else {
        for (;;) {
          const e = skipValue(text, j);
          if (e < 0) return undefined;
          items.push([j, e]);
          const c = text.charCodeAt(e);
          if (c === COMMA) j = e + 1;
          else if (c === 0x5d) {
            end = e + 1;
            break;
          } else return undefined;
        }
      }
      at = [v, end];
    } else {
      end = skipValue(text, v);
      if (end < 0) return undefined;
    }
    const c = text.charCodeAt(end);
    if (c === COMMA) i = end + 1;
    else if (c === 0x7d && text.slice(end + 1).trim() === '') break;
    else return undefined;
  }
  if (at === undefined) return undefined;
  return { envelope: `${text.slice(0, at[0])}[]${text.slice(at[1])}`, items };
}
