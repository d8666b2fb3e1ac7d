// CSR construction, transposition and spmm against float64 references: the plain dense
// product on small matrices, and torch_sparse's reductions from their definition
// (test/scatter-reference.ts). Seeds in every message (TEST_SEED=<seed> replays).
// Bounds: relative error < 1e-6 x cond (cond as in test/checks.ts; 1e-5 for a hub row of
// 10,000 nonzeros); reduce 'max' selects float32 products exactly; CSR structure exact;
// bitwise equality for 1, 2 and 3 threads.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  capabilities,
  csrFromCoo,
  csrFromCooAsync,
  csrTranspose,
  csrTransposeAsync,
  getThreads,
  setIsa,
  setThreads,
  spmm,
  spmmAsync,
  type CsrMatrix,
} from '../lib/index';
import {
  INDEX_KINDS,
  Rng,
  bytesOf,
  describeCase,
  firstBitMismatch,
  firstMismatch,
  firstNaN,
  freshSeed,
  makeIndexArray,
  poisoned,
  randomTable,
  randomWeights,
  relErr,
  sameBytes,
  toNumbers,
  type IndexKind,
} from './reference';
import { itOnEachIsa } from './checks';
import { cond, csrToNumbers, denseProduct, densify, refSpmm } from './scatter-reference';

const BOUND = 1e-6;
const DIMS = [1, 7, 128, 129];
const REDUCES = ['sum', 'mean', 'max'] as const;
const initialThreads = getThreads();
const initialIsa = capabilities().isa;
afterAll(() => {
  setThreads(initialThreads);
  setIsa(initialIsa);
});

/** Random COO triples with duplicates and empty rows; optionally a hub row. */
function randomCoo(rng: Rng, numRows: number, numCols: number, nnz: number, hub = 0) {
  const rows: number[] = [];
  const cols: number[] = [];
  const emptyRow = rng.int(0, numRows - 1);
  for (let i = 0; i < nnz; i++) {
    let r = rng.int(0, numRows - 1);
    if (r === emptyRow) r = (r + 1) % numRows;
    rows.push(r);
    cols.push(rng.int(0, numCols - 1));
    if (rng.bool(0.15) && i > 0) {
      rows.push(rows[rows.length - 2]); // an exact duplicate
      cols.push(cols[cols.length - 2]);
    }
  }
  for (let i = 0; i < hub; i++) {
    rows.push(numRows - 1);
    cols.push(rng.int(0, numCols - 1));
  }
  return { rows, cols, emptyRow };
}

function makeCsr(rng: Rng, kind: IndexKind, numRows: number, numCols: number, nnz: number, withValues: boolean, hub = 0): CsrMatrix {
  const c = randomCoo(rng, numRows, numCols, nnz, hub);
  return csrFromCoo({
    rows: makeIndexArray(kind, c.rows),
    cols: makeIndexArray(kind, c.cols),
    values: withValues ? randomWeights(rng, c.rows.length) : undefined,
    numRows,
    numCols,
  });
}

