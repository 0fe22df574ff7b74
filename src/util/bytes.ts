// The one byte reader and writer under the wire codecs (BGP, BFD, Layer 2, membership): network
// byte order, every read bounds-checked against the end of the field being read. Pure. A reader
// throws its codec's own typed error: the codec passes `fail`, which turns the field that ran
// short into that error (a BgpError with its NOTIFICATION codes, a BfdDecodeError, ...).

/** Where a read ran short, for the codec's message. */
export interface Shortfall {
  /** Bytes the read needed. */
  need: number;
  /** Offset of the read in the reader's buffer. */
  offset: number;
  /** Bytes that were left before the end. */
  left: number;
}

export type Fail = (what: string, at: Shortfall) => Error;

/** A plain RangeError naming the field, where a codec has no error type of its own. */
export const truncated: Fail = (what, at) => new RangeError(`truncated: ${what} needs ${at.need} bytes at offset ${at.offset}, ${at.left} left`);

export class ByteReader {
  readonly buf: Buffer;
  /** Offset of the next read. */
  offset: number;
  /** Offset just past the last readable byte. */
  readonly end: number;
  readonly #fail: Fail;

  constructor(buf: Uint8Array, fail: Fail = truncated, start = 0, end = buf.byteLength) {
    this.buf = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
    this.offset = start;
    this.end = Math.min(end, this.buf.length);
    this.#fail = fail;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  /** Throws the codec's error unless `n` more bytes are there. */
  need(n: number, what: string): void {
    if (this.offset + n > this.end) throw this.#fail(what, { need: n, offset: this.offset, left: this.end - this.offset });
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.offset++]!;
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64BE(this.offset);
    this.offset += 8;
    return v;
  }

  /** The next `n` bytes, a view into the buffer (copy it to keep it). */
  bytes(n: number, what: string): Buffer {
    this.need(n, what);
    const b = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return b;
  }

  /** The next `n` bytes as UTF-8 text. */
  utf8(n: number, what: string): string {
    this.need(n, what);
    const s = this.buf.toString('utf8', this.offset, this.offset + n);
    this.offset += n;
    return s;
  }

  skip(n: number, what: string): void {
    this.need(n, what);
    this.offset += n;
  }

  /** A reader over the next `n` bytes (a length-prefixed field), with the same error; skips them here. */
  sub(n: number, what: string, fail: Fail = this.#fail): ByteReader {
    this.need(n, what);
    const r = new ByteReader(this.buf, fail, this.offset, this.offset + n);
    this.offset += n;
    return r;
  }

  /** Everything left, as a view. */
  rest(): Buffer {
    const b = this.buf.subarray(this.offset, this.end);
    this.offset = this.end;
    return b;
  }
}

export class ByteWriter {
  readonly buf: Buffer;
  offset: number;

  /** A writer into a new buffer of `size` bytes, or into `buf` from `offset`. */
  constructor(size: number);
  constructor(buf: Buffer, offset?: number);
  constructor(a: number | Buffer, offset = 0) {
    this.buf = typeof a === 'number' ? Buffer.alloc(a) : a;
    this.offset = offset;
  }

  u8(v: number): this {
    this.buf.writeUInt8(v, this.offset++);
    return this;
  }

  u16(v: number): this {
    this.buf.writeUInt16BE(v, this.offset);
    this.offset += 2;
    return this;
  }

  u32(v: number): this {
    this.buf.writeUInt32BE(v >>> 0, this.offset);
    this.offset += 4;
    return this;
  }

  u64(v: bigint): this {
    this.buf.writeBigUInt64BE(v, this.offset);
    this.offset += 8;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.buf.set(b, this.offset);
    this.offset += b.length;
    return this;
  }

  utf8(s: string): this {
    this.offset += this.buf.write(s, this.offset, 'utf8');
    return this;
  }

  /** `n` bytes of `value`. */
  fill(value: number, n: number): this {
    this.buf.fill(value, this.offset, this.offset + n);
    this.offset += n;
    return this;
  }

  /** The buffer, checking that exactly its size was written (a size computed ahead must match). */
  done(): Buffer {
    if (this.offset !== this.buf.length) throw new Error(`encoder size mismatch: wrote ${this.offset} of ${this.buf.length} bytes`);
    return this.buf;
  }
}
