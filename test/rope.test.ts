// rope / ropeRerotate against the float64 reference (test/rope-reference.ts) on fresh, seeded
// random data (rerun with TEST_SEED=<seed>): every layout x scaling x partial rotary, head
// counts 1, 3, 40 and head dims 64, 80, 96, 128, 256; inverse, transpose and gradient checks;
// GQA; the long-context precision test; each forced ISA; 1 vs 2 threads; bad input.
// Bounds: ||out - ref|| / ||ref|| < 1e-6 (float32 rotation of float64 angles); the columns
// past rotaryDim are bit-exact copies; every ISA and thread count gives the scalar path's bits.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  capabilities,
  getThreads,
  rope,
  ropeAsync,
  ropeCache,
  ropeFrequencies,
  ropeRerotate,
  ropeRerotateAsync,
  setIsa,
  setThreads,
  type Isa,
  type PositionArray,
  type RopeLayout,
  type RopeCache,
  type RopeScaling,
} from '../lib/index';
import { Rng, bytesOf, firstBitMismatch, firstNaN, freshSeed, poisoned, randomTable, relErr, sameBits, sameBytes } from './reference';
import { dot, norm, refFrequencies, refRope } from './rope-reference';

const BOUND = 1e-6;
const LAYOUTS: RopeLayout[] = ['neox', 'gptj'];
const initialThreads = getThreads();
const initialIsa = capabilities().isa;
afterAll(() => {
  setThreads(initialThreads);
  setIsa(initialIsa);
});

function positionsOf(kind: 'int32' | 'int64', values: number[]): PositionArray {
  return kind === 'int32' ? Int32Array.from(values) : BigInt64Array.from(values.map((v) => BigInt(v)));
}

function scalingFor(type: RopeScaling['type'], rot: number, rng: Rng): RopeScaling {
  switch (type) {
    case 'default': return { type };
    case 'linear': return { type, factor: 4 };
    case 'dynamic': return { type, factor: 4, originalMaxPosition: 2048, seqLen: 8192 };
    case 'yarn': return { type, factor: 16, originalMaxPosition: 4096, mscale: 1, mscaleAllDim: 0.5 };
    case 'llama3': return { type, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 8192 };
    case 'longrope': {
      const f = (hi: number) => Array.from({ length: rot / 2 }, () => 1 + (hi - 1) * rng.float());
      return { type, shortFactor: f(2), longFactor: f(40), originalMaxPosition: 4096, maxPosition: 131072, seqLen: 10000 };
    }
  }
}
const SCALING_TYPES: RopeScaling['type'][] = ['default', 'linear', 'dynamic', 'yarn', 'llama3', 'longrope'];

interface Problem {
  tokens: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  rotaryDim: number;
  layout: RopeLayout;
  positions: number[];
  q: Float32Array;
  k: Float32Array;
}

function makeProblem(rng: Rng, p: Omit<Problem, 'q' | 'k' | 'positions'>, maxPos = 100000): Problem {
  const positions = Array.from({ length: p.tokens }, () => rng.int(0, maxPos));
  return {
    ...p,
    positions,
    q: randomTable(rng, p.tokens * p.numHeads, p.headDim),
    k: randomTable(rng, p.tokens * p.numKvHeads, p.headDim),
  };
}

/** Reference of q and k for problem p with frequencies f. */
function expected(p: Problem, f: { invFreq: ArrayLike<number>; attentionFactor: number }, inverse = false) {
  const common = { headDim: p.headDim, rotaryDim: p.rotaryDim, layout: p.layout, positions: p.positions, invFreq: f.invFreq, attentionFactor: f.attentionFactor, inverse };
  return { q: refRope({ x: p.q, heads: p.numHeads, ...common }), k: refRope({ x: p.k, heads: p.numKvHeads, ...common }) };
}

/** The columns past rotaryDim of every head are bit-exact copies of the input's. */
function tailExact(got: Float32Array, x: Float32Array, headDim: number, rotaryDim: number): boolean {
  for (let r = 0; r < x.length / headDim; r++) {
    for (let j = rotaryDim; j < headDim; j++) if (!Object.is(got[r * headDim + j], x[r * headDim + j])) return false;
  }
  return true;
}

