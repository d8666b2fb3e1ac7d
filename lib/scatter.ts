// The scatter / SpMM family: scatter-add (index_add), reusable scatter plans, the gradient of
// embeddingBag, CSR matrices and CSR x dense products. Deterministic without float atomics:
// each destination element is summed by one thread in index order, whatever the thread count.
import { describe, enumCode, freshOutput, requireOptions, startAsync, type IndexArray } from './options';
import { native } from './native';
import { boundsArgs, type EmbeddingBagOptions, type PoolMode } from './gather';

const REDUCE: readonly PoolMode[] = ['sum', 'mean', 'max'];

/**
 * The transposed pattern of an index array (which positions feed each destination row),
 * built once and reused by {@link scatterAdd} calls with the same indices. It keeps its own
 * copy: changing the indices afterwards does not change the plan.
 */
export class ScatterPlan {
  /** Destination rows the indices were checked against. */
  readonly numRows: number;
  /** Indices (source rows) the plan covers. */
  readonly length: number;
  /** @internal */
  readonly handle: unknown;
  private uniqueCount: number | undefined;

  /** @internal use {@link scatterPlan} or {@link scatterPlanAsync}. */
  constructor(raw: { handle: unknown; numRows: number; length: number; uniqueRows?: number }) {
    this.handle = raw.handle;
    this.numRows = raw.numRows;
    this.length = raw.length;
    this.uniqueCount = raw.uniqueRows;
  }

  /** The distinct destination rows, ascending (a Float64Array: exact to 2^53). */
  rows(): Float64Array {
    const rows = native().scatterPlanRows(this.handle);
    this.uniqueCount = rows.length;
    return rows;
  }

  /** How many distinct destination rows the indices touch. */
  get uniqueRows(): number {
    return this.uniqueCount ?? this.rows().length;
  }
}

export interface ScatterPlanOptions {
  /** Destination row of each source row, each in [0, numRows). */
  indices: IndexArray;
  numRows: number;
}

function checkPlanOptions(o: ScatterPlanOptions, op: string): void {
  requireOptions(o, op);
}

/** Builds a {@link ScatterPlan} (a stable sort of the positions by destination row). */
export function scatterPlan(options: ScatterPlanOptions): ScatterPlan {
  checkPlanOptions(options, 'scatterPlan');
  return new ScatterPlan(native().scatterPlan(options.indices, options.numRows));
}

/** {@link scatterPlan} on the libuv thread pool; `indices` is held until it settles. */
export function scatterPlanAsync(options: ScatterPlanOptions): Promise<ScatterPlan> {
  return startAsync(options, 'scatterPlanAsync', () => {
    checkPlanOptions(options, 'scatterPlanAsync');
    return native().scatterPlanAsync(options.indices, options.numRows).then((p) => new ScatterPlan(p));
  });
}

export interface ScatterAddOptions {
  /** Destination, `numRows x dim` floats, updated in place. */
  dst: Float32Array;
  dim: number;
  /** Destination row of each source row (give this or `plan`). */
  indices?: IndexArray;
  /** A plan built from the indices (give this or `indices`). */
  plan?: ScatterPlan;
  /** Source rows, `indices.length x dim` floats. */
  src: Float32Array;
  /** One weight per source row. */
  weights?: Float32Array;
  /** A factor on every contribution (PyTorch's index_add_ alpha); default 1. */
  alpha?: number;
}

/** The native handle of an optional `plan` option (undefined when absent). */
function planHandle(plan: unknown): unknown {
  if (plan === undefined || plan === null) return undefined;
  if (!(plan instanceof ScatterPlan)) throw new TypeError(`plan must be a ScatterPlan, got ${describe(plan)}`);
  return plan.handle;
}

function callScatter<R>(fn: (...args: unknown[]) => R, o: ScatterAddOptions, op: string): R {
  requireOptions(o, op);
  return fn(o.dst, o.dim, o.indices, planHandle(o.plan), o.src, o.weights, o.alpha);
}

