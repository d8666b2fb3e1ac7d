// qrEmbeddingBagBackward (the gradient of qrEmbeddingBag with respect to both of its tables)
// and qrEmbeddingBagWeightsBackward (with respect to its per-sample weights) on seeded random
// data (seed in every message; rerun with TEST_SEED=<seed>):
//  - against the float64 reference (test/compress-reference.ts refQrBackward), every
//    combine, mode, weights, padding, bounds form and index type, dims with odd tails;
//  - 'sum' / 'concat' bitwise equal to embeddingBagBackward over the ids' quotient and
//    remainder rows (padding removed), dense and sparse;
//  - the forward's adjoint with the addon's own qrEmbeddingBag (linear for 'sum' / 'concat',
//    bilinear for 'mul');
//  - every ISA forced, the same bits on 1, 2 and 3 threads, async, and the edges;
//  - the weights' gradient against its float64 reference (padding ids exactly 0) and as the
//    derivative of the addon's forward in the weights, on every ISA and thread count;
//  - 'max': the forward's returnArgmax against the definition (each table's winning rows; ties,
//    NaN and padding), out = the forward without it, and the backward against its float64
//    reference (the winners' rows get the gradient, its halves, or it times the other table's
//    winning row), dense and sparse, async.
import { describe, expect, it } from 'vitest';
import {
  embeddingBagBackward,
  qrEmbeddingBag,
  qrEmbeddingBagAsync,
  qrEmbeddingBagBackward,
  qrEmbeddingBagBackwardAsync,
  qrEmbeddingBagWeightsBackward,
  qrEmbeddingBagWeightsBackwardAsync,
  type QrCombine,
  type QrEmbeddingBagBackwardOptions,
  type SparseGradient,
} from '../lib/index';
import {
  BOUNDS_KINDS,
  INDEX_KINDS,
  Rng,
  bagOptions,
  bagRanges,
  describeCase,
  firstBitMismatch,
  freshSeed,
  poisoned,
  randomIndices,
  randomLengths,
  randomTable,
  randomWeights,
  toNumbers,
  type BoundsKind,
  type IndexKind,
  type RefBagOptions,
} from './reference';
import { forEachQrId, refQrBackward, refQrWeightsBackward } from './compress-reference';
import { dotAndScale, expectLinearInWeights, expectNearReference, expectSameBitsOnThreads, itOnEachIsa } from './checks';

const COMBINES: QrCombine[] = ['sum', 'mul', 'concat'];

interface Variant {
  mode: 'sum' | 'mean';
  weighted: boolean;
  padding: boolean;
}
const VARIANTS: Variant[] = [];
for (const mode of ['sum', 'mean'] as const) {
  for (const weighted of [false, true]) for (const padding of [false, true]) VARIANTS.push({ mode, weighted, padding });
}
const CASES = COMBINES.flatMap((combine) => VARIANTS.map((v) => ({ combine, ...v })));

/**
 * A random QR bag problem: tables of 1 to 12 rows each (the quotient one as the ids need), 1
 * to 12 bags of up to 10 ids plus an empty bag and, with `hub` > 0, a bag of `hub` ids; with
 * padding a quarter of the entries are the padding id (given as an id or counted from the
 * end of the id range).
 */
function qrCase(rng: Rng, dim: number, combine: QrCombine, v: Variant, bounds: BoundsKind, kind: IndexKind, hub = 0) {
  const quotientRows = rng.int(1, 12);
  const remainderRows = rng.int(1, 12);
  const limit = quotientRows * remainderRows;
  const lengths = randomLengths(rng, rng.int(1, 12), 10);
  lengths.splice(rng.int(0, lengths.length), 0, 0);
  if (hub > 0) lengths.splice(rng.int(0, lengths.length), 0, hub);
  let ids = randomIndices(rng, lengths.reduce((s, x) => s + x, 0), limit);
  let paddingIdx: number | undefined;
  if (v.padding) {
    const pad = rng.int(0, limit - 1);
    paddingIdx = rng.bool() ? pad : pad - limit;
    ids = ids.map((x) => (rng.bool(0.25) ? pad : x));
  }
  const weights = v.weighted ? randomWeights(rng, ids.length) : undefined;
  const quotient = randomTable(rng, quotientRows, dim);
  const remainder = randomTable(rng, remainderRows, dim);
  const { table: _unused, ...bag } = bagOptions({ table: quotient, dim, mode: v.mode, weights, paddingIdx }, ids, lengths, bounds, kind);
  const gradOutput = randomTable(rng, lengths.length, combine === 'concat' ? 2 * dim : dim);
  const o: QrEmbeddingBagBackwardOptions = {
    ...bag, mode: v.mode, combine, gradOutput, quotientRows, remainderRows,
    ...(combine === 'mul' ? { quotient, remainder } : {}),
  };
  return { o, quotient, remainder };
}
type QrCase = ReturnType<typeof qrCase>;