describe('rope matches the float64 reference', () => {
  for (const headDim of [64, 80, 96, 128, 256]) {
    for (const layout of LAYOUTS) {
      it(`headDim ${headDim}, ${layout}: every scaling type, full and partial rotary, heads 1 / 3 / 40, GQA`, () => {
        const seed = freshSeed();
        const rng = new Rng(seed);
        for (const type of SCALING_TYPES) {
          for (const partial of [false, true]) {
            const rotaryDim = partial ? 2 * rng.int(2, headDim / 2 - 1) : headDim;  // dynamic needs > 2
            const numHeads = rng.pick([1, 3, 40]);
            const numKvHeads = rng.pick([1, 3, numHeads]);
            const p = makeProblem(rng, { tokens: rng.int(1, 5), numHeads, numKvHeads, headDim, rotaryDim, layout });
            const scaling = scalingFor(type, rotaryDim, rng);
            const base = rng.pick([10000, 500000]);
            const ref = expected(p, refFrequencies(rotaryDim, base, scaling));
            const outGiven = rng.bool();
            const kind = rng.pick(['int32', 'int64'] as const);
            const ctx = `seed=${seed} ${type} partial=${partial} rot=${rotaryDim} heads=${numHeads}/${numKvHeads} tokens=${p.tokens} out=${outGiven} ${kind}`;
            const qBefore = bytesOf(p.q);
            const out = outGiven ? poisoned(p.q.length) : undefined;
            const outK = outGiven ? poisoned(p.k.length) : undefined;
            const qIn = outGiven ? p.q : p.q.slice();
            const kIn = outGiven ? p.k : p.k.slice();
            const got = rope({
              q: qIn, k: kIn, numHeads, numKvHeads, headDim, rotaryDim: partial || rng.bool() ? rotaryDim : undefined,
              positions: positionsOf(kind, p.positions), layout, base, scaling, out, outK,
            });
            expect(got.q === (out ?? qIn), `${ctx}: q result is out or q`).toBe(true);
            expect(got.k === (outK ?? kIn), `${ctx}: k result is outK or k`).toBe(true);
            expect(firstNaN(got.q), `${ctx}: every q element written`).toBe(-1);
            expect(firstNaN(got.k!), `${ctx}: every k element written`).toBe(-1);
            expect(relErr(got.q, ref.q), `${ctx}: q`).toBeLessThan(BOUND);
            expect(relErr(got.k!, ref.k), `${ctx}: k`).toBeLessThan(BOUND);
            expect(tailExact(got.q, p.q, headDim, rotaryDim), `${ctx}: q tail exact`).toBe(true);
            expect(tailExact(got.k!, p.k, headDim, rotaryDim), `${ctx}: k tail exact`).toBe(true);
            if (outGiven) expect(sameBytes(bytesOf(p.q), qBefore), `${ctx}: q untouched with out`).toBe(true);
          }
        }
      });
    }
  }

  it('offset is positions offset + t; BigInt64 and Uint32 positions equal Int32; q alone', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const p = makeProblem(rng, { tokens: 7, numHeads: 3, numKvHeads: 1, headDim: 64, rotaryDim: 64, layout: 'neox' });
    const offset = 12345;
    const positions = Array.from({ length: 7 }, (_, t) => offset + t);
    const run = (extra: object) => rope({ q: p.q, numHeads: 3, headDim: 64, layout: 'neox', base: 1e4, out: new Float32Array(p.q.length), ...extra }).q;
    const a = run({ offset });
    expect(sameBits(a, run({ positions: Int32Array.from(positions) })), `seed=${seed}`).toBe(true);
    expect(sameBits(a, run({ positions: Uint32Array.from(positions) })), `seed=${seed}`).toBe(true);
    expect(sameBits(a, run({ positions: BigInt64Array.from(positions.map(BigInt)) })), `seed=${seed}`).toBe(true);
    expect(relErr(a, expected({ ...p, positions }, refFrequencies(64, 1e4)).q)).toBeLessThan(BOUND);
    // No positions and no offset: positions 0, 1, 2, ...
    const zero = run({});
    expect(relErr(zero, expected({ ...p, positions: positions.map((_, t) => t) }, refFrequencies(64, 1e4)).q)).toBeLessThan(BOUND);
    // frequencies from ropeFrequencies give the same bits as base + scaling.
    const scaling: RopeScaling = { type: 'yarn', factor: 8, originalMaxPosition: 4096 };
    const viaBase = run({ offset, scaling });
    const viaFreq = run({ offset, base: undefined, frequencies: ropeFrequencies({ rotaryDim: 64, base: 1e4, scaling }) });
    expect(sameBits(viaBase, viaFreq)).toBe(true);
  });

  it('GQA: q with 32 heads and k with 8, different results per tensor', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const p = makeProblem(rng, { tokens: 9, numHeads: 32, numKvHeads: 8, headDim: 128, rotaryDim: 128, layout: 'neox' });
    const ref = expected(p, refFrequencies(128, 5e5));
    const q = p.q.slice();
    const k = p.k.slice();
    rope({ q, k, numHeads: 32, numKvHeads: 8, headDim: 128, positions: Int32Array.from(p.positions), layout: 'neox', base: 5e5 });
    expect(relErr(q, ref.q), `seed=${seed}`).toBeLessThan(BOUND);
    expect(relErr(k, ref.k), `seed=${seed}`).toBeLessThan(BOUND);
  });
});

