/**
 * Turning text into records, in the import workers (so the thread that drives the database does
 * not parse): CSV (RFC 4180) and NDJSON, one record per physical line, numbered as in the file
 * (the CSV header is line 1). A line that is not a well-formed record becomes a MALFORMED_ROW (or
 * UNKNOWN_FIELD) item: it never aborts the import (issue 2: "Bad rows never abort an import").
 *
 * One line, one record, for CSV too: RFC 4180 lets a quoted field hold a line break, but no field
 * of these formats can (docs/formats.md: IDs, numbers, dates and codes have fixed shapes, and a
 * name holds no control character), so a quoted field ends with its line. A quote left open, or a
 * quote inside an unquoted field (RFC 4180 section 2, rules 5 and 6: a quote opens a field only at
 * its start), makes that one line a MALFORMED_ROW; the next line is a record of its own. Reading a
 * quoted field on across lines would let one stray quote swallow the rest of the file.
 *
 * CSV fast path: a line without a double quote is split on commas, which is exactly what RFC 4180
 * says of it; any line with a quote goes through csv-parse, which refuses a misplaced quote.
 *
 * Files are UTF-8 (issue 2, "Input formats"). The callers decode a chunk without `fatal`, so one bad
 * byte does not fail the chunk: it becomes U+FFFD, and the line holding it is an ENCODING_INVALID
 * item, whatever its format and fields. (A Latin-1 holder name was otherwise stored with U+FFFD and
 * later found a HOLDER_DATA_MISMATCH: audit of issue 2, finding 5.) A U+FFFD written as such is
 * taken the same way: no field can hold one, and it is the mark of an earlier lossy conversion.
 */
import { parse } from 'csv-parse/sync';
import type { SourceItem } from './import-protocol.ts';

export type SourceFormat = 'csv' | 'ndjson';

/**
 * The fields of one CSV record, or undefined when it is not well-formed RFC 4180.
 *
 * Spaces and tabs around a quoted field are ignored (csv-parse `trim`), as they are around an
 * unquoted one (every value is trimmed: registry-rows.ts): a hand-written file puts a space after
 * each comma, and `001, "Nguyễn Văn An"` was a MALFORMED_ROW (and such a header row refused) for
 * the space before the quote. A quote anywhere else in a field is still malformed.
 */
export function parseCsvFields(raw: string): string[] | undefined {
  if (!raw.includes('"')) return raw.split(',');
  try {
    const records = parse(raw, { relax_column_count: true, bom: false, trim: true }) as string[][];
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
    // Field `*`, never the key: a key is input like any value, and can be a personal ID number,
    // a name, or hold a comma or a line break that would break the rejects file (DESIGN.md
    // invariant 2; the CSV header check names positions for the same reason, chunk-reader.ts).
    if (!fields.includes(k)) return { line, record: {}, malformed: { field: '*', code: 'UNKNOWN_FIELD' } };
    if (v === null || v === undefined) record[k] = '';
    else if (typeof v === 'string') record[k] = v;
    else return { line, record: {}, malformed: { field: k, code: 'MALFORMED_ROW' } };
  }
  return { line, record };
}

/** The replacement character, which a non-fatal UTF-8 decoder puts for each invalid sequence. */
const REPLACEMENT = '\uFFFD';

/**
 * The field an ENCODING_INVALID line is reported against: the first column (CSV) or defined key
 * (NDJSON) whose value holds the bad bytes, or `*` when the line is not a well-formed record or
 * the bytes are elsewhere (a key, the syntax). Only names of the format, never the input's.
 */
function encodingField(raw: string, format: SourceFormat, header: readonly string[], fields: readonly string[]): string {
  if (format === 'csv') {
    const values = parseCsvFields(raw);
    const i = values && values.length === header.length ? values.findIndex((v) => v.includes(REPLACEMENT)) : -1;
    return i === -1 ? '*' : header[i]!;
  }
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return '*';
    for (const [k, v] of Object.entries(parsed)) if (fields.includes(k) && typeof v === 'string' && v.includes(REPLACEMENT)) return k;
  } catch {
    // Not JSON: the whole line.
  }
  return '*';
}

export interface ParsedRecord {
  item: SourceItem;
  /** Where the record's own text is in the chunk's text ([start, end)), so the coordinator can re-read a row it must re-seal. */
  start: number;
  end: number;
}

/**
 * The records of a chunk that starts at `startLine` and ends at a line boundary (the chunk reader
 * guarantees it): one per line, without its CRLF or LF. Empty lines are skipped but counted.
 */
export function* parseChunk(text: string, startLine: number, format: SourceFormat, header: readonly string[], fields: readonly string[]): Generator<ParsedRecord> {
  // One search of the whole chunk (native code, a fraction of a microsecond per row); a line is
  // searched only in a chunk that holds a replacement character at all.
  const suspect = text.includes(REPLACEMENT);
  let line = startLine;
  let pos = 0;
  while (pos < text.length) {
    let nl = text.indexOf('\n', pos);
    if (nl === -1) nl = text.length;
    const start = pos;
    const end = nl > start && text.charCodeAt(nl - 1) === 0x0d ? nl - 1 : nl;
    const raw = text.slice(start, end);
    const current = line;
    line++;
    pos = nl + 1;
    if (raw.trim() === '') continue;
    if (suspect && raw.includes(REPLACEMENT)) {
      yield { item: { line: current, record: {}, malformed: { field: encodingField(raw, format, header, fields), code: 'ENCODING_INVALID' } }, start, end };
      continue;
    }
    yield { item: parseRecord(raw, current, format, header, fields), start, end };
  }
}
