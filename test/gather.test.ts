// gather and embeddingBag against the float64 reference (test/reference.ts) on fresh, seeded
// random data. Every assertion message carries the seed (rerun with TEST_SEED=<seed>).
// Bound: relative error ||out - ref|| / ||ref|| < 1e-6 for 'sum' and 'mean'; gather and
// 'max' only copy or compare float32 values, so they must match the reference exactly.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { embeddingBag, gather } from '../lib/index';
import { BOUND, checkBag, checkGather, expectBagClose } from './checks';
import {
  BOUNDS_KINDS,
  INDEX_KINDS,
  MODES,
  Rng,
  bagOptions,
  bytesOf,
  describeCase,
  firstMismatch,
  firstNaN,
  freshSeed,
  makeIndexArray,
  poisoned,
  randomIndices,
  randomLengths,
  randomTable,
  randomWeights,
  refEmbeddingBag,
  refGather,
  relErr,
  type BagProblem,
  type IndexKind,
  type Mode,
} from './reference';

const DIMS = [1, 3, 16, 17, 100, 128, 129, 1000];

interface Variant {
  mode: Mode;
  weighted: boolean;
  padding: 'none' | 'positive' | 'negative';
}
const VARIANTS: Variant[] = [];
for (const mode of MODES) {
  for (const weighted of mode === 'max' ? [false] : [false, true]) {
    for (const padding of ['none', 'positive', 'negative'] as const) VARIANTS.push({ mode, weighted, padding });
  }
}

/** A random bag problem: empty bags, single-entry bags, repeats, and with padding a bag of padding only. */
function randomBagCase(rng: Rng, dim: number, v: Variant) {
  const rows = rng.int(1, dim >= 1000 ? 24 : 60);
  const table = randomTable(rng, rows, dim);
  const lengths = randomLengths(rng, rng.int(1, dim >= 1000 ? 8 : 14), 24);
  let indices = randomIndices(rng, lengths.reduce((s, n) => s + n, 0), rows);
  let paddingIdx: number | undefined;
  if (v.padding !== 'none') {
    const padRow = rng.int(0, rows - 1);
    paddingIdx = v.padding === 'positive' ? padRow : padRow - rows;
    indices = indices.map((x) => (rng.bool(0.2) ? padRow : x));
    // A bag of padding only, somewhere in the middle.
    const at = rng.int(0, lengths.length);
    const before = lengths.slice(0, at).reduce((s, n) => s + n, 0);
    lengths.splice(at, 0, 3);
    indices.splice(before, 0, padRow, padRow, padRow);
  }
  const weights = v.weighted ? randomWeights(rng, indices.length) : undefined;
  return { table, rows, lengths, indices, weights, paddingIdx };
}

describe.each(DIMS)('dim %i', (dim) => {
  it('gather: every index type, out given and fresh', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const kind of INDEX_KINDS) {
      for (const outGiven of [true, false]) {
        const rows = rng.int(1, dim >= 1000 ? 30 : 80);
        const table = randomTable(rng, rows, dim);
        const n = rng.int(0, 60);
        const indices = makeIndexArray(kind, randomIndices(rng, n, rows));
        checkGather(table, dim, indices, describeCase({ seed, dim, rows, n, kind, outGiven }), outGiven);
      }
    }
  });

  it.each(VARIANTS)('embeddingBag mode=$mode weighted=$weighted padding=$padding', (v) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const bounds of BOUNDS_KINDS) {
      for (const kind of INDEX_KINDS) {
        for (const outGiven of [true, false]) {
          const c = randomBagCase(rng, dim, v);
          const o = bagOptions(
            { table: c.table, dim, mode: v.mode, weights: c.weights, paddingIdx: c.paddingIdx },
            c.indices,
            c.lengths,
            bounds,
            kind,
          );
          const ctx = describeCase({ seed, dim, ...v, bounds, kind, outGiven, rows: c.rows, bags: c.lengths.length, paddingIdx: c.paddingIdx });
          checkBag(o, ctx, outGiven);
        }
      }
    }
  });
});

