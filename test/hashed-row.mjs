// The documented row hash of hashedEmbeddingBag (README), in BigInt: the tests' reference for
// it, and where the benchmark gets its JS loop's rows. Plain JavaScript so both can import it.

const MASK64 = (1n << 64n) - 1n;

/**
 * x = id XOR (seed x 0x9E3779B97F4A7C15), MurmurHash3's fmix64, then the high 64 bits of
 * x x rows.
 * @param {bigint} id
 * @param {bigint} seed
 * @param {number} rows
 * @returns {number}
 */
export function refHashedRow(id, seed, rows) {
  let x = id ^ ((seed * 0x9e3779b97f4a7c15n) & MASK64);
  x ^= x >> 33n;
  x = (x * 0xff51afd7ed558ccdn) & MASK64;
  x ^= x >> 33n;
  x = (x * 0xc4ceb9fe1a85ec53n) & MASK64;
  x ^= x >> 33n;
  return Number((x * BigInt(rows)) >> 64n);
}
