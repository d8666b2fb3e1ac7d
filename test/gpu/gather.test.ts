// cuda.gather / cuda.embeddingBag against the CPU ops (themselves checked against float64
// references in test/gather.test.ts) on random shapes with odd tails, every index type,
// bounds form, mode, weights and padding. The GPU kernels use the CPU SIMD kernels'
// per-column operations in index order, so results match the CPU bit for bit (weighted bags
// within float32 rounding: the scalar CPU path does not fuse the multiply-add).
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceArray, DeviceTable, cuda, embeddingBag, gather, quantizeTable } from '../../lib/index';
import {
  BOUNDS_KINDS,
  INDEX_KINDS,
  MODES,
  Rng,
  bagOptions,
  describeCase,
  freshSeed,
  makeIndexArray,
  randomIndices,
  randomLengths,
  randomTable,
  randomWeights,
  type IndexArray,
} from '../reference';
import { LONG_BAG_CHUNK, gpuReady } from './setup';

const DIMS = [1, 3, 4, 7, 64, 128, 129, 130, 300];
const live: DeviceArray[] = [];
function dev<T extends Float32Array | IndexArray>(a: T): DeviceArray {
  const d = DeviceArray.fromHost(a);
  live.push(d);
  return d;
}
afterAll(() => live.forEach((d) => d.dispose()));

function firstDifference(got: Float32Array, want: Float32Array): number {
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) return i;
  return got.length === want.length ? -1 : want.length;
}

describe.skipIf(!gpuReady)('cuda DeviceArray', () => {
  it('round-trips every dtype, including empty arrays', async () => {
    const arrays = [
      Float32Array.from([1.5, -2, Number.NaN, Infinity]), Int32Array.from([-1, 2, 3]), Uint32Array.from([4294967295, 0]),
      BigInt64Array.from([-(2n ** 62n), 5n]), Uint16Array.from([65535, 1, 2]), Uint8Array.from([255, 0]), new Float32Array(0),
    ];
    for (const a of arrays) {
      const d = DeviceArray.fromHost(a);
      expect(d.length).toBe(a.length);
      expect(d.byteLength).toBe(a.byteLength);
      expect(await d.toHost()).toEqual(a);
      d.dispose();
      expect(d.disposed).toBe(true);
      d.dispose();  // a second dispose does nothing
      await expect(d.toHost()).rejects.toThrow(/disposed/);
    }
  });

  it('empty() is zero-filled, and copy() copies on the device', async () => {
    const src = dev(Float32Array.from([1, 2, 3]));
    const dst = DeviceArray.empty('float32', 3);
    expect(await dst.toHost()).toEqual(new Float32Array(3));
    cuda.copy(dst, src);
    expect(await dst.toHost()).toEqual(Float32Array.from([1, 2, 3]));
    dst.dispose();
  });

  it('set() writes a host array at an offset, and refuses overruns', async () => {
    const d = DeviceArray.empty('float32', 5);
    d.set(Float32Array.from([1, 2]), 3);
    expect(await d.toHost()).toEqual(Float32Array.from([0, 0, 0, 1, 2]));
    expect(() => d.set(Float32Array.from([1, 2]), 4)).toThrow(RangeError);
    expect(() => d.set(Int32Array.from([1]) as never, 0)).toThrow(TypeError);
    expect(await d.toHost()).toEqual(Float32Array.from([0, 0, 0, 1, 2]));
    d.dispose();
    const idx = DeviceArray.fromHost(Int32Array.from([0, 1]));
    idx.set(Int32Array.from([1]), 0);
    const table = dev(Float32Array.from([1, 2])) as DeviceArray<'float32'>;
    expect(() => cuda.gather({ table, dim: 1, indices: idx as never })).toThrow(/made by DeviceArray.fromHost/);
    idx.dispose();
  });

  it('rejects what it cannot hold', () => {
    expect(() => DeviceArray.fromHost(new Int16Array(2) as never)).toThrow(TypeError);
    expect(() => DeviceArray.empty('float16' as never, 2)).toThrow(TypeError);
    expect(() => DeviceArray.empty('float32', -1)).toThrow(RangeError);
    expect(() => DeviceArray.empty('float32', 2 ** 60)).toThrow(RangeError);
  });
});

