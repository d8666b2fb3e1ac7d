// cuda.scatterAdd / cuda.scatterPlan / cuda.spmm against the CPU ops (checked against float64
// references in test/scatter.test.ts and test/spmm.test.ts): the same per-row order and
// operations, so unweighted results match the CPU bit for bit and weighted ones within
// float32 rounding (the CPU's scalar path does not fuse the multiply-add).
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceArray, csrFromCoo, cuda, scatterAdd, spmm } from '../../lib/index';
import { Rng, describeCase, freshSeed, type IndexArray } from '../reference';
import { LONG_BAG_CHUNK, gpuReady, longestRun } from './setup';

const live: Array<{ dispose(): void }> = [];
function dev<T extends Float32Array | IndexArray>(a: T): DeviceArray<never> {
  const d = DeviceArray.fromHost(a);
  live.push(d);
  return d as DeviceArray<never>;
}
afterAll(() => live.forEach((d) => d.dispose()));

// exact: bit for bit; else within `tolerance` x (|want| + 1): float32 rounding of a fused
// multiply-add (1e-5), or of a row pooled as a sum of chunk sums (LONG_BAG_CHUNK, 1e-4).
function compare(got: Float32Array, want: Float32Array, exact: boolean, tolerance = 1e-5): number {
  if (got.length !== want.length) return want.length;
  return want.findIndex((w, i) => (exact ? !Object.is(got[i], w) : !(Math.abs(got[i] - w) <= tolerance * (Math.abs(w) + 1))));
}

// Whether the GPU pools a segment of `longest` entries in one run (bit for bit the CPU's
// order) and the tolerance to use when it may not.
function pooledWhole(longest: number): boolean {
  return longest <= LONG_BAG_CHUNK;
}
const CHUNKED = 1e-4;

describe.skipIf(!gpuReady)('cuda.scatterAdd', () => {
  it('equals the CPU scatterAdd with and without a plan, weights and alpha', async () => {
    for (const dim of [1, 7, 128, 129]) {
      for (const variant of ['plain', 'weighted', 'alpha'] as const) {
        const seed = freshSeed();
        const rng = new Rng(seed);
        const numRows = rng.int(1, 500);
        const n = rng.int(0, 3000);
        // Duplicates and one hub row.
        const indices = Int32Array.from({ length: n }, () => (rng.bool(0.3) ? 0 : rng.int(0, numRows - 1)));
        const dst = Float32Array.from({ length: numRows * dim }, () => rng.float() - 0.5);
        const src = Float32Array.from({ length: n * dim }, () => rng.float() - 0.5);
        const weights = variant === 'weighted' ? Float32Array.from({ length: n }, () => rng.float() * 2) : undefined;
        const alpha = variant === 'alpha' ? 0.37 : undefined;
        const want = scatterAdd({ dst: dst.slice(), dim, indices, src, weights, alpha });
        const ctx = describeCase({ seed, dim, variant, numRows, n });
        const dIdx = dev(indices) as DeviceArray<'int32'>;
        const plain = dev(dst) as DeviceArray<'float32'>;
        cuda.scatterAdd({ dst: plain, dim, indices: dIdx, src: dev(src), weights: weights && dev(weights), alpha });
        const whole = pooledWhole(longestRun(indices));
        expect(compare(await plain.toHost(), want, variant === 'plain' && whole, whole ? 1e-5 : CHUNKED), ctx).toBe(-1);
        const plan = cuda.scatterPlan({ indices: dIdx, numRows });
        live.push(plan);
        const planned = dev(dst) as DeviceArray<'float32'>;
        cuda.scatterAdd({ dst: planned, dim, plan, src: dev(src), weights: weights && dev(weights), alpha });
        expect(compare(await planned.toHost(), await plain.toHost(), true), `${ctx}: plan vs no plan`).toBe(-1);
      }
    }
  });

  it('refuses bad input without writing', async () => {
    const dst0 = new Float32Array(8).fill(2);
    const dst = dev(dst0) as DeviceArray<'float32'>;
    const src = dev(new Float32Array(6).fill(1)) as DeviceArray<'float32'>;
    expect(() => cuda.scatterAdd({ dst, dim: 2, indices: dev(Int32Array.of(0, 4, 1)) as never, src })).toThrow(/out of range/);
    expect(() => cuda.scatterAdd({ dst, dim: 2, indices: dev(Int32Array.of(0, 1)) as never, src })).toThrow(/src.length/);
    expect(() => cuda.scatterAdd({ dst, dim: 3, indices: dev(Int32Array.of(0, 1)) as never, src })).toThrow(/not a multiple/);
    expect(() => cuda.scatterAdd({ dst, dim: 2, indices: dev(Int32Array.of(0, 1, 2)) as never, src, alpha: Number.NaN })).toThrow(RangeError);
    expect(() => cuda.scatterAdd({ dst, dim: 2, indices: dev(Int32Array.of(0, 1, 2, 3)) as never, src: dst })).toThrow(/share memory/);
    expect(await dst.toHost()).toEqual(dst0);
  });
});