describe('csrFromCoo and csrTranspose', () => {
  it('sorts by (row, col), sums duplicates in input order, and matches the dense matrix', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const kind of INDEX_KINDS) {
      for (const withValues of [false, true]) {
        const numRows = rng.int(1, 30);
        const numCols = rng.int(1, 30);
        const c = randomCoo(rng, numRows, numCols, rng.int(0, 120));
        const values = withValues ? randomWeights(rng, c.rows.length) : undefined;
        const rowsArr = makeIndexArray(kind, c.rows);
        const colsArr = makeIndexArray(kind, c.cols);
        const rowsBefore = bytesOf(rowsArr);
        const a = csrFromCoo({ rows: rowsArr, cols: colsArr, values, numRows, numCols });
        const ctx = describeCase({ seed, kind, withValues, numRows, numCols });
        expect(sameBytes(bytesOf(rowsArr), rowsBefore), ctx).toBe(true);
        expect(a.rowPtr).toBeInstanceOf(Int32Array);
        const m = csrToNumbers(a);
        expect(m.rowPtr.length, ctx).toBe(numRows + 1);
        expect(m.rowPtr[0]).toBe(0);
        expect(m.rowPtr[numRows]).toBe(m.colIdx.length);
        for (let r = 0; r < numRows; r++) {
          for (let k = m.rowPtr[r] + 1; k < m.rowPtr[r + 1]; k++) expect(m.colIdx[k] > m.colIdx[k - 1], `${ctx}: row ${r} strictly sorted`).toBe(true);
        }
        // Dense from the COO input (float64) vs dense from the CSR.
        const dense = new Float64Array(numRows * numCols);
        c.rows.forEach((r, i) => (dense[r * numCols + c.cols[i]] += values ? values[i] : 1));
        const got = densify(m);
        expect(relErr(got, dense), ctx).toBeLessThan(1e-6);
        // Values appear without input values only when a duplicate was merged.
        const hadDup = new Set(c.rows.map((r, i) => r * numCols + c.cols[i])).size < c.rows.length;
        expect(a.values !== undefined, ctx).toBe(withValues || hadDup);
        // Transpose twice is the identity; once, it is the dense transpose.
        const t = csrTranspose(a);
        expect(t.numRows).toBe(numCols);
        expect(t.numCols).toBe(numRows);
        const dt = densify(csrToNumbers(t));
        for (let r = 0; r < numRows; r++) for (let q = 0; q < numCols; q++) expect(dt[q * numRows + r]).toBe(got[r * numCols + q]);
        const tt = csrToNumbers(csrTranspose(t));
        expect(tt.rowPtr).toEqual(m.rowPtr);
        expect(tt.colIdx).toEqual(m.colIdx);
      }
    }
  });

  it('sumDuplicates: false keeps every entry, stably sorted', () => {
    const a = csrFromCoo({ rows: Int32Array.of(1, 0, 1, 1), cols: Int32Array.of(2, 1, 0, 2), values: Float32Array.of(1, 2, 3, 4), numRows: 2, numCols: 3, sumDuplicates: false });
    expect(toNumbers(a.rowPtr)).toEqual([0, 1, 4]);
    expect(toNumbers(a.colIdx)).toEqual([1, 0, 2, 2]);
    expect(Array.from(a.values as Float32Array)).toEqual([2, 3, 1, 4]);
    const merged = csrFromCoo({ rows: Int32Array.of(1, 0, 1, 1), cols: Int32Array.of(2, 1, 0, 2), numRows: 2, numCols: 3 });
    expect(Array.from(merged.values as Float32Array)).toEqual([1, 1, 2]);
  });

  it('no entries: values given as an empty array are kept, not given they are omitted', async () => {
    for (const kind of INDEX_KINDS) {
      const none = makeIndexArray(kind, []);
      const withValues = csrFromCoo({ rows: none, cols: none, values: new Float32Array(0), numRows: 3, numCols: 2 });
      expect(withValues.values, kind).toBeInstanceOf(Float32Array);
      expect(withValues.values?.length).toBe(0);
      expect(toNumbers(withValues.rowPtr)).toEqual([0, 0, 0, 0]);
      expect((await csrFromCooAsync({ rows: none, cols: none, values: new Float32Array(0), numRows: 3, numCols: 2 })).values)
        .toBeInstanceOf(Float32Array);
      expect(csrFromCoo({ rows: none, cols: none, numRows: 3, numCols: 2 }).values).toBeUndefined();
      const t = csrTranspose(withValues);
      expect(t.values).toBeInstanceOf(Float32Array);
      expect([t.numRows, t.numCols, t.values?.length]).toEqual([2, 3, 0]);
    }
  });

  it('large column range (radix passes) and BigInt64 input', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const numCols = 50_000_000;
    const c = randomCoo(rng, 100, numCols, 3000);
    const a = csrFromCoo({ rows: makeIndexArray('int64', c.rows), cols: makeIndexArray('int64', c.cols), numRows: 100, numCols });
    const m = csrToNumbers(a);
    const pairs = c.rows.map((r, i) => [r, c.cols[i]]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    const unique = pairs.filter((p, i) => i === 0 || p[0] !== pairs[i - 1][0] || p[1] !== pairs[i - 1][1]);
    expect(m.colIdx, `seed=${seed}`).toEqual(unique.map((p) => p[1]));
  });
});

