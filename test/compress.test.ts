// Compressed and pruned tables: quantizeTable / dequantizeTable against the documented rules,
// gather and embeddingBag on every format (and pruned tables through remap) on every forced
// ISA against dequantize-then-f32 references, thread invariance, the async forms, and bad
// input. Every assertion message carries the seed (rerun with TEST_SEED=<seed>).
// Bounds: dequantizeTable equals the float64 decode rounded once to float32 (f16 / bf16
// exactly); gather on a stored table is bitwise gather on its dequantized f32 table, and so is
// embeddingBag (the same decoded values through the same arithmetic); against the float64
// reference, bags keep the gather family's bound (1e-6 x condition number).
import { describe, expect, it } from 'vitest';
import {
  capabilities,
  dequantizeTable,
  dequantizeTableAsync,
  embeddingBag,
  embeddingBagAsync,
  gather,
  gatherAsync,
  getThreads,
  hashedEmbeddingBag,
  hashedEmbeddingBagAsync,
  pruneTable,
  quantizeTable,
  quantizeTableAsync,
  setThreads,
  tableBytes,
  usedRows,
  type EmbeddingTable,
  type TableFormat,
} from '../lib/index';
import { expectBagClose, expectThrowsAndRejects, itOnEachIsa } from './checks';
import { hashedBagProblem, prunedBagProblem, quantizationBound, refDequantize, refHashedRow } from './compress-reference';
import {
  MODES,
  Rng,
  bagOptions,
  bytesOf,
  describeCase,
  firstBitMismatch,
  freshSeed,
  poisoned,
  randomIndices,
  randomLengths,
  randomTable,
  randomWeights,
  refGather,
  sameBits,
  sameBytes,
  type Mode,
} from './reference';

const FORMATS: readonly TableFormat[] = ['f32', 'f16', 'bf16', 'q8', 'q4'];
const DIMS = [1, 2, 7, 16, 33, 128, 129];

function rowsOf(table: Float32Array, dim: number, r: number): Float32Array {
  return table.subarray(r * dim, (r + 1) * dim);
}

