/**
 * A verifying client of a live idbind log (what `idbind log verify --url` runs; docs/tlog.md
 * "Verifying the log"). It trusts nothing the log says without checking it:
 *
 * 1. the checkpoint's signature, by the verifier key given (or fetched from /log/vkey, and then
 *    pinned per origin in the state file: a later change of key under the same origin fails);
 * 2. the checkpoint's root hash, recomputed from C2SP tlog-tiles tiles (per perfect subtree of
 *    the tree, the tile at the level holding it), and the rightmost entry bundle against the
 *    level-0 tile (every entry canonical);
 * 3. consistency with the last checkpoint this client saw for the origin (RFC 9162 2.1.4.2, proof
 *    from /v1/log/proof/consistency): a smaller tree is a rollback, another root at the same size
 *    or a failing proof a fork. Only a fully verified checkpoint is saved as the new state.
 *
 * HTTP goes through the `fetch` passed in.
 */
import { readFileSync, existsSync } from 'node:fs';
import { writePrivateFileSync } from '../kernel/private-file.ts';
import { parseCheckpoint, type Checkpoint } from './checkpoint.ts';
import { decodeEntry } from './entry.ts';
import { MemoryTree, foldRange, hashLeaf, rangeNodes, verifyConsistency, EMPTY_ROOT } from './merkle.ts';
import { openNote, parseVerifierKey } from './signed-note.ts';
import { decodeEntryBundle, decodeTile, tilePath, tilesAtLevel, TILE_HEIGHT, TILE_WIDTH, type TileRef } from './tiles.ts';

export class LogVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogVerificationError';
  }
}

export interface SeenCheckpoint {
  size: number;
  root_hash: string;
  vkey: string;
  checkpoint: string;
  seen_at: string;
}

export type VerifierState = Record<string, SeenCheckpoint>;

export function readState(path: string): VerifierState {
  if (!existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as VerifierState;
  } catch {
    throw new LogVerificationError(`the state file ${path} is not JSON; move it away to start over`);
  }
}

export function writeState(path: string, state: VerifierState): void {
  // A new 0600 file (never an existing one or a link in its place) renamed over the state.
  writePrivateFileSync(path, `${JSON.stringify(state, null, 2)}\n`);
}

type Fetch = (url: string) => Promise<Response>;

/** The log prefix (…/log) and the hub URL from a URL given as either. */
export function logUrls(url: string): { prefix: string; hub: string } {
  const base = url.replace(/\/+$/, '');
  return base.endsWith('/log') ? { prefix: base, hub: base.slice(0, -4) } : { prefix: `${base}/log`, hub: base };
}