function expectSide(got: Float32Array, want: { ref: Float64Array; abs: Float64Array }, ctx: string): void {
  expectNearReference(got, want, ctx);
  for (let i = 0; i < want.ref.length; i++) if (want.abs[i] === 0) expect(got[i], `${ctx}: element ${i} untouched`).toBe(0);
}

/** Sparse rows ascending in the ids' array type, each row's values the dense row's bits. */
function expectSparseMatchesDense(sparse: SparseGradient, dense: Float32Array, dim: number, ids: unknown, ctx: string): void {
  expect(sparse.rows.constructor, ctx).toBe((ids as object).constructor);
  const rows = toNumbers(sparse.rows);
  for (let u = 1; u < rows.length; u++) expect(rows[u], `${ctx}: ascending`).toBeGreaterThan(rows[u - 1]);
  const touched: number[] = [];
  for (let row = 0; row < dense.length / dim; row++) {
    if (dense.subarray(row * dim, (row + 1) * dim).some((x) => x !== 0)) touched.push(row);
  }
  // Every row with a non-zero gradient is listed (a listed row may sum to zero).
  for (const row of touched) expect(rows.includes(row), `${ctx}: row ${row} listed`).toBe(true);
  rows.forEach((row, u) => {
    const want = dense.subarray(row * dim, (row + 1) * dim);
    expect(firstBitMismatch(sparse.values.subarray(u * dim, (u + 1) * dim), want), `${ctx}: sparse row ${row}`).toBe(-1);
  });
}

/**
 * 'sum' / 'concat' as two plain backward problems: the kept ids' quotient and remainder rows,
 * bags shrunk by the padding, and the gradient (or its halves) per bag.
 */
function rowProblems(c: QrCase) {
  const { o } = c;
  const q: number[] = [];
  const r: number[] = [];
  const weights: number[] = [];
  const lengths = new Array<number>(bagRanges(o as unknown as RefBagOptions).length).fill(0);
  forEachQrId(o as never, (p, b, qi, ri) => {
    q.push(qi);
    r.push(ri);
    if (o.weights) weights.push(o.weights[p]);
    lengths[b]++;
  });
  const bags = lengths.length;
  const half = (h: number) => {
    if (o.combine !== 'concat') return o.gradOutput;
    const g = new Float32Array(bags * o.dim);
    for (let b = 0; b < bags; b++) g.set(o.gradOutput.subarray((2 * b + h) * o.dim, (2 * b + h + 1) * o.dim), b * o.dim);
    return g;
  };
  const problem = (rows: number[], numRows: number, h: number) => ({
    indices: Int32Array.from(rows), lengths: Int32Array.from(lengths), dim: o.dim, mode: o.mode, numRows,
    weights: o.weights ? Float32Array.from(weights) : undefined, gradOutput: half(h),
  });
  return { quotient: problem(q, o.quotientRows, 0), remainder: problem(r, o.remainderRows, 1) };
}

describe.each([1, 7, 16, 128, 129])('qrEmbeddingBagBackward dim %i', (dim) => {
  it.each(CASES)('combine=$combine mode=$mode weighted=$weighted padding=$padding: the reference, out and fresh, sparse = dense', (v) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const bounds of BOUNDS_KINDS) {
      for (const kind of INDEX_KINDS) {
        const c = qrCase(rng, dim, v.combine, v, bounds, kind);
        const { o } = c;
        const ctx = describeCase({ seed, dim, ...v, bounds, kind, q: o.quotientRows, m: o.remainderRows, paddingIdx: o.paddingIdx });
        const outQuotient = poisoned(o.quotientRows * dim);
        const outRemainder = poisoned(o.remainderRows * dim);
        const got = qrEmbeddingBagBackward({ ...o, outQuotient, outRemainder });
        expect(got.quotient === outQuotient && got.remainder === outRemainder, `${ctx}: returns the outs`).toBe(true);
        const want = refQrBackward({ ...o, quotient: c.quotient, remainder: c.remainder });
        expectSide(got.quotient, want.quotient, `${ctx} quotient`);
        expectSide(got.remainder, want.remainder, `${ctx} remainder`);
        const fresh = qrEmbeddingBagBackward(o);
        expect(firstBitMismatch(fresh.quotient, got.quotient), `${ctx}: fresh = out (quotient)`).toBe(-1);
        expect(firstBitMismatch(fresh.remainder, got.remainder), `${ctx}: fresh = out (remainder)`).toBe(-1);
        const sparse = qrEmbeddingBagBackward({ ...o, sparse: true });
        expectSparseMatchesDense(sparse.quotient, got.quotient, dim, o.indices, `${ctx} sparse quotient`);
        expectSparseMatchesDense(sparse.remainder, got.remainder, dim, o.indices, `${ctx} sparse remainder`);
        if (v.combine === 'mul') continue;
        const plain = rowProblems(c);
        for (const part of ['quotient', 'remainder'] as const) {
          expect(firstBitMismatch(embeddingBagBackward(plain[part]), got[part]), `${ctx}: ${part} = embeddingBagBackward over its rows`).toBe(-1);
          const s = embeddingBagBackward({ ...plain[part], sparse: true });
          expect(toNumbers(sparse[part].rows), `${ctx}: ${part} sparse rows`).toEqual(toNumbers(s.rows));
        }
      }
    }
  });
});

