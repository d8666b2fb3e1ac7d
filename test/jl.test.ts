// The JL family against float64 references (test/jl-reference.ts) on fresh, seeded random
// data (rerun with TEST_SEED=<seed>): fwht against the O(n²) Hadamard and applied twice;
// srht / fjlt / sparseProjection against their explicit dense matrices rebuilt from the seed
// with a TypeScript Philox port; pairwise distance distortion within jlDimension's eps; each
// forced ISA; 1 vs 2 threads; the materialized SparseProjection; Async forms; bad input.
// Bounds: ||out - ref|| / ||ref|| < 1e-5 (float32 butterflies and sums of float64-exact
// matrices); every ISA and thread count gives the scalar path's bits.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  capabilities,
  fjlt,
  fjltAsync,
  fwht,
  fwhtAsync,
  getThreads,
  jlDimension,
  makeSparseProjection,
  setIsa,
  setThreads,
  sparseProjection,
  sparseProjectionAsync,
  srht,
  srhtAsync,
  type Isa,
} from '../lib/index';
import { fjltDensity } from '../lib/jl';
import { Rng, bytesOf, detach, firstBitMismatch, firstNaN, freshSeed, poisoned, randomTable, relErr, sameBytes } from './reference';
import {
  applyDense, fjltMatrix, paddedSize, philox, refFwhtDense, refFwhtFast, sample, sparseDenseMatrix, srhtMatrix,
} from './jl-reference';

const BOUND = 1e-5;

// A projection's error relative to the larger of its output's and its input's norm. The
// maps are near norm-preserving, so this is the relative error in all but one case: an
// output that cancels to 0 in the float64 reference (a P row orthogonal to H D x's support,
// seen for fjlt d=3 k=1), where float32 leaves a residue of eps x the input's size.
function projectionErr(got: ArrayLike<number>, ref: ArrayLike<number>, x: ArrayLike<number>): number {
  if (got.length !== ref.length) return Infinity;
  let diff = 0, refNorm = 0, xNorm = 0;
  for (let i = 0; i < ref.length; i++) {
    diff += (got[i] - ref[i]) ** 2;
    refNorm += ref[i] * ref[i];
  }
  for (let i = 0; i < x.length; i++) xNorm += x[i] * x[i];
  const scale = Math.max(refNorm, xNorm);
  if (Number.isNaN(diff)) return NaN;
  if (scale === 0) return diff === 0 ? 0 : Infinity;
  return Math.sqrt(diff / scale);
}
const initialThreads = getThreads();
const initialIsa = capabilities().isa;
afterAll(() => {
  setThreads(initialThreads);
  setIsa(initialIsa);
});

type Op = 'srht' | 'fjlt' | 'sparse';
const OPS: Op[] = ['srht', 'fjlt', 'sparse'];

function runOp(op: Op, x: Float32Array, inDim: number, outDim: number, seed: number | bigint, density?: number, out?: Float32Array): Float32Array {
  if (op === 'srht') return srht({ x, inDim, outDim, seed, out });
  if (op === 'fjlt') return fjlt({ x, inDim, outDim, seed, density, out });
  return sparseProjection({ x, inDim, outDim, seed, density, out });
}

function denseOf(op: Op, seed: bigint, d: number, k: number, density?: number): Float64Array {
  if (op === 'srht') return srhtMatrix(seed, d, k);
  if (op === 'fjlt') return fjltMatrix(seed, d, k, density ?? fjltDensity(d));
  return sparseDenseMatrix(seed, d, k, density ?? 1 / Math.sqrt(d)).m;
}