describe.skipIf(!gpuReady)('cuda.gather', () => {
  it('equals the CPU gather for every dim and index type', async () => {
    for (const dim of DIMS) {
      for (const kind of INDEX_KINDS) {
        const seed = freshSeed();
        const rng = new Rng(seed);
        const rows = rng.int(1, 300);
        const table = randomTable(rng, rows, dim);
        const indices = makeIndexArray(kind, randomIndices(rng, rng.int(0, 500), rows));
        const want = gather({ table, dim, indices });
        const got = await cuda.gather({ table: dev(table) as DeviceArray<'float32'>, dim, indices: dev(indices) as DeviceArray<'int32'> }).toHost();
        expect(firstDifference(got, want), describeCase({ seed, dim, kind, rows })).toBe(-1);
      }
    }
  });

  it('writes into a given out, and refuses bad input without writing', async () => {
    const rng = new Rng(freshSeed());
    const table = dev(randomTable(rng, 10, 8)) as DeviceArray<'float32'>;
    const poison = new Float32Array(16).fill(7);
    const out = dev(poison) as DeviceArray<'float32'>;
    const bad = dev(Int32Array.from([3, 10])) as DeviceArray<'int32'>;
    expect(() => cuda.gather({ table, dim: 8, indices: bad, out })).toThrow(/indices\[1\] = 10 is out of range for a table of 10 rows/);
    const negative = dev(Int32Array.from([-1, 2])) as DeviceArray<'int32'>;
    expect(() => cuda.gather({ table, dim: 8, indices: negative, out })).toThrow(RangeError);
    expect(() => cuda.gather({ table, dim: 7, indices: bad, out })).toThrow(/not a multiple of dim/);
    expect(() => cuda.gather({ table, dim: 8, indices: dev(Int32Array.from([1])) as DeviceArray<'int32'>, out }))
      .toThrow(/out.length must be 8/);
    expect(() => cuda.gather({ table, dim: 8, indices: table as never, out })).toThrow(TypeError);
    expect(() => cuda.gather({ table: new Float32Array(8) as never, dim: 8, indices: bad, out })).toThrow(/table must be a DeviceArray/);
    expect(() => cuda.gather({ table, dim: Number.NaN, indices: bad, out })).toThrow(RangeError);
    const written = DeviceArray.empty('int32', 2);
    expect(() => cuda.gather({ table, dim: 8, indices: written as never, out })).toThrow(/made by DeviceArray.fromHost/);
    written.dispose();
    const gone = DeviceArray.fromHost(Int32Array.from([1, 2]));
    gone.dispose();
    expect(() => cuda.gather({ table, dim: 8, indices: gone as never, out })).toThrow(/disposed/);
    expect(await out.toHost()).toEqual(poison);
  });
});