describe('qrEmbeddingBagBackward: the forward\'s adjoint, ISAs, threads, async, edges', () => {
  it.each(CASES)('is the adjoint of qrEmbeddingBag (combine=$combine mode=$mode weighted=$weighted padding=$padding)', (v) => {
    // 'sum' / 'concat' are linear in both tables together: <g, f(Q, R)> = <gQ, Q> + <gR, R>.
    // 'mul' is linear in each: <g, f(Q, R)> = <gQ, Q> = <gR, R>.
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const kind of INDEX_KINDS) {
      const c = qrCase(rng, 24, v.combine, v, 'offsets', kind, 200);
      const forward = qrEmbeddingBag({ ...c.o, quotient: c.quotient, remainder: c.remainder, dim: 24 });
      const grad = qrEmbeddingBagBackward(c.o);
      const { dot: lhs, scale } = dotAndScale(forward, c.o.gradOutput);
      const q = dotAndScale(grad.quotient, c.quotient).dot;
      const r = dotAndScale(grad.remainder, c.remainder).dot;
      const ctx = `seed=${seed} ${kind} ${JSON.stringify(v)}`;
      const tol = 1e-5 * (1 + scale);
      if (v.combine === 'mul') {
        expect(Math.abs(lhs - q), `${ctx}: <g, f> = <gQ, Q>: ${lhs} vs ${q}`).toBeLessThan(tol);
        expect(Math.abs(lhs - r), `${ctx}: <g, f> = <gR, R>: ${lhs} vs ${r}`).toBeLessThan(tol);
      } else {
        expect(Math.abs(lhs - q - r), `${ctx}: <g, f> = <gQ, Q> + <gR, R>: ${lhs} vs ${q + r}`).toBeLessThan(tol);
      }
    }
  });

  for (const combine of COMBINES) {
    itOnEachIsa(`qrEmbeddingBagBackward combine ${combine}: the reference, dense and sparse`, () => {
      const seed = freshSeed();
      const rng = new Rng(seed);
      let calls = 0;
      for (const dim of [1, 7, 16, 33, 129]) {
        const c = qrCase(rng, dim, combine, { mode: 'mean', weighted: true, padding: true }, 'offsets', 'int32', 40);
        const ctx = `seed=${seed} dim=${dim} ${combine}`;
        const got = qrEmbeddingBagBackward(c.o);
        const want = refQrBackward({ ...c.o, quotient: c.quotient, remainder: c.remainder });
        expectSide(got.quotient, want.quotient, `${ctx} quotient`);
        expectSide(got.remainder, want.remainder, `${ctx} remainder`);
        const sparse = qrEmbeddingBagBackward({ ...c.o, sparse: true });
        expectSparseMatchesDense(sparse.quotient, got.quotient, dim, c.o.indices, `${ctx} sparse quotient`);
        calls += 2; // at least one kernel call per table's gradient
      }
      return calls;
    });
  }

  it('100,000 ids (several mapping tasks), padding across task boundaries: the same bits on 1, 2 and 3 threads', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 16;
    const quotientRows = 400;
    const remainderRows = 300;
    const lengths = randomLengths(rng, 8000, 24);
    let n = lengths.reduce((s, x) => s + x, 0);
    if (n < 100_000) {
      lengths.push(100_000 - n); // a hub bag
      n = 100_000;
    }
    const pad = 12345;
    const ids = randomIndices(rng, n, quotientRows * remainderRows).map((x) => (rng.bool(0.2) ? pad : x));
    const quotient = randomTable(rng, quotientRows, dim);
    const remainder = randomTable(rng, remainderRows, dim);
    for (const combine of COMBINES) {
      for (const mode of ['sum', 'mean'] as const) {
        const o: QrEmbeddingBagBackwardOptions = {
          ...bagOptions({ table: quotient, dim, mode, weights: randomWeights(rng, n), paddingIdx: pad }, ids, lengths, 'offsets', 'int64'),
          mode, combine, quotientRows, remainderRows,
          gradOutput: randomTable(rng, lengths.length, combine === 'concat' ? 2 * dim : dim),
          ...(combine === 'mul' ? { quotient, remainder } : {}),
        };
        delete (o as { table?: unknown }).table;
        const ctx = `seed=${seed} ${combine} ${mode}`;
        for (const part of ['quotient', 'remainder'] as const) {
          const dense = expectSameBitsOnThreads(() => qrEmbeddingBagBackward(o)[part], `${ctx} ${part}`);
          expectSameBitsOnThreads(() => qrEmbeddingBagBackward({ ...o, sparse: true })[part].values, `${ctx} sparse ${part}`);
          const want = refQrBackward({ ...o, quotient, remainder } as never)[part];
          expectSide(dense, want, `${ctx} ${part}`);
        }
      }
    }
  });

  it('async form matches the sync one, dense into the outs and sparse', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const combine of COMBINES) {
      const c = qrCase(rng, 17, combine, { mode: 'mean', weighted: true, padding: true }, 'lengths', 'int64', 300);
      const sync = qrEmbeddingBagBackward(c.o);
      const outQuotient = poisoned(sync.quotient.length);
      const outRemainder = poisoned(sync.remainder.length);
      const got = await qrEmbeddingBagBackwardAsync({ ...c.o, outQuotient, outRemainder });
      expect(got.quotient).toBe(outQuotient);
      expect(got.remainder).toBe(outRemainder);
      expect(firstBitMismatch(outQuotient, sync.quotient), `seed=${seed} ${combine}`).toBe(-1);
      expect(firstBitMismatch(outRemainder, sync.remainder), `seed=${seed} ${combine}`).toBe(-1);
      const sparse = await qrEmbeddingBagBackwardAsync({ ...c.o, sparse: true });
      const syncSparse = qrEmbeddingBagBackward({ ...c.o, sparse: true });
      for (const part of ['quotient', 'remainder'] as const) {
        expect(toNumbers(sparse[part].rows)).toEqual(toNumbers(syncSparse[part].rows));
        expect(firstBitMismatch(sparse[part].values, syncSparse[part].values), `seed=${seed} ${combine} sparse ${part}`).toBe(-1);
      }
    }
  });

  it('no ids, no bags, padding only, the last id of the range, a remainder table past 2^32 rows', () => {
    const none = qrEmbeddingBagBackward({
      gradOutput: new Float32Array(8).fill(1), dim: 4, quotientRows: 0, remainderRows: 0, indices: new Int32Array(0),
      offsets: Int32Array.of(0, 0), mode: 'sum', combine: 'sum',
    });
    expect(none.quotient.length + none.remainder.length).toBe(0);
    const noBags = qrEmbeddingBagBackward({
      gradOutput: new Float32Array(0), dim: 2, quotientRows: 2, remainderRows: 1, indices: Int32Array.of(0, 1),
      offsets: new Int32Array(0), mode: 'sum', combine: 'concat',
    });
    expect(Array.from(noBags.quotient)).toEqual([0, 0, 0, 0]);
    expect(Array.from(noBags.remainder)).toEqual([0, 0]);
    const padOnly = qrEmbeddingBagBackward({
      gradOutput: new Float32Array(4).fill(1), dim: 2, quotientRows: 3, remainderRows: 4, indices: Int32Array.of(9, 9, 9),
      lengths: Int32Array.of(1, 2), mode: 'mean', combine: 'sum', paddingIdx: -3, sparse: true,
    });
    expect(padOnly.quotient.rows.length + padOnly.remainder.rows.length).toBe(0);
    // Id q x m - 1 (the largest) reads the last row of both tables.
    const last = qrEmbeddingBagBackward({
      gradOutput: Float32Array.of(3), dim: 1, quotientRows: 5, remainderRows: 7, indices: BigInt64Array.of(34n),
      offsets: BigInt64Array.of(0n), mode: 'sum', combine: 'sum', sparse: true,
    });
    expect(toNumbers(last.quotient.rows)).toEqual([4]);
    expect(toNumbers(last.remainder.rows)).toEqual([6]);
    expect(Array.from(last.quotient.values)).toEqual([3]);
    // A remainder table past 2^32 rows (64-bit rows; sparse, since the dense form cannot be
    // allocated, which is a RangeError).
    const m = 2 ** 40;
    const huge = {
      gradOutput: Float32Array.of(1, 2, 3, 4), dim: 2, indices: BigInt64Array.of(3n, BigInt(m) + 7n, 4n * BigInt(m) + 2n ** 39n, 3n),
      offsets: BigInt64Array.of(0n, 2n), mode: 'sum' as const, combine: 'sum' as const, quotientRows: 5, remainderRows: m,
    };
    const wide = qrEmbeddingBagBackward({ ...huge, sparse: true });
    expect(toNumbers(wide.quotient.rows)).toEqual([0, 1, 4]);
    expect(Array.from(wide.quotient.values)).toEqual([4, 6, 1, 2, 3, 4]);
    expect(toNumbers(wide.remainder.rows)).toEqual([3, 7, 2 ** 39]);
    expect(Array.from(wide.remainder.values)).toEqual([4, 6, 1, 2, 3, 4]);
    expect(() => qrEmbeddingBagBackward(huge)).toThrow(RangeError);
  });

  it('a fixed case by hand, every combine', () => {
    // m = 2: id 0 -> (q0, r0), id 3 -> (q1, r1), id 2 -> (q1, r0). Bag 0 = ids 0, 3 with
    // weights 1, 2; bag 1 = id 2 and id 1 as padding. Mean: bag 0 scales 1/2 and 2/2, bag 1 1/1.
    const base = {
      dim: 2, quotientRows: 2, remainderRows: 2, indices: Uint32Array.of(0, 3, 2, 1), offsets: Uint32Array.of(0, 2),
      mode: 'mean' as const, weights: Float32Array.of(1, 2, 1, 5), paddingIdx: 1,
    };
    const g = Float32Array.of(2, 4, 1, -1); // bag 0: (2, 4); bag 1: (1, -1)
    const sum = qrEmbeddingBagBackward({ ...base, combine: 'sum', gradOutput: g });
    // q0 <- 0.5 g0; q1 <- 1 g0 + 1 g1; r0 <- 0.5 g0 + 1 g1; r1 <- 1 g0.
    expect(Array.from(sum.quotient)).toEqual([1, 2, 3, 3]);
    expect(Array.from(sum.remainder)).toEqual([2, 1, 2, 4]);
    const quotient = Float32Array.of(1, 2, 3, 4);
    const remainder = Float32Array.of(10, 20, 30, 40);
    const mul = qrEmbeddingBagBackward({ ...base, combine: 'mul', gradOutput: g, quotient, remainder });
    // q0 <- 0.5 g0 * r0; q1 <- g0 * r1 + g1 * r0; r0 <- 0.5 g0 * q0 + g1 * q1; r1 <- g0 * q1.
    expect(Array.from(mul.quotient)).toEqual([10, 40, 60 + 10, 160 - 20]);
    expect(Array.from(mul.remainder)).toEqual([1 + 3, 4 - 4, 6, 16]);
    const concat = qrEmbeddingBagBackward({ ...base, combine: 'concat', gradOutput: Float32Array.of(2, 4, 6, 8, 1, -1, 3, 5) });
    // Quotient halves: bag 0 (2, 4), bag 1 (1, -1); remainder halves: bag 0 (6, 8), bag 1 (3, 5).
    expect(Array.from(concat.quotient)).toEqual([1, 2, 3, 3]);
    expect(Array.from(concat.remainder)).toEqual([3 + 3, 4 + 5, 6, 8]);
  });
});

