// scatterAdd, ScatterPlan, embeddingBagBackward and embeddingBag's returnArgmax against the
// float64 references in test/scatter-reference.ts, on seeded random data (seed in every
// message; rerun with TEST_SEED=<seed>).
// Bounds: ||out - ref|| / ||ref|| < 1e-6 x cond, cond = ||sum of magnitudes|| / ||ref|| (1
// when nothing cancels), as in test/checks.ts (1e-5 for a 10,000-term hub); argmax is exact; bitwise
// equality for 1, 2 and 3 threads and between plan and plain forms.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  ScatterPlan,
  allocFloat32,
  capabilities,
  embeddingBag,
  embeddingBagAsync,
  embeddingBagBackward,
  embeddingBagBackwardAsync,
  getThreads,
  scatterAdd,
  scatterAddAsync,
  scatterPlan,
  scatterPlanAsync,
  setIsa,
  setThreads,
} from '../lib/index';
import {
  BOUNDS_KINDS,
  INDEX_KINDS,
  MODES,
  Rng,
  bagOptions,
  bytesOf,
  centralDifference,
  describeCase,
  firstBitMismatch,
  firstNaN,
  freshSeed,
  manyBagsCase,
  makeIndexArray,
  poisoned,
  randomIndices,
  randomLengths,
  randomTable,
  randomBagCase,
  randomWeights,
  refEmbeddingBag,
  relErr,
  sameBytes,
  toNumbers,
  type BagProblem,
  type BagVariant,
  type IndexKind,
} from './reference';
import { expectSameBitsOnThreads, itOnEachIsa } from './checks';
import { cond, forward64, maxTieGap, refArgmax, refBagBackward, refScatterAdd } from './scatter-reference';

const BOUND = 1e-6;
const DIMS = [1, 7, 128, 129];
const initialThreads = getThreads();
const initialIsa = capabilities().isa;
afterAll(() => {
  setThreads(initialThreads);
  setIsa(initialIsa);
});

interface ScatterCase {
  dst: Float32Array;
  rows: number;
  dim: number;
  idx: number[];
  src: Float32Array;
  weights?: Float32Array;
  alpha?: number;
}

/** Random scatter: duplicates (every row hit about n / rows times), untouched rows, optional hub. */
function scatterCase(rng: Rng, dim: number, opts: { weighted?: boolean; alpha?: boolean; hub?: number } = {}): ScatterCase {
  const rows = rng.int(1, 50);
  const n = rng.int(0, 80);
  const idx = randomIndices(rng, n, rows).map((x) => (rng.bool(0.3) ? x % 3 : x));
  if (opts.hub) for (let i = 0; i < opts.hub; i++) idx.splice(rng.int(0, idx.length), 0, rows - 1);
  return {
    dst: randomTable(rng, rows, dim),
    rows,
    dim,
    idx,
    src: randomTable(rng, idx.length, dim),
    weights: opts.weighted ? randomWeights(rng, idx.length) : undefined,
    alpha: opts.alpha ? -0.5 + rng.float() * 3 : undefined,
  };
}

function expectScatter(c: ScatterCase, got: Float32Array, before: Float32Array, ctx: string) {
  const { ref, abs } = refScatterAdd(before, c.dim, c.idx, c.src, c.weights, c.alpha);
  expect(firstNaN(got), ctx).toBe(-1);
  const k = cond(ref, abs);
  expect(relErr(got, ref), `${ctx}: bound ${BOUND} x cond ${k.toPrecision(3)}`).toBeLessThan(BOUND * k);
  // Rows no index names keep their exact bits.
  const hit = new Set(c.idx);
  for (let r = 0; r < c.rows; r++) {
    if (hit.has(r)) continue;
    expect(firstBitMismatch(got.subarray(r * c.dim, (r + 1) * c.dim), before.subarray(r * c.dim, (r + 1) * c.dim)), `${ctx}: row ${r} untouched`).toBe(-1);
  }
}

