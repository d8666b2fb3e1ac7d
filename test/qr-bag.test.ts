// qrEmbeddingBag: every table format, pooling mode and combine on every forced ISA against the
// float64 reference built from the definition (qrBagProblem: id -> quotient row id / m and
// remainder row id mod m), thread invariance (bags split and, for one huge bag, columns split),
// the async form, and bad input with nothing written. Bounds: max selects table values exactly;
// sum / mean keep the gather family's 1e-6 x condition number. Messages carry the seed
// (rerun with TEST_SEED=<seed>).
import { describe, expect, it } from 'vitest';
import {
  dequantizeTable,
  getThreads,
  qrEmbeddingBag,
  qrEmbeddingBagAsync,
  quantizeTable,
  setThreads,
  type EmbeddingTable,
  type QrCombine,
  type TableFormat,
} from '../lib/index';
import { expectBagClose, expectThrowsAndRejects, itOnEachIsa } from './checks';
import { qrBagProblem } from './compress-reference';
import {
  BOUNDS_KINDS,
  INDEX_KINDS,
  conditionNumber,
  refEmbeddingBag,
  refEmbeddingBagAbs,
  relErr,
  MODES,
  Rng,
  bagOptions,
  describeCase,
  freshSeed,
  poisoned,
  randomIndices,
  randomLengths,
  randomTable,
  randomWeights,
  sameBits,
} from './reference';

const FORMATS: readonly TableFormat[] = ['f32', 'f16', 'bf16', 'q8', 'q4'];
const COMBINES: readonly QrCombine[] = ['sum', 'mul', 'concat'];

interface Pair {
  quotient: EmbeddingTable;
  remainder: EmbeddingTable;
  plainQ: Float32Array;  // the decoded tables
  plainR: Float32Array;
  ids: number;           // quotient rows x m
}

function randomPair(rng: Rng, format: TableFormat, dim: number, maxRows = 20, minRows = 1): Pair {
  const qRows = rng.int(minRows, maxRows);
  const m = rng.int(minRows, maxRows);
  const quotient = quantizeTable({ table: randomTable(rng, qRows, dim), dim, format });
  const remainder = quantizeTable({ table: randomTable(rng, m, dim), dim, format });
  return {
    quotient, remainder,
    plainQ: dequantizeTable({ table: quotient }), plainR: dequantizeTable({ table: remainder }),
    ids: qRows * m,
  };
}

