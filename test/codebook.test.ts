// The codebook family against float64 references (test/codebook-reference.ts) on fresh,
// seeded random data (rerun with TEST_SEED=<seed>).
// Bounds: vqLogits is exact (a copy); log-partition, log-softmax, loss and gradient within
// 1e-6 relative / 1e-6 absolute of the explicit V-sized float64 computation (float64 inside,
// one float32 rounding out); the gradient also against central finite differences of the
// reference loss (1e-6 absolute); top-k ids exact and log-probabilities within 1e-6; sampling
// against the expanded softmax by chi-square (100,000 draws, p < 1e-6 to fail);
// codebookAssign's chosen code within 1e-5 x scale of the brute-force best (float32 scores
// may order near-ties differently) and its distance within 1e-6 relative of the chosen
// code's float64 distance; PQ encode/decode round trip error equal to the reference
// quantizer's within 1e-5 relative; the PQ bag within 1e-6 of embeddingBag over decoded rows
// in float64. Every forced ISA; 1 vs 2 threads bitwise equal; bad input throws with nothing
// written.
import { afterAll, describe, expect, it } from 'vitest';
import {
  codebookAssign,
  codebookAssignAsync,
  getThreads,
  pqDecode,
  pqDecodeAsync,
  pqDistanceTable,
  pqDistanceTableAsync,
  pqEmbeddingBag,
  pqEmbeddingBagAsync,
  pqEncode,
  pqEncodeAsync,
  pqScan,
  pqScanAsync,
  pqTrain,
  pqTrainAsync,
  setThreads,
  VqMap,
  vqCrossEntropy,
  vqCrossEntropyAsync,
  vqLogits,
  vqLogitsAsync,
  vqLogSoftmax,
  vqLogSumExp,
  vqLogSumExpAsync,
  vqSample,
  vqSampleAsync,
  vqTopK,
  vqTopKAsync,
  type Metric,
  type ProductQuantizer,
} from '../lib/index';
import { expectThrowsAndRejects, itOnEachIsa } from './checks';
import {
  refAssign, refCrossEntropy, refExpand, refLogZ, refPqQuantize, refScore, refTokenProbs, refTopK, squaredError,
} from './codebook-reference';
import { Rng, bytesOf, firstMismatch, firstNaN, freshSeed, poisoned, randomTable, relErr, sameBytes } from './reference';

const initialThreads = getThreads();
afterAll(() => setThreads(initialThreads));

// ---- helpers ------------------------------------------------------------------------------

/** A map of V tokens onto K codes, some codes empty when `emptyCodes`. */
function randomMap(rng: Rng, v: number, k: number, emptyCodes = true): Int32Array {
  const used = emptyCodes ? Math.max(1, k - rng.int(0, Math.min(3, k - 1))) : k;
  const t2c = new Int32Array(v);
  for (let t = 0; t < v; t++) t2c[t] = t < used && !emptyCodes ? t : rng.int(0, used - 1);
  // every code in [0, used) gets at least one token when there are enough tokens
  for (let j = 0; j < Math.min(used, v); j++) t2c[rng.int(0, v - 1)] = j;
  return t2c;
}

function randomLogits(rng: Rng, rows: number, k: number, scale = 4): Float32Array {
  return Float32Array.from({ length: rows * k }, () => (rng.float() * 2 - 1) * scale);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Object.is(a[i], b[i]) ? 0 : Math.abs(a[i] - b[i]);
    m = Math.max(m, Number.isNaN(d) ? Infinity : d);
  }
  return m;
}

const SHAPES: Array<[number, number]> = [[1, 1], [7, 3], [128, 5], [129, 17], [1000, 64], [4099, 129]];

// ---- the map --------------------------------------------------------------------------------

