// qrEmbeddingBag: the quotient-remainder trick (Shi et al., "Compositional Embeddings Using
// Complementary Partitions"): id reads row floor(id / m) of a quotient table and row id mod m
// of a remainder table (m = the remainder table's rows), combined and pooled per bag in one
// fused pass, with no temporary rows.
import { tableArgs, type TableInput } from './compress';
import { boundsArgs, type PoolMode } from './gather';
import { native } from './native';
import { enumCode, freshOutput, requireOptions, startAsync, type IndexArray } from './options';

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
}

type NativeQr<R> = (
  qData: unknown, qDim: unknown, qFormat: unknown, qScales: unknown, qBiases: unknown,
  rData: unknown, rDim: unknown, rFormat: unknown, rScales: unknown, rBiases: unknown,
  indices: unknown, bounds: unknown, boundsKind: number, mode: number, combine: number,
  weights: unknown, paddingIdx: unknown, out: unknown,
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
  return fn(q.data, q.dim, q.format, q.scales, q.biases, r.data, r.dim, r.format, r.scales, r.biases,
    o.indices, bounds, kind, mode, combine, o.weights, o.paddingIdx, out);
}

/**
 * Pools quotient-remainder embeddings per bag: each id's row is combine(quotient[id / m],
 * remainder[id mod m]) with m = remainder rows; the rows are pooled as embeddingBag pools them
 * (sum / mean / max, weights, padding). Both tables share a format (f32, f16, bf16, q8, q4).
 */
export function qrEmbeddingBag(options: QrEmbeddingBagOptions): Float32Array {
  return callQr(native().qrEmbeddingBag, options, 'qrEmbeddingBag');
}

/** {@link qrEmbeddingBag} on the libuv thread pool; the arrays are held until the promise settles. */
export function qrEmbeddingBagAsync(options: QrEmbeddingBagOptions): Promise<Float32Array> {
  return startAsync(options, 'qrEmbeddingBagAsync', () => callQr(native().qrEmbeddingBagAsync, options, 'qrEmbeddingBagAsync'));
}