describe.each(DIMS)('scatterAdd dim %i', (dim) => {
  it.each([
    { weighted: false, alpha: false },
    { weighted: true, alpha: false },
    { weighted: false, alpha: true },
    { weighted: true, alpha: true },
  ])('matches index_add_ (weighted=$weighted alpha=$alpha), every index type, indices and plan', ({ weighted, alpha }) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const kind of INDEX_KINDS) {
      for (const viaPlan of [false, true]) {
        const c = scatterCase(rng, dim, { weighted, alpha });
        const before = c.dst.slice();
        const srcBefore = bytesOf(c.src);
        const indices = makeIndexArray(kind, c.idx);
        const ctx = describeCase({ seed, dim, kind, viaPlan, rows: c.rows, n: c.idx.length });
        const plan = viaPlan ? scatterPlan({ indices, numRows: c.rows }) : undefined;
        const got = scatterAdd({ dst: c.dst, dim, indices: viaPlan ? undefined : indices, plan, src: c.src, weights: c.weights, alpha: c.alpha });
        expect(got === c.dst, `${ctx}: returns dst`).toBe(true);
        expectScatter(c, got, before, ctx);
        expect(sameBytes(bytesOf(c.src), srcBefore), `${ctx}: src untouched`).toBe(true);
      }
    }
  });

  it('a hub row receiving 10,000 contributions', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const c = scatterCase(rng, dim, { hub: 10_000, weighted: true });
    const before = c.dst.slice();
    const indices = Int32Array.from(c.idx);
    scatterAdd({ dst: c.dst, dim, indices, src: c.src, weights: c.weights });
    // 10,000 float32 additions: the error grows with the count, so the bound is 1e-5 x cond.
    const { ref, abs } = refScatterAdd(before, dim, c.idx, c.src, c.weights);
    expect(relErr(c.dst, ref), `seed=${seed}`).toBeLessThan(1e-5 * cond(ref, abs));
    // Through a plan the hub is one segment of 10,000 contributions, pooled: the same bits.
    const viaPlan = before.slice();
    scatterAdd({ dst: viaPlan, dim, plan: scatterPlan({ indices, numRows: c.rows }), src: c.src, weights: c.weights });
    expect(firstBitMismatch(viaPlan, c.dst), `seed=${seed}: plan = plain`).toBe(-1);
  });
});

describe('scatterAdd determinism and plans', () => {
  it('bitwise identical for 1, 2 and 3 threads, and between plan and plain forms', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    // 20 contributions per row (a plan is pooled), then about 1.1 (the row kernel in plan order).
    for (const [dim, rows, n] of [
      [7, 2000, 40_000],
      [128, 2000, 40_000],
      [7, 40_000, 4000],
      [129, 40_000, 4000],
    ]) {
      const idx = Int32Array.from(randomIndices(rng, n, rows).map((x) => (rng.bool(0.2) ? 5 : x)));
      const dst0 = randomTable(rng, rows, dim);
      const src = randomTable(rng, n, dim);
      const weights = randomWeights(rng, n);
      const results: Float32Array[] = [];
      for (const threads of [1, 2, 3]) {
        setThreads(threads);
        for (const usePlan of [false, true]) {
          const dst = dst0.slice();
          const plan = usePlan ? scatterPlan({ indices: idx, numRows: rows }) : undefined;
          scatterAdd({ dst, dim, indices: usePlan ? undefined : idx, plan, src, weights, alpha: 0.75 });
          results.push(dst);
        }
      }
      setThreads(initialThreads);
      for (let i = 1; i < results.length; i++) {
        expect(firstBitMismatch(results[i], results[0]), `seed=${seed} dim=${dim} run ${i} vs 1 thread plain`).toBe(-1);
      }
      const { ref, abs } = refScatterAdd(dst0, dim, idx, src, weights, 0.75);
      expect(relErr(results[0], ref), `seed=${seed}`).toBeLessThan(BOUND * cond(ref, abs));
    }
  });

  it('a plan is reused, keeps its own copy of the indices, and reports its rows', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 9;
    const rows = 30;
    const idxList = randomIndices(rng, 50, rows);
    const indices = Uint32Array.from(idxList);
    const plan = scatterPlan({ indices, numRows: rows });
    expect(plan).toBeInstanceOf(ScatterPlan);
    expect(plan.numRows).toBe(rows);
    expect(plan.length).toBe(50);
    const distinct = [...new Set(idxList)].sort((a, b) => a - b);
    expect(Array.from(plan.rows())).toEqual(distinct);
    expect(plan.uniqueRows).toBe(distinct.length);
    indices.fill(0); // the plan does not see this
    for (let call = 0; call < 3; call++) {
      const dst = randomTable(rng, rows, dim);
      const before = dst.slice();
      const src = randomTable(rng, 50, dim);
      scatterAdd({ dst, dim, plan, src });
      expectScatter({ dst, rows, dim, idx: idxList, src }, dst, before, `seed=${seed} call ${call}`);
    }
    const asyncPlan = await scatterPlanAsync({ indices: Int32Array.from(idxList), numRows: rows });
    expect(Array.from(asyncPlan.rows())).toEqual(distinct);
    const dst = randomTable(rng, rows, dim);
    const before = dst.slice();
    const src = randomTable(rng, 50, dim);
    const got = await scatterAddAsync({ dst, dim, plan: asyncPlan, src, alpha: 2 });
    expect(got).toBe(dst);
    expectScatter({ dst, rows, dim, idx: idxList, src, alpha: 2 }, dst, before, `seed=${seed} async`);
  });

  it('no indices, and an empty destination, are fine', () => {
    const dst = Float32Array.of(1, 2, 3, 4);
    scatterAdd({ dst, dim: 2, indices: new Int32Array(0), src: new Float32Array(0) });
    expect(Array.from(dst)).toEqual([1, 2, 3, 4]);
    expect(scatterAdd({ dst: new Float32Array(0), dim: 3, indices: new BigInt64Array(0), src: new Float32Array(0) }).length).toBe(0);
  });
});