/**
 * `dst[indices[i]] += alpha * weights[i] * src[i]`, row-wise, in place; returns `dst`. Each
 * destination row is computed as `dst_row + c_0 + c_1 + ...` with its contributions in index
 * order (each `alpha * w_i` rounded to float32, then fused into the row), bitwise identical
 * for any thread count. Everything is validated before `dst` is touched.
 */
export function scatterAdd(options: ScatterAddOptions): Float32Array {
  return callScatter(native().scatterAdd, options, 'scatterAdd');
}

/** {@link scatterAdd} on the libuv thread pool; the arrays are held until the promise settles. */
export function scatterAddAsync(options: ScatterAddOptions): Promise<Float32Array> {
  return startAsync(options, 'scatterAddAsync', () => callScatter(native().scatterAddAsync, options, 'scatterAddAsync'));
}

/** The forward call's indices, offsets / lengths, includeLastOffset, mode, weights and paddingIdx, plus: */
export interface EmbeddingBagBackwardOptions
  extends Pick<EmbeddingBagOptions, 'indices' | 'offsets' | 'lengths' | 'includeLastOffset' | 'mode' | 'weights' | 'paddingIdx'> {
  /** Row length of the table and of gradOutput. */
  dim: number;
  /** The gradient of embeddingBag's output, `bags x dim` floats. */
  gradOutput: Float32Array;
  /** Rows of the table (the dense gradient is `numRows x dim`). */
  numRows: number;
  /** Mode 'max': the `argmax` that `embeddingBag({ mode: 'max', returnArgmax: true })` returned. */
  maxIndices?: Int32Array;
  /**
   * Return `{ rows, values }`: the distinct rows that get a gradient (ascending, the same
   * array type as `indices`) and their gradients (`rows.length x dim`), with no O(numRows) work.
   */
  sparse?: boolean;
  /** Dense form only: destination of `numRows x dim` floats (entirely overwritten). */
  out?: Float32Array;
  /**
   * Modes 'sum' and 'mean': a {@link ScatterPlan} built from these `indices` and `numRows`
   * (checked), reused instead of sorting the indices on every call. The result is bitwise
   * the same as without it; the dense form then writes each touched row once.
   */
  plan?: ScatterPlan;
}

export interface SparseGradient {
  rows: IndexArray;
  values: Float32Array;
}

function callBackward<R>(fn: (...args: unknown[]) => R, o: EmbeddingBagBackwardOptions, op: string, hashSeed?: unknown): R {
  requireOptions(o, op);
  const mode = enumCode(o.mode, REDUCE, 'mode');
  const { kind, bounds } = boundsArgs(o, op);
  if (o.sparse !== undefined && typeof o.sparse !== 'boolean') {
    throw new TypeError(`sparse must be a boolean, got ${describe(o.sparse)}`);
  }
  const sparse = o.sparse === true;
  // Without `out` the addon makes the dense output itself: it then knows the array is zero.
  const out = o.out;
  return fn(o.gradOutput, o.dim, o.indices, bounds, kind, mode, o.weights, o.paddingIdx, o.numRows, o.maxIndices, sparse, out,
    planHandle(o.plan), hashSeed);
}

/**
 * The gradient of {@link embeddingBag} with respect to its table, with PyTorch's semantics:
 * `sum` sends each bag's gradient (times the index's weight) to every row in the bag; `mean`
 * divides it by the bag's count of non-padding entries; `max` sends each column's gradient to
 * the row that won it (`maxIndices`). Padding entries and empty bags get nothing. Dense
 * (`numRows x dim`, a Float32Array) or, with `sparse: true`, `{ rows, values }`.
 */
