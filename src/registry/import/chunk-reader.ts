/**
 * Reads a registry file in chunks of whole lines, in constant memory, for the import workers to
 * parse (record-parser.ts). A record is one line in every format (record-parser.ts says why), so
 * the only work left on the coordinating thread is finding the chunk's last line break: it never
 * reads quotes, and a stray or unclosed quote cannot move a cut (nor the line numbers after it).
 *
 * A CSV file's first line is its header; the format is chosen by the file name's ending.
 */
import { accessSync, constants, createReadStream, statSync, type Stats } from 'node:fs';
import { RegistryError } from '../registry-errors.ts';
import { parseCsvFields, type SourceFormat } from './record-parser.ts';

export class SourceFormatError extends RegistryError {
  constructor(detail: string) {
    super('IMPORT_FORMAT_INVALID', detail);
  }
}

/**
 * The size of the file to import, once it is known to be a regular file this process can read;
 * otherwise a precise IMPORT_FILE_NOT_FOUND before anything starts. A directory used to get
 * through the check (stat succeeds on one) and fail as an unexpected EISDIR with a stack trace;
 * a named pipe would be read to its end for the file's SHA-256 and then found empty.
 */
export function inputFileSize(path: string): number {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RegistryError('IMPORT_FILE_NOT_FOUND', code === 'ENOENT' || code === 'ENOTDIR' ? 'the input file does not exist' : 'the input file cannot be read');
  }
  if (st.isDirectory()) throw new RegistryError('IMPORT_FILE_NOT_FOUND', 'the input file is a directory, not a file');
  if (!st.isFile()) throw new RegistryError('IMPORT_FILE_NOT_FOUND', 'the input file is not a regular file');
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw new RegistryError('IMPORT_FILE_NOT_FOUND', 'the input file cannot be read (permission denied)');
  }
  return st.size;
}

/** The format named by the file name's ending, in any case (Windows tools write PEOPLE.CSV). */
export function formatOf(path: string): SourceFormat {
  const name = path.toLowerCase();
  if (name.endsWith('.csv')) return 'csv';
  if (name.endsWith('.ndjson')) return 'ndjson';
  throw new SourceFormatError('the file name must end in .csv or .ndjson (the format is chosen by it)');
}

export interface Chunk {
  /** The line number of the chunk's first line. */
  startLine: number;
  /** The line number of its last line: the checkpoint once the chunk is committed. */
  endLine: number;
  /** Whole records, ending with a line break (or the end of the file). */
  bytes: Uint8Array;
  /**
   * The offset in the source just after the chunk: the progress made once it is committed. The
   * reader reads ahead of the chunks in flight, so its own count of bytes read is not.
   */
  endByte: number;
}

export interface ChunkedSource {
  format: SourceFormat;
  /** CSV: the header's columns (checked against the format). NDJSON: empty. */
  header: string[];
  chunks: AsyncGenerator<Chunk>;
  /**
   * Closes the file (or the caller's stream): a run that stops before reading to the end (a
   * failure, another import holding the lock, a refused row) must not keep its descriptor open
   * in a long-running hub, where carriers' uploads are imported one after another. Idempotent.
   */
  close(): void;
}

const CHUNK_BYTES = 512 * 1024;
/** A line longer than this is no registry record (a row is a few hundred bytes): the file is refused. */
const MAX_CARRY = 16 * 1024 * 1024;

