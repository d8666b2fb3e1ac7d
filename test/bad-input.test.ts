// Bad input: the right error class (TypeError for a wrong kind of argument, RangeError for a
// size or index out of range), a message naming the argument, the position and the limit,
// and nothing written: every array argument is compared byte for byte before and after.
// Each case runs through the sync form (throws) and the async form (rejects).
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { embeddingBag, embeddingBagAsync, gather, gatherAsync } from '../lib/index';
import { expectBagClose, expectThrowsAndRejects } from './checks';
import { Rng, detach, firstMismatch, freshSeed, randomTable, refGather } from './reference';

const CJS = path.resolve(__dirname, '../dist/cjs/index.js');
type Op = 'gather' | 'embeddingBag';
type Opts = Record<string, unknown>;

const DIM = 4;
const ROWS = 10;

/** A valid problem: 10 x 4 table, 10 indices, 4 bags, weights, and an `out` full of 7s. */
function base(op: Op): Opts {
  const table = new Float32Array(ROWS * DIM).map((_, i) => 1 + i);
  const indices = Int32Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
  if (op === 'gather') return { table, dim: DIM, indices, out: new Float32Array(10 * DIM).fill(7) };
  return {
    table,
    dim: DIM,
    indices,
    offsets: Int32Array.of(0, 3, 3, 7),
    mode: 'sum',
    weights: new Float32Array(10).fill(0.5),
    out: new Float32Array(4 * DIM).fill(7),
  };
}

const SYNC = { gather, embeddingBag } as unknown as Record<Op, (o: unknown) => Float32Array>;
const ASYNC = { gather: gatherAsync, embeddingBag: embeddingBagAsync } as unknown as Record<Op, (o: unknown) => Promise<Float32Array>>;

/** Sync throws `cls` matching `message`, async rejects the same way; no buffer changes. */
function expectBad(op: Op, make: () => unknown, cls: ErrorConstructor, message: RegExp) {
  return expectThrowsAndRejects(op, make, cls, message, SYNC[op], ASYNC[op]);
}

function withOpts(op: Op, patch: Opts): () => Opts {
  return () => {
    const o = { ...base(op), ...patch };
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete o[k];
    return o;
  };
}

type Case = [string, Op, () => unknown, ErrorConstructor, RegExp];
const BOTH: Op[] = ['gather', 'embeddingBag'];
const each = (f: (op: Op) => Case[]): Case[] => BOTH.flatMap(f);

describe('options object', () => {
  const cases: Case[] = each((op) => [
    [`${op}(null)`, op, () => null, TypeError, new RegExp(`${op}(Async)? expects an options object, got null`)],
    [`${op}(undefined)`, op, () => undefined, TypeError, /expects an options object, got undefined/],
    [`${op}(42)`, op, () => 42, TypeError, /expects an options object, got number/],
    [`${op}('x')`, op, () => 'x', TypeError, /expects an options object, got string/],
  ]);
  it.each(cases)('%s', (_n, op, make, cls, message) => expectBad(op, make, cls, message));
});