/** The weights' gradient of a QR case: the tables always given (every combine reads them). */
function weightsOptions(c: QrCase) {
  const { weights: _w, quotientRows: _q, remainderRows: _m, sparse: _s, ...rest } = c.o;
  return { ...rest, quotient: c.quotient, remainder: c.remainder };
}

function expectWeights(c: QrCase, got: Float32Array, ctx: string): void {
  expect(got.length, ctx).toBe(c.o.indices.length);
  expectNearReference(got, refQrWeightsBackward({ ...c.o, quotient: c.quotient, remainder: c.remainder }), ctx);
  const limit = c.o.quotientRows * c.o.remainderRows;
  const pad = c.o.paddingIdx === undefined ? -1 : c.o.paddingIdx < 0 ? c.o.paddingIdx + limit : c.o.paddingIdx;
  toNumbers(c.o.indices).forEach((id, p) => {
    if (id === pad) expect(got[p], `${ctx}: padding entry ${p}`).toBe(0);
  });
}

const WEIGHT_CASES = CASES.filter((v) => !v.weighted);

/**
 * A qrCase turned 'max' over tables of values from a small set (many ties) and, except for
 * 'mul' (whose gradients would carry them), some NaN.
 */
function qrMaxCase(rng: Rng, dim: number, combine: QrCombine, padding: boolean, bounds: BoundsKind, kind: IndexKind) {
  const c = qrCase(rng, dim, combine, { mode: 'sum', weighted: false, padding }, bounds, kind, rng.bool() ? 30 : 0);
  const values = [-1, -0.5, 0, 0.5, 1];
  const nan = combine === 'mul' ? 0 : 0.03;
  for (const t of [c.quotient, c.remainder]) t.forEach((_, i) => { t[i] = rng.bool(nan) ? Number.NaN : values[rng.int(0, 4)]; });
  return { ...c, o: { ...c.o, mode: 'max' as const } };
}

