/**
 * Offline proof bundles (C2SP tlog-proof with idbind's entry and opening as `extra`): a bundle
 * built from a tree verifies; a modified entry, opening, index, proof or checkpoint, or another
 * log's key, is refused. Canonical JSON (RFC 8785 subset) and entries too.
 */
import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.ts';
import { formatCheckpoint } from './checkpoint.ts';
import { commitTo, decodeEntry, encodeEntry, type LogEntry } from './entry.ts';
import { MemoryTree, hashLeaf } from './merkle.ts';
import { bundleExtra, formatProofBundle, parseProofBundle, verifyProofBundle, PROOF_HEADER } from './proof-bundle.ts';
import { generateSigningKey, parseSigningKey, parseVerifierKey, signNote } from './signed-note.ts';

describe('canonical JSON (RFC 8785 subset)', () => {
  it('sorts keys, drops whitespace and refuses what JCS would render differently', () => {
    expect(canonicalJson({ b: [1, true, null, 'é\n'], a: { d: -0, c: 'x' }, u: undefined })).toBe('{"a":{"c":"x","d":0},"b":[1,true,null,"é\\n"]}');
    expect(canonicalJson({ '\u00e9': 1, z: 2, A: 3 })).toBe('{"A":3,"z":2,"é":1}');
    for (const bad of [1.5, Number.NaN, 2 ** 53, new Date(0), 1n, [undefined], '\ud800']) expect(() => canonicalJson(bad)).toThrow();
  });
});

describe('entries', () => {
  it('encode canonically and refuse unknown stages, fields or non-canonical bytes', () => {
    const e: LogEntry = { stage: 'approved', authority: 'Police A', timestamp: '2026-01-02T03:04:05.000Z', commitment: 'ab'.repeat(32) };
    const bytes = encodeEntry(e);
    expect(bytes.toString()).toBe(`{"authority":"Police A","commitment":"${'ab'.repeat(32)}","stage":"approved","timestamp":"2026-01-02T03:04:05.000Z"}`);
    expect(decodeEntry(bytes)).toEqual(e);
    expect(() => decodeEntry(Buffer.from(JSON.stringify(e)))).toThrow(/canonical/);
    expect(() => encodeEntry({ ...e, stage: 'deleted' as never })).toThrow(/stage/);
    expect(() => encodeEntry({ ...e, name: 'x' } as never)).toThrow();
    expect(() => encodeEntry({ ...e, commitment: 'AB'.repeat(32) })).toThrow(/commitment/);
    expect(() => encodeEntry({ ...e, authority: 'x'.repeat(70_000) })).toThrow();
  });
});

describe('proof bundles (C2SP tlog-proof)', () => {
  const origin = 'hub.example/log';
  const key = generateSigningKey(origin);
  const signer = parseSigningKey(key.skey);
  const logKey = parseVerifierKey(key.vkey);
  const record = { request: 'r-1', stage: 'approved', seal_until: null, asks: ['identity'] };
  const { salt, commitment } = commitTo(record);
  const entry: LogEntry = { stage: 'approved', authority: 'Procuracy B', timestamp: '2026-01-02T03:04:05Z', commitment };
  const leaves = Array.from({ length: 9 }, (_, i) => hashLeaf(Buffer.from(`other ${i}`)));
  leaves[5] = hashLeaf(encodeEntry(entry));
  const tree = new MemoryTree(leaves);
  const checkpoint = signNote(formatCheckpoint({ origin, size: 9, rootHash: tree.root(), extensions: [] }), signer);
  const bundle = formatProofBundle({ extra: bundleExtra(entry, { salt, record }), index: 5, proof: tree.inclusionProof(5), checkpoint });

  it('is a tlog-proof file that verifies offline: signature, inclusion and opening', () => {
    expect(bundle.startsWith(`${PROOF_HEADER}\nextra `)).toBe(true);
    expect(bundle).toContain('\nindex 5\n');
    expect(bundle.endsWith(checkpoint)).toBe(true);
    expect(parseProofBundle(bundle).proof).toHaveLength(4);
    const v = verifyProofBundle(bundle, logKey);
    expect(v).toMatchObject({ index: 5, entry, opening: { salt, record } });
    expect(v.checkpoint.size).toBe(9);
  });

  it('refuses a tampered entry, opening, index, proof, checkpoint, or another key', () => {
    const withExtra = (ent: LogEntry, rec: unknown) => formatProofBundle({ extra: bundleExtra(ent, { salt, record: rec }), index: 5, proof: tree.inclusionProof(5), checkpoint });
    expect(() => verifyProofBundle(withExtra({ ...entry, authority: 'Other' }, record), logKey)).toThrow(/root/);
    expect(() => verifyProofBundle(withExtra(entry, { ...record, request: 'r-2' }), logKey)).toThrow(/opening/);
    expect(() => verifyProofBundle(bundle.replace('index 5', 'index 4'), logKey)).toThrow();
    const lines = bundle.split('\n');
    lines[3] = tree.inclusionProof(5)[1]!.toString('base64');
    expect(() => verifyProofBundle(lines.join('\n'), logKey)).toThrow();
    expect(() => verifyProofBundle(bundle.replace(`\n9\n`, `\n10\n`), logKey)).toThrow(/signature/);
    expect(() => verifyProofBundle(bundle, parseVerifierKey(generateSigningKey(origin).vkey))).toThrow(/known key/);
    expect(() => verifyProofBundle(bundle.replace(PROOF_HEADER, 'c2sp.org/tlog-proof@v2'), logKey)).toThrow(/first line/);
  });
});