describe('quantizeTable / dequantizeTable', () => {
  it.each(FORMATS)('%s: decode matches the format definition, error within the documented bound', (format) => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const dim of DIMS) {
      const rows = rng.int(1, 30);
      const scale = rng.bool() ? 1 : 1000;
      const table = randomTable(rng, rows, dim).map((x) => x * scale + (rng.float() - 0.5) * scale);
      if (rows > 1) table.fill(2.5, 0, dim);  // a constant row: scale 0, exact
      const before = bytesOf(table);
      const t = quantizeTable({ table, dim, format });
      const ctx = describeCase({ seed, format, dim, rows });
      expect(t.format, ctx).toBe(format);
      expect([t.rows, t.dim], ctx).toEqual([rows, dim]);
      expect(sameBytes(bytesOf(table), before), `${ctx}: table untouched`).toBe(true);
      const back = dequantizeTable({ table: t });
      expect(sameBits(back, refDequantize(t)) || format === 'q8' || format === 'q4', `${ctx}: exact decode`).toBe(true);
      const ref = refDequantize(t);
      for (let i = 0; i < back.length; i++) {
        // q8 / q4: one fma in float32 against the float64 decode rounded once: equal but for a
        // rare double rounding, at most an ulp.
        expect(Math.abs(back[i] - ref[i]), `${ctx} element ${i}`).toBeLessThanOrEqual(Math.abs(ref[i]) * 2 ** -23);
      }
      for (let r = 0; r < rows; r++) {
        const row = rowsOf(table, dim, r);
        let lo = Infinity;
        let hi = -Infinity;
        for (const x of row) {
          lo = Math.min(lo, x);
          hi = Math.max(hi, x);
        }
        for (let c = 0; c < dim; c++) {
          const err = Math.abs(back[r * dim + c] - row[c]);
          expect(err, `${ctx} row ${r} col ${c}`).toBeLessThanOrEqual(quantizationBound(format, row[c], lo, hi));
        }
        if (t.format === 'q8' || t.format === 'q4') {
          expect(t.biases[r], `${ctx}: bias = row minimum`).toBe(lo);
          expect(Math.abs(t.scales[r] - (hi - lo) / (t.format === 'q8' ? 255 : 15)), `${ctx}: scale`).toBeLessThanOrEqual(t.scales[r] * 2 ** -23);
        }
      }
      if (t.format === 'q4' && dim % 2 === 1) {
        const stride = (dim + 1) / 2;
        for (let r = 0; r < rows; r++) expect(t.data[r * stride + stride - 1] >> 4, `${ctx}: unused nibble is 0`).toBe(0);
      }
    }
  });

  it('f16 and bf16 round to nearest even, and keep +-0, Inf, NaN and subnormals', () => {
    const f16: Array<[number, number]> = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [65504, 0x7bff], [65520, 0x7c00], [Infinity, 0x7c00],
      [-Infinity, 0xfc00], [2 ** -24, 0x0001], [2 ** -25, 0x0000], [1.5 * 2 ** -24, 0x0002],
      [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [2 ** -14, 0x0400],
    ];
    const bf16: Array<[number, number]> = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3f80], [Infinity, 0x7f80], [-Infinity, 0xff80],
      [1 + 2 ** -8, 0x3f80], [1 + 3 * 2 ** -8, 0x3f82], [2 ** -130, 0x0008],
    ];
    for (const [format, cases] of [['f16', f16], ['bf16', bf16]] as const) {
      const table = Float32Array.from(cases.map(([x]) => x));
      const t = quantizeTable({ table, dim: table.length, format });
      expect(Array.from(t.data), format).toEqual(cases.map(([, bits]) => bits));
      const nan = quantizeTable({ table: Float32Array.of(NaN), dim: 1, format });
      expect(Number.isNaN(dequantizeTable({ table: nan })[0]), `${format} NaN`).toBe(true);
    }
  });

  it('q4 packs the even column into the low nibble', () => {
    const table = Float32Array.of(0, 0.9, 2.1, 3, 4);  // scale 4 / 15, no value near a tie
    const t = quantizeTable({ table, dim: 5, format: 'q4' });
    expect(t.data.length).toBe(3);
    const codes = [0, 3, 8, 11, 15];  // round(x x 15 / 4)
    expect(Array.from(t.data)).toEqual([codes[0] | (codes[1] << 4), codes[2] | (codes[3] << 4), codes[4]]);
  });

  it('tableBytes: q8 3.5x+ and q4 6x+ smaller than f32 at dim >= 64; f16 / bf16 half', () => {
    const rng = new Rng(freshSeed());
    for (const dim of [64, 128, 256]) {
      const table = randomTable(rng, 100, dim);
      const f32 = tableBytes(table);
      expect(f32).toBe(table.byteLength);
      expect(tableBytes(quantizeTable({ table, dim, format: 'f16' }))).toBe(f32 / 2);
      expect(tableBytes(quantizeTable({ table, dim, format: 'bf16' }))).toBe(f32 / 2);
      expect(tableBytes(quantizeTable({ table, dim, format: 'q8' }))).toBe(100 * (dim + 8));
      expect(f32 / tableBytes(quantizeTable({ table, dim, format: 'q8' }))).toBeGreaterThanOrEqual(3.5);
      expect(f32 / tableBytes(quantizeTable({ table, dim, format: 'q4' }))).toBeGreaterThanOrEqual(6);
    }
  });

  it('async forms give the same table and values', async () => {
    const rng = new Rng(freshSeed());
    const table = randomTable(rng, 50, 33);
    for (const format of FORMATS) {
      const sync = quantizeTable({ table, dim: 33, format });
      const asyncTable = await quantizeTableAsync({ table, dim: 33, format });
      expect(sameBytes(bytesOf(asyncTable.data), bytesOf(sync.data)), format).toBe(true);
      expect(sameBits(await dequantizeTableAsync({ table: asyncTable }), dequantizeTable({ table: sync })), format).toBe(true);
    }
  });
});

interface Case {
  t: EmbeddingTable;
  plain: Float32Array;  // the dequantized table
  dim: number;
  rows: number;
}

function randomCase(rng: Rng, format: TableFormat, dim: number): Case {
  const rows = rng.int(1, 50);
  const t = quantizeTable({ table: randomTable(rng, rows, dim), dim, format });
  return { t, plain: dequantizeTable({ table: t }), dim, rows };
}

