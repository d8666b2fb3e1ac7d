// embeddingBagWeightsBackward (the gradient with respect to embeddingBag's per-sample weights)
// against the float64 reference in test/scatter-reference.ts and against central differences
// of the float64 forward, on seeded random data (seed in every message; rerun with
// TEST_SEED=<seed>). Bounds: ||out - ref|| / ||ref|| < 1e-6 x cond (test/checks.ts), padding
// entries exactly 0; bitwise equality for 1, 2 and 3 threads, fresh vs given out, sync vs async.
import { afterAll, describe, expect, it } from 'vitest';
import {
  capabilities,
  embeddingBagWeightsBackward,
  embeddingBagWeightsBackwardAsync,
  getThreads,
  setIsa,
  setThreads,
} from '../lib/index';
import {
  BOUNDS_KINDS,
  INDEX_KINDS,
  Rng,
  bagOptions,
  centralDifference,
  describeCase,
  firstBitMismatch,
  firstNaN,
  freshSeed,
  manyBagsCase,
  poisoned,
  randomBagCase,
  randomTable,
  randomWeights,
  relErr,
  toNumbers,
  type BoundsKind,
  type IndexKind,
} from './reference';
import { expectSameBitsOnThreads, itOnEachIsa } from './checks';
import { cond, forward64, refWeightsBackward } from './scatter-reference';

const BOUND = 1e-6;
const DIMS = [1, 7, 16, 128, 129];
const initialThreads = getThreads();
const initialIsa = capabilities().isa;
afterAll(() => {
  setThreads(initialThreads);
  setIsa(initialIsa);
});

type WeightedMode = 'sum' | 'mean';
interface Variant {
  mode: WeightedMode;
  padding: boolean;
}
const VARIANTS: Variant[] = [];
for (const mode of ['sum', 'mean'] as const) for (const padding of [false, true]) VARIANTS.push({ mode, padding });

/** A random problem (test/reference.ts randomBagCase) without weights, typed for this op. */
function weightsCase(rng: Rng, dim: number, v: Variant, bounds: BoundsKind, kind: IndexKind, hub = 0) {
  const { o, rows, gradOutput } = randomBagCase(rng, dim, { ...v, weighted: false }, bounds, kind, hub);
  return { o: { ...o, mode: v.mode, gradOutput }, rows };
}

function expectReference(c: ReturnType<typeof weightsCase>, got: Float32Array, ctx: string): void {
  const { ref, abs } = refWeightsBackward(c.o, c.o.gradOutput, c.rows);
  expect(got.length, ctx).toBe(c.o.indices.length);
  expect(firstNaN(got), `${ctx}: every element written`).toBe(-1);
  expect(relErr(got, ref), `${ctx}: bound ${BOUND} x cond`).toBeLessThan(BOUND * cond(ref, abs));
  if (c.o.paddingIdx !== undefined) {
    const pad = c.o.paddingIdx < 0 ? c.o.paddingIdx + c.rows : c.o.paddingIdx;
    toNumbers(c.o.indices).forEach((r, p) => {
      if (r === pad) expect(got[p], `${ctx}: padding entry ${p}`).toBe(0);
    });
  }
}

describe.each(DIMS)('embeddingBagWeightsBackward dim %i', (dim) => {
  it.each(VARIANTS)('mode=$mode padding=$padding: matches the reference, into out and fresh', (v) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const bounds of BOUNDS_KINDS) {
      for (const kind of INDEX_KINDS) {
        const c = weightsCase(rng, dim, v, bounds, kind);
        const ctx = describeCase({ seed, dim, ...v, bounds, kind, rows: c.rows, paddingIdx: c.o.paddingIdx });
        const out = poisoned(c.o.indices.length);
        const got = embeddingBagWeightsBackward({ ...c.o, out });
        expect(got === out, `${ctx}: returns out`).toBe(true);
        expectReference(c, got, ctx);
        expect(firstBitMismatch(embeddingBagWeightsBackward(c.o), got), `${ctx}: fresh output = out`).toBe(-1);
      }
    }
  });
});