// ---- embeddingBagBackward --------------------------------------------------------------

const BAG_VARIANTS: BagVariant[] = [];
for (const mode of MODES) {
  for (const weighted of mode === 'max' ? [false] : [false, true]) {
    for (const padding of [false, true]) BAG_VARIANTS.push({ mode, weighted, padding });
  }
}

function maxIndicesOf(o: BagProblem): Int32Array {
  return embeddingBag({ ...o, mode: 'max', returnArgmax: true }).argmax;
}

describe.each(DIMS)('embeddingBagBackward dim %i', (dim) => {
  it.each(BAG_VARIANTS)('mode=$mode weighted=$weighted padding=$padding: dense and sparse match the reference', (v) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const bounds of BOUNDS_KINDS) {
      for (const kind of INDEX_KINDS) {
        const { o, rows, gradOutput } = randomBagCase(rng, dim, v, bounds, kind);
        const ctx = describeCase({ seed, dim, ...v, bounds, kind, rows, paddingIdx: o.paddingIdx });
        const maxIndices = v.mode === 'max' ? maxIndicesOf(o) : undefined;
        const { ref, abs } = refBagBackward(o, gradOutput, rows, maxIndices);
        const opts = { ...o, gradOutput, numRows: rows, maxIndices };
        const out = poisoned(rows * dim);
        const dense = embeddingBagBackward({ ...opts, out });
        expect(dense === out, ctx).toBe(true);
        expect(firstNaN(dense), `${ctx}: every element written`).toBe(-1);
        // max too: a row that wins several bags sums their gradients in float32.
        expect(relErr(dense, ref), `${ctx}: bound ${BOUND} x cond`).toBeLessThan(BOUND * cond(ref, abs));
        // The padding row never gets a gradient.
        if (o.paddingIdx !== undefined) {
          const pad = o.paddingIdx < 0 ? o.paddingIdx + rows : o.paddingIdx;
          expect(dense.subarray(pad * dim, (pad + 1) * dim).every((x) => x === 0), `${ctx}: padding row`).toBe(true);
        }
        // Without `out` the addon allocates a zero array and skips the fill: the same bits.
        expect(firstBitMismatch(embeddingBagBackward(opts), dense), `${ctx}: fresh output = poisoned out`).toBe(-1);
        const sparse = embeddingBagBackward({ ...opts, sparse: true });
        expect(sparse.rows.constructor, ctx).toBe(o.indices.constructor);
        const ids = toNumbers(sparse.rows);
        for (let i = 1; i < ids.length; i++) expect(ids[i] > ids[i - 1], `${ctx}: rows ascending, distinct`).toBe(true);
        // The sparse rows are exactly the rows whose dense gradient was written by a term.
        const expanded = new Float32Array(rows * dim);
        ids.forEach((r, u) => expanded.set(sparse.values.subarray(u * dim, (u + 1) * dim), r * dim));
        expect(firstBitMismatch(expanded, dense), `${ctx}: sparse = dense`).toBe(-1);
        if (v.mode !== 'max') {
          // A ScatterPlan of the same indices (padding included) gives the same bits.
          const plan = scatterPlan({ indices: o.indices, numRows: rows });
          const planned = embeddingBagBackward({ ...opts, plan, out: poisoned(rows * dim) });
          expect(firstBitMismatch(planned, dense), `${ctx}: dense with plan = without`).toBe(-1);
          const plannedSparse = embeddingBagBackward({ ...opts, plan, sparse: true });
          expect(toNumbers(plannedSparse.rows), `${ctx}: sparse rows with plan`).toEqual(ids);
          expect(firstBitMismatch(plannedSparse.values, sparse.values), `${ctx}: sparse with plan = without`).toBe(-1);
        }
      }
    }
  });
});

