/**
 * C2SP tlog-tiles: tile paths, tile contents and entry bundles. Pure code.
 *
 * - A tile at level L, index N holds the Merkle Tree Hashes, at tree height 8L, of the perfect
 *   subtrees N*256 .. N*256+W-1 (each covering 256^L leaves); full tiles are 256 hashes wide
 *   (8,192 bytes), partial ones W = 1..255 (`.p/<W>`).
 * - N is written in 3-digit groups, every group but the last prefixed with `x`: 1234067 is
 *   `x001/x234/067`.
 * - An entry bundle holds the entries of a level-0 tile, each prefixed with its length as a
 *   big-endian uint16 (so an entry is at most 65,535 bytes).
 *
 * @see C2SP tlog-tiles (https://c2sp.org/tlog-tiles) "Merkle Tree", "Partial Tiles", "Log entries"
 */
export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
export const MAX_ENTRY_SIZE = 65_535;

export interface TileRef {
  /** Tile level 0..63, or 'entries' for an entry bundle. */
  readonly level: number | 'entries';
  readonly index: number;
  /** 1..256; 256 is a full tile (no `.p/` suffix). */
  readonly width: number;
}

export class TileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TileError';
  }
}

/** `x001/x234/067` for 1234067. @see C2SP tlog-tiles "Merkle Tree" */
export function encodeTileIndex(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new TileError('invalid tile index');
  const groups: string[] = [];
  let rest = n;
  do {
    groups.unshift(String(rest % 1000).padStart(3, '0'));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

/** The path below the prefix: `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`. */
export function tilePath(t: TileRef): string {
  if (!Number.isInteger(t.width) || t.width < 1 || t.width > TILE_WIDTH) throw new TileError('invalid tile width');
  if (t.level !== 'entries' && (!Number.isInteger(t.level) || t.level < 0 || t.level > 63)) throw new TileError('invalid tile level');
  return `tile/${t.level}/${encodeTileIndex(t.index)}${t.width < TILE_WIDTH ? `.p/${t.width}` : ''}`;
}

/**
 * Parses a path below the prefix (`tile/...`), strictly: no leading zeroes, `x` on every group
 * but the last, levels 0..63, widths 1..255 after `.p/`. Returns undefined for anything else.
 */
export function parseTilePath(path: string): TileRef | undefined {
  const m = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*)([0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/.exec(path);
  if (!m) return undefined;
  const level = m[1] === 'entries' ? 'entries' : Number(m[1]);
  if (level !== 'entries' && level > 63) return undefined;
  const groups = [...(m[2] ?? '').split('/').filter((g) => g !== '').map((g) => g.slice(1)), m[3]!];
  // No leading zero group: 000 is only valid alone (index 0 is `000`, never `x000/000`).
  if (groups.length > 1 && groups[0] === '000') return undefined;
  if (groups.length > 6) return undefined;
  const index = groups.reduce((acc, g) => acc * 1000 + Number(g), 0);
  if (!Number.isSafeInteger(index)) return undefined;
  const width = m[4] === undefined ? TILE_WIDTH : Number(m[4]);
  if (m[4] !== undefined && width >= TILE_WIDTH) return undefined;
  return { level, index, width };
}

/**
 * The tiles a tree of `size` leaves has at `level`: full tiles 0..full-1 and, when the size is
 * not a multiple, one partial tile of width floor(size / 256^level) mod 256.
 * @see C2SP tlog-tiles "Partial Tiles"
 */
export function tilesAtLevel(size: number, level: number): { full: number; partialWidth: number } {
  const hashes = Math.floor(size / TILE_WIDTH ** level);
  return { full: Math.floor(hashes / TILE_WIDTH), partialWidth: hashes % TILE_WIDTH };
}

/** Whether a tile (or entry bundle) exists in a tree of `size` leaves: full, or partial of exactly its width. */
export function tileExists(t: TileRef, size: number): boolean {
  const { full, partialWidth } = tilesAtLevel(size, t.level === 'entries' ? 0 : t.level);
  if (t.width === TILE_WIDTH) return t.index < full;
  // A partial tile of a checkpointed size, or a narrower one of an earlier size: both stay servable.
  return t.index < full || (t.index === full && t.width <= partialWidth);
}

/** The entry bundle: each entry prefixed with its big-endian uint16 length. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    if (e.length > MAX_ENTRY_SIZE) throw new TileError('an entry is longer than 65,535 bytes');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(e.length);
    parts.push(len, Buffer.from(e));
  }
  return Buffer.concat(parts);
}

export function decodeEntryBundle(bundle: Uint8Array): Buffer[] {
  const b = Buffer.from(bundle);
  const out: Buffer[] = [];
  let at = 0;
  while (at < b.length) {
    if (at + 2 > b.length) throw new TileError('truncated entry bundle');
    const len = b.readUInt16BE(at);
    if (at + 2 + len > b.length) throw new TileError('truncated entry bundle');
    out.push(b.subarray(at + 2, at + 2 + len));
    at += 2 + len;
  }
  return out;
}

/** A tile's hashes, 32 bytes each. */
export function decodeTile(tile: Uint8Array, width: number): Buffer[] {
  if (tile.length !== width * 32) throw new TileError(`a tile of width ${width} is ${width * 32} bytes`);
  const out: Buffer[] = [];
  for (let i = 0; i < width; i++) out.push(Buffer.from(tile.subarray(i * 32, i * 32 + 32)));
  return out;
}
