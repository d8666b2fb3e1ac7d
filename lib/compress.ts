// Compressed and pruned embedding tables: the table formats that gather and embeddingBag
// read (f32, f16, bf16, q8, q4), conversion to and from float32, and vocabulary pruning.
import { adviseFresh, allocTableArray } from './memory';
import { native } from './native';
import { describe, enumCode, lengthOf, requireOptions, startAsync, type IndexArray } from './options';

export type TableFormat = 'f32' | 'f16' | 'bf16' | 'q8' | 'q4';
const TABLE_FORMATS: readonly TableFormat[] = ['f32', 'f16', 'bf16', 'q8', 'q4'];

interface TableShape {
  /** Number of rows. */
  rows: number;
  /** Columns per row. */
  dim: number;
}

/**
 * A stored embedding table, row-major. Rows are decoded to float32 as they are read, and
 * every accumulation is float32.
 * - `f32`: `data` holds `rows x dim` floats.
 * - `f16` / `bf16`: `rows x dim` IEEE half / bfloat16 bit patterns.
 * - `q8`: `rows x dim` byte codes; element = fma(code, scales[row], biases[row]).
 * - `q4`: `rows x ceil(dim / 2)` bytes, two 4-bit codes per byte, the even column in the low
 *   nibble (an odd dim leaves the high nibble of each row's last byte unused); decoded as q8.
 */
export type EmbeddingTable =
  | (TableShape & { format: 'f32'; data: Float32Array })
  | (TableShape & { format: 'f16' | 'bf16'; data: Uint16Array })
  | (TableShape & { format: 'q8' | 'q4'; data: Uint8Array; scales: Float32Array; biases: Float32Array });

/** What gather, embeddingBag and the other readers take as a table. */
export type TableInput = Float32Array | EmbeddingTable;

/** The elements of `data` one row takes. */
function rowStride(format: TableFormat, dim: number): number {
  return format === 'q4' ? Math.ceil(dim / 2) : dim;
}

/** Native arguments for a table: the rows array, dim, and (for a table object) format code, scales, biases. */
export interface NativeTableArgs {
  data: unknown;
  dim: unknown;
  format: number | undefined;
  scales: unknown;
  biases: unknown;
}

/** A table object (anything else, a plain array or an ArrayBuffer included, goes to the binding's type check). */
function isTableObject(table: unknown): table is EmbeddingTable {
  return table !== null && typeof table === 'object' && !ArrayBuffer.isView(table) && 'format' in table;
}

/**
 * Unpacks `table` (a Float32Array or a table object) and the call's `dim` option. A table
 * object carries its dim; `dim`, when also given, must agree. Types and lengths of the
 * arrays are checked by the binding.
 */
export function tableArgs(table: unknown, dim: unknown, name = 'table'): NativeTableArgs {
  if (!isTableObject(table)) return { data: table, dim, format: undefined, scales: undefined, biases: undefined };
  const format = enumCode(table.format, TABLE_FORMATS, `${name}.format`);
  if (dim !== undefined && dim !== table.dim) {
    throw new RangeError(`dim ${describe(dim)} does not match ${name}.dim ${describe(table.dim)}`);
  }
  const stride = rowStride(table.format, table.dim);
  const length = lengthOf(table.data);
  if (Number.isSafeInteger(table.dim) && table.dim >= 1 && length >= 0 && table.rows !== length / stride) {
    throw new RangeError(`${name}.rows ${describe(table.rows)} does not match ${name}.data, which holds ${length / stride} rows of ${stride} elements`);
  }
  const quantized = table.format === 'q8' || table.format === 'q4';
  return {
    data: table.data,
    dim: table.dim,
    format,
    scales: quantized ? table.scales : undefined,
    biases: quantized ? table.biases : undefined,
  };
}

/** Bytes a table occupies: its rows, plus the per-row scales and biases of q8 / q4. */
export function tableBytes(table: TableInput): number {
  if (table instanceof Float32Array) return table.byteLength;
  if (!isTableObject(table) || !ArrayBuffer.isView(table.data)) {
    throw new TypeError(`tableBytes expects a Float32Array or a table object, got ${describe(table)}`);
  }
  let bytes = table.data.byteLength;
  if (table.format === 'q8' || table.format === 'q4') bytes += table.scales.byteLength + table.biases.byteLength;
  return bytes;
}

export interface QuantizeTableOptions {
  /** Row-major `rows x dim` float32 table. */
  table: Float32Array;
  dim: number;
  /**
   * The stored format. f16 / bf16 round to nearest even (NaN, +-0, +-Inf kept). q8 / q4, per
   * row with L = 255 / 15: scale = (max - min) / L, bias = min, code = round((x - min) / scale);
   * |x - decoded| <= scale / 2 + 2^-22 * max(|min|, |max|). q8 / q4 need finite values.
   */
  format: TableFormat;
}