export function embeddingBagBackward(options: EmbeddingBagBackwardOptions & { sparse: true }): SparseGradient;
export function embeddingBagBackward(options: EmbeddingBagBackwardOptions): Float32Array;
export function embeddingBagBackward(options: EmbeddingBagBackwardOptions): Float32Array | SparseGradient {
  return callBackward(native().embeddingBagBackward, options, 'embeddingBagBackward') as Float32Array | SparseGradient;
}

/**
 * {@link embeddingBagBackward} on the libuv thread pool. (The sparse form sorts the indices on
 * the calling thread first, since its output size depends on them.)
 */
export function embeddingBagBackwardAsync(options: EmbeddingBagBackwardOptions & { sparse: true }): Promise<SparseGradient>;
export function embeddingBagBackwardAsync(options: EmbeddingBagBackwardOptions): Promise<Float32Array>;
export function embeddingBagBackwardAsync(options: EmbeddingBagBackwardOptions): Promise<Float32Array | SparseGradient> {
  return startAsync(options, 'embeddingBagBackwardAsync',
    () => callBackward(native().embeddingBagBackwardAsync, options, 'embeddingBagBackwardAsync') as Promise<Float32Array | SparseGradient>);
}

/** The forward call's ids, offsets / lengths, includeLastOffset, weights, paddingIdx and seed, plus: */
export interface HashedEmbeddingBagBackwardOptions
  extends Omit<EmbeddingBagBackwardOptions, 'maxIndices' | 'plan' | 'paddingIdx'> {
  /**
   * Mode 'max': the argmax that `hashedEmbeddingBag({ mode: 'max', returnArgmax: true })`
   * returned (table rows, -1 for none); each (bag, column)'s gradient goes to that row.
   */
  maxIndices?: Int32Array;
  /** The forward's seed: id i sent its gradient to row hashedRow(i, seed) of the shared table. */
  seed: number;
  /** An id (not a row) the forward skipped: its entries get nothing and 'mean' does not count them. */
  paddingIdx?: number;
  /** Rows of the shared table (the dense gradient is `numRows x dim`). */
  numRows: number;
}

function callHashedBackward<R>(fn: (...args: unknown[]) => R, o: HashedEmbeddingBagBackwardOptions, op: string): R {
  requireOptions(o, op);
  if (o.seed === undefined || o.seed === null) throw new TypeError(`${op} needs a seed`);
  // plan is not an option here; passed on, the addon refuses it by name.
  return callBackward(fn, o as EmbeddingBagBackwardOptions, op, o.seed);
}

/**
 * The gradient of {@link hashedEmbeddingBag} with respect to its shared table: exactly
 * {@link embeddingBagBackward} with each id replaced by the row it hashed to and the padding
 * id's entries left out (bitwise); 'max' sends each (bag, column)'s gradient to the row in
 * maxIndices (the forward's returnArgmax). Several features sharing one table each add their own
 * gradient (scatterAdd the sparse form, or sum the dense ones).
 */
export function hashedEmbeddingBagBackward(options: HashedEmbeddingBagBackwardOptions & { sparse: true }): SparseGradient;
export function hashedEmbeddingBagBackward(options: HashedEmbeddingBagBackwardOptions): Float32Array;
export function hashedEmbeddingBagBackward(options: HashedEmbeddingBagBackwardOptions): Float32Array | SparseGradient {
  return callHashedBackward(native().embeddingBagBackward, options, 'hashedEmbeddingBagBackward') as Float32Array | SparseGradient;
}

/**
 * {@link hashedEmbeddingBagBackward} on the libuv thread pool. (The ids are hashed on the
 * calling thread first, and the sparse form's rows sorted there too.)
 */
export function hashedEmbeddingBagBackwardAsync(options: HashedEmbeddingBagBackwardOptions & { sparse: true }): Promise<SparseGradient>;
export function hashedEmbeddingBagBackwardAsync(options: HashedEmbeddingBagBackwardOptions): Promise<Float32Array>;
export function hashedEmbeddingBagBackwardAsync(options: HashedEmbeddingBagBackwardOptions): Promise<Float32Array | SparseGradient> {
  return startAsync(options, 'hashedEmbeddingBagBackwardAsync',
    () => callHashedBackward(native().embeddingBagBackwardAsync, options, 'hashedEmbeddingBagBackwardAsync') as Promise<Float32Array | SparseGradient>);
}

