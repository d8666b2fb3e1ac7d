// float64 references for the JL family, and a TypeScript port of Philox4x32-10 with the
// stream layout of csrc/kernels/common/philox.h: the tests rebuild every projection as an
// explicit dense matrix from the seed alone, independently of the native code.

/** 32 x 32 -> 64-bit product as [hi, lo] words, exact in float64 pieces. */
function mulhilo(a: number, b: number): [number, number] {
  const lo = Math.imul(a, b) >>> 0;
  const t = a * (b & 0xffff); // < 2^48
  const u = a * (b >>> 16); // < 2^48; a * b = u * 2^16 + t
  const hi = Math.floor(u / 65536) + Math.floor(((u % 65536) * 65536 + t) / 4294967296);
  return [hi >>> 0, lo];
}

/** Philox4x32-10 of counter c (4 words) and key (k0, k1). */
export function philox(c: readonly number[], k0: number, k1: number): number[] {
  let [c0, c1, c2, c3] = c.map((v) => v >>> 0);
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      k0 = (k0 + 0x9e3779b9) >>> 0;
      k1 = (k1 + 0xbb67ae85) >>> 0;
    }
    const [hi0, lo0] = mulhilo(0xd2511f53, c0);
    const [hi1, lo1] = mulhilo(0xcd9e8d57, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
  }
  return [c0, c1, c2, c3];
}

export const STREAM = { signs: 1, sample: 2, fjlt: 3, sparse: 4 } as const;

/** Block i of a stream (philox.h): key = the seed's halves, counter = (i lo, i hi, 0, stream). */
export function streamBlock(seed: bigint, stream: number, i: number): number[] {
  const k0 = Number(seed & 0xffffffffn);
  const k1 = Number(seed >> 32n);
  return philox([i % 4294967296, Math.floor(i / 4294967296), 0, stream], k0, k1);
}

export function paddedSize(d: number): number {
  let n = 1;
  while (n < d) n *= 2;
  return n;
}

export function signs(seed: bigint, n: number): number[] {
  const s: number[] = [];
  for (let j = 0; j < n; j++) {
    const word = streamBlock(seed, STREAM.signs, Math.floor(j / 128))[(j >> 5) & 3];
    s.push((word >>> (j & 31)) & 1 ? -1 : 1);
  }
  return s;
}

/** Floyd's sampling of k of n (ascending), draw t from block t of the sample stream. */
export function sample(seed: bigint, n: number, k: number): number[] {
  const taken = new Set<number>();
  for (let t = 0; t < k; t++) {
    const j = n - k + t;
    const b = streamBlock(seed, STREAM.sample, t);
    const u = BigInt(b[0]) | (BigInt(b[1]) << 32n);
    const r = Number((u * BigInt(j + 1)) >> 64n);
    taken.add(taken.has(r) ? j : r);
  }
  return [...taken].sort((a, b) => a - b);
}

export interface SparseRef {
  rowPtr: number[];
  colIdx: number[];
  /** +1 / -1; the entry is sign * value. */
  sign: number[];
  value: number;
}

/** The k x m sign matrix of a stream: entry (i, j) is word i*m + j (philox.h). */
export function sparseMatrix(seed: bigint, stream: number, k: number, m: number, density: number, value: number): SparseRef {
  const threshold = Math.max(1, Math.min(2 ** 31, Math.round(density * 2 ** 31)));
  const rowPtr = [0];
  const colIdx: number[] = [];
  const sign: number[] = [];
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < m; j++) {
      const w = i * m + j;
      const u = streamBlock(seed, stream, Math.floor(w / 4))[w % 4];
      if (u >>> 1 < threshold) {
        colIdx.push(j);
        sign.push(u & 1 ? -1 : 1);
      }
    }
    rowPtr.push(colIdx.length);
  }
  return { rowPtr, colIdx, sign, value };
}