/** qrEmbeddingBag 'max' with its winners, from the definition (one float32 rounding per combined value). */
function refQrMax(c: ReturnType<typeof qrMaxCase>) {
  const { o, quotient, remainder } = c;
  const dim = o.dim;
  const m = o.remainderRows;
  const limit = o.quotientRows * m;
  const pad = o.paddingIdx === undefined ? -1 : o.paddingIdx < 0 ? o.paddingIdx + limit : o.paddingIdx;
  const ids = toNumbers(o.indices);
  const ranges = bagRanges(o as unknown as RefBagOptions);
  const outDim = o.combine === 'concat' ? 2 * dim : dim;
  const out = new Float32Array(ranges.length * outDim);
  const winQ = new Int32Array(ranges.length * dim).fill(-1);
  const winR = new Int32Array(ranges.length * dim).fill(-1);
  ranges.forEach(([start, end], b) => {
    for (let col = 0; col < outDim; col++) {
      const half = o.combine === 'concat' ? Math.floor(col / dim) : -1;
      const cc = col % dim;
      let taken = false;
      for (let p = start; p < end; p++) {
        if (ids[p] === pad) continue;
        const qi = Math.floor(ids[p] / m);
        const ri = ids[p] % m;
        const q = quotient[qi * dim + cc];
        const r = remainder[ri * dim + cc];
        const v = half === 0 ? q : half === 1 ? r : Math.fround(o.combine === 'mul' ? q * r : q + r);
        if (!taken || v > out[b * outDim + col]) {
          out[b * outDim + col] = v;
          if (half !== 1) winQ[b * dim + cc] = qi;
          if (half !== 0) winR[b * dim + cc] = ri;
          taken = true;
        }
      }
    }
  });
  return { out, argmax: { quotient: winQ, remainder: winR } };
}