// The dense sum / mean backward writes an `out` of 24 MiB or more whose rows are whole,
// line-aligned cache lines with streaming stores where the ISA has them (no zero fill,
// untouched rows zeroed, each touched row's first contribution stored over it:
// csrc/kernels/scatter/scatter.h, scatter_add_into_zeros; test/native/scatter_test.cc shows
// which path ran); any other `out` gets the zero fill and the adds. Both must give the same
// bits, write every element of out and nothing around it.
describe('embeddingBagBackward: a line-aligned out (streaming path) equals any other out', () => {
  itOnEachIsa('dense sum / mean, with and without a plan, 1-3 threads', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    // 98,304 rows x 64 (24 MiB, whole lines). Ids among 3,000 rows repeat ~13 times (a given
    // plan pools); ids among all rows mostly differ (it does not: from two threads the
    // plan-free streaming form runs instead).
    const dim = 64, rows = 98304;
    const table = randomTable(rng, rows, dim);
    const lengths = randomLengths(rng, 2000, 40);
    const n = lengths.reduce((a, b) => a + b, 0);
    const hot = randomIndices(rng, n, 3000).map((x) => (rng.bool(0.1) ? 7 : x));
    const spread = randomIndices(rng, n, rows);
    let calls = 0;
    for (const [idx, mode] of [[hot, 'sum'], [hot, 'mean'], [spread, 'sum'], [spread, 'mean']] as const) {
      const weights = rng.bool() ? randomWeights(rng, idx.length) : undefined;
      const o = bagOptions({ table, dim, mode, weights, paddingIdx: rng.bool() ? 11 : undefined }, idx, lengths, 'offsets', 'int32');
      const gradOutput = randomTable(rng, lengths.length, dim);
      const plan = scatterPlan({ indices: o.indices, numRows: rows });
      for (const withPlan of [false, true]) {
        const ctx = `seed=${seed} mode=${mode} positions=${idx.length} weighted=${weights !== undefined} plan=${withPlan}`;
        const size = rows * dim;
        // Aligned: 64 bytes into a line-aligned allocation; shifted: one float past a line.
        const alignedBacking = allocFloat32(size + 32).fill(NaN);
        const aligned = alignedBacking.subarray(16, 16 + size);
        const shiftedBacking = allocFloat32(size + 32).fill(NaN);
        const shifted = shiftedBacking.subarray(17, 17 + size);
        const opts = { ...o, gradOutput, numRows: rows, plan: withPlan ? plan : undefined };
        const runs = [aligned, shifted].map((out) => expectSameBitsOnThreads(() => {
          out.fill(NaN);
          const got = embeddingBagBackward({ ...opts, out });
          calls++;
          expect(got === out, `${ctx}: returns out`).toBe(true);
          return got.slice();
        }, ctx));
        expect(firstBitMismatch(runs[0], runs[1]), `${ctx}: aligned vs shifted out`).toBe(-1);
        expect(firstNaN(runs[0]), `${ctx}: every element written`).toBe(-1);
        expect(firstBitMismatch(runs[0], embeddingBagBackward(opts)), `${ctx}: vs a fresh output`).toBe(-1);
        calls++;
        for (const [backing, at] of [[alignedBacking, 16], [shiftedBacking, 17]] as const) {
          const outside = [...backing.subarray(0, at), ...backing.subarray(at + size)];
          expect(outside.every((x) => Number.isNaN(x)), `${ctx}: nothing written around out`).toBe(true);
        }
      }
    }
    return calls;
  });

  it('the async form writes the same bits into an aligned 24 MiB out', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 64, rows = 98304;
    const lengths = randomLengths(rng, 500, 20);
    const indices = Int32Array.from(randomIndices(rng, lengths.reduce((a, b) => a + b, 0), rows));
    const o = { gradOutput: randomTable(rng, lengths.length, dim), dim, indices, lengths: Int32Array.from(lengths), mode: 'mean' as const, numRows: rows };
    const sync = embeddingBagBackward({ ...o, out: allocFloat32(rows * dim).fill(NaN) });
    const out = allocFloat32(rows * dim).fill(NaN);
    const got = await embeddingBagBackwardAsync({ ...o, out });
    expect(got === out, `seed=${seed}: returns out`).toBe(true);
    expect(firstBitMismatch(got, sync), `seed=${seed}`).toBe(-1);
    expect(firstNaN(got), `seed=${seed}: every element written`).toBe(-1);
  });
});