export function checkHeader(header: string[], fields: readonly string[], required: readonly string[]): void {
  // Headers as spreadsheets save them, which were told "is the header row missing?": lines ended
  // by a carriage return alone (an old Mac export: the whole file is one line, its first row glued
  // to the last column's name), another separator, a blank line 1, a comma after the last column.
  if (header.some((h) => h.includes('\r'))) {
    throw new SourceFormatError('the lines end in a carriage return alone (an old Mac export); save the file with LF or CRLF line ends');
  }
  // Excel with Vietnamese regional settings (decimal comma) separates columns with ';', and a
  // tab-separated export is often saved as .csv: one column, whose parts are the format's names.
  if (header.length === 1) {
    for (const [separator, word] of [[';', 'semicolons'], ['\t', 'tabs']] as const) {
      const parts = header[0]!.split(separator).map((h) => h.trim());
      if (parts.length > 1 && parts.every((h) => fields.includes(h))) {
        throw new SourceFormatError(`the columns are separated by ${word}; registry CSV files separate them by commas`);
      }
    }
  }
  // Positions, never names: a file without a header would otherwise echo its first row's values.
  const unknown = header.map((h, i) => (fields.includes(h) ? -1 : i + 1)).filter((i) => i > 0);
  // A blank line 1 (the carriers' upload check reads it as the header).
  if (header.every((h) => h === '')) {
    // Commas alone are not a blank line: the names were left out.
    throw new SourceFormatError(header.length > 1
      ? 'the header row has no column names (commas alone): a CSV file starts with its header row on line 1'
      : 'line 1 is blank: a CSV file starts with its header row on line 1');
  }
  // Only empty names unknown: a header (a row without one has values the format does not name).
  if (unknown.length > 0 && unknown.every((i) => header[i - 1] === '')) {
    throw new SourceFormatError(`the header has a column with no name at position ${unknown.join(', ')} (a comma after the last column?)`);
  }
  if (unknown.length > 0) {
    throw new SourceFormatError(`the header has unknown column(s) at position(s) ${unknown.join(', ')} (expected names: ${fields.join(', ')}; is the header row missing?)`);
  }
  const missing = required.filter((f) => !header.includes(f));
  if (missing.length > 0) throw new SourceFormatError(`missing column(s) in the header: ${missing.join(', ')}`);
  if (new Set(header).size !== header.length) throw new SourceFormatError('a column appears twice in the header');
}

/**
 * Why bytes are not UTF-8 text at all: compressed (gzip's magic number), UTF-16 (its byte-order
 * mark, or the NUL byte of every ASCII character), or, with `strict`, any byte no UTF-8 decoder
 * takes (a legacy 8-bit encoding: the reason is then ''); undefined when they may be UTF-8.
 */
export function notUtf8Text(bytes: Uint8Array, strict: boolean): string | undefined {
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) return 'the file is gzip-compressed; send it uncompressed';
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff) || bytes.includes(0)) return 'the file looks like UTF-16';
  if (strict && Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8').includes('\uFFFD')) return '';
  return undefined;
}

/**
 * A CSV header row that is not UTF-8 (docs/formats.md) would otherwise be reported as unknown
 * columns, and the engineer sent looking for a missing header row. Shared by the CLI's reader and
 * the carriers' upload check (src/carriers/carrier-jobs.ts), so both say the same.
 */
export function checkHeaderEncoding(headerBytes: Uint8Array): void {
  const why = notUtf8Text(headerBytes, true);
  if (why !== undefined) throw new SourceFormatError(`the header row is not UTF-8 text${why ? ` (${why})` : ''}: registry files are UTF-8`);
}

/** How much of a file's start the NDJSON check reads for the marks of another encoding. */
const HEAD_BYTES = 64 * 1024;

/** The offset of the first byte that is neither a UTF-8 byte-order mark nor blank; -1 if none yet. */
function firstContentByte(buf: Uint8Array): number {
  // Less than a byte-order mark read: wait for more (a stream may hand out a byte at a time).
  if (buf.length < 3 && buf[0] === 0xef) return -1;
  let i = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  while (i < buf.length && (buf[i] === 0x20 || buf[i] === 0x09 || buf[i] === 0x0d || buf[i] === 0x0a)) i++;
  return i < buf.length ? i : -1;
}

/** The offset just after the last (or, with `first`, the first) line break in `buf`; -1 if there is none. */
function cutAfterLine(buf: Uint8Array, first = false): number {
  const i = first ? buf.indexOf(0x0a) : buf.lastIndexOf(0x0a);
  return i === -1 ? -1 : i + 1;
}

function countLines(buf: Uint8Array): number {
  let n = 0;
  for (let i = buf.indexOf(0x0a); i !== -1; i = buf.indexOf(0x0a, i + 1)) n++;
  return n;
}

export interface ReadChunksOptions {
  path: string;
  /** Opens the bytes to read (default: the file at `path`); a sealed carrier upload decrypts here. */
  open?: () => NodeJS.ReadableStream;
  fields: readonly string[];
  required: readonly string[];
  chunkBytes?: number;
}

export async function openChunkedSource(options: ReadChunksOptions): Promise<ChunkedSource> {
  const format = formatOf(options.path);
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  const stream = options.open ? options.open() : createReadStream(options.path, { highWaterMark: 256 * 1024 });
  const close = () => {
    const s = stream as NodeJS.ReadableStream & { destroy?: () => void; destroyed?: boolean };
    if (!s.destroyed) s.destroy?.();
  };
  try {
    return await readHeader(stream, options, format, chunkBytes, close);
  } catch (e) {
    // A file refused whole (its header, its encoding): nothing reads it further.
    close();
    throw e;
  }
}

