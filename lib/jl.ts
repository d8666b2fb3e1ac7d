// The JL family: the fast Walsh–Hadamard transform and the random projections built on it
// (SRHT, FJLT) or on sparse sign matrices (Achlioptas, Li's very sparse projection), plus
// the target dimension of the Johnson–Lindenstrauss bound.
//
// Every random choice comes from Philox4x32-10 keyed by `seed` (csrc/kernels/common/philox.h
// documents the stream layout), so a seed gives the same projection on every ISA, with any
// thread count, for any batch of rows, and later on the GPU. Default densities are computed
// here, once, and passed to the native code explicitly.
import { native } from './native';
import { describe, freshOutput, lengthOf, requireOptions, startAsync } from './options';

/** A Number that is a safe integer >= 0, or a BigInt in [0, 2^64). */
export type Seed = number | bigint;

export interface FwhtOptions {
  /** Rows of `n` floats, transformed in place. */
  x: Float32Array;
  /** Row length: a power of two from 1 to 2^30. */
  n: number;
  /** Multiply by 1/sqrt(n) (the orthonormal transform, its own inverse). Default false. */
  normalize?: boolean;
}

export interface SrhtOptions {
  /** Rows of `inDim` floats (read only). */
  x: Float32Array;
  inDim: number;
  /** k: from 1 to the padded size (the power of two >= inDim). */
  outDim: number;
  seed: Seed;
  /** rows x outDim floats; a fresh array when omitted. Must not overlap x. */
  out?: Float32Array;
}

export interface FjltOptions extends SrhtOptions {
  /** Probability that an entry of P is non-zero, in (0, 1]. Default {@link fjltDensity}. */
  density?: number;
}

/** A density in (0, 1], or 'li' (1 / sqrt(inDim), the default) or 'achlioptas' (1/3). */
export type SparseDensity = number | 'li' | 'achlioptas';

export interface SparseProjectionOptions {
  x: Float32Array;
  inDim: number;
  /** k >= 1 (up to 2^30). */
  outDim: number;
  seed: Seed;
  density?: SparseDensity;
  out?: Float32Array;
}

export interface JlDimensionOptions {
  /** Number of points: an integer >= 1. */
  n: number;
  /** Distortion: 0 < eps < 1. */
  eps: number;
}

/** The smallest power of two >= d (d >= 1). */
export function paddedSize(d: number): number {
  let n = 1;
  while (n < d) n *= 2;
  return n;
}

/**
 * fjlt's default density for the padded size n: q = min(1, max(1, ln n) / n), i.e. about
 * ln n non-zeros per row of P. Ailon–Chazelle use q ~ ln²(N) / n for N points; Fandina,
 * Høgsgaard and Larsen ("The Fast Johnson–Lindenstrauss Transform is Even Faster", ICML
 * 2023) show q may be divided by alpha = Omega(min(ln(1/eps) / eps, ln N)). With alpha = ln N
 * that is q ~ ln N / n; the projection must not depend on the batch, so N is not known and
 * ln n stands in for ln N (constant 1).
 */
export function fjltDensity(inDim: number): number {
  const n = paddedSize(inDim);
  return Math.min(1, Math.max(1, Math.log(n)) / n);
}

/** The density a sparseProjection option stands for. */
export function sparseDensity(density: SparseDensity | undefined, inDim: number): number {
  if (density === undefined || density === null || density === 'li') {
    return typeof inDim === 'number' && inDim >= 1 ? 1 / Math.sqrt(inDim) : NaN;
  }
  if (density === 'achlioptas') return 1 / 3;
  if (typeof density !== 'number') {
    throw new TypeError(`density must be a number, 'li' or 'achlioptas', got ${describe(density)}`);
  }
  return density;
}

function rowsOf(x: unknown, d: unknown): number {
  const len = lengthOf(x);
  return typeof d === 'number' && d >= 1 && len >= 0 ? len / d : -1;
}

function outFor(o: { x: unknown; inDim: unknown; outDim: unknown; out?: Float32Array }): Float32Array | undefined {
  if (o.out !== undefined && o.out !== null) return o.out;
  const rows = rowsOf(o.x, o.inDim);
  return Number.isInteger(rows) && rows >= 0 ? freshOutput(rows, o.outDim, 'rows x outDim') : undefined;
}

export function fwhtArgs(o: FwhtOptions, op: string): unknown[] {
  requireOptions(o, op);
  return [o.x, o.n, o.normalize ?? false];
}

/**
 * In-place Walsh–Hadamard transform of every row of `n` floats: y = H x with H[i][j] =
 * (-1)^popcount(i & j) (Sylvester order), times 1/sqrt(n) with `normalize`. float32 radix-2
 * butterflies in ascending stride order (the same bits on every ISA and thread count).
 * Returns x.
 */
export function fwht(options: FwhtOptions): Float32Array {
  return native().fwht(...fwhtArgs(options, 'fwht'));
}

/** {@link fwht} on the libuv thread pool; x is held until the promise settles. */
export function fwhtAsync(options: FwhtOptions): Promise<Float32Array> {
  return startAsync(options, 'fwhtAsync', () => native().fwhtAsync(...fwhtArgs(options, 'fwhtAsync')));
}

function srhtArgs(o: SrhtOptions, op: string): unknown[] {
  requireOptions(o, op);
  return [o.x, o.inDim, o.outDim, o.seed, undefined, outFor(o)];
}

