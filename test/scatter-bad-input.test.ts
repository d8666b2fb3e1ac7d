// Bad input to the scatter / SpMM family: the right error class, a message naming the
// argument, the position and the limit, and nothing written (every array argument compared
// byte for byte before and after; scatterAdd's dst included, with the bad index placed last
// so a kernel that ran before validating would have updated the rows before it). Each case
// runs through the sync form (throws) and, where there is one, the async form (rejects).
import { describe, expect, it } from 'vitest';
import {
  ScatterPlan,
  csrFromCoo,
  csrFromCooAsync,
  csrTranspose,
  csrTransposeAsync,
  embeddingBagBackward,
  embeddingBagBackwardAsync,
  embeddingBagWeightsBackward,
  embeddingBagWeightsBackwardAsync,
  hashedEmbeddingBagBackward,
  hashedEmbeddingBagBackwardAsync,
  hashedEmbeddingBagWeightsBackward,
  hashedEmbeddingBagWeightsBackwardAsync,
  qrEmbeddingBagBackward,
  qrEmbeddingBagBackwardAsync,
  qrEmbeddingBagWeightsBackward,
  qrEmbeddingBagWeightsBackwardAsync,
  scatterAdd,
  scatterAddAsync,
  scatterPlan,
  scatterPlanAsync,
  spmm,
  spmmAsync,
} from '../lib/index';
import { expectThrowsAndRejects } from './checks';
import { detach } from './reference';

type Op = 'scatterAdd' | 'embeddingBagBackward' | 'hashedEmbeddingBagBackward' | 'qrEmbeddingBagBackward' | 'embeddingBagWeightsBackward' | 'hashedEmbeddingBagWeightsBackward' | 'qrEmbeddingBagWeightsBackward' | 'spmm' | 'csrFromCoo' | 'scatterPlan' | 'csrTranspose';
type Opts = Record<string, unknown>;

const SYNC: Record<Op, (o: never) => unknown> = {
  scatterAdd, embeddingBagBackward, hashedEmbeddingBagBackward, qrEmbeddingBagBackward, embeddingBagWeightsBackward, hashedEmbeddingBagWeightsBackward, qrEmbeddingBagWeightsBackward, spmm, csrFromCoo, scatterPlan, csrTranspose,
};
const ASYNC: Partial<Record<Op, (o: never) => Promise<unknown>>> = {
  csrFromCoo: csrFromCooAsync,
  csrTranspose: csrTransposeAsync,
  scatterAdd: scatterAddAsync,
  embeddingBagBackward: embeddingBagBackwardAsync,
  hashedEmbeddingBagBackward: hashedEmbeddingBagBackwardAsync,
  qrEmbeddingBagBackward: qrEmbeddingBagBackwardAsync,
  embeddingBagWeightsBackward: embeddingBagWeightsBackwardAsync,
  hashedEmbeddingBagWeightsBackward: hashedEmbeddingBagWeightsBackwardAsync,
  qrEmbeddingBagWeightsBackward: qrEmbeddingBagWeightsBackwardAsync,
  spmm: spmmAsync,
  scatterPlan: scatterPlanAsync,
};

/** Valid problems: dst 6 x 4 (full of 7s), 5 indices; bags over a 6-row table; a 3 x 4 CSR. */
function base(op: Op): Opts {
  switch (op) {
    case 'scatterAdd':
      return { dst: new Float32Array(24).fill(7), dim: 4, indices: Int32Array.of(0, 5, 2, 2, 1), src: new Float32Array(20).fill(1), weights: new Float32Array(5).fill(0.5) };
    case 'embeddingBagBackward':
      return {
        gradOutput: new Float32Array(12).fill(1), dim: 4, indices: Int32Array.of(0, 1, 2, 3, 4), offsets: Int32Array.of(0, 2, 2),
        mode: 'sum', weights: new Float32Array(5).fill(2), numRows: 6, out: new Float32Array(24).fill(7),
      };
    case 'hashedEmbeddingBagBackward':
      return {
        gradOutput: new Float32Array(12).fill(1), dim: 4, indices: BigInt64Array.of(0n, 2n ** 40n, 2n, 3n, 4n), offsets: Int32Array.of(0, 2, 2),
        mode: 'mean', seed: 9, paddingIdx: 3, weights: new Float32Array(5).fill(2), numRows: 6, out: new Float32Array(24).fill(7),
      };
    case 'qrEmbeddingBagBackward':
      // Ids into 3 quotient x 4 remainder rows; 'mul' reads both tables.
      return {
        gradOutput: new Float32Array(12).fill(1), dim: 4, indices: Int32Array.of(0, 11, 2, 7, 4), offsets: Int32Array.of(0, 2, 2),
        mode: 'mean', combine: 'mul', paddingIdx: 7, weights: new Float32Array(5).fill(2), quotientRows: 3, remainderRows: 4,
        quotient: new Float32Array(12).fill(3), remainder: new Float32Array(16).fill(5),
        outQuotient: new Float32Array(12).fill(7), outRemainder: new Float32Array(16).fill(7),
      };
    case 'embeddingBagWeightsBackward':
      return {
        gradOutput: new Float32Array(12).fill(1), table: new Float32Array(24).fill(2), dim: 4, indices: Int32Array.of(0, 1, 2, 3, 4),
        offsets: Int32Array.of(0, 2, 2), mode: 'mean', out: new Float32Array(5).fill(7),
      };
    case 'hashedEmbeddingBagWeightsBackward':
      return {
        gradOutput: new Float32Array(12).fill(1), table: new Float32Array(24).fill(2), dim: 4, indices: BigInt64Array.of(0n, 2n ** 40n, 2n, 3n, 4n),
        offsets: Int32Array.of(0, 2, 2), mode: 'mean', seed: 9, paddingIdx: 3, out: new Float32Array(5).fill(7),
      };
    case 'qrEmbeddingBagWeightsBackward':
      return {
        gradOutput: new Float32Array(12).fill(1), quotient: new Float32Array(12).fill(3), remainder: new Float32Array(16).fill(5), dim: 4,
        indices: Int32Array.of(0, 11, 2, 7, 4), offsets: Int32Array.of(0, 2, 2), mode: 'mean', combine: 'mul', paddingIdx: 7, out: new Float32Array(5).fill(7),
      };
    case 'spmm':
      return {
        a: { rowPtr: Int32Array.of(0, 2, 2, 3), colIdx: Int32Array.of(0, 3, 1), values: Float32Array.of(1, 2, 3), numRows: 3, numCols: 4 },
        b: new Float32Array(8).fill(1), dim: 2, out: new Float32Array(6).fill(7),
      };
    case 'csrFromCoo':
      return { rows: Int32Array.of(0, 2, 1), cols: Int32Array.of(1, 1, 3), values: Float32Array.of(1, 2, 3), numRows: 3, numCols: 4 };
    case 'scatterPlan':
      return { indices: Int32Array.of(0, 3, 1), numRows: 4 };
    case 'csrTranspose':
      return { rowPtr: Int32Array.of(0, 2, 2, 3), colIdx: Int32Array.of(0, 3, 1), values: Float32Array.of(1, 2, 3), numRows: 3, numCols: 4 };
  }
}