describe.skipIf(!gpuReady)('cuda.spmm', () => {
  it('equals the CPU spmm for every reduce, with and without values, and transposed', async () => {
    for (const reduce of ['sum', 'mean', 'max'] as const) {
      for (const transpose of [false, true]) {
        for (const weighted of [false, true]) {
          const seed = freshSeed();
          const rng = new Rng(seed);
          const numRows = rng.int(1, 300);
          const numCols = rng.int(1, 300);
          const nnz = rng.int(0, 4000);
          const rows = Int32Array.from({ length: nnz }, () => (rng.bool(0.2) ? 0 : rng.int(0, numRows - 1)));
          const cols = Int32Array.from({ length: nnz }, () => rng.int(0, numCols - 1));
          const values = weighted ? Float32Array.from({ length: nnz }, () => rng.float() * 2 - 1) : undefined;
          const a = csrFromCoo({ rows, cols, values, numRows, numCols });
          const dim = rng.pick([1, 7, 64, 129]);
          const b = Float32Array.from({ length: (transpose ? numRows : numCols) * dim }, () => rng.float() - 0.5);
          const want = spmm({ a, b, dim, reduce, transpose });
          const da = { rowPtr: dev(a.rowPtr) as never, colIdx: dev(a.colIdx) as never, values: a.values && (dev(a.values) as never),
            numRows, numCols };
          const got = cuda.spmm({ a: da, b: dev(b), dim, reduce, transpose });
          live.push(got);
          // A row's entries (a column's, transposed) are one bag: longer than a chunk, a sum is chunked.
          const rowLengths = Array.from({ length: numRows }, (_, r) => Number(a.rowPtr[r + 1]) - Number(a.rowPtr[r]));
          const whole = reduce === 'max' || pooledWhole(transpose ? longestRun(a.colIdx) : Math.max(0, ...rowLengths));
          const exact = (!weighted || reduce === 'max') && whole;
          expect(compare(await got.toHost(), want, exact, whole ? 1e-5 : CHUNKED),
            describeCase({ seed, reduce, transpose, weighted, numRows, numCols, nnz, dim })).toBe(-1);
        }
      }
    }
  });
});

