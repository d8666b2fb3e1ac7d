// Float64 reference implementations of the gather family (PyTorch embedding_bag semantics),
// a seeded PRNG and the helpers every spec shares: random tables (never zeros), random bag
// structures, relative error, and output poisoning.
//
// The reference is deliberately written from the PyTorch documentation, not from
// csrc/kernels/gather/ref.cc, so that it checks the native oracle instead of copying it.

export type IndexArray = Int32Array | Uint32Array | BigInt64Array;
export type IndexKind = 'int32' | 'uint32' | 'int64';
export const INDEX_KINDS: readonly IndexKind[] = ['int32', 'uint32', 'int64'];
export type Mode = 'sum' | 'mean' | 'max';
export const MODES: readonly Mode[] = ['sum', 'mean', 'max'];

// --- PRNG ------------------------------------------------------------------------------

/** mulberry32: a tiny, fast, seedable 32-bit generator. Returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }
  /** Uniform in [0, 1). */
  float(): number {
    return this.next();
  }
  /** Uniform integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  bool(p = 0.5): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }
}

/** A fresh seed per call (printed in assertion messages), overridable with TEST_SEED. */
let seedCounter = 0;
export function freshSeed(): number {
  const fixed = process.env.TEST_SEED;
  if (fixed !== undefined && fixed !== '') return (Number(fixed) + seedCounter++) >>> 0;
  return (Math.floor(Math.random() * 0x100000000) ^ Date.now()) >>> 0;
}

// --- random data -------------------------------------------------------------------------

/** A rows x dim float32 table with every value in ±[0.25, 1.25): never zero, mixed signs. */
export function randomTable(rng: Rng, rows: number, dim: number, shared = false): Float32Array {
  const n = rows * dim;
  const t = shared ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const magnitude = 0.25 + rng.float();
    t[i] = rng.bool() ? magnitude : -magnitude;
  }
  return t;
}

/** Per-sample weights in ±[0.1, 2.1): never zero. */
export function randomWeights(rng: Rng, n: number): Float32Array {
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const magnitude = 0.1 + 2 * rng.float();
    w[i] = rng.bool(0.8) ? magnitude : -magnitude;
  }
  return w;
}

export function makeIndexArray(kind: IndexKind, values: ArrayLike<number>): IndexArray {
  switch (kind) {
    case 'int32':
      return Int32Array.from(values);
    case 'uint32':
      return Uint32Array.from(values);
    case 'int64':
      return BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
  }
}

export function toNumbers(a: IndexArray | ArrayLike<number>): number[] {
  return Array.from(a as ArrayLike<number | bigint>, (v) => Number(v));
}

export function randomIndices(rng: Rng, n: number, rows: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    // Repeats are common on purpose: sometimes reuse an earlier index.
    out.push(i > 0 && rng.bool(0.2) ? out[rng.int(0, i - 1)] : rng.int(0, rows - 1));
  }
  return out;
}

/** Bag lengths: a mix of empty, tiny and larger bags. */
export function randomLengths(rng: Rng, bags: number, maxLen: number): number[] {
  const lengths: number[] = [];
  for (let b = 0; b < bags; b++) {
    const r = rng.float();
    lengths.push(r < 0.15 ? 0 : r < 0.3 ? 1 : rng.int(0, maxLen));
  }
  return lengths;
}

/** PyTorch offsets (bag starts) from lengths; with `withEnd`, the B + 1 boundaries. */
export function offsetsFromLengths(lengths: readonly number[], withEnd: boolean): number[] {
  const offsets: number[] = [];
  let total = 0;
  for (const n of lengths) {
    offsets.push(total);
    total += n;
  }
  if (withEnd) offsets.push(total);
  return offsets;
}

// --- reference implementations ------------------------------------------------------------

/** gather: row i of the result is table row indices[i]. */
export function refGather(table: Float32Array, dim: number, indices: IndexArray | readonly number[]): Float64Array {
  const idx = toNumbers(indices as IndexArray);
  const out = new Float64Array(idx.length * dim);
  for (let i = 0; i < idx.length; i++) {
    const row = idx[i];
    for (let c = 0; c < dim; c++) out[i * dim + c] = table[row * dim + c];
  }
  return out;
}

export interface RefBagOptions {
  table: Float32Array;
  dim: number;
  indices: IndexArray | readonly number[];
  offsets?: IndexArray | readonly number[];
  lengths?: IndexArray | readonly number[];
  includeLastOffset?: boolean;
  mode: Mode;
  weights?: Float32Array;
  paddingIdx?: number;
}

