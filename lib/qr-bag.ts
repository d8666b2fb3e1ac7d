// qrEmbeddingBag: the quotient-remainder trick (Shi et al., "Compositional Embeddings Using
// Complementary Partitions"): id reads row floor(id / m) of a quotient table and row id mod m
// of a remainder table (m = the remainder table's rows), combined and pooled per bag in one
// fused pass, with no temporary rows. And its gradients: with respect to both tables
// (qrEmbeddingBagBackward) and to the per-sample weights (qrEmbeddingBagWeightsBackward).
import { tableArgs, type TableInput } from './compress';
import { boundsArgs, type PoolMode } from './gather';
import { native } from './native';
import { describe, enumCode, freshOutput, requireOptions, startAsync, withArgmax, type IndexArray } from './options';
import type { SparseGradient } from './scatter';

export type QrCombine = 'sum' | 'mul' | 'concat';
const QR_COMBINES: readonly QrCombine[] = ['sum', 'mul', 'concat'];
const POOL_MODES: readonly PoolMode[] = ['sum', 'mean', 'max'];

export interface QrEmbeddingBagOptions {
  /** `ceil(ids / m) x dim`: row q serves the ids [q m, (q + 1) m). Float32Array or a table object. */
  quotient: TableInput;
  /** `m x dim`, in the same format as `quotient`: row r serves the ids with id mod m = r. */
  remainder: TableInput;
  /** Row length of both tables (optional with table objects, which carry it). */
  dim?: number;
  /** Ids, each in [0, quotient rows x m). */
  indices: IndexArray;
  /** Bag starts, as embeddingBag takes them (or `lengths`). */
  offsets?: IndexArray;
  lengths?: IndexArray;
  includeLastOffset?: boolean;
  mode: PoolMode;
  /**
   * How an id's two rows make its embedding: 'sum' (q + r) and 'mul' (q x r, element-wise)
   * give `dim` columns; 'concat' gives `2 dim` columns, the quotient row then the remainder row.
   */
  combine: QrCombine;
  /** One weight per index (modes 'sum' and 'mean'), applied to the combined row. */
  weights?: Float32Array;
  /** An id to skip (not counted by 'mean'); negative counts from the end of the id range. */
  paddingIdx?: number;
  /** Destination of `bags x dim` floats (`bags x 2 dim` for 'concat'); a fresh array when omitted. */
  out?: Float32Array;
  /**
   * Mode 'max' only: also return, per bag and column, the rows that won in each table
   * ({@link QrArgmax}), which qrEmbeddingBagBackward takes as maxIndices.
   */
  returnArgmax?: boolean;
  /** With returnArgmax: destinations of the two `bags x dim` winner arrays; fresh arrays when omitted. */
  argmaxOut?: { quotient: Int32Array; remainder: Int32Array };
}

/**
 * The winners of a QR max, each `bags x dim` (-1 for an empty or padding-only bag). 'sum' and
 * 'mul': the quotient and the remainder row of the id whose combined value won each element;
 * 'concat': the quotient row that won each column of the first half, and the remainder row
 * that won each column of the second.
 */
export interface QrArgmax {
  quotient: Int32Array;
  remainder: Int32Array;
}

/** What qrEmbeddingBag returns with `returnArgmax: true`. */
export interface QrEmbeddingBagArgmaxResult {
  out: Float32Array;
  argmax: QrArgmax;
}

type NativeQr<R> = (
  qData: unknown, qDim: unknown, qFormat: unknown, qScales: unknown, qBiases: unknown,
  rData: unknown, rDim: unknown, rFormat: unknown, rScales: unknown, rBiases: unknown,
  indices: unknown, bounds: unknown, boundsKind: number, mode: number, combine: number,
  weights: unknown, paddingIdx: unknown, out: unknown, argmaxQuotient: unknown, argmaxRemainder: unknown,
) => R;

