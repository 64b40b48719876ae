/**
 * RFC 6962 Merkle tree hashing and proofs (DESIGN.md "Transparency log"). Pure code, no I/O: the
 * service resolves the hashes a proof needs from its stored nodes, and verifiers (the CLI, tests,
 * anyone holding a proof bundle) run the verification functions here.
 *
 * Tree sizes and indexes are bigints in the verifiers, because proofs come from outside and the
 * vectors (transparency-dev/merkle testdata) use indexes up to 2^64 - 1; the generators take
 * numbers, since this log's own sizes stay far below 2^53.
 *
 * @see RFC 6962 2.1 (Merkle Hash Trees), 2.1.1 (audit paths), 2.1.2 (consistency proofs)
 * @see RFC 9162 2.1.3.2 (verifying an inclusion proof), 2.1.4.2 (verifying consistency)
 */
import { createHash } from 'node:crypto';

export const HASH_SIZE = 32;

/** MTH({}) = SHA-256() — RFC 6962 2.1: the hash of an empty list is the hash of an empty string. */
export const EMPTY_ROOT: Buffer = createHash('sha256').digest();

/** Leaf hash: SHA-256(0x00 || data). @see RFC 6962 2.1 */
export function hashLeaf(data: Uint8Array): Buffer {
  return createHash('sha256').update(Uint8Array.of(0)).update(data).digest();
}

/** Interior node: SHA-256(0x01 || left || right). @see RFC 6962 2.1 */
export function hashChildren(left: Uint8Array, right: Uint8Array): Buffer {
  return createHash('sha256').update(Uint8Array.of(1)).update(left).update(right).digest();
}

/** The largest power of two strictly smaller than n (n > 1): RFC 6962 2.1's split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** A half-open range [start, end) of leaf indexes whose Merkle Tree Hash a proof carries. */
export type Range = readonly [start: number, end: number];

/** A perfect, aligned subtree: 2^level leaves starting at index * 2^level (a stored node). */
export interface NodeId {
  readonly level: number;
  readonly index: number;
}

/**
 * The perfect aligned subtrees that make up MTH(D[start:end]), left to right, for the ranges RFC
 * 6962's recursion produces (start aligned to a power of two at least end - start): greedy
 * powers of two, decreasing. MTH of the range folds their hashes from the right (rangeHash).
 */
export function rangeNodes(start: number, end: number): NodeId[] {
  const out: NodeId[] = [];
  let at = start;
  while (at < end) {
    const n = end - at;
    // Largest power of two <= n that keeps `at` aligned.
    let level = 0;
    while (2 ** (level + 1) <= n && at % 2 ** (level + 1) === 0) level++;
    out.push({ level, index: at / 2 ** level });
    at += 2 ** level;
  }
  return out;
}

/** MTH(D[start:end]) from its perfect subtrees' hashes (rangeNodes order). @see RFC 6962 2.1 */
export function foldRange(nodeHashes: readonly Uint8Array[]): Buffer {
  if (nodeHashes.length === 0) return EMPTY_ROOT;
  let acc: Buffer = Buffer.from(nodeHashes[nodeHashes.length - 1]!);
  for (let i = nodeHashes.length - 2; i >= 0; i--) acc = hashChildren(nodeHashes[i]!, acc);
  return acc;
}

/**
 * The ranges of the audit path PATH(m, D[n]) for leaf m in a tree of n leaves, leaf's sibling
 * first, root's child last. @see RFC 6962 2.1.1
 */
export function inclusionProofRanges(index: number, size: number): Range[] {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    throw new RangeError(`no inclusion proof for index ${index} in a tree of size ${size}`);
  }
  const out: Range[] = [];
  // PATH(m, D[start:end]) recursion, written as a loop collecting from the root down, reversed.
  let start = 0;
  let end = size;
  while (end - start > 1) {
    const k = splitPoint(end - start);
    if (index - start < k) {
      out.push([start + k, end]);
      end = start + k;
    } else {
      out.push([start, start + k]);
      start += k;
    }
  }
  return out.reverse();
}

/**
 * The ranges of PROOF(m, D[n]) = SUBPROOF(m, D[n], true), the consistency proof between the tree
 * of m leaves and the tree of n leaves (0 < m < n). @see RFC 6962 2.1.2
 */