describe('embeddingBagBackward max: outputs of 16 MiB and more, mapped in first from two threads', () => {
  itOnEachIsa('dense (fresh and into out) and sparse equal a float32 sum in bag order, 1-3 threads', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    // 60,000 rows x 128: a 30.7 MB dense output; 12,000 bags of 8 uniform ids, whose winners
    // name ~48,000 distinct rows: a ~24 MB sparse output (checked below).
    const dim = 128, rows = 60000, bags = 12000, perBag = 8;
    const indices = Int32Array.from(randomIndices(rng, bags * perBag, rows));
    const offsets = Int32Array.from({ length: bags }, (_, b) => b * perBag);
    const gradOutput = randomTable(rng, bags, dim);
    const maxIndices = new Int32Array(bags * dim);
    for (let e = 0; e < maxIndices.length; e++) {
      maxIndices[e] = rng.bool(0.01) ? -1 : indices[Math.floor(e / dim) * perBag + rng.int(0, perBag - 1)];
    }
    const want = new Float32Array(rows * dim);
    for (let e = 0; e < maxIndices.length; e++) {
      if (maxIndices[e] >= 0) want[maxIndices[e] * dim + (e % dim)] += gradOutput[e];
    }
    const o = { gradOutput, dim, indices, offsets, mode: 'max' as const, maxIndices, numRows: rows };
    const ctx = `seed=${seed}`;
    const fresh = expectSameBitsOnThreads(() => embeddingBagBackward(o), `${ctx} fresh`);
    expect(firstBitMismatch(fresh, want), `${ctx}: fresh vs reference`).toBe(-1);
    const out = allocFloat32(rows * dim);
    const into = expectSameBitsOnThreads(() => embeddingBagBackward({ ...o, out: out.fill(NaN) }).slice(), `${ctx} out`);
    expect(firstBitMismatch(into, want), `${ctx}: into out vs reference`).toBe(-1);
    let sparseBytes = 0;
    const values = expectSameBitsOnThreads(() => {
      const g = embeddingBagBackward({ ...o, sparse: true });
      sparseBytes = g.values.byteLength;
      const dense = new Float32Array(rows * dim);
      g.rows.forEach((r, u) => dense.set(g.values.subarray(u * dim, (u + 1) * dim), Number(r) * dim));
      return dense;
    }, `${ctx} sparse`);
    expect(firstBitMismatch(values, want), `${ctx}: sparse vs reference`).toBe(-1);
    expect(sparseBytes, 'the sparse output reaches the 16 MiB floor').toBeGreaterThanOrEqual(16 << 20);
    return 9;
  });
});