describe('wrong typed-array types', () => {
  const cases: Case[] = [
    ...each((op): Case[] => [
      [`${op} table Float64Array`, op, withOpts(op, { table: new Float64Array(40) }), TypeError, /table must be a Float32Array, got Float64Array/],
      [`${op} table plain array`, op, withOpts(op, { table: new Array(40).fill(1) }), TypeError, /table must be a Float32Array, got Array/],
      [`${op} table ArrayBuffer`, op, withOpts(op, { table: new ArrayBuffer(160) }), TypeError, /table must be a Float32Array, got ArrayBuffer/],
      [`${op} table missing`, op, withOpts(op, { table: undefined }), TypeError, /table must be a Float32Array, got undefined/],
      [`${op} indices Float32Array`, op, withOpts(op, { indices: new Float32Array(10) }), TypeError, /indices must be an Int32Array, Uint32Array or BigInt64Array, got Float32Array/],
      [`${op} indices BigUint64Array`, op, withOpts(op, { indices: new BigUint64Array(10) }), TypeError, /indices must be an Int32Array, Uint32Array or BigInt64Array, got BigUint64Array/],
      [`${op} indices Int16Array`, op, withOpts(op, { indices: new Int16Array(10) }), TypeError, /indices must be .* got Int16Array/],
      [`${op} indices plain array`, op, withOpts(op, { indices: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }), TypeError, /indices must be an Int32Array, Uint32Array or BigInt64Array, got Array/],
      [`${op} indices missing`, op, withOpts(op, { indices: undefined }), TypeError, /indices must be .* got undefined/],
      [`${op} out Float64Array`, op, withOpts(op, { out: new Float64Array(op === 'gather' ? 40 : 16) }), TypeError, /out must be a Float32Array, got Float64Array/],
      [`${op} out plain array`, op, withOpts(op, { out: new Array(op === 'gather' ? 40 : 16).fill(0) }), TypeError, /out must be a Float32Array, got Array/],
      [`${op} out Uint8Array`, op, withOpts(op, { out: new Uint8Array(op === 'gather' ? 160 : 64) }), TypeError, /out must be a Float32Array, got Uint8Array/],
    ]),
    ['offsets Float32Array', 'embeddingBag', withOpts('embeddingBag', { offsets: Float32Array.of(0, 3, 3, 7) }), TypeError, /offsets must be an Int32Array, Uint32Array or BigInt64Array, got Float32Array/],
    ['offsets BigUint64Array', 'embeddingBag', withOpts('embeddingBag', { offsets: BigUint64Array.of(0n, 3n) }), TypeError, /offsets must be .* got BigUint64Array/],
    ['offsets plain array', 'embeddingBag', withOpts('embeddingBag', { offsets: [0, 3, 3, 7] }), TypeError, /offsets must be .* got Array/],
    ['lengths Float32Array', 'embeddingBag', withOpts('embeddingBag', { offsets: undefined, lengths: Float32Array.of(3, 0, 4, 3) }), TypeError, /lengths must be an Int32Array, Uint32Array or BigInt64Array, got Float32Array/],
    ['lengths plain array', 'embeddingBag', withOpts('embeddingBag', { offsets: undefined, lengths: [3, 0, 4, 3] }), TypeError, /lengths must be .* got Array/],
    ['weights Float64Array', 'embeddingBag', withOpts('embeddingBag', { weights: new Float64Array(10) }), TypeError, /weights must be a Float32Array, got Float64Array/],
    ['weights plain array', 'embeddingBag', withOpts('embeddingBag', { weights: new Array(10).fill(1) }), TypeError, /weights must be a Float32Array, got Array/],
    ['includeLastOffset not a boolean', 'embeddingBag', withOpts('embeddingBag', { includeLastOffset: 1 }), TypeError, /includeLastOffset must be a boolean, got number/],
  ];
  it.each(cases)('%s', (_n, op, make, cls, message) => expectBad(op, make, cls, message));
});

describe('dim', () => {
  const cases: Case[] = each((op): Case[] => [
    [`${op} dim 0`, op, withOpts(op, { dim: 0 }), RangeError, /dim must be from 1 to 9007199254740991, got 0/],
    [`${op} dim -1`, op, withOpts(op, { dim: -1 }), RangeError, /dim must be from 1 to 9007199254740991, got -1/],
    [`${op} dim 1.5`, op, withOpts(op, { dim: 1.5 }), RangeError, /dim must be an integer, got 1\.5/],
    [`${op} dim NaN`, op, withOpts(op, { dim: NaN }), RangeError, /dim must be an integer, got NaN/],
    [`${op} dim Infinity`, op, withOpts(op, { dim: Infinity }), RangeError, /dim must be an integer, got Infinity/],
    [`${op} dim '4'`, op, withOpts(op, { dim: '4' }), TypeError, /dim must be a number, got string/],
    [`${op} dim 4n`, op, withOpts(op, { dim: 4n }), TypeError, /dim must be a number, got BigInt/],
    [`${op} dim missing`, op, withOpts(op, { dim: undefined }), TypeError, /dim must be a number, got undefined/],
    [`${op} dim 2**53`, op, withOpts(op, { dim: 2 ** 53 }), RangeError, /dim must be from 1 to 9007199254740991, got 9007199254740992/],
    [`${op} table.length not a multiple of dim`, op, withOpts(op, { dim: 3 }), RangeError, /table\.length 40 is not a multiple of dim 3/],
    [`${op} table.length 42, dim 4`, op, withOpts(op, { table: new Float32Array(42).fill(1) }), RangeError, /table\.length 42 is not a multiple of dim 4/],
  ]);
  it.each(cases)('%s', (_n, op, make, cls, message) => expectBad(op, make, cls, message));
});