export function consistencyProofRanges(m: number, n: number): Range[] {
  if (!Number.isSafeInteger(m) || !Number.isSafeInteger(n) || m <= 0 || m > n) {
    throw new RangeError(`no consistency proof from size ${m} to size ${n}`);
  }
  if (m === n) return [];
  const out: Range[] = [];
  let start = 0;
  let end = n;
  let b = true;
  // SUBPROOF(m, D[start:end], b), unrolled: each step adds one range, from the root down.
  for (;;) {
    const size = end - start;
    const mm = m - start;
    if (mm === size) {
      if (!b) out.push([start, end]);
      break;
    }
    const k = splitPoint(size);
    if (mm <= k) {
      out.push([start + k, end]);
      end = start + k;
    } else {
      out.push([start, start + k]);
      start += k;
      b = false;
    }
  }
  return out.reverse();
}

/**
 * An in-memory tree over leaf hashes: every perfect subtree hash kept, so proofs are cheap. For
 * tests and for checking a batch of leaves (the CLI's tile check); the service keeps the same
 * nodes in the database.
 */
export class MemoryTree {
  /** levels[l][i] = hash of the perfect subtree of 2^l leaves starting at i * 2^l. */
  private readonly levels: Buffer[][] = [[]];

  constructor(leafHashes: readonly Uint8Array[] = []) {
    for (const h of leafHashes) this.push(h);
  }

  get size(): number {
    return this.levels[0]!.length;
  }

  push(leafHash: Uint8Array): void {
    let level = 0;
    this.levels[0]!.push(Buffer.from(leafHash));
    let i = this.levels[0]!.length - 1;
    while (i % 2 === 1) {
      const row = this.levels[level]!;
      const parent = hashChildren(row[i - 1]!, row[i]!);
      level++;
      if (!this.levels[level]) this.levels[level] = [];
      this.levels[level]!.push(parent);
      i = (i - 1) / 2;
    }
  }

  node(id: NodeId): Buffer {
    const h = this.levels[id.level]?.[id.index];
    if (!h) throw new RangeError(`no node ${id.level}/${id.index}`);
    return h;
  }

  rangeHash(start: number, end: number): Buffer {
    return foldRange(rangeNodes(start, end).map((id) => this.node(id)));
  }

  /** MTH(D[0:size]) for any size up to the current one. */
  root(size = this.size): Buffer {
    return this.rangeHash(0, size);
  }

  inclusionProof(index: number, size = this.size): Buffer[] {
    return inclusionProofRanges(index, size).map(([s, e]) => this.rangeHash(s, e));
  }

  consistencyProof(m: number, n = this.size): Buffer[] {
    return consistencyProofRanges(m, n).map(([s, e]) => this.rangeHash(s, e));
  }
}

/** MTH over a list of leaf hashes. @see RFC 6962 2.1 */
export function rootOf(leafHashes: readonly Uint8Array[]): Buffer {
  return new MemoryTree(leafHashes).root();
}

export class ProofError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProofError';
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a).equals(Buffer.from(b));
}

function toBig(n: number | bigint, what: string): bigint {
  if (typeof n === 'bigint') {
    if (n < 0n) throw new ProofError(`${what} is negative`);
    return n;
  }
  if (!Number.isSafeInteger(n) || n < 0) throw new ProofError(`${what} is not a non-negative integer`);
  return BigInt(n);
}

function checkHashes(proof: readonly Uint8Array[]): void {
  for (const p of proof) if (p.length !== HASH_SIZE) throw new ProofError('a proof hash is not 32 bytes');
}

/**
 * Verifies that leafHash is the leaf at `index` of the tree of `size` leaves with root `root`;
 * throws ProofError otherwise. @see RFC 9162 2.1.3.2 (the algorithm, step by step)
 */
