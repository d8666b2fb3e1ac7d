// hashedEmbeddingBagBackward (the gradient of hashedEmbeddingBag with respect to its shared
// table) and hashedEmbeddingBagWeightsBackward (with respect to its per-sample weights) on
// seeded random data (seed in every message; rerun with TEST_SEED=<seed>):
//  - against the float64 reference of the same bags over the hashed rows (the documented hash
//    in BigInt, test/compress-reference.ts), padding ids left out and not counted by 'mean';
//  - bitwise equal to embeddingBagBackward over those rows, dense and sparse;
//  - the adjoint of the forward the addon computes: <g, hashedEmbeddingBag(T)> = <grad, T>;
//  - bitwise identical for 1, 2 and 3 threads where the hashing splits into several tasks,
//    sync and async, fresh and given `out`;
//  - the weights' gradient against a float64 dot product per id over its hashed row (padding
//    ids exactly 0, not counted by 'mean'), on every ISA, and the forward's derivative;
//  - 'max': the forward's returnArgmax names the winning table rows (embeddingBag over the
//    hashed rows, bit for bit; each winner a row of its bag holding that value), and the
//    backward sends each (bag, column)'s gradient there (a float64 reference; embeddingBag-
//    Backward with the same maxIndices bit for bit, dense and sparse).
import { describe, expect, it } from 'vitest';
import {
  embeddingBag,
  embeddingBagBackward,
  hashedEmbeddingBag,
  hashedEmbeddingBagAsync,
  hashedEmbeddingBagBackward,
  hashedEmbeddingBagBackwardAsync,
  hashedEmbeddingBagWeightsBackward,
  hashedEmbeddingBagWeightsBackwardAsync,
  type IndexArray,
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
  makeIndexArray,
  poisoned,
  randomLengths,
  randomTable,
  randomWeights,
  type BoundsKind,
  type IndexKind,
  type RefBagOptions,
} from './reference';
import { hashedBagProblem, refHashedRow } from './compress-reference';
import { refBagBackward } from './scatter-reference';
import { dotAndScale, expectLinearInWeights, expectNearReference, expectSameBitsOnThreads, itOnEachIsa } from './checks';


type Mode = 'sum' | 'mean';
interface Variant {
  mode: Mode;
  weighted: boolean;
  padding: boolean;
}
const VARIANTS: Variant[] = [];
for (const mode of ['sum', 'mean'] as const) {
  for (const weighted of [false, true]) for (const padding of [false, true]) VARIANTS.push({ mode, weighted, padding });
}

/** The largest id each index type holds (BigInt64: past 2^32, to exercise 64-bit ids). */
const MAX_ID: Record<IndexKind, number> = { int32: 2 ** 31 - 1, uint32: 2 ** 32 - 1, int64: 2 ** 45 };

/**
 * A random hashed bag problem: 1 to 12 bags of up to 10 ids (and one empty bag, and a hub of
 * `hub` ids when > 0) over a table of 1 to 40 rows; with padding, a quarter of the entries
 * are the padding id. Ids are spread over the index type's whole range.
 */
function hashedCase(rng: Rng, dim: number, v: Variant, bounds: BoundsKind, kind: IndexKind, hub = 0) {
  const numRows = rng.int(1, 40);
  const seed = rng.int(0, 2 ** 31);
  const lengths = randomLengths(rng, rng.int(1, 12), 10);
  lengths.splice(rng.int(0, lengths.length), 0, 0);
  if (hub > 0) lengths.splice(rng.int(0, lengths.length), 0, hub);
  const n = lengths.reduce((s, x) => s + x, 0);
  const randomId = () => Math.floor(rng.float() * MAX_ID[kind]);
  let ids = Array.from({ length: n }, randomId);
  let paddingIdx: number | undefined;
  if (v.padding) {
    paddingIdx = randomId();
    ids = ids.map((x) => (rng.bool(0.25) ? (paddingIdx as number) : x));
  }
  const weights = v.weighted ? randomWeights(rng, n) : undefined;
  const table = randomTable(rng, numRows, dim);
  const o = bagOptions({ table, dim, mode: v.mode, weights, paddingIdx }, ids, lengths, bounds, kind);
  const gradOutput = randomTable(rng, lengths.length, dim);
  return { o: { ...o, mode: v.mode, seed, numRows, gradOutput }, ids, lengths, table };
}
type HashedCase = ReturnType<typeof hashedCase>;

