/**
 * The root of a tree recomputed from its C2SP tlog-tiles tiles (what `idbind log verify --url`
 * does), for sizes around tile boundaries and a tree deep enough for level-2 tiles (the spec's
 * 70,000 example), against the in-memory RFC 6962 root.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { MemoryTree } from './merkle.ts';
import { rootFromTiles, logUrls } from './log-client.ts';
import { TILE_HEIGHT, TILE_WIDTH, tileExists, type TileRef } from './tiles.ts';

const leaves = Array.from({ length: 70_000 }, (_, i) => createHash('sha256').update(`leaf ${i}`).digest());
const tree = new MemoryTree(leaves);

function tilesOf(size: number) {
  const fetched: string[] = [];
  const fetchTile = async (t: TileRef): Promise<Buffer> => {
    if (t.level === 'entries' || !tileExists(t, size)) throw new Error(`no tile ${JSON.stringify(t)}`);
    fetched.push(`${t.level}/${t.index}/${t.width}`);
    const hashes = Array.from({ length: t.width }, (_, i) => tree.node({ level: t.level as number * TILE_HEIGHT, index: t.index * TILE_WIDTH + i }));
    return Buffer.concat(hashes);
  };
  return { fetchTile, fetched };
}

describe('rootFromTiles', () => {
  it.each([1, 2, 255, 256, 257, 300, 65_535, 65_536, 65_537, 70_000])('recomputes the root of a tree of %i from its tiles', async (size) => {
    const { fetchTile, fetched } = tilesOf(size);
    expect(await rootFromTiles(fetchTile, size)).toEqual(tree.root(size));
    // Only the tiles on the right edge and the tops: a handful, not the whole tree.
    expect(fetched.length).toBeLessThanOrEqual(6);
  });

  it('takes the hub URL or the log prefix', () => {
    expect(logUrls('https://hub.example/')).toEqual({ prefix: 'https://hub.example/log', hub: 'https://hub.example' });
    expect(logUrls('https://hub.example/log')).toEqual({ prefix: 'https://hub.example/log', hub: 'https://hub.example' });
  });
});
