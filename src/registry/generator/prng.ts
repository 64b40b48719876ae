/**
 * Seeded pseudo-randomness for the synthetic registry generator (issue 2: "deterministic for a
 * given --seed"; DESIGN.md "Synthetic data only").
 *
 * Why counter-based rather than one long stream: the generator must produce 4 M people and
 * 4.8 M subscriptions in constant memory, so it never stores a person. Instead every entity gets
 * its own small generator derived from (seed, stream, index), and a subscription that needs its
 * holder's name recomputes that person from the same triple. Nothing here reads the clock or
 * `Math.random`.
 *
 * - `mix32` is the "lowbias32" integer hash (Chris Wellons, hash-prospector), a bijection on
 *   32-bit integers with good avalanche.
 * - `Prng` is sfc32 (Chris Doty-Humphrey's Small Fast Chaotic generator, PractRand), 128-bit
 *   state with a counter that guarantees a period of at least 2^32.
 * - `Permutation` is a keyed bijection of [0, n) built from a balanced Feistel network over the
 *   smallest even-bit power of two >= n, restricted to [0, n) by cycle walking (Black and Rogaway,
 *   "Ciphers with Arbitrary Finite Domains", CT-RSA 2002). It turns a counter into a
 *   unique, random-looking serial or phone number, and it can be inverted, which lets the
 *   generator go from a role slot back to the person who holds it.
 */

/** lowbias32: a bijective 32-bit integer hash. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A 32-bit key derived from a seed and a stream label; distinct labels give unrelated keys. */
export function deriveKey(seed: number, stream: number): number {
  return mix32(mix32(seed >>> 0) ^ Math.imul(stream >>> 0, 0x9e3779b9));
}

const TWO_POW_32 = 4294967296;

/** sfc32. Construct through `prngFor` so that distinct (seed, stream, index) never share a state. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(a: number, b: number, c: number) {
    this.a = a >>> 0;
    this.b = b >>> 0;
    this.c = c >>> 0;
    this.d = 1;
    // The first outputs of sfc32 still show the seed's structure; 12 rounds is the author's advice.
    for (let i = 0; i < 12; i++) this.next();
  }

  /** The next 32-bit unsigned integer. */
  next(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next() / TWO_POW_32;
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.float() < p;
  }

  /** An integer in [lo, hi], both inclusive; the span must be below 2^32. */
  int(lo: number, hi: number): number {
    if (hi < lo) throw new RangeError(`empty range [${lo}, ${hi}]`);
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  /** One element, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.float() * items.length)] as T;
  }

  /** One element by weight (see `WeightedTable`). */
  weighted<T>(table: WeightedTable<T>): T {
    return table.at(this.float());
  }
}

/**
 * The generator for one entity. The index enters the state unhashed, so two indices of the same
 * stream never start from the same state (no birthday collisions among millions of people).
 */
export function prngFor(seed: number, stream: number, index: number): Prng {
  const key = deriveKey(seed, stream);
  return new Prng(key, index >>> 0, mix32((index >>> 0) ^ key ^ 0x5bd1e995));
}

/** Items with weights (any positive scale), sampled in O(log n). */
export class WeightedTable<T> {
  private readonly items: readonly T[];
  private readonly cumulative: Float64Array;

  constructor(entries: readonly (readonly [T, number])[]) {
    if (entries.length === 0) throw new RangeError('empty weighted table');
    const total = entries.reduce((sum, [, w]) => {
      if (!(w > 0) || !Number.isFinite(w)) throw new RangeError('weights must be positive');
      return sum + w;
    }, 0);
    this.items = entries.map(([item]) => item);
    this.cumulative = new Float64Array(entries.length);
    let acc = 0;
    entries.forEach(([, w], i) => {
      acc += w / total;
      this.cumulative[i] = acc;
    });
    this.cumulative[entries.length - 1] = 1;
  }

  get size(): number {
    return this.items.length;
  }

  /** The item whose cumulative share first exceeds u, for u in [0, 1). */
  at(u: number): T {
    let lo = 0;
    let hi = this.items.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (u < (this.cumulative[mid] as number)) hi = mid;
      else lo = mid + 1;
    }
    return this.items[lo] as T;
  }
}

const FEISTEL_ROUNDS = 6;

/**
 * A keyed bijection of [0, n), n <= 2^32. `forward` and `inverse` each cost a few Feistel
 * evaluations (cycle walking needs fewer than 4 on average, as the Feistel domain is < 4n).
 */
export class Permutation {
  readonly size: number;
  private readonly half: number;
  private readonly mask: number;
  private readonly halfScale: number;
  private readonly keys: Uint32Array;

  constructor(n: number, seed: number, stream: number) {
    if (!Number.isInteger(n) || n < 0 || n > TWO_POW_32) throw new RangeError('permutation size outside [0, 2^32]');
    this.size = n;
    let bits = 2;
    while (2 ** bits < n) bits += 2;
    this.half = bits / 2;
    this.mask = 2 ** this.half - 1;
    this.halfScale = 2 ** this.half;
    this.keys = new Uint32Array(FEISTEL_ROUNDS);
    const base = deriveKey(seed, stream);
    for (let r = 0; r < FEISTEL_ROUNDS; r++) this.keys[r] = mix32(base + Math.imul(r + 1, 0x632be5ab));
  }

  private round(x: number, r: number): number {
    return mix32(x ^ (this.keys[r] as number)) & this.mask;
  }

  private encrypt(v: number): number {
    let left = Math.floor(v / this.halfScale);
    let right = v % this.halfScale;
    for (let r = 0; r < FEISTEL_ROUNDS; r++) {
      const next = (left ^ this.round(right, r)) >>> 0;
      left = right;
      right = next;
    }
    return left * this.halfScale + right;
  }

  private decrypt(v: number): number {
    let left = Math.floor(v / this.halfScale);
    let right = v % this.halfScale;
    for (let r = FEISTEL_ROUNDS - 1; r >= 0; r--) {
      const previous = (right ^ this.round(left, r)) >>> 0;
      right = left;
      left = previous;
    }
    return left * this.halfScale + right;
  }

  /** The image of x, for x in [0, n). */
  forward(x: number): number {
    this.check(x);
    let y = this.encrypt(x);
    while (y >= this.size) y = this.encrypt(y);
    return y;
  }

  /** The x with forward(x) === y, for y in [0, n). */
  inverse(y: number): number {
    this.check(y);
    let x = this.decrypt(y);
    while (x >= this.size) x = this.decrypt(x);
    return x;
  }

  private check(x: number): void {
    if (!Number.isInteger(x) || x < 0 || x >= this.size) throw new RangeError(`${x} outside [0, ${this.size})`);
  }
}