/** The 'max' gradient of both tables in float64, from the winners. */
function refQrMaxBackward(c: ReturnType<typeof qrMaxCase>, winners: { quotient: Int32Array; remainder: Int32Array }) {
  const { o, quotient, remainder } = c;
  const dim = o.dim;
  const side = (rows: number) => ({ ref: new Float64Array(rows * dim), abs: new Float64Array(rows * dim) });
  const q = side(o.quotientRows);
  const r = side(o.remainderRows);
  const g = o.gradOutput;
  const add = (t: { ref: Float64Array; abs: Float64Array }, i: number, x: number) => {
    t.ref[i] += x;
    t.abs[i] += Math.abs(x);
  };
  winners.quotient.forEach((wq, e) => {
    const wr = winners.remainder[e];
    if (wq < 0) return;
    const b = Math.floor(e / dim);
    const cc = e % dim;
    if (o.combine === 'concat') {
      add(q, wq * dim + cc, g[b * 2 * dim + cc]);
      add(r, wr * dim + cc, g[b * 2 * dim + dim + cc]);
    } else if (o.combine === 'mul') {
      add(q, wq * dim + cc, Math.fround(g[e] * remainder[wr * dim + cc]));
      add(r, wr * dim + cc, Math.fround(g[e] * quotient[wq * dim + cc]));
    } else {
      add(q, wq * dim + cc, g[e]);
      add(r, wr * dim + cc, g[e]);
    }
  });
  return { quotient: q, remainder: r };
}

describe.each([1, 7, 16, 128, 129])("qrEmbeddingBag 'max' dim %i", (dim) => {
  it.each(COMBINES.flatMap((combine) => [false, true].map((padding) => ({ combine, padding }))))(
    'combine=$combine padding=$padding: returnArgmax against the definition; the backward against its reference, dense and sparse',
    ({ combine, padding }) => {
      const seed = freshSeed();
      const rng = new Rng(seed);
      for (const bounds of BOUNDS_KINDS) {
        for (const kind of INDEX_KINDS) {
          const c = qrMaxCase(rng, dim, combine, padding, bounds, kind);
          const ctx = describeCase({ seed, dim, combine, padding, bounds, kind, quotientRows: c.o.quotientRows, remainderRows: c.o.remainderRows, paddingIdx: c.o.paddingIdx });
          const forward = { ...c.o, quotient: c.quotient, remainder: c.remainder };
          const want = refQrMax(c);
          const argmaxOut = { quotient: new Int32Array(want.argmax.quotient.length).fill(-7), remainder: new Int32Array(want.argmax.remainder.length).fill(-7) };
          const got = qrEmbeddingBag({ ...forward, returnArgmax: true, argmaxOut });
          expect(got.argmax === argmaxOut, `${ctx}: argmax is argmaxOut`).toBe(true);
          expect(firstBitMismatch(got.out, want.out), `${ctx}: out`).toBe(-1);
          expect(Array.from(got.argmax.quotient), `${ctx}: quotient winners`).toEqual(Array.from(want.argmax.quotient));
          expect(Array.from(got.argmax.remainder), `${ctx}: remainder winners`).toEqual(Array.from(want.argmax.remainder));
          expect(firstBitMismatch(qrEmbeddingBag(forward), got.out), `${ctx}: out without argmax`).toBe(-1);

          const ref = refQrMaxBackward(c, got.argmax);
          const dense = qrEmbeddingBagBackward({ ...c.o, maxIndices: got.argmax });
          expectSide(dense.quotient, ref.quotient, `${ctx}: quotient`);
          expectSide(dense.remainder, ref.remainder, `${ctx}: remainder`);
          const sparse = qrEmbeddingBagBackward({ ...c.o, maxIndices: got.argmax, sparse: true });
          expectSparseMatchesDense(sparse.quotient, dense.quotient, dim, c.o.indices, `${ctx}: sparse quotient`);
          expectSparseMatchesDense(sparse.remainder, dense.remainder, dim, c.o.indices, `${ctx}: sparse remainder`);
        }
      }
    });
});