describe('indices out of range', () => {
  const million = () => new Float32Array(1_000_000).fill(1);
  const at17 = (kind: 'int32' | 'uint32' | 'int64') => {
    const v = Array.from({ length: 20 }, (_, i) => i * 1000);
    v[17] = 1_000_001;
    return kind === 'int64' ? BigInt64Array.from(v.map(BigInt)) : kind === 'uint32' ? Uint32Array.from(v) : Int32Array.from(v);
  };
  const cases: Case[] = each((op): Case[] => {
    const bag = op === 'embeddingBag' ? { offsets: Int32Array.of(0, 5), weights: undefined, out: undefined } : { out: undefined };
    return [
      ...(['int32', 'uint32', 'int64'] as const).map((kind): Case => [
        `${op} indices[17] = 1000001, table of 1000000 rows (${kind})`,
        op,
        withOpts(op, { table: million(), dim: 1, indices: at17(kind), ...bag }),
        RangeError,
        /indices\[17\] = 1000001 is out of range for a table of 1000000 rows/,
      ]),
      [`${op} last position = rows`, op, withOpts(op, { indices: Int32Array.of(0, 1, 2, 3, 4, 5, 6, 7, 8, 10) }), RangeError, /indices\[9\] = 10 is out of range for a table of 10 rows/],
      [`${op} first position`, op, withOpts(op, { indices: Uint32Array.of(11, 1, 2, 3, 4, 5, 6, 7, 8, 9) }), RangeError, /indices\[0\] = 11 is out of range for a table of 10 rows/],
      [`${op} negative Int32`, op, withOpts(op, { indices: Int32Array.of(0, 1, -1, 3, 4, 5, 6, 7, 8, 9) }), RangeError, /indices\[2\] = -1 is out of range for a table of 10 rows/],
      [`${op} negative BigInt64`, op, withOpts(op, { indices: BigInt64Array.of(0n, 1n, 2n, -5n, 4n, 5n, 6n, 7n, 8n, 9n) }), RangeError, /indices\[3\] = -5 is out of range for a table of 10 rows/],
      [`${op} BigInt64 2^32 (no 32-bit wrap)`, op, withOpts(op, { indices: BigInt64Array.of(0n, 1n, 2n, 3n, 2n ** 32n, 5n, 6n, 7n, 8n, 9n) }), RangeError, /indices\[4\] = 4294967296 is out of range for a table of 10 rows/],
      [`${op} BigInt64 2^32 + 1`, op, withOpts(op, { indices: BigInt64Array.of(0n, 1n, 2n, 3n, 4n, 2n ** 32n + 1n, 6n, 7n, 8n, 9n) }), RangeError, /indices\[5\] = 4294967297 is out of range/],
      [`${op} BigInt64 2^63 - 1`, op, withOpts(op, { indices: BigInt64Array.of(0n, 1n, 2n, 3n, 4n, 5n, 2n ** 63n - 1n, 7n, 8n, 9n) }), RangeError, /indices\[6\] = 9223372036854775807 is out of range/],
      [`${op} BigInt64 -2^63`, op, withOpts(op, { indices: BigInt64Array.of(0n, 1n, 2n, 3n, 4n, 5n, 6n, -(2n ** 63n), 8n, 9n) }), RangeError, /indices\[7\] = -9223372036854775808 is out of range/],
      [`${op} Uint32 0xffffffff (not -1)`, op, withOpts(op, { indices: Uint32Array.of(0, 1, 2, 3, 4, 5, 6, 7, 0xffffffff, 9) }), RangeError, /indices\[8\] = 4294967295 is out of range for a table of 10 rows/],
      [`${op} empty table`, op, withOpts(op, { table: new Float32Array(0), ...bag }), RangeError, /indices\[0\] = 0 is out of range for a table of 0 rows/],
    ];
  });
  it.each(cases)('%s', (_n, op, make, cls, message) => expectBad(op, make, cls, message));
});