describe('Philox4x32-10 (TypeScript port used by the references)', () => {
  it('matches the Random123 known answers', () => {
    expect(philox([0, 0, 0, 0], 0, 0)).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    const f = 0xffffffff;
    expect(philox([f, f, f, f], f, f)).toEqual([0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
    expect(philox([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], 0xa4093822, 0x299f31d0))
      .toEqual([0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
  });
});

describe('fwht matches the float64 Hadamard', () => {
  it('every n from 1 to 2^10 against the O(n²) definition, several rows, both scalings', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (let log2 = 0; log2 <= 10; log2++) {
      const n = 2 ** log2;
      for (const normalize of [false, true]) {
        const rows = rng.int(1, log2 > 8 ? 2 : 5);
        const x = randomTable(rng, rows, n);
        const ref = refFwhtDense(x, n, normalize);
        const got = fwht({ x, n, normalize });
        expect(got === x, 'in place, returns x').toBe(true);
        expect(relErr(got, ref), `seed=${seed} n=${n} normalize=${normalize}`).toBeLessThan(BOUND);
      }
    }
  });

  it('long rows (2^13 to 2^20, the column-pass path) against the float64 recursion', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const log2 of [13, 14, 17, 20]) {
      const n = 2 ** log2;
      const rows = log2 <= 14 ? 3 : 1;
      const x = randomTable(rng, rows, n);
      const ref = refFwhtFast(x, n, true);
      fwht({ x, n, normalize: true });
      expect(relErr(x, ref), `seed=${seed} n=2^${log2}`).toBeLessThan(BOUND);
    }
  });

  it('orthonormal fwht applied twice returns the input', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const n of [1, 2, 8, 64, 1024, 2 ** 15]) {
      const x0 = randomTable(rng, 3, n);
      const x = x0.slice();
      fwht({ x, n, normalize: true });
      fwht({ x, n, normalize: true });
      expect(relErr(x, x0), `seed=${seed} n=${n}`).toBeLessThan(1e-6);
    }
  });
});

describe('projections match their dense matrices rebuilt from the seed', () => {
  const shapes: Array<[number, number]> = [[1, 1], [3, 1], [3, 4], [37, 64], [100, 1], [100, 128], [255, 13], [768, 32], [1000, 1024]];
  for (const op of OPS) {
    it(`${op}: odd inDim (padding), outDim 1 and the padded size, Number and BigInt seeds`, () => {
      const seed = freshSeed();
      const rng = new Rng(seed);
      for (const [d, k0] of shapes) {
        const k = op === 'sparse' ? k0 : Math.min(k0, paddedSize(d));
        const s = rng.bool() ? BigInt(rng.int(0, 2 ** 31)) * 4294967296n + BigInt(rng.int(0, 2 ** 31)) : BigInt(rng.int(0, 1e9));
        const rows = rng.int(1, 9);
        const x = randomTable(rng, rows, d);
        const xBefore = bytesOf(x);
        const density = op === 'srht' ? undefined : rng.pick([undefined, 0.5, 1]);
        const out = poisoned(rows * k);
        const got = runOp(op, x, d, k, s <= BigInt(Number.MAX_SAFE_INTEGER) && rng.bool() ? Number(s) : s, density, out);
        const ctx = `seed=${seed} ${op} d=${d} k=${k} rows=${rows} projection seed=${s} density=${density}`;
        expect(got === out, `${ctx}: returns out`).toBe(true);
        expect(firstNaN(got), `${ctx}: every element written`).toBe(-1);
        const ref = applyDense(denseOf(op, s, d, k, density), k, d, x);
        expect(projectionErr(got, ref, x), ctx).toBeLessThan(BOUND);
        expect(sameBytes(bytesOf(x), xBefore), `${ctx}: x untouched`).toBe(true);
        const fresh = runOp(op, x, d, k, s, density);
        expect(firstBitMismatch(fresh, got), `${ctx}: a fresh output has the same bits`).toBe(-1);
      }
    });
  }

  it('srht samples distinct coordinates in ascending order, E||y||² = ||x||²', () => {
    const sel = sample(12345n, 1024, 300);
    expect(new Set(sel).size).toBe(300);
    for (let i = 1; i < sel.length; i++) expect(sel[i]).toBeGreaterThan(sel[i - 1]);
    // The mean of ||y||² / ||x||² over many seeds is 1 (within 4 standard errors).
    const seed = freshSeed();
    const rng = new Rng(seed);
    const x = randomTable(rng, 1, 200);
    const nx = x.reduce((a, v) => a + v * v, 0);
    for (const op of OPS) {
      let sum = 0;
      let sum2 = 0;
      const trials = 400;
      for (let t = 0; t < trials; t++) {
        const y = runOp(op, x, 200, 16, t);
        const r = y.reduce((a, v) => a + v * v, 0) / nx;
        sum += r;
        sum2 += r * r;
      }
      const mean = sum / trials;
      const se = Math.sqrt((sum2 / trials - mean * mean) / trials);
      expect(Math.abs(mean - 1), `seed=${seed} ${op}: mean ${mean} ± ${se}`).toBeLessThan(4 * se + 1e-3);
    }
  });
});