describe('VqMap', () => {
  it('counts, ascending inverse lists and copies', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const [v, k] of SHAPES) {
      const t2c = randomMap(rng, v, k);
      const map = new VqMap({ tokenToCode: t2c, numCodes: k });
      const counts = map.counts(), off = map.codeOffsets(), tok = map.codeTokens();
      expect(map.numTokens).toBe(v);
      expect(map.numCodes).toBe(k);
      expect(off[0]).toBe(0);
      expect(off[k]).toBe(v);
      for (let j = 0; j < k; j++) {
        expect(off[j + 1] - off[j], `seed=${seed} count ${j}`).toBe(counts[j]);
        for (let p = off[j]; p < off[j + 1]; p++) {
          expect(t2c[tok[p]]).toBe(j);
          if (p > off[j]) expect(tok[p]).toBeGreaterThan(tok[p - 1]);
        }
      }
      expect(Array.from(map.tokensOf(k - 1))).toEqual(Array.from(tok.slice(off[k - 1], off[k])));
      // Private copies: mutating the input or an accessor's result changes nothing.
      const before = map.counts();
      t2c.fill(0);
      map.counts().fill(-5);
      expect(Array.from(map.counts())).toEqual(Array.from(before));
    }
  });

  it('a code out of range, a bad numCodes or a non-Int32Array is refused', () => {
    expect(() => new VqMap({ tokenToCode: Int32Array.of(0, 3, 1), numCodes: 3 })).toThrow(/tokenToCode\[1\] = 3 is out of range for 3 codes/);
    expect(() => new VqMap({ tokenToCode: Int32Array.of(0, -1), numCodes: 3 })).toThrow(RangeError);
    expect(() => new VqMap({ tokenToCode: Int32Array.of(0), numCodes: 0 })).toThrow(RangeError);
    expect(() => new VqMap({ tokenToCode: new Int32Array(0), numCodes: 2 })).toThrow(RangeError);
    expect(() => new VqMap({ tokenToCode: Uint32Array.of(0) as never, numCodes: 2 })).toThrow(TypeError);
    expect(() => new VqMap({ tokenToCode: Int32Array.of(0), numCodes: '2' as never })).toThrow(TypeError);
  });
});

// ---- VQ-Logits ---------------------------------------------------------------------------------

describe('vqLogits (the V-sized expansion)', () => {
  it('copies each token its code logit, into a poisoned out or a fresh array', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const [v, k] of SHAPES) {
      const rows = rng.int(1, 4);
      const t2c = randomMap(rng, v, k);
      const map = new VqMap({ tokenToCode: t2c, numCodes: k });
      const codeLogits = randomLogits(rng, rows, k);
      const ref = refExpand(codeLogits, k, t2c);
      const out = poisoned(rows * v);
      expect(vqLogits({ codeLogits, map, out })).toBe(out);
      expect(firstMismatch(out, ref), `seed=${seed} V=${v} K=${k}`).toBe(-1);
      expect(firstMismatch(vqLogits({ codeLogits, map }), ref)).toBe(-1);
      expect(firstMismatch(await vqLogitsAsync({ codeLogits, map }), ref)).toBe(-1);
    }
  });

  itOnEachIsa('vqLogits is exact', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    let calls = 0;
    for (const [v, k] of [...SHAPES, [70000, 300] as [number, number]]) {
      const t2c = randomMap(rng, v, k);
      const map = new VqMap({ tokenToCode: t2c, numCodes: k });
      const codeLogits = randomLogits(rng, 3, k);
      const got = vqLogits({ codeLogits, map, out: poisoned(3 * v) });
      calls++;
      expect(firstMismatch(got, refExpand(codeLogits, k, t2c)), `seed=${seed} V=${v}`).toBe(-1);
    }
    return calls;
  });
});