describe('gather and embeddingBag on stored tables', () => {
  itOnEachIsa('every format, mode, weights and padding vs the dequantized f32 table', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    let calls = 0;
    for (const format of FORMATS) {
      for (const dim of DIMS) {
        const c = randomCase(rng, format, dim);
        const indices = Int32Array.from(randomIndices(rng, rng.int(0, 40), c.rows));
        const ctx = describeCase({ seed, format, dim, rows: c.rows });
        const out = poisoned(indices.length * dim);
        gather({ table: c.t, indices, out });
        expect(firstBitMismatch(out, Float32Array.from(refGather(c.plain, dim, indices))), `${ctx}: gather`).toBe(-1);
        calls++;
        for (const mode of MODES) {
          for (const weighted of mode === 'max' ? [false] : [false, true]) {
            const lengths = randomLengths(rng, rng.int(1, 10), 12);
            const ids = randomIndices(rng, lengths.reduce((s, n) => s + n, 0), c.rows);
            const paddingIdx = rng.bool() ? rng.int(0, c.rows - 1) : undefined;
            const weights = weighted ? randomWeights(rng, ids.length) : undefined;
            const o = bagOptions({ table: c.plain, dim, mode, weights, paddingIdx }, ids, lengths, 'offsets', 'int32');
            const got = embeddingBag({ ...o, table: c.t, dim: undefined, out: poisoned(lengths.length * dim) });
            const viaF32 = embeddingBag({ ...o, out: poisoned(lengths.length * dim) });
            const bctx = `${ctx} mode=${mode} weighted=${weighted} padding=${paddingIdx}`;
            expect(firstBitMismatch(got, viaF32), `${bctx}: same bits as the dequantized f32 table`).toBe(-1);
            expectBagClose(got, o, bctx);
            calls += 2;
          }
        }
      }
    }
    return calls;
  });

  itOnEachIsa('pruned tables: remap with pruned ids first, last and in between', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    let calls = 0;
    for (const format of FORMATS) {
      for (const dim of [1, 7, 128, 129]) {
        const c = randomCase(rng, format, dim);
        const keep = Int32Array.from(Array.from({ length: c.rows }, (_, i) => i).filter(() => rng.bool(0.6)));
        const { table: compact, remap } = pruneTable({ table: c.t, keep });
        expect(compact.rows, 'compact rows').toBe(keep.length);
        const compactPlain = dequantizeTable({ table: compact });
        const pruned = Array.from({ length: c.rows }, (_, i) => i).filter((i) => remap[i] < 0);
        const lengths = randomLengths(rng, rng.int(2, 8), 10);
        const ids = randomIndices(rng, lengths.reduce((s, n) => s + n, 0), c.rows);
        if (pruned.length > 0 && ids.length > 0) {
          ids[0] = pruned[0];
          ids[ids.length - 1] = pruned[pruned.length - 1];
          ids[ids.length >> 1] = rng.pick(pruned);
        }
        const ctx = describeCase({ seed, format, dim, rows: c.rows, kept: keep.length });
        // gather: kept ids read their row, pruned ids a zero row.
        const g = gather({ table: compact, remap, indices: Int32Array.from(ids), out: poisoned(ids.length * dim) });
        const want = new Float32Array(ids.length * dim);
        ids.forEach((id, i) => {
          if (remap[id] >= 0) want.set(rowsOf(c.plain, dim, id), i * dim);
        });
        expect(firstBitMismatch(g, want), `${ctx}: gather`).toBe(-1);
        calls++;
        for (const mode of MODES as readonly Mode[]) {
          const weights = mode === 'max' ? undefined : randomWeights(rng, ids.length);
          const paddingIdx = rng.bool() ? rng.int(0, c.rows - 1) : undefined;
          const o = bagOptions({ table: c.plain, dim, mode, weights, paddingIdx }, ids, lengths, 'lengths', 'uint32');
          const got = embeddingBag({ ...o, table: compact, dim, remap, out: poisoned(lengths.length * dim) });
          expectBagClose(got, prunedBagProblem({ ...o, remap, compact: compactPlain }), `${ctx} mode=${mode}`);
          calls++;
        }
      }
    }
    return calls;
  });

  it('1 and 2 threads give the same bits for every format', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const before = getThreads();
    try {
      for (const format of FORMATS) {
        const c = randomCase(rng, format, 129);
        const lengths = randomLengths(rng, 3000, 20);
        const ids = randomIndices(rng, lengths.reduce((s, n) => s + n, 0), c.rows);
        const o = bagOptions({ table: c.plain, dim: 129, mode: 'mean' }, ids, lengths, 'offsets', 'int64');
        setThreads(1);
        const one = embeddingBag({ ...o, table: c.t });
        setThreads(2);
        const two = embeddingBag({ ...o, table: c.t });
        expect(sameBits(one, two), `seed=${seed} ${format}`).toBe(true);
      }
    } finally {
      setThreads(before);
    }
  });

  it('async forms take table objects and remap', async () => {
    const rng = new Rng(freshSeed());
    const c = randomCase(rng, 'q4', 65);
    const { table, remap } = pruneTable({ table: c.t, keep: Int32Array.of(0) });
    const indices = Int32Array.from(randomIndices(rng, 30, c.rows));
    expect(sameBits(await gatherAsync({ table, remap, indices }), gather({ table, remap, indices }))).toBe(true);
    const o = { table, remap, indices, offsets: Int32Array.of(0, 10), mode: 'sum' as const };
    expect(sameBits(await embeddingBagAsync(o), embeddingBag(o))).toBe(true);
  });

  it('plain Float32Array tables still work with remap', () => {
    const table = Float32Array.of(1, 2, 3, 4);  // 2 rows of dim 2
    const remap = Int32Array.of(1, -1, 0);
    expect(Array.from(gather({ table, dim: 2, remap, indices: Int32Array.of(0, 1, 2) }))).toEqual([3, 4, 0, 0, 1, 2]);
    expect(Array.from(embeddingBag({ table, dim: 2, remap, indices: Int32Array.of(0, 1, 2), offsets: Int32Array.of(0), mode: 'mean' }))).toEqual([2, 3]);
  });
});