describe("qrEmbeddingBag 'max': async, by hand", () => {
  it('async forms match the sync ones', async () => {
    const seed = freshSeed();
    for (const combine of COMBINES) {
      const c = qrMaxCase(new Rng(seed), 9, combine, true, 'offsets', 'int64');
      const forward = { ...c.o, quotient: c.quotient, remainder: c.remainder };
      const sync = qrEmbeddingBag({ ...forward, returnArgmax: true });
      const async = await qrEmbeddingBagAsync({ ...forward, returnArgmax: true });
      expect(firstBitMismatch(async.out, sync.out), `seed=${seed} ${combine}`).toBe(-1);
      expect(Array.from(async.argmax.quotient)).toEqual(Array.from(sync.argmax.quotient));
      expect(Array.from(async.argmax.remainder)).toEqual(Array.from(sync.argmax.remainder));
      const back = qrEmbeddingBagBackward({ ...c.o, maxIndices: sync.argmax });
      const outs = { outQuotient: poisoned(back.quotient.length), outRemainder: poisoned(back.remainder.length) };
      const got = await qrEmbeddingBagBackwardAsync({ ...c.o, maxIndices: sync.argmax, ...outs });
      expect(got.quotient).toBe(outs.outQuotient);
      expect(firstBitMismatch(got.quotient, back.quotient), `seed=${seed} ${combine} quotient`).toBe(-1);
      expect(firstBitMismatch(got.remainder, back.remainder), `seed=${seed} ${combine} remainder`).toBe(-1);
    }
  });

  it('a fixed case by hand, every combine', () => {
    // m = 2: id 0 -> (q0, r0), 1 -> (q0, r1), 2 -> (q1, r0), 3 -> (q1, r1). dim 1.
    const quotient = Float32Array.of(1, 3);
    const remainder = Float32Array.of(2, -5);
    const base = { quotient, remainder, dim: 1, indices: Int32Array.of(1, 2, 3, 0), lengths: Int32Array.of(3, 0, 1), mode: 'max' as const };
    const { quotient: _q, remainder: _r, ...bags } = base;
    const grads = { ...bags, gradOutput: Float32Array.of(10, 20, 30), quotientRows: 2, remainderRows: 2 };
    // sum: bag 0 values 1-5=-4, 3+2=5, 3-5=-2 -> id 2 wins (q1, r0); bag 2: id 0 (q0, r0), 3.
    const sum = qrEmbeddingBag({ ...base, combine: 'sum', returnArgmax: true });
    expect(Array.from(sum.out)).toEqual([5, 0, 3]);
    expect(Array.from(sum.argmax.quotient)).toEqual([1, -1, 0]);
    expect(Array.from(sum.argmax.remainder)).toEqual([0, -1, 0]);
    const gSum = qrEmbeddingBagBackward({ ...grads, combine: 'sum', maxIndices: sum.argmax });
    expect(Array.from(gSum.quotient)).toEqual([30, 10]);
    expect(Array.from(gSum.remainder)).toEqual([40, 0]);
    // mul: bag 0 values -5, 6, -15 -> id 2 (q1 = 3, r0 = 2); gradients 10 x 2 to q1, 10 x 3 to r0.
    const mul = qrEmbeddingBag({ ...base, combine: 'mul', returnArgmax: true });
    expect(Array.from(mul.out)).toEqual([6, 0, 2]);
    const gMul = qrEmbeddingBagBackward({ ...grads, quotient, remainder, combine: 'mul', maxIndices: mul.argmax });
    expect(Array.from(gMul.quotient)).toEqual([30 * 2, 10 * 2]);
    expect(Array.from(gMul.remainder)).toEqual([10 * 3 + 30 * 1, 0]);
    // concat: bag 0 quotient half max(1, 3, 3) = 3 first at id 2 (q1); remainder half
    // max(-5, 2, -5) = 2 at id 2 (r0). Bag 2: q0, r0.
    const cat = qrEmbeddingBag({ ...base, combine: 'concat', returnArgmax: true });
    expect(Array.from(cat.out)).toEqual([3, 2, 0, 0, 1, 2]);
    expect(Array.from(cat.argmax.quotient)).toEqual([1, -1, 0]);
    expect(Array.from(cat.argmax.remainder)).toEqual([0, -1, 0]);
    const gCat = qrEmbeddingBagBackward({ ...grads, gradOutput: Float32Array.of(1, 2, 3, 4, 5, 6), combine: 'concat', maxIndices: cat.argmax });
    expect(Array.from(gCat.quotient)).toEqual([5, 1]);
    expect(Array.from(gCat.remainder)).toEqual([2 + 6, 0]);
  });
});