describe('log-partition, log-softmax and cross-entropy in O(K)', () => {
  it('log Z equals the explicit V-sized logsumexp (V up to 200,000)', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const [v, k] of [...SHAPES, [200000, 1024] as [number, number]]) {
      const rows = v > 10000 ? 2 : rng.int(1, 5);
      const t2c = randomMap(rng, v, k);
      const map = new VqMap({ tokenToCode: t2c, numCodes: k });
      const codeLogits = randomLogits(rng, rows, k, 20);
      const ref = refLogZ(codeLogits, k, t2c);
      const got = vqLogSumExp({ codeLogits, map });
      expect(relErr(got, ref), `seed=${seed} V=${v} K=${k}`).toBeLessThan(1e-6);
      expect(relErr(await vqLogSumExpAsync({ codeLogits, map }), ref)).toBeLessThan(1e-6);
      // log-softmax: token t's log-probability is out[b][code(t)].
      const ls = vqLogSoftmax({ codeLogits, map });
      for (let b = 0; b < rows; b++) {
        for (let t = 0; t < Math.min(v, 300); t++) {
          const want = codeLogits[b * k + t2c[t]] - ref[b];
          expect(Math.abs(ls[b * k + t2c[t]] - want), `seed=${seed} log-softmax`).toBeLessThan(1e-5 * Math.max(1, Math.abs(want)));
        }
      }
    }
  });

  it('-Infinity codes, empty codes and NaN', () => {
    const t2c = Int32Array.of(0, 0, 2, 2, 2);  // code 1 and 3 have no token
    const map = new VqMap({ tokenToCode: t2c, numCodes: 4 });
    const L = Float32Array.of(1, 1e30, -Infinity, NaN, /* row 2 */ -Infinity, 5, -Infinity, 7, /* row 3 */ NaN, 0, 1, 0);
    const z = vqLogSumExp({ codeLogits: L, map });
    expect(z[0]).toBeCloseTo(1 + Math.log(2), 6);  // empty codes (even 1e30 / NaN) stand for nothing
    expect(z[1]).toBe(-Infinity);
    expect(Number.isNaN(z[2])).toBe(true);
    const ce = vqCrossEntropy({ codeLogits: L.slice(0, 4), map, targets: Int32Array.of(4) });
    expect(ce.loss[0]).toBe(Infinity);  // the target's code is masked out
    expect(Array.from(ce.grad)).toEqual([1, 0, -1, 0]);
  });

  it('cross-entropy loss and gradient against the V-sized softmax and finite differences', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const [v, k] of [...SHAPES, [200000, 1024] as [number, number]]) {
      const rows = v > 10000 ? 2 : rng.int(1, 5);
      const t2c = randomMap(rng, v, k);
      const map = new VqMap({ tokenToCode: t2c, numCodes: k });
      const codeLogits = randomLogits(rng, rows, k, 6);
      const targets = Int32Array.from({ length: rows }, () => rng.int(0, v - 1));
      const ref = refCrossEntropy(codeLogits, k, t2c, targets);
      const got = vqCrossEntropy({ codeLogits, map, targets });
      expect(relErr(got.loss, ref.loss), `seed=${seed} loss V=${v}`).toBeLessThan(1e-6);
      expect(maxAbsDiff(got.grad, ref.grad), `seed=${seed} grad V=${v}`).toBeLessThan(1e-6);
      const again = await vqCrossEntropyAsync({ codeLogits, map, targets: BigInt64Array.from(targets, BigInt) });
      expect(sameBytes(bytesOf(again.grad), bytesOf(got.grad))).toBe(true);
      if (v > 5000) continue;
      // Central differences of the float64 reference loss, per code logit of row 0.
      const h = 1e-4;
      const x = Float64Array.from(codeLogits);
      for (let j = 0; j < Math.min(k, 20); j++) {
        const at = (delta: number) => {
          const y = x.slice();
          y[j] += delta;
          return refCrossEntropy(y, k, t2c, targets).loss[0];
        };
        const fd = (at(h) - at(-h)) / (2 * h);
        expect(Math.abs(got.grad[j] - fd), `seed=${seed} d loss / d L_${j}`).toBeLessThan(1e-6 + 1e-6 * Math.abs(fd));
      }
    }
  });
});

describe('vqTopK', () => {
  it('equals sorting the expanded row, ties across codes merged in token order', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const [v, k] of [...SHAPES, [20000, 1024] as [number, number]]) {
      const rows = rng.int(1, 4);
      const t2c = randomMap(rng, v, k);
      const map = new VqMap({ tokenToCode: t2c, numCodes: k });
      // Few distinct values: many ties across codes; some codes masked with -Infinity.
      const codeLogits = Float32Array.from({ length: rows * k }, () => (rng.bool(0.1) ? -Infinity : rng.int(-3, 3)));
      for (const topK of [1, Math.min(v, 5), Math.min(v, 50), v]) {
        const ref = refTopK(codeLogits, k, t2c, topK);
        const got = vqTopK({ codeLogits, map, k: topK });
        expect(Array.from(got.ids), `seed=${seed} V=${v} K=${k} k=${topK}`).toEqual(Array.from(ref.ids));
        expect(maxAbsDiff(got.logProbs, ref.logProbs), `seed=${seed}`).toBeLessThan(1e-5);
        if (topK === 5) {
          const a = await vqTopKAsync({ codeLogits, map, k: topK });
          expect(Array.from(a.ids)).toEqual(Array.from(got.ids));
        }
      }
    }
  });

  it('NaN codes rank last', () => {
    const map = new VqMap({ tokenToCode: Int32Array.of(1, 0, 1, 2), numCodes: 3 });
    const got = vqTopK({ codeLogits: Float32Array.of(NaN, -1, -Infinity), map, k: 4 });
    expect(Array.from(got.ids)).toEqual([0, 2, 3, 1]);
  });
});