describe('property: random shapes match the reference', () => {
  it(`any tokens (0 included), heads, even headDim and rotaryDim, layout, positions, out (bound ${BOUND})`, () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 0, max: 0x7fffffff }),
          tokens: fc.integer({ min: 0, max: 6 }),
          numHeads: fc.integer({ min: 1, max: 9 }),
          numKvHeads: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
          halfDim: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.constantFrom(32, 40, 48, 64, 128)),
          rotaryFrac: fc.double({ min: 0, max: 1, noNaN: true }),
          layout: fc.constantFrom<RopeLayout>('neox', 'gptj'),
          maxPos: fc.constantFrom(10, 5000, 1 << 22),
          inverse: fc.boolean(),
          outGiven: fc.boolean(),
        }),
        (c) => {
          const rng = new Rng(c.seed);
          const headDim = 2 * c.halfDim;
          const rotaryDim = 2 * Math.max(1, Math.round(c.rotaryFrac * c.halfDim));
          const numKvHeads = c.numKvHeads ?? c.numHeads;
          const p = makeProblem(rng, { tokens: c.tokens, numHeads: c.numHeads, numKvHeads, headDim, rotaryDim, layout: c.layout }, c.maxPos);
          const ref = expected(p, refFrequencies(rotaryDim, 1e4), c.inverse);
          const out = c.outGiven ? poisoned(p.q.length) : undefined;
          const outK = c.outGiven ? poisoned(p.k.length) : undefined;
          const q = c.outGiven ? p.q : p.q.slice();
          const k = c.outGiven ? p.k : p.k.slice();
          const r = rope({ q, k, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim, rotaryDim, positions: Int32Array.from(p.positions), layout: c.layout, base: 1e4, inverse: c.inverse, out, outK });
          const ctx = JSON.stringify(c);
          expect(firstNaN(r.q), ctx).toBe(-1);
          expect(firstNaN(r.k!), ctx).toBe(-1);
          if (c.tokens > 0) {
            expect(relErr(r.q, ref.q), ctx).toBeLessThan(BOUND);
            expect(relErr(r.k!, ref.k), ctx).toBeLessThan(BOUND);
          }
          expect(tailExact(r.q, p.q, headDim, rotaryDim), ctx).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('inverse', () => {
  for (const layout of LAYOUTS) {
    it(`${layout}: inverse(rope(x)) = x * attentionFactor^2 (x itself for factor 1), partial rotary`, () => {
      const seed = freshSeed();
      const rng = new Rng(seed);
      for (const scaling of [undefined, { type: 'yarn', factor: 32, originalMaxPosition: 4096 } as RopeScaling]) {
        const p = makeProblem(rng, { tokens: 6, numHeads: 3, numKvHeads: 1, headDim: 96, rotaryDim: 64, layout }, 1 << 22);
        const f = ropeFrequencies({ rotaryDim: 64, base: 1e4, scaling });
        const positions = Int32Array.from(p.positions);
        const q = p.q.slice();
        const k = p.k.slice();
        const o = { q, k, numHeads: 3, numKvHeads: 1, headDim: 96, rotaryDim: 64, positions, layout, frequencies: f };
        rope(o);
        rope({ ...o, inverse: true });
        const a2 = f.attentionFactor ** 2;
        const want = (x: Float32Array) => Float64Array.from(x, (v, e) => (e % 96 < 64 ? v * a2 : v));
        const ctx = `seed=${seed} ${scaling?.type ?? 'default'} factor=${f.attentionFactor}`;
        if (!scaling) expect(f.attentionFactor).toBe(1);
        expect(relErr(q, want(p.q)), ctx).toBeLessThan(BOUND);
        expect(relErr(k, want(p.k)), ctx).toBeLessThan(BOUND);
        expect(tailExact(q, p.q, 96, 64), ctx).toBe(true);
      }
    });

    it(`${layout}: inverse is the transpose: <rope(x), y> = <x, inverse(y)>`, () => {
      const seed = freshSeed();
      const rng = new Rng(seed);
      const f = ropeFrequencies({ rotaryDim: 128, base: 1e4, scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 8192 } });
      const x = randomTable(rng, 5 * 4, 128);
      const y = randomTable(rng, 5 * 4, 128);
      const positions = Int32Array.from({ length: 5 }, () => rng.int(0, 1 << 20));
      const o = { numHeads: 4, headDim: 128, positions, layout, frequencies: f };
      const rx = rope({ ...o, q: x, out: new Float32Array(x.length) }).q;
      const ity = rope({ ...o, q: y, out: new Float32Array(y.length), inverse: true }).q;
      const lhs = dot(rx, y);
      const rhs = dot(x, ity);
      expect(Math.abs(lhs - rhs) / (norm(x) * norm(y)), `seed=${seed} ${lhs} vs ${rhs}`).toBeLessThan(BOUND);
    });

    it(`${layout}: inverse equals the gradient of rope (finite differences of <rope(x), y>)`, () => {
      const seed = freshSeed();
      const rng = new Rng(seed);
      const f = ropeFrequencies({ rotaryDim: 64, base: 1e4, scaling: { type: 'yarn', factor: 4, originalMaxPosition: 2048 } });
      const x = randomTable(rng, 2, 64);
      const y = randomTable(rng, 2, 64);
      const o = { numHeads: 2, headDim: 64, offset: 777, layout, frequencies: f };
      const loss = (v: Float32Array) => dot(rope({ ...o, q: v, out: new Float32Array(v.length) }).q, y);
      const grad = rope({ ...o, q: y, out: new Float32Array(y.length), inverse: true }).q;
      const h = 0.25;
      for (let trial = 0; trial < 24; trial++) {
        const j = rng.int(0, x.length - 1);
        const plus = x.slice();
        const minus = x.slice();
        plus[j] += h;
        minus[j] -= h;
        const fd = (loss(plus) - loss(minus)) / (2 * h);
        expect(Math.abs(fd - grad[j]), `seed=${seed} j=${j} fd=${fd} grad=${grad[j]}`).toBeLessThan(1e-4);
      }
    });
  }
});

describe('precision at long context', () => {
  it('cos/sin error < 1e-6 for positions up to 2^22 (a naive float32 angle product fails)', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const d = 128;
    const half = d / 2;
    const f = ropeFrequencies({ rotaryDim: d, base: 1e4 });
    const positions = [2 ** 22, 2 ** 22 - 1, 3_000_001, 1_048_576, 1_000_003, 65537];
    for (let i = 0; i < 26; i++) positions.push(rng.int(2 ** 20, 2 ** 22));
    // One head per token holding (1, ..., 1, 0, ..., 0): the result is (cos, sin) (NeoX).
    const q = new Float32Array(positions.length * d);
    for (let t = 0; t < positions.length; t++) q.fill(1, t * d, t * d + half);
    rope({ q, numHeads: 1, headDim: d, positions: Int32Array.from(positions), layout: 'neox', base: 1e4 });
    let worst = 0;
    let worstNaive = 0;
    positions.forEach((p, t) => {
      for (let i = 0; i < half; i++) {
        const theta = p * f.invFreq[i];
        worst = Math.max(worst, Math.abs(q[t * d + i] - Math.cos(theta)), Math.abs(q[t * d + half + i] - Math.sin(theta)));
        const naive = Math.fround(Math.fround(p) * Math.fround(f.invFreq[i]));
        worstNaive = Math.max(worstNaive, Math.abs(Math.cos(naive) - Math.cos(theta)), Math.abs(Math.sin(naive) - Math.sin(theta)));
      }
    });
    expect(worst, `seed=${seed}: embedkit's worst cos/sin error`).toBeLessThan(1e-6);
    expect(worstNaive, `seed=${seed}: a float32 product position x frequency drifts`).toBeGreaterThan(1e-2);
    console.log(`precision to 2^22: embedkit cos/sin error ${worst.toExponential(2)}; naive float32 angle ${worstNaive.toExponential(2)}`);
  });
});