/** The forward call's indices, offsets / lengths, includeLastOffset, mode and paddingIdx, plus: */
export interface EmbeddingBagWeightsBackwardOptions
  extends Pick<EmbeddingBagOptions, 'indices' | 'offsets' | 'lengths' | 'includeLastOffset' | 'paddingIdx'> {
  /** The forward's table: row-major `rows x dim` float32 values. */
  table: Float32Array;
  /** Row length of the table and of gradOutput. */
  dim: number;
  /** The gradient of embeddingBag's output, `bags x dim` floats. */
  gradOutput: Float32Array;
  /** 'sum' or 'mean' (per-sample weights do not apply to 'max'; it is a TypeError). */
  mode: Exclude<PoolMode, 'max'>;
  /** Destination of one float per index; a fresh array when omitted. */
  out?: Float32Array;
}

function callWeightsBackward<R>(fn: (...args: unknown[]) => R, o: EmbeddingBagWeightsBackwardOptions, op: string, hashSeed?: unknown): R {
  requireOptions(o, op);
  const mode = enumCode(o.mode, REDUCE, 'mode');
  const { kind, bounds } = boundsArgs(o, op);
  return fn(o.gradOutput, o.table, o.dim, o.indices, bounds, kind, mode, o.paddingIdx, o.out, hashSeed);
}

/**
 * The gradient of {@link embeddingBag} with respect to its per-sample `weights` (PyTorch's
 * `per_sample_weights` gradient): for index p of bag b, `gradOutput[b] · table[indices[p]]`,
 * divided by the bag's count of non-padding entries for 'mean'; 0 for a padding entry. One
 * float per index. The weights themselves are not needed (the pooled sum is linear in them).
 */
export function embeddingBagWeightsBackward(options: EmbeddingBagWeightsBackwardOptions): Float32Array {
  return callWeightsBackward(native().embeddingBagWeightsBackward, options, 'embeddingBagWeightsBackward');
}

/** {@link embeddingBagWeightsBackward} on the libuv thread pool; the arrays are held until it settles. */
export function embeddingBagWeightsBackwardAsync(options: EmbeddingBagWeightsBackwardOptions): Promise<Float32Array> {
  return startAsync(options, 'embeddingBagWeightsBackwardAsync',
    () => callWeightsBackward(native().embeddingBagWeightsBackwardAsync, options, 'embeddingBagWeightsBackwardAsync'));
}

/** The forward call's ids, offsets / lengths, includeLastOffset, seed and paddingIdx, plus: */
export interface HashedEmbeddingBagWeightsBackwardOptions extends Omit<EmbeddingBagWeightsBackwardOptions, 'paddingIdx'> {
  /** The forward's seed: id i read row hashedRow(i, seed) of the shared table. */
  seed: number;
  /** An id (not a row) the forward skipped: its entries get 0 and 'mean' does not count them. */
  paddingIdx?: number;
}

function callHashedWeightsBackward<R>(fn: (...args: unknown[]) => R, o: HashedEmbeddingBagWeightsBackwardOptions, op: string): R {
  requireOptions(o, op);
  if (o.seed === undefined || o.seed === null) throw new TypeError(`${op} needs a seed`);
  return callWeightsBackward(fn, o, op, o.seed);
}

/**
 * The gradient of {@link hashedEmbeddingBag} with respect to its per-sample `weights`: for id
 * p of bag b, `gradOutput[b] · table[hashedRow(indices[p], seed)]`, divided by the bag's count
 * of non-padding ids for 'mean'; 0 for the padding id's entries. One float per id.
 */