export function verifyInclusion(index: number | bigint, size: number | bigint, leafHash: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): void {
  const leafIndex = toBig(index, 'index');
  const treeSize = toBig(size, 'size');
  // 1. leaf_index >= tree_size fails (also rules out the empty tree, which has no leaves).
  if (leafIndex >= treeSize) throw new ProofError(`index ${leafIndex} is not below tree size ${treeSize}`);
  if (leafHash.length !== HASH_SIZE) throw new ProofError('the leaf hash is not 32 bytes');
  if (root.length !== HASH_SIZE) throw new ProofError('the root hash is not 32 bytes');
  checkHashes(proof);
  // 2.-3.
  let fn = leafIndex;
  let sn = treeSize - 1n;
  let r: Buffer = Buffer.from(leafHash);
  // 4.
  for (const p of proof) {
    if (sn === 0n) throw new ProofError('the inclusion proof is too long');
    if ((fn & 1n) === 1n || fn === sn) {
      r = hashChildren(p, r);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  // 5.
  if (sn !== 0n) throw new ProofError('the inclusion proof is too short');
  if (!bytesEqual(r, root)) throw new ProofError('the inclusion proof does not lead to the root');
}

/**
 * Verifies that the tree of size1 leaves with root1 is a prefix of the tree of size2 leaves with
 * root2; throws ProofError otherwise. @see RFC 9162 2.1.4.2 for 0 < size1 < size2.
 *
 * The edge cases follow transparency-dev/merkle's VerifyConsistency, made stricter by the
 * vectors in test/vectors/merkle/consistency/additional: size2 < size1 fails; equal sizes need
 * an empty proof and equal roots (compared as given), and a size of 0 additionally needs the
 * empty tree's root; size1 = 0 < size2 fails (a proof from the empty tree proves nothing, so none
 * is accepted).
 */
export function verifyConsistency(size1: number | bigint, size2: number | bigint, proof: readonly Uint8Array[], root1: Uint8Array, root2: Uint8Array): void {
  const first = toBig(size1, 'size1');
  const second = toBig(size2, 'size2');
  if (second < first) throw new ProofError(`size2 ${second} is below size1 ${first}`);
  if (first === second) {
    if (proof.length > 0) throw new ProofError('equal sizes need an empty proof');
    if (first === 0n && !bytesEqual(root1, EMPTY_ROOT)) throw new ProofError('an empty tree has the empty root');
    if (!bytesEqual(root1, root2)) throw new ProofError('equal sizes with different roots');
    return;
  }
  if (first === 0n) throw new ProofError('no consistency proof from the empty tree');
  if (root1.length !== HASH_SIZE || root2.length !== HASH_SIZE) throw new ProofError('a root hash is not 32 bytes');
  checkHashes(proof);
  // 1.
  if (proof.length === 0) throw new ProofError('empty consistency proof');
  // 2.
  const path: Uint8Array[] = (first & (first - 1n)) === 0n ? [root1, ...proof] : [...proof];
  // 3.
  let fn = first - 1n;
  let sn = second - 1n;
  // 4.
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  // 5.
  let fr: Buffer = Buffer.from(path[0]!);
  let sr: Buffer = Buffer.from(path[0]!);
  // 6.
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new ProofError('the consistency proof is too long');
    if ((fn & 1n) === 1n || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      if ((fn & 1n) === 0n) {
        while ((fn & 1n) === 0n && fn !== 0n) {
          fn >>= 1n;
          sn >>= 1n;
        }
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  // 7.
  if (sn !== 0n) throw new ProofError('the consistency proof is too short');
  if (!bytesEqual(fr, root1)) throw new ProofError('the consistency proof does not lead to the first root');
  if (!bytesEqual(sr, root2)) throw new ProofError('the consistency proof does not lead to the second root');
}

/** A perfect subtree hash to store. */
export interface StoredNode extends NodeId {
  readonly hash: Buffer;
}

/**
 * The stored nodes that growing the tree from `oldSize` leaves to `oldSize + leaves.length` must
 * read: per level at most one left sibling completed before (the left edge of the new part).
 */
export function integrationNeeds(oldSize: number, newSize: number): NodeId[] {
  const out: NodeId[] = [];
  for (let level = 1; 2 ** level <= newSize; level++) {
    const first = Math.floor(oldSize / 2 ** level);
    const last = Math.floor(newSize / 2 ** level) - 1;
    if (first > last) continue;
    const left = { level: level - 1, index: 2 * first };
    // The left child of the first new node is old when it ended at or before oldSize.
    if ((left.index + 1) * 2 ** left.level <= oldSize) out.push(left);
  }
  return out;
}

/**
 * The perfect subtree hashes that appending `leafHashes` to a tree of `oldSize` leaves
 * completes, level 0 (the leaves) upwards; `old` answers the nodes integrationNeeds listed.
 */
export function integrate(oldSize: number, leafHashes: readonly Uint8Array[], old: (id: NodeId) => Buffer): StoredNode[] {
  const newSize = oldSize + leafHashes.length;
  const made = new Map<string, Buffer>();
  const out: StoredNode[] = [];
  const get = (level: number, index: number): Buffer => made.get(`${level}/${index}`) ?? old({ level, index });
  leafHashes.forEach((h, i) => {
    const node = { level: 0, index: oldSize + i, hash: Buffer.from(h) };
    made.set(`0/${node.index}`, node.hash);
    out.push(node);
  });
  for (let level = 1; 2 ** level <= newSize; level++) {
    const first = Math.floor(oldSize / 2 ** level);
    const last = Math.floor(newSize / 2 ** level) - 1;
    for (let j = first; j <= last; j++) {
      const hash = hashChildren(get(level - 1, 2 * j), get(level - 1, 2 * j + 1));
      made.set(`${level}/${j}`, hash);
      out.push({ level, index: j, hash });
    }
  }
  return out;
}