async function get(fetchFn: Fetch, url: string): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetchFn(url);
  } catch (e) {
    throw new LogVerificationError(`cannot fetch ${url}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new LogVerificationError(`${url} answered ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/**
 * The root of a tree of `size` from its tiles: for each perfect subtree of RFC 6962's
 * decomposition, the tile at level floor(height / 8) holding its hashes.
 */
export async function rootFromTiles(fetchTile: (t: TileRef) => Promise<Buffer>, size: number): Promise<Buffer> {
  if (size === 0) return EMPTY_ROOT;
  const cache = new Map<string, Buffer[]>();
  const tileHashes = async (level: number, index: number): Promise<Buffer[]> => {
    const { full, partialWidth } = tilesAtLevel(size, level);
    const width = index < full ? TILE_WIDTH : partialWidth;
    const key = `${level}/${index}/${width}`;
    if (!cache.has(key)) cache.set(key, decodeTile(await fetchTile({ level, index, width }), width));
    return cache.get(key)!;
  };
  const hashes: Buffer[] = [];
  for (const node of rangeNodes(0, size)) {
    const level = Math.floor(node.level / TILE_HEIGHT);
    const span = 2 ** (node.level - level * TILE_HEIGHT);
    const first = node.index * span;
    const tile = await tileHashes(level, Math.floor(first / TILE_WIDTH));
    const offset = first % TILE_WIDTH;
    hashes.push(new MemoryTree(tile.slice(offset, offset + span)).root());
  }
  return foldRange(hashes);
}

export interface LiveResult {
  origin: string;
  size: number;
  rootHash: string;
  /** The size of the checkpoint seen before (consistency checked), if any. */
  previous: number | undefined;
  vkeySource: 'given' | 'fetched' | 'pinned';
}

export async function verifyLiveLog(options: { url: string; vkey?: string; statePath: string; fetch?: Fetch }): Promise<LiveResult> {
  const fetchFn: Fetch = options.fetch ?? ((u) => fetch(u, { redirect: 'error' }));
  const { prefix, hub } = logUrls(options.url);
  const state = readState(options.statePath);
  let vkey = options.vkey;
  let vkeySource: LiveResult['vkeySource'] = 'given';
  if (!vkey) {
    vkey = (await get(fetchFn, `${prefix}/vkey`)).toString('utf8').trim();
    vkeySource = 'fetched';
  }
  let verifier;
  try {
    verifier = parseVerifierKey(vkey);
  } catch (e) {
    throw new LogVerificationError(`the verifier key is malformed: ${(e as Error).message}`);
  }
  const seen = state[verifier.name];
  if (seen && seen.vkey !== vkey) {
    throw new LogVerificationError(`the key of ${verifier.name} is not the one seen before (${seen.vkey}): a log key is only replaced with a new origin`);
  }
  if (seen && vkeySource === 'fetched') vkeySource = 'pinned';

  const note = (await get(fetchFn, `${prefix}/checkpoint`)).toString('utf8');
  let checkpoint: Checkpoint;
  try {
    const opened = openNote(note, [verifier]);
    checkpoint = parseCheckpoint(opened.text);
  } catch (e) {
    throw new LogVerificationError(`the checkpoint does not verify with ${verifier.name}'s key: ${(e as Error).message}`);
  }
  if (checkpoint.origin !== verifier.name) throw new LogVerificationError(`the checkpoint's origin ${checkpoint.origin} is not the key name ${verifier.name}`);
  const size = checkpoint.size;

  // 2. The root from the tiles, and the rightmost entries against their level-0 tile.
  const fetchTile = async (t: TileRef) => get(fetchFn, `${prefix}/${tilePath(t)}`);
  let root: Buffer;
  try {
    root = await rootFromTiles(fetchTile, size);
  } catch (e) {
    if (e instanceof LogVerificationError) throw e;
    throw new LogVerificationError(`the tiles are malformed: ${(e as Error).message}`);
  }
  if (!root.equals(checkpoint.rootHash)) throw new LogVerificationError(`the tiles do not make the checkpoint's root hash at size ${size}`);
  if (size > 0) {
    const last = Math.floor((size - 1) / TILE_WIDTH);
    const width = size - last * TILE_WIDTH;
    const bundle = decodeEntryBundle(await get(fetchFn, `${prefix}/${tilePath({ level: 'entries', index: last, width })}`));
    const tile = decodeTile(await fetchTile({ level: 0, index: last, width }), width);
    if (bundle.length !== width) throw new LogVerificationError('the last entry bundle has the wrong number of entries');
    bundle.forEach((e, i) => {
      try {
        decodeEntry(e);
      } catch (err) {
        throw new LogVerificationError(`entry ${last * TILE_WIDTH + i} is malformed: ${(err as Error).message}`);
      }
      if (!hashLeaf(e).equals(tile[i]!)) throw new LogVerificationError(`entry ${last * TILE_WIDTH + i} does not hash to its leaf`);
    });
  }

  // 3. Consistency with the last checkpoint seen.
  if (seen) {
    const oldRoot = Buffer.from(seen.root_hash, 'base64');
    if (size < seen.size) throw new LogVerificationError(`the log was rolled back: size ${size} is below the size ${seen.size} seen on ${seen.seen_at}`);
    if (size === seen.size) {
      if (!oldRoot.equals(checkpoint.rootHash)) throw new LogVerificationError(`the log forked: size ${size} has another root than the one seen on ${seen.seen_at}`);
    } else if (seen.size > 0) {
      const body = (await get(fetchFn, `${hub}/v1/log/proof/consistency?from=${seen.size}&to=${size}`)).toString('utf8');
      let hashes: Buffer[];
      try {
        hashes = (JSON.parse(body) as { hashes: string[] }).hashes.map((h) => Buffer.from(h, 'base64'));
      } catch {
        throw new LogVerificationError('the consistency proof is malformed');
      }
      try {
        verifyConsistency(seen.size, size, hashes, oldRoot, checkpoint.rootHash);
      } catch (e) {
        throw new LogVerificationError(`the log is not consistent with the checkpoint of size ${seen.size} seen on ${seen.seen_at}: ${(e as Error).message}`);
      }
    }
  }
  state[verifier.name] = { size, root_hash: checkpoint.rootHash.toString('base64'), vkey, checkpoint: note, seen_at: new Date().toISOString() };
  writeState(options.statePath, state);
  return { origin: checkpoint.origin, size, rootHash: checkpoint.rootHash.toString('base64'), previous: seen?.size, vkeySource };
}
