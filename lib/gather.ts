// The gather family: gather rows by index, and pool them per bag (PyTorch embedding_bag).
import { tableArgs, type TableInput } from './compress';
import { native } from './native';
import { enumCode, freshOutput, lengthOf, requireOptions, startAsync, withArgmax, type IndexArray } from './options';

/** What gather and embeddingBag read: a table and, for a pruned table, its remap. */
interface TableOptions {
  /**
   * Row-major `rows x dim` float32 values, or a table object in any format (from
   * quantizeTable or pruneTable), read in place.
   */
  table: TableInput;
  /** Row length: `table.length` must be a multiple of it. Optional with a table object (its dim). */
  dim?: number;
  /**
   * For a pruned table (pruneTable): original id -> row, or -1 for a pruned id, which reads
   * as a zero row (skipped in a bag, like padding). Indices are then original ids, in
   * [0, remap.length).
   */
  remap?: Int32Array;
}

export interface GatherOptions extends TableOptions {
  /** Row ids, each in [0, rows) (or [0, remap.length) with a remap). */
  indices: IndexArray;
  /** Destination of `indices.length x dim` floats; a fresh array when omitted. */
  out?: Float32Array;
}

export type PoolMode = 'sum' | 'mean' | 'max';
const POOL_MODES: readonly PoolMode[] = ['sum', 'mean', 'max'];

export interface EmbeddingBagOptions extends TableOptions {
  /** Row ids of every bag, concatenated. */
  indices: IndexArray;
  /**
   * Where each bag starts in `indices` (PyTorch offsets): non-decreasing, the first 0, the
   * last bag ending at `indices.length`. With `includeLastOffset`, one more entry marks the
   * end of the last bag and must equal `indices.length`. Give this or `lengths`.
   */
  offsets?: IndexArray;
  /** The number of indices in each bag, adding up to `indices.length`. */
  lengths?: IndexArray;
  includeLastOffset?: boolean;
  mode: PoolMode;
  /** One weight per index (modes 'sum' and 'mean'): a bag's rows are scaled before pooling. */
  weights?: Float32Array;
  /** Entries equal to this row id are skipped and not counted by 'mean'. Negative counts from the end. */
  paddingIdx?: number;
  /** Destination of `bags x dim` floats; a fresh array when omitted. */
  out?: Float32Array;
  /**
   * Mode 'max' only: also return, per bag and column, the row id (the index value, not its
   * position) that supplied the maximum: the first such entry on ties, -1 for an empty or
   * padding-only bag. The result is then `{ out, argmax }` (argmax: `bags x dim` Int32Array),
   * what {@link embeddingBagBackward} takes as `maxIndices`. Runs a scalar kernel.
   */
  returnArgmax?: boolean;
  /** With returnArgmax: destination of the `bags x dim` row ids; a fresh array when omitted. */
  argmaxOut?: Int32Array;
}

/** What embeddingBag returns with `returnArgmax: true`. */
export interface EmbeddingBagArgmaxResult {
  out: Float32Array;
  argmax: Int32Array;
}

const OFFSETS = 0;
const OFFSETS_WITH_END = 1;
const LENGTHS = 2;

// The binding's positional signatures. Options are unpacked here, without temporary arrays:
// a tiny call costs well under a microsecond, so the wrapper must too.
type NativeGather<R> = (
  table: unknown, dim: unknown, indices: unknown, out: unknown,
  format: unknown, scales: unknown, biases: unknown, remap: unknown,
) => R;
type NativeBag<R> = (
  table: unknown, dim: unknown, indices: unknown, bounds: unknown, boundsKind: number, mode: number,
  weights: unknown, paddingIdx: unknown, out: unknown, argmax: unknown,
  format: unknown, scales: unknown, biases: unknown, remap: unknown, hashSeed: unknown,
) => R;

function callGather<R>(fn: NativeGather<R>, o: GatherOptions, op: string): R {
  requireOptions(o, op);
  const t = tableArgs(o.table, o.dim);
  const out = o.out ?? freshOutput(lengthOf(o.indices), t.dim, 'indices.length x dim');
  return fn(t.data, t.dim, o.indices, out, t.format, t.scales, t.biases, o.remap);
}

/**
 * The bag boundaries of an embeddingBag-style options object, as the binding takes them.
 * `length` counts an array's entries (the CUDA ops pass one for device arrays).
 */
export function boundsArgs<A = IndexArray>(
  o: { offsets?: A; lengths?: A; includeLastOffset?: boolean },
  op: string,
  length: (array: unknown) => number = lengthOf,
): { kind: number; bounds: A | undefined; bags: number } {
  const hasOffsets = o.offsets !== undefined && o.offsets !== null;
  const hasLengths = o.lengths !== undefined && o.lengths !== null;
  if (hasOffsets === hasLengths) {
    throw new TypeError(`${op} needs exactly one of offsets and lengths`);
  }
  if (o.includeLastOffset !== undefined && typeof o.includeLastOffset !== 'boolean') {
    throw new TypeError(`includeLastOffset must be a boolean, got ${typeof o.includeLastOffset}`);
  }
  if (hasLengths && o.includeLastOffset) {
    throw new TypeError('includeLastOffset applies to offsets, not lengths');
  }
  const kind = hasLengths ? LENGTHS : o.includeLastOffset ? OFFSETS_WITH_END : OFFSETS;
  const bounds = hasLengths ? o.lengths : o.offsets;
  const bags = length(bounds) - (kind === OFFSETS_WITH_END ? 1 : 0);
  return { kind, bounds, bags };
}