/** A table object's dim, or undefined for anything else. */
function objectDim(table: unknown): unknown {
  return table !== null && typeof table === 'object' && !ArrayBuffer.isView(table) ? (table as { dim?: unknown }).dim : undefined;
}

function callQr<R>(fn: NativeQr<R>, o: QrEmbeddingBagOptions, op: string): R {
  requireOptions(o, op);
  const mode = enumCode(o.mode, POOL_MODES, 'mode');
  const combine = enumCode(o.combine, QR_COMBINES, 'combine');
  // Without a dim option, a plain Float32Array table takes the other (object) table's dim; two
  // objects keep their own, and the binding checks that they agree.
  const q = tableArgs(o.quotient, o.dim ?? (ArrayBuffer.isView(o.quotient) ? objectDim(o.remainder) : undefined), 'quotient');
  const r = tableArgs(o.remainder, o.dim ?? (ArrayBuffer.isView(o.remainder) ? objectDim(o.quotient) : undefined), 'remainder');
  const { kind, bounds, bags } = boundsArgs(o, op);
  const outDim = o.combine === 'concat' && typeof q.dim === 'number' ? 2 * q.dim : q.dim;
  const out = o.out ?? freshOutput(bags, outDim, 'bags x output dim');
  const winners = () => {
    if (o.argmaxOut !== undefined && (o.argmaxOut === null || typeof o.argmaxOut !== 'object')) {
      throw new TypeError(`argmaxOut must be an object { quotient, remainder }, got ${describe(o.argmaxOut)}`);
    }
    // Fresh winners sized like the output's bags (the addon checks the lengths either way).
    const size = typeof q.dim === 'number' && bags >= 0 ? bags * q.dim : 0;
    return o.argmaxOut ?? { quotient: new Int32Array(size), remainder: new Int32Array(size) };
  };
  return withArgmax(o.returnArgmax, winners, (argmax) =>
    fn(q.data, q.dim, q.format, q.scales, q.biases, r.data, r.dim, r.format, r.scales, r.biases,
      o.indices, bounds, kind, mode, combine, o.weights, o.paddingIdx, out, argmax?.quotient, argmax?.remainder)) as R;
}

/**
 * Pools quotient-remainder embeddings per bag: each id's row is combine(quotient[id / m],
 * remainder[id mod m]) with m = remainder rows; the rows are pooled as embeddingBag pools them
 * (sum / mean / max, weights, padding). Both tables share a format (f32, f16, bf16, q8, q4).
 */
export function qrEmbeddingBag(options: QrEmbeddingBagOptions & { returnArgmax: true }): QrEmbeddingBagArgmaxResult;
export function qrEmbeddingBag(options: QrEmbeddingBagOptions): Float32Array;
export function qrEmbeddingBag(options: QrEmbeddingBagOptions): Float32Array | QrEmbeddingBagArgmaxResult {
  return callQr(native().qrEmbeddingBag, options, 'qrEmbeddingBag') as Float32Array | QrEmbeddingBagArgmaxResult;
}

/** {@link qrEmbeddingBag} on the libuv thread pool; the arrays are held until the promise settles. */
export function qrEmbeddingBagAsync(options: QrEmbeddingBagOptions & { returnArgmax: true }): Promise<QrEmbeddingBagArgmaxResult>;
export function qrEmbeddingBagAsync(options: QrEmbeddingBagOptions): Promise<Float32Array>;
export function qrEmbeddingBagAsync(options: QrEmbeddingBagOptions): Promise<Float32Array | QrEmbeddingBagArgmaxResult> {
  return startAsync(options, 'qrEmbeddingBagAsync',
    () => callQr(native().qrEmbeddingBagAsync, options, 'qrEmbeddingBagAsync') as Promise<Float32Array | QrEmbeddingBagArgmaxResult>);
}

