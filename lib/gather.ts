// The gather family: gather rows by index, and pool them per bag (PyTorch embedding_bag).
import { native } from './native';
import { enumCode, requireOptions, type IndexArray } from './options';

export interface GatherOptions {
  /** Row-major table of `rows x dim` float32 values, read in place. */
  table: Float32Array;
  /** Row length. `table.length` must be a multiple of it. */
  dim: number;
  /** Row ids, each in [0, rows). */
  indices: IndexArray;
  /** Destination of `indices.length x dim` floats; a fresh array when omitted. */
  out?: Float32Array;
}

export type PoolMode = 'sum' | 'mean' | 'max';
const POOL_MODES: readonly PoolMode[] = ['sum', 'mean', 'max'];

export interface EmbeddingBagOptions {
  table: Float32Array;
  dim: number;
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
}

const OFFSETS = 0;
const OFFSETS_WITH_END = 1;
const LENGTHS = 2;

function gatherArgs(o: GatherOptions, op: string): unknown[] {
  requireOptions(o, op);
  return [o.table, o.dim, o.indices, o.out];
}

function bagArgs(o: EmbeddingBagOptions, op: string): unknown[] {
  requireOptions(o, op);
  const mode = enumCode(o.mode, POOL_MODES, 'mode');
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
  return [o.table, o.dim, o.indices, bounds, kind, mode, o.weights, o.paddingIdx, o.out];
}

/** Copies `table` rows `indices[i]` into row i of the output. */
export function gather(options: GatherOptions): Float32Array {
  return native().gather(...gatherArgs(options, 'gather'));
}

/** {@link gather} on the libuv thread pool; the arrays are held until the promise settles. */
export function gatherAsync(options: GatherOptions): Promise<Float32Array> {
  try {
    return native().gatherAsync(...gatherArgs(options, 'gatherAsync'));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Pools the rows of each bag: element-wise sum, mean (over the non-padding entries) or max
 * (the first row initializes, later rows replace an element only when greater, as in
 * PyTorch). Empty bags, and bags of padding only, give zeros.
 */
export function embeddingBag(options: EmbeddingBagOptions): Float32Array {
  return native().embeddingBag(...bagArgs(options, 'embeddingBag'));
}

/** {@link embeddingBag} on the libuv thread pool; the arrays are held until the promise settles. */
export function embeddingBagAsync(options: EmbeddingBagOptions): Promise<Float32Array> {
  try {
    return native().embeddingBagAsync(...bagArgs(options, 'embeddingBagAsync'));
  } catch (error) {
    return Promise.reject(error);
  }
}
