// The scatter family on the GPU: cuda.scatterPlan, cuda.scatterAdd and cuda.spmm, with the
// CPU ops' options over DeviceArrays. Deterministic like the CPU (no float atomics): a
// scatter sorts its positions by destination row (a plan, reusable) and sums every row in
// index order; aᵀ·b uses the plan of the column indices. Results are the CPU's bits.
import { boundsArgs, type PoolMode } from '../gather';
import { describe, enumCode, requireOptions } from '../options';
import { cudaAddon } from './addon';
import { DeviceArray, handleOf, optionalHandleOf, withOutput, disposeSymbol } from './device-array';

type Indices = DeviceArray<'int32' | 'uint32' | 'int64'>;

/**
 * The transposed index pattern of `indices` on the device (which positions feed each
 * destination row), for scatterAdd calls that reuse the same indices.
 */
export class DeviceScatterPlan {
  readonly numRows: number;
  readonly length: number;
  /** @internal order, rows, bounds, segment count */
  readonly parts: readonly DeviceArray[];

  private constructor(numRows: number, length: number, parts: DeviceArray[]) {
    this.numRows = numRows;
    this.length = length;
    this.parts = parts;
  }

  /** @internal */
  static build(indices: Indices, numRows: number): DeviceScatterPlan {
    const handles = cudaAddon().scatterPlan(handleOf(indices, 'indices'), numRows);
    const n = indices.length;
    const lengths = [n, n, n + 1, 1];
    return new DeviceScatterPlan(numRows, n,
      handles.map((h, i) => DeviceArray.fromHandle(h, 'int64', lengths[i], indices.device)));
  }

  dispose(): void {
    this.parts.forEach((p) => p.dispose());
  }

  [disposeSymbol](): void {
    this.dispose();
  }
}

export interface CudaScatterPlanOptions {
  indices: Indices;
  numRows: number;
}

/** A plan of `indices` (each in [0, numRows)) on the device. */
export function scatterPlan(o: CudaScatterPlanOptions): DeviceScatterPlan {
  requireOptions(o, 'cuda.scatterPlan');
  return DeviceScatterPlan.build(o.indices, o.numRows);
}

export interface CudaScatterAddOptions {
  dst: DeviceArray<'float32'>;
  dim: number;
  indices?: Indices;
  plan?: DeviceScatterPlan;
  src: DeviceArray<'float32'>;
  weights?: DeviceArray<'float32'>;
  alpha?: number;
}

/** dst[indices[i]] += alpha · weights[i] · src[i] on the GPU, each row in index order; returns dst. */
export function scatterAdd(o: CudaScatterAddOptions): DeviceArray<'float32'> {
  requireOptions(o, 'cuda.scatterAdd');
  const addon = cudaAddon();
  let plan: unknown[] | undefined;
  let planRows: number | undefined;
  if (o.plan !== undefined && o.plan !== null) {
    if (!(o.plan instanceof DeviceScatterPlan)) throw new TypeError(`plan must be a DeviceScatterPlan, got ${describe(o.plan)}`);
    plan = o.plan.parts.map((p, i) => handleOf(p, `plan part ${i}`));
    planRows = o.plan.numRows;
  }
  addon.scatterAdd(handleOf(o.dst, 'dst'), o.dim, optionalHandleOf(o.indices, 'indices'), plan, planRows,
    handleOf(o.src, 'src'), optionalHandleOf(o.weights, 'weights'), o.alpha ?? 1);
  return o.dst;
}

/** A CSR matrix whose arrays are on the device (values omitted: all ones). */
export interface DeviceCsrMatrix {
  rowPtr: Indices;
  colIdx: Indices;
  values?: DeviceArray<'float32'>;
  numRows: number;
  numCols: number;
}

export interface CudaSpmmOptions {
  a: DeviceCsrMatrix;
  b: DeviceArray<'float32'>;
  dim: number;
  transpose?: boolean;
  reduce?: PoolMode;
  out?: DeviceArray<'float32'>;
}

const REDUCE: readonly PoolMode[] = ['sum', 'mean', 'max'];

/** a · b (or aᵀ · b) on the GPU with reduce 'sum' | 'mean' | 'max', deterministic. */
export function spmm(o: CudaSpmmOptions): DeviceArray<'float32'> {
  requireOptions(o, 'cuda.spmm');
  const addon = cudaAddon();
  const reduce = o.reduce === undefined ? 0 : enumCode(o.reduce, REDUCE, 'reduce');
  if (o.transpose !== undefined && typeof o.transpose !== 'boolean') {
    throw new TypeError(`transpose must be a boolean, got ${describe(o.transpose)}`);
  }
  const a = o.a as unknown;
  if (a === null || typeof a !== 'object') throw new TypeError(`a must be a CSR matrix of DeviceArrays, got ${describe(a)}`);
  const m = a as DeviceCsrMatrix;
  const rowPtr = handleOf(m.rowPtr, 'a.rowPtr');
  const colIdx = handleOf(m.colIdx, 'a.colIdx');
  const values = optionalHandleOf(m.values, 'a.values');
  const rows = o.transpose ? m.numCols : m.numRows;
  return withOutput(o.out, typeof rows === 'number' && typeof o.dim === 'number' ? rows * o.dim : -1, m.rowPtr.device,
    (out) => addon.spmm(rowPtr, colIdx, values, m.numRows, m.numCols, handleOf(o.b, 'b'), o.dim, reduce, out.handle,
      o.transpose ?? false));
}