/**
 * Subsampled randomized Hadamard transform of each row: y = sqrt(1/k) · S · H · D · pad(x),
 * with D the random signs, H the unnormalized Hadamard of the padded size n and S taking k
 * distinct coordinates (ascending). E||y||² = ||x||² exactly (E over S of the k kept
 * squares of HDx is (k/n)·n·||x||²).
 */
export function srht(options: SrhtOptions): Float32Array {
  return native().srht(...srhtArgs(options, 'srht'));
}

export function srhtAsync(options: SrhtOptions): Promise<Float32Array> {
  return startAsync(options, 'srhtAsync', () => native().srhtAsync(...srhtArgs(options, 'srhtAsync')));
}

function fjltArgs(o: FjltOptions, op: string): unknown[] {
  requireOptions(o, op);
  const density = o.density === undefined || o.density === null
    ? (typeof o.inDim === 'number' && o.inDim >= 1 ? fjltDensity(o.inDim) : NaN)
    : o.density;
  return [o.x, o.inDim, o.outDim, o.seed, density, outFor(o)];
}

/**
 * Fast JL transform (Ailon–Chazelle): y = P · H · D · pad(x) with P a k x n sparse matrix
 * whose entries are non-zero with probability q (`density`) and then ±1/sqrt(q·k·n) (random
 * signs in place of Ailon–Chazelle's Gaussians). E||y||² = ||x||².
 */
export function fjlt(options: FjltOptions): Float32Array {
  return native().fjlt(...fjltArgs(options, 'fjlt'));
}

export function fjltAsync(options: FjltOptions): Promise<Float32Array> {
  return startAsync(options, 'fjltAsync', () => native().fjltAsync(...fjltArgs(options, 'fjltAsync')));
}

function sparseArgs(o: SparseProjectionOptions, op: string): unknown[] {
  requireOptions(o, op);
  return [o.x, o.inDim, o.outDim, o.seed, sparseDensity(o.density, o.inDim), outFor(o)];
}

/**
 * Sparse random projection: y = R x, R k x d with entries +sqrt(s/k), 0, -sqrt(s/k) with
 * probabilities 1/(2s), 1 - 1/s, 1/(2s), s = 1/density (Achlioptas: s = 3; Li, Hastie,
 * Church's very sparse: s = sqrt(d), the default). E||y||² = ||x||². R is generated from the
 * seed for the call; {@link makeSparseProjection} keeps it for repeated use.
 */
export function sparseProjection(options: SparseProjectionOptions): Float32Array {
  return native().sparseProjection(...sparseArgs(options, 'sparseProjection'));
}

export function sparseProjectionAsync(options: SparseProjectionOptions): Promise<Float32Array> {
  return startAsync(options, 'sparseProjectionAsync', () => native().sparseProjectionAsync(...sparseArgs(options, 'sparseProjectionAsync')));
}

export interface MakeSparseProjectionOptions {
  inDim: number;
  outDim: number;
  seed: Seed;
  density?: SparseDensity;
}

/**
 * sparseProjection's matrix, materialized once as CSR (row i = output coordinate i, columns
 * ascending): `apply(x)` gives bit-identical results to `sparseProjection` with the same
 * options.
 */
export class SparseProjection {
  readonly inDim: number;
  readonly outDim: number;
  readonly density: number;
  readonly rowPtr: Int32Array;
  readonly colIdx: Int32Array;
  readonly values: Float32Array;

  constructor(options: MakeSparseProjectionOptions) {
    requireOptions(options, 'SparseProjection');
    this.density = sparseDensity(options.density, options.inDim);
    const m = native().sparseProjectionMatrix(options.inDim, options.outDim, options.seed, this.density);
    this.inDim = options.inDim;
    this.outDim = options.outDim;
    this.rowPtr = m.rowPtr;
    this.colIdx = m.colIdx;
    this.values = m.values;
  }

  private args(x: Float32Array, out: Float32Array | undefined): unknown[] {
    const o = { x, inDim: this.inDim, outDim: this.outDim, out };
    return [x, this.inDim, this.outDim, this.rowPtr, this.colIdx, this.values, outFor(o)];
  }

  /** y = R x for every row of x (rows of inDim floats); into `out` when given. */
  apply(x: Float32Array, out?: Float32Array): Float32Array {
    return native().csrProject(...this.args(x, out));
  }

  applyAsync(x: Float32Array, out?: Float32Array): Promise<Float32Array> {
    return startAsync({ x, out, rowPtr: this.rowPtr, colIdx: this.colIdx, values: this.values }, 'applyAsync',
      () => native().csrProjectAsync(...this.args(x, out)));
  }
}

export function makeSparseProjection(options: MakeSparseProjectionOptions): SparseProjection {
  return new SparseProjection(options);
}

/**
 * The Johnson–Lindenstrauss target dimension, as scikit-learn's
 * `johnson_lindenstrauss_min_dim`: 4 ln(n) / (eps²/2 − eps³/3), rounded up (scikit-learn
 * truncates; a minimum dimension is rounded up) and at least 1.
 */
export function jlDimension(options: JlDimensionOptions): number {
  requireOptions(options, 'jlDimension');
  const { n, eps } = options;
  if (typeof n !== 'number') throw new TypeError(`n must be a number, got ${describe(n)}`);
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`n must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}, got ${n}`);
  if (typeof eps !== 'number') throw new TypeError(`eps must be a number, got ${describe(eps)}`);
  if (!(eps > 0 && eps < 1)) throw new RangeError(`eps must be in (0, 1), got ${eps}`);
  return Math.max(1, Math.ceil((4 * Math.log(n)) / (eps ** 2 / 2 - eps ** 3 / 3)));
}