describe('qrEmbeddingBag', () => {
  itOnEachIsa('every format, mode and combine, with weights and padding, against the reference', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    let calls = 0;
    for (const format of FORMATS) {
      for (const dim of [1, 7, 128, 129]) {
        const pair = randomPair(rng, format, dim);
        for (const combine of COMBINES) {
          for (const mode of MODES) {
            const lengths = randomLengths(rng, rng.int(1, 10), 12);
            const n = lengths.reduce((s, x) => s + x, 0);
            const ids = randomIndices(rng, n, pair.ids);
            const paddingIdx = n > 0 && rng.bool() ? ids[rng.int(0, n - 1)] - (rng.bool() ? pair.ids : 0) : undefined;
            const weights = mode === 'max' ? undefined : rng.bool() ? randomWeights(rng, n) : undefined;
            const bounds = rng.pick(BOUNDS_KINDS);
            const kind = rng.pick(INDEX_KINDS);
            const o = bagOptions({ table: pair.plainQ, dim, mode, weights, paddingIdx }, ids, lengths, bounds, kind);
            const outDim = combine === 'concat' ? 2 * dim : dim;
            const ctx = describeCase({ seed, format, dim, combine, mode, bounds, kind, paddingIdx, weighted: weights !== undefined });
            const got = qrEmbeddingBag({
              quotient: pair.quotient, remainder: pair.remainder, indices: o.indices, offsets: o.offsets, lengths: o.lengths,
              includeLastOffset: o.includeLastOffset, mode, combine, weights, paddingIdx, out: poisoned(lengths.length * outDim),
            });
            expectBagClose(got, qrBagProblem({ ...o, quotient: pair.plainQ, remainder: pair.plainR, combine }), ctx);
            calls++;
          }
        }
      }
    }
    return calls;
  });

  it('plain Float32Array tables with dim, and the documented id split', () => {
    // quotient[q] = q, remainder[r] = 100 r (dim 1): an id alone in its bag gives q + 100 r.
    const quotient = Float32Array.of(0, 1, 2);
    const remainder = Float32Array.of(0, 100, 200, 300);
    const indices = Int32Array.of(0, 5, 11, 7);
    const offsets = Int32Array.of(0, 1, 2, 3);
    const got = qrEmbeddingBag({ quotient, remainder, dim: 1, indices, offsets, mode: 'sum', combine: 'sum' });
    expect(Array.from(got)).toEqual([0, 1 + 100, 2 + 300, 1 + 300]);
    const cat = qrEmbeddingBag({ quotient, remainder, dim: 1, indices, offsets, mode: 'sum', combine: 'concat' });
    expect(Array.from(cat)).toEqual([0, 0, 1, 100, 2, 300, 1, 300]);
  });

  it('1 and 2 threads give the same bits (many bags, and one huge bag split by columns)', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const before = getThreads();
    try {
      for (const format of ['f32', 'q4'] as const) {
        const pair = randomPair(rng, format, 129, 300);
        for (const combine of COMBINES) {
          for (const lengths of [randomLengths(rng, 3000, 20), [20000]]) {
            const n = lengths.reduce((s, x) => s + x, 0);
            const ids = randomIndices(rng, n, pair.ids);
            const o = { quotient: pair.quotient, remainder: pair.remainder, indices: BigInt64Array.from(ids, BigInt), lengths: Int32Array.from(lengths), mode: 'mean' as const, combine };
            setThreads(1);
            const one = qrEmbeddingBag(o);
            setThreads(2);
            const two = qrEmbeddingBag(o);
            const ctx = describeCase({ seed, format, combine, bags: lengths.length });
            expect(sameBits(one, two), ctx).toBe(true);
            // Recursive float32 summation of up to n rows: relative error <= n 2^-24 x cond.
            const problem = qrBagProblem({ table: pair.plainQ, dim: 129, indices: ids, lengths, mode: 'sum', quotient: pair.plainQ, remainder: pair.plainR, combine });
            const ref = refEmbeddingBag(problem).map((x, i) => x / (lengths[Math.floor(i / (problem.dim))] || 1));
            const cond = conditionNumber(refEmbeddingBag(problem), refEmbeddingBagAbs(problem));
            expect(relErr(two, ref), ctx).toBeLessThan(Math.max(...lengths) * 2 ** -24 * cond + 1e-6);
          }
        }
      }
    } finally {
      setThreads(before);
    }
  });

  it('async form, and bad input with nothing written', async () => {
    const rng = new Rng(freshSeed());
    const pair = randomPair(rng, 'q8', 16, 20, 2);  // at least 4 ids: the bags below read id 3
    const o = { quotient: pair.quotient, remainder: pair.remainder, indices: Uint32Array.of(0, pair.ids - 1, 3), offsets: Int32Array.of(0, 2), mode: 'mean' as const, combine: 'concat' as const };
    expect(sameBits(await qrEmbeddingBagAsync(o), qrEmbeddingBag(o))).toBe(true);
    const q = (x: unknown) => qrEmbeddingBag(x as never);
    const qa = (x: unknown) => qrEmbeddingBagAsync(x as never);
    const base = () => ({ ...o, out: poisoned(2 * 32) });
    const f32 = randomTable(rng, 3, 16);
    const rows = pair.ids;
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), indices: Int32Array.of(1, rows) }), RangeError,
      new RegExp(`indices\\[1\\] = ${rows} is out of range for ${rows} ids \\(quotient rows ${pair.quotient.rows} x remainder rows ${pair.remainder.rows}\\)`), q, qa);
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), indices: BigInt64Array.of(-1n), offsets: Int32Array.of(0) }), RangeError, /indices\[0\] = -1 is out of range/, q, qa);
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), remainder: f32, dim: undefined }), TypeError, /remainder.format 'f32' must match quotient.format 'q8'/, q, qa);
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), remainder: quantizeTable({ table: randomTable(rng, 2, 8), dim: 8, format: 'q8' }) }), RangeError, /remainder dim 8 must equal quotient dim 16/, q, qa);
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), out: poisoned(32) }), RangeError, /out.length.*64|64.*out/, q, qa);
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), combine: 'add' }), TypeError, /combine must be one of 'sum', 'mul', 'concat'/, q, qa);
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), mode: 'max', weights: new Float32Array(3) }), TypeError, /weights .* not 'max'/, q, qa);
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), weights: new Float32Array(2) }), RangeError, /weights.length must equal indices.length 3/, q, qa);
    // returnArgmax: 'max' only; each winner array bags x dim Int32, apart from every other array.
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), returnArgmax: true }), TypeError, /returnArgmax needs mode 'max'/, q, qa);
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), returnArgmax: 1 }), TypeError, /returnArgmax must be a boolean/, q, qa);
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), mode: 'max', returnArgmax: true, argmaxOut: 5 }), TypeError, /argmaxOut must be an object \{ quotient, remainder \}/, q, qa);
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), mode: 'max', returnArgmax: true, argmaxOut: { quotient: new Int32Array(31), remainder: new Int32Array(32) } }),
      RangeError, /argmax\.quotient\.length must be 32 \(2 bags x dim 16\), got 31/, q, qa);
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), mode: 'max', returnArgmax: true, argmaxOut: { quotient: new Int32Array(32), remainder: new Float32Array(32) } }),
      TypeError, /argmax\.remainder must be a Int32Array/, q, qa);
    await expectThrowsAndRejects('qrEmbeddingBag', () => {
      const shared = new Int32Array(32);
      return { ...base(), mode: 'max', returnArgmax: true, argmaxOut: { quotient: shared, remainder: shared } };
    }, TypeError, /argmax\.remainder must not share memory with argmax\.quotient/, q, qa);
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), paddingIdx: rows }), RangeError, /paddingIdx/, q, qa);
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), offsets: Int32Array.of(0, 4) }), RangeError, /offsets\[1\] = 4 is past the end/, q, qa);
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), quotient: { ...pair.quotient, scales: new Float32Array(pair.quotient.rows + 1) } }), RangeError,
      new RegExp(`quotient\\.scales\\.length must equal the table's rows ${pair.quotient.rows}, got ${pair.quotient.rows + 1}`), q, qa);
    const shared = randomTable(rng, 4, 16);  // 64 floats: a 4-row quotient that is also out's memory
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), quotient: shared, remainder: f32, dim: 16, indices: Int32Array.of(0, 1, 2), out: shared.subarray(0, 64) }), TypeError, /out must not share memory with quotient/, q, qa);
    await expectThrowsAndRejects('qrEmbeddingBag', () => ({ ...base(), quotient: f32, remainder: new Float32Array(0), dim: 16 }), RangeError, /out of range for 0 ids/, q, qa);
  });

  it('empty bags and empty tables: zeros, no table read', () => {
    const out = qrEmbeddingBag({ quotient: new Float32Array(0), remainder: new Float32Array(0), dim: 4, indices: new Int32Array(0), offsets: Int32Array.of(0, 0), mode: 'max', combine: 'concat', out: poisoned(16) });
    expect(Array.from(out)).toEqual(new Array(16).fill(0));
  });
});
