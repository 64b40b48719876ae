/**
 * Offline proof bundles: a C2SP tlog-proof file whose `extra` data carries idbind's entry and
 * its commitment opening. Pure code.
 *
 *     c2sp.org/tlog-proof@v1
 *     extra <base64(canonicalJson({"entry": {...}, "opening": {"record": ..., "salt": "..."}}))>
 *     index <N>
 *     <base64 inclusion proof hash, leaf's sibling first>...
 *     <empty line>
 *     <the signed checkpoint, verbatim, with any witness cosignatures>
 *
 * Our reading of the spec (C2SP tlog-proof "Format"): the format itself carries only the index,
 * the inclusion proof and the checkpoint; the entry is the application's. The spec's `extra` line
 * is "additional data necessary to reconstruct the record hash", unauthenticated, so that is
 * where the entry and its opening go: nothing is appended after the checkpoint (which must stay
 * the last part for any tlog-proof parser). The extra data is not trusted: the verifier hashes
 * the entry into the leaf and checks the inclusion proof against the signed checkpoint, then
 * recomputes the commitment from the opening and compares it with the entry's.
 *
 * @see C2SP tlog-proof (https://c2sp.org/tlog-proof) "Format"; RFC 6962 2.1.1 (the proof)
 */
import { canonicalJson } from './canonical-json.ts';
import { parseCheckpoint, type Checkpoint } from './checkpoint.ts';
import { commitment, encodeEntry, checkEntry, type LogEntry } from './entry.ts';
import { hashLeaf, verifyInclusion, HASH_SIZE } from './merkle.ts';
import { openNote, type Verifier } from './signed-note.ts';

export const PROOF_HEADER = 'c2sp.org/tlog-proof@v1';

export interface Opening {
  /** base64 of the 32-byte salt */
  salt: string;
  record: unknown;
}

export interface ProofBundle {
  readonly extra: Buffer | undefined;
  readonly index: number;
  readonly proof: readonly Buffer[];
  /** The signed checkpoint note, verbatim. */
  readonly checkpoint: string;
}

export class ProofBundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProofBundleError';
  }
}

export function formatProofBundle(b: ProofBundle): string {
  const lines = [PROOF_HEADER];
  if (b.extra !== undefined) lines.push(`extra ${b.extra.toString('base64')}`);
  lines.push(`index ${b.index}`);
  for (const h of b.proof) lines.push(h.toString('base64'));
  return `${lines.join('\n')}\n\n${b.checkpoint}`;
}

/** idbind's extra data: the entry and its opening, as canonical JSON. */
export function bundleExtra(entry: LogEntry, opening: Opening): Buffer {
  return Buffer.from(canonicalJson({ entry, opening: { record: opening.record, salt: opening.salt } }), 'utf8');
}

export function parseProofBundle(text: string): ProofBundle {
  const split = text.indexOf('\n\n');
  if (split < 0) throw new ProofBundleError('no empty line before the checkpoint');
  const lines = text.slice(0, split).split('\n');
  const checkpoint = text.slice(split + 2);
  if (lines.shift() !== PROOF_HEADER) throw new ProofBundleError(`the first line must be ${PROOF_HEADER}`);
  let extra: Buffer | undefined;
  if (lines[0]?.startsWith('extra ')) {
    const b64 = lines.shift()!.slice('extra '.length);
    extra = Buffer.from(b64, 'base64');
    if (extra.toString('base64') !== b64) throw new ProofBundleError('the extra data is not base64');
  }
  const m = /^index (0|[1-9][0-9]*)$/.exec(lines.shift() ?? '');
  if (!m || !Number.isSafeInteger(Number(m[1]))) throw new ProofBundleError('malformed index line');
  const proof = lines.map((l) => {
    const h = Buffer.from(l, 'base64');
    if (h.length !== HASH_SIZE || h.toString('base64') !== l) throw new ProofBundleError('malformed proof hash');
    return h;
  });
  return { extra, index: Number(m[1]), proof, checkpoint };
}

export interface VerifiedBundle {
  readonly index: number;
  readonly entry: LogEntry;
  readonly opening: Opening;
  readonly checkpoint: Checkpoint;
  /** Names of the keys (log, witnesses) whose signatures verified. */
  readonly verifiedBy: readonly string[];
}

/**
 * Verifies a bundle offline against the log's verifier key (and optionally witnesses'): the
 * checkpoint's signature by the log (key name = origin), the entry's inclusion at the index,
 * and the opening (salt and record) against the entry's commitment. Throws on any failure.
 */
export function verifyProofBundle(text: string, logKey: Verifier, witnesses: readonly Verifier[] = []): VerifiedBundle {
  const bundle = parseProofBundle(text);
  const note = openNote(bundle.checkpoint, [logKey, ...witnesses]);
  if (!note.verifiedBy.includes(logKey.name)) throw new ProofBundleError('the checkpoint is not signed by the log');
  const checkpoint = parseCheckpoint(note.text);
  if (checkpoint.origin !== logKey.name) throw new ProofBundleError('the checkpoint origin is not the log key name');
  if (!bundle.extra) throw new ProofBundleError('the bundle carries no entry (extra line)');
  let extra: { entry?: unknown; opening?: { salt?: unknown; record?: unknown } };
  try {
    extra = JSON.parse(bundle.extra.toString('utf8')) as typeof extra;
  } catch {
    throw new ProofBundleError('the extra data is not JSON');
  }
  const entry = checkEntry(extra.entry);
  verifyInclusion(bundle.index, checkpoint.size, hashLeaf(encodeEntry(entry)), bundle.proof, checkpoint.rootHash);
  const salt = typeof extra.opening?.salt === 'string' ? Buffer.from(extra.opening.salt, 'base64') : undefined;
  if (!salt || salt.length !== 32 || salt.toString('base64') !== extra.opening?.salt) throw new ProofBundleError('the opening has no valid salt');
  if (!('record' in (extra.opening ?? {}))) throw new ProofBundleError('the opening has no record');
  if (commitment(salt, extra.opening!.record) !== entry.commitment) throw new ProofBundleError('the opening does not match the commitment');
  return { index: bundle.index, entry, opening: { salt: extra.opening!.salt as string, record: extra.opening!.record }, checkpoint, verifiedBy: note.verifiedBy };
}