function callBag<R>(fn: NativeBag<R>, o: EmbeddingBagOptions, op: string, hashSeed?: unknown): unknown {
  requireOptions(o, op);
  const mode = enumCode(o.mode, POOL_MODES, 'mode');
  const t = tableArgs(o.table, o.dim);
  const { kind, bounds, bags } = boundsArgs(o, op);
  const out = o.out ?? freshOutput(bags, t.dim, 'bags x dim');
  // Fresh winners sized like the output (null, which the addon refuses, without one).
  return withArgmax(o.returnArgmax, () => o.argmaxOut ?? (out === undefined ? null : new Int32Array(out.length)),
    (argmax) => fn(t.data, t.dim, o.indices, bounds, kind, mode, o.weights, o.paddingIdx, out, argmax,
      t.format, t.scales, t.biases, o.remap, hashSeed));
}

/** Copies `table` rows `indices[i]` into row i of the output. */
export function gather(options: GatherOptions): Float32Array {
  return callGather(native().gather, options, 'gather');
}

/** {@link gather} on the libuv thread pool; the arrays are held until the promise settles. */
export function gatherAsync(options: GatherOptions): Promise<Float32Array> {
  return startAsync(options, 'gatherAsync', () => callGather(native().gatherAsync, options, 'gatherAsync'));
}

/**
 * Pools the rows of each bag: element-wise sum, mean (over the non-padding entries) or max
 * (the first row initializes, later rows replace an element only when greater, as in
 * PyTorch). Empty bags, and bags of padding only, give zeros.
 */
export function embeddingBag(options: EmbeddingBagOptions & { returnArgmax: true }): EmbeddingBagArgmaxResult;
export function embeddingBag(options: EmbeddingBagOptions): Float32Array;
export function embeddingBag(options: EmbeddingBagOptions): Float32Array | EmbeddingBagArgmaxResult {
  return callBag(native().embeddingBag, options, 'embeddingBag') as Float32Array | EmbeddingBagArgmaxResult;
}

/** {@link embeddingBag} on the libuv thread pool; the arrays are held until the promise settles. */
export function embeddingBagAsync(options: EmbeddingBagOptions & { returnArgmax: true }): Promise<EmbeddingBagArgmaxResult>;
export function embeddingBagAsync(options: EmbeddingBagOptions): Promise<Float32Array>;
export function embeddingBagAsync(options: EmbeddingBagOptions): Promise<Float32Array | EmbeddingBagArgmaxResult> {
  return startAsync(options, 'embeddingBagAsync',
    () => callBag(native().embeddingBagAsync, options, 'embeddingBagAsync') as Promise<Float32Array | EmbeddingBagArgmaxResult>);
}

export interface HashedEmbeddingBagOptions extends Omit<EmbeddingBagOptions, 'remap' | 'returnArgmax' | 'argmaxOut'> {
  /**
   * Ids may be any non-negative integer (up to 2^63 - 1 as BigInt64): id i reads row
   * hashedRow(i, seed) of the shared table (see the README for the hash). Features that share
   * one table (Unified Embedding's multiplexing) each use their own seed.
   */
  seed: number;
  /** An id (not a row) to skip, not counted by 'mean'. */
  paddingIdx?: number;
  /**
   * Mode 'max' only: also return, for each output element, the table row that won it (the
   * row its id hashed to; -1 for an empty or padding-only bag), which
   * hashedEmbeddingBagBackward takes as maxIndices. The table must have at most 2^31 - 1 rows.
   */
  returnArgmax?: boolean;
  /** With returnArgmax: destination of the `bags x dim` winning rows; a fresh array when omitted. */
  argmaxOut?: Int32Array;
}

function callHashed<R>(fn: NativeBag<R>, o: HashedEmbeddingBagOptions, op: string): unknown {
  requireOptions(o, op);
  if (o.seed === undefined || o.seed === null) throw new TypeError(`${op} needs a seed`);
  return callBag(fn, { ...o, remap: undefined }, op, o.seed);
}

/**
 * embeddingBag with the hashing trick: each id is hashed (seeded) into the rows of one shared
 * table, in any format, fused into the pooling (no temporary rows or hashed-id arrays).
 */
export function hashedEmbeddingBag(options: HashedEmbeddingBagOptions & { returnArgmax: true }): EmbeddingBagArgmaxResult;
export function hashedEmbeddingBag(options: HashedEmbeddingBagOptions): Float32Array;
export function hashedEmbeddingBag(options: HashedEmbeddingBagOptions): Float32Array | EmbeddingBagArgmaxResult {
  return callHashed(native().embeddingBag, options, 'hashedEmbeddingBag') as Float32Array | EmbeddingBagArgmaxResult;
}

/** {@link hashedEmbeddingBag} on the libuv thread pool; the arrays are held until the promise settles. */
export function hashedEmbeddingBagAsync(options: HashedEmbeddingBagOptions & { returnArgmax: true }): Promise<EmbeddingBagArgmaxResult>;
export function hashedEmbeddingBagAsync(options: HashedEmbeddingBagOptions): Promise<Float32Array>;
export function hashedEmbeddingBagAsync(options: HashedEmbeddingBagOptions): Promise<Float32Array | EmbeddingBagArgmaxResult> {
  return startAsync(options, 'hashedEmbeddingBagAsync',
    () => callHashed(native().embeddingBagAsync, options, 'hashedEmbeddingBagAsync') as Promise<Float32Array | EmbeddingBagArgmaxResult>);
}