function expectBad(op: Op, make: () => unknown, cls: ErrorConstructor, message: RegExp) {
  const asyncFn = ASYNC[op] as ((o: unknown) => Promise<unknown>) | undefined;
  return expectThrowsAndRejects(op, make, cls, message, SYNC[op] as (o: unknown) => unknown, asyncFn);
}

function withOpts(op: Op, patch: Opts): () => Opts {
  return () => {
    const o = { ...base(op), ...patch };
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete o[k];
    return o;
  };
}

function withA(patch: Opts): () => Opts {
  return () => {
    const o = base('spmm');
    const a = { ...(o.a as Opts), ...patch };
    for (const [k, v] of Object.entries(patch)) if (v === undefined) delete a[k];
    return { ...o, a };
  };
}

type Case = [string, Op, () => unknown, ErrorConstructor, RegExp];

describe('scatterAdd', () => {
  const op = 'scatterAdd';
  const cases: Case[] = [
    ['not an object', op, () => null, TypeError, /scatterAdd(Async)? expects an options object, got null/],
    ['index out of range, last', op, withOpts(op, { indices: Int32Array.of(0, 5, 2, 2, 6) }), RangeError, /indices\[4\] = 6 is out of range for dst of 6 rows/],
    ['negative index', op, withOpts(op, { indices: Int32Array.of(0, -1, 2, 2, 1) }), RangeError, /indices\[1\] = -1 is out of range/],
    ['BigInt64 index 2^40', op, withOpts(op, { indices: BigInt64Array.of(0n, 1n, 2n, 3n, 1n << 40n) }), RangeError, /indices\[4\] = 1099511627776 is out of range/],
    ['src too short', op, withOpts(op, { src: new Float32Array(19) }), RangeError, /src\.length must be 20 \(5 indices x dim 4\), got 19/],
    ['src Float64Array', op, withOpts(op, { src: new Float64Array(20) }), TypeError, /src must be a Float32Array, got Float64Array/],
    ['dst plain array', op, withOpts(op, { dst: new Array(24).fill(0) }), TypeError, /dst must be a Float32Array, got Array/],
    ['dst not a multiple of dim', op, withOpts(op, { dst: new Float32Array(23) }), RangeError, /dst\.length 23 is not a multiple of dim 4/],
    ['indices Float32Array', op, withOpts(op, { indices: new Float32Array(5) }), TypeError, /indices must be an Int32Array, Uint32Array or BigInt64Array, got Float32Array/],
    ['weights wrong length', op, withOpts(op, { weights: new Float32Array(4) }), RangeError, /weights\.length must be 5 \(one per index\), got 4/],
    ['dim NaN', op, withOpts(op, { dim: NaN }), RangeError, /dim must be an integer, got NaN/],
    ['alpha NaN', op, withOpts(op, { alpha: NaN }), RangeError, /alpha must be finite/],
    ['alpha string', op, withOpts(op, { alpha: '2' }), TypeError, /alpha must be a number, got string/],
    ['dst aliases src', op, () => {
      const buf = new Float32Array(44).fill(7);
      return { ...base(op), dst: buf.subarray(0, 24), src: buf.subarray(20, 40) };
    }, TypeError, /dst must not share memory with src/],
    ['detached dst', op, () => {
      const dst = new Float32Array(24);
      detach(dst.buffer as ArrayBuffer);
      return { ...base(op), dst };
    }, TypeError, /dst's ArrayBuffer is detached/],
    ['detached src', op, () => {
      const src = new Float32Array(20);
      detach(src.buffer as ArrayBuffer);
      return { ...base(op), src };
    }, TypeError, /src's ArrayBuffer is detached/],
    ['indices and plan both', op, () => ({ ...base(op), plan: scatterPlan({ indices: Int32Array.of(0, 5, 2, 2, 1), numRows: 6 }) }), TypeError, /give indices or plan, not both/],
    ['plan for another dst size', op, () => ({ ...base(op), indices: undefined, plan: scatterPlan({ indices: Int32Array.of(0, 5, 2, 2, 1), numRows: 7 }) }), RangeError, /the plan was built for 7 destination rows, dst has 6/],
    ['plan not a ScatterPlan', op, withOpts(op, { indices: undefined, plan: { handle: 1 } }), TypeError, /plan must be a ScatterPlan, got Object/],
    ['a ScatterPlan around a foreign handle', op, withOpts(op, { indices: undefined, plan: new ScatterPlan({ handle: {}, numRows: 6, length: 5 }) }), TypeError, /plan must be a ScatterPlan, got object/],
    ['plan with a src of another length', op, () => ({ ...base(op), indices: undefined, plan: scatterPlan({ indices: Int32Array.of(0, 5), numRows: 6 }) }), RangeError, /src\.length must be 8/],
  ];
  it.each(cases)('%s', (_n, o, make, cls, message) => expectBad(o, make, cls, message));
});

describe('scatterPlan', () => {
  const op = 'scatterPlan';
  const cases: Case[] = [
    ['index out of range', op, withOpts(op, { indices: Int32Array.of(0, 4, 1) }), RangeError, /indices\[1\] = 4 is out of range for a destination of 4 rows/],
    ['numRows NaN', op, withOpts(op, { numRows: NaN }), RangeError, /numRows must be an integer, got NaN/],
    ['numRows negative', op, withOpts(op, { numRows: -1 }), RangeError, /numRows must be from 0/],
    ['indices plain array', op, withOpts(op, { indices: [0, 1] }), TypeError, /indices must be an Int32Array/],
  ];
  it.each(cases)('%s', (_n, o, make, cls, message) => expectBad(o, make, cls, message));
});

describe('embeddingBagBackward', () => {
  const op = 'embeddingBagBackward';
  const cases: Case[] = [
    ['index out of range', op, withOpts(op, { indices: Int32Array.of(0, 1, 2, 3, 6) }), RangeError, /indices\[4\] = 6 is out of range for a table of 6 rows/],
    ['gradOutput wrong length', op, withOpts(op, { gradOutput: new Float32Array(11) }), RangeError, /gradOutput\.length must be 12 \(3 bags x dim 4\), got 11/],
    ['offsets decreasing', op, withOpts(op, { offsets: Int32Array.of(0, 3, 2) }), RangeError, /offsets\[2\] = 2 is less than offsets\[1\] = 3/],
    ['lengths not adding up', op, withOpts(op, { offsets: undefined, lengths: Int32Array.of(2, 2) }), RangeError, /lengths must add up to indices\.length 5/],
    ['numRows NaN', op, withOpts(op, { numRows: NaN }), RangeError, /numRows must be an integer, got NaN/],
    ['mode unknown', op, withOpts(op, { mode: 'min' }), TypeError, /mode must be one of 'sum', 'mean', 'max', got 'min'/],
    ['max without maxIndices', op, withOpts(op, { mode: 'max', weights: undefined }), TypeError, /mode 'max' needs maxIndices/],
    ['maxIndices out of range', op, withOpts(op, { mode: 'max', weights: undefined, maxIndices: Int32Array.of(0, 1, 2, 3, -1, -1, -1, -1, 4, 4, 9, 4) }), RangeError, /maxIndices\[10\] = 9 is out of range/],
    ['maxIndices wrong type', op, withOpts(op, { mode: 'max', weights: undefined, maxIndices: new Uint32Array(12) }), TypeError, /maxIndices must be a Int32Array/],
    ['weights with max', op, withOpts(op, { mode: 'max', maxIndices: new Int32Array(12) }), TypeError, /weights are supported with mode 'sum' and 'mean'/],
    ['paddingIdx out of range', op, withOpts(op, { paddingIdx: 6 }), RangeError, /paddingIdx must be from -6 to 5, got 6/],
    ['out wrong length', op, withOpts(op, { out: new Float32Array(23) }), RangeError, /out\.length must be 24/],
    ['out aliases gradOutput', op, () => {
      const buf = new Float32Array(30).fill(7);
      return { ...base(op), gradOutput: buf.subarray(0, 12), out: buf.subarray(6, 30) };
    }, TypeError, /out must not share memory with gradOutput/],
    ['sparse with out', op, withOpts(op, { sparse: true }), TypeError, /out applies to the dense form only/],
    ['sparse not a boolean', op, withOpts(op, { sparse: 1 }), TypeError, /sparse must be a boolean/],
    ['plan of other indices', op, withOpts(op, { plan: scatterPlan({ indices: Int32Array.of(0, 1, 2, 3, 5), numRows: 6 }) }), RangeError,
      /the plan was not built from these indices: indices\[4\] = 4 differs/],
    ['plan of another length', op, withOpts(op, { plan: scatterPlan({ indices: Int32Array.of(0, 1, 2, 3), numRows: 6 }) }), RangeError,
      /the plan was built for 4 indices into 6 rows, this call has 5 indices into numRows 6/],
    ['plan for another table', op, withOpts(op, { plan: scatterPlan({ indices: Int32Array.of(0, 1, 2, 3, 4), numRows: 7 }) }), RangeError,
      /the plan was built for 5 indices into 7 rows/],
    ['plan with max', op, withOpts(op, { mode: 'max', weights: undefined, maxIndices: new Int32Array(12), plan: scatterPlan({ indices: Int32Array.of(0, 1, 2, 3, 4), numRows: 6 }) }),
      TypeError, /plan applies to mode 'sum' and 'mean'/],
    ['plan not a ScatterPlan', op, withOpts(op, { plan: { handle: 1 } }), TypeError, /plan must be a ScatterPlan, got/],
  ];
  it.each(cases)('%s', (_n, o, make, cls, message) => expectBad(o, make, cls, message));
});

describe('hashedEmbeddingBagBackward', () => {
  const op = 'hashedEmbeddingBagBackward';
  const cases: Case[] = [
    ['not an object', op, () => null, TypeError, /hashedEmbeddingBagBackward(Async)? expects an options object, got null/],
    ['no seed', op, withOpts(op, { seed: undefined }), TypeError, /hashedEmbeddingBagBackward(Async)? needs a seed/],
    ['seed negative', op, withOpts(op, { seed: -1 }), RangeError, /seed must be from 0 to 9007199254740991, got -1/],
    ['seed fractional', op, withOpts(op, { seed: 1.5 }), RangeError, /seed must be an integer, got 1.5/],
    ['negative id, last', op, withOpts(op, { indices: BigInt64Array.of(0n, 1n, 2n, 3n, -4n) }), RangeError, /indices\[4\] = -4: a hashed id must not be negative/],
    ['negative Int32 id', op, withOpts(op, { indices: Int32Array.of(0, -1, 2, 3, 4) }), RangeError, /indices\[1\] = -1: a hashed id must not be negative/],
    ['numRows 0 with ids', op, withOpts(op, { numRows: 0, out: undefined }), RangeError, /a hashed bag needs numRows of at least 1/],
    ['numRows NaN', op, withOpts(op, { numRows: NaN }), RangeError, /numRows must be an integer, got NaN/],
    ['max without maxIndices', op, withOpts(op, { mode: 'max', weights: undefined }), TypeError, /mode 'max' needs maxIndices/],
    ['max with weights', op, withOpts(op, { mode: 'max', maxIndices: new Int32Array(12) }), TypeError, /weights are supported with mode 'sum' and 'mean', not 'max'/],
    ['max, maxIndices a row past the table', op, withOpts(op, { mode: 'max', weights: undefined, maxIndices: Int32Array.from({ length: 12 }, (_, e) => (e === 7 ? 6 : 1)) }),
      RangeError, /maxIndices\[7\] = 6 is out of range: -1 or a row id below 6/],
    ['max, maxIndices below -1', op, withOpts(op, { mode: 'max', weights: undefined, maxIndices: new Int32Array(12).fill(-2) }), RangeError, /maxIndices\[0\] = -2 is out of range/],
    ['max, maxIndices wrong length', op, withOpts(op, { mode: 'max', weights: undefined, maxIndices: new Int32Array(11) }), RangeError, /maxIndices\.length must be 12/],
    ['max, maxIndices not Int32', op, withOpts(op, { mode: 'max', weights: undefined, maxIndices: new Uint32Array(12) }), TypeError, /maxIndices must be a Int32Array/],
    ['max, negative id still refused', op, withOpts(op, { mode: 'max', weights: undefined, maxIndices: new Int32Array(12), indices: Int32Array.of(0, -1, 2, 3, 4) }),
      RangeError, /indices\[1\] = -1: a hashed id must not be negative/],
    ['maxIndices', op, withOpts(op, { maxIndices: new Int32Array(12) }), TypeError, /maxIndices applies to mode 'max' only/],
    ['plan', op, withOpts(op, { plan: scatterPlan({ indices: Int32Array.of(0, 1, 2, 3, 4), numRows: 6 }) }), TypeError, /plan does not apply to hashed ids/],
    ['paddingIdx negative (an id, not counted from the end)', op, withOpts(op, { paddingIdx: -1 }), RangeError, /paddingIdx must be from 0 to 9007199254740991, got -1/],
    ['weights wrong length', op, withOpts(op, { weights: new Float32Array(4) }), RangeError, /weights\.length must be 5/],
    ['gradOutput wrong length', op, withOpts(op, { gradOutput: new Float32Array(13) }), RangeError, /gradOutput\.length must be 12 \(3 bags x dim 4\), got 13/],
    ['offsets past the end', op, withOpts(op, { offsets: Int32Array.of(0, 2, 6) }), RangeError, /offsets\[2\] = 6/],
    ['out wrong length', op, withOpts(op, { out: new Float32Array(25) }), RangeError, /out\.length must be 24/],
    ['out aliases weights', op, () => {
      const buf = new Float32Array(28).fill(2);
      return { ...base(op), weights: buf.subarray(0, 5), out: buf.subarray(4, 28) };
    }, TypeError, /out must not share memory with weights/],
    ['sparse with out', op, withOpts(op, { sparse: true }), TypeError, /out applies to the dense form only/],
    ['detached indices', op, () => {
      const indices = new BigInt64Array(5);
      detach(indices.buffer as ArrayBuffer);
      return { ...base(op), indices };
    }, TypeError, /indices's ArrayBuffer is detached/],
  ];
  it.each(cases)('%s', (_n, o, make, cls, message) => expectBad(o, make, cls, message));
});

describe('hashedEmbeddingBagWeightsBackward', () => {
  const op = 'hashedEmbeddingBagWeightsBackward';
  const cases: Case[] = [
    ['not an object', op, () => undefined, TypeError, /hashedEmbeddingBagWeightsBackward(Async)? expects an options object, got undefined/],
    ['no seed', op, withOpts(op, { seed: undefined }), TypeError, /hashedEmbeddingBagWeightsBackward(Async)? needs a seed/],
    ['seed NaN', op, withOpts(op, { seed: NaN }), RangeError, /seed must be an integer, got NaN/],
    ['negative id, last', op, withOpts(op, { indices: BigInt64Array.of(0n, 1n, 2n, 3n, -4n) }), RangeError, /indices\[4\] = -4: a hashed id must not be negative/],
    ['an empty table with ids', op, withOpts(op, { table: new Float32Array(0), out: undefined }), RangeError, /a hashed bag needs table rows of at least 1/],
    ['mode max', op, withOpts(op, { mode: 'max' }), TypeError, /mode must be 'sum' or 'mean'/],
    ['paddingIdx negative (an id)', op, withOpts(op, { paddingIdx: -2 }), RangeError, /paddingIdx must be from 0 to 9007199254740991, got -2/],
    ['table a q8 object', op, withOpts(op, { table: { format: 'q8', data: new Uint8Array(24), dim: 4 } }), TypeError, /table must be a Float32Array, got object/],
    ['gradOutput wrong length', op, withOpts(op, { gradOutput: new Float32Array(8) }), RangeError, /gradOutput\.length must be 12 \(3 bags x dim 4\), got 8/],
    ['out wrong length', op, withOpts(op, { out: new Float32Array(4) }), RangeError, /out\.length must be 5/],
    ['out aliases the table', op, () => {
      const buf = new Float32Array(26).fill(2);
      return { ...base(op), table: buf.subarray(0, 24), out: buf.subarray(21, 26) };
    }, TypeError, /out must not share memory with table/],
  ];
  it.each(cases)('%s', (_n, o, make, cls, message) => expectBad(o, make, cls, message));
});

describe('qrEmbeddingBagBackward', () => {
  const op = 'qrEmbeddingBagBackward';
  const cases: Case[] = [
    ['not an object', op, () => 'x', TypeError, /qrEmbeddingBagBackward(Async)? expects an options object, got string/],
    ['id past quotientRows x remainderRows, last', op, withOpts(op, { indices: Int32Array.of(0, 11, 2, 7, 12) }), RangeError, /indices\[4\] = 12 is out of range for 12 ids \(quotientRows 3 x remainderRows 4\)/],
    ['negative BigInt64 id', op, withOpts(op, { indices: BigInt64Array.of(0n, -2n, 2n, 7n, 4n) }), RangeError, /indices\[1\] = -2 is out of range for 12 ids/],
    ['remainderRows 0 with ids', op, withOpts(op, { remainderRows: 0, remainder: new Float32Array(0), outRemainder: undefined }), RangeError, /indices\[0\] = 0 is out of range for 0 ids/],
    ['quotientRows NaN', op, withOpts(op, { quotientRows: NaN }), RangeError, /quotientRows must be an integer, got NaN/],
    ['remainderRows missing', op, withOpts(op, { remainderRows: undefined }), TypeError, /remainderRows must be a number, got undefined/],
    ['max without maxIndices', op, withOpts(op, { mode: 'max', weights: undefined }), TypeError, /mode 'max' needs maxIndices \{ quotient, remainder \}/],
    ['max with weights', op, withOpts(op, { mode: 'max', maxIndices: { quotient: new Int32Array(12), remainder: new Int32Array(12) } }), TypeError,
      /weights are supported with mode 'sum' and 'mean', not 'max'/],
    ['max, maxIndices not an object', op, withOpts(op, { mode: 'max', weights: undefined, maxIndices: 3 }), TypeError, /maxIndices must be an object \{ quotient, remainder \}, got 3/],
    ['max, one winner array', op, withOpts(op, { mode: 'max', weights: undefined, maxIndices: { quotient: new Int32Array(12) } }), TypeError, /mode 'max' needs maxIndices/],
    ['max, a quotient winner past quotientRows', op, withOpts(op, { mode: 'max', weights: undefined, maxIndices: { quotient: Int32Array.from({ length: 12 }, (_, e) => (e === 5 ? 3 : 0)), remainder: new Int32Array(12) } }),
      RangeError, /maxIndices\.quotient\[5\] = 3 is out of range: -1 or a row id below 3/],
    ['max, a remainder winner below -1', op, withOpts(op, { mode: 'max', weights: undefined, maxIndices: { quotient: new Int32Array(12), remainder: new Int32Array(12).fill(-2) } }),
      RangeError, /maxIndices\.remainder\[0\] = -2 is out of range: -1 or a row id below 4/],
    ['max, -1 in one table only', op, withOpts(op, { mode: 'max', weights: undefined, maxIndices: { quotient: Int32Array.from({ length: 12 }, (_, e) => (e === 9 ? -1 : 1)), remainder: new Int32Array(12) } }),
      RangeError, /maxIndices\.quotient\[9\] = -1 but maxIndices\.remainder\[9\] = 0: both are -1 exactly where a bag has no entry/],
    ['max, winners wrong length', op, withOpts(op, { mode: 'max', weights: undefined, maxIndices: { quotient: new Int32Array(11), remainder: new Int32Array(12) } }), RangeError, /maxIndices\.quotient\.length must be 12/],
    ['max, winners not Int32', op, withOpts(op, { mode: 'max', weights: undefined, maxIndices: { quotient: new Float32Array(12), remainder: new Int32Array(12) } }), TypeError, /maxIndices\.quotient must be a Int32Array/],
    ['maxIndices with mean', op, withOpts(op, { maxIndices: { quotient: new Int32Array(12), remainder: new Int32Array(12) } }), TypeError, /maxIndices applies to mode 'max' only/],
    ['combine unknown', op, withOpts(op, { combine: 'add' }), TypeError, /combine must be one of 'sum', 'mul', 'concat', got 'add'/],
    ['mul without quotient', op, withOpts(op, { quotient: undefined }), TypeError, /combine 'mul' needs the quotient table/],
    ['mul with a q8 remainder table', op, withOpts(op, { remainder: { format: 'q8', data: new Uint8Array(16), dim: 4 } }), TypeError, /remainder must be a Float32Array, got object/],
    ['quotient wrong length', op, withOpts(op, { quotient: new Float32Array(13) }), RangeError, /quotient\.length must be 12 \(quotientRows 3 x dim 4\), got 13/],
    ['a table with combine sum', op, withOpts(op, { combine: 'sum', remainder: undefined }), TypeError, /quotient is read by combine 'mul' only/],
    ['gradOutput wrong length for concat', op, withOpts(op, { combine: 'concat', quotient: undefined, remainder: undefined }), RangeError, /gradOutput\.length must be 24 \(3 bags x output dim 8\), got 12/],
    ['paddingIdx past the ids', op, withOpts(op, { paddingIdx: 12 }), RangeError, /paddingIdx must be from -12 to 11, got 12/],
    ['weights wrong length', op, withOpts(op, { weights: new Float32Array(6) }), RangeError, /weights\.length must be 5/],
    ['offsets past the end', op, withOpts(op, { offsets: Int32Array.of(0, 2, 6) }), RangeError, /offsets\[2\] = 6/],
    ['outRemainder wrong length', op, withOpts(op, { outRemainder: new Float32Array(12) }), RangeError, /outRemainder\.length must be 16 \(remainderRows 4 x dim 4\), got 12/],
    ['outQuotient Float64Array', op, withOpts(op, { outQuotient: new Float64Array(12) }), TypeError, /outQuotient must be a Float32Array, got Float64Array/],
    ['outQuotient aliases the remainder table', op, () => {
      const buf = new Float32Array(28).fill(5);
      return { ...base(op), remainder: buf.subarray(0, 16), outQuotient: buf.subarray(10, 22) };
    }, TypeError, /outQuotient must not share memory with remainder/],
    ['the two outs overlap', op, () => {
      const buf = new Float32Array(40).fill(7);
      return { ...base(op), outQuotient: buf.subarray(0, 12), outRemainder: buf.subarray(8, 24) };
    }, TypeError, /outRemainder must not share memory with outQuotient/],
    ['sparse with outRemainder', op, withOpts(op, { sparse: true, outQuotient: undefined }), TypeError, /outRemainder applies to the dense form only/],
    ['sparse not a boolean', op, withOpts(op, { sparse: 1 }), TypeError, /sparse must be a boolean, got 1/],
    ['detached gradOutput', op, () => {
      const gradOutput = new Float32Array(12);
      detach(gradOutput.buffer as ArrayBuffer);
      return { ...base(op), gradOutput };
    }, TypeError, /gradOutput's ArrayBuffer is detached/],
  ];
  it.each(cases)('%s', (_n, o, make, cls, message) => expectBad(o, make, cls, message));
});

describe('qrEmbeddingBagWeightsBackward', () => {
  const op = 'qrEmbeddingBagWeightsBackward';
  const cases: Case[] = [
    ['not an object', op, () => 1, TypeError, /qrEmbeddingBagWeightsBackward(Async)? expects an options object, got number/],
    ['id past the id range, last', op, withOpts(op, { indices: Int32Array.of(0, 11, 2, 7, 12) }), RangeError, /indices\[4\] = 12 is out of range for 12 ids \(quotient rows 3 x remainder rows 4\)/],
    ['no remainder', op, withOpts(op, { remainder: undefined }), TypeError, /remainder must be a Float32Array, got undefined/],
    ['quotient a q8 object', op, withOpts(op, { quotient: { format: 'q8', data: new Uint8Array(12), dim: 4 } }), TypeError, /quotient must be a Float32Array, got object/],
    ['remainder not a multiple of dim', op, withOpts(op, { remainder: new Float32Array(15) }), RangeError, /remainder\.length 15 is not a multiple of dim 4/],
    ['mode max', op, withOpts(op, { mode: 'max' }), TypeError, /mode must be 'sum' or 'mean'/],
    ['combine unknown', op, withOpts(op, { combine: 'max' }), TypeError, /combine must be one of 'sum', 'mul', 'concat', got 'max'/],
    ['gradOutput wrong length for concat', op, withOpts(op, { combine: 'concat' }), RangeError, /gradOutput\.length must be 24 \(3 bags x output dim 8\), got 12/],
    ['paddingIdx past the ids', op, withOpts(op, { paddingIdx: -13 }), RangeError, /paddingIdx must be from -12 to 11, got -13/],
    ['out wrong length', op, withOpts(op, { out: new Float32Array(6) }), RangeError, /out\.length must be 5/],
    ['out aliases the quotient table', op, () => {
      const buf = new Float32Array(16).fill(3);
      return { ...base(op), quotient: buf.subarray(0, 12), out: buf.subarray(11, 16) };
    }, TypeError, /out must not share memory with quotient/],
    ['detached indices', op, () => {
      const indices = new Int32Array(5);
      detach(indices.buffer as ArrayBuffer);
      return { ...base(op), indices };
    }, TypeError, /indices's ArrayBuffer is detached/],
  ];
  it.each(cases)('%s', (_n, o, make, cls, message) => expectBad(o, make, cls, message));
});

describe('embeddingBagWeightsBackward', () => {
  const op = 'embeddingBagWeightsBackward';
  const cases: Case[] = [
    ['not an object', op, () => 3, TypeError, /embeddingBagWeightsBackward(Async)? expects an options object, got number/],
    ['index out of range, last', op, withOpts(op, { indices: Int32Array.of(0, 1, 2, 3, 6) }), RangeError, /indices\[4\] = 6 is out of range for table of 6 rows/],
    ['negative BigInt64 index', op, withOpts(op, { indices: BigInt64Array.of(0n, 1n, -3n, 3n, 4n), offsets: BigInt64Array.of(0n, 2n, 2n) }), RangeError, /indices\[2\] = -3 is out of range/],
    ['gradOutput wrong length', op, withOpts(op, { gradOutput: new Float32Array(11) }), RangeError, /gradOutput\.length must be 12 \(3 bags x dim 4\), got 11/],
    ['table Float64Array', op, withOpts(op, { table: new Float64Array(24) }), TypeError, /table must be a Float32Array, got Float64Array/],
    ['table object (a compressed table)', op, withOpts(op, { table: { format: 'q8', data: new Uint8Array(24) } }), TypeError, /table must be a Float32Array, got object/],
    ['table not a multiple of dim', op, withOpts(op, { table: new Float32Array(23) }), RangeError, /table\.length 23 is not a multiple of dim 4/],
    ['mode max', op, withOpts(op, { mode: 'max' }), TypeError, /mode must be 'sum' or 'mean': 'max' pooling takes no per-sample weights/],
    ['mode unknown', op, withOpts(op, { mode: 'min' }), TypeError, /mode must be one of 'sum', 'mean', 'max', got 'min'/],
    ['offsets decreasing', op, withOpts(op, { offsets: Int32Array.of(0, 3, 2) }), RangeError, /offsets\[2\] = 2 is less than offsets\[1\] = 3/],
    ['offsets and lengths', op, withOpts(op, { lengths: Int32Array.of(2, 0, 3) }), TypeError, /needs exactly one of offsets and lengths/],
    ['lengths not adding up', op, withOpts(op, { offsets: undefined, lengths: Int32Array.of(2, 2) }), RangeError, /lengths must add up to indices\.length 5/],
    ['dim NaN', op, withOpts(op, { dim: NaN }), RangeError, /dim must be an integer, got NaN/],
    ['dim 0', op, withOpts(op, { dim: 0 }), RangeError, /dim must be from 1/],
    ['paddingIdx out of range', op, withOpts(op, { paddingIdx: -7 }), RangeError, /paddingIdx must be from -6 to 5, got -7/],
    ['out wrong length', op, withOpts(op, { out: new Float32Array(4) }), RangeError, /out\.length must be 5 \(5 indices\), got 4/],
    ['out Float64Array', op, withOpts(op, { out: new Float64Array(5) }), TypeError, /out must be a Float32Array, got Float64Array/],
    ['out aliases table', op, () => {
      const buf = new Float32Array(26).fill(2);
      return { ...base(op), table: buf.subarray(0, 24), out: buf.subarray(21, 26) };
    }, TypeError, /out must not share memory with table/],
    ['out aliases gradOutput', op, () => {
      const buf = new Float32Array(16).fill(1);
      return { ...base(op), gradOutput: buf.subarray(0, 12), out: buf.subarray(11, 16) };
    }, TypeError, /out must not share memory with gradOutput/],
    ['detached table', op, () => {
      const table = new Float32Array(24);
      detach(table.buffer as ArrayBuffer);
      return { ...base(op), table };
    }, TypeError, /table's ArrayBuffer is detached/],
    ['detached out', op, () => {
      const out = new Float32Array(5);
      detach(out.buffer as ArrayBuffer);
      return { ...base(op), out };
    }, TypeError, /out's ArrayBuffer is detached/],
  ];
  it.each(cases)('%s', (_n, o, make, cls, message) => expectBad(o, make, cls, message));
});

describe('spmm and CSR validation', () => {
  const op = 'spmm';
  const cases: Case[] = [
    ['rowPtr not monotone', op, withA({ rowPtr: Int32Array.of(0, 2, 1, 3) }), RangeError, /a\.rowPtr\[2\] = 1 is less than a\.rowPtr\[1\] = 2: rowPtr must not decrease/],
    ['rowPtr not ending at nnz', op, withA({ rowPtr: Int32Array.of(0, 1, 1, 2) }), RangeError, /a\.rowPtr\[3\] = 2 must equal colIdx\.length \(nnz\) 3/],
    ['rowPtr not starting at 0', op, withA({ rowPtr: Int32Array.of(1, 2, 2, 3) }), RangeError, /a\.rowPtr\[0\] = 1 must be 0/],
    ['rowPtr past nnz', op, withA({ rowPtr: Int32Array.of(0, 4, 4, 3) }), RangeError, /a\.rowPtr\[1\] = 4 is past the end of colIdx \(nnz 3\)/],
    ['rowPtr wrong length', op, withA({ rowPtr: Int32Array.of(0, 2, 3) }), RangeError, /a\.rowPtr\.length must be numRows \+ 1 = 4, got 3/],
    ['colIdx out of range', op, withA({ colIdx: Int32Array.of(0, 4, 1) }), RangeError, /a\.colIdx\[1\] = 4 is out of range for a matrix of 4 columns/],
    ['negative colIdx', op, withA({ colIdx: BigInt64Array.of(0n, -2n, 1n), rowPtr: BigInt64Array.of(0n, 2n, 2n, 3n) }), RangeError, /a\.colIdx\[1\] = -2 is out of range/],
    ['values wrong length', op, withA({ values: Float32Array.of(1, 2) }), RangeError, /a\.values\.length must be 3/],
    ['numRows NaN', op, withA({ numRows: NaN }), RangeError, /a\.numRows must be an integer, got NaN/],
    ['b wrong length', op, withOpts(op, { b: new Float32Array(7) }), RangeError, /b\.length must be 8 \(a\.numCols 4 x dim 2\), got 7/],
    ['b wrong length for the transpose', op, withOpts(op, { transpose: true }), RangeError, /b\.length must be 6 \(a\.numCols 3 x dim 2\), got 8/],
    ['b Float64Array', op, withOpts(op, { b: new Float64Array(8) }), TypeError, /b must be a Float32Array, got Float64Array/],
    ['reduce unknown', op, withOpts(op, { reduce: 'prod' }), TypeError, /reduce must be one of 'sum', 'mean', 'max', got 'prod'/],
    ['a missing', op, withOpts(op, { a: undefined }), TypeError, /a must be a CsrMatrix, got undefined/],
    ['out aliases b', op, () => {
      const buf = new Float32Array(12).fill(7);
      return { ...base(op), b: buf.subarray(0, 8), out: buf.subarray(6, 12) };
    }, TypeError, /out must not share memory with b/],
    ['out wrong length', op, withOpts(op, { out: new Float32Array(5) }), RangeError, /out\.length must be 6/],
    ['aT without transpose', op, withOpts(op, { aT: csrTranspose(base(op).a as never) }), TypeError, /aT applies to transpose: true only/],
    ['aT of another shape', op, withOpts(op, { transpose: true, b: new Float32Array(6), aT: base(op).a }), RangeError,
      /aT must be csrTranspose\(a\): a is 3 x 4 with 3 nonzeros, aT is 3 x 4 with 3/],
    ['aT not an object', op, withOpts(op, { transpose: true, b: new Float32Array(6), aT: 5 }), TypeError, /aT must be a CsrMatrix, got 5/],
  ];
  it.each(cases)('%s', (_n, o, make, cls, message) => expectBad(o, make, cls, message));
});

describe('csrTranspose', () => {
  it('numCols beyond int32 ids is a RangeError', () => {
    expect(() => csrTranspose({ rowPtr: Int32Array.of(0), colIdx: new Int32Array(0), numRows: 0, numCols: 2 ** 50 })).toThrow(/a.numCols must be from 0 to 2147483647/);
  });
  const op = 'csrTranspose';
  const cases: Case[] = [
    ['rowPtr not monotone', op, withOpts(op, { rowPtr: Int32Array.of(0, 2, 1, 3) }), RangeError, /a\.rowPtr\[2\] = 1 is less than a\.rowPtr\[1\] = 2/],
    ['colIdx out of range', op, withOpts(op, { colIdx: Int32Array.of(0, 4, 1) }), RangeError, /a\.colIdx\[1\] = 4 is out of range for a matrix of 4 columns/],
    ['values wrong length', op, withOpts(op, { values: Float32Array.of(1) }), RangeError, /a\.values\.length must be 3/],
    ['colIdx a Float32Array', op, withOpts(op, { colIdx: new Float32Array(3) }), TypeError, /a\.colIdx must be/],
  ];
  it.each(cases)('%s', (_n, o, make, cls, message) => expectBad(o, make, cls, message));
});

describe('csrFromCoo', () => {
  const op = 'csrFromCoo';
  const cases: Case[] = [
    ['row out of range', op, withOpts(op, { rows: Int32Array.of(0, 3, 1) }), RangeError, /rows\[1\] = 3 is out of range for a matrix of 3 rows/],
    ['col out of range', op, withOpts(op, { cols: Int32Array.of(1, 1, 4) }), RangeError, /cols\[2\] = 4 is out of range for a matrix of 4 columns/],
    ['lengths differ', op, withOpts(op, { cols: Int32Array.of(1, 1) }), RangeError, /cols\.length must equal rows\.length 3, got 2/],
    ['values wrong length', op, withOpts(op, { values: Float32Array.of(1) }), RangeError, /values\.length must be 3/],
    ['numCols NaN', op, withOpts(op, { numCols: NaN }), RangeError, /numCols must be an integer, got NaN/],
    ['sumDuplicates not a boolean', op, withOpts(op, { sumDuplicates: 'yes' }), TypeError, /sumDuplicates must be a boolean/],
    ['numRows beyond int32 ids', op, withOpts(op, { numRows: 2 ** 31 }), RangeError, /numRows must be from 0 to 2147483647, got 2147483648/],
  ];
  it.each(cases)('%s', (_n, o, make, cls, message) => expectBad(o, make, cls, message));
});