/**
 * The same bags over the rows the ids hash to, padding entries removed (test/compress-
 * reference.ts hashedBagProblem), as an embeddingBagBackward problem: what the hashed backward
 * must equal bit for bit.
 */
function rowProblem(c: HashedCase) {
  const plain = hashedBagProblem({ ...c.o, indices: BigInt64Array.from(c.ids, (id) => BigInt(id)), rows: c.o.numRows });
  const base = bagOptions({ table: c.table, dim: c.o.dim, mode: c.o.mode, weights: plain.weights },
    plain.indices as number[], plain.lengths as number[], 'lengths', 'int64');
  return { ...base, mode: c.o.mode, gradOutput: c.o.gradOutput, numRows: c.o.numRows };
}

function expectReference(c: HashedCase, got: Float32Array, ctx: string): void {
  const r = rowProblem(c);
  const { ref, abs } = refBagBackward(r, c.o.gradOutput, c.o.numRows);
  expect(got.length, ctx).toBe(c.o.numRows * c.o.dim);
  expectNearReference(got, { ref, abs }, ctx);
  // Untouched rows are exactly zero.
  for (let i = 0; i < ref.length; i++) if (abs[i] === 0) expect(got[i], `${ctx}: element ${i} untouched`).toBe(0);
}

describe.each([1, 7, 16, 128, 129])('hashedEmbeddingBagBackward dim %i', (dim) => {
  it.each(VARIANTS)('mode=$mode weighted=$weighted padding=$padding: the reference, and embeddingBagBackward over the hashed rows bit for bit', (v) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const bounds of BOUNDS_KINDS) {
      for (const kind of INDEX_KINDS) {
        const c = hashedCase(rng, dim, v, bounds, kind);
        const ctx = describeCase({ seed, dim, ...v, bounds, kind, numRows: c.o.numRows, hashSeed: c.o.seed, paddingIdx: c.o.paddingIdx });
        const out = poisoned(c.o.numRows * dim);
        const got = hashedEmbeddingBagBackward({ ...c.o, out });
        expect(got === out, `${ctx}: returns out`).toBe(true);
        expectReference(c, got, ctx);
        expect(firstBitMismatch(hashedEmbeddingBagBackward(c.o), got), `${ctx}: fresh = out`).toBe(-1);
        const r = rowProblem(c);
        expect(firstBitMismatch(embeddingBagBackward(r), got), `${ctx}: = embeddingBagBackward over the rows`).toBe(-1);
        // Sparse: the rows that get a gradient, ascending, in the ids' array type, and the
        // dense rows' bits.
        const sparse = hashedEmbeddingBagBackward({ ...c.o, sparse: true });
        const plain = embeddingBagBackward({ ...r, sparse: true });
        expect(sparse.rows.constructor, ctx).toBe(c.o.indices.constructor);
        expect(Array.from(sparse.rows, Number), `${ctx}: sparse rows`).toEqual(Array.from(plain.rows, Number));
        expect(firstBitMismatch(sparse.values, plain.values), `${ctx}: sparse values`).toBe(-1);
        Array.from(sparse.rows, Number).forEach((row, u) => {
          const dense = got.subarray(row * dim, (row + 1) * dim);
          expect(firstBitMismatch(sparse.values.subarray(u * dim, (u + 1) * dim), dense), `${ctx}: sparse row ${row}`).toBe(-1);
        });
      }
    }
  });
});