describe.skipIf(!gpuReady)('cuda.embeddingBag', () => {
  it('equals the CPU embeddingBag in every mode, bounds form, index type, with weights and padding', async () => {
    for (const dim of DIMS) {
      for (const mode of MODES) {
        for (const bounds of BOUNDS_KINDS) {
          const seed = freshSeed();
          const rng = new Rng(seed);
          const kind = rng.pick(INDEX_KINDS);
          const rows = rng.int(1, 200);
          const lengths = randomLengths(rng, rng.int(0, 60), 40);
          const n = lengths.reduce((a, b) => a + b, 0);
          const table = randomTable(rng, rows, dim);
          const weights = mode !== 'max' && rng.bool() ? randomWeights(rng, n) : undefined;
          const paddingIdx = rng.bool() ? rng.int(-rows, rows - 1) : undefined;
          const o = bagOptions({ table, dim, mode, weights, paddingIdx }, randomIndices(rng, n, rows), lengths, bounds, kind);
          const want = embeddingBag(o);
          const got = await cuda.embeddingBag({
            table: dev(table) as DeviceArray<'float32'>, dim, mode, paddingIdx, includeLastOffset: o.includeLastOffset,
            indices: dev(o.indices) as DeviceArray<'int32'>,
            offsets: o.offsets && (dev(o.offsets) as DeviceArray<'int32'>),
            lengths: o.lengths && (dev(o.lengths) as DeviceArray<'int32'>),
            weights: weights && (dev(weights) as DeviceArray<'float32'>),
          }).toHost();
          const ctx = describeCase({ seed, dim, mode, bounds, kind, weighted: weights !== undefined, paddingIdx });
          if (weights === undefined) {
            expect(firstDifference(got, want), ctx).toBe(-1);
          } else {
            // Weighted terms are fused multiply-adds on the GPU and the SIMD paths, a rounded
            // product and a sum in the scalar path: equal to the CPU within float32 rounding.
            const bad = want.findIndex((w, i) => !(Math.abs(got[i] - w) <= 1e-5 * (Math.abs(w) + 1)));
            expect(bad, ctx).toBe(-1);
          }
          if (mode === 'max') {
            // returnArgmax: the first index holding each maximum, -1 for empty / padding-only bags.
            const cpu = embeddingBag({ ...o, returnArgmax: true });
            const gpu = cuda.embeddingBag({
              table: dev(table) as DeviceArray<'float32'>, dim, mode, paddingIdx, includeLastOffset: o.includeLastOffset,
              indices: dev(o.indices) as DeviceArray<'int32'>,
              offsets: o.offsets && (dev(o.offsets) as DeviceArray<'int32'>),
              lengths: o.lengths && (dev(o.lengths) as DeviceArray<'int32'>),
              returnArgmax: true,
            });
            live.push(gpu.out, gpu.argmax);
            expect(firstDifference(await gpu.out.toHost(), cpu.out), `${ctx}: out with argmax`).toBe(-1);
            expect(Array.from(await gpu.argmax.toHost()), `${ctx}: argmax`).toEqual(Array.from(cpu.argmax));
          }
        }
      }
    }
  });

  it('handles empty bags only and no bags', async () => {
    const rng = new Rng(freshSeed());
    const table = randomTable(rng, 1000, 129);
    const dTable = dev(table) as DeviceArray<'float32'>;
    for (const lengths of [[0, 0, 0], []]) {
      const o = bagOptions({ table, dim: 129, mode: 'sum' }, [], lengths, 'offsets', 'int32');
      const got = await cuda.embeddingBag({ table: dTable, dim: 129, mode: 'sum', indices: dev(o.indices) as never, offsets: dev(o.offsets!) as never }).toHost();
      expect(firstDifference(got, embeddingBag(o))).toBe(-1);
    }
  });

  it('pools long bags in chunks: max and argmax exact (NaN and padding at chunk starts), sum and mean within rounding', async () => {
    const C = LONG_BAG_CHUNK;
    for (const dim of [1, 3, 4, 129]) {
      for (const mode of MODES) {
        const seed = freshSeed();
        const rng = new Rng(seed);
        const rows = 300;
        const table = randomTable(rng, rows, dim);
        table[7 * dim] = Number.NaN;                             // row 7: NaN in column 0
        table.fill(Number.NaN, 8 * dim, 9 * dim);                // row 8: NaN everywhere
        const padding = 5;
        const lengths = [0, 3, C + 1, 5000, C, 2 * C + 7, 1, ...Array.from({ length: 6 }, () => rng.int(C + 1, 3 * C))];
        const starts = lengths.map((_, b) => lengths.slice(0, b).reduce((a, c) => a + c, 0));
        const ids = randomIndices(rng, lengths.reduce((a, b) => a + b, 0), rows).map((r) => (r === padding ? 6 : r));
        ids[starts[2]] = 7;                                      // a long bag whose first entry holds a NaN
        ids[starts[3] + C] = 8;                                  // NaN at the start of a later chunk
        ids[starts[3] + 2 * C + 5] = 7;
        for (let i = 0; i < C + 3; i++) ids[starts[5] + i] = padding;  // padding through the first chunk...
        ids[starts[5] + C + 3] = 8;                              // ...then a NaN first entry
        for (const usePadding of [false, true]) {
          const weights = mode !== 'max' && rng.bool() ? randomWeights(rng, ids.length) : undefined;
          const kind = rng.pick(INDEX_KINDS);
          const bounds = rng.pick(BOUNDS_KINDS);
          const paddingIdx = usePadding ? padding : undefined;
          const o = bagOptions({ table, dim, mode, weights, paddingIdx }, ids, lengths, bounds, kind);
          const ctx = describeCase({ seed, dim, mode, bounds, kind, weighted: weights !== undefined, paddingIdx });
          const args = {
            table: dev(table) as DeviceArray<'float32'>, dim, mode, paddingIdx, includeLastOffset: o.includeLastOffset,
            indices: dev(o.indices) as DeviceArray<'int32'>,
            offsets: o.offsets && (dev(o.offsets) as DeviceArray<'int32'>),
            lengths: o.lengths && (dev(o.lengths) as DeviceArray<'int32'>),
            weights: weights && (dev(weights) as DeviceArray<'float32'>),
          };
          if (mode === 'max') {
            const cpu = embeddingBag({ ...o, returnArgmax: true });
            const gpu = cuda.embeddingBag({ ...args, returnArgmax: true });
            live.push(gpu.out, gpu.argmax);
            expect(firstDifference(await gpu.out.toHost(), cpu.out), ctx).toBe(-1);
            expect(Array.from(await gpu.argmax.toHost()), `${ctx}: argmax`).toEqual(Array.from(cpu.argmax));
            expect(firstDifference(await cuda.embeddingBag(args).toHost(), cpu.out), `${ctx}: without argmax`).toBe(-1);
          } else {
            // A chunked sum is the sum of chunk sums: the same value within float32 rounding
            // of a few thousand terms in [-0.5, 0.5) (NaN columns stay NaN).
            const got = await cuda.embeddingBag(args).toHost();
            const want = embeddingBag(o);
            const bad = want.findIndex((w, i) => !(Object.is(got[i], w) || Math.abs(got[i] - w) <= 1e-4 * (Math.abs(w) + 1)));
            expect(bad, ctx).toBe(-1);
          }
        }
      }
    }
  });

  it('refuses bad boundaries, weights and padding without writing', async () => {
    const rng = new Rng(freshSeed());
    const table = dev(randomTable(rng, 10, 4)) as DeviceArray<'float32'>;
    const indices = dev(Int32Array.from([1, 2, 3, 4])) as DeviceArray<'int32'>;
    const poison = new Float32Array(8).fill(-3);
    const out = dev(poison) as DeviceArray<'float32'>;
    const base = { table, dim: 4, indices, mode: 'sum' as const, out };
    const off = (v: number[]) => dev(Int32Array.from(v)) as DeviceArray<'int32'>;
    expect(() => cuda.embeddingBag({ ...base, offsets: off([1, 2]) })).toThrow(/first bag must start at 0/);
    expect(() => cuda.embeddingBag({ ...base, offsets: off([0, 5]) })).toThrow(/past the end of indices/);
    expect(() => cuda.embeddingBag({ ...base, offsets: off([0, 3, 2]), includeLastOffset: true })).toThrow(/must not decrease/);
    expect(() => cuda.embeddingBag({ ...base, offsets: off([0, 2, 3]), includeLastOffset: true })).toThrow(/must equal indices.length/);
    expect(() => cuda.embeddingBag({ ...base, lengths: off([3, -1]) })).toThrow(/cannot be negative/);
    expect(() => cuda.embeddingBag({ ...base, lengths: off([3, 2]) })).toThrow(/must add up to indices.length 4/);
    expect(() => cuda.embeddingBag({ ...base, offsets: off([0, 2]), lengths: off([2, 2]) })).toThrow(/exactly one of/);
    expect(() => cuda.embeddingBag({ ...base, offsets: off([0, 2]), mode: 'max', weights: dev(new Float32Array(4)) as never }))
      .toThrow(/not 'max'/);
    expect(() => cuda.embeddingBag({ ...base, offsets: off([0, 2]), weights: dev(new Float32Array(3)) as never }))
      .toThrow(/weights.length must equal/);
    expect(() => cuda.embeddingBag({ ...base, offsets: off([0, 2]), paddingIdx: 10 })).toThrow(RangeError);
    expect(() => cuda.embeddingBag({ ...base, offsets: off([0, 2]), mode: 'median' as never })).toThrow(TypeError);
    expect(() => cuda.embeddingBag({ ...base, offsets: off([0]) })).toThrow(/out.length must be 4/);
    expect(await out.toHost()).toEqual(poison);
  });
});