describe('bag boundaries', () => {
  const B = 'embeddingBag' as const;
  const L = (...v: number[]) => ({ offsets: undefined, lengths: Int32Array.from(v) });
  const cases: Case[] = [
    ['offsets not starting at 0', B, withOpts(B, { offsets: Int32Array.of(1, 3, 3, 7) }), RangeError, /offsets\[0\] = 1: the first bag must start at 0/],
    ['offsets decreasing', B, withOpts(B, { offsets: Int32Array.of(0, 3, 2, 7) }), RangeError, /offsets\[2\] = 2 is less than offsets\[1\] = 3: offsets must not decrease \(bag 2\)/],
    ['offsets negative', B, withOpts(B, { offsets: BigInt64Array.of(0n, -1n) }), RangeError, /offsets\[1\] = -1 is less than offsets\[0\] = 0/],
    ['offsets past the end', B, withOpts(B, { offsets: Int32Array.of(0, 3, 11) }), RangeError, /offsets\[2\] = 11 is past the end of indices \(length 10\)/],
    ['offsets past the end (Uint32 max)', B, withOpts(B, { offsets: Uint32Array.of(0, 0xffffffff) }), RangeError, /offsets\[1\] = 4294967295 is past the end of indices \(length 10\)/],
    ['includeLastOffset: last != indices.length', B, withOpts(B, { offsets: Int32Array.of(0, 3, 3, 8), includeLastOffset: true }), RangeError, /offsets\[3\] = 8 must equal indices\.length 10 with includeLastOffset/],
    ['includeLastOffset: [0] with indices', B, withOpts(B, { offsets: Int32Array.of(0), includeLastOffset: true }), RangeError, /offsets\[0\] = 0 must equal indices\.length 10 with includeLastOffset/],
    ['includeLastOffset: empty offsets', B, withOpts(B, { offsets: new Int32Array(0), includeLastOffset: true }), RangeError, /offsets must have at least one entry with includeLastOffset/],
    ['includeLastOffset with lengths', B, withOpts(B, { ...L(3, 0, 4, 3), includeLastOffset: true }), TypeError, /includeLastOffset applies to offsets, not lengths/],
    ['lengths negative', B, withOpts(B, L(3, -1, 8)), RangeError, /lengths\[1\] = -1: a bag length cannot be negative \(bag 1\)/],
    ['lengths negative (BigInt64)', B, withOpts(B, { offsets: undefined, lengths: BigInt64Array.of(3n, 7n, -2n) }), RangeError, /lengths\[2\] = -2: a bag length cannot be negative \(bag 2\)/],
    ['lengths summing short', B, withOpts(B, L(3, 3)), RangeError, /lengths must add up to indices\.length 10 \(exceeded or not reached at bag 2\)/],
    ['lengths summing over', B, withOpts(B, L(5, 6)), RangeError, /lengths must add up to indices\.length 10 \(exceeded or not reached at bag 1\)/],
    ['lengths huge (Uint32)', B, withOpts(B, { offsets: undefined, lengths: Uint32Array.of(4294967295, 1) }), RangeError, /lengths must add up to indices\.length 10/],
    ['both offsets and lengths', B, withOpts(B, { lengths: Int32Array.of(10) }), TypeError, /embeddingBag(Async)? needs exactly one of offsets and lengths/],
    ['neither offsets nor lengths', B, withOpts(B, { offsets: undefined }), TypeError, /embeddingBag(Async)? needs exactly one of offsets and lengths/],
  ];
  it.each(cases)('%s', (_n, op, make, cls, message) => expectBad(op, make, cls, message));
});

describe('mode, weights, paddingIdx', () => {
  const B = 'embeddingBag' as const;
  const cases: Case[] = [
    ['weights with max', B, withOpts(B, { mode: 'max' }), TypeError, /weights are supported with mode 'sum' and 'mean', not 'max'/],
    ['weights too short', B, withOpts(B, { weights: new Float32Array(9).fill(1) }), RangeError, /weights\.length must equal indices\.length 10, got 9/],
    ['weights too long', B, withOpts(B, { weights: new Float32Array(11).fill(1) }), RangeError, /weights\.length must equal indices\.length 10, got 11/],
    ['paddingIdx = rows', B, withOpts(B, { paddingIdx: 10 }), RangeError, /paddingIdx must be from -10 to 9, got 10/],
    ['paddingIdx < -rows', B, withOpts(B, { paddingIdx: -11 }), RangeError, /paddingIdx must be from -10 to 9, got -11/],
    ['paddingIdx fractional', B, withOpts(B, { paddingIdx: 1.5 }), RangeError, /paddingIdx must be an integer, got 1\.5/],
    ['paddingIdx NaN', B, withOpts(B, { paddingIdx: NaN }), RangeError, /paddingIdx must be an integer, got NaN/],
    ['paddingIdx string', B, withOpts(B, { paddingIdx: '1' }), TypeError, /paddingIdx must be a number, got string/],
    ['paddingIdx with an empty table', B, withOpts(B, { table: new Float32Array(0), indices: new Int32Array(0), offsets: new Int32Array(0), weights: undefined, out: undefined, paddingIdx: 0 }), RangeError, /paddingIdx cannot be used with an empty table/],
    ['unknown mode', B, withOpts(B, { mode: 'avg' }), TypeError, /mode must be one of 'sum', 'mean', 'max', got 'avg'/],
    ['mode in capitals', B, withOpts(B, { mode: 'SUM' }), TypeError, /mode must be one of 'sum', 'mean', 'max', got 'SUM'/],
    ['mode missing', B, withOpts(B, { mode: undefined }), TypeError, /mode must be one of 'sum', 'mean', 'max', got undefined/],
    ['mode a number', B, withOpts(B, { mode: 0 }), TypeError, /mode must be one of .* got 0/],
  ];
  it.each(cases)('%s', (_n, op, make, cls, message) => expectBad(op, make, cls, message));
});

