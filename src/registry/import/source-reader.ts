/**
 * Streaming readers of registry files (issue 2: CSV with a header row, or NDJSON with the same
 * field names, chosen by the file name's ending), in constant memory. Yields one item per record
 * with its line number (the header is line 1 of a CSV file); a line that cannot be made into a
 * record becomes a MALFORMED_ROW item instead of aborting the import.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { parse } from 'csv-parse';
import type { SourceItem } from './import-protocol.ts';
import { RegistryError } from '../registry-errors.ts';

export type SourceFormat = 'csv' | 'ndjson';

/** A file the reader cannot take at all (not a row: the whole file). */
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

export interface ReadOptions {
  path: string;
  fields: readonly string[];
  required: readonly string[];
  /** Receives the number of bytes read so far. */
  onBytes?: (bytes: number) => void;
}

function checkHeader(header: string[], fields: readonly string[], required: readonly string[]): void {
  const unknown = header.filter((h) => !fields.includes(h));
  if (unknown.length > 0) throw new SourceFormatError(`unknown column(s) in the header: ${unknown.join(', ')} (expected: ${fields.join(', ')})`);
  const missing = required.filter((f) => !header.includes(f));
  if (missing.length > 0) throw new SourceFormatError(`missing column(s) in the header: ${missing.join(', ')}`);
  if (new Set(header).size !== header.length) throw new SourceFormatError('a column appears twice in the header');
}

async function* readCsv(options: ReadOptions): AsyncGenerator<SourceItem> {
  const stream = createReadStream(options.path);
  let bytes = 0;
  stream.on('data', (chunk) => {
    bytes += chunk.length;
    options.onBytes?.(bytes);
  });
  const skipped: SourceItem[] = [];
  const parser = stream.pipe(
    parse({ bom: true, info: true, relax_column_count: false, skip_records_with_error: true, skip_empty_lines: true }),
  );
  parser.on('skip', (err: Error & { lines?: number }) => {
    skipped.push({ line: err.lines ?? 0, record: {}, malformed: { field: '*', code: 'MALFORMED_ROW' } });
  });
  let header: string[] | undefined;
  for await (const entry of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    while (skipped.length > 0) yield skipped.shift()!;
    if (!header) {
      header = entry.record.map((h) => h.trim());
      checkHeader(header, options.fields, options.required);
      continue;
    }
    const record: Record<string, string> = {};
    for (let i = 0; i < header.length; i++) record[header[i]!] = entry.record[i] ?? '';
    yield { line: entry.info.lines, record };
  }
  while (skipped.length > 0) yield skipped.shift()!;
  if (!header) throw new SourceFormatError('the file is empty: a CSV file starts with a header row');
}

async function* readNdjson(options: ReadOptions): AsyncGenerator<SourceItem> {
  const stream = createReadStream(options.path, { encoding: 'utf8' });
  let bytes = 0;
  stream.on('data', (chunk) => {
    bytes += Buffer.byteLength(chunk as string);
    options.onBytes?.(bytes);
  });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    const trimmed = line === 1 ? text.replace(/^\uFEFF/, '').trim() : text.trim();
    if (trimmed === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      yield { line, record: {}, malformed: { field: '*', code: 'MALFORMED_ROW' } };
      continue;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      yield { line, record: {}, malformed: { field: '*', code: 'MALFORMED_ROW' } };
      continue;
    }
    const record: Record<string, string> = {};
    let problem: SourceItem['malformed'];
    for (const [k, v] of Object.entries(parsed)) {
      if (!options.fields.includes(k)) {
        problem = { field: k, code: 'UNKNOWN_FIELD' };
        break;
      }
      if (v === null || v === undefined) record[k] = '';
      else if (typeof v === 'string') record[k] = v;
      else {
        problem = { field: k, code: 'MALFORMED_ROW' };
        break;
      }
    }
    yield problem ? { line, record: {}, malformed: problem } : { line, record };
  }
}

export function readSource(options: ReadOptions): AsyncGenerator<SourceItem> {
  return formatOf(options.path) === 'csv' ? readCsv(options) : readNdjson(options);
}
