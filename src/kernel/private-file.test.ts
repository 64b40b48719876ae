import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, lstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePrivateFile, writePrivateFileSync } from './private-file.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'idbind-private-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const mode = (p: string) => statSync(p).mode & 0o777;

/** Everything a descriptor opened before the write reads from the start. */
function readAll(fd: number): string {
  const buf = Buffer.alloc(4096);
  let text = '';
  for (let pos = 0, n = readSync(fd, buf, 0, buf.length, pos); n > 0; pos += n, n = readSync(fd, buf, 0, buf.length, pos)) text += buf.toString('utf8', 0, n);
  return text;
}

const writers = {
  sync: async (p: string, text: string) => writePrivateFileSync(p, text),
  stream: (p: string, text: string) => writePrivateFile(p, async (out) => {
    out.write(text.slice(0, 3));
    out.write(text.slice(3));
  }),
};

// Audit of issue 2, finding 7: over an existing 0644 file the new content was written under the
// old mode, then chmodded; a reader that had opened the file before read it all.
describe.each(Object.entries(writers))('writePrivateFile (%s)', (name, write) => {
  it('creates the file 0600', async () => {
    const p = join(dir, `${name}-new.csv`);
    await write(p, 'line,field,code\n');
    expect(mode(p)).toBe(0o600);
    expect(readFileSync(p, 'utf8')).toBe('line,field,code\n');
  });

  it('replaces an existing 0644 file whole: 0600, and a reader that opened it before never sees the new content', async () => {
    const p = join(dir, `${name}-old.csv`);
    writeFileSync(p, 'old\n', { mode: 0o644 });
    const before = openSync(p, 'r');
    try {
      await write(p, 'new content\n');
      expect(readAll(before)).toBe('old\n');
    } finally {
      closeSync(before);
    }
    expect(mode(p)).toBe(0o600);
    expect(readFileSync(p, 'utf8')).toBe('new content\n');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('writes through a link to the file it names, leaving the link', async () => {
    const real = join(dir, `${name}-real.csv`);
    writeFileSync(real, 'old\n', { mode: 0o644 });
    const link = join(dir, `${name}-link.csv`);
    symlinkSync(real, link);
    await write(link, 'through the link\n');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(real, 'utf8')).toBe('through the link\n');
    expect(mode(real)).toBe(0o600);
  });
});

describe('writePrivateFile', () => {
  it('replaces a link found at the path, leaving the file it named, when asked to', async () => {
    const real = join(dir, 'named-by-link.csv');
    writeFileSync(real, 'not yours\n', { mode: 0o644 });
    const link = join(dir, 'replaced-link.csv');
    symlinkSync(real, link);
    await writePrivateFile(link, async (out) => void out.write('numbers\n'), { replaceLinks: true });
    expect(lstatSync(link).isFile()).toBe(true);
    expect(mode(link)).toBe(0o600);
    expect(readFileSync(link, 'utf8')).toBe('numbers\n');
    expect(readFileSync(real, 'utf8')).toBe('not yours\n');
  });

  it('leaves neither the file nor a temporary one when the content fails to arrive', async () => {
    const p = join(dir, 'failed.csv');
    await expect(writePrivateFile(p, async (out) => {
      out.write('partial');
      throw new Error('the database went away');
    })).rejects.toThrow('the database went away');
    expect(readdirSync(dir).filter((f) => f.includes('failed'))).toEqual([]);
  });

  it('writes to a target that is not a regular file as it is (here /dev/null), never replacing it', () => {
    writePrivateFileSync('/dev/null', 'x');
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
  });
});
