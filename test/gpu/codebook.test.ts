// The GPU VQ-Logits ops against the CPU ones (checked against explicit V-sized float64
// computations in test/codebook.test.ts): the expansion bit for bit, the O(K) reductions
// within float64 rounding (a parallel sum; outputs are float32), and vqSample's tokens equal
// for the same seed.
import { afterAll, describe, expect, it } from 'vitest';
import {
  DeviceArray, DeviceVqMap, VqMap, cuda, vqCrossEntropy, vqLogSoftmax, vqLogSumExp, vqLogits, vqSample,
} from '../../lib/index';
import { Rng, describeCase, freshSeed } from '../reference';
import { gpuReady } from './setup';

const live: Array<{ dispose(): void }> = [];
afterAll(() => live.forEach((d) => d.dispose()));
function keep<T extends { dispose(): void }>(d: T): T {
  live.push(d);
  return d;
}

function close(got: Float32Array, want: Float32Array): number {
  if (got.length !== want.length) return want.length;
  return want.findIndex((w, i) => !(Object.is(got[i], w) || Math.abs(got[i] - w) <= 1e-6 * (Math.abs(w) + 1)));
}

describe.skipIf(!gpuReady)('cuda VQ-Logits', () => {
  it('equals the CPU ops on random maps (empty codes, -inf logits)', async () => {
    for (let trial = 0; trial < 6; trial++) {
      const seed = freshSeed();
      const rng = new Rng(seed);
      const numCodes = rng.int(1, 300);
      const numTokens = rng.int(1, 5000);
      const tokenToCode = Int32Array.from({ length: numTokens }, () => rng.int(0, numCodes - 1));
      const rows = rng.int(1, 40);
      const codeLogits = Float32Array.from({ length: rows * numCodes }, () => (rng.bool(0.02) ? -Infinity : rng.float() * 8 - 4));
      const map = new VqMap({ tokenToCode, numCodes });
      const dmap = keep(DeviceVqMap.fromHost(map));
      const dl = keep(DeviceArray.fromHost(codeLogits));
      const ctx = describeCase({ seed, numCodes, numTokens, rows });
      const targets = Int32Array.from({ length: rows }, () => rng.int(0, numTokens - 1));
      expect(await keep(cuda.vqLogits({ codeLogits: dl, map: dmap })).toHost(), ctx).toEqual(vqLogits({ codeLogits, map }));
      expect(close(await keep(cuda.vqLogSumExp({ codeLogits: dl, map: dmap })).toHost(), vqLogSumExp({ codeLogits, map })), ctx).toBe(-1);
      expect(close(await keep(cuda.vqLogSoftmax({ codeLogits: dl, map: dmap })).toHost(), vqLogSoftmax({ codeLogits, map })), ctx).toBe(-1);
      const ce = vqCrossEntropy({ codeLogits, map, targets });
      const dce = cuda.vqCrossEntropy({ codeLogits: dl, map: dmap, targets: keep(DeviceArray.fromHost(targets)) as never });
      keep(dce.loss);
      keep(dce.grad);
      expect(close(await dce.loss.toHost(), ce.loss), ctx).toBe(-1);
      expect(close(await dce.grad.toHost(), ce.grad), ctx).toBe(-1);
      const s = BigInt(seed) * 3n;
      expect(await keep(cuda.vqSample({ codeLogits: dl, map: dmap, seed: s, temperature: 0.7 })).toHost(), ctx)
        .toEqual(vqSample({ codeLogits, map, seed: s, temperature: 0.7 }));
    }
  });

  it('expands every row shape: staged in shared memory or not, float4 or single stores', async () => {
    // Codes beyond what shared memory holds (12,288 floats), token counts with odd tails, a
    // span shorter than the row (not staged) and longer (staged), rows in several groups.
    for (const [numCodes, numTokens, rows] of [[20_000, 4001, 3], [20_000, 40_000, 2], [3000, 100_003, 17], [5, 7, 9], [4096, 4096, 1]]) {
      const seed = freshSeed();
      const rng = new Rng(seed);
      const tokenToCode = Int32Array.from({ length: numTokens }, () => rng.int(0, numCodes - 1));
      const codeLogits = Float32Array.from({ length: rows * numCodes }, () => rng.float() * 8 - 4);
      const map = new VqMap({ tokenToCode, numCodes });
      const got = keep(cuda.vqLogits({ codeLogits: keep(DeviceArray.fromHost(codeLogits)), map: keep(DeviceVqMap.fromHost(map)) }));
      expect(await got.toHost(), describeCase({ seed, numCodes, numTokens, rows })).toEqual(vqLogits({ codeLogits, map }));
    }
  });

  it('refuses bad input without writing', async () => {
    const map = keep(DeviceVqMap.fromHost(new VqMap({ tokenToCode: Int32Array.of(0, 1, 1), numCodes: 2 })));
    const codeLogits = keep(DeviceArray.fromHost(Float32Array.of(1, 2, 3, 4)));
    const out = keep(DeviceArray.fromHost(new Int32Array(2).fill(9)));
    expect(() => cuda.vqSample({ codeLogits, map, seed: -1, out })).toThrow(RangeError);
    expect(() => cuda.vqSample({ codeLogits, map, seed: 1, temperature: 0, out })).toThrow(RangeError);
    expect(() => cuda.vqCrossEntropy({ codeLogits, map, targets: keep(DeviceArray.fromHost(Int32Array.of(0, 3))) as never })).toThrow(/targets\[1\] = 3/);
    expect(() => cuda.vqLogits({ codeLogits: keep(DeviceArray.fromHost(new Float32Array(3))) as never, map })).toThrow(/not a multiple/);
    expect(() => cuda.vqLogSumExp({ codeLogits, map: {} as never })).toThrow(TypeError);
    expect(await out.toHost()).toEqual(new Int32Array(2).fill(9));
  });
});