describe('hashedEmbeddingBag', () => {
  it('the hash matches its documented definition (BigInt reference) at known points', () => {
    // Each id alone in its bag, dim 1, table[row] = row: the output is the row the id hashed to.
    const rows = 1000;
    const table = Float32Array.from({ length: rows }, (_, i) => i);
    const ids = BigInt64Array.of(0n, 1n, 2n, 12345n, 2n ** 40n + 7n, 2n ** 63n - 2n);  // ids lie in [0, 2^63 - 1)
    for (const seed of [0, 1, 42, 2 ** 32 + 5]) {
      const got = hashedEmbeddingBag({ table, dim: 1, indices: ids, offsets: BigInt64Array.from(ids, (_, i) => BigInt(i)), mode: 'sum', seed });
      expect(Array.from(got), `seed ${seed}`).toEqual(Array.from(ids, (id) => refHashedRow(id, BigInt(seed), rows)));
    }
    // Different seeds spread the same ids differently (multiplexing one table).
    const a = hashedEmbeddingBag({ table, dim: 1, indices: ids, lengths: new BigInt64Array(6).fill(1n), mode: 'sum', seed: 1 });
    const b = hashedEmbeddingBag({ table, dim: 1, indices: ids, lengths: new BigInt64Array(6).fill(1n), mode: 'sum', seed: 2 });
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });

  itOnEachIsa('every format and mode, with weights and padding, against the hashed reference', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    let calls = 0;
    for (const format of FORMATS) {
      for (const dim of [1, 7, 128, 129]) {
        const c = randomCase(rng, format, dim);
        const lengths = randomLengths(rng, rng.int(1, 10), 12);
        const n = lengths.reduce((s, x) => s + x, 0);
        const indices = BigInt64Array.from({ length: n }, () => BigInt(rng.int(0, 2 ** 30)) * BigInt(rng.int(1, 2 ** 20)));
        const paddingIdx = n > 0 && rng.bool() ? Number(indices[rng.int(0, n - 1)] % 2n ** 50n) : undefined;
        if (paddingIdx !== undefined) indices[0] = BigInt(paddingIdx);
        for (const mode of MODES as readonly Mode[]) {
          const weights = mode === 'max' ? undefined : randomWeights(rng, n);
          const hashSeed = rng.int(0, 2 ** 31);
          const ctx = describeCase({ seed, format, dim, mode, hashSeed, paddingIdx });
          const got = hashedEmbeddingBag({ table: c.t, indices, lengths: Int32Array.from(lengths), mode, weights, paddingIdx, seed: hashSeed, out: poisoned(lengths.length * dim) });
          expectBagClose(got, hashedBagProblem({ table: c.plain, dim, indices, lengths, mode, weights, paddingIdx, seed: hashSeed, rows: c.rows }), ctx);
          calls++;
        }
      }
    }
    return calls;
  });

  it('async form, and bad input with nothing written', async () => {
    const rng = new Rng(freshSeed());
    const c = randomCase(rng, 'q8', 16);
    const o = { table: c.t, indices: BigInt64Array.of(5n, 2n ** 50n), offsets: Int32Array.of(0), mode: 'mean' as const, seed: 9 };
    expect(sameBits(await hashedEmbeddingBagAsync(o), hashedEmbeddingBag(o))).toBe(true);
    const h = (x: unknown) => hashedEmbeddingBag(x as never);
    const ha = (x: unknown) => hashedEmbeddingBagAsync(x as never);
    const base = () => ({ ...o, out: poisoned(16) });
    await expectThrowsAndRejects('hashedEmbeddingBag', () => ({ ...base(), indices: BigInt64Array.of(1n, -3n) }), RangeError, /indices\[1\] = -3: a hashed id must not be negative/, h, ha);
    await expectThrowsAndRejects('hashedEmbeddingBag', () => ({ ...base(), seed: undefined }), TypeError, /needs a seed/, h, ha);
    await expectThrowsAndRejects('hashedEmbeddingBag', () => ({ ...base(), seed: -1 }), RangeError, /seed/, h, ha);
    await expectThrowsAndRejects('hashedEmbeddingBag', () => ({ ...base(), paddingIdx: -1 }), RangeError, /paddingIdx/, h, ha);
    await expectThrowsAndRejects('hashedEmbeddingBag', () => ({ ...base(), table: new Float32Array(0), dim: 16 }), RangeError, /at least one row/, h, ha);
  });
});

