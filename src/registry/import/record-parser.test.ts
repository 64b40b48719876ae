import { describe, expect, it } from 'vitest';
import { parseChunk, parseRecord } from './record-parser.ts';

const header = ['personal_id', 'full_name'];

describe('parseChunk', () => {
  it('numbers records by their line and gives each record\'s exact span of the text (CRLF, quoted fields, blank lines)', () => {
    const text = '001,An\r\n\r\n002,"Bình, An"\r\n003,"Chi ""C"""\n004,Dũng';
    const out = [...parseChunk(text, 2, 'csv', header, header)];
    expect(out.map((r) => r.item.line)).toEqual([2, 4, 5, 6]);
    expect(out.map((r) => text.slice(r.start, r.end))).toEqual(['001,An', '002,"Bình, An"', '003,"Chi ""C"""', '004,Dũng']);
    expect(out.map((r) => r.item.record.full_name)).toEqual(['An', 'Bình, An', 'Chi "C"', 'Dũng']);
  });

  it('keeps a malformed line as an item with its span, never aborting the chunk', () => {
    const text = '001,An,extra\n002,Bình\n';
    const out = [...parseChunk(text, 2, 'csv', header, header)];
    expect(out[0]!.item.malformed).toEqual({ field: '*', code: 'MALFORMED_ROW' });
    expect(text.slice(out[1]!.start, out[1]!.end)).toBe('002,Bình');
  });

  // RFC 4180 section 2 rules 5-6: a quote opens a field only at its start. A stray quote used to
  // open a "quoted field" that swallowed every following line (audit of issue 2, finding 1).
  it('rejects a line with a quote inside an unquoted field as that line only', () => {
    const text = ['001,An', '002,Bình', '003,Trần "Thị B', '004,Chi', '005,Dũng', '006,Em'].join('\n') + '\n';
    const out = [...parseChunk(text, 2, 'csv', header, header)];
    expect(out.map((r) => r.item.line)).toEqual([2, 3, 4, 5, 6, 7]);
    expect(out.filter((r) => r.item.malformed).map((r) => [r.item.line, r.item.malformed])).toEqual([[4, { field: '*', code: 'MALFORMED_ROW' }]]);
    expect(out.filter((r) => !r.item.malformed).map((r) => r.item.record.personal_id)).toEqual(['001', '002', '004', '005', '006']);
  });

  it('ends a quoted field with its line: a quote left open rejects that line, and the next line is a record of its own', () => {
    const text = '001,"An\r\n002,Bình\r\n003,"Chi\n"004",Dũng\n';
    const out = [...parseChunk(text, 2, 'csv', header, header)];
    expect(out.map((r) => [r.item.line, r.item.malformed?.code ?? r.item.record.personal_id])).toEqual([
      [2, 'MALFORMED_ROW'], [3, '002'], [4, 'MALFORMED_ROW'], [5, '004'],
    ]);
    expect(out.map((r) => text.slice(r.start, r.end))).toEqual(['001,"An', '002,Bình', '003,"Chi', '"004",Dũng']);
  });

  it('rejects the quoted halves of a field broken across two lines, since no field of these formats holds a line break', () => {
    const out = [...parseChunk('001,"Bình\nAn"\n002,Chi\n', 2, 'csv', header, header)];
    expect(out.map((r) => [r.item.line, r.item.malformed?.code ?? r.item.record.personal_id])).toEqual([[2, 'MALFORMED_ROW'], [3, 'MALFORMED_ROW'], [4, '002']]);
  });
});

describe('parseRecord (NDJSON)', () => {
  it('reports an unknown field as `*`, never by its key, which is input like any value', () => {
    const fields = ['personal_id'];
    for (const key of ['001185000299', 'a,b\nc', 'Lê Thị Bí Mật']) {
      const item = parseRecord(JSON.stringify({ personal_id: '001090000001', [key]: 'x' }), 2, 'ndjson', [], fields);
      expect(item.malformed).toEqual({ field: '*', code: 'UNKNOWN_FIELD' });
    }
  });
});

// Audit of issue 2, finding 5: a Latin-1 holder name was accepted with U+FFFD in it.
describe('invalid UTF-8', () => {
  const latin1 = (s: string) => Buffer.from(s, 'latin1');
  const decode = (parts: Buffer[]) => new TextDecoder('utf-8').decode(Buffer.concat(parts));

  it('rejects the line as ENCODING_INVALID against the column holding the bad bytes, and reads the next line', () => {
    const text = decode([Buffer.from('001,An\n'), Buffer.from('002,'), latin1('Trân Thï'), Buffer.from('\n003,"x'), latin1('é'), Buffer.from('\n004,Bình\n')]);
    const out = [...parseChunk(text, 2, 'csv', header, header)];
    expect(out.map((r) => [r.item.line, r.item.malformed ?? r.item.record.personal_id])).toEqual([
      [2, '001'], [3, { field: 'full_name', code: 'ENCODING_INVALID' }], [4, { field: '*', code: 'ENCODING_INVALID' }], [5, '004'],
    ]);
  });

  it('does so in NDJSON, naming a defined field only, and for a U+FFFD written as such', () => {
    const text = decode([
      Buffer.from('{"personal_id":"001","full_name":"'), latin1('Trân'), Buffer.from('"}\n'),
      Buffer.from('{"personal_id":"002","'), latin1('clé'), Buffer.from('":"x"}\n'),
      Buffer.from('{"personal_id":"003","full_name":"An \uFFFD"}\n'),
      Buffer.from('{"personal_id":"004","full_name":"An"}\n'),
    ]);
    const out = [...parseChunk(text, 1, 'ndjson', [], header)];
    expect(out.map((r) => r.item.malformed ?? r.item.record.personal_id)).toEqual([
      { field: 'full_name', code: 'ENCODING_INVALID' }, { field: '*', code: 'ENCODING_INVALID' }, { field: 'full_name', code: 'ENCODING_INVALID' }, '004',
    ]);
  });
});
