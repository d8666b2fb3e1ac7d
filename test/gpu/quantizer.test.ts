// cuda.codebookAssign, the GPU product quantizer and cuda.vqTopK against the CPU ops (each
// checked against brute-force float64 references in test/codebook.test.ts). The GPU scores
// codes with the CPU SIMD kernels' float32 operations, so codes, distances, tables and scan
// results must be equal bit for bit, ties and NaN included; vqTopK's ids equal too, its
// log-probabilities within float64 rounding of log Z.
import { afterAll, describe, expect, it } from 'vitest';
import {
  DeviceArray, DeviceVqMap, VqMap, capabilities, codebookAssign, cuda, pqDecode, pqDistanceTable, pqEncode, pqScan,
  pqTrain, vqTopK,
} from '../../lib/index';
import { Rng, describeCase, freshSeed } from '../reference';
import { gpuReady } from './setup';

const live: Array<{ dispose(): void }> = [];
afterAll(() => live.forEach((d) => d.dispose()));
function keep<T extends { dispose(): void }>(d: T): T {
  live.push(d);
  return d;
}
function dev<T extends Float32Array | Int32Array | Uint8Array>(a: T): DeviceArray<never> {
  return keep(DeviceArray.fromHost(a)) as DeviceArray<never>;
}

function firstDifference(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Math.min(got.length, want.length);
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) return i;
  return -1;
}

// Values on a coarse grid: many exact ties between codes.
function gridValues(rng: Rng, n: number, coarse: boolean): Float32Array {
  return Float32Array.from({ length: n }, () => (coarse ? rng.int(-2, 2) / 2 : rng.float() * 2 - 1));
}

describe.skipIf(!gpuReady)('cuda.codebookAssign', () => {
  it('the CPU SIMD path\'s codes and distances, ties and odd shapes included', async () => {
    expect(capabilities().isa, 'the CPU reference must be a SIMD path (fma scores)').not.toBe('scalar');
    for (const metric of ['l2', 'ip'] as const) {
      for (const dim of [1, 7, 16, 33, 128]) {
        const seed = freshSeed();
        const rng = new Rng(seed);
        const rows = rng.int(0, 300);
        const numCodes = rng.int(1, 200);
        const coarse = rng.bool();
        const x = gridValues(rng, rows * dim, coarse);
        const codebook = gridValues(rng, numCodes * dim, coarse);
        const want = codebookAssign({ x, dim, codebook, numCodes, metric });
        const got = cuda.codebookAssign({ x: dev(x), dim, codebook: dev(codebook), numCodes, metric });
        keep(got.codes);
        keep(got.distances);
        const ctx = describeCase({ seed, metric, dim, rows, numCodes, coarse });
        expect(firstDifference(await got.codes.toHost(), want.codes), ctx).toBe(-1);
        expect(firstDifference(await got.distances.toHost(), want.distances), ctx).toBe(-1);
      }
    }
  });

  it('a NaN row picks code 0, as the CPU scan does', async () => {
    const x = Float32Array.of(Number.NaN, 1, 2, 3);
    const codebook = Float32Array.of(0, 0, 1, 1, 2, 2);
    const want = codebookAssign({ x, dim: 2, codebook, numCodes: 3 });
    const got = cuda.codebookAssign({ x: dev(x), dim: 2, codebook: dev(codebook), numCodes: 3 });
    expect(Array.from(await keep(got.codes).toHost())).toEqual(Array.from(want.codes));
    expect(firstDifference(await keep(got.distances).toHost(), want.distances)).toBe(-1);
  });

  it('refuses bad input without writing', async () => {
    const x = dev(new Float32Array(6)) as DeviceArray<'float32'>;
    expect(() => cuda.codebookAssign({ x, dim: 4, codebook: dev(new Float32Array(8)), numCodes: 2 })).toThrow(/not a multiple of dim/);
    expect(() => cuda.codebookAssign({ x, dim: 3, codebook: dev(new Float32Array(8)), numCodes: 2 })).toThrow(/codebook.length/);
    expect(() => cuda.codebookAssign({ x, dim: 3, codebook: dev(new Float32Array(6)), numCodes: 0 })).toThrow(RangeError);
    expect(() => cuda.codebookAssign({ x, dim: 3, codebook: dev(new Float32Array(6)), numCodes: 2, metric: 'cos' as never })).toThrow(TypeError);
    expect(() => cuda.codebookAssign({ x: new Float32Array(6) as never, dim: 3, codebook: dev(new Float32Array(6)), numCodes: 2 })).toThrow(TypeError);
  });
});