describe('embeddingBagBackward: finite differences, argmax, threads, async', () => {
  it.each(BAG_VARIANTS)('gradient of sum(g ⊙ embeddingBag) agrees with central differences (mode=$mode weighted=$weighted padding=$padding)', (v) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 5;
    const { o, rows, gradOutput } = randomBagCase(rng, dim, v, 'offsets', 'int32');
    const maxIndices = v.mode === 'max' ? maxIndicesOf(o) : undefined;
    const grad = embeddingBagBackward({ ...o, gradOutput, numRows: rows, maxIndices });
    const t = Float64Array.from(o.table);
    const loss = () => forward64(o, t, rows).reduce((s, y, i) => s + y * gradOutput[i], 0);
    // Piecewise linear in the table: the central difference is exact while the step moves no
    // maximum to another row (for max, a step under the smallest gap to a runner-up).
    const gap = v.mode === 'max' ? maxTieGap(o, t, rows) : Infinity;
    const h = gap > 0 ? Math.min(1e-4, gap / 4) : 1e-4;
    for (let e = 0; e < rows * dim; e++) {
      const fd = centralDifference(t, e, h, loss);
      expect(Math.abs(grad[e] - fd), `seed=${seed} ${JSON.stringify(v)} element ${e}: ${grad[e]} vs ${fd}`).toBeLessThan(1e-4 * (1 + Math.abs(fd)));
    }
  });

  it('returnArgmax: first winner on ties, -1 for empty and padding-only bags, out equals plain max', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const dim of DIMS) {
      const rows = 12;
      const table = randomTable(rng, rows, dim);
      table.set(table.subarray(0, dim), 3 * dim); // rows 0 and 3 equal: a tie
      const indices = Int32Array.of(3, 0, 5, 7, 7, 1, 2);
      const offsets = Int32Array.of(0, 2, 2, 5, 6); // [3,0], [], [5,7,7], [1], [2]
      const paddingIdx = 1; // bag 3 holds padding only
      const r = embeddingBag({ table, dim, indices, offsets, mode: 'max', paddingIdx, returnArgmax: true });
      const ctx = `seed=${seed} dim=${dim}`;
      expect(Array.from(r.argmax), ctx).toEqual(Array.from(refArgmax({ table, dim, indices, offsets, mode: 'max', paddingIdx }, rows)));
      expect(firstBitMismatch(r.out, embeddingBag({ table, dim, indices, offsets, mode: 'max', paddingIdx })), ctx).toBe(-1);
      expect(Array.from(r.argmax.subarray(0, dim)).every((x) => x === 3), `${ctx}: tie goes to the first entry`).toBe(true);
      expect(Array.from(r.argmax.subarray(dim, 2 * dim)).every((x) => x === -1), `${ctx}: empty bag`).toBe(true);
      expect(Array.from(r.argmax.subarray(3 * dim, 4 * dim)).every((x) => x === -1), `${ctx}: padding-only bag`).toBe(true);
      const a = await embeddingBagAsync({ table, dim, indices, offsets, mode: 'max', paddingIdx, returnArgmax: true });
      expect(Array.from(a.argmax)).toEqual(Array.from(r.argmax));
    }
  });

  it('bitwise identical for 1, 2 and 3 threads (dense, sparse, every mode)', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const { dim, rows, lengths, idx, table } = manyBagsCase(rng);
    for (const mode of MODES) {
      const o = bagOptions({ table, dim, mode, weights: mode === 'max' ? undefined : randomWeights(rng, idx.length), paddingIdx: 11 }, idx, lengths, 'offsets', 'int32');
      const gradOutput = randomTable(rng, lengths.length, dim);
      const maxIndices = mode === 'max' ? maxIndicesOf(o) : undefined;
      const plan = mode === 'max' ? undefined : scatterPlan({ indices: o.indices, numRows: rows });
      const runs: Float32Array[] = [];
      for (const threads of [1, 2, 3]) {
        setThreads(threads);
        runs.push(embeddingBagBackward({ ...o, gradOutput, numRows: rows, maxIndices }));
        runs.push(embeddingBagBackward({ ...o, gradOutput, numRows: rows, maxIndices, sparse: true }).values);
        if (plan) {
          runs.push(embeddingBagBackward({ ...o, gradOutput, numRows: rows, plan }));
          runs.push(embeddingBagBackward({ ...o, gradOutput, numRows: rows, plan, sparse: true }).values);
        }
      }
      setThreads(initialThreads);
      // Runs alternate dense, sparse (and, with a plan, dense, sparse again): each against run 0 or 1.
      for (let i = 2; i < runs.length; i++) {
        expect(firstBitMismatch(runs[i], runs[i % 2]), `seed=${seed} ${mode} run ${i}`).toBe(-1);
      }
    }
  });

  it('async forms match the sync ones', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const { o, rows, gradOutput } = randomBagCase(rng, 17, { mode: 'mean', weighted: true, padding: true }, 'lengths', 'int64');
    const sync = embeddingBagBackward({ ...o, gradOutput, numRows: rows });
    const dense = await embeddingBagBackwardAsync({ ...o, gradOutput, numRows: rows });
    expect(firstBitMismatch(dense, sync), `seed=${seed}`).toBe(-1);
    const sparse = await embeddingBagBackwardAsync({ ...o, gradOutput, numRows: rows, sparse: true });
    const syncSparse = embeddingBagBackward({ ...o, gradOutput, numRows: rows, sparse: true });
    expect(firstBitMismatch(sparse.values, syncSparse.values)).toBe(-1);
    expect(toNumbers(sparse.rows)).toEqual(toNumbers(syncSparse.rows));
    const plan = await scatterPlanAsync({ indices: o.indices, numRows: rows });
    expect(firstBitMismatch(await embeddingBagBackwardAsync({ ...o, gradOutput, numRows: rows, plan }), sync), `seed=${seed} plan`).toBe(-1);
    const planSparse = await embeddingBagBackwardAsync({ ...o, gradOutput, numRows: rows, plan, sparse: true });
    expect(firstBitMismatch(planSparse.values, syncSparse.values), `seed=${seed} plan sparse`).toBe(-1);
  });

  it('the reference itself: mean backward of a fixed case', () => {
    const table = new Float32Array(3 * 2).fill(1);
    const o = { table, dim: 2, indices: Int32Array.of(0, 2, 2, 1), offsets: Int32Array.of(0, 3), mode: 'mean' as const, paddingIdx: 1 };
    const g = Float32Array.of(3, 6, 1, 1);
    // bag 0 = rows 0, 2, 2 (count 3); bag 1 = padding only.
    expect(Array.from(embeddingBagBackward({ ...o, gradOutput: g, numRows: 3 }))).toEqual([1, 2, 0, 0, 2, 4]);
    expect(refEmbeddingBag({ ...o }).length).toBe(4);
  });
});

