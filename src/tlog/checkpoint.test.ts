import { describe, expect, it } from 'vitest';
import { formatCheckpoint, parseCheckpoint } from './checkpoint.ts';
import { EMPTY_ROOT } from './merkle.ts';

describe('checkpoints (C2SP tlog-checkpoint)', () => {
  it('formats and parses origin, decimal size, base64 root and extension lines', () => {
    const text = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\nextension\n';
    const c = parseCheckpoint(text);
    expect(c).toMatchObject({ origin: 'example.com/behind-the-sofa', size: 20852163, extensions: ['extension'] });
    expect(formatCheckpoint(c)).toBe(text);
    expect(formatCheckpoint({ origin: 'hub.example', size: 0, rootHash: EMPTY_ROOT, extensions: [] })).toBe('hub.example\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n');
  });

  it('refuses leading zeroes, short or non-canonical roots, missing lines and empty extension lines', () => {
    const root = EMPTY_ROOT.toString('base64');
    for (const bad of [`o\n01\n${root}\n`, `o\n1\n${root.slice(0, -4)}\n`, 'o\n1\n', `\n1\n${root}\n`, `o\n1\n${root}\n\n`, `o\n1\n${root}`, `o\n-1\n${root}\n`, `o\n1\n${root.replace('=', '')}\n`]) {
      expect(() => parseCheckpoint(bad), JSON.stringify(bad)).toThrow();
    }
  });
});
