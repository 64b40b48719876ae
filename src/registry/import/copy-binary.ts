/**
 * Rows for PostgreSQL's binary COPY format (PostgreSQL documentation, "COPY", section "Binary
 * Format"): a signature and header, then per tuple a 16-bit field count and per field a 32-bit
 * length (-1 for NULL) followed by the value in the type's binary send format, then a 16-bit -1
 * trailer. The import writes its new rows so (issue 2 benchmark): bytea travels as raw bytes
 * instead of hex text, which halves the bytes PostgreSQL parses per row, and the worker threads
 * build one transferable buffer per chunk instead of a string per field.
 *
 * Only the types the registry tables use: uuid, bytea, int4, int8, text and timestamptz
 * (microseconds since 2000-01-01 UTC, PostgreSQL's integer datetimes, the only kind since 10).
 */

/** `PGCOPY\n\377\r\n\0`, flags 0, header extension length 0. */
export const COPY_BINARY_HEADER: Buffer = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
/** A field count of -1 ends the data. */
export const COPY_BINARY_TRAILER: Buffer = Buffer.from([0xff, 0xff]);

const POSTGRES_EPOCH_MS = Date.UTC(2000, 0, 1);

/** A growing buffer of binary COPY tuples (without header and trailer). */
export class CopyTupleWriter {
  private buf: Buffer;
  private at = 0;

  constructor(initialBytes = 64 * 1024) {
    // Its own ArrayBuffer (never Node's shared pool), so that it can be transferred to another thread.
    this.buf = Buffer.from(new ArrayBuffer(Math.max(1024, initialBytes)));
  }

  get length(): number {
    return this.at;
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + n) size *= 2;
    const grown = Buffer.from(new ArrayBuffer(size));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }

  /** Starts a tuple of `fields` fields. */
  tuple(fields: number): this {
    this.room(2);
    this.buf.writeInt16BE(fields, this.at);
    this.at += 2;
    return this;
  }

  null(): this {
    this.room(4);
    this.buf.writeInt32BE(-1, this.at);
    this.at += 4;
    return this;
  }

  bytea(b: Uint8Array | null): this {
    if (b === null) return this.null();
    this.room(4 + b.length);
    this.buf.writeInt32BE(b.length, this.at);
    this.buf.set(b, this.at + 4);
    this.at += 4 + b.length;
    return this;
  }

  /** A UUID given in its text form (8-4-4-4-12 hex digits, either case). */
  uuid(id: string): this {
    // Read with a table rather than five hex Buffer.write calls: two UUIDs per imported row (its
    // id and its run's) made the writes a few per cent of a worker's time (issue 2 benchmark).
    if (id.length !== 36) throw new TypeError('not a UUID');
    this.room(20);
    this.buf.writeInt32BE(16, this.at);
    let p = this.at + 4;
    for (let i = 0; i < 36;) {
      if (i === 8 || i === 13 || i === 18 || i === 23) {
        if (id.charCodeAt(i) !== 0x2d) throw new TypeError('not a UUID');
        i += 1;
        continue;
      }
      const hi = HEX_VALUE[id.charCodeAt(i)] ?? -1;
      const lo = HEX_VALUE[id.charCodeAt(i + 1)] ?? -1;
      if (hi < 0 || lo < 0) throw new TypeError('not a UUID');
      this.buf[p++] = (hi << 4) | lo;
      i += 2;
    }
    this.at = p;
    return this;
  }

  int4(n: number): this {
    this.room(8);
    this.buf.writeInt32BE(4, this.at);
    this.buf.writeInt32BE(n, this.at + 4);
    this.at += 8;
    return this;
  }

  int8(n: number): this {
    this.room(12);
    this.buf.writeInt32BE(8, this.at);
    writeInt64(this.buf, n, this.at + 4);
    this.at += 12;
    return this;
  }

  /** Text in UTF-8 (the hub's connections use client_encoding UTF8); '' is an empty string, not NULL. */
  text(s: string | null): this {
    if (s === null) return this.null();
    const n = Buffer.byteLength(s, 'utf8');
    this.room(4 + n);
    this.buf.writeInt32BE(n, this.at);
    this.buf.write(s, this.at + 4, 'utf8');
    this.at += 4 + n;
    return this;
  }

  /** An instant given as an ISO 8601 string with its offset (the validated rows' form); '' or null is NULL. */
  timestamptz(iso: string | null): this {
    if (iso === null || iso === '') return this.null();
    const ms = Date.parse(iso);
    if (Number.isNaN(ms)) throw new TypeError('not an ISO 8601 instant');
    this.room(12);
    this.buf.writeInt32BE(8, this.at);
    writeMicroseconds(this.buf, ms - POSTGRES_EPOCH_MS, this.at + 4);
    this.at += 12;
    return this;
  }

  /** The tuples written, as a view of a transferable buffer. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.at);
  }
}

/** A safe integer as a big-endian two's-complement int64, without a BigInt per value. */
function writeInt64(buf: Buffer, n: number, at: number): void {
  if (!Number.isSafeInteger(n)) throw new RangeError('not a safe integer');
  const high = Math.floor(n / 0x1_0000_0000);
  buf.writeInt32BE(high, at);
  buf.writeUInt32BE(n - high * 0x1_0000_0000, at + 4);
}

/**
 * Milliseconds as a big-endian int64 of microseconds. The product can pass 2^53 (from about the
 * year 2285 on), so it is formed in two 32-bit halves, exactly.
 */
function writeMicroseconds(buf: Buffer, ms: number, at: number): void {
  if (!Number.isSafeInteger(ms)) throw new RangeError('not a safe integer');
  const highMs = Math.floor(ms / 0x1_0000_0000);
  const lowMicros = (ms - highMs * 0x1_0000_0000) * 1000; // below 2^42
  const carry = Math.floor(lowMicros / 0x1_0000_0000);
  buf.writeInt32BE(highMs * 1000 + carry, at);
  buf.writeUInt32BE(lowMicros - carry * 0x1_0000_0000, at + 4);
}

/** Hex digit values by character code; -1 for every other character. */
const HEX_VALUE: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < 10; i++) table[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    table[0x41 + i] = 10 + i;
    table[0x61 + i] = 10 + i;
  }
  return table;
})();