/** The [start, end) index positions of every bag. */
export function bagRanges(o: RefBagOptions): Array<[number, number]> {
  const n = o.indices.length;
  const ranges: Array<[number, number]> = [];
  if (o.lengths !== undefined) {
    let start = 0;
    for (const len of toNumbers(o.lengths as IndexArray)) {
      ranges.push([start, start + len]);
      start += len;
    }
    return ranges;
  }
  const offsets = toNumbers(o.offsets as IndexArray);
  const bags = o.includeLastOffset ? offsets.length - 1 : offsets.length;
  for (let b = 0; b < bags; b++) {
    ranges.push([offsets[b], b + 1 < offsets.length ? offsets[b + 1] : n]);
  }
  return ranges;
}

/**
 * embedding_bag in float64. Empty bags (and bags of padding only) give zeros; entries equal
 * to paddingIdx (negative counts from the end) are skipped and not counted by 'mean'; 'max'
 * starts from the first non-padding row and replaces an element only when strictly greater;
 * weights scale each row for 'sum' and 'mean' (mean = weighted sum / non-padding count).
 */
export function refEmbeddingBag(o: RefBagOptions): Float64Array {
  return refEmbeddingBagImpl(o, false);
}

/**
 * The same pooling over |table| and |weights|: the magnitude of what a float32 kernel sums.
 * ||abs|| / ||ref|| is the condition number of the sums (1 when nothing cancels); float32
 * rounding error is bounded relative to ||abs||, not to ||ref||.
 */
export function refEmbeddingBagAbs(o: RefBagOptions): Float64Array {
  return refEmbeddingBagImpl(o, true);
}

/** cond = ||refAbs|| / ||ref|| (>= 1; 1 when no sum cancels, as with positive data). */
export function conditionNumber(ref: ArrayLike<number>, refAbs: ArrayLike<number>): number {
  let a = 0;
  let r = 0;
  for (let i = 0; i < ref.length; i++) {
    a += refAbs[i] * refAbs[i];
    r += ref[i] * ref[i];
  }
  if (a === 0) return 1;
  return Math.max(1, Math.sqrt(a / r));
}

function refEmbeddingBagImpl(o: RefBagOptions, abs: boolean): Float64Array {
  const { table, dim, mode, weights } = o;
  const rows = table.length / dim;
  const idx = toNumbers(o.indices as IndexArray);
  const padding = o.paddingIdx === undefined ? -1 : o.paddingIdx < 0 ? o.paddingIdx + rows : o.paddingIdx;
  const ranges = bagRanges(o);
  const out = new Float64Array(ranges.length * dim);
  ranges.forEach(([start, end], b) => {
    const acc = new Float64Array(dim);
    let count = 0;
    for (let p = start; p < end; p++) {
      const row = idx[p];
      if (row === padding) continue;
      const base = row * dim;
      if (mode === 'max') {
        for (let c = 0; c < dim; c++) {
          const v = table[base + c];
          if (count === 0 || v > acc[c]) acc[c] = v;
        }
      } else {
        const w = weights ? (abs ? Math.abs(weights[p]) : weights[p]) : 1;
        if (abs) for (let c = 0; c < dim; c++) acc[c] += w * Math.abs(table[base + c]);
        else for (let c = 0; c < dim; c++) acc[c] += w * table[base + c];
      }
      count++;
    }
    if (mode === 'mean' && count > 0) for (let c = 0; c < dim; c++) acc[c] /= count;
    out.set(acc, b * dim);
  });
  return out;
}

// --- comparison helpers -------------------------------------------------------------------

/** ||out - ref|| / ||ref|| (0 when both are all zeros, Infinity when only ref is). */
export function relErr(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (out.length !== ref.length) return Infinity;
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = out[i] - ref[i];
    diff += d * d;
    norm += ref[i] * ref[i];
  }
  if (Number.isNaN(diff)) return NaN;
  if (norm === 0) return diff === 0 ? 0 : Infinity;
  return Math.sqrt(diff / norm);
}

/** The position of the first element that differs from ref (exactly), or -1. */
export function firstMismatch(out: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (out.length !== ref.length) return 0;
  for (let i = 0; i < ref.length; i++) if (!Object.is(out[i], ref[i]) && !(out[i] === 0 && ref[i] === 0)) return i;
  return -1;
}

/** A Float32Array of n NaNs: written-to-everywhere is checked by {@link firstNaN}. */
export function poisoned(n: number): Float32Array {
  return new Float32Array(n).fill(NaN);
}

export function poison(a: Float32Array): Float32Array {
  return a.fill(NaN);
}

/** The first NaN position, or -1 (the inputs never hold NaN, so a NaN was never written). */
export function firstNaN(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (Number.isNaN(a[i])) return i;
  return -1;
}