describe('forced ISA', () => {
  const available = new Set<string>(capabilities().available);
  const ISAS: Isa[] = ['scalar', 'avx2', 'avx512', 'neon'];
  for (const isa of ISAS) {
    const ok = available.has(isa);
    const title = ok ? `isa ${isa}: same bits as scalar, within the bound, and runs on this path` : `isa ${isa}: not available on this CPU (available: ${[...available].join(', ')})`;
    it.skipIf(!ok)(title, () => {
      const seed = freshSeed();
      const rng = new Rng(seed);
      for (const headDim of [64, 80, 96, 128, 256, 18]) {
        for (const layout of LAYOUTS) {
          const rotaryDim = rng.bool() ? headDim : 2 * rng.int(1, headDim / 2);
          const p = makeProblem(rng, { tokens: rng.int(1, 20), numHeads: rng.pick([1, 3, 8]), numKvHeads: rng.pick([1, 2]), headDim, rotaryDim, layout }, 1 << 22);
          const o = {
            q: p.q, k: p.k, numHeads: p.numHeads, numKvHeads: p.numKvHeads, headDim, rotaryDim, layout,
            positions: Int32Array.from(p.positions), base: 1e4, scaling: { type: 'yarn', factor: 8, originalMaxPosition: 4096 } as RopeScaling,
          };
          setIsa('scalar');
          const s = rope({ ...o, out: poisoned(p.q.length), outK: poisoned(p.k.length) });
          setIsa(isa);
          const before = capabilities().kernelCalls;
          const v = rope({ ...o, out: poisoned(p.q.length), outK: poisoned(p.k.length) });
          const after = capabilities().kernelCalls;
          setIsa(initialIsa);
          const ctx = `seed=${seed} isa=${isa} headDim=${headDim} rot=${rotaryDim} ${layout}`;
          expect(after[isa] - before[isa], `${ctx}: kernelCalls.${isa}`).toBe(1);
          for (const other of ISAS) if (other !== isa) expect(after[other], `${ctx}: no ${other} kernel ran`).toBe(before[other]);
          expect(firstBitMismatch(v.q, s.q), `${ctx}: q bits`).toBe(-1);
          expect(firstBitMismatch(v.k!, s.k!), `${ctx}: k bits`).toBe(-1);
          const ref = expected(p, refFrequencies(rotaryDim, 1e4, o.scaling));
          expect(relErr(v.q, ref.q), ctx).toBeLessThan(BOUND);
        }
      }
    });
  }
});

describe('threads', () => {
  it('1 and 2 threads give identical bits (prefill-sized, both layouts)', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const layout of LAYOUTS) {
      const p = makeProblem(rng, { tokens: 300, numHeads: 8, numKvHeads: 2, headDim: 128, rotaryDim: 96, layout }, 1 << 22);
      const results = [1, 2, 3].map((t) => {
        setThreads(t);
        return rope({ q: p.q, k: p.k, numHeads: 8, numKvHeads: 2, headDim: 128, rotaryDim: 96, layout, positions: Int32Array.from(p.positions), base: 1e4, out: poisoned(p.q.length), outK: poisoned(p.k.length) });
      });
      setThreads(initialThreads);
      for (const r of results.slice(1)) {
        expect(firstBitMismatch(r.q, results[0].q), `seed=${seed} ${layout} q`).toBe(-1);
        expect(firstBitMismatch(r.k!, results[0].k!), `seed=${seed} ${layout} k`).toBe(-1);
      }
    }
  });
});