describe('vqSample', () => {
  it('draws from the expanded softmax (chi-square over 100,000 draws), reproducibly', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const v = 12, k = 5;
    const t2c = Int32Array.of(0, 1, 1, 2, 2, 2, 0, 4, 4, 1, 2, 4);  // code 3 has no token
    const map = new VqMap({ tokenToCode: t2c, numCodes: k });
    const row = Float32Array.of(0.3, -0.5, 0.1, 9, -Infinity);  // code 4 is masked out
    const draws = 100000;
    const codeLogits = new Float32Array(draws * k);
    for (let b = 0; b < draws; b++) codeLogits.set(row, b * k);
    for (const temperature of [1, 0.7]) {
      const s = rng.int(0, 2 ** 30);
      const got = vqSample({ codeLogits, map, seed: s, temperature });
      const p = refTokenProbs(row, t2c, temperature);
      const counts = new Float64Array(v);
      for (const t of got) counts[t]++;
      let chi2 = 0, df = -1;
      for (let t = 0; t < v; t++) {
        if (p[t] === 0) {
          expect(counts[t], `seed=${seed} token ${t} has probability 0`).toBe(0);
          continue;
        }
        chi2 += (counts[t] - draws * p[t]) ** 2 / (draws * p[t]);
        df++;
      }
      // df = 8: P(chi2 > 45) < 1e-6.
      expect(df).toBe(8);
      expect(chi2, `seed=${seed} T=${temperature}: chi-square ${chi2.toFixed(2)}`).toBeLessThan(45);
      expect(sameBytes(bytesOf(vqSample({ codeLogits, map, seed: s, temperature })), bytesOf(got))).toBe(true);
      setThreads(1);
      const one = vqSample({ codeLogits, map, seed: s, temperature });
      setThreads(2);
      expect(sameBytes(bytesOf(vqSample({ codeLogits, map, seed: s, temperature })), bytesOf(one)), '1 vs 2 threads').toBe(true);
      setThreads(initialThreads);
      expect(sameBytes(bytesOf(await vqSampleAsync({ codeLogits, map, seed: s, temperature })), bytesOf(one))).toBe(true);
    }
    const none = vqSample({ codeLogits: Float32Array.of(-Infinity, -Infinity, -Infinity, 1, -Infinity), map, seed: 1 });
    expect(none[0]).toBe(-1);
  });
});

// ---- codebookAssign ---------------------------------------------------------------------------

function checkAssign(x: Float32Array, dim: number, codebook: Float32Array, numCodes: number, metric: Metric, ctx: string) {
  const ref = refAssign(x, dim, codebook, numCodes, metric);
  const got = codebookAssign({ x, dim, codebook, numCodes, metric });
  const rows = x.length / dim;
  for (let r = 0; r < rows; r++) {
    const c = got.codes[r];
    expect(c >= 0 && c < numCodes, `${ctx} row ${r}`).toBe(true);
    const mine = refScore(x, r * dim, codebook, c * dim, dim, metric);
    let scale = 0;
    for (let i = 0; i < dim; i++) scale += x[r * dim + i] ** 2 + codebook[c * dim + i] ** 2;
    // The chosen code is the best up to float32 rounding of the scores.
    const slack = metric === 'l2' ? mine - ref.best[r] : ref.best[r] - mine;
    expect(slack, `${ctx} row ${r}: code ${c} vs best ${ref.codes[r]}`).toBeLessThanOrEqual(1e-5 * scale);
    if (slack === 0 && ref.codes[r] !== c) {
      // an exact tie: the lowest index must win
      expect(c, `${ctx} row ${r}: ties go to the lowest index`).toBeLessThan(ref.codes[r]);
    }
    expect(Math.abs(got.distances[r] - mine), `${ctx} row ${r} distance`).toBeLessThanOrEqual(1e-6 * Math.max(Math.abs(mine), 1e-30) + 1e-30);
  }
  return got;
}

describe('codebookAssign', () => {
  itOnEachIsa('nearest codeword against brute force (l2 and ip, odd dims)', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    let calls = 0;
    for (const dim of [1, 7, 16, 33, 128, 129]) {
      const numCodes = rng.pick([1, 5, 16, 17, 100]);
      const rows = rng.int(1, 140);
      const x = randomTable(rng, rows, dim);
      const codebook = randomTable(rng, numCodes, dim);
      for (const metric of ['l2', 'ip'] as Metric[]) {
        checkAssign(x, dim, codebook, numCodes, metric, `seed=${seed} dim=${dim} K=${numCodes} ${metric}`);
        calls++;
      }
    }
    return calls;
  });

  it('duplicated codewords: the lowest index wins; 1 vs 2 threads bitwise; async', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 24, numCodes = 40, rows = 3000;
    const base = randomTable(rng, 10, dim);
    const codebook = new Float32Array(numCodes * dim);
    for (let c = 0; c < numCodes; c++) codebook.set(base.subarray((c % 10) * dim, (c % 10 + 1) * dim), c * dim);
    const x = randomTable(rng, rows, dim);
    const got = checkAssign(x, dim, codebook, numCodes, 'l2', `seed=${seed}`);
    for (const c of got.codes) expect(c).toBeLessThan(10);
    setThreads(1);
    const one = codebookAssign({ x, dim, codebook, numCodes, metric: 'ip' });
    setThreads(2);
    const two = codebookAssign({ x, dim, codebook, numCodes, metric: 'ip' });
    setThreads(initialThreads);
    expect(sameBytes(bytesOf(one.codes), bytesOf(two.codes))).toBe(true);
    expect(sameBytes(bytesOf(one.distances), bytesOf(two.distances))).toBe(true);
    const a = await codebookAssignAsync({ x, dim, codebook, numCodes, metric: 'ip' });
    expect(sameBytes(bytesOf(a.codes), bytesOf(one.codes))).toBe(true);
  });
});