describe.skipIf(!gpuReady)('cuda table formats', () => {
  it('gather and embeddingBag read f16, bf16, q8 and q4 tables as the CPU does', async () => {
    for (const format of ['f16', 'bf16', 'q8', 'q4'] as const) {
      for (const dim of [1, 7, 64, 129]) {
        const seed = freshSeed();
        const rng = new Rng(seed);
        const rows = rng.int(1, 200);
        const stored = quantizeTable({ table: randomTable(rng, rows, dim), dim, format });
        const dt = DeviceTable.fromHost(stored as never);
        live.push(dt.data);
        const indices = makeIndexArray('int32', randomIndices(rng, rng.int(0, 300), rows));
        const ctx = describeCase({ seed, format, dim, rows });
        const wantGather = gather({ table: stored, indices } as never);
        const di = dev(indices) as DeviceArray<'int32'>;
        expect(firstDifference(await cuda.gather({ table: dt, indices: di }).toHost(), wantGather), ctx).toBe(-1);
        for (const mode of MODES) {
          const lengths = randomLengths(rng, rng.int(0, 20), 12);
          const n = lengths.reduce((a, b) => a + b, 0);
          const o = bagOptions({ table: new Float32Array(0), dim, mode }, randomIndices(rng, n, rows), lengths, 'offsets', 'int32');
          const want = embeddingBag({ table: stored, indices: o.indices, offsets: o.offsets, mode } as Parameters<typeof gather>[0] & { offsets?: Int32Array; mode: typeof mode });
          const got = await cuda.embeddingBag({ table: dt, indices: dev(o.indices) as never, offsets: dev(o.offsets!) as never, mode }).toHost();
          expect(firstDifference(got, want), `${ctx} mode=${mode}`).toBe(-1);
        }
        dt.scales?.dispose();
        dt.biases?.dispose();
      }
    }
  });
});