export interface CudaEmbeddingBagBackwardOptions {
  /** embeddingBag's output gradient, bags x dim. */
  gradOutput: DeviceArray<'float32'>;
  dim: number;
  indices: Indices;
  offsets?: Indices;
  lengths?: Indices;
  includeLastOffset?: boolean;
  mode: PoolMode;
  weights?: DeviceArray<'float32'>;
  paddingIdx?: number;
  numRows: number;
  /** Mode 'max': the winning row of every (bag, column), int32, made by fromHost. */
  maxIndices?: DeviceArray<'int32'>;
  /** Dense form: numRows x dim, entirely overwritten; a fresh array when omitted. */
  out?: DeviceArray<'float32'>;
  /**
   * Return `{ rows, values }`: the distinct rows that get a gradient (ascending, the dtype of
   * `indices`) and their gradients (rows.length x dim), with no O(numRows) work. Its size is
   * known only once the indices are sorted, so this form waits for the GPU work queued before it.
   */
  sparse?: boolean;
}

/** The sparse gradient on the device. `rows` was written on the GPU: it cannot serve as indices. */
export interface CudaSparseGradient {
  rows: DeviceArray<'int32' | 'uint32' | 'int64'>;
  values: DeviceArray<'float32'>;
}

function backwardArgs(o: CudaEmbeddingBagBackwardOptions): unknown[] {
  const mode = enumCode(o.mode, REDUCE, 'mode');
  const { kind, bounds } = boundsArgs(o, 'cuda.embeddingBagBackward', (a) => (a instanceof DeviceArray ? a.length : -1));
  const boundsHandle = handleOf(bounds, kind === 2 ? 'lengths' : 'offsets');
  return [handleOf(o.gradOutput, 'gradOutput'), o.dim, handleOf(o.indices, 'indices'), boundsHandle, kind, mode,
    optionalHandleOf(o.weights, 'weights'), o.paddingIdx, o.numRows, optionalHandleOf(o.maxIndices, 'maxIndices')];
}

/**
 * The gradient of embeddingBag on the GPU (sum, mean, max), deterministic: every row sums
 * its contributions in position order, as the CPU's embeddingBagBackward does (the same
 * bits). Dense (numRows x dim) or, with `sparse: true`, `{ rows, values }`.
 */
export function embeddingBagBackward(o: CudaEmbeddingBagBackwardOptions & { sparse: true }): CudaSparseGradient;
export function embeddingBagBackward(o: CudaEmbeddingBagBackwardOptions): DeviceArray<'float32'>;
export function embeddingBagBackward(o: CudaEmbeddingBagBackwardOptions): DeviceArray<'float32'> | CudaSparseGradient {
  requireOptions(o, 'cuda.embeddingBagBackward');
  if (o.sparse !== undefined && typeof o.sparse !== 'boolean') {
    throw new TypeError(`sparse must be a boolean, got ${describe(o.sparse)}`);
  }
  const addon = cudaAddon();
  const args = backwardArgs(o);
  if (o.sparse === true) {
    if (o.out !== undefined && o.out !== null) throw new TypeError('out applies to the dense form only');
    const r = addon.embeddingBagBackward(...args, undefined, true) as { rows: unknown; values: unknown; count: number };
    const device = o.gradOutput.device;
    return {
      rows: DeviceArray.fromHandle(r.rows, o.indices.dtype, r.count, device),
      values: DeviceArray.fromHandle(r.values, 'float32', r.count * o.dim, device),
    };
  }
  return withOutput(o.out, typeof o.numRows === 'number' && typeof o.dim === 'number' ? o.numRows * o.dim : -1,
    o.gradOutput.device, (out) => addon.embeddingBagBackward(...args, out.handle, false));
}

export interface CudaEmbeddingBagWeightsBackwardOptions {
  /** embeddingBag's output gradient, bags x dim. */
  gradOutput: DeviceArray<'float32'>;
  /** The forward's table, rows x dim float32 (a compressed DeviceTable is not taken). */
  table: DeviceArray<'float32'>;
  dim: number;
  indices: Indices;
  offsets?: Indices;
  lengths?: Indices;
  includeLastOffset?: boolean;
  mode: Exclude<PoolMode, 'max'>;
  paddingIdx?: number;
  /** One float per index; a fresh array when omitted. */
  out?: DeviceArray<'float32'>;
}

/**
 * The gradient of embeddingBag with respect to its per-sample weights on the GPU, as the CPU's
 * embeddingBagWeightsBackward: `gradOutput[b] · table[indices[p]]` per index (over the bag's
 * non-padding count for 'mean'), 0 for padding. A group of lanes per index, reduced by shuffles:
 * within rounding of the CPU, not its bits.
 */
export function embeddingBagWeightsBackward(o: CudaEmbeddingBagWeightsBackwardOptions): DeviceArray<'float32'> {
  requireOptions(o, 'cuda.embeddingBagWeightsBackward');
  const mode = enumCode(o.mode, REDUCE, 'mode');
  const { kind, bounds } = boundsArgs(o, 'cuda.embeddingBagWeightsBackward', (a) => (a instanceof DeviceArray ? a.length : -1));
  const args = [handleOf(o.gradOutput, 'gradOutput'), handleOf(o.table, 'table'), o.dim, handleOf(o.indices, 'indices'),
    handleOf(bounds, kind === 2 ? 'lengths' : 'offsets'), kind, mode, o.paddingIdx];
  return withOutput(o.out, o.indices instanceof DeviceArray ? o.indices.length : -1, o.gradOutput.device,
    (out) => cudaAddon().embeddingBagWeightsBackward(...args, out.handle));
}
