/**
 * The RFC 6962 verifier against every vector of transparency-dev/merkle's testdata (copied with
 * its LICENSE into test/vectors/merkle, so the test runs wherever the repository is cloned; the
 * same files as ../shared/vectors/merkle). Valid proofs must verify; every `wantErr` case must be
 * rejected. Indexes and sizes are read as bigints: some vectors use 2^64 - 1.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifyConsistency, verifyInclusion } from './merkle.ts';

const ROOT = fileURLToPath(new URL('../../test/vectors/merkle/', import.meta.url));

function jsonFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? jsonFiles(path) : name.endsWith('.json') ? [path] : [];
  });
}

/** JSON with the integer fields kept exact (as decimal strings, turned into bigints). */
function readVector(path: string): Record<string, unknown> {
  const text = readFileSync(path, 'utf8').replace(/("(?:leafIdx|treeSize|size1|size2)"\s*:\s*)(\d+)/g, '$1"$2"');
  return JSON.parse(text) as Record<string, unknown>;
}

const b64 = (s: unknown): Buffer => Buffer.from(String(s ?? ''), 'base64');
const proofOf = (p: unknown): Buffer[] => ((p as string[] | null) ?? []).map(b64);

function outcome(run: () => void): 'ok' | 'rejected' {
  try {
    run();
    return 'ok';
  } catch {
    return 'rejected';
  }
}

const inclusion = jsonFiles(join(ROOT, 'inclusion')).sort();
const consistency = jsonFiles(join(ROOT, 'consistency')).sort();

describe('RFC 6962 vectors (transparency-dev/merkle testdata)', () => {
  it('has the vectors and their licence', () => {
    expect(inclusion.length).toBeGreaterThan(90);
    expect(consistency.length).toBeGreaterThan(90);
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toContain('Apache License');
  });

  it.each(inclusion.map((p) => [relative(ROOT, p), p]))('inclusion %s', (_name, path) => {
    const v = readVector(path);
    const got = outcome(() => verifyInclusion(BigInt(v.leafIdx as string), BigInt(v.treeSize as string), b64(v.leafHash), proofOf(v.proof), b64(v.root)));
    expect(got).toBe(v.wantErr ? 'rejected' : 'ok');
  });

  it.each(consistency.map((p) => [relative(ROOT, p), p]))('consistency %s', (_name, path) => {
    const v = readVector(path);
    const got = outcome(() => verifyConsistency(BigInt(v.size1 as string), BigInt(v.size2 as string), proofOf(v.proof), b64(v.root1), b64(v.root2)));
    expect(got).toBe(v.wantErr ? 'rejected' : 'ok');
  });
});
