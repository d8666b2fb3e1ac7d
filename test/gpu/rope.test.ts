// cuda.rope / cuda.ropeRerotate against the CPU ops (themselves checked against float64
// references in test/rope.test.ts): the GPU computes each token's tables with the CPU's
// float64 method and rotates with the CPU's float32 operations, so outputs must match bit
// for bit, for every layout, partial rotary, positions or offset, scaling, inverse, GQA
// head counts, in place or into out / outK. Positions stay below 2^25, where every angle is
// within the shared fast reduction (|theta| < 6e7); beyond it the CPU calls libm and the GPU
// CUDA's sincos, which may differ in the last bit.
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceArray, cuda, rope, ropeFrequencies, ropeRerotate, type RopeScaling } from '../../lib/index';
import { INDEX_KINDS, Rng, describeCase, freshSeed, makeIndexArray, type IndexArray } from '../reference';
import { gpuReady } from './setup';

const live: DeviceArray[] = [];
function dev<T extends Float32Array | IndexArray>(a: T): DeviceArray<never> {
  const d = DeviceArray.fromHost(a);
  live.push(d);
  return d as DeviceArray<never>;
}
afterAll(() => live.forEach((d) => d.dispose()));

function random(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.float() * 4 - 2);
}

function firstDifference(got: Float32Array, want: Float32Array): number {
  for (let i = 0; i < want.length; i++) if (!Object.is(got[i], want[i])) return i;
  return got.length === want.length ? -1 : want.length;
}

const SCALINGS: Array<RopeScaling | undefined> = [
  undefined,
  { type: 'linear', factor: 4 },
  { type: 'dynamic', factor: 2, originalMaxPosition: 2048, seqLen: 5000 },
  { type: 'yarn', factor: 8, originalMaxPosition: 4096 },
  { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 8192 },
];