/** H[i][j] = (-1)^popcount(i & j). */
export function hadamardEntry(i: number, j: number): number {
  let v = i & j;
  let p = 0;
  while (v) {
    p ^= 1;
    v &= v - 1;
  }
  return p ? -1 : 1;
}

/** Every row of x (length n) times the n x n Hadamard, in float64, O(n^2). */
export function refFwhtDense(x: ArrayLike<number>, n: number, normalize: boolean): Float64Array {
  const y = new Float64Array(x.length);
  const s = normalize ? 1 / Math.sqrt(n) : 1;
  for (let r = 0; r < x.length / n; r++) {
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let j = 0; j < n; j++) acc += hadamardEntry(i, j) * x[r * n + j];
      y[r * n + i] = acc * s;
    }
  }
  return y;
}

/** The same in float64 by the O(n log n) recursion (for long rows). */
export function refFwhtFast(x: ArrayLike<number>, n: number, normalize: boolean): Float64Array {
  const y = Float64Array.from(x as ArrayLike<number>);
  for (let base = 0; base < y.length; base += n) {
    for (let h = 1; h < n; h *= 2) {
      for (let i = base; i < base + n; i += 2 * h) {
        for (let j = i; j < i + h; j++) {
          const a = y[j];
          const b = y[j + h];
          y[j] = a + b;
          y[j + h] = a - b;
        }
      }
    }
  }
  if (normalize) for (let i = 0; i < y.length; i++) y[i] /= Math.sqrt(n);
  return y;
}

/** y = M x for every row of x, M a dense k x d float64 matrix (row-major). */
export function applyDense(m: Float64Array, k: number, d: number, x: ArrayLike<number>): Float64Array {
  const rows = x.length / d;
  const y = new Float64Array(rows * k);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < k; i++) {
      let acc = 0;
      for (let j = 0; j < d; j++) acc += m[i * d + j] * x[r * d + j];
      y[r * k + i] = acc;
    }
  }
  return y;
}

/** srht's k x d matrix: sqrt(1/k) H[sel_t][j] sign_j. */
export function srhtMatrix(seed: bigint, d: number, k: number): Float64Array {
  const n = paddedSize(d);
  const s = signs(seed, n);
  const sel = sample(seed, n, k);
  const m = new Float64Array(k * d);
  for (let t = 0; t < k; t++) for (let j = 0; j < d; j++) m[t * d + j] = Math.sqrt(1 / k) * hadamardEntry(sel[t], j) * s[j];
  return m;
}

/** fjlt's k x d matrix: P H D with P's entries ±1/sqrt(q k n) (float32-rounded, as used). */
export function fjltMatrix(seed: bigint, d: number, k: number, density: number): Float64Array {
  const n = paddedSize(d);
  const s = signs(seed, n);
  const value = Math.fround(1 / Math.sqrt(density * k * n));
  const p = sparseMatrix(seed, STREAM.fjlt, k, n, density, value);
  const m = new Float64Array(k * d);
  for (let i = 0; i < k; i++) {
    for (let q = p.rowPtr[i]; q < p.rowPtr[i + 1]; q++) {
      const c = p.colIdx[q];
      for (let j = 0; j < d; j++) m[i * d + j] += p.sign[q] * value * hadamardEntry(c, j) * s[j];
    }
  }
  return m;
}

/** sparseProjection's k x d matrix: entries ±sqrt(1/(density k)) (float32-rounded). */
export function sparseDenseMatrix(seed: bigint, d: number, k: number, density: number): { m: Float64Array; csr: SparseRef } {
  const value = Math.fround(Math.sqrt(1 / (density * k)));
  const csr = sparseMatrix(seed, STREAM.sparse, k, d, density, value);
  const m = new Float64Array(k * d);
  for (let i = 0; i < k; i++) for (let q = csr.rowPtr[i]; q < csr.rowPtr[i + 1]; q++) m[i * d + csr.colIdx[q]] = csr.sign[q] * value;
  return { m, csr };
}