describe('hashedEmbeddingBagBackward: the forward\'s adjoint, threads, async, edges', () => {
  it.each(VARIANTS)('is the adjoint of hashedEmbeddingBag: <g, forward(T)> = <backward(g), T> (mode=$mode weighted=$weighted padding=$padding)', (v) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const kind of INDEX_KINDS) {
      const c = hashedCase(rng, 24, v, 'offsets', kind, 200);
      const forward = hashedEmbeddingBag({ ...c.o, table: c.table });
      const grad = hashedEmbeddingBagBackward(c.o);
      const { dot: lhs, scale } = dotAndScale(forward, c.o.gradOutput);
      const { dot: rhs } = dotAndScale(grad, c.table);
      // Both sides are float32 sums of the same products: equal up to their rounding.
      expect(Math.abs(lhs - rhs), `seed=${seed} ${kind} ${JSON.stringify(v)}: ${lhs} vs ${rhs}`).toBeLessThan(1e-5 * (1 + scale));
    }
  });

  it('100,000 ids (several hashing tasks), padding across task boundaries: the same bits on 1, 2 and 3 threads, and embeddingBagBackward over the rows', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 8;
    const numRows = 5000;
    const lengths = randomLengths(rng, 8000, 24);
    const n = lengths.reduce((s, x) => s + x, 0);
    const pad = 2 ** 40 + 17;
    const ids = Array.from({ length: n }, () => (rng.bool(0.2) ? pad : Math.floor(rng.float() * 2 ** 50)));
    lengths.push(100_000 - n > 0 ? 100_000 - n : 0); // one hub bag to reach 100,000 ids
    for (let i = n; i < 100_000; i++) ids.push(rng.bool(0.5) ? pad : i);
    const table = randomTable(rng, numRows, dim);
    const gradOutput = randomTable(rng, lengths.length, dim);
    for (const mode of ['sum', 'mean'] as const) {
      const weights = randomWeights(rng, ids.length);
      const o = {
        ...bagOptions({ table, dim, mode, weights, paddingIdx: pad }, ids, lengths, 'offsets', 'int64'),
        mode, seed: 77, numRows, gradOutput,
      };
      const one = expectSameBitsOnThreads(() => hashedEmbeddingBagBackward(o), `seed=${seed} ${mode}`);
      const c = { o, ids, lengths, table };
      expect(firstBitMismatch(embeddingBagBackward(rowProblem(c)), one), `seed=${seed} ${mode} vs rows`).toBe(-1);
    }
  });

  it('async form matches the sync one, dense into out and sparse', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const c = hashedCase(rng, 17, { mode: 'mean', weighted: true, padding: true }, 'lengths', 'int64', 300);
    const sync = hashedEmbeddingBagBackward(c.o);
    const out = poisoned(sync.length);
    expect(await hashedEmbeddingBagBackwardAsync({ ...c.o, out })).toBe(out);
    expect(firstBitMismatch(out, sync), `seed=${seed}`).toBe(-1);
    const sparse = await hashedEmbeddingBagBackwardAsync({ ...c.o, sparse: true });
    const syncSparse = hashedEmbeddingBagBackward({ ...c.o, sparse: true });
    expect(Array.from(sparse.rows as BigInt64Array)).toEqual(Array.from(syncSparse.rows as BigInt64Array));
    expect(firstBitMismatch(sparse.values, syncSparse.values), `seed=${seed} sparse`).toBe(-1);
  });

  it('no ids, no bags, padding only', () => {
    const none = hashedEmbeddingBagBackward({ gradOutput: new Float32Array(8).fill(1), dim: 4, numRows: 0, indices: new Int32Array(0), offsets: Int32Array.of(0, 0), mode: 'sum', seed: 1 });
    expect(none.length).toBe(0);
    const noBags = hashedEmbeddingBagBackward({ gradOutput: new Float32Array(0), dim: 2, numRows: 3, indices: Int32Array.of(4, 5), offsets: new Int32Array(0), mode: 'sum', seed: 1 });
    expect(Array.from(noBags)).toEqual([0, 0, 0, 0, 0, 0]);
    const padOnly = hashedEmbeddingBagBackward({
      gradOutput: new Float32Array(4).fill(1), dim: 2, numRows: 3, indices: Int32Array.of(9, 9, 9), lengths: Int32Array.of(1, 2), mode: 'mean', seed: 1, paddingIdx: 9, sparse: true,
    });
    expect(padOnly.rows.length).toBe(0);
    expect(padOnly.values.length).toBe(0);
  });

  it('a fixed case by hand: ids that collide in a one-row table pool into that row', () => {
    // numRows 1: every id hashes to row 0. Bag 0 = ids 5, 6 (weights 1, 2); bag 1 = id 7, and
    // 8 as padding. Mean: bag 0 sends (1 + 2) / 2 x g0, bag 1 sends 3 x g1 / 1.
    const got = hashedEmbeddingBagBackward({
      gradOutput: Float32Array.of(2, 4, 1, -1), dim: 2, numRows: 1, indices: Uint32Array.of(5, 6, 7, 8),
      offsets: Uint32Array.of(0, 2), mode: 'mean', seed: 3, weights: Float32Array.of(1, 2, 3, 4), paddingIdx: 8,
    });
    expect(Array.from(got)).toEqual([0.5 * 2 + 1 * 2 + 3 * 1, 0.5 * 4 + 1 * 4 + 3 * -1]);
    const ids: IndexArray = makeIndexArray('int64', [2 ** 40, 2 ** 40 + 1]);
    const rows = [2 ** 40, 2 ** 40 + 1].map((id) => refHashedRow(BigInt(id), 11n, 1000));
    const sparse = hashedEmbeddingBagBackward({ gradOutput: Float32Array.of(1), dim: 1, numRows: 1000, indices: ids, lengths: BigInt64Array.of(2n), mode: 'sum', seed: 11, sparse: true });
    expect(Array.from(sparse.rows as BigInt64Array, Number)).toEqual([...new Set(rows)].sort((a, b) => a - b));
  });
});

