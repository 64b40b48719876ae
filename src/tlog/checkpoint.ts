/**
 * C2SP tlog-checkpoint bodies: the note text a log signs. Pure code.
 *
 *     <origin>\n<decimal tree size>\n<base64 root hash>\n[<extension line>\n]...
 *
 * @see C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint) "Note text": the origin is a
 * non-empty line, the size an ASCII decimal with no leading zeroes, the root hash the standard
 * base64 of 32 bytes; extension lines are non-empty and opaque.
 */
import { HASH_SIZE } from './merkle.ts';

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly rootHash: Buffer;
  readonly extensions: readonly string[];
}

export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export function formatCheckpoint(c: Checkpoint): string {
  if (c.origin === '' || c.origin.includes('\n')) throw new CheckpointError('invalid origin');
  if (!Number.isSafeInteger(c.size) || c.size < 0) throw new CheckpointError('invalid size');
  if (c.rootHash.length !== HASH_SIZE) throw new CheckpointError('the root hash is not 32 bytes');
  for (const e of c.extensions) if (e === '' || e.includes('\n')) throw new CheckpointError('invalid extension line');
  return [c.origin, String(c.size), c.rootHash.toString('base64'), ...c.extensions].map((l) => `${l}\n`).join('');
}

/** Parses a checkpoint body (the note text, without signatures). */
export function parseCheckpoint(text: string): Checkpoint {
  if (!text.endsWith('\n')) throw new CheckpointError('a checkpoint ends with a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new CheckpointError('a checkpoint has at least three lines');
  const [origin, size, root, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin === '') throw new CheckpointError('empty origin line');
  if (!/^(0|[1-9][0-9]*)$/.test(size) || !Number.isSafeInteger(Number(size))) throw new CheckpointError('malformed tree size');
  const rootHash = Buffer.from(root, 'base64');
  if (rootHash.length !== HASH_SIZE || rootHash.toString('base64') !== root) throw new CheckpointError('malformed root hash');
  for (const e of extensions) if (e === '') throw new CheckpointError('empty extension line');
  return { origin, size: Number(size), rootHash, extensions };
}