/** A byte-for-byte copy of a typed array's viewed bytes. */
export function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}

/** Whether two byte copies are identical (fast; vitest's toEqual is slow on big arrays). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
}

export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** The first position whose bits differ, or -1. */
export function firstBitMismatch(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return 0;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/** The central difference (f(x[e] + h) - f(x[e] - h)) / 2h of f (reading x), x[e] restored. */
export function centralDifference(x: Float64Array, e: number, h: number, f: () => number): number {
  const saved = x[e];
  x[e] = saved + h;
  const up = f();
  x[e] = saved - h;
  const down = f();
  x[e] = saved;
  return (up - down) / (2 * h);
}

/** Detaches an ArrayBuffer (transfer when available, else structuredClone with transfer). */
export function detach(buffer: ArrayBuffer): void {
  const transfer = (buffer as unknown as { transfer?: () => ArrayBuffer }).transfer;
  if (typeof transfer === 'function') {
    transfer.call(buffer);
  } else {
    structuredClone(buffer, { transfer: [buffer] });
  }
  if (buffer.byteLength !== 0) throw new Error('detach failed');
}

// --- random bag problems ------------------------------------------------------------------

export type BoundsKind = 'offsets' | 'includeLastOffset' | 'lengths';
export const BOUNDS_KINDS: readonly BoundsKind[] = ['offsets', 'includeLastOffset', 'lengths'];

export interface BagProblem extends RefBagOptions {
  indices: IndexArray;
  offsets?: IndexArray;
  lengths?: IndexArray;
}

/** The options for the given bag lengths, in the given bounds form and index type. */
export function bagOptions(
  base: { table: Float32Array; dim: number; mode: Mode; weights?: Float32Array; paddingIdx?: number },
  indices: readonly number[],
  lengths: readonly number[],
  bounds: BoundsKind,
  kind: IndexKind,
): BagProblem {
  const o: BagProblem = { ...base, indices: makeIndexArray(kind, indices) };
  if (bounds === 'lengths') o.lengths = makeIndexArray(kind, lengths);
  else {
    o.offsets = makeIndexArray(kind, offsetsFromLengths(lengths, bounds === 'includeLastOffset'));
    if (bounds === 'includeLastOffset') o.includeLastOffset = true;
  }
  return o;
}

/** What a random bag problem holds: its pooling mode, per-sample weights, a padding row. */
export interface BagVariant {
  mode: Mode;
  weighted: boolean;
  padding: boolean;
}

/**
 * A random bag problem over a small random table (2 to 40 rows): 1 to 12 bags of up to 10
 * entries plus one empty bag and, with `hub` > 0, one bag of `hub` entries; with padding, a
 * quarter of the entries are the padding row (given as a row id or counted from the end).
 * With a random gradOutput for its bags.
 */
export function randomBagCase(rng: Rng, dim: number, v: BagVariant, bounds: BoundsKind, kind: IndexKind, hub = 0) {
  const rows = rng.int(2, 40);
  const table = randomTable(rng, rows, dim);
  const lengths = randomLengths(rng, rng.int(1, 12), 10);
  lengths.splice(rng.int(0, lengths.length), 0, 0); // an empty bag
  if (hub > 0) lengths.splice(rng.int(0, lengths.length), 0, hub);
  let indices = randomIndices(rng, lengths.reduce((s, x) => s + x, 0), rows);
  let paddingIdx: number | undefined;
  if (v.padding) {
    const pad = rng.int(0, rows - 1);
    paddingIdx = rng.bool() ? pad : pad - rows;
    indices = indices.map((x) => (rng.bool(0.25) ? pad : x));
  }
  const weights = v.weighted ? randomWeights(rng, indices.length) : undefined;
  const o = bagOptions({ table, dim, mode: v.mode, weights, paddingIdx }, indices, lengths, bounds, kind);
  const gradOutput = randomTable(rng, lengths.length, dim);
  return { o, rows, gradOutput };
}

/**
 * Many bags for thread-count checks: 2,000 bags of 0 to 40 entries over a 3,000 x 64 table,
 * a tenth of the entries row 7 (a hot row, and a padding row where a test names it).
 */
export function manyBagsCase(rng: Rng) {
  const dim = 64;
  const rows = 3000;
  const lengths = randomLengths(rng, 2000, 40);
  const idx = randomIndices(rng, lengths.reduce((s, x) => s + x, 0), rows).map((x) => (rng.bool(0.1) ? 7 : x));
  return { dim, rows, lengths, idx, table: randomTable(rng, rows, dim) };
}

/** Describes a case for assertion messages. */
export function describeCase(fields: Record<string, unknown>): string {
  return Object.entries(fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}