describe('property: random shapes match the reference', () => {
  it(`fwht and every projection, any rows (0 included), inDim, outDim, seed, density (bound ${BOUND})`, () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 0, max: 0x7fffffff }),
          rows: fc.integer({ min: 0, max: 5 }),
          log2n: fc.integer({ min: 0, max: 9 }),
          inDim: fc.integer({ min: 1, max: 130 }),
          outFrac: fc.double({ min: 0, max: 1, noNaN: true }),
          projectionSeed: fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }).map(Number), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
          density: fc.option(fc.double({ min: 0.01, max: 1, noNaN: true }), { nil: undefined }),
          op: fc.constantFrom<Op>('srht', 'fjlt', 'sparse'),
        }),
        (c) => {
          const rng = new Rng(c.seed);
          const ctx = JSON.stringify(c, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v));
          const n = 2 ** c.log2n;
          const f = randomTable(rng, c.rows, n);
          const fRef = refFwhtDense(f, n, true);
          fwht({ x: f, n, normalize: true });
          if (c.rows > 0) expect(relErr(f, fRef), ctx).toBeLessThan(BOUND);
          const k = Math.max(1, Math.round(c.outFrac * paddedSize(c.inDim)));
          const x = randomTable(rng, c.rows, c.inDim);
          const density = c.op === 'srht' ? undefined : c.density;
          const got = runOp(c.op, x, c.inDim, k, c.projectionSeed, density);
          expect(got.length, ctx).toBe(c.rows * k);
          const ref = applyDense(denseOf(c.op, BigInt(c.projectionSeed), c.inDim, k, density), k, c.inDim, x);
          if (c.rows > 0) expect(projectionErr(got, ref, x), ctx).toBeLessThan(BOUND);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('distance distortion within jlDimension', () => {
  for (const op of OPS) {
    it(`${op}: at least 99% of pairwise squared distances within 1 ± eps`, () => {
      const seed = freshSeed();
      const rng = new Rng(seed);
      const points = 40;
      const eps = 0.3;
      const d = 1000;
      const k = jlDimension({ n: points, eps });
      expect(k).toBeLessThanOrEqual(paddedSize(d));
      const x = new Float32Array(points * d);
      for (let i = 0; i < x.length; i++) x[i] = Math.sqrt(-2 * Math.log(1 - rng.float())) * Math.cos(2 * Math.PI * rng.float());
      const y = runOp(op, x, d, k, rng.int(0, 2 ** 31));
      let ok = 0;
      let pairs = 0;
      let worst = 0;
      for (let a = 0; a < points; a++) {
        for (let b = a + 1; b < points; b++) {
          let dx = 0;
          let dy = 0;
          for (let j = 0; j < d; j++) dx += (x[a * d + j] - x[b * d + j]) ** 2;
          for (let j = 0; j < k; j++) dy += (y[a * k + j] - y[b * k + j]) ** 2;
          const dist = Math.abs(dy / dx - 1);
          worst = Math.max(worst, dist);
          if (dist <= eps) ok++;
          pairs++;
        }
      }
      expect(ok / pairs, `seed=${seed} ${op} k=${k}: worst distortion ${worst.toFixed(3)}`).toBeGreaterThanOrEqual(0.99);
    });
  }
});