/**
 * The weights' gradient in float64: id p of bag b gets gradOutput[b] . table[hashedRow(id)],
 * over the bag's count of non-padding ids for 'mean'; padding ids 0. Also the terms'
 * magnitudes.
 */
function refHashedWeights(c: HashedCase) {
  const { dim, gradOutput, seed, numRows, paddingIdx } = c.o;
  const ref = new Float64Array(c.ids.length);
  const abs = new Float64Array(c.ids.length);
  bagRanges(c.o as unknown as RefBagOptions).forEach(([start, end], b) => {
    let count = 0;
    for (let p = start; p < end; p++) if (c.ids[p] !== paddingIdx) count++;
    for (let p = start; p < end; p++) {
      if (c.ids[p] === paddingIdx) continue;
      const row = refHashedRow(BigInt(c.ids[p]), BigInt(seed), numRows);
      const divisor = c.o.mode === 'mean' ? count : 1;
      for (let k = 0; k < dim; k++) {
        const term = (gradOutput[b * dim + k] * c.table[row * dim + k]) / divisor;
        ref[p] += term;
        abs[p] += Math.abs(term);
      }
    }
  });
  return { ref, abs };
}

function expectWeightsReference(c: HashedCase, got: Float32Array, ctx: string): void {
  expect(got.length, ctx).toBe(c.ids.length);
  expectNearReference(got, refHashedWeights(c), ctx);
  c.ids.forEach((id, p) => {
    if (id === c.o.paddingIdx) expect(got[p], `${ctx}: padding entry ${p}`).toBe(0);
  });
}

const WEIGHT_VARIANTS = VARIANTS.filter((v) => !v.weighted);

/** A hashedCase turned 'max' (no weights: 'max' takes none), with its row problem. */
function maxCase(rng: Rng, dim: number, padding: boolean, bounds: BoundsKind, kind: IndexKind, hub = 0) {
  const c = hashedCase(rng, dim, { mode: 'sum', weighted: false, padding }, bounds, kind, hub);
  const m = { ...c, o: { ...c.o, mode: 'max' as const } };
  return { ...m, rows: rowProblem(m as unknown as HashedCase) };
}

