// Generated bad input over every public function (fast-check): start from a valid call,
// replace one option with a hostile value (wrong types, lengths off by one, NaN / Infinity /
// negative / fractional / 2^53 sizes, BigInt for a number and the reverse, detached,
// resizable and shared buffers, an output aliasing an input, indices at the 32-bit
// boundary), and call it. Each call must throw a TypeError or RangeError with every array it
// was given unchanged, or succeed; the sync and Async forms must agree on which. A crash
// takes the test process down, which fails the run. Rerun a failure with TEST_SEED=<seed>.
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import * as ek from '../lib/index';
import { bytesOf, freshSeed, sameBytes } from './reference';

const initialThreads = ek.getThreads();
const initialIsa = ek.capabilities().isa;
afterAll(() => {
  ek.setThreads(initialThreads);
  ek.setIsa(initialIsa);
});

type Options = Record<string, unknown>;

function detached(): Float32Array {
  const a = new Float32Array(16);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}

function resizable(n: number, grownTo: number): Float32Array {
  const AB = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void };
  const buf = new AB(n * 4, { maxByteLength: Math.max(n, grownTo) * 4 + 64 });
  const view = new Float32Array(buf); // length-tracking
  view.fill(1);
  buf.resize(grownTo * 4);
  return view;
}

function shared(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(n * 4)).fill(0.5);
}

/**
 * Hostile replacements for one option, as makers (each call gets fresh arrays); `o` is the
 * valid call, to make near-misses of it, and the maker gets the call being built, for
 * aliases of its own arrays.
 */
type Maker = { label: string; make: (call: Options) => unknown };
function hostile(o: Options, key: string): fc.Arbitrary<Maker> {
  const v = o[key];
  const len = ArrayBuffer.isView(v) ? (v as Float32Array).length : 8;
  const near: Array<() => unknown> = [
    () => new Float32Array(Math.max(0, len - 1)),
    () => new Float32Array(len + 1),
    () => new Float64Array(len),
    () => new Int16Array(len),
    () => new Int32Array(len),
    () => new Uint32Array(len).fill(2 ** 31),
    () => new Int32Array(len).fill(-(2 ** 31)),
    () => new BigInt64Array(len).fill(2n ** 32n),
    () => new BigInt64Array(len).fill(-1n),
    () => Array.from({ length: len }, () => 0),
    () => detached(),
    () => resizable(len, Math.max(0, len - 3)),
    () => resizable(len, len + 5),
    () => shared(len),
    () => new DataView(new ArrayBuffer(len * 4)),
    () => new Float32Array(new ArrayBuffer(len * 4 + 4), 4, len), // offset view, right length
  ];
  const scalars: unknown[] = [NaN, Infinity, -Infinity, -1, 0, -0, 0.5, 1.5, 2 ** 31, 2 ** 32, 2 ** 53, -(2 ** 53), Number.MAX_VALUE, 3n, -1n, 2n ** 64n, '3', '', true, null, {}, [], () => 1, Symbol('s')];
  // An array of the same call in this option's place (an output aliasing an input).
  const aliases: Maker[] = Object.keys(o).filter((k) => k !== key && ArrayBuffer.isView(o[k])).map((k) => ({ label: `the call's ${k}`, make: (call) => call[k] }));
  const arrays: Maker[] = near.map((make) => ({ label: '', make }));
  const values: Maker[] = [...scalars, undefined].map((v) => ({ label: typeof v === 'symbol' ? 'a symbol' : typeof v === 'bigint' ? `${v}n` : String(v), make: () => v }));
  return fc.constantFrom(...arrays, ...aliases, ...values);
}

function arraysOf(o: unknown, into: Map<string, ArrayBufferView> = new Map(), prefix = ''): Map<string, ArrayBufferView> {
  if (o === null || typeof o !== 'object') return into;
  for (const [k, v] of Object.entries(o as Options)) {
    if (ArrayBuffer.isView(v)) into.set(prefix + k, v);
    else if (v && typeof v === 'object' && !Array.isArray(v)) arraysOf(v, into, `${prefix}${k}.`);
  }
  return into;
}

