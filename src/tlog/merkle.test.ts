/**
 * Proof generation (RFC 6962 2.1.1, 2.1.2) checked by the verifiers (RFC 9162 2.1.3.2, 2.1.4.2)
 * for every index and size pair of small trees, against a naive MTH; and the tampering a log
 * client must notice: a tampered entry, reordered entries, a rolled-back log.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { EMPTY_ROOT, MemoryTree, hashChildren, hashLeaf, rangeNodes, splitPoint, verifyConsistency, verifyInclusion } from './merkle.ts';

/** MTH straight from RFC 6962 2.1's recursive definition. */
function naiveRoot(leaves: Buffer[]): Buffer {
  if (leaves.length === 0) return createHash('sha256').digest();
  if (leaves.length === 1) return leaves[0]!;
  const k = splitPoint(leaves.length);
  return hashChildren(naiveRoot(leaves.slice(0, k)), naiveRoot(leaves.slice(k)));
}

const entries = Array.from({ length: 40 }, (_, i) => Buffer.from(`entry ${i}`));
const leaves = entries.map(hashLeaf);

describe('RFC 6962 Merkle tree', () => {
  it('hashes leaves and nodes with their domain prefixes, the empty tree as SHA-256 of nothing', () => {
    expect(hashLeaf(Buffer.alloc(0)).toString('hex')).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
    expect(EMPTY_ROOT.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(new MemoryTree().root()).toEqual(EMPTY_ROOT);
  });

  it('computes the same root as the recursive definition for every size', () => {
    const tree = new MemoryTree(leaves);
    for (let n = 0; n <= leaves.length; n++) expect(tree.root(n), `size ${n}`).toEqual(naiveRoot(leaves.slice(0, n)));
  });

  it('decomposes ranges into aligned perfect subtrees', () => {
    expect(rangeNodes(0, 7)).toEqual([{ level: 2, index: 0 }, { level: 1, index: 2 }, { level: 0, index: 6 }]);
    expect(rangeNodes(8, 12)).toEqual([{ level: 2, index: 2 }]);
  });

  it('generates inclusion proofs that verify, for every index of every size', () => {
    const tree = new MemoryTree(leaves);
    for (let n = 1; n <= leaves.length; n++) {
      for (let i = 0; i < n; i++) verifyInclusion(i, n, leaves[i]!, tree.inclusionProof(i, n), tree.root(n));
    }
  });

  it('generates consistency proofs that verify, for every pair of sizes', () => {
    const tree = new MemoryTree(leaves);
    for (let n = 1; n <= leaves.length; n++) {
      for (let m = 1; m <= n; m++) verifyConsistency(m, n, tree.consistencyProof(m, n), tree.root(m), tree.root(n));
    }
  });

  it('detects a tampered entry: its leaf no longer proves inclusion, and the tree it makes has another root', () => {
    const tree = new MemoryTree(leaves);
    const tampered = hashLeaf(Buffer.from('entry 7 (edited)'));
    expect(() => verifyInclusion(7, 40, tampered, tree.inclusionProof(7, 40), tree.root())).toThrow(/root/);
    const forged = new MemoryTree(leaves.map((l, i) => (i === 7 ? tampered : l)));
    expect(forged.root()).not.toEqual(tree.root());
    // The forged log cannot prove itself consistent with what was signed before the edit.
    expect(() => verifyConsistency(20, 40, forged.consistencyProof(20, 40), tree.root(20), forged.root())).toThrow();
  });

  it('detects reordered entries: the proof of an entry at another index fails, and so does consistency', () => {
    const tree = new MemoryTree(leaves);
    const swapped = [...leaves];
    [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
    const reordered = new MemoryTree(swapped);
    expect(reordered.root()).not.toEqual(tree.root());
    expect(() => verifyInclusion(3, 40, leaves[3]!, reordered.inclusionProof(3, 40), tree.root())).toThrow();
    expect(() => verifyInclusion(4, 40, leaves[3]!, tree.inclusionProof(3, 40), tree.root())).toThrow();
    expect(() => verifyConsistency(10, 40, reordered.consistencyProof(10, 40), tree.root(10), reordered.root())).toThrow();
  });

  it('detects a rolled-back log: a smaller tree is not consistent with the larger one seen before', () => {
    const tree = new MemoryTree(leaves);
    // A verifier that saw size 40 is shown size 30: size2 < size1 is refused outright...
    expect(() => verifyConsistency(40, 30, [], tree.root(40), tree.root(30))).toThrow(/below/);
    // ...and a log rebuilt after a rollback (entries 30.. replaced) cannot prove consistency with 40.
    const rebuilt = new MemoryTree([...leaves.slice(0, 30), ...Array.from({ length: 15 }, (_, i) => hashLeaf(Buffer.from(`other ${i}`)))]);
    expect(() => verifyConsistency(40, 45, rebuilt.consistencyProof(40, 45), tree.root(40), rebuilt.root(45))).toThrow();
  });

  it('refuses proofs with a hash of the wrong length, or an index outside the tree', () => {
    const tree = new MemoryTree(leaves.slice(0, 8));
    const proof = tree.inclusionProof(2, 8);
    expect(() => verifyInclusion(2, 8, leaves[2]!, [...proof.slice(0, 2), proof[2]!.subarray(0, 31)], tree.root())).toThrow(/32 bytes/);
    expect(() => verifyInclusion(8, 8, leaves[2]!, proof, tree.root())).toThrow(/below/);
    expect(() => verifyInclusion(-1, 8, leaves[2]!, proof, tree.root())).toThrow();
  });
});

describe('incremental integration', () => {
  it('stores, batch after batch, exactly the perfect subtrees an in-memory tree has', async () => {
    const { integrate, integrationNeeds } = await import('./merkle.ts');
    const stored = new Map<string, Buffer>();
    let size = 0;
    for (const batch of [1, 2, 5, 1, 8, 3, 20]) {
      const add = leaves.slice(size, size + batch);
      const needs = integrationNeeds(size, size + add.length);
      const nodes = integrate(size, add, (id) => {
        expect(needs).toContainEqual(id);
        return stored.get(`${id.level}/${id.index}`)!;
      });
      for (const n of nodes) stored.set(`${n.level}/${n.index}`, n.hash);
      size += add.length;
      const tree = new MemoryTree(leaves.slice(0, size));
      for (const [key, hash] of stored) {
        const [level, index] = key.split('/').map(Number);
        expect(hash).toEqual(tree.node({ level: level!, index: index! }));
      }
    }
    expect(size).toBe(40);
    expect(stored.size).toBe(40 + 20 + 10 + 5 + 2 + 1);
  });
});
