// cuda.fwht and the GPU projections against the CPU ops (checked against float64 and FFHT in
// test/jl.test.ts): the same butterflies in the same level order, and the same random parts
// (test/jl-parts.test.ts), so every n from 2^0 to 2^21 (one-block rows up to 2^15, strided
// passes beyond) and every projection must match bit for bit.
import { describe, expect, it } from 'vitest';
import { DeviceArray, cuda, fjlt, fwht, sparseProjection, srht } from '../../lib/index';
import { Rng, describeCase, freshSeed } from '../reference';
import { gpuReady } from './setup';

function firstDifference(got: Float32Array, want: Float32Array): number {
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) return i;
  return got.length === want.length ? -1 : want.length;
}

describe.skipIf(!gpuReady)('cuda.fwht', () => {
  it('equals the CPU fwht for every n from 1 to 2^21', async () => {
    for (let log2n = 0; log2n <= 21; log2n++) {
      const seed = freshSeed();
      const rng = new Rng(seed);
      const n = 2 ** log2n;
      const rows = log2n > 16 ? rng.int(1, 2) : rng.int(1, Math.max(1, Math.min(300, 2 ** 18 / n)));
      const x = Float32Array.from({ length: rows * n }, () => rng.float() * 2 - 1);
      const normalize = rng.bool();
      const want = fwht({ x: x.slice(), n, normalize });
      const d = DeviceArray.fromHost(x);
      cuda.fwht({ x: d, n, normalize });
      expect(firstDifference(await d.toHost(), want), describeCase({ seed, log2n, rows, normalize })).toBe(-1);
      d.dispose();
    }
  });

  it('refuses bad input without writing', async () => {
    const x0 = Float32Array.from({ length: 24 }, (_, i) => i);
    const x = DeviceArray.fromHost(x0);
    expect(() => cuda.fwht({ x, n: 3 })).toThrow(/power of two/);
    expect(() => cuda.fwht({ x, n: 16 })).toThrow(/not a multiple of n/);
    expect(() => cuda.fwht({ x, n: 0 })).toThrow(RangeError);
    expect(() => cuda.fwht({ x, n: Number.NaN })).toThrow(RangeError);
    expect(() => cuda.fwht({ x, n: 8, normalize: 1 as never })).toThrow(TypeError);
    expect(() => cuda.fwht({ x: x0 as never, n: 8 })).toThrow(/x must be a DeviceArray/);
    expect(() => cuda.fwht({ x: DeviceArray.fromHost(Int32Array.of(1, 2)) as never, n: 2 })).toThrow(/float32/);
    expect(await x.toHost()).toEqual(x0);
    x.dispose();
  });
});

describe.skipIf(!gpuReady)('cuda projections', () => {
  it('srht, fjlt and sparseProjection equal the CPU ops for the same seed', async () => {
    for (const d of [1, 3, 100, 768, 1024, 5000, 40_000]) {
      const seed = freshSeed();
      const rng = new Rng(seed);
      const rows = d > 10_000 ? 2 : rng.int(1, 50);
      const n = 2 ** Math.ceil(Math.log2(d));
      const k = rng.int(1, Math.min(n, 300));
      const x = Float32Array.from({ length: rows * d }, () => rng.float() * 2 - 1);
      const dx = DeviceArray.fromHost(x);
      const ctx = describeCase({ seed, d, k, rows });
      const o = { inDim: d, outDim: k, seed: BigInt(seed) };
      for (const [name, cpu, gpu] of [
        ['srht', srht, cuda.srht], ['fjlt', fjlt, cuda.fjlt], ['sparseProjection', sparseProjection, cuda.sparseProjection],
      ] as const) {
        const want = cpu({ ...o, x });
        const out = gpu({ ...o, x: dx });
        expect(firstDifference(await out.toHost(), want), `${name} ${ctx}`).toBe(-1);
        out.dispose();
      }
      dx.dispose();
    }
  });

  it('refuses bad input without writing', async () => {
    const x = DeviceArray.fromHost(new Float32Array(20).fill(1));
    const poison = new Float32Array(8).fill(3);
    const out = DeviceArray.fromHost(poison);
    expect(() => cuda.srht({ x, inDim: 10, outDim: 17, seed: 1, out })).toThrow(RangeError);
    expect(() => cuda.srht({ x, inDim: 3, outDim: 4, seed: 1, out })).toThrow(/not a multiple of inDim/);
    expect(() => cuda.srht({ x, inDim: 10, outDim: 3, seed: 1, out })).toThrow(/out.length must be 6/);
    expect(() => cuda.fjlt({ x, inDim: 10, outDim: 4, seed: 1, density: 0, out })).toThrow(RangeError);
    expect(() => cuda.sparseProjection({ x, inDim: 10, outDim: 4, seed: 'a' as never, out })).toThrow(TypeError);
    expect(() => cuda.sparseProjection({ x: new Float32Array(20) as never, inDim: 10, outDim: 4, seed: 1, out })).toThrow(/x must be a DeviceArray/);
    expect(await out.toHost()).toEqual(poison);
    x.dispose();
    out.dispose();
  });
});