describe('SparseProjection (materialized CSR)', () => {
  it('holds the seed\'s matrix and apply() gives sparseProjection\'s bits', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const density of [undefined, 'achlioptas', 0.05] as const) {
      const d = rng.int(1, 300);
      const k = rng.int(1, 70);
      const s = BigInt(rng.int(0, 2 ** 30));
      const p = makeSparseProjection({ inDim: d, outDim: k, seed: s, density });
      const q = density === undefined ? 1 / Math.sqrt(d) : density === 'achlioptas' ? 1 / 3 : density;
      const ref = sparseDenseMatrix(s, d, k, q).csr;
      const ctx = `seed=${seed} d=${d} k=${k} density=${density}`;
      expect(Array.from(p.rowPtr), ctx).toEqual(ref.rowPtr);
      expect(Array.from(p.colIdx), ctx).toEqual(ref.colIdx);
      expect(Array.from(p.values), ctx).toEqual(ref.sign.map((v) => v * ref.value));
      const x = randomTable(rng, 11, d);
      const a = sparseProjection({ x, inDim: d, outDim: k, seed: s, density });
      expect(firstBitMismatch(p.apply(x), a), ctx).toBe(-1);
      expect(firstBitMismatch(p.apply(x, poisoned(11 * k)), a), ctx).toBe(-1);
    }
  });

  it('rejects a corrupted matrix without writing', () => {
    const p = makeSparseProjection({ inDim: 10, outDim: 4, seed: 1, density: 1 });
    const x = new Float32Array(20).fill(1);
    const out = poisoned(8);
    p.colIdx[3] = 10;
    expect(() => p.apply(x, out)).toThrow(/colIdx\[3\] = 10 is out of range for inDim 10/);
    expect(firstNaN(out)).toBe(0);
    p.colIdx[3] = 2;
    expect(() => p.apply(x, out)).toThrow(/colIdx\[3\] = 2 must be greater than colIdx\[2\] = 2 \(columns ascend within row 0\)/);
    expect(firstNaN(out)).toBe(0);
    p.colIdx[3] = 3;
    p.rowPtr[2] = 1;
    expect(() => p.apply(x, out)).toThrow(RangeError);
    expect(firstNaN(out)).toBe(0);
  });
});

describe('forced ISA', () => {
  const available = new Set<string>(capabilities().available);
  const ISAS: Isa[] = ['scalar', 'avx2', 'avx512', 'neon'];
  for (const isa of ISAS) {
    const ok = available.has(isa);
    const title = ok ? `isa ${isa}: every op gives the scalar bits and runs on this path` : `isa ${isa}: not available on this CPU (available: ${[...available].join(', ')})`;
    it.skipIf(!ok)(title, () => {
      const seed = freshSeed();
      const rng = new Rng(seed);
      const cases: Array<[string, () => Float32Array]> = [];
      for (const n of [1, 2, 4, 8, 16, 32, 1024, 2 ** 14]) {
        const x = randomTable(rng, rng.int(1, 3), n);
        cases.push([`fwht n=${n}`, () => fwht({ x: x.slice(), n, normalize: n % 3 === 1 })]);
      }
      // Rows at every 4-byte offset in a cache line (the AVX2 path takes rows 16 bytes past a
      // 32-byte boundary on aligned chunks): the whole buffer is compared, so a write outside
      // the view shows as well.
      for (const n of [256, 512, 2 ** 14]) {
        const x = randomTable(rng, 2, n);
        for (let offset = 0; offset < 16; offset++) {
          cases.push([`fwht n=${n} at +${offset} floats`, () => {
            const buffer = new Float32Array(x.length + 16);
            buffer.set(x, offset);
            fwht({ x: buffer.subarray(offset, offset + x.length), n, normalize: true });
            return buffer;
          }]);
        }
      }
      for (const op of OPS) {
        for (const [d, k] of [[1, 1], [13, 16], [768, 128], [9000, 40]] as Array<[number, number]>) {
          const x = randomTable(rng, rng.int(1, 20), d);
          const s = rng.int(0, 1e9);
          cases.push([`${op} d=${d} k=${k}`, () => runOp(op, x, d, k, s)]);
        }
      }
      for (const [name, run] of cases) {
        setIsa('scalar');
        const want = run();
        setIsa(isa);
        const before = capabilities().kernelCalls;
        const got = run();
        const after = capabilities().kernelCalls;
        setIsa(initialIsa);
        const ctx = `seed=${seed} isa=${isa} ${name}`;
        expect(after[isa] - before[isa], `${ctx}: kernelCalls.${isa}`).toBe(1);
        for (const other of ISAS) if (other !== isa) expect(after[other], `${ctx}: no ${other} kernel ran`).toBe(before[other]);
        expect(firstBitMismatch(got, want), ctx).toBe(-1);
      }
    });
  }
});

