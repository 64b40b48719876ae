/**
 * Turning text into records, in the import workers (so the thread that drives the database does
 * not parse): CSV (RFC 4180) and NDJSON, one record per line or, for a CSV record whose quoted
 * field spans lines, per group of lines. A record keeps the number of the line it starts on (the
 * CSV header is line 1). A line that is not a well-formed record becomes a MALFORMED_ROW (or
 * UNKNOWN_FIELD) item: it never aborts the import.
 *
 * CSV fast path: a line without a double quote is split on commas, which is exactly what RFC 4180
 * says of it; any line with a quote goes through csv-parse.
 */
import { parse } from 'csv-parse/sync';
import type { SourceItem } from './import-protocol.ts';

export type SourceFormat = 'csv' | 'ndjson';

function countQuotes(s: string): number {
  let n = 0;
  for (let i = s.indexOf('"'); i !== -1; i = s.indexOf('"', i + 1)) n++;
  return n;
}

/** The fields of one CSV record, or undefined when it is not well-formed RFC 4180. */
export function parseCsvFields(raw: string): string[] | undefined {
  if (!raw.includes('"')) return raw.split(',');
  try {
    const records = parse(raw, { relax_column_count: true, bom: false }) as string[][];
    return records.length === 1 ? records[0] : undefined;
  } catch {
    return undefined;
  }
}

const MALFORMED = { field: '*', code: 'MALFORMED_ROW' } as const;

/** One record's item from its raw text. `header` is the CSV columns; `fields` the format's names. */
export function parseRecord(raw: string, line: number, format: SourceFormat, header: readonly string[], fields: readonly string[]): SourceItem {
  if (format === 'csv') {
    const values = parseCsvFields(raw);
    if (!values || values.length !== header.length) return { line, record: {}, malformed: MALFORMED };
    const record: Record<string, string> = {};
    for (let i = 0; i < header.length; i++) record[header[i]!] = values[i]!;
    return { line, record };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { line, record: {}, malformed: MALFORMED };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { line, record: {}, malformed: MALFORMED };
  const record: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (!fields.includes(k)) return { line, record: {}, malformed: { field: k, code: 'UNKNOWN_FIELD' } };
    if (v === null || v === undefined) record[k] = '';
    else if (typeof v === 'string') record[k] = v;
    else return { line, record: {}, malformed: { field: k, code: 'MALFORMED_ROW' } };
  }
  return { line, record };
}

export interface ParsedRecord {
  item: SourceItem;
  /** Where the record's own text is in the chunk's text ([start, end)), so the coordinator can re-read a row it must re-seal. */
  start: number;
  end: number;
}

/**
 * The records of a chunk that starts at `startLine` and ends at a record boundary (the chunk
 * reader guarantees it). Empty lines are skipped but counted.
 */
export function* parseChunk(text: string, startLine: number, format: SourceFormat, header: readonly string[], fields: readonly string[]): Generator<ParsedRecord> {
  let line = startLine;
  let pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl === -1) nl = text.length;
    const start = pos;
    let end = nl;
    let raw = text.slice(pos, nl);
    const first = line;
    line++;
    pos = nl + 1;
    // A quoted CSV field may hold line breaks: extend the record until its quotes balance.
    if (format === 'csv' && countQuotes(raw) % 2 === 1) {
      while (pos < text.length && countQuotes(raw) % 2 === 1) {
        let next = text.indexOf('\n', pos);
        if (next === -1) next = text.length;
        raw += '\n' + text.slice(pos, next);
        end = next;
        line++;
        pos = next + 1;
      }
    }
    if (raw.endsWith('\r')) {
      raw = raw.slice(0, -1);
      end--;
    }
    if (raw.trim() === '') continue;
    yield { item: parseRecord(raw, first, format, header, fields), start, end };
  }
}