describe('embeddingBagWeightsBackward: finite differences, hubs, threads, async', () => {
  it.each(VARIANTS)('agrees with central differences of sum(g ⊙ embeddingBag) in the weights (mode=$mode padding=$padding)', (v) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 5;
    const c = weightsCase(rng, dim, v, 'offsets', 'int32');
    const got = embeddingBagWeightsBackward(c.o);
    // The forward in float64 with float64 weights: linear in each weight, so the central
    // difference is exact up to rounding.
    const w = Float64Array.from(randomWeights(rng, c.o.indices.length));
    const loss = () => forward64({ ...c.o, weights: w as unknown as Float32Array }, Float64Array.from(c.o.table), c.rows)
      .reduce((s, y, i) => s + y * c.o.gradOutput[i], 0);
    const h = 1e-3;
    for (let p = 0; p < w.length; p++) {
      const fd = centralDifference(w, p, h, loss);
      expect(Math.abs(got[p] - fd), `seed=${seed} ${JSON.stringify(v)} weight ${p}: ${got[p]} vs ${fd}`).toBeLessThan(1e-4 * (1 + Math.abs(fd)));
    }
  });

  it('a hub bag of 10,000 entries split over threads: reference, and the same bits on 1, 2 and 3 threads', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const v of VARIANTS) {
      const c = weightsCase(rng, 33, v, 'offsets', 'int64', 10_000);
      const ctx = `seed=${seed} ${JSON.stringify(v)}`;
      expectReference(c, expectSameBitsOnThreads(() => embeddingBagWeightsBackward(c.o), ctx), ctx);
    }
  });

  it('bitwise identical for 1, 2 and 3 threads on many bags', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const { dim, lengths, idx, table } = manyBagsCase(rng);
    const gradOutput = randomTable(rng, lengths.length, dim);
    for (const mode of ['sum', 'mean'] as const) {
      const o = { ...bagOptions({ table, dim, mode, paddingIdx: 7 }, idx, lengths, 'lengths', 'uint32'), mode, gradOutput };
      expectSameBitsOnThreads(() => embeddingBagWeightsBackward(o), `seed=${seed} ${mode}`);
    }
  });

  it('no bags, no indices, empty bags only', () => {
    const table = new Float32Array(12).fill(1);
    const none = embeddingBagWeightsBackward({ table, dim: 4, indices: new Int32Array(0), offsets: new Int32Array(0), gradOutput: new Float32Array(0), mode: 'sum' });
    expect(none.length).toBe(0);
    const empty = embeddingBagWeightsBackward({ table, dim: 4, indices: new Int32Array(0), offsets: Int32Array.of(0, 0), gradOutput: new Float32Array(8), mode: 'mean' });
    expect(empty.length).toBe(0);
    // Indices that no bag holds (no offsets at all) feed nothing.
    const orphan = embeddingBagWeightsBackward({ table, dim: 4, indices: Int32Array.of(1, 2), offsets: new Int32Array(0), gradOutput: new Float32Array(0), mode: 'sum' });
    expect(Array.from(orphan)).toEqual([0, 0]);
  });

  it('async form matches the sync one', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const c = weightsCase(rng, 17, { mode: 'mean', padding: true }, 'lengths', 'int64');
    const sync = embeddingBagWeightsBackward(c.o);
    expect(firstBitMismatch(await embeddingBagWeightsBackwardAsync(c.o), sync), `seed=${seed}`).toBe(-1);
    const out = poisoned(sync.length);
    expect(await embeddingBagWeightsBackwardAsync({ ...c.o, out })).toBe(out);
    expect(firstBitMismatch(out, sync), `seed=${seed} into out`).toBe(-1);
  });

  it('a fixed case by hand', () => {
    const table = Float32Array.of(1, 2, 3, 4, 5, 6); // rows [1,2] [3,4] [5,6]
    const gradOutput = Float32Array.of(1, 1, 2, -1);
    const o = { table, dim: 2, indices: Int32Array.of(0, 2, 1, 1), offsets: Int32Array.of(0, 3), gradOutput };
    // bag 0 = rows 0, 2, 1 with g = [1, 1]; bag 1 = row 1 with g = [2, -1].
    expect(Array.from(embeddingBagWeightsBackward({ ...o, mode: 'sum' }))).toEqual([3, 11, 7, 2]);
    // mean with row 2 as padding: bag 0 counts 2 entries.
    expect(Array.from(embeddingBagWeightsBackward({ ...o, mode: 'mean', paddingIdx: 2 }))).toEqual([1.5, 0, 3.5, 2]);
  });
});

itOnEachIsa('embeddingBagWeightsBackward', (isa) => {
  const seed = freshSeed();
  const rng = new Rng(seed);
  let calls = 0;
  for (const dim of [1, 3, 7, 8, 9, 16, 17, 33, 64, 65, 128, 129, 257]) {
    for (const v of VARIANTS) {
      const c = weightsCase(rng, dim, v, 'offsets', 'uint32', rng.bool(0.2) ? 3000 : 0);
      expectReference(c, embeddingBagWeightsBackward(c.o), `${isa} seed=${seed} dim=${dim} ${JSON.stringify(v)}`);
      if (c.o.indices.length > 0) calls++; // no indices: no kernel to run
    }
  }
  return calls;
});
