import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { descriptorsOpenOn, settledDescriptorsOpenOn } from '../../../test/support/file-descriptors.ts';
import { openChunkedSource } from './chunk-reader.ts';
import { parseChunk } from './record-parser.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'idbind-chunks-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fields = ['a', 'b'];

/** Every record of the file as [line, code or first value], through small chunks. */
async function records(name: string, text: string, chunkBytes: number): Promise<[number, string][]> {
  const path = join(dir, name);
  writeFileSync(path, text);
  const source = await openChunkedSource({ path, fields, required: fields, chunkBytes });
  const out: [number, string][] = [];
  let next = 2;
  for await (const chunk of source.chunks) {
    // Chunks are contiguous: each starts on the line after the previous one's last.
    expect(chunk.startLine).toBe(next);
    next = chunk.endLine + 1;
    for (const { item } of parseChunk(Buffer.from(chunk.bytes).toString('utf8'), chunk.startLine, 'csv', source.header, fields)) {
      out.push([item.line, item.malformed?.code ?? item.record.a!]);
    }
  }
  return out;
}

describe('openChunkedSource', () => {
  // Audit of issue 2, finding 1: the cutter counted quotes, so an odd one held every later line
  // in one "record" (or, past 16 MiB, refused the whole file).
  it('cuts at line breaks whatever the quotes: an unclosed quote on line 2 is one malformed line, every later line its own record', async () => {
    const rows = Array.from({ length: 2000 }, (_, i) => `${i + 3},"x, y"`);
    const out = await records('open-quote.csv', ['a,b', '2,"never closed', ...rows].join('\n') + '\n', 256);
    expect(out).toHaveLength(2001);
    expect(out[0]).toEqual([2, 'MALFORMED_ROW']);
    expect(out.slice(1)).toEqual(rows.map((_, i) => [i + 3, String(i + 3)]));
  });

  it('numbers lines right around a stray quote and across CRLF, whatever the chunk size', async () => {
    const text = 'a,b\r\n1,x\r\n2,y\r\n3,Trần "Thị B\r\n4,z\r\n\r\n6,"w"\r\n7,v';
    for (const size of [1, 7, 64, 1024]) {
      expect(await records(`stray-${size}.csv`, text, size)).toEqual([[2, '1'], [3, '2'], [4, 'MALFORMED_ROW'], [5, '4'], [7, '6'], [8, '7']]);
    }
  });
});

describe('a CSV header that is not UTF-8', () => {
  // A UTF-16 export (Excel's "Unicode" text, Windows tools) or a Windows-1258 header used to be
  // reported as unknown columns, asking whether the header row was missing: the engineer looked
  // for a missing header, not for the encoding the format requires (docs/formats.md: UTF-8).
  it('is refused as not UTF-8, naming the encoding, not as unknown columns', async () => {
    const header = 'a,b\r\n1,x\r\n';
    const utf16le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(header, 'utf16le')]);
    const utf16be = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(header, 'utf16le').swap16()]);
    const latin1 = Buffer.from('a,b\xe1\n1,x\n', 'latin1');
    for (const [name, bytes] of [['le.csv', utf16le], ['be.csv', utf16be], ['latin1.csv', latin1]] as const) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      await expect(openChunkedSource({ path, fields: ['a', 'b'], required: ['a', 'b'] }), name).rejects.toThrow(/not UTF-8/);
    }
  });

  it('takes a UTF-8 header with a byte-order mark, as before', async () => {
    const path = join(dir, 'bom.csv');
    writeFileSync(path, '\uFEFFa,b\n1,x\n');
    expect((await openChunkedSource({ path, fields: ['a', 'b'], required: ['a', 'b'] })).header).toEqual(['a', 'b']);
  });
});

describe('the file descriptor of a source', () => {
  const many = ['a,b', ...Array.from({ length: 5000 }, (_, i) => `${i},x`)].join('\n') + '\n';

  // A hub imports carriers' uploads one after another for months: a descriptor left open by each
  // refused or interrupted file runs it out of descriptors.
  it('is closed when the file is refused whole at its header', async () => {
    const path = join(dir, 'fd-refused.csv');
    writeFileSync(path, `a;b\n${many}`);
    await expect(openChunkedSource({ path, fields, required: fields, chunkBytes: 256 })).rejects.toThrow(/;/);
    expect(await settledDescriptorsOpenOn(path)).toBe(0);
  });

  it('is closed by close() when no chunk was read (the run failed to start), and by a reader that stops early', async () => {
    const path = join(dir, 'fd-early.csv');
    writeFileSync(path, many);
    const unread = await openChunkedSource({ path, fields, required: fields, chunkBytes: 256 });
    expect(descriptorsOpenOn(path)).toBe(1);
    unread.close();
    unread.close(); // idempotent
    expect(await settledDescriptorsOpenOn(path)).toBe(0);
    const partly = await openChunkedSource({ path, fields, required: fields, chunkBytes: 256 });
    for await (const chunk of partly.chunks) if (chunk.startLine > 1) break;
    expect(await settledDescriptorsOpenOn(path)).toBe(0);
    const whole = await openChunkedSource({ path, fields, required: fields, chunkBytes: 256 });
    let lines = 0;
    for await (const chunk of whole.chunks) lines = chunk.endLine;
    expect(lines).toBe(5001);
    expect(await settledDescriptorsOpenOn(path)).toBe(0);
  });
});