export function hashedEmbeddingBagWeightsBackward(options: HashedEmbeddingBagWeightsBackwardOptions): Float32Array {
  return callHashedWeightsBackward(native().embeddingBagWeightsBackward, options, 'hashedEmbeddingBagWeightsBackward');
}

/** {@link hashedEmbeddingBagWeightsBackward} on the libuv thread pool (the ids are hashed on the calling thread). */
export function hashedEmbeddingBagWeightsBackwardAsync(options: HashedEmbeddingBagWeightsBackwardOptions): Promise<Float32Array> {
  return startAsync(options, 'hashedEmbeddingBagWeightsBackwardAsync',
    () => callHashedWeightsBackward(native().embeddingBagWeightsBackwardAsync, options, 'hashedEmbeddingBagWeightsBackwardAsync'));
}

/**
 * A sparse matrix in compressed sparse row form: the nonzeros of row r are
 * `colIdx[rowPtr[r] .. rowPtr[r + 1])` with `values` at the same positions (all ones when
 * omitted). Every op validates it in full (rowPtr starts at 0, never decreases, ends at
 * `colIdx.length`; every column in range).
 */
export interface CsrMatrix {
  rowPtr: IndexArray;
  colIdx: IndexArray;
  values?: Float32Array;
  numRows: number;
  numCols: number;
}

export interface CsrFromCooOptions {
  rows: IndexArray;
  cols: IndexArray;
  values?: Float32Array;
  numRows: number;
  numCols: number;
  /** Merge entries at the same (row, col) into one, summing in input order (default true). */
  sumDuplicates?: boolean;
}

function asCsr(raw: CsrMatrix): CsrMatrix {
  if (raw.values === undefined) delete raw.values;
  return raw;
}

/**
 * A CSR matrix from coordinate triples, sorted by (row, col). `rowPtr` / `colIdx` are
 * Int32Arrays (BigInt64Arrays past 2^31 - 1 entries or columns). Without `values`, the
 * result has none unless duplicates were summed (then they are the counts).
 */
export function csrFromCoo(options: CsrFromCooOptions): CsrMatrix {
  return asCsr(callCoo(native().csrFromCoo, options, 'csrFromCoo'));
}

/** {@link csrFromCoo} on the libuv thread pool; `rows`, `cols` and `values` are held until it settles. */
export function csrFromCooAsync(options: CsrFromCooOptions): Promise<CsrMatrix> {
  return startAsync(options, 'csrFromCooAsync',
    () => callCoo(native().csrFromCooAsync, options, 'csrFromCooAsync').then(asCsr));
}

function callCoo<R>(fn: (...args: unknown[]) => R, o: CsrFromCooOptions, op: string): R {
  requireOptions(o, op);
  if (o.sumDuplicates !== undefined && typeof o.sumDuplicates !== 'boolean') {
    throw new TypeError(`sumDuplicates must be a boolean, got ${describe(o.sumDuplicates)}`);
  }
  return fn(o.rows, o.cols, o.values, o.numRows, o.numCols, o.sumDuplicates ?? true);
}

function requireCsr(a: unknown): CsrMatrix {
  if (a === null || typeof a !== 'object') throw new TypeError(`a must be a CsrMatrix, got ${describe(a)}`);
  return a as CsrMatrix;
}

/**
 * The transpose (`numCols x numRows`), by a stable counting sort: each transposed row lists
 * its entries in ascending original row order. Reuse it for repeated `aᵀ · b` products.
 */
export function csrTranspose(a: CsrMatrix): CsrMatrix {
  const m = requireCsr(a);
  return asCsr(native().csrTranspose(m.rowPtr, m.colIdx, m.values, m.numRows, m.numCols));
}

/** {@link csrTranspose} on the libuv thread pool; `a`'s arrays are held until it settles. */
export function csrTransposeAsync(a: CsrMatrix): Promise<CsrMatrix> {
  return startAsync(a, 'csrTransposeAsync', () => {
    const m = requireCsr(a);
    return native().csrTransposeAsync(m.rowPtr, m.colIdx, m.values, m.numRows, m.numCols).then(asCsr);
  });
}