describe('usedRows and pruneTable', () => {
  it('usedRows lists the distinct ids in ascending order', () => {
    expect(Array.from(usedRows({ indices: Int32Array.of(5, 1, 5, 3, 1), numRows: 6 }))).toEqual([1, 3, 5]);
    expect(Array.from(usedRows({ indices: BigInt64Array.of(2n, 0n), numRows: 3 }))).toEqual([0, 2]);
    expect(usedRows({ indices: new Uint32Array(0), numRows: 0 }).length).toBe(0);
  });

  it('pruneTable keeps rows in keep order; a Float32Array stays a Float32Array', () => {
    const table = Float32Array.of(0, 0, 1, 1, 2, 2, 3, 3);
    const { table: compact, remap } = pruneTable({ table, dim: 2, keep: Int32Array.of(3, 1) });
    expect(compact).toBeInstanceOf(Float32Array);
    expect(Array.from(compact)).toEqual([3, 3, 1, 1]);
    expect(Array.from(remap)).toEqual([-1, 1, -1, 0]);
    const memory = tableBytes(compact) + remap.byteLength;
    expect(memory).toBe(4 * 4 + 4 * 4);
  });
});

describe('bad input throws, with nothing written', () => {
  const rng = new Rng(12345);
  const q8 = (): EmbeddingTable => quantizeTable({ table: randomTable(rng, 4, 8), dim: 8, format: 'q8' });
  const bag = (o: Record<string, unknown>) => ({ indices: Int32Array.of(0, 1), offsets: Int32Array.of(0), mode: 'sum', out: poisoned(8), ...o });
  const cases: Array<[string, () => unknown, ErrorConstructor, RegExp]> = [
    ['wrong array type for the format', () => bag({ table: { ...q8(), format: 'f16' } }), TypeError, /table\.data must be a Uint16Array/],
    ['scales of the wrong length', () => bag({ table: { ...q8(), scales: new Float32Array(3) } }), RangeError, /table\.scales\.length must equal the table's rows 4, got 3/],
    ['biases missing', () => bag({ table: { ...q8(), biases: undefined } }), TypeError, /table\.biases/],
    ['remap value beyond the compact table', () => bag({ table: q8(), remap: Int32Array.of(0, 4, -1) }), RangeError, /remap\[1\] = 4 is out of range for a table of 4 rows/],
    ['remap value below -1', () => bag({ table: q8(), remap: Int32Array.of(0, -2) }), RangeError, /remap\[1\] = -2/],
    ['index beyond the remap', () => bag({ table: q8(), remap: Int32Array.of(0), indices: Int32Array.of(0, 1) }), RangeError, /indices\[1\] = 1 is out of range for a remap of 1 ids/],
    ['remap of the wrong type', () => bag({ table: q8(), remap: new Uint32Array(2) }), TypeError, /remap must be a\w* Int32Array/],
    ['unknown format', () => bag({ table: { ...q8(), format: 'q2' } }), TypeError, /table\.format must be one of/],
    ['rows that do not match the data', () => bag({ table: { ...q8(), rows: 5 } }), RangeError, /table\.rows 5 does not match/],
    ['dim that disagrees with the table', () => bag({ table: q8(), dim: 4 }), RangeError, /dim 4 does not match table\.dim 8/],
  ];
  it.each(cases)('embeddingBag / gather: %s', async (_name, make, cls, message) => {
    await expectThrowsAndRejects('embeddingBag', make, cls, message, (o) => embeddingBag(o as never), (o) => embeddingBagAsync(o as never));
    const asGather = () => {
      const { offsets: _o, mode: _m, ...rest } = make() as Record<string, unknown>;
      return { ...rest, out: poisoned(16) };
    };
    await expectThrowsAndRejects('gather', asGather, cls, message, (o) => gather(o as never), (o) => gatherAsync(o as never));
  });

  it('quantizeTable: NaN or Inf for q8 / q4, bad format, bad shape', async () => {
    const q = (o: unknown) => quantizeTable(o as never);
    const qa = (o: unknown) => quantizeTableAsync(o as never);
    for (const format of ['q8', 'q4']) {
      await expectThrowsAndRejects('quantizeTable', () => ({ table: Float32Array.of(1, NaN, 2, 3), dim: 2, format }), RangeError, /table\[1\] = nan is not finite/, q, qa);
      await expectThrowsAndRejects('quantizeTable', () => ({ table: Float32Array.of(1, 2, 3, -Infinity), dim: 2, format }), RangeError, /table\[3\] = -inf is not finite/, q, qa);
    }
    await expectThrowsAndRejects('quantizeTable', () => ({ table: new Float32Array(4), dim: 2, format: 'int8' }), TypeError, /format must be one of/, q, qa);
    await expectThrowsAndRejects('quantizeTable', () => ({ table: new Float32Array(5), dim: 2, format: 'q8' }), RangeError, /table\.length 5 is not a multiple of dim 2/, q, qa);
    await expectThrowsAndRejects('quantizeTable', () => ({ table: new Uint16Array(4), dim: 2, format: 'f16' }), TypeError, /table must be a Float32Array/, q, qa);
  });

  it('dequantizeTable: a wrong out length, aliasing', async () => {
    const t = q8();
    const d = (o: unknown) => dequantizeTable(o as never);
    const da = (o: unknown) => dequantizeTableAsync(o as never);
    await expectThrowsAndRejects('dequantizeTable', () => ({ table: t, out: poisoned(31) }), RangeError, /out\.length must be 32/, d, da);
    const f = quantizeTable({ table: randomTable(rng, 4, 8), dim: 8, format: 'f32' });
    await expectThrowsAndRejects('dequantizeTable', () => ({ table: f, out: f.data }), TypeError, /out must not share memory with table/, d, da);
  });

  it('usedRows and pruneTable name the bad position', () => {
    expect(() => usedRows({ indices: Int32Array.of(0, 7), numRows: 7 })).toThrow(/indices\[1\] = 7 is out of range for a table of 7 rows/);
    expect(() => usedRows({ indices: [1] as never, numRows: 7 })).toThrow(TypeError);
    const table = new Float32Array(8);
    expect(() => pruneTable({ table, dim: 2, keep: Int32Array.of(1, 4) })).toThrow(/keep\[1\] = 4 is out of range for a table of 4 rows/);
    expect(() => pruneTable({ table, dim: 2, keep: Int32Array.of(1, 1) })).toThrow(/keep\[1\] = 1 repeats keep\[0\]/);
  });
});

it('capabilities still load (binding ABI)', () => {
  expect(capabilities().available.length).toBeGreaterThan(0);
});
