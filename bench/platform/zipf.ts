/** The Zipf access pattern of the status measurement (bench/platform/http-load.ts). */

/**
 * A sampler of 1..n by Zipf's law with exponent s: rank k with probability (1/k^s) / H(n, s), by
 * binary search in the cumulative table (n doubles), then a fixed permutation of the ranks (a
 * multiplier coprime to n), so that the popular accounts are not acct-1, acct-2, ... (the seed
 * makes every 33rd and 50th account special).
 */
export function zipfSampler(n: number, s = 1, random: () => number = Math.random): () => number {
  const cumulative = new Float64Array(n);
  let sum = 0;
  for (let k = 1; k <= n; k++) cumulative[k - 1] = sum += 1 / k ** s;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  let multiplier = 2_654_435_761 % n;
  while (n > 1 && gcd(multiplier, n) !== 1) multiplier = (multiplier + 1) % n;
  return () => {
    const u = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    // rank lo + 1 (1-based) → account 1..n
    return n === 1 ? 1 : 1 + Number((BigInt(lo) * BigInt(multiplier)) % BigInt(n));
  };
}