describe.each([1, 7, 16, 128, 129])("hashed 'max' dim %i", (dim) => {
  it.each([false, true])('padding=%s: returnArgmax names the winning table rows, and the backward sends each gradient there', (padding) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const bounds of BOUNDS_KINDS) {
      for (const kind of INDEX_KINDS) {
        const c = maxCase(rng, dim, padding, bounds, kind, rng.bool() ? 40 : 0);
        const ctx = describeCase({ seed, dim, padding, bounds, kind, numRows: c.o.numRows, hashSeed: c.o.seed, paddingIdx: c.o.paddingIdx });
        const bags = c.lengths.length;
        const forward = { ...c.o, table: c.table };
        const argmaxOut = new Int32Array(bags * dim).fill(-7);
        const got = hashedEmbeddingBag({ ...forward, returnArgmax: true, argmaxOut });
        expect(got.argmax === argmaxOut, `${ctx}: argmax is argmaxOut`).toBe(true);
        const want = embeddingBag({ ...c.rows, returnArgmax: true });
        expect(firstBitMismatch(got.out, want.out), `${ctx}: out = embeddingBag over the rows`).toBe(-1);
        expect(Array.from(got.argmax), `${ctx}: argmax = embeddingBag's over the rows`).toEqual(Array.from(want.argmax));
        expect(firstBitMismatch(hashedEmbeddingBag(forward), got.out), `${ctx}: out without argmax`).toBe(-1);
        // From the definition: each winner is the hashed row of a non-padding id of its bag and
        // holds the pooled value; -1 exactly for bags with no such id.
        const starts = c.lengths.map((_, b) => c.lengths.slice(0, b).reduce((x, y) => x + y, 0));
        for (let b = 0; b < bags; b++) {
          const kept = c.ids.slice(starts[b], starts[b] + c.lengths[b]).filter((id) => id !== c.o.paddingIdx);
          const rowsOfBag = new Set(kept.map((id) => refHashedRow(BigInt(id), BigInt(c.o.seed), c.o.numRows)));
          for (let col = 0; col < dim; col++) {
            const a = got.argmax[b * dim + col];
            if (kept.length === 0) {
              expect(a, `${ctx}: bag ${b} empty`).toBe(-1);
              continue;
            }
            expect(rowsOfBag.has(a), `${ctx}: bag ${b} column ${col}: winner ${a} is a row of the bag`).toBe(true);
            expect(Object.is(c.table[a * dim + col], got.out[b * dim + col]), `${ctx}: bag ${b} column ${col}: value`).toBe(true);
          }
        }

        const back = hashedEmbeddingBagBackward({ ...c.o, maxIndices: got.argmax });
        const ref = new Float64Array(c.o.numRows * dim);
        const abs = new Float64Array(c.o.numRows * dim);
        got.argmax.forEach((a, e) => {
          if (a < 0) return;
          const g = c.o.gradOutput[e];
          ref[a * dim + (e % dim)] += g;
          abs[a * dim + (e % dim)] += Math.abs(g);
        });
        expectNearReference(back, { ref, abs }, `${ctx}: backward`);
        for (let i = 0; i < ref.length; i++) if (abs[i] === 0) expect(back[i], `${ctx}: element ${i} untouched`).toBe(0);
        const plain = embeddingBagBackward({ ...c.rows, maxIndices: got.argmax });
        expect(firstBitMismatch(back, plain), `${ctx}: = embeddingBagBackward with the same maxIndices`).toBe(-1);
        const sparse = hashedEmbeddingBagBackward({ ...c.o, maxIndices: got.argmax, sparse: true });
        const plainSparse = embeddingBagBackward({ ...c.rows, maxIndices: got.argmax, sparse: true });
        expect(Array.from(sparse.rows, Number), `${ctx}: sparse rows`).toEqual(Array.from(plainSparse.rows, Number));
        expect(firstBitMismatch(sparse.values, plainSparse.values), `${ctx}: sparse values`).toBe(-1);
      }
    }
  });
});

describe("hashed 'max': async, edges", () => {
  it('async forms match the sync ones', async () => {
    const seed = freshSeed();
    const c = maxCase(new Rng(seed), 9, true, 'offsets', 'int64', 300);
    const sync = hashedEmbeddingBag({ ...c.o, table: c.table, returnArgmax: true });
    const async = await hashedEmbeddingBagAsync({ ...c.o, table: c.table, returnArgmax: true });
    expect(firstBitMismatch(async.out, sync.out), `seed=${seed}`).toBe(-1);
    expect(Array.from(async.argmax)).toEqual(Array.from(sync.argmax));
    const back = hashedEmbeddingBagBackward({ ...c.o, maxIndices: sync.argmax });
    const out = poisoned(back.length);
    expect(await hashedEmbeddingBagBackwardAsync({ ...c.o, maxIndices: sync.argmax, out })).toBe(out);
    expect(firstBitMismatch(out, back), `seed=${seed}`).toBe(-1);
  });

  it('by hand: ids colliding in a one-row table pool into it (a NaN column too); empty and padding-only bags get -1', () => {
    const table = Float32Array.of(3, Number.NaN);                       // one row of dim 2
    const o = { table, dim: 2, indices: BigInt64Array.of(5n, 2n ** 62n, 9n, 9n), lengths: Int32Array.of(2, 0, 2), mode: 'max' as const, seed: 4, paddingIdx: 9 };
    const { out, argmax } = hashedEmbeddingBag({ ...o, returnArgmax: true });
    expect(Array.from(out)).toEqual([3, Number.NaN, 0, 0, 0, 0]);
    expect(Array.from(argmax)).toEqual([0, 0, -1, -1, -1, -1]);
    const grad = hashedEmbeddingBagBackward({ ...o, gradOutput: Float32Array.of(1, 2, 10, 20, 100, 200), numRows: 1, maxIndices: argmax });
    expect(Array.from(grad)).toEqual([1, 2]);
    expect(() => hashedEmbeddingBag({ ...o, mode: 'sum', returnArgmax: true })).toThrow(/returnArgmax needs mode 'max'/);
    expect(() => hashedEmbeddingBag({ ...o, returnArgmax: true, argmaxOut: new Int32Array(5) })).toThrow(/argmax\.length must be 6/);
  });
});