/**
 * A plan is applied by the row kernel in plan order when its rows are mostly distinct (under
 * 2 contributions per row) and pooled by the gather kernels when they repeat: both must give
 * the plain form's bits, for scatterAdd and for the dense bag backward. Returns the kernel
 * calls made.
 */
function expectBothPlanStrategies(rng: Rng, dim: number, ctx: string): number {
  let calls = 0;
  for (const [rows, n] of [
    [2000, 120], // about 1.04 contributions per row: the row kernel
    [7, 120], // about 17 per row: pooled
  ]) {
    const idx = Int32Array.from(randomIndices(rng, n, rows));
    const dst0 = randomTable(rng, rows, dim);
    const src = randomTable(rng, n, dim);
    const weights = rng.bool() ? randomWeights(rng, n) : undefined;
    const plain = dst0.slice();
    scatterAdd({ dst: plain, dim, indices: idx, src, weights, alpha: 0.5 });
    const planned = dst0.slice();
    const plan = scatterPlan({ indices: idx, numRows: rows });
    scatterAdd({ dst: planned, dim, plan, src, weights, alpha: 0.5 });
    const what = `${ctx} rows=${rows} n=${n} weighted=${weights !== undefined}`;
    expect(firstBitMismatch(planned, plain), `${what}: scatterAdd plan = plain`).toBe(-1);
    const lengths = randomLengths(rng, 30, 8);
    const bagIdx = randomIndices(rng, lengths.reduce((a, x) => a + x, 0), rows);
    const o = bagOptions({ table: randomTable(rng, rows, dim), dim, mode: 'mean', weights: randomWeights(rng, bagIdx.length) }, bagIdx, lengths, 'offsets', 'int32');
    const gradOutput = randomTable(rng, lengths.length, dim);
    const dense = embeddingBagBackward({ ...o, gradOutput, numRows: rows });
    const bagPlan = scatterPlan({ indices: o.indices, numRows: rows });
    expect(firstBitMismatch(embeddingBagBackward({ ...o, gradOutput, numRows: rows, plan: bagPlan }), dense), `${what}: bag backward plan = plain`).toBe(-1);
    calls += 4;
  }
  return calls;
}

// ---- forced ISAs ------------------------------------------------------------------------