// ---- product quantization ----------------------------------------------------------------------

function clustered(rng: Rng, n: number, dim: number): Float32Array {
  const centers = randomTable(rng, 8, dim);
  const x = new Float32Array(n * dim);
  for (let r = 0; r < n; r++) {
    const c = rng.int(0, 7);
    for (let i = 0; i < dim; i++) x[r * dim + i] = centers[c * dim + i] + 0.1 * (rng.float() - 0.5);
  }
  return x;
}

/** The concatenated sub-codewords of each code row. */
function jsDecode(codes: Uint8Array, pq: ProductQuantizer): Float64Array {
  const { dim, m, bits } = pq;
  const dsub = dim / m, n = codes.length / m;
  const out = new Float64Array(n * dim);
  for (let r = 0; r < n; r++) for (let s = 0; s < m; s++) for (let i = 0; i < dsub; i++) {
    out[r * dim + s * dsub + i] = pq.codebooks[(s * 2 ** bits + codes[r * m + s]) * dsub + i];
  }
  return out;
}

describe('product quantization', () => {
  it('pqTrain is deterministic for a seed on any thread count, and reduces the error', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 12, n = 600;
    const x = clustered(rng, n, dim);
    setThreads(1);
    const a = pqTrain({ x, dim, m: 3, bits: 4, iterations: 6, seed: 11 });
    setThreads(2);
    const b = pqTrain({ x, dim, m: 3, bits: 4, iterations: 6, seed: 11 });
    setThreads(initialThreads);
    expect(sameBytes(bytesOf(a.codebooks), bytesOf(b.codebooks)), `seed=${seed}`).toBe(true);
    // One subspace: trained on the calling thread at 1 thread, its assignment split over rows at
    // 2 (fewer subspaces than threads): the same codebook.
    setThreads(1);
    const one = pqTrain({ x, dim, m: 1, bits: 8, iterations: 3, seed: 3 });  // 600 x 256 x 12: several row tasks
    setThreads(2);
    const split = pqTrain({ x, dim, m: 1, bits: 8, iterations: 3, seed: 3 });
    setThreads(initialThreads);
    expect(sameBytes(bytesOf(one.codebooks), bytesOf(split.codebooks)), `seed=${seed} m=1`).toBe(true);
    expect(a.codebooks.length).toBe(16 * dim);
    const c = await pqTrainAsync({ x, dim, m: 3, bits: 4, iterations: 6, seed: 11 });
    expect(sameBytes(bytesOf(c.codebooks), bytesOf(a.codebooks))).toBe(true);
    const zero = pqTrain({ x, dim, m: 3, bits: 4, iterations: 0, seed: 11 });
    const errOf = (pq: ProductQuantizer) => squaredError(pqDecode({ codes: pqEncode({ x, pq }), pq }), x);
    expect(errOf(a), `seed=${seed}: Lloyd steps reduce the error`).toBeLessThanOrEqual(errOf(zero));
    // The initial centroids are rows of x.
    const rows = new Set<string>();
    for (let r = 0; r < n; r++) rows.add(Array.from(x.subarray(r * dim, r * dim + 4)).join());
    for (let cidx = 0; cidx < 16; cidx++) expect(rows.has(Array.from(zero.codebooks.subarray(cidx * 4, cidx * 4 + 4)).join())).toBe(true);
  });

  itOnEachIsa('pqEncode / pqDecode: the round trip error equals the reference quantizer\'s', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    let calls = 0;
    for (const [dim, m, bits] of [[8, 2, 3], [16, 4, 8], [21, 7, 5], [128, 16, 8]] as Array<[number, number, number]>) {
      const n = rng.int(1, 300);
      const x = randomTable(rng, n, dim);
      const pq: ProductQuantizer = { dim, m, bits, codebooks: randomTable(rng, 2 ** bits, dim) };
      const codes = pqEncode({ x, pq });
      calls++;
      expect(codes.length).toBe(n * m);
      const ref = refPqQuantize(x, dim, m, bits, pq.codebooks);
      // (pqDecode is ISA-independent and would count a scalar call here: decode in JS.)
      const decoded = jsDecode(codes, pq);
      const eGot = squaredError(decoded, x), eRef = squaredError(ref.decoded, x);
      expect(Math.abs(eGot - eRef), `seed=${seed} dim=${dim} m=${m} bits=${bits}: ${eGot} vs ${eRef}`).toBeLessThanOrEqual(1e-5 * eRef);
    }
    return calls;
  });

  it('pqDecode for every sub-codeword length (unrolled 2 / 4 / 8 / 16 and any other)', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const [dim, m, bits] of [[6, 6, 2], [8, 4, 3], [16, 4, 8], [16, 2, 8], [32, 2, 4], [21, 7, 5], [40, 8, 1]] as Array<[number, number, number]>) {
      const n = rng.int(1, 200);
      const pq: ProductQuantizer = { dim, m, bits, codebooks: randomTable(rng, 2 ** bits, dim) };
      const codes = Uint8Array.from({ length: n * m }, () => rng.int(0, 2 ** bits - 1));
      expect(firstMismatch(pqDecode({ codes, pq, out: poisoned(n * dim) }), jsDecode(codes, pq)), `seed=${seed} dim=${dim} m=${m}`).toBe(-1);
    }
  });

  // The tables are float64 sums in coordinate order rounded once (codebook.h), so JS's own
  // float64 arithmetic gives their exact bits; the SIMD paths sum codes in lanes and widen the
  // sub-codebook in register blocks where the sub-vector length and code count allow.
  itOnEachIsa('pqDistanceTable is the float64 definition, bitwise, for every sub-vector length and code count', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const special = [NaN, Infinity, -Infinity, 0, -0, 3e-39, 1e30, -7e-20];
    let calls = 0;
    for (const [dim, m, bits] of [[6, 6, 2], [8, 4, 3], [16, 4, 8], [16, 2, 8], [32, 2, 4], [21, 7, 5], [40, 8, 1], [64, 8, 6], [48, 2, 7]] as Array<[number, number, number]>) {
      const ksub = 2 ** bits, dsub = dim / m, nq = rng.int(1, 5);
      const pq: ProductQuantizer = { dim, m, bits, codebooks: randomTable(rng, ksub, dim) };
      const queries = randomTable(rng, nq, dim);
      for (let i = 0; i < 6; i++) {
        pq.codebooks[rng.int(0, pq.codebooks.length - 1)] = special[rng.int(0, special.length - 1)];
        queries[rng.int(0, queries.length - 1)] = special[rng.int(0, special.length - 1)];
      }
      for (const metric of ['l2', 'ip'] as Metric[]) {
        const out = poisoned(nq * m * ksub);
        const tables = pqDistanceTable({ queries, pq, metric, out });
        expect(tables, 'the given out is filled and returned').toBe(out);
        calls++;
        for (let q = 0; q < nq; q++) for (let s = 0; s < m; s++) for (let c = 0; c < ksub; c++) {
          const want = Math.fround(refScore(queries, q * dim + s * dsub, pq.codebooks, (s * ksub + c) * dsub, dsub, metric));
          const got = tables[(q * m + s) * ksub + c];
          if (!(Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want)))) {
            expect(got, `seed=${seed} dim=${dim} m=${m} bits=${bits} ${metric}: query ${q} subspace ${s} code ${c}`).toBe(want);
          }
        }
      }
    }
    return calls;
  });

  // 4-bit codes take the scan's generic loop, 8-bit ones with m = 8 or 16 its unrolled ones.
  it.each([[16, 4, 4], [16, 8, 8], [32, 16, 8]])('distance tables and pqScan against float64 brute force over the coded vectors (dim %i, m %i, bits %i)', async (dim, m, bits) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const n = 5000, nq = 3, k = 10, ksub = 1 << bits, dsub = dim / m;
    const x = randomTable(rng, n, dim);
    const pq: ProductQuantizer = { dim, m, bits, codebooks: randomTable(rng, ksub, dim) };
    const codes = pqEncode({ x, pq });
    const queries = randomTable(rng, nq, dim);
    for (const metric of ['l2', 'ip'] as Metric[]) {
      const tables = pqDistanceTable({ queries, pq, metric });
      const decoded = pqDecode({ codes, pq, out: poisoned(n * dim) });
      expect(firstMismatch(decoded, jsDecode(codes, pq)), 'pqDecode copies the sub-codewords').toBe(-1);
      expect(firstMismatch(await pqDecodeAsync({ codes, pq }), decoded)).toBe(-1);
      for (let q = 0; q < nq; q++) for (let s = 0; s < m; s++) for (let c = 0; c < ksub; c++) {
        const want = refScore(queries, q * dim + s * dsub, pq.codebooks, (s * ksub + c) * dsub, dsub, metric);
        expect(Math.abs(tables[(q * m + s) * ksub + c] - want)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want)));
      }
      const got = pqScan({ queries, codes, pq, k, metric });
      const viaTables = pqScan({ tables, codes, pq, k, metric });
      expect(sameBytes(bytesOf(viaTables.ids), bytesOf(got.ids))).toBe(true);
      for (let q = 0; q < nq; q++) {
        const exact = Array.from({ length: n }, (_, i) => ({ i, d: refScore(queries, q * dim, decoded, i * dim, dim, metric) }));
        exact.sort((a, b) => (metric === 'l2' ? a.d - b.d : b.d - a.d) || a.i - b.i);
        for (let j = 0; j < k; j++) {
          const id = got.ids[q * k + j];
          // the returned distance is the vector's own; the k-th best matches brute force
          expect(Math.abs(got.distances[q * k + j] - refScore(queries, q * dim, decoded, id * dim, dim, metric)), `seed=${seed}`).toBeLessThan(1e-4);
          expect(Math.abs(got.distances[q * k + j] - exact[j].d), `seed=${seed} ${metric} q=${q} rank ${j}`).toBeLessThan(1e-4);
          if (j > 0) {
            const prev = got.distances[q * k + j - 1], cur = got.distances[q * k + j];
            expect(metric === 'l2' ? prev <= cur : prev >= cur).toBe(true);
            if (prev === cur) expect(got.ids[q * k + j]).toBeGreaterThan(got.ids[q * k + j - 1]);
          }
        }
      }
      const a = await pqScanAsync({ queries, codes, pq, k, metric });
      expect(sameBytes(bytesOf(a.ids), bytesOf(got.ids))).toBe(true);
    }
    // duplicate vectors tie: ids ascend
    const dup = new Uint8Array(8 * m).fill(3);
    const tie = pqScan({ queries: queries.subarray(0, dim), codes: dup, pq, k: 5 });
    expect(Array.from(tie.ids)).toEqual([0, 1, 2, 3, 4]);
  });

  it('pqEmbeddingBag equals a bag over the decoded rows (sum / mean, weights, empty bags)', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 24, m = 6, bits = 5, rows = 200;
    const pq: ProductQuantizer = { dim, m, bits, codebooks: randomTable(rng, 32, dim) };
    const codes = pqEncode({ x: randomTable(rng, rows, dim), pq });
    const decoded = pqDecode({ codes, pq });
    const lengths = [0, 3, 1, 40, 0, 7];
    const n = lengths.reduce((a, b) => a + b, 0);
    const indices = Int32Array.from({ length: n }, () => rng.int(0, rows - 1));
    const weights = Float32Array.from({ length: n }, () => rng.float() * 2 - 0.5);
    for (const mode of ['sum', 'mean'] as const) {
      for (const w of [undefined, weights]) {
        const got = pqEmbeddingBag({ codes, pq, indices, lengths: Int32Array.from(lengths), mode, weights: w, out: poisoned(lengths.length * dim) });
        const ref = new Float64Array(lengths.length * dim);
        let p = 0;
        lengths.forEach((len, b) => {
          for (let i = 0; i < len; i++, p++) {
            for (let c = 0; c < dim; c++) ref[b * dim + c] += (w ? w[p] : 1) * decoded[indices[p] * dim + c];
          }
          if (mode === 'mean' && len > 0) for (let c = 0; c < dim; c++) ref[b * dim + c] /= len;
        });
        expect(firstNaN(got)).toBe(-1);
        expect(maxAbsDiff(got, ref), `seed=${seed} ${mode} weights=${!!w}`).toBeLessThan(1e-5);
        const a = await pqEmbeddingBagAsync({ codes, pq, indices, lengths: Int32Array.from(lengths), mode, weights: w });
        expect(sameBytes(bytesOf(a), bytesOf(got))).toBe(true);
      }
    }
    expect(() => pqEmbeddingBag({ codes, pq, indices, lengths: Int32Array.from(lengths), mode: 'max' as never })).toThrow(/mode 'max' cannot be pooled per subspace/);
  });
});