describe('edge cases', () => {
  it('no bags at all: empty offsets, [0] with includeLastOffset, empty lengths', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const table = randomTable(rng, 5, 7);
    for (const kind of INDEX_KINDS) {
      for (const mode of MODES) {
        const indices = makeIndexArray(kind, []);
        const cases = [
          { offsets: makeIndexArray(kind, []) },
          { offsets: makeIndexArray(kind, [0]), includeLastOffset: true },
          { lengths: makeIndexArray(kind, []) },
        ];
        for (const bounds of cases) {
          const got = embeddingBag({ table, dim: 7, indices, mode, ...bounds });
          expect(got.length, `seed=${seed} ${kind} ${mode} ${Object.keys(bounds).join('+')}`).toBe(0);
          expect(embeddingBag({ table, dim: 7, indices, mode, ...bounds, out: new Float32Array(0) }).length).toBe(0);
        }
      }
    }
  });

  it('empty bags give zeros in every mode and bounds form (and overwrite a poisoned out)', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const dim of [1, 8, 17, 129]) {
      const table = randomTable(rng, 4, dim);
      for (const mode of MODES) {
        for (const bounds of BOUNDS_KINDS) {
          for (const kind of INDEX_KINDS) {
            // bags: [], [2, 1], [], []
            const o = bagOptions({ table, dim, mode }, [2, 1], [0, 2, 0, 0], bounds, kind);
            const got = checkBag(o, describeCase({ seed, dim, mode, bounds, kind }), true);
            for (const b of [0, 2, 3]) {
              expect(Array.from(got.subarray(b * dim, (b + 1) * dim)).every((x) => Object.is(x, 0)), `bag ${b} is +0`).toBe(true);
            }
          }
        }
      }
    }
  });

  it('one bag holding every index', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const mode of MODES) {
      for (const dim of [3, 64, 129]) {
        const rows = 40;
        const table = randomTable(rng, rows, dim);
        const indices = randomIndices(rng, 50, rows);
        for (const bounds of BOUNDS_KINDS) {
          const o = bagOptions({ table, dim, mode }, indices, [indices.length], bounds, 'int32');
          checkBag(o, describeCase({ seed, mode, dim, bounds }), true);
        }
      }
    }
  });

  it('a table of one row: gather, bags, and paddingIdx 0 / -1 (every entry padding)', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const dim of [1, 5, 128]) {
      const table = randomTable(rng, 1, dim);
      for (const kind of INDEX_KINDS) {
        checkGather(table, dim, makeIndexArray(kind, [0, 0, 0]), describeCase({ seed, dim, kind }), true);
        for (const mode of MODES) {
          const lengths = [2, 0, 1, 4];
          const indices = [0, 0, 0, 0, 0, 0, 0];
          for (const paddingIdx of [undefined, 0, -1]) {
            const o = bagOptions({ table, dim, mode, paddingIdx }, indices, lengths, 'offsets', kind);
            const got = checkBag(o, describeCase({ seed, dim, kind, mode, paddingIdx }), true);
            if (paddingIdx !== undefined) expect(got.every((x) => x === 0), 'all padding gives zeros').toBe(true);
          }
        }
      }
    }
  });

  it('repeated indices: the same row many times', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 33;
    const table = randomTable(rng, 6, dim);
    const indices = new Array(40).fill(4);
    const row = table.subarray(4 * dim, 5 * dim);
    const sum = embeddingBag({ table, dim, indices: Int32Array.from(indices), offsets: Int32Array.of(0), mode: 'sum' });
    const mean = embeddingBag({ table, dim, indices: Int32Array.from(indices), offsets: Int32Array.of(0), mode: 'mean' });
    const max = embeddingBag({ table, dim, indices: Int32Array.from(indices), offsets: Int32Array.of(0), mode: 'max' });
    expect(relErr(sum, Array.from(row, (x) => 40 * x)), `seed=${seed} sum, bound ${BOUND}`).toBeLessThan(BOUND);
    expect(relErr(mean, row), `seed=${seed} mean, bound ${BOUND}`).toBeLessThan(BOUND);
    expect(Array.from(max), `seed=${seed} max`).toEqual(Array.from(row));
    const g = gather({ table, dim, indices: Uint32Array.from(indices) });
    for (let i = 0; i < 40; i++) expect(Array.from(g.subarray(i * dim, (i + 1) * dim))).toEqual(Array.from(row));
  });

  it('max replaces only when strictly greater (signed zeros keep the first)', () => {
    for (const dim of [1, 8, 19]) {
      // row 0 = -0, row 1 = +0, row 2 = -1
      const table = new Float32Array(3 * dim);
      for (let c = 0; c < dim; c++) {
        table[c] = -0;
        table[dim + c] = 0;
        table[2 * dim + c] = -1;
      }
      const got = embeddingBag({
        table,
        dim,
        indices: Int32Array.of(0, 1, 1, 0, 2, 0, 2, 1),
        offsets: Int32Array.of(0, 2, 4, 6),
        mode: 'max',
      });
      for (let c = 0; c < dim; c++) {
        expect(Object.is(got[c], -0), `dim=${dim} bag [-0, +0] keeps -0 at ${c}`).toBe(true);
        expect(Object.is(got[dim + c], 0), `dim=${dim} bag [+0, -0] keeps +0 at ${c}`).toBe(true);
        expect(Object.is(got[2 * dim + c], -0), `dim=${dim} bag [-1, -0] gives -0 at ${c}`).toBe(true);
        expect(Object.is(got[3 * dim + c], 0), `dim=${dim} bag [-1, +0] gives +0 at ${c}`).toBe(true);
      }
    }
  });

  it('max over negative rows is not clamped at zero', () => {
    const dim = 20;
    const table = new Float32Array(2 * dim).map((_, i) => -1 - i);
    const got = embeddingBag({ table, dim, indices: Int32Array.of(1, 0), offsets: Int32Array.of(0), mode: 'max' });
    expect(Array.from(got)).toEqual(Array.from(table.subarray(0, dim)));
  });

  it('mean ignores padding in the count; weighted mean divides by the non-padding count', () => {
    const dim = 3;
    const table = Float32Array.of(1, 2, 3, 10, 20, 30, 100, 200, 300);
    const indices = Int32Array.of(0, 2, 1, 2);
    const offsets = Int32Array.of(0);
    expect(Array.from(embeddingBag({ table, dim, indices, offsets, mode: 'mean', paddingIdx: 2 }))).toEqual([5.5, 11, 16.5]);
    expect(Array.from(embeddingBag({ table, dim, indices, offsets, mode: 'mean', paddingIdx: -1 }))).toEqual([5.5, 11, 16.5]);
    const weights = Float32Array.of(2, 1000, 0.5, 1000);
    // (2 * row0 + 0.5 * row1) / 2
    expect(Array.from(embeddingBag({ table, dim, indices, offsets, mode: 'mean', weights, paddingIdx: 2 }))).toEqual([3.5, 7, 10.5]);
    expect(Array.from(embeddingBag({ table, dim, indices, offsets, mode: 'sum', weights, paddingIdx: 2 }))).toEqual([7, 14, 21]);
    expect(Array.from(embeddingBag({ table, dim, indices, offsets, mode: 'max', paddingIdx: 2 }))).toEqual([10, 20, 30]);
  });

  it('gather with no indices gives an empty array', () => {
    const table = randomTable(new Rng(1), 3, 4);
    for (const kind of INDEX_KINDS as IndexKind[]) {
      expect(gather({ table, dim: 4, indices: makeIndexArray(kind, []) }).length).toBe(0);
      expect(gather({ table, dim: 4, indices: makeIndexArray(kind, []), out: new Float32Array(0) }).length).toBe(0);
    }
    expect(gather({ table: new Float32Array(0), dim: 4, indices: new Int32Array(0) }).length).toBe(0);
  });

  it('unaligned views (byteOffset 4) for table and out; neighbours of out untouched', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const dim of [7, 16, 129]) {
      const rows = 9;
      const src = randomTable(rng, rows + 1, dim);
      const table = new Float32Array(src.buffer, 4, rows * dim);
      const lengths = randomLengths(rng, 5, 6);
      const indices = randomIndices(rng, 5 * 6, rows);  // enough for the longest bags; the gather below reads all
      const n = lengths.reduce((s, x) => s + x, 0);
      for (const mode of MODES) {
        const o = bagOptions({ table, dim, mode }, indices.slice(0, n), lengths, 'offsets', 'int32');
        const ref = refEmbeddingBag(o);
        const backing = new Float32Array(ref.length + 2).fill(NaN);
        backing[0] = 123;
        backing[ref.length + 1] = 456;
        const out = new Float32Array(backing.buffer, 4, ref.length);
        embeddingBag({ ...o, out });
        const ctx = describeCase({ seed, dim, mode });
        expect(backing[0], ctx).toBe(123);
        expect(backing[ref.length + 1], ctx).toBe(456);
        expectBagClose(out, o, ctx);
      }
      const gref = refGather(table, dim, indices);
      const gbacking = new Float32Array(gref.length + 2).fill(NaN);
      const gout = new Float32Array(gbacking.buffer, 4, gref.length);
      gather({ table, dim, indices: Int32Array.from(indices), out: gout });
      expect(firstMismatch(gout, gref), `seed=${seed} dim=${dim} gather`).toBe(-1);
      expect(Number.isNaN(gbacking[0]) && Number.isNaN(gbacking[gref.length + 1])).toBe(true);
    }
  });

  it('index arrays that are views into a larger buffer (byteOffset != 0)', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 12;
    const table = randomTable(rng, 10, dim);
    const idx = randomIndices(rng, 30, 10);
    const bigIdx = new BigInt64Array(40);
    bigIdx.set(idx.map(BigInt), 5);
    const indices = bigIdx.subarray(5, 35);
    const offsetsBacking = new Int32Array(10).fill(-7);
    offsetsBacking.set([0, 4, 4, 20], 3);
    const offsets = offsetsBacking.subarray(3, 7);
    for (const mode of MODES) {
      const o = { table, dim, mode, indices, offsets };
      expectBagClose(embeddingBag(o), o, `seed=${seed} ${mode}`);
    }
    expect(firstMismatch(gather({ table, dim, indices }), refGather(table, dim, idx))).toBe(-1);
  });

  it('a SharedArrayBuffer-backed table, indices and out work', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 24;
    const table = randomTable(rng, 15, dim, true);
    const idx = randomIndices(rng, 25, 15);
    const indices = new Int32Array(new SharedArrayBuffer(idx.length * 4));
    indices.set(idx);
    const out = new Float32Array(new SharedArrayBuffer(5 * dim * 4));
    const o = { table, dim, indices, lengths: Int32Array.of(5, 5, 5, 5, 5), mode: 'mean' as const };
    embeddingBag({ ...o, out });
    expectBagClose(out, o, `seed=${seed}`);
    expect(firstMismatch(gather({ table, dim, indices }), refGather(table, dim, idx))).toBe(-1);
  });
});