type NativeQuantize = (table: unknown, dim: unknown, format: number, data: unknown, scales: unknown, biases: unknown) => unknown;

/** Allocates the table's arrays, then runs fn; returns the table and what fn returned. */
function callQuantize(fn: NativeQuantize, o: QuantizeTableOptions, op: string): { table: EmbeddingTable; pending: unknown } {
  requireOptions(o, op);
  const format = TABLE_FORMATS[enumCode(o.format, TABLE_FORMATS, 'format')];
  const dim = o.dim;
  const length = lengthOf(o.table);
  const validDim = typeof dim === 'number' && Number.isSafeInteger(dim) && dim >= 1;
  // An implausible shape allocates nothing; the binding then names the bad argument.
  const rows = validDim && length >= 0 && length % dim === 0 ? length / dim : 0;
  const n = validDim ? rows * rowStride(format, dim) : 0;
  // Aligned and (when large) on huge pages, like allocFloat32: random row reads from a big
  // table would otherwise pay a TLB miss each.
  const data = format === 'f32' ? allocTableArray(Float32Array, n)
    : format === 'f16' || format === 'bf16' ? allocTableArray(Uint16Array, n) : allocTableArray(Uint8Array, n);
  const quantized = format === 'q8' || format === 'q4';
  const scales = quantized ? allocTableArray(Float32Array, rows) : undefined;
  const biases = quantized ? allocTableArray(Float32Array, rows) : undefined;
  const table = { format, rows, dim, data, ...(quantized ? { scales, biases } : {}) } as EmbeddingTable;
  return { table, pending: fn(o.table, dim, TABLE_FORMATS.indexOf(format), data, scales, biases) };
}

/** Converts a float32 table into `format` (see {@link QuantizeTableOptions.format} for the rules). */
export function quantizeTable(options: QuantizeTableOptions): EmbeddingTable {
  return callQuantize(native().quantizeTable, options, 'quantizeTable').table;
}

/** {@link quantizeTable} on the libuv thread pool; the arrays are held until the promise settles. */
export function quantizeTableAsync(options: QuantizeTableOptions): Promise<EmbeddingTable> {
  return startAsync(options, 'quantizeTableAsync', () => {
    const { table, pending } = callQuantize(native().quantizeTableAsync, options, 'quantizeTableAsync');
    return (pending as Promise<unknown>).then(() => table);
  });
}

export interface DequantizeTableOptions {
  table: EmbeddingTable;
  /** Destination of `rows x dim` floats; a fresh array when omitted. */
  out?: Float32Array;
}

type NativeDequantize<R> = (data: unknown, dim: unknown, format: unknown, scales: unknown, biases: unknown, out: unknown) => R;

function callDequantize<R>(fn: NativeDequantize<R>, o: DequantizeTableOptions, op: string): R {
  requireOptions(o, op);
  if (!isTableObject(o.table)) throw new TypeError(`table must be a table object (from quantizeTable), got ${describe(o.table)}`);
  const t = tableArgs(o.table, undefined);
  const rows = o.table.rows;
  const n = typeof rows === 'number' && Number.isSafeInteger(rows) && rows >= 0 && typeof t.dim === 'number' ? rows * t.dim : -1;
  const out = o.out ?? (Number.isSafeInteger(n) && n >= 0 ? adviseFresh(new Float32Array(n)) : undefined);
  return fn(t.data, t.dim, t.format, t.scales, t.biases, out);
}

/** Decodes every element of a table to float32: exactly the values gather reads. */
export function dequantizeTable(options: DequantizeTableOptions): Float32Array {
  return callDequantize(native().dequantizeTable, options, 'dequantizeTable');
}

/** {@link dequantizeTable} on the libuv thread pool; the arrays are held until the promise settles. */
export function dequantizeTableAsync(options: DequantizeTableOptions): Promise<Float32Array> {
  return startAsync(options, 'dequantizeTableAsync', () => callDequantize(native().dequantizeTableAsync, options, 'dequantizeTableAsync'));
}

export interface UsedRowsOptions {
  /** Ids a workload reads, each in [0, numRows). */
  indices: IndexArray;
  numRows: number;
}

function requireIndexArray(value: unknown, name: string): asserts value is IndexArray {
  if (!(value instanceof Int32Array || value instanceof Uint32Array || value instanceof BigInt64Array)) {
    throw new TypeError(`${name} must be an Int32Array, Uint32Array or BigInt64Array, got ${describe(value)}`);
  }
}