describe.skipIf(!gpuReady)('cuda.embeddingBagBackward', () => {
  it('equals the CPU dense gradient for sum, mean and max, with weights and padding', async () => {
    const { embeddingBag, embeddingBagBackward } = await import('../../lib/index');
    for (const mode of ['sum', 'mean', 'max'] as const) {
      for (const dim of [1, 7, 128, 129]) {
        const seed = freshSeed();
        const rng = new Rng(seed);
        const numRows = rng.int(1, 200);
        const lengths = Array.from({ length: rng.int(0, 40) }, () => rng.int(0, 30));
        const n = lengths.reduce((a, b) => a + b, 0);
        const indices = Int32Array.from({ length: n }, () => rng.int(0, numRows - 1));
        const offsets = Int32Array.from(lengths.map((_, b) => lengths.slice(0, b).reduce((a, c) => a + c, 0)));
        const weights = mode !== 'max' && rng.bool() ? Float32Array.from({ length: n }, () => rng.float() * 2) : undefined;
        const paddingIdx = mode !== 'max' && rng.bool() ? rng.int(0, numRows - 1) : undefined;
        const gradOutput = Float32Array.from({ length: lengths.length * dim }, () => rng.float() - 0.5);
        const table = Float32Array.from({ length: numRows * dim }, () => rng.float() - 0.5);
        const maxIndices = mode === 'max' ? embeddingBag({ table, dim, indices, offsets, mode, returnArgmax: true }).argmax : undefined;
        const want = embeddingBagBackward({ gradOutput, dim, indices, offsets, mode, weights, paddingIdx, numRows, maxIndices });
        const got = cuda.embeddingBagBackward({
          gradOutput: dev(gradOutput), dim, indices: dev(indices) as never, offsets: dev(offsets) as never, mode,
          weights: weights && dev(weights), paddingIdx, numRows, maxIndices: maxIndices && (dev(maxIndices) as never),
        });
        live.push(got);
        const ctx = describeCase({ seed, mode, dim, numRows, n, weighted: weights !== undefined, paddingIdx });
        // sum / mean pool each table row's gradient terms as one bag (max scatters them).
        const whole = mode === 'max' || pooledWhole(longestRun(indices));
        expect(compare(await got.toHost(), want, weights === undefined && whole, whole ? 1e-5 : CHUNKED), ctx).toBe(-1);
        // The sparse form: the same rows (ascending, typed like the indices) and values.
        const sparseWant = embeddingBagBackward({ gradOutput, dim, indices, offsets, mode, weights, paddingIdx, numRows, maxIndices, sparse: true });
        const sparseGot = cuda.embeddingBagBackward({
          gradOutput: dev(gradOutput), dim, indices: dev(indices) as never, offsets: dev(offsets) as never, mode,
          weights: weights && dev(weights), paddingIdx, numRows, maxIndices: maxIndices && (dev(maxIndices) as never), sparse: true,
        });
        live.push(sparseGot.rows, sparseGot.values);
        if (mode === 'max') {
          // The argmax of the GPU forward serves as maxIndices directly.
          const fwd = cuda.embeddingBag({ table: dev(table), dim, indices: dev(indices) as never, offsets: dev(offsets) as never,
            mode, returnArgmax: true });
          live.push(fwd.out, fwd.argmax);
          const viaGpuArgmax = cuda.embeddingBagBackward({ gradOutput: dev(gradOutput), dim, indices: dev(indices) as never,
            offsets: dev(offsets) as never, mode, numRows, maxIndices: fwd.argmax });
          live.push(viaGpuArgmax);
          expect(compare(await viaGpuArgmax.toHost(), want, true), `${ctx}: GPU argmax`).toBe(-1);
          // With no indices at all an empty table is valid; otherwise every index is out of its range.
          if (n > 0) {
            expect(() => cuda.embeddingBagBackward({ gradOutput: dev(gradOutput), dim, indices: dev(indices) as never,
              offsets: dev(offsets) as never, mode, numRows: 0, maxIndices: fwd.argmax }), ctx).toThrow(RangeError);
          }
          expect(() => cuda.gather({ table: dev(table), dim, indices: fwd.argmax as never })).toThrow(/fromHost/);
        }
        expect(sparseGot.rows.dtype, ctx).toBe('int32');
        expect(Array.from(await sparseGot.rows.toHost() as Int32Array), `${ctx}: sparse rows`).toEqual(Array.from(sparseWant.rows as Int32Array));
        expect(compare(await sparseGot.values.toHost(), sparseWant.values, weights === undefined && whole, whole ? 1e-5 : CHUNKED),
          `${ctx}: sparse values`).toBe(-1);
      }
    }
  });
});