describe('property: random shapes and bag structures match the reference', () => {
  const problem = fc.record({
    seed: fc.integer({ min: 0, max: 0x7fffffff }),
    rows: fc.integer({ min: 1, max: 12 }),
    dim: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(64, 100, 128, 129, 256)),
    lengths: fc.array(fc.integer({ min: 0, max: 7 }), { maxLength: 10 }),
    mode: fc.constantFrom<Mode>('sum', 'mean', 'max'),
    weighted: fc.boolean(),
    padding: fc.option(fc.integer({ min: -12, max: 11 }), { nil: undefined }),
    kind: fc.constantFrom<IndexKind>('int32', 'uint32', 'int64'),
    bounds: fc.constantFrom(...BOUNDS_KINDS),
    outGiven: fc.boolean(),
  });

  it(`embeddingBag (relative error bound ${BOUND}, max exact)`, () => {
    fc.assert(
      fc.property(problem, (p) => {
        const rng = new Rng(p.seed);
        const table = randomTable(rng, p.rows, p.dim);
        const n = p.lengths.reduce((s, x) => s + x, 0);
        const indices = randomIndices(rng, n, p.rows);
        const paddingIdx = p.padding === undefined ? undefined : Math.max(-p.rows, Math.min(p.rows - 1, p.padding));
        const weights = p.weighted && p.mode !== 'max' ? randomWeights(rng, n) : undefined;
        const o = bagOptions({ table, dim: p.dim, mode: p.mode, weights, paddingIdx }, indices, p.lengths, p.bounds, p.kind);
        checkBag(o, describeCase({ ...p, lengths: JSON.stringify(p.lengths), paddingIdx }), p.outGiven);
      }),
      { numRuns: 400 },
    );
  });

  it('gather (exact)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0x7fffffff }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 0, max: 40 }),
        fc.constantFrom<IndexKind>('int32', 'uint32', 'int64'),
        fc.boolean(),
        (seed, rows, dim, n, kind, outGiven) => {
          const rng = new Rng(seed);
          const table = randomTable(rng, rows, dim);
          const indices = makeIndexArray(kind, randomIndices(rng, n, rows));
          checkGather(table, dim, indices, describeCase({ seed, rows, dim, n, kind, outGiven }), outGiven);
        },
      ),
      { numRuns: 300 },
    );
  });
});