function requireCount(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > 0x7fffffff) {
    throw new RangeError(`${name} must be an integer in [0, 2147483647], got ${describe(value)}`);
  }
}

/** The distinct ids in `indices`, ascending: the `keep` list for {@link pruneTable}. */
export function usedRows(options: UsedRowsOptions): Int32Array {
  requireOptions(options, 'usedRows');
  const { indices, numRows } = options;
  requireIndexArray(indices, 'indices');
  requireCount(numRows, 'numRows');
  const seen = new Uint8Array(numRows);
  let distinct = 0;
  for (let i = 0; i < indices.length; i++) {
    const id = Number(indices[i]);
    if (!(id >= 0 && id < numRows)) {
      throw new RangeError(`indices[${i}] = ${String(indices[i])} is out of range for a table of ${numRows} rows`);
    }
    distinct += 1 - seen[id];
    seen[id] = 1;
  }
  const ids = new Int32Array(distinct);
  for (let id = 0, k = 0; k < distinct; id++) if (seen[id] !== 0) ids[k++] = id;
  return ids;
}

export interface PruneTableOptions<T extends TableInput> {
  table: T;
  /** For a Float32Array table: the row length. A table object carries its own. */
  dim?: number;
  /** The ids to keep, each in [0, rows), no repeats; kept row i of the result is keep[i]. */
  keep: IndexArray;
}

export interface PrunedTable<T extends TableInput> {
  /** keep.length rows, in the format of the input. */
  table: T;
  /** One entry per original id: its row in `table`, or -1 when pruned. Pass it as `remap`. */
  remap: Int32Array;
}

/**
 * Keeps only the rows `keep` lists. gather and embeddingBag read the result with `remap`:
 * original ids keep working, and a pruned id reads a zero row (skipped in a bag, like padding).
 */
export function pruneTable<T extends TableInput>(options: PruneTableOptions<T>): PrunedTable<T> {
  requireOptions(options, 'pruneTable');
  const { table, keep } = options;
  const t = tableArgs(table, options.dim);
  const data = t.data;
  if (!(data instanceof Float32Array || data instanceof Uint16Array || data instanceof Uint8Array)) {
    throw new TypeError(`table must be a Float32Array or a table object, got ${describe(table)}`);
  }
  if (typeof t.dim !== 'number' || !Number.isSafeInteger(t.dim) || t.dim < 1) {
    throw new RangeError(`dim must be a positive integer, got ${describe(t.dim)}`);
  }
  const format = isTableObject(table) ? table.format : 'f32';
  const stride = rowStride(format, t.dim);
  if (data.length % stride !== 0) throw new RangeError(`table.length ${data.length} is not a multiple of dim ${t.dim}`);
  const rows = data.length / stride;
  requireCount(rows, 'the table rows');
  requireIndexArray(keep, 'keep');
  const remap = new Int32Array(rows).fill(-1);
  for (let i = 0; i < keep.length; i++) {
    const id = Number(keep[i]);
    if (!(id >= 0 && id < rows)) throw new RangeError(`keep[${i}] = ${String(keep[i])} is out of range for a table of ${rows} rows`);
    if (remap[id] !== -1) throw new RangeError(`keep[${i}] = ${id} repeats keep[${remap[id]}]`);
    remap[id] = i;
  }
  const compact: Float32Array | Uint16Array | Uint8Array = data instanceof Float32Array ? allocTableArray(Float32Array, keep.length * stride)
    : data instanceof Uint16Array ? allocTableArray(Uint16Array, keep.length * stride) : allocTableArray(Uint8Array, keep.length * stride);
  const perRow = isTableObject(table) && (table.format === 'q8' || table.format === 'q4')
    ? { from: [table.scales, table.biases], to: [allocTableArray(Float32Array, keep.length), allocTableArray(Float32Array, keep.length)] }
    : undefined;
  if (perRow !== undefined && perRow.from.some((a) => !(a instanceof Float32Array) || a.length !== rows)) {
    throw new RangeError(`table.scales and table.biases must be Float32Arrays of ${rows} entries`);
  }
  for (let i = 0; i < keep.length; i++) {
    const id = Number(keep[i]);
    compact.set(data.subarray(id * stride, (id + 1) * stride), i * stride);
    if (perRow !== undefined) {
      perRow.to[0][i] = perRow.from[0][id];
      perRow.to[1][i] = perRow.from[1][id];
    }
  }
  const result = isTableObject(table)
    ? { ...table, rows: keep.length, data: compact, ...(perRow ? { scales: perRow.to[0], biases: perRow.to[1] } : {}) }
    : compact;
  return { table: result as T, remap };
}