// ---- threads --------------------------------------------------------------------------------

describe('thread-count invariance', () => {
  it('1 vs 2 threads give the same bits for every op', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const v = 50000, k = 257, rows = 9;
    const t2c = randomMap(rng, v, k);
    const map = new VqMap({ tokenToCode: t2c, numCodes: k });
    const codeLogits = randomLogits(rng, rows, k);
    const targets = Int32Array.from({ length: rows }, () => rng.int(0, v - 1));
    const dim = 32, pqx = randomTable(rng, 3000, dim);
    const pq: ProductQuantizer = { dim, m: 8, bits: 8, codebooks: randomTable(rng, 256, dim) };
    const run = () => {
      const codes = pqEncode({ x: pqx, pq });
      return [
        vqLogits({ codeLogits, map }), vqLogSumExp({ codeLogits, map }), vqLogSoftmax({ codeLogits, map }),
        vqCrossEntropy({ codeLogits, map, targets }).grad, vqTopK({ codeLogits, map, k: 60 }).ids,
        vqSample({ codeLogits, map, seed: 5 }), codes, pqDecode({ codes, pq }),
        pqScan({ queries: pqx.subarray(0, 4 * dim), codes, pq, k: 20 }).ids,
        pqEmbeddingBag({ codes, pq, indices: Int32Array.from({ length: 500 }, (_, i) => (i * 7) % 3000), offsets: Int32Array.of(0, 100, 101), mode: 'mean' }),
      ];
    };
    setThreads(1);
    const one = run();
    setThreads(2);
    const two = run();
    setThreads(initialThreads);
    one.forEach((a, i) => expect(sameBytes(bytesOf(a), bytesOf(two[i])), `seed=${seed} output ${i}`).toBe(true));
  });
});