describe.skipIf(!gpuReady)('cuda product quantizer', () => {
  it('encode, decode, tables and scan equal the CPU\'s, for every bit width', async () => {
    for (const bits of [1, 2, 4, 8]) {
      const seed = freshSeed();
      const rng = new Rng(seed);
      const m = rng.pick([1, 2, 4]);
      const dim = m * rng.pick([1, 3, 8]);
      const n = rng.int(2 ** bits, 2 ** bits + 400);
      const coarse = bits <= 2;
      const x = gridValues(rng, n * dim, coarse);
      const pq = pqTrain({ x, dim, m, bits, iterations: 3, seed });
      const dpq = { dim, m, bits, codebooks: dev(pq.codebooks) as DeviceArray<'float32'> };
      const ctx = describeCase({ seed, bits, m, dim, n });
      const codes = pqEncode({ x, pq });
      const dcodes = keep(cuda.pqEncode({ x: dev(x), pq: dpq }));
      expect(firstDifference(await dcodes.toHost(), codes), `${ctx}: encode`).toBe(-1);
      expect(firstDifference(await keep(cuda.pqDecode({ codes: dcodes, pq: dpq })).toHost(), pqDecode({ codes, pq })), `${ctx}: decode`).toBe(-1);
      const nq = rng.int(1, 20);
      const queries = gridValues(rng, nq * dim, coarse);
      for (const metric of ['l2', 'ip'] as const) {
        const tables = pqDistanceTable({ queries, pq, metric });
        const dtables = keep(cuda.pqDistanceTable({ queries: dev(queries), pq: dpq, metric }));
        expect(firstDifference(await dtables.toHost(), tables), `${ctx} ${metric}: tables`).toBe(-1);
        // Into a given (poisoned) out: the same tables, and out is what comes back.
        const out = dev(new Float32Array(tables.length).fill(Number.NaN)) as DeviceArray<'float32'>;
        expect(cuda.pqDistanceTable({ queries: dev(queries), pq: dpq, metric, out })).toBe(out);
        expect(firstDifference(await out.toHost(), tables), `${ctx} ${metric}: tables into out`).toBe(-1);
        const k = rng.int(1, n);
        const want = pqScan({ tables, codes, pq, k, metric });
        // Codes copied from the host are checked against 2^bits; the encoder's own output too.
        for (const c of [dcodes, dev(codes) as DeviceArray<'uint8'>]) {
          const got = cuda.pqScan({ tables: dtables, codes: c, pq: dpq, k, metric });
          expect(firstDifference(await keep(got.ids).toHost(), want.ids), `${ctx} ${metric} k=${k}: ids`).toBe(-1);
          expect(firstDifference(await keep(got.distances).toHost(), want.distances), `${ctx} ${metric}: distances`).toBe(-1);
        }
        const viaQueries = cuda.pqScan({ queries: dev(queries), codes: dcodes, pq: dpq, k, metric });
        expect(firstDifference(await keep(viaQueries.ids).toHost(), want.ids), `${ctx} ${metric}: from queries`).toBe(-1);
        keep(viaQueries.distances);
      }
    }
  });

  it('refuses bad codes and shapes without writing', async () => {
    const pq = { dim: 4, m: 2, bits: 2, codebooks: dev(new Float32Array(16)) as DeviceArray<'float32'> };
    const out = dev(new Float32Array(8).fill(5)) as DeviceArray<'float32'>;
    expect(() => cuda.pqDecode({ codes: dev(Uint8Array.of(0, 1, 3, 4)), pq, out })).toThrow(/codes\[3\] = 4 is out of range/);
    expect(() => cuda.pqDecode({ codes: keep(DeviceArray.empty('uint8', 4)), pq, out })).toThrow(TypeError);
    expect(() => cuda.pqDecode({ codes: dev(Uint8Array.of(0, 1, 3)), pq, out })).toThrow(/not a multiple of m/);
    expect(() => cuda.pqDecode({ codes: dev(Uint8Array.of(0, 1, 2, 3)), pq: { ...pq, m: 3 }, out })).toThrow(/not divisible/);
    expect(() => cuda.pqDecode({ codes: dev(Uint8Array.of(0, 1, 2, 3)), pq: { ...pq, bits: 9 }, out })).toThrow(RangeError);
    expect(() => cuda.pqDecode({ codes: dev(Uint8Array.of(0, 1, 2, 3)), pq: { ...pq, codebooks: dev(new Float32Array(15)) }, out })).toThrow(/codebooks.length/);
    // pqDistanceTable's out: 1 query x m 2 x 4 codes = 8 floats; one short, or the queries.
    const queries = dev(new Float32Array(4)) as DeviceArray<'float32'>;
    const short = dev(new Float32Array(7).fill(5)) as DeviceArray<'float32'>;
    expect(() => cuda.pqDistanceTable({ queries, pq, out: short })).toThrow(RangeError);
    expect(() => cuda.pqDistanceTable({ queries, pq, out: dev(new Int32Array(8)) as never })).toThrow(TypeError);
    expect(await short.toHost()).toEqual(new Float32Array(7).fill(5));
    // Nor the queries themselves (dim 8 = m 2 x 4 codes makes the lengths agree).
    const pq8 = { dim: 8, m: 2, bits: 2, codebooks: dev(new Float32Array(32)) as DeviceArray<'float32'> };
    const q8 = dev(new Float32Array(8).fill(5)) as DeviceArray<'float32'>;
    expect(() => cuda.pqDistanceTable({ queries: q8, pq: pq8, out: q8 })).toThrow(/queries/);
    expect(await q8.toHost()).toEqual(new Float32Array(8).fill(5));
    expect(await out.toHost()).toEqual(new Float32Array(8).fill(5));
    const tables = dev(new Float32Array(8)) as DeviceArray<'float32'>;
    const codes = dev(Uint8Array.of(0, 1, 2, 3)) as DeviceArray<'uint8'>;
    expect(() => cuda.pqScan({ tables, codes, pq, k: 3 })).toThrow(/k must be/);
    expect(() => cuda.pqScan({ tables, queries: tables, codes, pq, k: 1 })).toThrow(/exactly one/);
    expect(() => cuda.pqEncode({ x: dev(new Float32Array(6)), pq })).toThrow(/not a multiple of dim/);
  });
});