describe('cos/sin cache (ropeCache)', () => {
  it('tables: row p holds attentionFactor * cos / sin of p * invFreq, rounded to float32', () => {
    const scaling: RopeScaling = { type: 'yarn', factor: 8, originalMaxPosition: 4096 };
    const c = ropeCache({ rotaryDim: 96, base: 5e5, scaling, maxPosition: 3001 });
    const f = refFrequencies(96, 5e5, scaling);
    expect([c.rotaryDim, c.maxPosition, c.cos.length, c.sin.length]).toEqual([96, 3001, 3001 * 48, 3001 * 48]);
    expect(c.attentionFactor).toBeCloseTo(f.attentionFactor, 12);
    expect(Object.isFrozen(c)).toBe(true);
    let worst = 0;
    for (const p of [0, 1, 2, 1000, 2999, 3000]) {
      for (let i = 0; i < 48; i++) {
        const th = p * f.invFreq[i];
        worst = Math.max(worst, Math.abs(c.cos[p * 48 + i] - f.attentionFactor * Math.cos(th)), Math.abs(c.sin[p * 48 + i] - f.attentionFactor * Math.sin(th)));
      }
    }
    expect(worst).toBeLessThan(1e-7 * f.attentionFactor);
  });

  for (const layout of LAYOUTS) {
    it(`${layout}: rope with a cache gives the bits of rope with the frequencies (every scaling, partial rotary, inverse, offset, q + k, out)`, () => {
      const seed = freshSeed();
      const rng = new Rng(seed);
      for (const type of SCALING_TYPES) {
        const headDim = rng.pick([64, 80, 128]);
        const rotaryDim = rng.bool() ? headDim : 2 * rng.int(2, headDim / 2);
        const scaling = scalingFor(type, rotaryDim, rng);
        const frequencies = ropeFrequencies({ rotaryDim, base: 1e4, scaling });
        const cache = ropeCache({ rotaryDim, frequencies, maxPosition: 5000 });
        const p = makeProblem(rng, { tokens: rng.int(1, 30), numHeads: 3, numKvHeads: 1, headDim, rotaryDim, layout }, 4999);
        for (const inverse of [false, true]) {
          for (const where of ['positions', 'offset'] as const) {
            const pos = where === 'positions' ? { positions: Int32Array.from(p.positions) } : { offset: 5000 - p.tokens };
            const common = { q: p.q, k: p.k, numHeads: 3, numKvHeads: 1, headDim, rotaryDim, layout, inverse, ...pos };
            const want = rope({ ...common, frequencies, out: poisoned(p.q.length), outK: poisoned(p.k.length) });
            const got = rope({ ...common, cache, out: poisoned(p.q.length), outK: poisoned(p.k.length) });
            const ctx = `seed=${seed} ${type} rot=${rotaryDim}/${headDim} inverse=${inverse} ${where}`;
            expect(firstBitMismatch(got.q, want.q), `${ctx}: q`).toBe(-1);
            expect(firstBitMismatch(got.k!, want.k!), `${ctx}: k`).toBe(-1);
          }
        }
        // In place.
        const q1 = p.q.slice();
        const q2 = p.q.slice();
        rope({ q: q1, numHeads: 3, headDim, rotaryDim, layout, positions: Int32Array.from(p.positions), frequencies });
        rope({ q: q2, numHeads: 3, headDim, rotaryDim, layout, positions: Int32Array.from(p.positions), cache });
        expect(firstBitMismatch(q2, q1), `seed=${seed} ${type} in place`).toBe(-1);
      }
    });
  }

  it('the cache is the same on every ISA and thread count; ropeAsync with a cache gives the sync bits', async () => {
    const available = capabilities().available as Isa[];
    const make = () => ropeCache({ rotaryDim: 128, base: 1e4, scaling: { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 8192 }, maxPosition: 20000 });
    setIsa('scalar');
    setThreads(1);
    const want = make();
    for (const isa of available) {
      for (const t of [1, 2]) {
        setIsa(isa);
        setThreads(t);
        const before = capabilities().kernelCalls[isa];
        const c = make();
        expect(capabilities().kernelCalls[isa] - before, `${isa}: kernelCalls`).toBe(1);
        expect(firstBitMismatch(c.cos, want.cos), `${isa} x${t} cos`).toBe(-1);
        expect(firstBitMismatch(c.sin, want.sin), `${isa} x${t} sin`).toBe(-1);
      }
    }
    setIsa(initialIsa);
    setThreads(initialThreads);
    const rng = new Rng(freshSeed());
    const p = makeProblem(rng, { tokens: 40, numHeads: 4, numKvHeads: 2, headDim: 128, rotaryDim: 128, layout: 'gptj' }, 19999);
    const o = { q: p.q, k: p.k, numHeads: 4, numKvHeads: 2, headDim: 128, layout: 'gptj' as const, positions: BigInt64Array.from(p.positions.map(BigInt)), cache: want };
    const s = rope({ ...o, out: poisoned(p.q.length), outK: poisoned(p.k.length) });
    const a = await ropeAsync({ ...o, out: poisoned(p.q.length), outK: poisoned(p.k.length) });
    expect(firstBitMismatch(a.q, s.q)).toBe(-1);
    expect(firstBitMismatch(a.k!, s.k!)).toBe(-1);
  });

  it('ropeCache rejects bad options', () => {
    expect(() => ropeCache({ rotaryDim: 64, base: 1e4, maxPosition: 0 })).toThrow(/maxPosition must be a positive integer, got 0/);
    expect(() => ropeCache({ rotaryDim: 64, base: 1e4, maxPosition: 1.5 })).toThrow(RangeError);
    expect(() => ropeCache({ rotaryDim: 64, base: 1e4, maxPosition: NaN })).toThrow(/maxPosition/);
    expect(() => ropeCache({ rotaryDim: 63, base: 1e4, maxPosition: 8 })).toThrow(/rotaryDim must be even, got 63/);
    expect(() => ropeCache({ rotaryDim: 64, maxPosition: 8 })).toThrow(/needs exactly one of base and frequencies/);
    expect(() => ropeCache({ rotaryDim: 64, base: 1e4, maxPosition: 2 ** 40 })).toThrow(/cannot allocate a cache/);
    expect(() => ropeCache({ rotaryDim: 64, frequencies: { invFreq: new Float64Array(32).fill(Infinity), attentionFactor: 1 }, maxPosition: 8 })).toThrow(/invFreq\[0\] = Infinity is not finite/);
    expect(() => (ropeCache as (o: unknown) => RopeCache)(undefined)).toThrow(/ropeCache expects an options object/);
  });
});