describe('out', () => {
  const cases: Case[] = [
    ['gather out too short', 'gather', withOpts('gather', { out: new Float32Array(39).fill(7) }), RangeError, /out\.length must be 40 \(indices\.length 10 x dim 4\), got 39/],
    ['gather out too long', 'gather', withOpts('gather', { out: new Float32Array(41).fill(7) }), RangeError, /out\.length must be 40 \(indices\.length 10 x dim 4\), got 41/],
    ['embeddingBag out too short', 'embeddingBag', withOpts('embeddingBag', { out: new Float32Array(15).fill(7) }), RangeError, /out\.length must be 16 \(4 bags x dim 4\), got 15/],
    ['embeddingBag out with includeLastOffset counts B bags', 'embeddingBag', withOpts('embeddingBag', { offsets: Int32Array.of(0, 3, 3, 10), includeLastOffset: true }), RangeError, /out\.length must be 12 \(3 bags x dim 4\), got 16/],
  ];
  it.each(cases)('%s', (_n, op, make, cls, message) => expectBad(op, make, cls, message));

  // out sharing memory with an input (a view of the same ArrayBuffer).
  const overlapCases: Case[] = [
    ...BOTH.map((op): Case => [
      `${op}: out is the table`,
      op,
      () => {
        const o = base(op);
        const n = (o.out as Float32Array).length;
        const buf = new Float32Array(Math.max(40, n)).fill(1);
        return { ...o, table: buf.subarray(0, 40), out: buf.subarray(0, n) };
      },
      TypeError,
      /out must not share memory with table/,
    ]),
    ...BOTH.map((op): Case => [
      `${op}: out overlaps the table's last element`,
      op,
      () => {
        const o = base(op);
        const n = (o.out as Float32Array).length;
        const buf = new Float32Array(40 + n - 1).fill(2);
        return { ...o, table: buf.subarray(0, 40), out: buf.subarray(39, 39 + n) };
      },
      TypeError,
      /out must not share memory with table/,
    ]),
    ...BOTH.map((op): Case => [
      `${op}: out overlaps indices`,
      op,
      () => {
        const o = base(op);
        const n = (o.out as Float32Array).length;
        const buf = new ArrayBuffer((n + 10) * 4);
        const indices = new Int32Array(buf, 0, 10);
        indices.set(o.indices as Int32Array);
        return { ...o, indices, out: new Float32Array(buf, 4, n) };
      },
      TypeError,
      /out must not share memory with indices/,
    ]),
    [
      'embeddingBag: out overlaps offsets',
      'embeddingBag',
      () => {
        const buf = new ArrayBuffer(80);
        const offsets = new Int32Array(buf, 0, 4);
        offsets.set([0, 3, 3, 7]);
        return { ...base('embeddingBag'), offsets, out: new Float32Array(buf, 12, 16) };
      },
      TypeError,
      /out must not share memory with offsets/,
    ],
    [
      'embeddingBag: out overlaps lengths',
      'embeddingBag',
      () => {
        const buf = new ArrayBuffer(80);
        const lengths = new Int32Array(buf, 0, 4);
        lengths.set([3, 0, 4, 3]);
        return { ...base('embeddingBag'), offsets: undefined, lengths, out: new Float32Array(buf, 8, 16) };
      },
      TypeError,
      /out must not share memory with lengths/,
    ],
    [
      'embeddingBag: out overlaps weights',
      'embeddingBag',
      () => {
        const buf = new Float32Array(20).fill(0.5);
        return { ...base('embeddingBag'), weights: buf.subarray(0, 10), out: buf.subarray(4, 20) };
      },
      TypeError,
      /out must not share memory with weights/,
    ],
  ];
  it.each(overlapCases)('%s', (_n, op, make, cls, message) => expectBad(op, make, cls, message));

  it('out adjacent to the table in the same buffer (no overlap) works', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const buf = new Float32Array(40 + 16);
    buf.set(randomTable(rng, 10, 4));
    const table = buf.subarray(0, 40);
    const out = buf.subarray(40);
    const o = { table, dim: 4, indices: Int32Array.of(0, 1, 2, 9, 9, 4, 5, 6, 7, 8), offsets: Int32Array.of(0, 3, 3, 7), mode: 'sum' as const };
    embeddingBag({ ...o, out });
    expectBagClose(out, o, `seed=${seed}`);
    const gbuf = new Float32Array(40 + 12);
    gbuf.set(table);
    gather({ table: gbuf.subarray(0, 40), dim: 4, indices: Int32Array.of(3, 0, 9), out: gbuf.subarray(40) });
    expect(firstMismatch(gbuf.subarray(40), refGather(table, 4, [3, 0, 9]))).toBe(-1);
  });
});