describe.skipIf(!gpuReady)('cuda.embeddingBagWeightsBackward', () => {
  it('equals the CPU weights gradient within rounding (sum and mean, padding, long bags, every index type)', async () => {
    const { embeddingBagWeightsBackward } = await import('../../lib/index');
    for (const mode of ['sum', 'mean'] as const) {
      for (const dim of [1, 7, 33, 128, 129]) {
        for (const kind of ['int32', 'uint32', 'int64'] as const) {
          const seed = freshSeed();
          const rng = new Rng(seed);
          const numRows = rng.int(1, 200);
          const lengths = Array.from({ length: rng.int(1, 40) }, () => (rng.bool(0.1) ? rng.int(500, 3000) : rng.int(0, 30)));
          const n = lengths.reduce((a, b) => a + b, 0);
          const ids = Array.from({ length: n }, () => rng.int(0, numRows - 1));
          const offs = lengths.map((_, b) => lengths.slice(0, b).reduce((a, c) => a + c, 0));
          const typed = (v: number[]) => (kind === 'int64' ? BigInt64Array.from(v, BigInt) : kind === 'uint32' ? Uint32Array.from(v) : Int32Array.from(v));
          const indices = typed(ids);
          const offsets = typed(offs);
          const paddingIdx = rng.bool() ? rng.int(0, numRows - 1) : undefined;
          const table = Float32Array.from({ length: numRows * dim }, () => rng.float() - 0.5);
          const gradOutput = Float32Array.from({ length: lengths.length * dim }, () => rng.float() - 0.5);
          const want = embeddingBagWeightsBackward({ gradOutput, table, dim, indices, offsets, mode, paddingIdx });
          const got = cuda.embeddingBagWeightsBackward({
            gradOutput: dev(gradOutput), table: dev(table), dim, indices: dev(indices) as never, offsets: dev(offsets) as never,
            mode, paddingIdx,
          });
          live.push(got);
          const host = await got.toHost();
          const ctx = describeCase({ seed, mode, dim, kind, numRows, n, paddingIdx });
          // A dot product summed in another order: within float32 rounding of dim terms.
          expect(compare(host, want, false, 1e-5 * Math.sqrt(dim)), ctx).toBe(-1);
          if (paddingIdx !== undefined) {
            ids.forEach((r, p) => {
              if (r === paddingIdx) expect(host[p], `${ctx}: padding entry ${p}`).toBe(0);
            });
          }
        }
      }
    }
  });

  it('refuses bad input without writing', async () => {
    const table = dev(new Float32Array(24).fill(2));
    const gradOutput = dev(new Float32Array(12).fill(1));
    const indices = dev(Int32Array.of(0, 1, 2, 3, 4)) as never;
    const offsets = dev(Int32Array.of(0, 2, 2)) as never;
    const out = dev(new Float32Array(5).fill(7));
    const base = { gradOutput, table, dim: 4, indices, offsets, mode: 'sum' as const, out };
    expect(() => cuda.embeddingBagWeightsBackward({ ...base, mode: 'max' as never })).toThrow(/'max' pooling takes no per-sample weights/);
    expect(() => cuda.embeddingBagWeightsBackward({ ...base, indices: dev(Int32Array.of(0, 1, 2, 3, 6)) as never })).toThrow(RangeError);
    expect(() => cuda.embeddingBagWeightsBackward({ ...base, table: dev(new Float32Array(23)) })).toThrow(/not a multiple of dim 4/);
    expect(() => cuda.embeddingBagWeightsBackward({ ...base, gradOutput: dev(new Float32Array(11)) })).toThrow(/gradOutput\.length must be/);
    expect(() => cuda.embeddingBagWeightsBackward({ ...base, out: dev(new Float32Array(4)) })).toThrow(/out\.length must be 5/);
    expect(() => cuda.embeddingBagWeightsBackward({ ...base, paddingIdx: 6 })).toThrow(/paddingIdx must be from -6 to 5/);
    expect(Array.from(await out.toHost())).toEqual([7, 7, 7, 7, 7]);
  });
});