function snapshot(o: Options): Map<string, Uint8Array | null> {
  const m = new Map<string, Uint8Array | null>();
  for (const [k, v] of arraysOf(o)) {
    try {
      m.set(k, bytesOf(v));
    } catch {
      m.set(k, null); // detached
    }
  }
  return m;
}

function unchanged(o: Options, before: Map<string, Uint8Array | null>): string | null {
  for (const [k, v] of arraysOf(o)) {
    const b = before.get(k);
    if (b === null || b === undefined) continue;
    if (!sameBytes(bytesOf(v), b)) return k;
  }
  return null;
}

type Outcome = { kind: 'ok' } | { kind: 'error'; cls: string; message: string };

function classify(e: unknown): Outcome {
  if (e instanceof TypeError || e instanceof RangeError) return { kind: 'error', cls: e.constructor.name, message: e.message };
  return { kind: 'error', cls: `unexpected ${String((e as Error)?.constructor?.name ?? typeof e)}`, message: String((e as Error)?.message ?? e) };
}

interface Target {
  name: string;
  call: (o: Options) => unknown;
  callAsync?: (o: Options) => Promise<unknown>;
  base: () => Options;
}

const table = () => new Float32Array(10 * 4).map((_, i) => i);
// 3 rows of dim 5: q8 stores 5 bytes a row, q4 3 (the last high nibble unused).
const q8Fields = () => ({ format: 'q8', rows: 3, dim: 5, data: new Uint8Array(15).map((_, i) => i * 7), scales: Float32Array.of(0.5, 1, 2), biases: Float32Array.of(-1, 0, 1) });
const q4Fields = () => ({ format: 'q4', rows: 3, dim: 5, data: new Uint8Array(9).map((_, i) => i * 29), scales: Float32Array.of(0.5, 1, 2), biases: Float32Array.of(-1, 0, 1) });
const stored = (o: Options) => ({ format: o.format, rows: o.rows, dim: o.dim, data: o.data, scales: o.scales, biases: o.biases });
const TARGETS: Target[] = [
  { name: 'gather', call: (o) => ek.gather(o as never), callAsync: (o) => ek.gatherAsync(o as never), base: () => ({ table: table(), dim: 4, indices: Int32Array.of(1, 9, 0), out: new Float32Array(12) }) },
  {
    name: 'embeddingBag', call: (o) => ek.embeddingBag(o as never), callAsync: (o) => ek.embeddingBagAsync(o as never),
    base: () => ({ table: table(), dim: 4, indices: Int32Array.of(1, 9, 0, 3), offsets: Int32Array.of(0, 1), mode: 'sum', weights: Float32Array.of(1, 2, 3, 4), paddingIdx: 3, out: new Float32Array(8) }),
  },
  {
    name: 'rope', call: (o) => ek.rope(o as never), callAsync: (o) => ek.ropeAsync(o as never),
    base: () => ({ q: new Float32Array(2 * 2 * 8).fill(1), k: new Float32Array(2 * 8).fill(2), numHeads: 2, numKvHeads: 1, headDim: 8, rotaryDim: 6, positions: Int32Array.of(4, 7), layout: 'neox', base: 1e4, out: new Float32Array(32), outK: new Float32Array(16) }),
  },
  {
    name: 'rope (cache)', call: (o) => ek.rope(o as never), callAsync: (o) => ek.ropeAsync(o as never),
    base: () => ({ q: new Float32Array(2 * 8).fill(1), numHeads: 1, headDim: 8, offset: 3, layout: 'gptj', cache: ek.ropeCache({ rotaryDim: 8, base: 1e4, maxPosition: 6 }) }),
  },
  {
    name: 'ropeRerotate', call: (o) => ek.ropeRerotate(o as never), callAsync: (o) => ek.ropeRerotateAsync(o as never),
    base: () => ({ k: new Float32Array(2 * 8).fill(1), numKvHeads: 1, headDim: 8, fromPositions: Int32Array.of(9, 2), toPositions: Int32Array.of(0, 1), layout: 'gptj', base: 1e4 }),
  },
  { name: 'ropeFrequencies', call: (o) => ek.ropeFrequencies(o as never), base: () => ({ rotaryDim: 8, base: 1e4, scaling: { type: 'yarn', factor: 4, originalMaxPosition: 64 } }) },
  { name: 'ropeCache', call: (o) => ek.ropeCache(o as never), base: () => ({ rotaryDim: 8, base: 1e4, maxPosition: 5 }) },
  { name: 'fwht', call: (o) => ek.fwht(o as never), callAsync: (o) => ek.fwhtAsync(o as never), base: () => ({ x: new Float32Array(3 * 8).map((_, i) => i), n: 8, normalize: true }) },
  {
    name: 'srht', call: (o) => ek.srht(o as never), callAsync: (o) => ek.srhtAsync(o as never),
    base: () => ({ x: new Float32Array(2 * 7).map((_, i) => i), inDim: 7, outDim: 3, seed: 42, out: new Float32Array(6) }),
  },
  {
    name: 'fjlt', call: (o) => ek.fjlt(o as never), callAsync: (o) => ek.fjltAsync(o as never),
    base: () => ({ x: new Float32Array(2 * 9).map((_, i) => i), inDim: 9, outDim: 4, seed: 7n, density: 0.5 }),
  },
  {
    name: 'sparseProjection', call: (o) => ek.sparseProjection(o as never), callAsync: (o) => ek.sparseProjectionAsync(o as never),
    base: () => ({ x: new Float32Array(2 * 10).map((_, i) => i), inDim: 10, outDim: 4, seed: 3, density: 'achlioptas', out: new Float32Array(8) }),
  },
  {
    name: 'SparseProjection.apply', call: (o) => ek.makeSparseProjection(o as never).apply(o.x as never, o.out as never),
    callAsync: (o) => ek.makeSparseProjection(o as never).applyAsync(o.x as never, o.out as never),
    base: () => ({ x: new Float32Array(2 * 10).map((_, i) => i), inDim: 10, outDim: 4, seed: 3, out: new Float32Array(8) }),
  },
  { name: 'jlDimension', call: (o) => ek.jlDimension(o as never), base: () => ({ n: 1000, eps: 0.1 }) },
  {
    name: 'scatterAdd', call: (o) => ek.scatterAdd(o as never), callAsync: (o) => ek.scatterAddAsync(o as never),
    base: () => ({ dst: new Float32Array(5 * 3).fill(1), dim: 3, indices: Int32Array.of(4, 0, 4), src: new Float32Array(9).map((_, i) => i), weights: Float32Array.of(1, 2, 3), alpha: 0.5 }),
  },
  { name: 'scatterPlan', call: (o) => ek.scatterPlan(o as never), callAsync: (o) => ek.scatterPlanAsync(o as never), base: () => ({ indices: Int32Array.of(2, 0, 2, 1), numRows: 3 }) },
  {
    name: 'embeddingBagBackward', call: (o) => ek.embeddingBagBackward(o as never), callAsync: (o) => ek.embeddingBagBackwardAsync(o as never),
    base: () => ({ gradOutput: new Float32Array(2 * 4).fill(1), dim: 4, indices: Int32Array.of(1, 9, 0, 3), offsets: Int32Array.of(0, 1), mode: 'mean', weights: Float32Array.of(1, 2, 3, 4), paddingIdx: 3, numRows: 10 }),
  },
  {
    name: 'embeddingBagBackward (max, sparse)', call: (o) => ek.embeddingBagBackward(o as never), callAsync: (o) => ek.embeddingBagBackwardAsync(o as never),
    base: () => ({ gradOutput: new Float32Array(2 * 2).fill(1), dim: 2, indices: Int32Array.of(1, 9, 0), offsets: Int32Array.of(0, 2), mode: 'max', maxIndices: Int32Array.of(9, 1, 0, -1), numRows: 10, sparse: true }),
  },
  {
    name: 'embeddingBagBackward (plan)', call: (o) => ek.embeddingBagBackward(o as never), callAsync: (o) => ek.embeddingBagBackwardAsync(o as never),
    base: () => ({
      gradOutput: new Float32Array(2 * 4).fill(1), dim: 4, indices: Int32Array.of(1, 9, 0, 3), offsets: Int32Array.of(0, 1), mode: 'sum', paddingIdx: 3, numRows: 10,
      plan: ek.scatterPlan({ indices: Int32Array.of(1, 9, 0, 3), numRows: 10 }),
    }),
  },
  {
    name: 'hashedEmbeddingBagBackward', call: (o) => ek.hashedEmbeddingBagBackward(o as never), callAsync: (o) => ek.hashedEmbeddingBagBackwardAsync(o as never),
    base: () => ({
      gradOutput: new Float32Array(2 * 4).fill(1), dim: 4, indices: BigInt64Array.of(1n, 2n ** 40n, 0n, 3n), offsets: Int32Array.of(0, 1), mode: 'mean',
      weights: Float32Array.of(1, 2, 3, 4), paddingIdx: 3, seed: 5, numRows: 10, out: new Float32Array(40),
    }),
  },
  {
    name: 'hashedEmbeddingBagBackward (max, sparse)', call: (o) => ek.hashedEmbeddingBagBackward(o as never), callAsync: (o) => ek.hashedEmbeddingBagBackwardAsync(o as never),
    base: () => ({
      gradOutput: new Float32Array(2 * 2).fill(1), dim: 2, indices: BigInt64Array.of(1n, 2n ** 40n, 0n), offsets: Int32Array.of(0, 2), mode: 'max',
      maxIndices: Int32Array.of(9, 1, 0, -1), seed: 5, numRows: 10, sparse: true,
    }),
  },
  {
    name: 'hashedEmbeddingBagWeightsBackward', call: (o) => ek.hashedEmbeddingBagWeightsBackward(o as never), callAsync: (o) => ek.hashedEmbeddingBagWeightsBackwardAsync(o as never),
    base: () => ({
      gradOutput: new Float32Array(2 * 4).fill(1), table: new Float32Array(10 * 4).map((_, i) => i), dim: 4, indices: BigInt64Array.of(1n, 2n ** 40n, 0n, 3n),
      offsets: Int32Array.of(0, 1), mode: 'mean', seed: 5, paddingIdx: 3, out: new Float32Array(4),
    }),
  },
  {
    name: 'qrEmbeddingBagBackward', call: (o) => ek.qrEmbeddingBagBackward(o as never), callAsync: (o) => ek.qrEmbeddingBagBackwardAsync(o as never),
    base: () => ({
      gradOutput: new Float32Array(2 * 4).fill(1), dim: 4, indices: BigInt64Array.of(1n, 11n, 0n, 3n), offsets: Int32Array.of(0, 1), mode: 'mean',
      combine: 'mul', weights: Float32Array.of(1, 2, 3, 4), paddingIdx: 3, quotientRows: 3, remainderRows: 4,
      quotient: new Float32Array(12).fill(2), remainder: new Float32Array(16).fill(3), outQuotient: new Float32Array(12), outRemainder: new Float32Array(16),
    }),
  },
  {
    name: 'qrEmbeddingBagBackward (max, sparse)', call: (o) => ek.qrEmbeddingBagBackward(o as never), callAsync: (o) => ek.qrEmbeddingBagBackwardAsync(o as never),
    base: () => ({
      gradOutput: new Float32Array(2 * 2 * 4).fill(1), dim: 4, indices: Int32Array.of(1, 11, 0), offsets: Int32Array.of(0, 1), mode: 'max', combine: 'concat',
      quotientRows: 3, remainderRows: 4, sparse: true,
      maxIndices: { quotient: Int32Array.of(0, 2, 0, 0, 2, 2, 0, 2), remainder: Int32Array.of(1, 3, 1, 1, 0, 0, 0, 3) },
    }),
  },
  {
    name: 'qrEmbeddingBagWeightsBackward', call: (o) => ek.qrEmbeddingBagWeightsBackward(o as never), callAsync: (o) => ek.qrEmbeddingBagWeightsBackwardAsync(o as never),
    base: () => ({
      gradOutput: new Float32Array(2 * 4).fill(1), quotient: new Float32Array(12).fill(2), remainder: new Float32Array(16).fill(3), dim: 4,
      indices: BigInt64Array.of(1n, 11n, 0n, 3n), offsets: Int32Array.of(0, 1), mode: 'mean', combine: 'sum', paddingIdx: 3, out: new Float32Array(4),
    }),
  },
  {
    name: 'embeddingBagWeightsBackward', call: (o) => ek.embeddingBagWeightsBackward(o as never), callAsync: (o) => ek.embeddingBagWeightsBackwardAsync(o as never),
    base: () => ({
      gradOutput: new Float32Array(2 * 4).fill(1), table: new Float32Array(10 * 4).map((_, i) => i), dim: 4, indices: Int32Array.of(1, 9, 0, 3),
      offsets: Int32Array.of(0, 1), mode: 'mean', paddingIdx: 3, out: new Float32Array(4),
    }),
  },
  { name: 'csrFromCoo', call: (o) => ek.csrFromCoo(o as never), callAsync: (o) => ek.csrFromCooAsync(o as never), base: () => ({ rows: Int32Array.of(0, 2, 0), cols: Int32Array.of(1, 0, 1), values: Float32Array.of(1, 2, 3), numRows: 3, numCols: 2 }) },
  {
    name: 'spmm', call: (o) => ek.spmm(o as never), callAsync: (o) => ek.spmmAsync(o as never),
    base: () => ({ a: { rowPtr: Int32Array.of(0, 2, 2, 3), colIdx: Int32Array.of(0, 1, 1), values: Float32Array.of(1, -1, 2), numRows: 3, numCols: 2 }, b: new Float32Array(2 * 4).map((_, i) => i), dim: 4, reduce: 'max', out: new Float32Array(12) }),
  },
  {
    name: 'spmm (matrix fields)', call: (o) => ek.spmm({ a: o, b: new Float32Array(8).fill(1), dim: 4, transpose: true } as never),
    callAsync: (o) => ek.spmmAsync({ a: o, b: new Float32Array(8).fill(1), dim: 4, transpose: true } as never),
    base: () => ({ rowPtr: Int32Array.of(0, 2, 2), colIdx: Int32Array.of(0, 2), values: Float32Array.of(1, 2), numRows: 2, numCols: 3 }),
  },
  {
    name: 'spmm (aT)', call: (o) => ek.spmm(o as never), callAsync: (o) => ek.spmmAsync(o as never),
    base: () => {
      const a = { rowPtr: Int32Array.of(0, 2, 2, 3), colIdx: Int32Array.of(0, 1, 1), values: Float32Array.of(1, -1, 2), numRows: 3, numCols: 2 };
      return { a, aT: ek.csrTranspose(a), transpose: true, b: new Float32Array(3 * 4).map((_, i) => i), dim: 4, out: new Float32Array(8) };
    },
  },
  { name: 'csrTranspose', call: (o) => ek.csrTranspose(o as never), callAsync: (o) => ek.csrTransposeAsync(o as never), base: () => ({ rowPtr: Int32Array.of(0, 2, 3), colIdx: Int32Array.of(0, 2, 1), values: Float32Array.of(1, 2, 3), numRows: 2, numCols: 3 }) },
  {
    name: 'embeddingBag (returnArgmax)', call: (o) => ek.embeddingBag(o as never), callAsync: (o) => ek.embeddingBagAsync(o as never),
    base: () => ({ table: table(), dim: 4, indices: Int32Array.of(1, 9, 0, 3), lengths: Int32Array.of(3, 1), mode: 'max', returnArgmax: true, paddingIdx: 0 }),
  },
  { name: 'VqMap', call: (o) => new ek.VqMap(o as never), base: () => ({ tokenToCode: Int32Array.of(2, 0, 1, 2, 0), numCodes: 4 }) },
  ...(['vqLogits', 'vqLogSumExp', 'vqLogSoftmax'] as const).map((name) => ({
    name, call: (o: Options) => ek[name](o as never), callAsync: (o: Options) => ek[`${name}Async`](o as never),
    base: () => ({ codeLogits: new Float32Array(2 * 3).map((_, i) => i - 2), map: new ek.VqMap({ tokenToCode: Int32Array.of(2, 0, 1, 2, 2), numCodes: 3 }), ...(name === 'vqLogits' ? { out: new Float32Array(10) } : {}) }),
  })),
  {
    name: 'vqCrossEntropy', call: (o) => ek.vqCrossEntropy(o as never), callAsync: (o) => ek.vqCrossEntropyAsync(o as never),
    base: () => ({ codeLogits: new Float32Array(2 * 3).map((_, i) => i), map: new ek.VqMap({ tokenToCode: Int32Array.of(2, 0, 1, 2, 2), numCodes: 3 }), targets: Int32Array.of(4, 0) }),
  },
  {
    name: 'vqTopK', call: (o) => ek.vqTopK(o as never), callAsync: (o) => ek.vqTopKAsync(o as never),
    base: () => ({ codeLogits: new Float32Array(2 * 3).map((_, i) => i % 2), map: new ek.VqMap({ tokenToCode: Int32Array.of(2, 0, 1, 2, 2), numCodes: 3 }), k: 3 }),
  },
  {
    name: 'vqSample', call: (o) => ek.vqSample(o as never), callAsync: (o) => ek.vqSampleAsync(o as never),
    base: () => ({ codeLogits: new Float32Array(2 * 3).map((_, i) => i), map: new ek.VqMap({ tokenToCode: Int32Array.of(2, 0, 1, 2, 2), numCodes: 3 }), seed: 9n, temperature: 0.5 }),
  },
  {
    name: 'codebookAssign', call: (o) => ek.codebookAssign(o as never), callAsync: (o) => ek.codebookAssignAsync(o as never),
    base: () => ({ x: new Float32Array(3 * 4).map((_, i) => i), dim: 4, codebook: new Float32Array(2 * 4).map((_, i) => -i), numCodes: 2, metric: 'ip' }),
  },
  {
    name: 'pqTrain', call: (o) => ek.pqTrain(o as never), callAsync: (o) => ek.pqTrainAsync(o as never),
    base: () => ({ x: new Float32Array(5 * 4).map((_, i) => (i * 7) % 5), dim: 4, m: 2, bits: 2, iterations: 2, seed: 3 }),
  },
  {
    name: 'pqEncode', call: (o) => ek.pqEncode(o as never), callAsync: (o) => ek.pqEncodeAsync(o as never),
    base: () => ({ x: new Float32Array(3 * 4).map((_, i) => i), pq: { dim: 4, m: 2, bits: 2, codebooks: new Float32Array(16).map((_, i) => i / 3) } }),
  },
  {
    name: 'pqDecode', call: (o) => ek.pqDecode(o as never), callAsync: (o) => ek.pqDecodeAsync(o as never),
    base: () => ({ codes: Uint8Array.of(0, 3, 2, 1), pq: { dim: 4, m: 2, bits: 2, codebooks: new Float32Array(16).map((_, i) => i / 3) }, out: new Float32Array(8) }),
  },
  {
    name: 'pqDistanceTable', call: (o) => ek.pqDistanceTable(o as never), callAsync: (o) => ek.pqDistanceTableAsync(o as never),
    base: () => ({ queries: new Float32Array(2 * 4).map((_, i) => i), pq: { dim: 4, m: 2, bits: 2, codebooks: new Float32Array(16).map((_, i) => i / 3) }, metric: 'l2', out: new Float32Array(2 * 2 * 4) }),
  },
  {
    name: 'pqScan', call: (o) => ek.pqScan(o as never), callAsync: (o) => ek.pqScanAsync(o as never),
    base: () => ({ queries: new Float32Array(2 * 4).map((_, i) => i), codes: Uint8Array.of(0, 3, 2, 1, 1, 1), pq: { dim: 4, m: 2, bits: 2, codebooks: new Float32Array(16).map((_, i) => i / 3) }, k: 2, metric: 'ip' }),
  },
  {
    name: 'pqEmbeddingBag', call: (o) => ek.pqEmbeddingBag(o as never), callAsync: (o) => ek.pqEmbeddingBagAsync(o as never),
    base: () => ({ codes: Uint8Array.of(0, 3, 2, 1, 1, 1), pq: { dim: 4, m: 2, bits: 2, codebooks: new Float32Array(16).map((_, i) => i / 3) }, indices: Int32Array.of(2, 0, 1), offsets: Int32Array.of(0, 1), mode: 'mean', weights: Float32Array.of(1, 2, 3), out: new Float32Array(8) }),
  },
  // Compressed tables: the table object's fields are flat options here, so that each one is
  // replaced on its own; `stored` rebuilds the object.
  { name: 'quantizeTable', call: (o) => ek.quantizeTable(o as never), callAsync: (o) => ek.quantizeTableAsync(o as never), base: () => ({ table: table(), dim: 4, format: 'q4' }) },
  {
    name: 'dequantizeTable (q4 table)', call: (o) => ek.dequantizeTable({ table: stored(o), out: o.out } as never),
    callAsync: (o) => ek.dequantizeTableAsync({ table: stored(o), out: o.out } as never),
    base: () => ({ ...q4Fields(), out: new Float32Array(15) }),
  },
  {
    name: 'gather (q8 table, remap)', call: (o) => ek.gather({ ...o, table: stored(o) } as never), callAsync: (o) => ek.gatherAsync({ ...o, table: stored(o) } as never),
    base: () => ({ ...q8Fields(), remap: Int32Array.of(2, -1, 0, 1), indices: Int32Array.of(3, 1, 0), out: new Float32Array(15) }),
  },
  {
    name: 'embeddingBag (q4 table, remap)', call: (o) => ek.embeddingBag({ ...o, table: stored(o) } as never), callAsync: (o) => ek.embeddingBagAsync({ ...o, table: stored(o) } as never),
    base: () => ({ ...q4Fields(), remap: Int32Array.of(2, -1, 0, 1), indices: Int32Array.of(3, 1, 0, 2), offsets: Int32Array.of(0, 2), mode: 'mean', weights: Float32Array.of(1, 2, 3, 4), paddingIdx: 2, out: new Float32Array(10) }),
  },
  {
    name: 'hashedEmbeddingBag (q8 table)', call: (o) => ek.hashedEmbeddingBag({ ...o, table: stored(o) } as never), callAsync: (o) => ek.hashedEmbeddingBagAsync({ ...o, table: stored(o) } as never),
    base: () => ({ ...q8Fields(), indices: BigInt64Array.of(3n, 2n ** 60n, 7n), lengths: Int32Array.of(1, 2), mode: 'sum', seed: 11, paddingIdx: 7, out: new Float32Array(10) }),
  },
  {
    name: 'hashedEmbeddingBag (returnArgmax)', call: (o) => ek.hashedEmbeddingBag(o as never), callAsync: (o) => ek.hashedEmbeddingBagAsync(o as never),
    base: () => ({ table: table(), dim: 4, indices: BigInt64Array.of(3n, 2n ** 60n, 7n), lengths: Int32Array.of(1, 2), mode: 'max', seed: 11, paddingIdx: 7, returnArgmax: true }),
  },
  {
    name: 'qrEmbeddingBag (returnArgmax)', call: (o) => ek.qrEmbeddingBag(o as never), callAsync: (o) => ek.qrEmbeddingBagAsync(o as never),
    base: () => ({
      quotient: table(), remainder: new Float32Array(3 * 4).map((_, i) => i % 5), dim: 4, indices: Int32Array.of(1, 29, 0, 3), offsets: Int32Array.of(0, 1),
      mode: 'max', combine: 'mul', paddingIdx: 3, returnArgmax: true, argmaxOut: { quotient: new Int32Array(8), remainder: new Int32Array(8) },
    }),
  },
  {
    name: 'qrEmbeddingBag', call: (o) => ek.qrEmbeddingBag(o as never), callAsync: (o) => ek.qrEmbeddingBagAsync(o as never),
    base: () => ({ quotient: table(), remainder: new Float32Array(3 * 4).fill(0.5), dim: 4, indices: Int32Array.of(1, 29, 0, 3), offsets: Int32Array.of(0, 1), mode: 'sum', combine: 'concat', weights: Float32Array.of(1, 2, 3, 4), paddingIdx: 3, out: new Float32Array(16) }),
  },
  {
    // The quotient's fields flat (see `stored`), the remainder a q8 table of its own arrays.
    name: 'qrEmbeddingBag (q8 tables)',
    call: (o) => ek.qrEmbeddingBag({ ...o, quotient: stored(o), remainder: { format: 'q8', rows: 2, dim: 5, data: o.rData, scales: o.rScales, biases: o.rBiases } } as never),
    callAsync: (o) => ek.qrEmbeddingBagAsync({ ...o, quotient: stored(o), remainder: { format: 'q8', rows: 2, dim: 5, data: o.rData, scales: o.rScales, biases: o.rBiases } } as never),
    base: () => ({ ...q8Fields(), rData: new Uint8Array(10).map((_, i) => i * 11), rScales: Float32Array.of(0.25, 4), rBiases: Float32Array.of(1, -2), indices: BigInt64Array.of(5n, 0n, 3n), lengths: Int32Array.of(2, 1), mode: 'max', combine: 'mul', paddingIdx: -1, out: new Float32Array(10) }),
  },
  { name: 'pruneTable', call: (o) => ek.pruneTable(o as never), base: () => ({ table: table(), dim: 4, keep: Int32Array.of(3, 1) }) },
  { name: 'usedRows', call: (o) => ek.usedRows(o as never), base: () => ({ indices: Int32Array.of(1, 5, 1), numRows: 8 }) },
  { name: 'tableBytes', call: (o) => ek.tableBytes(o.table as never), base: () => ({ table: table() }) },
  { name: 'adviseHugePages', call: (o) => ek.adviseHugePages(o.array as never), base: () => ({ array: new Float32Array(1 << 16) }) },
  { name: 'allocFloat32', call: (o) => ek.allocFloat32(o.length as never), base: () => ({ length: 16 }) },
  { name: 'setThreads', call: (o) => ek.setThreads(o.n as never), base: () => ({ n: 2 }) },
  { name: 'setIsa', call: (o) => ek.setIsa(o.isa as never), base: () => ({ isa: 'scalar' }) },
];