describe.each(DIMS)('spmm dim %i', (dim) => {
  it.each(REDUCES)('reduce %s matches the reference, plain and transposed, every index type, with and without values', (reduce) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const kind of INDEX_KINDS) {
      for (const withValues of [false, true]) {
        for (const transpose of [false, true]) {
          const numRows = rng.int(1, 25);
          const numCols = rng.int(1, 25);
          const a = makeCsr(rng, kind, numRows, numCols, rng.int(0, 90), withValues);
          const b = randomTable(rng, transpose ? numRows : numCols, dim);
          const bBefore = bytesOf(b);
          const ctx = describeCase({ seed, dim, reduce, kind, withValues, transpose, numRows, numCols });
          const outRows = transpose ? numCols : numRows;
          const out = poisoned(outRows * dim);
          const got = spmm({ a, b, dim, reduce, transpose, out });
          expect(got === out, ctx).toBe(true);
          expect(firstNaN(got), `${ctx}: every element written`).toBe(-1);
          const { ref, abs } = refSpmm(csrToNumbers(a), b, dim, reduce, transpose);
          if (reduce === 'max') expect(firstMismatch(got, ref), `${ctx}: max exact`).toBe(-1);
          else expect(relErr(got, ref), `${ctx}: bound`).toBeLessThan(BOUND * cond(ref, abs));
          if (reduce === 'sum') {
            const d = denseProduct(densify(csrToNumbers(a)), numRows, numCols, b, dim, transpose);
            expect(relErr(got, d.ref), `${ctx}: vs dense product`).toBeLessThan(BOUND * cond(d.ref, d.abs));
          }
          expect(sameBytes(bytesOf(b), bBefore), `${ctx}: b untouched`).toBe(true);
        }
      }
    }
  });

  it('a hub row of 10,000 nonzeros among empty and short rows', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const a = makeCsr(rng, 'int32', 50, 300, 200, true, 10_000);
    const b = randomTable(rng, 300, dim);
    for (const reduce of REDUCES) {
      const got = spmm({ a, b, dim, reduce });
      const { ref, abs } = refSpmm(csrToNumbers(a), b, dim, reduce, false);
      if (reduce === 'max') expect(firstMismatch(got, ref), `seed=${seed} max`).toBe(-1);
      else expect(relErr(got, ref), `seed=${seed} ${reduce}`).toBeLessThan(1e-5 * cond(ref, abs));
    }
  });
});

describe('spmm determinism, async, ISAs', () => {
  it('bitwise identical for 1, 2 and 3 threads (power-law rows, plain and transposed)', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const numRows = 3000;
    const numCols = 2000;
    const rows: number[] = [];
    const cols: number[] = [];
    for (let i = 0; i < 60_000; i++) {
      rows.push(Math.floor(numRows * rng.float() ** 3)); // skewed: low rows are hubs
      cols.push(Math.floor(numCols * rng.float() ** 2));
    }
    const a = csrFromCoo({ rows: Int32Array.from(rows), cols: Int32Array.from(cols), values: randomWeights(rng, rows.length), numRows, numCols });
    for (const dim of [16, 129]) {
      for (const transpose of [false, true]) {
        const b = randomTable(rng, transpose ? numRows : numCols, dim);
        for (const reduce of REDUCES) {
          const runs: Float32Array[] = [];
          const aT = transpose ? csrTranspose(a) : undefined;
          for (const threads of [1, 2, 3]) {
            setThreads(threads);
            runs.push(spmm({ a, b, dim, reduce, transpose }));
            if (aT) runs.push(spmm({ a, b, dim, reduce, transpose, aT })); // the kept transpose: same bits
          }
          setThreads(initialThreads);
          for (let i = 1; i < runs.length; i++) expect(firstBitMismatch(runs[i], runs[0]), `seed=${seed} dim=${dim} ${reduce} transpose=${transpose} run ${i}`).toBe(-1);
          if (reduce === 'sum') {
            const { ref, abs } = refSpmm(csrToNumbers(a), b, dim, reduce, transpose);
            expect(relErr(runs[0], ref), `seed=${seed}`).toBeLessThan(1e-5 * cond(ref, abs));
          }
        }
      }
    }
  });

  it('spmmAsync matches spmm', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const a = makeCsr(rng, 'uint32', 40, 30, 300, true);
    const b = randomTable(rng, 30, 33);
    const sync = spmm({ a, b, dim: 33, reduce: 'mean' });
    const got = await spmmAsync({ a, b, dim: 33, reduce: 'mean' });
    expect(firstBitMismatch(got, sync), `seed=${seed}`).toBe(-1);
    const bt = randomTable(rng, 40, 33);
    const syncT = spmm({ a, b: bt, dim: 33, transpose: true });
    expect(firstBitMismatch(await spmmAsync({ a, b: bt, dim: 33, transpose: true }), syncT)).toBe(-1);
    expect(firstBitMismatch(await spmmAsync({ a, b: bt, dim: 33, transpose: true, aT: csrTranspose(a) }), syncT)).toBe(-1);
  });

  it('csrFromCooAsync and csrTransposeAsync match the sync forms', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const kind of INDEX_KINDS) {
      for (const withValues of [false, true]) {
        const numRows = rng.int(1, 300);
        const numCols = rng.int(1, 300);
        const c = randomCoo(rng, numRows, numCols, rng.int(0, 3000));
        const o = {
          rows: makeIndexArray(kind, c.rows), cols: makeIndexArray(kind, c.cols),
          values: withValues ? randomWeights(rng, c.rows.length) : undefined, numRows, numCols, sumDuplicates: rng.bool(),
        };
        const ctx = describeCase({ seed, kind, withValues, numRows, numCols });
        const sync = csrFromCoo(o);
        const got = await csrFromCooAsync(o);
        expect(csrToNumbers(got), ctx).toEqual(csrToNumbers(sync));
        expect(got.values === undefined, ctx).toBe(sync.values === undefined);
        if (sync.values) expect(firstBitMismatch(got.values!, sync.values), ctx).toBe(-1);
        expect(got.rowPtr.constructor, ctx).toBe(sync.rowPtr.constructor);
        const t = csrTranspose(sync);
        const tAsync = await csrTransposeAsync(sync);
        expect(csrToNumbers(tAsync), ctx).toEqual(csrToNumbers(t));
        expect([tAsync.numRows, tAsync.numCols], ctx).toEqual([numCols, numRows]);
        if (t.values) expect(firstBitMismatch(tAsync.values!, t.values), ctx).toBe(-1);
      }
    }
  });

  it('an empty matrix, and zero rows', () => {
    const a = csrFromCoo({ rows: new Int32Array(0), cols: new Int32Array(0), numRows: 3, numCols: 2 });
    expect(Array.from(spmm({ a, b: Float32Array.of(1, 2, 3, 4), dim: 2 }))).toEqual([0, 0, 0, 0, 0, 0]);
    const z = csrFromCoo({ rows: new Int32Array(0), cols: new Int32Array(0), numRows: 0, numCols: 0 });
    expect(spmm({ a: z, b: new Float32Array(0), dim: 4 }).length).toBe(0);
  });
});