async function readHeader(stream: NodeJS.ReadableStream, options: ReadChunksOptions, format: SourceFormat, chunkBytes: number, close: () => void): Promise<ChunkedSource> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let carry: Buffer = Buffer.alloc(0);
  let eof = false;
  const pull = async (): Promise<boolean> => {
    const next = await iterator.next();
    if (next.done) {
      eof = true;
      return false;
    }
    carry = carry.length === 0 ? next.value : Buffer.concat([carry, next.value]);
    return true;
  };

  let line = 1;
  /** Bytes of the source handed out so far: the header, then every chunk yielded. */
  let offset = 0;
  let header: string[] = [];
  if (format === 'ndjson') {
    // A file that cannot be NDJSON is refused whole, as the carriers' upload check refuses such a
    // body (carrier-jobs.ts checkUploadStart; docs/formats.md: the same rules): compressed or
    // UTF-16, or not starting with an object (a JSON array, a pretty-printed object's `[`, a CSV
    // file named .ndjson). Read line by line, each was a column of MALFORMED_ROW, nothing taken.
    let first = firstContentByte(carry);
    while (first === -1 && !eof && carry.length <= MAX_CARRY) {
      await pull();
      first = firstContentByte(carry);
    }
    const why = notUtf8Text(carry.subarray(0, HEAD_BYTES), false);
    if (why) throw new SourceFormatError(`the file is not UTF-8 text (${why}): registry files are UTF-8`);
    if (first !== -1 && carry[first] !== 0x7b /* { */) {
      throw new SourceFormatError('the file is not NDJSON (one JSON object per line, each starting with {); a CSV file is named .csv');
    }
  }
  if (format === 'csv') {
    // The header: the first line.
    let cut = -1;
    while (cut === -1 && !eof) {
      await pull();
      cut = cutAfterLine(carry, true);
      if (carry.length > MAX_CARRY) throw new SourceFormatError('the header row never ends');
    }
    const headerBytes = cut === -1 ? carry : carry.subarray(0, cut);
    checkHeaderEncoding(headerBytes);
    let headerText = headerBytes.toString('utf8').replace(/^\uFEFF/, '').replace(/\r?\n$/, '');
    // As the carriers' upload check: JSON is not a header row with unknown columns.
    if (/^\s*[{[]/.test(headerText)) throw new SourceFormatError('the file is JSON, not CSV; an NDJSON file is named .ndjson');
    if (headerText.trim() === '') {
      // A blank line before the header is not an empty file (the carriers' upload check reads
      // line 1 as the header too, so the header is not looked for further down).
      throw new SourceFormatError(cut === -1 || carry.subarray(cut).toString('utf8').trim() === ''
        ? 'the file is empty: a CSV file starts with a header row'
        : 'line 1 is blank: a CSV file starts with its header row on line 1');
    }
    headerText = headerText.replace(/\r$/, '');
    const columns = parseCsvFields(headerText);
    if (!columns) throw new SourceFormatError('the header row is not well-formed CSV');
    header = columns.map((h) => h.trim());
    checkHeader(header, options.fields, options.required);
    line += countLines(headerBytes);
    offset += headerBytes.length;
    carry = cut === -1 ? Buffer.alloc(0) : carry.subarray(cut);
  }

  async function* chunks(): AsyncGenerator<Chunk> {
    // A consumer that stops early (return() from its for-await, or an error) closes the file here.
    try {
      for (;;) {
        while (carry.length < chunkBytes && !eof) await pull();
        if (carry.length === 0 && eof) return;
        let cut = eof ? carry.length : cutAfterLine(carry);
        while (cut === -1 && !eof) {
          // A line longer than a chunk: read on, up to a bound.
          if (carry.length > MAX_CARRY) throw new SourceFormatError(`line ${line} is longer than ${MAX_CARRY / 1024 / 1024} MiB`);
          await pull();
          cut = eof ? carry.length : cutAfterLine(carry);
        }
        // Copy into a buffer of its own, so it can be transferred to a worker.
        const bytes = new Uint8Array(cut);
        bytes.set(carry.subarray(0, cut));
        carry = carry.subarray(cut);
        const breaks = countLines(bytes);
        const endLine = line + breaks - (bytes[bytes.length - 1] === 0x0a ? 1 : 0);
        offset += cut;
        yield { startLine: line, endLine, bytes, endByte: offset };
        line += breaks;
      }
    } finally {
      close();
    }
  }

  return { format, header, chunks: chunks(), close };
}