describe('ropeRerotate', () => {
  for (const layout of LAYOUTS) {
    it(`${layout}: keys rotated at from, re-rotated to to, equal keys rotated at to`, () => {
      const seed = freshSeed();
      const rng = new Rng(seed);
      const headDim = 80;
      const rotaryDim = 48;
      const tokens = 11;
      const k = randomTable(rng, tokens * 2, headDim);
      const from = Array.from({ length: tokens }, () => rng.int(0, 1 << 22));
      const to = Array.from({ length: tokens }, () => rng.int(0, 1 << 22));
      const scaling: RopeScaling = { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 8192 };
      const o = { numHeads: 2, headDim, rotaryDim, layout, base: 5e5, scaling };
      const atFrom = rope({ ...o, q: k, out: new Float32Array(k.length), positions: Int32Array.from(from) }).q;
      const atTo = rope({ ...o, q: k, out: new Float32Array(k.length), positions: Int32Array.from(to) }).q;
      const moved = atFrom.slice();
      const r = ropeRerotate({ k: moved, numKvHeads: 2, headDim, rotaryDim, layout, fromPositions: Int32Array.from(from), toPositions: BigInt64Array.from(to.map(BigInt)), base: 5e5, scaling });
      expect(r).toBe(moved);
      expect(relErr(moved, atTo), `seed=${seed}`).toBeLessThan(2 * BOUND);
      expect(tailExact(moved, k, headDim, rotaryDim)).toBe(true);
      // A context shift with offsets: tokens at 5000 + t move to t.
      const shifted = rope({ ...o, q: k, out: new Float32Array(k.length), offset: 5000 }).q;
      const back = ropeRerotate({ k: shifted, numKvHeads: 2, headDim, rotaryDim, layout, fromOffset: 5000, toOffset: 0, base: 5e5, scaling, out: new Float32Array(k.length) });
      const at0 = rope({ ...o, q: k, out: new Float32Array(k.length), offset: 0 }).q;
      expect(relErr(back, at0), `seed=${seed}`).toBeLessThan(2 * BOUND);
    });

    it(`${layout}: fromFrequencies -> toFrequencies (LongRoPE short -> long, and an attention factor change)`, () => {
      const seed = freshSeed();
      const rng = new Rng(seed);
      const d = 64;
      const short = Array.from({ length: d / 2 }, () => 1 + rng.float());
      const long = Array.from({ length: d / 2 }, () => 1 + 30 * rng.float());
      const lr = { type: 'longrope' as const, shortFactor: short, longFactor: long, originalMaxPosition: 4096, maxPosition: 131072 };
      const fShort = ropeFrequencies({ rotaryDim: d, base: 1e4, scaling: lr });
      const fLong = ropeFrequencies({ rotaryDim: d, base: 1e4, scaling: { ...lr, seqLen: 5000 } });
      const fYarn = ropeFrequencies({ rotaryDim: d, base: 1e4, scaling: { type: 'yarn', factor: 8, originalMaxPosition: 4096 } });
      const k = randomTable(rng, 9 * 3, d);
      const positions = Int32Array.from({ length: 9 }, () => rng.int(0, 4096));
      const o = { numHeads: 3, headDim: d, layout, positions };
      for (const [a, b] of [[fShort, fLong], [fShort, fYarn]]) {
        const cached = rope({ ...o, q: k, out: new Float32Array(k.length), frequencies: a }).q;
        const want = rope({ ...o, q: k, out: new Float32Array(k.length), frequencies: b }).q;
        const got = ropeRerotate({ k: cached, numKvHeads: 3, headDim: d, layout, fromPositions: positions, toPositions: positions, fromFrequencies: a, toFrequencies: b, out: new Float32Array(k.length) });
        expect(relErr(got, want), `seed=${seed}`).toBeLessThan(2 * BOUND);
      }
    });
  }
});

describe('async forms', () => {
  it('ropeAsync and ropeRerotateAsync give the sync bits', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const p = makeProblem(rng, { tokens: 50, numHeads: 4, numKvHeads: 2, headDim: 64, rotaryDim: 64, layout: 'gptj' });
    const o = { q: p.q, k: p.k, numHeads: 4, numKvHeads: 2, headDim: 64, layout: 'gptj' as const, positions: Int32Array.from(p.positions), base: 1e4 };
    const s = rope({ ...o, out: new Float32Array(p.q.length), outK: new Float32Array(p.k.length) });
    const a = await ropeAsync({ ...o, out: new Float32Array(p.q.length), outK: new Float32Array(p.k.length) });
    expect(sameBits(a.q, s.q)).toBe(true);
    expect(sameBits(a.k!, s.k!)).toBe(true);
    const r1 = ropeRerotate({ k: s.k!, numKvHeads: 2, headDim: 64, layout: 'gptj', fromOffset: 0, toOffset: 9, base: 1e4, out: new Float32Array(p.k.length) });
    const r2 = await ropeRerotateAsync({ k: s.k!, numKvHeads: 2, headDim: 64, layout: 'gptj', fromOffset: 0, toOffset: 9, base: 1e4, out: new Float32Array(p.k.length) });
    expect(sameBits(r1, r2)).toBe(true);
  });
});

// ---- bad input: the right error class and message, nothing written ------------------------

type Opts = Record<string, unknown>;
const ARRAYS = ['q', 'k', 'positions', 'out', 'outK', 'fromPositions', 'toPositions'];
const cache8 = ropeCache({ rotaryDim: 64, base: 1e4, maxPosition: 8 });
const cachedBase = () => ({ ...ropeBase(), base: undefined, cache: cache8 });

function ropeBase(): Opts {
  const q = new Float32Array(2 * 64).map((_, i) => 1 + i);
  const k = new Float32Array(2 * 64).map((_, i) => -1 - i);
  return { q, k, numHeads: 1, numKvHeads: 1, headDim: 64, positions: Int32Array.of(3, 4), layout: 'neox', base: 1e4 };
}

function rerotateBase(): Opts {
  const k = new Float32Array(2 * 2 * 64).map((_, i) => 1 + i);
  return { k, numKvHeads: 2, headDim: 64, fromPositions: Int32Array.of(10, 11), toPositions: Int32Array.of(0, 1), layout: 'neox', base: 1e4 };
}

function snapshot(o: unknown): Map<string, Uint8Array> {
  const m = new Map<string, Uint8Array>();
  if (o === null || typeof o !== 'object') return m;
  for (const key of ARRAYS) {
    const v = (o as Opts)[key];
    if (ArrayBuffer.isView(v)) m.set(key, bytesOf(v));
  }
  return m;
}