describe.skipIf(!gpuReady)('cuda.vqTopK', () => {
  it('the CPU\'s tokens, ties and NaN included', async () => {
    for (let trial = 0; trial < 6; trial++) {
      const seed = freshSeed();
      const rng = new Rng(seed);
      const numCodes = rng.int(1, 300);
      const numTokens = rng.int(1, 5000);
      const tokenToCode = Int32Array.from({ length: numTokens }, () => rng.int(0, numCodes - 1));
      const rows = rng.int(1, 30);
      // Coarse logits: long runs of tied codes whose tokens interleave by id.
      const codeLogits = Float32Array.from({ length: rows * numCodes }, () =>
        (rng.bool(0.02) ? Number.NaN : rng.bool(0.05) ? -Infinity : rng.int(-3, 3) / 2));
      const map = new VqMap({ tokenToCode, numCodes });
      const k = rng.int(1, numTokens);
      const want = vqTopK({ codeLogits, map, k });
      const got = cuda.vqTopK({ codeLogits: dev(codeLogits) as DeviceArray<'float32'>, map: keep(DeviceVqMap.fromHost(map)), k });
      const ctx = describeCase({ seed, numCodes, numTokens, rows, k });
      expect(firstDifference(await keep(got.ids).toHost(), want.ids), ctx).toBe(-1);
      const lp = await keep(got.logProbs).toHost();
      const bad = want.logProbs.findIndex((w, i) => !(Object.is(lp[i], w) || Math.abs(lp[i] - w) <= 1e-6 * (Math.abs(w) + 1)));
      expect(bad, ctx).toBe(-1);
    }
  });

  it('refuses k out of range without writing', () => {
    const map = keep(DeviceVqMap.fromHost(new VqMap({ tokenToCode: Int32Array.of(0, 1, 1), numCodes: 2 })));
    const codeLogits = dev(Float32Array.of(1, 2)) as DeviceArray<'float32'>;
    expect(() => cuda.vqTopK({ codeLogits, map, k: 4 })).toThrow(RangeError);
    expect(() => cuda.vqTopK({ codeLogits, map, k: 0 })).toThrow(RangeError);
    expect(() => cuda.vqTopK({ codeLogits, map, k: Number.NaN })).toThrow(RangeError);
  });
});
