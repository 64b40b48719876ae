/**
 * Reads a registry file in chunks of whole records, in constant memory, for the import workers
 * to parse (record-parser.ts). The only work left on the coordinating thread is finding a safe
 * place to cut: the last line break that is not inside a quoted CSV field (an even number of
 * double quotes before it: RFC 4180 escapes a quote by doubling it, which keeps the parity).
 *
 * A CSV file's first record is its header; the format is chosen by the file name's ending.
 */
import { createReadStream } from 'node:fs';
import { RegistryError } from '../registry-errors.ts';
import { parseCsvFields, type SourceFormat } from './record-parser.ts';

export class SourceFormatError extends RegistryError {
  constructor(detail: string) {
    super('IMPORT_FORMAT_INVALID', detail);
  }
}

export function formatOf(path: string): SourceFormat {
  if (path.endsWith('.csv')) return 'csv';
  if (path.endsWith('.ndjson')) return 'ndjson';
  throw new SourceFormatError('the file name must end in .csv or .ndjson (the format is chosen by it)');
}

export interface Chunk {
  /** The line number of the chunk's first line. */
  startLine: number;
  /** The line number of its last line: the checkpoint once the chunk is committed. */
  endLine: number;
  /** Whole records, ending with a line break (or the end of the file). */
  bytes: Uint8Array;
}

export interface ChunkedSource {
  format: SourceFormat;
  /** CSV: the header's columns (checked against the format). NDJSON: empty. */
  header: string[];
  chunks: AsyncGenerator<Chunk>;
}

const CHUNK_BYTES = 512 * 1024;
/** A quoted field longer than this is taken as never closed: the file is refused. */
const MAX_CARRY = 16 * 1024 * 1024;

export function checkHeader(header: string[], fields: readonly string[], required: readonly string[]): void {
  // Positions, never names: a file without a header would otherwise echo its first row's values.
  const unknown = header.map((h, i) => (fields.includes(h) ? -1 : i + 1)).filter((i) => i > 0);
  if (unknown.length > 0) {
    throw new SourceFormatError(`the header has unknown column(s) at position(s) ${unknown.join(', ')} (expected names: ${fields.join(', ')}; is the header row missing?)`);
  }
  const missing = required.filter((f) => !header.includes(f));
  if (missing.length > 0) throw new SourceFormatError(`missing column(s) in the header: ${missing.join(', ')}`);
  if (new Set(header).size !== header.length) throw new SourceFormatError('a column appears twice in the header');
}

/**
 * The offset just after the last (or, with `first`, the first) line break outside quotes in
 * `buf`, which starts outside quotes; -1 if there is none.
 */
function safeCut(buf: Uint8Array, csv: boolean, first = false): number {
  let inQuotes = false;
  let cut = -1;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (b === 0x22 && csv) inQuotes = !inQuotes;
    else if (b === 0x0a && !inQuotes) {
      cut = i + 1;
      if (first) return cut;
    }
  }
  return cut;
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
  onBytes?: (bytes: number) => void;
}

export async function openChunkedSource(options: ReadChunksOptions): Promise<ChunkedSource> {
  const format = formatOf(options.path);
  const chunkBytes = options.chunkBytes ?? CHUNK_BYTES;
  const stream = options.open ? options.open() : createReadStream(options.path, { highWaterMark: 256 * 1024 });
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let bytesRead = 0;
  let carry: Buffer = Buffer.alloc(0);
  let eof = false;
  const pull = async (): Promise<boolean> => {
    const next = await iterator.next();
    if (next.done) {
      eof = true;
      return false;
    }
    bytesRead += next.value.length;
    options.onBytes?.(bytesRead);
    carry = carry.length === 0 ? next.value : Buffer.concat([carry, next.value]);
    return true;
  };

  let line = 1;
  let header: string[] = [];
  if (format === 'csv') {
    // The header: the first record, cut at its first line break outside quotes.
    let cut = -1;
    while (cut === -1 && !eof) {
      await pull();
      cut = safeCut(carry, true, true);
      if (carry.length > MAX_CARRY) throw new SourceFormatError('the header row never ends');
    }
    const headerBytes = cut === -1 ? carry : carry.subarray(0, cut);
    let headerText = headerBytes.toString('utf8').replace(/^\uFEFF/, '').replace(/\r?\n$/, '');
    if (headerText.trim() === '') throw new SourceFormatError('the file is empty: a CSV file starts with a header row');
    headerText = headerText.replace(/\r$/, '');
    const columns = parseCsvFields(headerText);
    if (!columns) throw new SourceFormatError('the header row is not well-formed CSV');
    header = columns.map((h) => h.trim());
    checkHeader(header, options.fields, options.required);
    line += countLines(headerBytes);
    carry = cut === -1 ? Buffer.alloc(0) : carry.subarray(cut);
  }

  async function* chunks(): AsyncGenerator<Chunk> {
    for (;;) {
      while (carry.length < chunkBytes && !eof) await pull();
      if (carry.length === 0 && eof) return;
      let cut = eof ? carry.length : safeCut(carry, format === 'csv');
      while (cut === -1 && !eof) {
        // A record longer than a chunk (a quoted field with many line breaks): read on.
        if (carry.length > MAX_CARRY) throw new SourceFormatError(`a quoted field opened on or after line ${line} is never closed`);
        await pull();
        cut = eof ? carry.length : safeCut(carry, format === 'csv');
      }
      // Copy into a buffer of its own, so it can be transferred to a worker.
      const bytes = new Uint8Array(cut);
      bytes.set(carry.subarray(0, cut));
      carry = carry.subarray(cut);
      const breaks = countLines(bytes);
      const endLine = line + breaks - (bytes[bytes.length - 1] === 0x0a ? 1 : 0);
      yield { startLine: line, endLine, bytes };
      line += breaks;
    }
  }

  return { format, header, chunks: chunks() };
}