async function expectBad(op: 'rope' | 'rerotate', make: () => unknown, cls: ErrorConstructor, message: RegExp) {
  const sync = op === 'rope' ? rope : ropeRerotate;
  const async = op === 'rope' ? ropeAsync : ropeRerotateAsync;
  const o = make();
  const before = snapshot(o);
  let error: unknown;
  try {
    (sync as (x: unknown) => unknown)(o);
  } catch (e) {
    error = e;
  }
  expect(error, 'throws').toBeInstanceOf(cls);
  expect((error as Error).message).toMatch(message);
  for (const [key, bytes] of before) expect(sameBytes(bytesOf((o as Opts)[key] as ArrayBufferView), bytes), `${key} unchanged`).toBe(true);
  const o2 = make();
  const before2 = snapshot(o2);
  const rejection = await (async as (x: unknown) => Promise<unknown>)(o2).then(() => undefined, (e: unknown) => e);
  expect(rejection, 'async rejects').toBeInstanceOf(cls);
  expect((rejection as Error).message).toMatch(message);
  for (const [key, bytes] of before2) expect(sameBytes(bytesOf((o2 as Opts)[key] as ArrayBufferView), bytes), `async: ${key} unchanged`).toBe(true);
}

const patch = (base: () => Opts, p: Opts | ((o: Opts) => Opts)) => () => {
  const o = base();
  const extra = typeof p === 'function' ? p(o) : p;
  const r = { ...o, ...extra };
  for (const [key, v] of Object.entries(extra)) if (v === undefined) delete r[key];
  return r;
};

