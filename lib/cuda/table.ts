// Tables on the GPU in every format the CPU reads (f32, f16, bf16, q8, q4; see
// quantizeTable): a DeviceTable holds the rows and, for q8 / q4, the per-row scales and
// biases as DeviceArrays. cuda.gather and cuda.embeddingBag take one where they take a
// float32 DeviceArray, and decode rows as the CPU does (the same bits).
import { describe, enumCode } from '../options';
import { DeviceArray, handleOf, disposeSymbol } from './device-array';

export type DeviceTableFormat = 'f32' | 'f16' | 'bf16' | 'q8' | 'q4';
const FORMATS: readonly DeviceTableFormat[] = ['f32', 'f16', 'bf16', 'q8', 'q4'];

/** A host table object as quantizeTable makes it. */
export interface HostTable {
  format: DeviceTableFormat;
  rows: number;
  dim: number;
  data: Float32Array | Uint16Array | Uint8Array;
  scales?: Float32Array;
  biases?: Float32Array;
}


export class DeviceTable {
  readonly format: DeviceTableFormat;
  readonly rows: number;
  readonly dim: number;
  readonly data: DeviceArray;
  readonly scales: DeviceArray<'float32'> | undefined;
  readonly biases: DeviceArray<'float32'> | undefined;

  private constructor(t: Omit<DeviceTable, 'dispose'>) {
    this.format = t.format;
    this.rows = t.rows;
    this.dim = t.dim;
    this.data = t.data;
    this.scales = t.scales;
    this.biases = t.biases;
  }

  /** Copies a table object (from quantizeTable, or { format: 'f32', rows, dim, data }) to the device. */
  static fromHost(table: HostTable, options: { device?: number } = {}): DeviceTable {
    if (table === null || typeof table !== 'object') throw new TypeError(`table must be a table object, got ${describe(table)}`);
    enumCode(table.format, FORMATS, 'table.format');
    const quantized = table.format === 'q8' || table.format === 'q4';
    const arrays: DeviceArray[] = [];
    try {
      const data = DeviceArray.fromHost(table.data, options);
      arrays.push(data);
      const scales = quantized ? DeviceArray.fromHost(table.scales as Float32Array, options) : undefined;
      if (scales) arrays.push(scales);
      const biases = quantized ? DeviceArray.fromHost(table.biases as Float32Array, options) : undefined;
      return new DeviceTable({ format: table.format, rows: table.rows, dim: table.dim, data, scales, biases });
    } catch (e) {
      arrays.forEach((a) => a.dispose());
      throw e;
    }
  }

  dispose(): void {
    this.data.dispose();
    this.scales?.dispose();
    this.biases?.dispose();
  }

  [disposeSymbol](): void {
    this.dispose();
  }
}

/** The binding's table arguments: handle, dim, then format code, scales, biases. */
export function deviceTableArgs(table: unknown, dim: unknown): { data: unknown; dim: unknown; format?: number; scales?: unknown; biases?: unknown } {
  if (!(table instanceof DeviceTable)) return { data: handleOf(table, 'table'), dim };
  if (dim !== undefined && dim !== table.dim) {
    throw new RangeError(`dim ${describe(dim)} does not match table.dim ${describe(table.dim)}`);
  }
  return {
    data: handleOf(table.data, 'table.data'),
    dim: table.dim,
    format: FORMATS.indexOf(table.format),
    scales: table.scales && handleOf(table.scales, 'table.scales'),
    biases: table.biases && handleOf(table.biases, 'table.biases'),
  };
}