describe.each([1, 7, 16, 128, 129])('hashedEmbeddingBagWeightsBackward dim %i', (dim) => {
  it.each(WEIGHT_VARIANTS)('mode=$mode padding=$padding: the reference, into out and fresh', (v) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const bounds of BOUNDS_KINDS) {
      for (const kind of INDEX_KINDS) {
        const c = hashedCase(rng, dim, v, bounds, kind);
        const ctx = describeCase({ seed, dim, ...v, bounds, kind, numRows: c.o.numRows, hashSeed: c.o.seed, paddingIdx: c.o.paddingIdx });
        const o = { ...c.o, table: c.table, weights: undefined };
        const out = poisoned(c.ids.length);
        const got = hashedEmbeddingBagWeightsBackward({ ...o, out });
        expect(got === out, `${ctx}: returns out`).toBe(true);
        expectWeightsReference(c, got, ctx);
        expect(firstBitMismatch(hashedEmbeddingBagWeightsBackward(o), got), `${ctx}: fresh = out`).toBe(-1);
      }
    }
  });
});

describe('hashedEmbeddingBagWeightsBackward: the derivative, ISAs, threads, async', () => {
  it.each(WEIGHT_VARIANTS)('is the derivative of hashedEmbeddingBag in each weight (mode=$mode padding=$padding)', (v) => {
    // The forward is linear in the weights: <g, forward(w)> = sum_p w_p x gradient_p.
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const kind of INDEX_KINDS) {
      const c = hashedCase(rng, 24, { ...v, weighted: true }, 'offsets', kind, 200);
      const forward = hashedEmbeddingBag({ ...c.o, table: c.table });
      const grad = hashedEmbeddingBagWeightsBackward({ ...c.o, table: c.table, weights: undefined });
      expectLinearInWeights(forward, c.o.gradOutput, c.o.weights as Float32Array, grad, `seed=${seed} ${kind} ${JSON.stringify(v)}`);
    }
  });

  itOnEachIsa('hashedEmbeddingBagWeightsBackward: the reference', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    let calls = 0;
    for (const dim of [1, 7, 16, 33, 129]) {
      const c = hashedCase(rng, dim, { mode: 'mean', weighted: false, padding: true }, 'offsets', 'int64', 40);
      expectWeightsReference(c, hashedEmbeddingBagWeightsBackward({ ...c.o, table: c.table }), `seed=${seed} dim=${dim}`);
      calls++;
    }
    return calls;
  });

  it('100,000 ids with padding: the same bits on 1, 2 and 3 threads; async = sync', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 8;
    const numRows = 5000;
    const lengths = randomLengths(rng, 8000, 24);
    const n = lengths.reduce((s, x) => s + x, 0);
    const pad = 2 ** 40 + 17;
    const ids = Array.from({ length: n }, () => (rng.bool(0.2) ? pad : Math.floor(rng.float() * 2 ** 50)));
    const table = randomTable(rng, numRows, dim);
    const gradOutput = randomTable(rng, lengths.length, dim);
    const o = {
      ...bagOptions({ table, dim, mode: 'mean', paddingIdx: pad }, ids, lengths, 'offsets', 'int64'),
      mode: 'mean' as const, seed: 77, gradOutput,
    };
    const one = expectSameBitsOnThreads(() => hashedEmbeddingBagWeightsBackward(o), `seed=${seed}`);
    expectWeightsReference({ o: { ...o, numRows }, ids, lengths, table } as unknown as HashedCase, one, `seed=${seed}`);
    const out = poisoned(n);
    expect(await hashedEmbeddingBagWeightsBackwardAsync({ ...o, out })).toBe(out);
    expect(firstBitMismatch(out, one), `seed=${seed} async`).toBe(-1);
  });
});
