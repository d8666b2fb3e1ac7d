// cuda.gather and cuda.embeddingBag: the CPU ops' options, over DeviceArrays. Queued on the
// device's stream; they return their output at once (read it with toHost()). The binding
// checks everything before launching, index ranges and bag boundaries included (from the
// summary each index array got when it was copied from the host).
import { boundsArgs, type PoolMode } from '../gather';
import { describe, enumCode, requireOptions } from '../options';
import { cudaAddon } from './addon';
import { DeviceArray, handleOf, optionalHandleOf, withFreshOutputs, withOutput } from './device-array';
import { type DeviceTable, deviceTableArgs } from './table';

export interface CudaGatherOptions {
  /** rows x dim float32 rows, or a DeviceTable in any format (dim then optional). */
  table: DeviceArray<'float32'> | DeviceTable;
  dim?: number;
  /** int32, uint32 or int64 row ids made by DeviceArray.fromHost. */
  indices: DeviceArray<'int32' | 'uint32' | 'int64'>;
  /** indices.length x dim floats; a fresh zeroed array when omitted. */
  out?: DeviceArray<'float32'>;
}

export interface CudaEmbeddingBagOptions {
  table: DeviceArray<'float32'> | DeviceTable;
  dim?: number;
  indices: DeviceArray<'int32' | 'uint32' | 'int64'>;
  offsets?: DeviceArray<'int32' | 'uint32' | 'int64'>;
  lengths?: DeviceArray<'int32' | 'uint32' | 'int64'>;
  includeLastOffset?: boolean;
  mode: PoolMode;
  weights?: DeviceArray<'float32'>;
  paddingIdx?: number;
  out?: DeviceArray<'float32'>;
  /**
   * Mode 'max' only: also return, per bag and column, the row id that won (the first index
   * holding the maximum; -1 for an empty or padding-only bag), the CPU's returnArgmax. It
   * can be passed to cuda.embeddingBagBackward as maxIndices (nothing else takes it as ids).
   */
  returnArgmax?: boolean;
  /** With returnArgmax: the int32 destination (bags x dim); a fresh array when omitted. */
  argmaxOut?: DeviceArray<'int32'>;
}

const POOL_MODES: readonly PoolMode[] = ['sum', 'mean', 'max'];

function deviceOf(table: DeviceArray | DeviceTable): number {
  return table instanceof DeviceArray ? table.device : table.data.device;
}

function deviceLength(a: unknown): number {
  return a instanceof DeviceArray ? a.length : -1;
}

/** Rows `indices[i]` of `table`, on the GPU. */
export function gather(o: CudaGatherOptions): DeviceArray<'float32'> {
  requireOptions(o, 'cuda.gather');
  const addon = cudaAddon();
  const t = deviceTableArgs(o.table, o.dim);
  const indices = handleOf(o.indices, 'indices');
  return withOutput(o.out, deviceLength(o.indices) * Number(t.dim), deviceOf(o.table),
    (out) => addon.gather(t.data, t.dim, indices, out.handle, t.format, t.scales, t.biases));
}

/** Pools each bag's rows (sum, mean or max; weights; padding) on the GPU, as embeddingBag does. */
export function embeddingBag(o: CudaEmbeddingBagOptions & { returnArgmax: true }):
  { out: DeviceArray<'float32'>; argmax: DeviceArray<'int32'> };
export function embeddingBag(o: CudaEmbeddingBagOptions): DeviceArray<'float32'>;
export function embeddingBag(o: CudaEmbeddingBagOptions):
  DeviceArray<'float32'> | { out: DeviceArray<'float32'>; argmax: DeviceArray<'int32'> } {
  requireOptions(o, 'cuda.embeddingBag');
  const addon = cudaAddon();
  const mode = enumCode(o.mode, POOL_MODES, 'mode');
  const t = deviceTableArgs(o.table, o.dim);
  const indices = handleOf(o.indices, 'indices');
  const { kind, bounds, bags } = boundsArgs(o, 'cuda.embeddingBag', deviceLength);
  const boundsHandle = handleOf(bounds, kind === 2 ? 'lengths' : 'offsets');
  const weights = optionalHandleOf(o.weights, 'weights');
  if (o.returnArgmax !== undefined && typeof o.returnArgmax !== 'boolean') {
    throw new TypeError(`returnArgmax must be a boolean, got ${describe(o.returnArgmax)}`);
  }
  if (o.returnArgmax !== true) {
    if (o.argmaxOut !== undefined && o.argmaxOut !== null) throw new TypeError('argmaxOut needs returnArgmax: true');
    return withOutput(o.out, bags * Number(t.dim), deviceOf(o.table),
      (out) => addon.embeddingBag(t.data, t.dim, indices, boundsHandle, kind, mode, weights, o.paddingIdx, out.handle,
        t.format, t.scales, t.biases));
  }
  const size = bags * Number(t.dim);
  const given = o.argmaxOut !== undefined && o.argmaxOut !== null;
  const [argmax] = given ? [o.argmaxOut as DeviceArray<'int32'>]
    : withFreshOutputs(deviceOf(o.table), [['int32', size]], () => undefined) as [DeviceArray<'int32'>];
  try {
    const argmaxHandle = handleOf(argmax, 'argmaxOut');
    const out = withOutput(o.out, size, deviceOf(o.table),
      (v) => addon.embeddingBag(t.data, t.dim, indices, boundsHandle, kind, mode, weights, o.paddingIdx, v.handle,
        t.format, t.scales, t.biases, argmaxHandle));
    return { out, argmax };
  } catch (e) {
    if (!given) argmax.dispose();
    throw e;
  }
}