export interface SpmmOptions {
  a: CsrMatrix;
  /** Dense, row-major: `numCols x dim` floats (`numRows x dim` with transpose). */
  b: Float32Array;
  dim: number;
  /**
   * Multiply by `aᵀ` instead of `a`: by `aT` when given, else by a transpose made with
   * {@link csrTranspose} on every call.
   */
  transpose?: boolean;
  /**
   * With `transpose: true`: `csrTranspose(a)`, made once and kept, so repeated `aᵀ · b`
   * products do not transpose every call (the same result, bit for bit). Its shape and nnz
   * are checked against `a`; that it is `a`'s transpose is the caller's promise.
   */
  aT?: CsrMatrix;
  /**
   * How each output row combines its nonzeros' `value x b row` terms: 'sum' (default), 'mean'
   * (the sum over the row's stored entries) or 'max'. Empty rows give 0 in every mode
   * (torch_sparse, and scatter_reduce with include_self=False).
   */
  reduce?: PoolMode;
  /** Destination of `rows x dim` floats; a fresh array when omitted. */
  out?: Float32Array;
}

/** `aT` when given (checked against `a`'s shape and nnz), else a fresh transpose of `a`. */
function transposeOf(a: CsrMatrix, aT: unknown): CsrMatrix {
  if (aT === undefined || aT === null) return csrTranspose(a);
  if (typeof aT !== 'object') throw new TypeError(`aT must be a CsrMatrix, got ${describe(aT)}`);
  const t = aT as CsrMatrix;
  const nnz = (m: CsrMatrix) => (ArrayBuffer.isView(m.colIdx) ? m.colIdx.length : NaN);
  if (t.numRows !== a.numCols || t.numCols !== a.numRows || nnz(t) !== nnz(a)) {
    throw new RangeError(`aT must be csrTranspose(a): a is ${a.numRows} x ${a.numCols} with ${nnz(a)} nonzeros, ` +
      `aT is ${t.numRows} x ${t.numCols} with ${nnz(t)}`);
  }
  return t;
}

function callSpmm<R>(fn: (...args: unknown[]) => R, o: SpmmOptions, op: string): R {
  requireOptions(o, op);
  const reduce = o.reduce === undefined ? 0 : enumCode(o.reduce, REDUCE, 'reduce');
  if (o.transpose !== undefined && typeof o.transpose !== 'boolean') {
    throw new TypeError(`transpose must be a boolean, got ${describe(o.transpose)}`);
  }
  if (o.aT !== undefined && o.aT !== null && o.transpose !== true) {
    throw new TypeError('aT applies to transpose: true only');
  }
  const a = o.transpose ? transposeOf(requireCsr(o.a), o.aT) : requireCsr(o.a);
  const out = o.out ?? freshOutput(typeof a.numRows === 'number' ? a.numRows : -1, o.dim, 'numRows x dim');
  return fn(a.rowPtr, a.colIdx, a.values, a.numRows, a.numCols, o.b, o.dim, reduce, out);
}

/**
 * `a · b` (or `aᵀ · b`) for a CSR `a` and a dense `b`, with rows reduced by `reduce`. Rows
 * are split over threads by nonzero count (one huge row by columns), each row summed in
 * index order: bitwise identical for any thread count, transposes included.
 */
export function spmm(options: SpmmOptions): Float32Array {
  return callSpmm(native().spmm, options, 'spmm');
}

/** {@link spmm} on the libuv thread pool (without `aT`, a transpose is made on the calling thread first). */
export function spmmAsync(options: SpmmOptions): Promise<Float32Array> {
  return startAsync(options, 'spmmAsync', () => callSpmm(native().spmmAsync, options, 'spmmAsync'));
}