describe('detached buffers', () => {
  const fields: Array<[Op, string]> = [
    ['gather', 'table'],
    ['gather', 'indices'],
    ['gather', 'out'],
    ['embeddingBag', 'table'],
    ['embeddingBag', 'indices'],
    ['embeddingBag', 'offsets'],
    ['embeddingBag', 'lengths'],
    ['embeddingBag', 'weights'],
    ['embeddingBag', 'out'],
  ];
  it.each(fields)('%s: detached %s is a TypeError naming it', (op, field) => {
    const make = () => {
      const o = base(op);
      if (field === 'lengths') {
        delete o.offsets;
        o.lengths = Int32Array.of(3, 0, 4, 3);
      }
      detach((o[field] as ArrayBufferView).buffer as ArrayBuffer);
      return o;
    };
    return expectBad(op, make, TypeError, new RegExp(`${field}'s ArrayBuffer is detached`));
  });
});

describe('unusual but valid buffers', () => {
  it('a SharedArrayBuffer-backed table works', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const table = randomTable(rng, 10, 4, true);
    const o = { table, dim: 4, indices: Int32Array.of(5, 5, 1, 0, 9), lengths: Int32Array.of(2, 0, 3), mode: 'mean' as const };
    expectBagClose(embeddingBag(o), o, `seed=${seed}`);
    expect(firstMismatch(gather({ table, dim: 4, indices: o.indices }), refGather(table, 4, o.indices))).toBe(-1);
  });
});

describe('no crash on extreme sizes (child process)', () => {
  // A call whose output cannot be allocated must be a RangeError, never an abort.
  it.each([
    ['embeddingBag: 1 empty bag of dim 2^40 (a 4 TiB output)', `e.embeddingBag({ table: new Float32Array(0), dim: 2 ** 40, indices: new Int32Array(0), lengths: Int32Array.of(0), mode: 'sum' })`],
    ['embeddingBag: 2^22 empty bags of dim 2^28 (just under the 2^51-element guard)', `e.embeddingBag({ table: new Float32Array(0), dim: 2 ** 28, indices: new Int32Array(0), offsets: new Int32Array(2 ** 22), mode: 'max' })`],
    ['embeddingBag: bags x dim past 2^53 (the overflow guard)', `e.embeddingBag({ table: new Float32Array(0), dim: 2 ** 52, indices: new Int32Array(0), offsets: new Int32Array(4), mode: 'sum' })`],
  ])('%s', (_name, call) => {
    const script = `
      const e = require(${JSON.stringify(CJS)});
      try { const r = ${call}; process.stdout.write('returned ' + r.length); }
      catch (err) { process.stdout.write(err.constructor.name + ': ' + err.message); }
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect({ status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.slice(0, 300) }).toMatchObject({ status: 0, signal: null, stderr: '' });
    expect(r.stdout).toMatch(/^RangeError: .*(too large|cannot allocate|overflows)/);
  });
});