/** The forward call's indices, offsets / lengths, includeLastOffset, combine, weights and paddingIdx, plus: */
export interface QrEmbeddingBagBackwardOptions
  extends Pick<QrEmbeddingBagOptions, 'indices' | 'offsets' | 'lengths' | 'includeLastOffset' | 'combine' | 'weights' | 'paddingIdx'> {
  /** The gradient of qrEmbeddingBag's output: `bags x dim` floats (`bags x 2 dim` for 'concat'). */
  gradOutput: Float32Array;
  /** Row length of both tables. */
  dim: number;
  mode: PoolMode;
  /**
   * Mode 'max': the winners that `qrEmbeddingBag({ mode: 'max', returnArgmax: true })`
   * returned. Each (bag, column)'s gradient goes to its quotient winner's row and its
   * remainder winner's row ('sum'), its half's winner ('concat'), or times the other table's
   * winning row ('mul').
   */
  maxIndices?: QrArgmax;
  /** Rows of the quotient table (its dense gradient is `quotientRows x dim`). */
  quotientRows: number;
  /** Rows of the remainder table, m: id i went to quotient row i / m and remainder row i mod m. */
  remainderRows: number;
  /** combine 'mul' only (a TypeError otherwise): the quotient table, `quotientRows x dim` floats. */
  quotient?: Float32Array;
  /** combine 'mul' only: the remainder table, `remainderRows x dim` floats. */
  remainder?: Float32Array;
  /** Return each table's gradient as `{ rows, values }` (no O(rows) work) instead of dense. */
  sparse?: boolean;
  /** Dense form only: destination of the quotient table's gradient (entirely overwritten). */
  outQuotient?: Float32Array;
  /** Dense form only: destination of the remainder table's gradient (entirely overwritten). */
  outRemainder?: Float32Array;
}

/** Each table's gradient: dense Float32Arrays, or SparseGradients with `sparse: true`. */
export interface QrGradient<G> {
  quotient: G;
  remainder: G;
}

function callQrBackward<R>(fn: (...args: unknown[]) => R, o: QrEmbeddingBagBackwardOptions, op: string): R {
  requireOptions(o, op);
  const mode = enumCode(o.mode, POOL_MODES, 'mode');
  const combine = enumCode(o.combine, QR_COMBINES, 'combine');
  const { kind, bounds } = boundsArgs(o, op);
  if (o.sparse !== undefined && typeof o.sparse !== 'boolean') {
    throw new TypeError(`sparse must be a boolean, got ${describe(o.sparse)}`);
  }
  const max = o.maxIndices;
  if (max !== undefined && max !== null && typeof max !== 'object') {
    throw new TypeError(`maxIndices must be an object { quotient, remainder }, got ${describe(max)}`);
  }
  return fn(o.gradOutput, o.dim, o.indices, bounds, kind, mode, combine, o.weights, o.paddingIdx, o.quotientRows,
    o.remainderRows, o.quotient, o.remainder, o.sparse === true, o.outQuotient, o.outRemainder, max?.quotient, max?.remainder);
}

/**
 * The gradient of {@link qrEmbeddingBag} with respect to both tables. Each id's pooled
 * contribution g (its bag's gradient, times its weight, over the bag's count of non-padding
 * ids for 'mean') goes to quotient row i / m and remainder row i mod m: g to both for 'sum',
 * the two halves of g for 'concat', and g times the other table's row for 'mul'. 'max' sends
 * each gradient element to the rows in maxIndices (the forward's returnArgmax) the same way.
 * Padding ids and empty bags send nothing. Sums are taken in index order, bitwise the same
 * for any thread count.
 */
export function qrEmbeddingBagBackward(options: QrEmbeddingBagBackwardOptions & { sparse: true }): QrGradient<SparseGradient>;
export function qrEmbeddingBagBackward(options: QrEmbeddingBagBackwardOptions): QrGradient<Float32Array>;
export function qrEmbeddingBagBackward(options: QrEmbeddingBagBackwardOptions): QrGradient<Float32Array | SparseGradient> {
  return callQrBackward(native().qrEmbeddingBagBackward, options, 'qrEmbeddingBagBackward') as QrGradient<Float32Array | SparseGradient>;
}

