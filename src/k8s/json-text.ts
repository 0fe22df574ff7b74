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

const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COLON = 0x3a;
const ITEMS = [0x69, 0x74, 0x65, 0x6d, 0x73]; // items

/**
 * Reads the JSON text of a list as it arrives, in byte chunks split anywhere: each element of the
 * top-level `items` array is handed to `onItem` as soon as it is complete (its own text), and
 * `end()` gives the rest (`"items":[]`, with the metadata). A page therefore never exists whole,
 * neither as text nor as objects: a page holding twelve Services of 10,000 ports and fifty of 200 KB
 * annotations was some 35 MB of text, then as much again parsed, in one ~100 ms step. Structural
 * characters are ASCII and never part of a UTF-8 sequence, so bytes are scanned, and only whole
 * elements are decoded. Pure: no I/O, no timers.
 */
export class ListScanner {
  #onItem: (text: string) => void;
  #depth = 0;
  #inString = false;
  #escape = false;
  /** At depth 1 the next string is a member name. */
  #expectKey = false;
  /** The top-level object has ended. */
  #closed = false;
  /** Reading a member name at depth 1: bytes of "items" matched so far (-2: another name); -1: not a member name. */
  #keyAt = -1;
  #key = '';
  /** The member named items was read; its value comes next. */
  #itemsValue = false;
  #inItems = false;
  #itemsSeen = false;
  #inElement = false;
  #elementFrom = 0;
  #element: Uint8Array[] = [];
  #envelopeFrom = 0;
  #envelope: Uint8Array[] = [];
  #error: string | undefined;
  /** Bytes read so far (for messages). */
  #offset = 0;

  constructor(onItem: (text: string) => void) {
    this.#onItem = onItem;
  }

  #fail(why: string, at: number): void {
    this.#error ??= `${why} at byte ${this.#offset + at}`;
  }

  #emit(chunk: Uint8Array, end: number): void {
    this.#element.push(chunk.subarray(this.#elementFrom, end));
    const text = Buffer.concat(this.#element).toString('utf8');
    this.#element = [];
    this.#inElement = false;
    this.#onItem(text);
  }

  /** One chunk of the body. Throws what `onItem` throws. */
  push(chunk: Uint8Array): void {
    if (this.#error !== undefined) return;
    this.#envelopeFrom = 0;
    this.#elementFrom = 0;
    const n = chunk.length;
    // The next backslash in the chunk (found once, not per string: most chunks have none).
    let nextEscape = chunk.indexOf(BACKSLASH);
    if (nextEscape < 0) nextEscape = n;
    for (let i = 0; i < n; i++) {
      const b = chunk[i] as number;
      if (this.#inString) {
        if (this.#escape) {
          this.#escape = false;
          continue;
        }
        if (this.#keyAt < 0) {
          // Not a member name to match: jump to the next quote or backslash.
          if (nextEscape < i) {
            nextEscape = chunk.indexOf(BACKSLASH, i);
            if (nextEscape < 0) nextEscape = n;
          }
          const q = chunk.indexOf(QUOTE, i);
          const next = q < 0 ? nextEscape : Math.min(q, nextEscape);
          if (next >= n) break;
          i = next;
        }
        const c = chunk[i] as number;
        if (c === BACKSLASH) {
          this.#escape = true;
          if (this.#keyAt >= 0) this.#keyAt = -2;
        } else if (c === QUOTE) {
          this.#inString = false;
          if (this.#keyAt !== -1) {
            this.#key = this.#keyAt === ITEMS.length ? 'items' : '?';
            this.#keyAt = -1;
          }
        } else if (this.#keyAt >= 0) {
          this.#keyAt = this.#keyAt < ITEMS.length && c === ITEMS[this.#keyAt] ? this.#keyAt + 1 : -2;
        }
        continue;
      }
      if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) continue;
      if (this.#itemsValue) {
        this.#itemsValue = false;
        if (b !== OPEN_BRACKET) return this.#fail('"items" is not an array', i);
        this.#envelope.push(chunk.subarray(this.#envelopeFrom, i + 1));
        this.#inItems = true;
        this.#itemsSeen = true;
        this.#depth++;
        continue;
      }
      if (this.#depth === 0 && (this.#closed || b !== OPEN_BRACE)) return this.#fail(this.#closed ? 'text after the list' : 'not a JSON object', i);
      if (this.#inItems && this.#depth === 2 && !this.#inElement && b !== COMMA && b !== CLOSE_BRACKET) {
        this.#inElement = true;
        this.#elementFrom = i;
      }
      switch (b) {
        case QUOTE:
          this.#inString = true;
          this.#keyAt = this.#depth === 1 && this.#expectKey ? 0 : -1;
          break;
        case OPEN_BRACE:
        case OPEN_BRACKET:
          if (++this.#depth === 1) this.#expectKey = true;
          break;
        case CLOSE_BRACE:
        case CLOSE_BRACKET:
          if (this.#inItems && this.#depth === 2) {
            if (b !== CLOSE_BRACKET) return this.#fail('unbalanced "items" array', i);
            if (this.#inElement) this.#emit(chunk, i);
            this.#inItems = false;
            this.#envelopeFrom = i;
          }
          if (--this.#depth === 0) this.#closed = true;
          if (this.#inItems && this.#inElement && this.#depth === 2) this.#emit(chunk, i + 1);
          break;
        case COMMA:
          if (this.#depth === 1) this.#expectKey = true;
          else if (this.#inItems && this.#depth === 2 && this.#inElement) this.#emit(chunk, i);
          break;
        case COLON:
          if (this.#depth === 1) {
            this.#expectKey = false;
            if (this.#key === 'items' && !this.#itemsSeen) this.#itemsValue = true;
            this.#key = '';
          }
          break;
        default:
          break;
      }
    }
    if (this.#inElement) this.#element.push(chunk.subarray(this.#elementFrom));
    else if (!this.#inItems) this.#envelope.push(chunk.subarray(this.#envelopeFrom));
    this.#offset += n;
  }

  /** The list without its elements (`"items":[]`); throws when the text was not a JSON object with an items array. */
  end(): string {
    if (this.#error === undefined && (this.#depth !== 0 || this.#inString)) this.#error = `the text ends inside a value (${this.#offset} bytes)`;
    if (this.#error === undefined && !this.#itemsSeen) this.#error = 'no "items" array';
    if (this.#error !== undefined) throw new Error(`not a list: ${this.#error}`);
    return Buffer.concat(this.#envelope).toString('utf8');
  }
}