describe('threads', () => {
  it('1 and 2 threads give identical bits (batched rows, one long row, every projection)', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const runs: Array<[string, () => Float32Array]> = [];
    const batch = randomTable(rng, 512, 1024);
    runs.push(['fwht 512 x 2^10', () => fwht({ x: batch.slice(), n: 1024 })]);
    const long = randomTable(rng, 1, 2 ** 20);
    runs.push(['fwht 1 x 2^20', () => fwht({ x: long.slice(), n: 2 ** 20, normalize: true })]);
    const x = randomTable(rng, 300, 768);
    for (const op of OPS) runs.push([`${op} 300 x 768 -> 128`, () => runOp(op, x, 768, 128, 7)]);
    for (const [name, run] of runs) {
      setThreads(1);
      const a = run();
      setThreads(2);
      const b = run();
      setThreads(initialThreads);
      expect(firstBitMismatch(a, b), `seed=${seed} ${name}`).toBe(-1);
    }
  });
});

describe('async forms', () => {
  it('give the sync results', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const x = randomTable(rng, 20, 300);
    const f = randomTable(rng, 4, 256);
    const want = fwht({ x: f.slice(), n: 256, normalize: true });
    expect(firstBitMismatch(await fwhtAsync({ x: f, n: 256, normalize: true }), want)).toBe(-1);
    expect(firstBitMismatch(await srhtAsync({ x, inDim: 300, outDim: 64, seed: 3 }), srht({ x, inDim: 300, outDim: 64, seed: 3 }))).toBe(-1);
    expect(firstBitMismatch(await fjltAsync({ x, inDim: 300, outDim: 64, seed: 3 }), fjlt({ x, inDim: 300, outDim: 64, seed: 3 }))).toBe(-1);
    expect(firstBitMismatch(await sparseProjectionAsync({ x, inDim: 300, outDim: 64, seed: 3 }), sparseProjection({ x, inDim: 300, outDim: 64, seed: 3 }))).toBe(-1);
    const p = makeSparseProjection({ inDim: 300, outDim: 64, seed: 3 });
    expect(firstBitMismatch(await p.applyAsync(x), p.apply(x))).toBe(-1);
    await expect(srhtAsync({ x, inDim: 300, outDim: 5000, seed: 3 })).rejects.toThrow(RangeError);
  });
});

describe('jlDimension', () => {
  it('is 4 ln(n) / (eps²/2 - eps³/3) rounded up', () => {
    // scikit-learn's johnson_lindenstrauss_min_dim truncates: 5920 and 663 for these two.
    expect(jlDimension({ n: 1000, eps: 0.1 })).toBe(5921);
    expect(jlDimension({ n: 1e6, eps: 0.5 })).toBe(664);
    expect(jlDimension({ n: 1, eps: 0.5 })).toBe(1);
  });
  it('validates', () => {
    expect(() => jlDimension({ n: 0, eps: 0.1 })).toThrow(RangeError);
    expect(() => jlDimension({ n: 1.5, eps: 0.1 })).toThrow(/n must be an integer/);
    expect(() => jlDimension({ n: 10, eps: 1 })).toThrow(/eps must be in \(0, 1\)/);
    expect(() => jlDimension({ n: 10, eps: NaN })).toThrow(RangeError);
    expect(() => jlDimension({ n: '10' as unknown as number, eps: 0.1 })).toThrow(TypeError);
  });
});