/**
 * {@link qrEmbeddingBagBackward} on the libuv thread pool. (The ids are split into rows on the
 * calling thread, and the sparse form sorts them there too, since its size depends on them.)
 */
export function qrEmbeddingBagBackwardAsync(options: QrEmbeddingBagBackwardOptions & { sparse: true }): Promise<QrGradient<SparseGradient>>;
export function qrEmbeddingBagBackwardAsync(options: QrEmbeddingBagBackwardOptions): Promise<QrGradient<Float32Array>>;
export function qrEmbeddingBagBackwardAsync(options: QrEmbeddingBagBackwardOptions): Promise<QrGradient<Float32Array | SparseGradient>> {
  return startAsync(options, 'qrEmbeddingBagBackwardAsync',
    () => callQrBackward(native().qrEmbeddingBagBackwardAsync, options, 'qrEmbeddingBagBackwardAsync') as Promise<QrGradient<Float32Array | SparseGradient>>);
}

/** The forward call's tables, indices, offsets / lengths, includeLastOffset, combine and paddingIdx, plus: */
export interface QrEmbeddingBagWeightsBackwardOptions
  extends Pick<QrEmbeddingBagOptions, 'indices' | 'offsets' | 'lengths' | 'includeLastOffset' | 'combine' | 'paddingIdx'> {
  /** The forward's quotient table, `rows x dim` float32 values. */
  quotient: Float32Array;
  /** The forward's remainder table (m rows), `m x dim` float32 values. */
  remainder: Float32Array;
  /** Row length of both tables. */
  dim: number;
  /** The gradient of qrEmbeddingBag's output: `bags x dim` floats (`bags x 2 dim` for 'concat'). */
  gradOutput: Float32Array;
  /** 'sum' or 'mean' (per-sample weights do not apply to 'max'; it is a TypeError). */
  mode: Exclude<PoolMode, 'max'>;
  /** Destination of one float per id; a fresh array when omitted. */
  out?: Float32Array;
}

function callQrWeightsBackward<R>(fn: (...args: unknown[]) => R, o: QrEmbeddingBagWeightsBackwardOptions, op: string): R {
  requireOptions(o, op);
  const mode = enumCode(o.mode, POOL_MODES, 'mode');
  const combine = enumCode(o.combine, QR_COMBINES, 'combine');
  const { kind, bounds } = boundsArgs(o, op);
  return fn(o.gradOutput, o.quotient, o.remainder, o.dim, o.indices, bounds, kind, mode, combine, o.paddingIdx, o.out);
}

/**
 * The gradient of {@link qrEmbeddingBag} with respect to its per-sample `weights`: for id p of
 * bag b, `gradOutput[b] · e_p` with e_p the id's combined row (for 'concat', each half of the
 * gradient row against its table's row), divided by the bag's count of non-padding ids for
 * 'mean'; 0 for the padding id's entries. One float per id.
 */
export function qrEmbeddingBagWeightsBackward(options: QrEmbeddingBagWeightsBackwardOptions): Float32Array {
  return callQrWeightsBackward(native().qrEmbeddingBagWeightsBackward, options, 'qrEmbeddingBagWeightsBackward');
}

/** {@link qrEmbeddingBagWeightsBackward} on the libuv thread pool (the ids are split on the calling thread). */
export function qrEmbeddingBagWeightsBackwardAsync(options: QrEmbeddingBagWeightsBackwardOptions): Promise<Float32Array> {
  return startAsync(options, 'qrEmbeddingBagWeightsBackwardAsync',
    () => callQrWeightsBackward(native().qrEmbeddingBagWeightsBackwardAsync, options, 'qrEmbeddingBagWeightsBackwardAsync'));
}