describe('bad input throws, names the argument, writes nothing', () => {
  const R = (p: Opts | ((o: Opts) => Opts)) => patch(ropeBase, p);
  const cases: Array<[string, 'rope' | 'rerotate', () => unknown, ErrorConstructor, RegExp]> = [
    ['options null', 'rope', () => null, TypeError, /rope(Async)? expects an options object, got null/],
    ['headDim odd', 'rope', R({ headDim: 63, q: new Float32Array(126), k: undefined }), RangeError, /headDim must be even, got 63/],
    ['headDim odd with rotaryDim', 'rope', R({ headDim: 63, rotaryDim: 32, q: new Float32Array(126), k: undefined }), RangeError, /headDim must be even, got 63/],
    ['rotaryDim odd', 'rope', R({ rotaryDim: 33 }), RangeError, /rotaryDim must be even, got 33/],
    ['rotaryDim > headDim', 'rope', R({ rotaryDim: 66 }), RangeError, /rotaryDim must be from 2 to 64, got 66/],
    ['rotaryDim 0', 'rope', R({ rotaryDim: 0 }), RangeError, /rotaryDim must be from 2/],
    ['positions negative', 'rope', R({ positions: Int32Array.of(3, -1) }), RangeError, /positions\[1\] = -1 is out of range: positions must be from 0/],
    ['positions negative (BigInt64)', 'rope', R({ positions: BigInt64Array.of(-5n, 1n) }), RangeError, /positions\[0\] = -5 is out of range/],
    ['positions too short', 'rope', R({ positions: Int32Array.of(3) }), RangeError, /positions.length must equal the number of tokens 2, got 1/],
    ['positions too long', 'rope', R({ positions: Int32Array.of(3, 4, 5) }), RangeError, /positions.length must equal the number of tokens 2, got 3/],
    ['positions Float32Array', 'rope', R({ positions: new Float32Array(2) }), TypeError, /positions must be an Int32Array, Uint32Array or BigInt64Array, got Float32Array/],
    ['positions and offset', 'rope', R({ offset: 4 }), TypeError, /give positions or offset, not both/],
    ['offset negative', 'rope', R({ positions: undefined, offset: -1 }), RangeError, /offset must be from 0 to/],
    ['offset fractional', 'rope', R({ positions: undefined, offset: 1.5 }), RangeError, /offset must be an integer, got 1.5/],
    ['q length not tokens x heads x headDim', 'rope', R({ q: new Float32Array(130) }), RangeError, /q.length 130 is not a multiple of numHeads 1 x headDim 64 = 64/],
    ['k with another token count', 'rope', R({ k: new Float32Array(3 * 64) }), RangeError, /k.length must be tokens 2 x numKvHeads 1 x headDim 64 = 128 \(q has 2 tokens\), got 192/],
    ['k for the wrong numKvHeads', 'rope', R({ numKvHeads: 2 }), RangeError, /k.length must be tokens 2 x numKvHeads 2 x headDim 64 = 256/],
    ['q Float64Array', 'rope', R({ q: new Float64Array(128) }), TypeError, /q must be a Float32Array, got Float64Array/],
    ['q missing', 'rope', R({ q: undefined }), TypeError, /q must be a Float32Array, got undefined/],
    ['k plain array', 'rope', R({ k: new Array(128).fill(0) }), TypeError, /k must be a Float32Array, got Array/],
    ['numHeads 0', 'rope', R({ numHeads: 0 }), RangeError, /numHeads must be from 1/],
    ['numHeads string', 'rope', R({ numHeads: '1' }), TypeError, /numHeads must be a number, got string/],
    ['base NaN', 'rope', R({ base: NaN }), RangeError, /base must be a finite number, got NaN/],
    ['base Infinity', 'rope', R({ base: Infinity }), RangeError, /base must be a finite number, got Infinity/],
    ['base and frequencies', 'rope', R({ frequencies: { invFreq: new Float64Array(32), attentionFactor: 1 } }), TypeError, /rope(Async)? needs exactly one of base and frequencies/],
    ['neither base nor frequencies', 'rope', R({ base: undefined }), TypeError, /needs exactly one of base and frequencies/],
    ['layout unknown', 'rope', R({ layout: 'llama' }), TypeError, /layout must be one of 'neox', 'gptj', got 'llama'/],
    ['scaling type unknown', 'rope', R({ scaling: { type: 'ntk' } }), TypeError, /scaling.type must be one of/],
    ['scaling with frequencies', 'rope', R({ base: undefined, frequencies: ropeFrequencies({ rotaryDim: 64, base: 1e4 }), scaling: { type: 'linear', factor: 2 } }), TypeError, /scaling applies with base/],
    ['invFreq wrong length', 'rope', R({ base: undefined, frequencies: { invFreq: new Float64Array(16).fill(1), attentionFactor: 1 } }), RangeError, /invFreq.length must be rotaryDim \/ 2 = 32, got 16/],
    ['invFreq Float32Array', 'rope', R({ base: undefined, frequencies: { invFreq: new Float32Array(32), attentionFactor: 1 } }), TypeError, /invFreq must be a Float64Array, got Float32Array/],
    ['invFreq NaN entry', 'rope', R({ base: undefined, frequencies: { invFreq: new Float64Array(32).fill(NaN), attentionFactor: 1 } }), RangeError, /invFreq\[0\] = NaN is not finite/],
    ['attentionFactor NaN', 'rope', R({ base: undefined, frequencies: { invFreq: new Float64Array(32), attentionFactor: NaN } }), RangeError, /attentionFactor must be a positive finite number, got NaN/],
    ['inverse not boolean', 'rope', R({ inverse: 'yes' }), TypeError, /inverse must be a boolean, got string/],
    ['out wrong length', 'rope', R({ out: new Float32Array(64) }), RangeError, /out.length must equal q.length 128, got 64/],
    ['out Float64Array', 'rope', R({ out: new Float64Array(128) }), TypeError, /out must be a Float32Array, got Float64Array/],
    ['outK without k', 'rope', R({ k: undefined, outK: new Float32Array(128) }), TypeError, /outK was given without k/],
    ['out is k', 'rope', R((o) => ({ out: o.k })), TypeError, /must not share memory with/],
    ['k overlaps q', 'rope', R(() => { const b = new Float32Array(192).fill(2); return { q: b.subarray(0, 128), k: b.subarray(64, 192) }; }), TypeError, /k must not share memory with q/],
    ['out overlaps positions', 'rope', R(() => { const b = new Float32Array(130); return { out: b.subarray(0, 128), positions: new Int32Array(b.buffer, 504, 2) }; }), TypeError, /out must not share memory with positions/],
    ['cache and base', 'rope', R({ cache: cache8 }), TypeError, /give base \/ scaling \/ frequencies or cache, not both/],
    ['cache not an object', 'rope', patch(cachedBase, { cache: 'cos' }), TypeError, /cache must be an object from ropeCache, got 'cos'/],
    ['cache for another rotaryDim', 'rope', patch(cachedBase, { cache: ropeCache({ rotaryDim: 32, base: 1e4, maxPosition: 8 }) }), RangeError, /cache.rotaryDim 32 must equal the call's headDim 64/],
    ['position beyond the cache', 'rope', patch(cachedBase, { positions: Int32Array.of(7, 8) }), RangeError, /positions\[1\] = 8 is beyond the cache: cache.maxPosition is 8/],
    ['offset beyond the cache', 'rope', patch(cachedBase, { positions: undefined, offset: 7 }), RangeError, /offset 7 \+ tokens 2 exceeds cache.maxPosition 8/],
    ['cache.cos too short', 'rope', patch(cachedBase, { cache: { ...cache8, cos: new Float32Array(31) } }), RangeError, /cache.cos.length must be a positive multiple of rotaryDim \/ 2 = 32, got 31/],
    ['cache.sin shorter than cos', 'rope', patch(cachedBase, { cache: { ...cache8, sin: new Float32Array(32) } }), RangeError, /cache.sin.length must equal cache.cos.length 256, got 32/],
    ['cache.sin Float64Array', 'rope', patch(cachedBase, { cache: { ...cache8, sin: new Float64Array(256) } }), TypeError, /cache.sin must be a Float32Array, got Float64Array/],
    ['out overlaps cache.cos', 'rope', patch(cachedBase, (o) => { const b = new Float32Array(1024); return { out: b.subarray(0, (o.q as Float32Array).length), cache: { ...cache8, cos: b.subarray(0, 256) } }; }), TypeError, /out must not share memory with cache.cos/],
    ['rerotate: k length', 'rerotate', patch(rerotateBase, { k: new Float32Array(100) }), RangeError, /k.length 100 is not a multiple of numKvHeads 2 x headDim 64 = 128/],
    ['rerotate: fromPositions negative', 'rerotate', patch(rerotateBase, { fromPositions: Int32Array.of(0, -2) }), RangeError, /fromPositions\[1\] = -2 is out of range/],
    ['rerotate: toPositions wrong length', 'rerotate', patch(rerotateBase, { toPositions: Int32Array.of(0) }), RangeError, /toPositions.length must equal the number of tokens 2, got 1/],
    ['rerotate: headDim odd', 'rerotate', patch(rerotateBase, { headDim: 65, k: new Float32Array(260) }), RangeError, /headDim must be even, got 65/],
    ['rerotate: one frequency set of two', 'rerotate', patch(rerotateBase, { base: undefined, toFrequencies: ropeFrequencies({ rotaryDim: 64, base: 1e4 }) }), TypeError, /needs both fromFrequencies and toFrequencies/],
    ['rerotate: base NaN', 'rerotate', patch(rerotateBase, { base: NaN }), RangeError, /base must be a finite number, got NaN/],
    ['rerotate: layout', 'rerotate', patch(rerotateBase, { layout: 1 }), TypeError, /layout must be one of 'neox', 'gptj', got 1/],
  ];
  it.each(cases)('%s', (_n, op, make, cls, message) => expectBad(op, make, cls, message));
});
