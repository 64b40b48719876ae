import { describe, expect, it } from 'vitest';
import { decodeEntryBundle, encodeEntryBundle, encodeTileIndex, parseTilePath, tileExists, tilePath, tilesAtLevel } from './tiles.ts';

describe('tiles (C2SP tlog-tiles)', () => {
  it('encodes tile indexes as in the spec: 1234067 is x001/x234/067', () => {
    expect(encodeTileIndex(1234067)).toBe('x001/x234/067');
    expect(encodeTileIndex(0)).toBe('000');
    expect(encodeTileIndex(1000)).toBe('x001/000');
    expect(tilePath({ level: 0, index: 1234067, width: 256 })).toBe('tile/0/x001/x234/067');
    expect(tilePath({ level: 1, index: 5, width: 17 })).toBe('tile/1/005.p/17');
    expect(tilePath({ level: 'entries', index: 273, width: 112 })).toBe('tile/entries/273.p/112');
  });

  it('parses paths strictly', () => {
    expect(parseTilePath('tile/0/x001/x234/067')).toEqual({ level: 0, index: 1234067, width: 256 });
    expect(parseTilePath('tile/entries/273.p/112')).toEqual({ level: 'entries', index: 273, width: 112 });
    for (const bad of ['tile/0/1234067', 'tile/00/000', 'tile/0/x000/001', 'tile/0/001/002', 'tile/0/000.p/0', 'tile/0/000.p/256', 'tile/0/000.p/012', 'tile/64/000', 'tile/0/x1/000', 'tile/entries/000.p/']) {
      expect(parseTilePath(bad), bad).toBeUndefined();
    }
  });

  it('has the tiles of the spec example: a tree of 70,000 and one of 256', () => {
    expect(tilesAtLevel(70_000, 0)).toEqual({ full: 273, partialWidth: 112 });
    expect(tilesAtLevel(70_000, 1)).toEqual({ full: 1, partialWidth: 17 });
    expect(tilesAtLevel(70_000, 2)).toEqual({ full: 0, partialWidth: 1 });
    expect(tilesAtLevel(256, 0)).toEqual({ full: 1, partialWidth: 0 });
    expect(tilesAtLevel(256, 1)).toEqual({ full: 0, partialWidth: 1 });
    expect(tileExists({ level: 0, index: 272, width: 256 }, 70_000)).toBe(true);
    expect(tileExists({ level: 0, index: 273, width: 256 }, 70_000)).toBe(false);
    expect(tileExists({ level: 0, index: 273, width: 112 }, 70_000)).toBe(true);
    expect(tileExists({ level: 0, index: 273, width: 113 }, 70_000)).toBe(false);
    expect(tileExists({ level: 3, index: 0, width: 1 }, 70_000)).toBe(false);
  });

  it('length-prefixes entries with a big-endian uint16, and refuses an entry over 65,535 bytes', () => {
    const bundle = encodeEntryBundle([Buffer.from('ab'), Buffer.alloc(0), Buffer.alloc(300, 1)]);
    expect(bundle.subarray(0, 4).toString('hex')).toBe('00026162');
    expect(bundle.readUInt16BE(6)).toBe(300);
    expect(decodeEntryBundle(bundle).map((b) => b.length)).toEqual([2, 0, 300]);
    expect(() => encodeEntryBundle([Buffer.alloc(65_536)])).toThrow();
    expect(() => decodeEntryBundle(bundle.subarray(0, bundle.length - 1))).toThrow(/truncated/);
  });
});