describe('bad input throws, names the argument, writes nothing', () => {
  type Opts = Record<string, unknown>;
  const x = () => new Float32Array(20).fill(1.5);
  const base = (): Opts => ({ x: x(), inDim: 10, outDim: 4, seed: 1, out: new Float32Array(8).fill(2) });
  const detached = () => {
    const b = new ArrayBuffer(80);
    const a = new Float32Array(b);
    detach(b);
    return a;
  };
  const fw = (p: Opts) => () => ({ x: x(), n: 4, ...p });
  const pr = (p: Opts | ((o: Opts) => Opts)) => () => {
    const o = base();
    return { ...o, ...(typeof p === 'function' ? p(o) : p) };
  };
  const cases: Array<[string, 'fwht' | Op, () => Opts, ErrorConstructor, RegExp]> = [
    ['fwht: n not a power of two', 'fwht', fw({ n: 5 }), RangeError, /n must be a power of two from 1 to 2\^30, got 5/],
    ['fwht: n 0', 'fwht', fw({ n: 0 }), RangeError, /n must be from 1 to 1073741824, got 0/],
    ['fwht: n 2^31', 'fwht', fw({ n: 2 ** 31 }), RangeError, /n must be from 1 to 1073741824/],
    ['fwht: n NaN', 'fwht', fw({ n: NaN }), RangeError, /n must be an integer, got NaN/],
    ['fwht: n Infinity', 'fwht', fw({ n: Infinity }), RangeError, /n must be an integer, got Infinity/],
    ['fwht: x length', 'fwht', fw({ n: 8 }), RangeError, /x.length 20 is not a multiple of n 8/],
    ['fwht: x Float64Array', 'fwht', fw({ x: new Float64Array(8) }), TypeError, /x must be a Float32Array, got Float64Array/],
    ['fwht: x detached', 'fwht', fw({ x: detached() }), TypeError, /x's ArrayBuffer is detached/],
    ['fwht: normalize string', 'fwht', fw({ normalize: 'yes' }), TypeError, /normalize must be a boolean, got string/],
    ['outDim > padded size', 'srht', pr({ outDim: 17 }), RangeError, /outDim 17 exceeds the padded size 16 of inDim 10/],
    ['outDim > padded size (fjlt)', 'fjlt', pr({ outDim: 17 }), RangeError, /outDim 17 exceeds the padded size 16/],
    ['outDim 0', 'srht', pr({ outDim: 0 }), RangeError, /outDim must be from 1 to 16, got 0/],
    ['outDim NaN', 'sparse', pr({ outDim: NaN }), RangeError, /outDim must be an integer, got NaN/],
    ['outDim string', 'srht', pr({ outDim: '4' }), TypeError, /outDim must be a number, got string/],
    ['inDim not dividing x', 'srht', pr({ inDim: 3 }), RangeError, /x.length 20 is not a multiple of inDim 3/],
    ['inDim 0', 'fjlt', pr({ inDim: 0 }), RangeError, /inDim must be from 1/],
    ['inDim Infinity', 'sparse', pr({ inDim: Infinity }), RangeError, /inDim must be an integer, got Infinity/],
    ['seed fractional', 'srht', pr({ seed: 1.5 }), RangeError, /seed must be an integer from 0 to 9007199254740991 \(or a BigInt below 2\^64\), got 1.5/],
    ['seed negative', 'fjlt', pr({ seed: -1 }), RangeError, /seed must be an integer from 0/],
    ['seed NaN', 'sparse', pr({ seed: NaN }), RangeError, /seed must be an integer from 0.*got NaN/],
    ['seed above 2^53', 'srht', pr({ seed: 2 ** 60 }), RangeError, /seed must be an integer from 0/],
    ['seed string', 'srht', pr({ seed: '1' }), TypeError, /seed must be an integer Number or a BigInt, got string/],
    ['seed missing', 'sparse', pr({ seed: undefined }), TypeError, /seed must be an integer Number or a BigInt, got undefined/],
    ['seed BigInt negative', 'srht', pr({ seed: -1n }), RangeError, /seed must be a BigInt from 0n to 2n \*\* 64n - 1n, got a negative BigInt/],
    ['seed BigInt 2^64', 'fjlt', pr({ seed: 2n ** 64n }), RangeError, /got a larger BigInt/],
    ['density 0', 'fjlt', pr({ density: 0 }), RangeError, /density must be in \(0, 1\], got 0/],
    ['density NaN', 'sparse', pr({ density: NaN }), RangeError, /density must be in \(0, 1\], got NaN/],
    ['density > 1', 'sparse', pr({ density: 1.5 }), RangeError, /density must be in \(0, 1\], got 1.5/],
    ['density unknown name', 'sparse', pr({ density: 'dense' }), TypeError, /density must be a number, 'li' or 'achlioptas', got 'dense'/],
    ['out wrong length', 'srht', pr({ out: new Float32Array(9) }), RangeError, /out.length must be 8 \(rows 2 x outDim 4\), got 9/],
    ['out Float64Array', 'fjlt', pr({ out: new Float64Array(8) }), TypeError, /out must be a Float32Array, got Float64Array/],
    ['out aliases x', 'srht', pr((o) => ({ out: (o.x as Float32Array).subarray(0, 8) })), TypeError, /out must not share memory with x/],
    ['out overlaps x', 'sparse', pr(() => { const b = new Float32Array(24).fill(1); return { x: b.subarray(0, 20), out: b.subarray(16, 24) }; }), TypeError, /out must not share memory with x/],
    ['x detached', 'sparse', pr({ x: detached() }), TypeError, /x's ArrayBuffer is detached/],
    ['x plain array', 'srht', pr({ x: [1, 2, 3] }), TypeError, /x must be a Float32Array, got Array/],
    ['inDim above 2^26 (srht)', 'srht', pr({ inDim: 2 ** 26 + 1 }), RangeError, /inDim must be from 1 to 67108864/],
    ['sparse outDim above 2^24', 'sparse', pr({ outDim: 2 ** 24 + 1 }), RangeError, /outDim must be from 1 to 16777216/],
    ['sparse entries above 2^34', 'sparse', () => ({ x: new Float32Array(2 ** 20), inDim: 2 ** 20, outDim: 2 ** 16, seed: 1 }), RangeError, /outDim 65536 x inDim 1048576 exceeds the 2\^34 entries/],
    ['fjlt entries above 2^34', 'fjlt', () => ({ x: new Float32Array(2 ** 23), inDim: 2 ** 23, outDim: 2 ** 12, seed: 1 }), RangeError, /outDim 4096 x padded inDim 8388608 exceeds the 2\^34 entries/],
  ];
  it.each(cases)('%s', async (_name, op, make, cls, message) => {
    const call = (o: Opts, async: boolean): unknown => {
      const a = o as never;
      if (op === 'fwht') return async ? fwhtAsync(a) : fwht(a);
      if (op === 'srht') return async ? srhtAsync(a) : srht(a);
      if (op === 'fjlt') return async ? fjltAsync(a) : fjlt(a);
      return async ? sparseProjectionAsync(a) : sparseProjection(a);
    };
    const snapshot = (o: Opts) => Object.entries(o).filter(([, v]) => ArrayBuffer.isView(v) && v.buffer.byteLength > 0).map(([k, v]) => [k, bytesOf(v as ArrayBufferView)] as const);
    const o = make();
    const before = snapshot(o);
    expect(() => call(o, false)).toThrow(cls);
    expect(() => call(o, false)).toThrow(message);
    for (const [key, bytes] of before) expect(sameBytes(bytesOf(o[key] as ArrayBufferView), bytes), `${key} unchanged`).toBe(true);
    const o2 = make();
    const rejection = await (call(o2, true) as Promise<unknown>).then(() => undefined, (e: unknown) => e);
    expect(rejection).toBeInstanceOf(cls);
    expect((rejection as Error).message).toMatch(message);
  });
  it('options not an object', () => {
    expect(() => fwht(null as never)).toThrow(/fwht expects an options object, got null/);
    expect(() => srht(3 as never)).toThrow(/srht expects an options object/);
  });
});