itOnEachIsa('scatterAdd and embeddingBagBackward', (isa) => {
  const seed = freshSeed();
  const rng = new Rng(seed);
  let calls = 0;
  for (const dim of [1, 3, 7, 8, 9, 16, 17, 33, 128, 129, 257]) {
    const c = scatterCase(rng, dim, { weighted: rng.bool(), alpha: rng.bool() });
    const dstBefore = c.dst.slice();
    scatterAdd({ dst: c.dst, dim, indices: Int32Array.from(c.idx), src: c.src, weights: c.weights, alpha: c.alpha });
    expectScatter(c, c.dst, dstBefore, `${isa} seed=${seed} dim=${dim}`);
    calls++;
    for (const mode of ['sum', 'mean'] as const) {
      const { o, rows, gradOutput } = randomBagCase(rng, dim, { mode, weighted: true, padding: true }, 'offsets', 'uint32');
      const { ref, abs } = refBagBackward(o, gradOutput, rows);
      const got = embeddingBagBackward({ ...o, gradOutput, numRows: rows });
      expect(relErr(got, ref), `${isa} seed=${seed} dim=${dim} ${mode}`).toBeLessThan(BOUND * cond(ref, abs));
      const plan = scatterPlan({ indices: o.indices, numRows: rows });
      expect(firstBitMismatch(embeddingBagBackward({ ...o, gradOutput, numRows: rows, plan }), got), `${isa} seed=${seed} dim=${dim} ${mode} plan`).toBe(-1);
      calls += 2;
    }
    // Max: the dense form runs this ISA's column kernel. (The argmax pass and the sparse max
    // form run scalar code on every ISA, so maxIndices is drawn here: each column won by a
    // random non-padding member of its bag, -1 for bags without one.)
    const m = randomBagCase(rng, dim, { mode: 'max', weighted: false, padding: true }, 'offsets', 'int32');
    const ids = toNumbers(m.o.indices as never);
    const starts = toNumbers(m.o.offsets as never);
    const pad = m.o.paddingIdx === undefined ? -1 : (m.o.paddingIdx + m.rows) % m.rows;
    const maxIndices = new Int32Array(starts.length * dim);
    starts.forEach((start, b) => {
      const members = ids.slice(start, b + 1 < starts.length ? starts[b + 1] : ids.length).filter((r) => r !== pad);
      for (let c = 0; c < dim; c++) {
        // Runs of one winner (a one-member bag always), so the vector path runs too.
        maxIndices[b * dim + c] = members.length === 0 ? -1 : members[rng.bool(0.8) && c > 0 ? members.indexOf(maxIndices[b * dim + c - 1]) : rng.int(0, members.length - 1)];
      }
    });
    const { ref, abs } = refBagBackward(m.o, m.gradOutput, m.rows, maxIndices);
    const dense = embeddingBagBackward({ ...m.o, gradOutput: m.gradOutput, numRows: m.rows, maxIndices });
    expect(relErr(dense, ref), `${isa} seed=${seed} dim=${dim} max`).toBeLessThan(BOUND * cond(ref, abs));
    calls += 1;
    calls += expectBothPlanStrategies(rng, dim, `${isa} seed=${seed} dim=${dim}`);
  }
  return calls;
});

describe('property: random scatters match index_add_, plan and plain forms bit for bit', () => {
  it(`scatterAdd (relative error bound ${BOUND} x cond)`, () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 0, max: 0x7fffffff }),
          rows: fc.integer({ min: 1, max: 15 }),
          n: fc.integer({ min: 0, max: 60 }),
          dim: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.constantFrom(31, 64, 129)),
          weighted: fc.boolean(),
          alpha: fc.option(fc.double({ min: -3, max: 3, noNaN: true }), { nil: undefined }),
          kind: fc.constantFrom<IndexKind>('int32', 'uint32', 'int64'),
        }),
        (p) => {
          const rng = new Rng(p.seed);
          const idx = randomIndices(rng, p.n, p.rows);
          const indices = makeIndexArray(p.kind, idx);
          const dst0 = randomTable(rng, p.rows, p.dim);
          const src = randomTable(rng, p.n, p.dim);
          const weights = p.weighted ? randomWeights(rng, p.n) : undefined;
          const plain = dst0.slice();
          scatterAdd({ dst: plain, dim: p.dim, indices, src, weights, alpha: p.alpha });
          const viaPlan = dst0.slice();
          scatterAdd({ dst: viaPlan, dim: p.dim, plan: scatterPlan({ indices, numRows: p.rows }), src, weights, alpha: p.alpha });
          const ctx = describeCase(p);
          expect(firstBitMismatch(viaPlan, plain), ctx).toBe(-1);
          const { ref, abs } = refScatterAdd(dst0, p.dim, idx, src, weights, p.alpha);
          expect(relErr(plain, ref), ctx).toBeLessThan(BOUND * cond(ref, abs));
        },
      ),
      { numRuns: 300 },
    );
  });
});