// ---- bad input ----------------------------------------------------------------------------------

describe('bad input throws the documented error with nothing written', () => {
  const map = new VqMap({ tokenToCode: Int32Array.of(0, 1, 1, 2), numCodes: 3 });
  const pq: ProductQuantizer = { dim: 4, m: 2, bits: 2, codebooks: new Float32Array(4 * 4).fill(0.5) };
  const cases: Array<[string, () => Record<string, unknown>, ErrorConstructor, RegExp, (o: never) => unknown, (o: never) => Promise<unknown>]> = [
    ['K mismatch', () => ({ codeLogits: new Float32Array(4), map, out: new Float32Array(4).fill(7) }), RangeError, /not a multiple of the map's 3 codes/, vqLogits, vqLogitsAsync],
    ['targets out of range', () => ({ codeLogits: new Float32Array(6), map, targets: Int32Array.of(1, 4) }), RangeError, /targets\[1\] = 4 is out of range for a vocabulary of 4 tokens/, vqCrossEntropy, vqCrossEntropyAsync],
    ['targets length', () => ({ codeLogits: new Float32Array(6), map, targets: Int32Array.of(1) }), RangeError, /targets.length must equal/, vqCrossEntropy, vqCrossEntropyAsync],
    ['k > V', () => ({ codeLogits: new Float32Array(3), map, k: 5 }), RangeError, /k must be from 1 to 4/, vqTopK, vqTopKAsync],
    ['temperature 0', () => ({ codeLogits: new Float32Array(3), map, seed: 1, temperature: 0 }), RangeError, /temperature must be a finite number > 0/, vqSample, vqSampleAsync],
    ['not a VqMap', () => ({ codeLogits: new Float32Array(3), map: { numCodes: 3 } }), TypeError, /map must be a VqMap/, vqLogSumExp, vqLogSumExpAsync],
    ['codebook size', () => ({ x: new Float32Array(8), dim: 4, codebook: new Float32Array(9), numCodes: 2 }), RangeError, /codebook.length must be numCodes 2 x dim 4/, codebookAssign, codebookAssignAsync],
    ['bits > 8', () => ({ x: new Float32Array(4 * 600), dim: 4, m: 2, bits: 9, iterations: 1 }), RangeError, /bits must be from 1 to 8/, pqTrain, pqTrainAsync],
    ['dim not divisible by m', () => ({ x: new Float32Array(10), pq: { ...pq, dim: 5, codebooks: new Float32Array(20) } }), RangeError, /dim 5 is not divisible by m 2/, pqEncode, pqEncodeAsync],
    ['codes above 2^bits', () => ({ codes: Uint8Array.of(0, 3, 4, 1), pq, out: new Float32Array(8).fill(2) }), RangeError, /codes\[2\] = 4 is out of range for 2\^bits = 4 codes/, pqDecode, pqDecodeAsync],
    ['bag index out of range', () => ({ codes: Uint8Array.of(0, 3, 2, 1), pq, indices: Int32Array.of(0, 2), offsets: Int32Array.of(0), mode: 'sum', out: new Float32Array(4).fill(3) }), RangeError, /indices\[1\] = 2 is out of range for 2 coded rows/, pqEmbeddingBag, pqEmbeddingBagAsync],
    ['tables out of the wrong length', () => ({ queries: new Float32Array(8).fill(1), pq, out: new Float32Array(15).fill(4) }), RangeError, /out.length must be 16 \(queries x m x 2\^bits\), got 15/, pqDistanceTable, pqDistanceTableAsync],
    ['tables out aliasing the queries', () => { const buf = new Float32Array(24).fill(1); return { queries: buf.subarray(0, 8), pq, out: buf.subarray(4, 20) }; }, TypeError, /out must not share memory with queries/, pqDistanceTable, pqDistanceTableAsync],
    ['scan k > n', () => ({ queries: new Float32Array(4), codes: Uint8Array.of(0, 1), pq, k: 2 }), RangeError, /k must be from 1 to 1/, pqScan, pqScanAsync],
  ];
  for (const [what, make, cls, message, sync, async] of cases) {
    it(what, async () => {
      await expectThrowsAndRejects(what, make, cls, message, sync as (o: unknown) => unknown, async as (o: unknown) => Promise<unknown>);
    });
  }
});