describe.skipIf(!gpuReady)('cuda.rope', () => {
  it('equals the CPU rope for every layout, rotary width, positions form, scaling and inverse', async () => {
    for (const layout of ['neox', 'gptj'] as const) {
      for (const headDim of [2, 6, 64, 96, 128, 130]) {
        for (const scaling of SCALINGS) {
          const seed = freshSeed();
          const rng = new Rng(seed);
          const rotaryDim = rng.bool() ? headDim : 2 * rng.int(1, headDim / 2);
          if (scaling?.type === 'dynamic' && rotaryDim === 2) continue;  // d / (d - 2) is undefined (the CPU refuses it too)
          const tokens = rng.int(0, 40);
          const numHeads = rng.int(1, 6);
          const numKvHeads = rng.bool() ? rng.int(1, 3) : undefined;
          const q = random(rng, tokens * numHeads * headDim);
          const k = rng.bool(0.7) ? random(rng, tokens * (numKvHeads ?? numHeads) * headDim) : undefined;
          const usePositions = rng.bool();
          const positionValues = Array.from({ length: tokens }, () => rng.int(0, rng.bool(0.2) ? 2 ** 25 : 50_000));
          const kind = rng.pick(INDEX_KINDS);
          const positions = usePositions ? makeIndexArray(kind, positionValues) : undefined;
          const offset = usePositions ? undefined : rng.int(0, 100_000);
          const inverse = rng.bool(0.3);
          const intoOut = rng.bool();
          const common = { numHeads, numKvHeads, headDim, rotaryDim, layout, offset, base: 1e4, scaling, inverse };
          const wantQ = q.slice();
          const wantK = k?.slice();
          rope({ ...common, q: wantQ, k: wantK, positions });
          const dq = dev(q);
          const dk = k && dev(k);
          const out = intoOut ? (DeviceArray.empty('float32', q.length) as DeviceArray<'float32'>) : undefined;
          const outK = intoOut && k ? (DeviceArray.empty('float32', k.length) as DeviceArray<'float32'>) : undefined;
          const r = cuda.rope({ ...common, q: dq, k: dk, positions: positions && dev(positions), out, outK });
          const ctx = describeCase({ seed, layout, headDim, rotaryDim, tokens, numHeads, numKvHeads, scaling: scaling?.type, inverse, intoOut, kind });
          expect(firstDifference(await r.q.toHost(), wantQ), ctx).toBe(-1);
          if (k) expect(firstDifference(await r.k!.toHost(), wantK!), ctx).toBe(-1);
          if (intoOut) {
            expect(await dq.toHost(), `${ctx}: q must be only read`).toEqual(q);
            out!.dispose();
            outK?.dispose();
          }
        }
      }
    }
  });

  it('refuses bad input without writing', async () => {
    const rng = new Rng(freshSeed());
    const q0 = random(rng, 4 * 2 * 8);
    const q = dev(q0) as DeviceArray<'float32'>;
    const base = { q, numHeads: 2, headDim: 8, layout: 'neox' as const, base: 1e4 };
    expect(() => cuda.rope({ ...base, cache: {} } as never)).toThrow(TypeError);
    expect(() => cuda.rope({ ...base, rotaryDim: 3 })).toThrow(RangeError);
    expect(() => cuda.rope({ ...base, headDim: 7 })).toThrow(RangeError);
    expect(() => cuda.rope({ ...base, positions: dev(Int32Array.of(0, 1, 2)) as never })).toThrow(/positions.length must equal/);
    expect(() => cuda.rope({ ...base, positions: dev(Int32Array.of(0, 1, -2, 3)) as never })).toThrow(/positions\[2\] = -2 is out of range/);
    expect(() => cuda.rope({ ...base, positions: dev(Int32Array.of(0, 1, 2, 3)) as never, offset: 3 })).toThrow(TypeError);
    expect(() => cuda.rope({ ...base, k: dev(new Float32Array(5)) as never })).toThrow(/k.length must be/);
    expect(() => cuda.rope({ ...base, outK: dev(new Float32Array(64)) as never })).toThrow(/outK was given without k/);
    expect(() => cuda.rope({ ...base, out: dev(new Float32Array(63)) as never })).toThrow(/out.length must equal/);
    expect(() => cuda.rope({ ...base, k: q })).toThrow(/share memory/);
    expect(() => cuda.rope({ ...base, base: Number.NaN })).toThrow(RangeError);
    expect(() => cuda.rope({ ...base, q: q0 as never })).toThrow(/q must be a DeviceArray/);
    expect(() => cuda.rope({ ...base, headDim: 16384, numHeads: 1 })).toThrow(RangeError);
    expect(await q.toHost()).toEqual(q0);
  });
});

describe.skipIf(!gpuReady)('cuda.ropeRerotate', () => {
  it('equals the CPU ropeRerotate with one frequency set and with two', async () => {
    for (const layout of ['neox', 'gptj'] as const) {
      for (const twoSets of [false, true]) {
        const seed = freshSeed();
        const rng = new Rng(seed);
        const headDim = rng.pick([8, 64, 128, 66]);
        const tokens = rng.int(1, 30);
        const numKvHeads = rng.int(1, 4);
        const k = random(rng, tokens * numKvHeads * headDim);
        const from = makeIndexArray('int32', Array.from({ length: tokens }, () => rng.int(0, 5000)));
        const toOffset = rng.int(0, 5000);
        const freqs = twoSets
          ? { fromFrequencies: ropeFrequencies({ rotaryDim: headDim, base: 1e4 }),
              toFrequencies: ropeFrequencies({ rotaryDim: headDim, base: 1e4, scaling: { type: 'yarn', factor: 4, originalMaxPosition: 2048 } }) }
          : { base: 5e5 };
        const want = k.slice();
        ropeRerotate({ k: want, numKvHeads, headDim, layout, fromPositions: from, toOffset, ...freqs });
        const dk = dev(k) as DeviceArray<'float32'>;
        const got = await cuda.ropeRerotate({ k: dk, numKvHeads, headDim, layout, fromPositions: dev(from) as never, toOffset, ...freqs }).toHost();
        expect(firstDifference(got, want), describeCase({ seed, layout, twoSets, headDim, tokens })).toBe(-1);
      }
    }
  });
});