describe.each([1, 7, 16, 128, 129])('qrEmbeddingBagWeightsBackward dim %i', (dim) => {
  it.each(WEIGHT_CASES)('combine=$combine mode=$mode padding=$padding: the reference, into out and fresh', (v) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const bounds of BOUNDS_KINDS) {
      for (const kind of INDEX_KINDS) {
        const c = qrCase(rng, dim, v.combine, v, bounds, kind);
        const ctx = describeCase({ seed, dim, ...v, bounds, kind, q: c.o.quotientRows, m: c.o.remainderRows, paddingIdx: c.o.paddingIdx });
        const out = poisoned(c.o.indices.length);
        const got = qrEmbeddingBagWeightsBackward({ ...weightsOptions(c), out });
        expect(got === out, `${ctx}: returns out`).toBe(true);
        expectWeights(c, got, ctx);
        expect(firstBitMismatch(qrEmbeddingBagWeightsBackward(weightsOptions(c)), got), `${ctx}: fresh = out`).toBe(-1);
      }
    }
  });
});

describe('qrEmbeddingBagWeightsBackward: the derivative, ISAs, threads, async', () => {
  it.each(WEIGHT_CASES)('is the derivative of qrEmbeddingBag in each weight (combine=$combine mode=$mode padding=$padding)', (v) => {
    // The forward is linear in the weights: <g, forward(w)> = sum_p w_p x gradient_p.
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const kind of INDEX_KINDS) {
      const c = qrCase(rng, 24, v.combine, { ...v, weighted: true }, 'offsets', kind, 200);
      const forward = qrEmbeddingBag({ ...c.o, quotient: c.quotient, remainder: c.remainder, dim: 24 });
      const grad = qrEmbeddingBagWeightsBackward(weightsOptions(c));
      expectLinearInWeights(forward, c.o.gradOutput, c.o.weights as Float32Array, grad, `seed=${seed} ${kind} ${JSON.stringify(v)}`);
    }
  });

  for (const combine of COMBINES) {
    itOnEachIsa(`qrEmbeddingBagWeightsBackward combine ${combine}: the reference`, () => {
      const seed = freshSeed();
      const rng = new Rng(seed);
      let calls = 0;
      for (const dim of [1, 7, 16, 33, 129]) {
        const c = qrCase(rng, dim, combine, { mode: 'mean', weighted: false, padding: true }, 'offsets', 'int32', 40);
        expectWeights(c, qrEmbeddingBagWeightsBackward(weightsOptions(c)), `seed=${seed} dim=${dim} ${combine}`);
        calls++;
      }
      return calls;
    });
  }

  it('100,000 ids with padding: the same bits on 1, 2 and 3 threads; async = sync', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const combine of COMBINES) {
      const c = qrCase(rng, 16, combine, { mode: 'mean', weighted: false, padding: true }, 'offsets', 'int64', 100_000);
      const ctx = `seed=${seed} ${combine}`;
      const one = expectSameBitsOnThreads(() => qrEmbeddingBagWeightsBackward(weightsOptions(c)), ctx);
      expectWeights(c, one, ctx);
      const out = poisoned(one.length);
      expect(await qrEmbeddingBagWeightsBackwardAsync({ ...weightsOptions(c), out })).toBe(out);
      expect(firstBitMismatch(out, one), `${ctx} async`).toBe(-1);
    }
  });

  it('a fixed case by hand, every combine', () => {
    // As the table gradient's hand case: m = 2, bag 0 = ids 0, 3 (mean over 2), bag 1 = id 2
    // and id 1 as padding (mean over 1); Q = [[1, 2], [3, 4]], R = [[10, 20], [30, 40]].
    const base = {
      quotient: Float32Array.of(1, 2, 3, 4), remainder: Float32Array.of(10, 20, 30, 40), dim: 2,
      indices: Uint32Array.of(0, 3, 2, 1), offsets: Uint32Array.of(0, 2), mode: 'mean' as const, paddingIdx: 1,
    };
    const g = Float32Array.of(2, 4, 1, -1);
    // sum: g0 . (q0 + r0) / 2, g0 . (q1 + r1) / 2, g1 . (q1 + r0), 0.
    expect(Array.from(qrEmbeddingBagWeightsBackward({ ...base, combine: 'sum', gradOutput: g }))).toEqual([55, 121, -11, 0]);
    // mul: g0 . (q0 r0) / 2, g0 . (q1 r1) / 2, g1 . (q1 r0), 0.
    expect(Array.from(qrEmbeddingBagWeightsBackward({ ...base, combine: 'mul', gradOutput: g }))).toEqual([90, 410, -50, 0]);
    // concat: (g0a . q + g0b . r) / 2, ..., with g0 = (2, 4 | 6, 8), g1 = (1, -1 | 3, 5).
    expect(Array.from(qrEmbeddingBagWeightsBackward({ ...base, combine: 'concat', gradOutput: Float32Array.of(2, 4, 6, 8, 1, -1, 3, 5) })))
      .toEqual([115, 261, 129, 0]);
  });
});
