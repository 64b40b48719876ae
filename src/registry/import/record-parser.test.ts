import { describe, expect, it } from 'vitest';
import { parseChunk } from './record-parser.ts';

const header = ['personal_id', 'full_name'];

describe('parseChunk', () => {
  it('numbers records by their first line and gives each record\'s exact span of the text (CRLF, quoted line breaks, blank lines)', () => {
    const text = '001,An\r\n\r\n002,"Bình\r\nAn"\r\n003,"Chi ""C"""\n004,Dũng';
    const out = [...parseChunk(text, 2, 'csv', header, header)];
    expect(out.map((r) => r.item.line)).toEqual([2, 4, 6, 7]);
    expect(out.map((r) => text.slice(r.start, r.end))).toEqual(['001,An', '002,"Bình\r\nAn"', '003,"Chi ""C"""', '004,Dũng']);
    expect(out.map((r) => r.item.record.full_name)).toEqual(['An', 'Bình\r\nAn', 'Chi "C"', 'Dũng']);
  });

  it('keeps a malformed line as an item with its span, never aborting the chunk', () => {
    const text = '001,An,extra\n002,Bình\n';
    const out = [...parseChunk(text, 2, 'csv', header, header)];
    expect(out[0]!.item.malformed).toEqual({ field: '*', code: 'MALFORMED_ROW' });
    expect(text.slice(out[1]!.start, out[1]!.end)).toBe('002,Bình');
  });
});