itOnEachIsa('spmm', (isa) => {
  const seed = freshSeed();
  const rng = new Rng(seed);
  let calls = 0;
  for (const dim of [1, 3, 4, 7, 8, 9, 16, 17, 33, 64, 128, 129, 257]) {
    for (const reduce of REDUCES) {
      const a = makeCsr(rng, 'int32', rng.int(1, 30), rng.int(1, 30), rng.int(0, 100), true);
      const b = randomTable(rng, a.numCols, dim);
      const got = spmm({ a, b, dim, reduce });
      calls++;
      const { ref, abs } = refSpmm(csrToNumbers(a), b, dim, reduce, false);
      if (reduce === 'max') expect(firstMismatch(got, ref), `${isa} seed=${seed} dim=${dim}`).toBe(-1);
      else expect(relErr(got, ref), `${isa} seed=${seed} dim=${dim} ${reduce}`).toBeLessThan(BOUND * cond(ref, abs));
    }
  }
  return calls;
});

describe('property: random CSR shapes, reductions and transposes match the reference', () => {
  it(`spmm (relative error bound ${BOUND} x cond; max exact)`, () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 0, max: 0x7fffffff }),
          numRows: fc.integer({ min: 0, max: 12 }),
          numCols: fc.integer({ min: 1, max: 12 }),
          nnz: fc.integer({ min: 0, max: 40 }),
          dim: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constantFrom(31, 64, 129)),
          reduce: fc.constantFrom(...REDUCES),
          transpose: fc.boolean(),
          withValues: fc.boolean(),
          kind: fc.constantFrom<IndexKind>('int32', 'uint32', 'int64'),
          sumDuplicates: fc.boolean(),
        }),
        (p) => {
          const rng = new Rng(p.seed);
          const rows = Array.from({ length: p.numRows === 0 ? 0 : p.nnz }, () => rng.int(0, p.numRows - 1));
          const cols = rows.map(() => rng.int(0, p.numCols - 1));
          const a = csrFromCoo({
            rows: makeIndexArray(p.kind, rows), cols: makeIndexArray(p.kind, cols),
            values: p.withValues ? randomWeights(rng, rows.length) : undefined,
            numRows: p.numRows, numCols: p.numCols, sumDuplicates: p.sumDuplicates,
          });
          const b = randomTable(rng, p.transpose ? p.numRows : p.numCols, p.dim);
          const got = spmm({ a, b, dim: p.dim, reduce: p.reduce, transpose: p.transpose });
          const { ref, abs } = refSpmm(csrToNumbers(a), b, p.dim, p.reduce, p.transpose);
          const ctx = describeCase(p);
          expect(firstNaN(got), ctx).toBe(-1);
          if (p.reduce === 'max') expect(firstMismatch(got, ref), ctx).toBe(-1);
          else expect(relErr(got, ref), ctx).toBeLessThan(BOUND * cond(ref, abs));
        },
      ),
      { numRuns: 300 },
    );
  });
});