describe('generated bad input: a documented error with nothing written, or a result; never a crash', () => {
  for (const t of TARGETS) {
    it(t.name, async () => {
      const seed = freshSeed();
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...Object.keys(t.base())).chain((key) => hostile(t.base(), key).map((maker) => ({ key, maker }))),
          async ({ key, maker }) => {
            const make = () => {
              const o = t.base();
              o[key] = maker.make(o);
              return o;
            };
            const o = make();
            const value = o[key];
            const before = snapshot(o);
            let sync: Outcome = { kind: 'ok' };
            try {
              t.call(o);
            } catch (e) {
              sync = classify(e);
            }
            const shown = maker.label || (ArrayBuffer.isView(value) ? `${value.constructor.name}(${(value as Float32Array).length ?? '?'})` : String(value));
            const ctx = `seed=${seed} ${t.name}: ${key} = ${shown}`;
            if (sync.kind === 'error') {
              expect(sync.cls, `${ctx}: ${sync.message}`).toMatch(/^(TypeError|RangeError)$/);
              expect(unchanged(o, before), `${ctx}: wrote an array before throwing`).toBeNull();
            }
            if (t.callAsync) {
              const o2 = make();
              const before2 = snapshot(o2);
              let asyncOutcome: Outcome = { kind: 'ok' };
              try {
                await t.callAsync(o2);
              } catch (e) {
                asyncOutcome = classify(e);
              }
              // Async calls also refuse resizable buffers (they could shrink mid-call).
              const refusedResizable = asyncOutcome.kind === 'error' && asyncOutcome.cls === 'TypeError' && /ArrayBuffer is resizable/.test(asyncOutcome.message);
              if (!refusedResizable) expect(asyncOutcome.kind, `${ctx}: sync ${sync.kind}, async ${asyncOutcome.kind}`).toBe(sync.kind);
              if (asyncOutcome.kind === 'error') expect(unchanged(o2, before2), `${ctx}: async wrote before rejecting`).toBeNull();
            }
          },
        ),
        { numRuns: 300, seed },
      );
      ek.setThreads(initialThreads);
      ek.setIsa(initialIsa);
    });
  }
});
