// DeviceArray: a typed array's worth of GPU memory. Made from a host array (copied when
// fromHost returns) or zero-filled by empty(); read back with toHost() (a promise that
// settles once every op queued before it has run, which is also where a fault in one of
// them is reported). dispose() frees it at once, in stream order (after the ops already
// queued); a finalizer frees what a program forgets. Its bytes count as V8 external memory,
// so the garbage collector sees them.
import { describe } from '../options';
import { cudaAddon } from './addon';

export type DeviceDtype = 'float32' | 'int32' | 'uint32' | 'int64' | 'uint16' | 'uint8' | 'float64';

/** The host typed array each dtype reads back into. */
export interface HostArrayOf {
  float32: Float32Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint16: Uint16Array;
  uint8: Uint8Array;
  float64: Float64Array;
}
export type HostArray = HostArrayOf[DeviceDtype];

// Index = the binding's dtype code (cuda/common/device_types.h Dtype).
const DTYPES: readonly DeviceDtype[] = ['float32', 'int32', 'uint32', 'int64', 'uint16', 'uint8', 'float64'];
const HOST_TYPES = {
  float32: Float32Array, int32: Int32Array, uint32: Uint32Array,
  int64: BigInt64Array, uint16: Uint16Array, uint8: Uint8Array, float64: Float64Array,
} as const;

function dtypeOfHost(array: unknown): DeviceDtype | undefined {
  for (const d of DTYPES) if (array instanceof HOST_TYPES[d]) return d;
  return undefined;
}

let currentDevice = 0;

/** The device new arrays go to (0 unless {@link setDevice} chose another). */
export function getDevice(): number {
  return currentDevice;
}

/** Makes `device` the default for DeviceArray.fromHost / empty and fresh op outputs. */
export function setDevice(device: number): void {
  const count = cudaAddon().devices().length;
  if (!Number.isInteger(device) || device < 0 || device >= count) {
    throw new RangeError(`device must be an integer from 0 to ${count - 1}, got ${describe(device)}`);
  }
  currentDevice = device;
}

/** Symbol.dispose where the runtime has it (explicit resource management), else Node's own key. */
export const disposeSymbol: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for('nodejs.dispose');

export class DeviceArray<D extends DeviceDtype = DeviceDtype> {
  /** @internal the binding's handle; null once disposed. */
  handle: unknown;
  readonly dtype: D;
  readonly length: number;
  readonly device: number;

  private constructor(handle: unknown, dtype: D, length: number, device: number) {
    this.handle = handle;
    this.dtype = dtype;
    this.length = length;
    this.device = device;
  }

  /** Copies a host typed array to the device; the host array is free to change on return. */
  static fromHost<T extends HostArray>(array: T, options: { device?: number } = {}): DeviceArray<DtypeOf<T>> {
    const dtype = dtypeOfHost(array);
    if (dtype === undefined) {
      throw new TypeError('array must be a Float32Array, Float64Array, Int32Array, Uint32Array, BigInt64Array, ' +
        `Uint16Array or Uint8Array, got ${describe(array)}`);
    }
    const device = options.device ?? currentDevice;
    const handle = cudaAddon().fromHost(array, device);
    return new DeviceArray(handle, dtype as DtypeOf<T>, array.length, device);
  }

  /** @internal A handle the binding made (a plan's arrays), owned by the new DeviceArray. */
  static fromHandle<E extends DeviceDtype>(handle: unknown, dtype: E, length: number, device: number): DeviceArray<E> {
    return new DeviceArray(handle, dtype, length, device);
  }

  /** `length` zeros of `dtype` on the device. */
  static empty<E extends DeviceDtype>(dtype: E, length: number, options: { device?: number } = {}): DeviceArray<E> {
    const code = DTYPES.indexOf(dtype);
    if (code < 0) throw new TypeError(`dtype must be one of ${DTYPES.join(', ')}, got ${describe(dtype)}`);
    const device = options.device ?? currentDevice;
    const handle = cudaAddon().empty(code, length, device);
    return new DeviceArray(handle, dtype, length, device);
  }

  get byteLength(): number {
    return this.length * HOST_TYPES[this.dtype].BYTES_PER_ELEMENT;
  }

  get disposed(): boolean {
    return this.handle === null;
  }

  /** A host copy, once every op queued before this call has finished. */
  toHost(): Promise<HostArrayOf[D]> {
    if (this.handle === null) return Promise.reject(new TypeError('toHost: the DeviceArray was disposed'));
    const out = new HOST_TYPES[this.dtype](this.length) as HostArrayOf[D];
    return cudaAddon().toHost(this.handle, out);
  }

  /**
   * Copies `source` (the same element type) into this array from element `offset` on, as
   * TypedArray.set does; the host array is free to change on return. An integer array
   * written this way can no longer serve as indices or offsets (its values were checked on
   * the host only when it was made by fromHost).
   */
  set(source: HostArrayOf[D], offset = 0): void {
    if (this.handle === null) throw new TypeError('set: the DeviceArray was disposed');
    cudaAddon().write(this.handle, source, offset);
  }

  /** Frees the device memory now (after the ops already queued); later use is a TypeError. */
  dispose(): void {
    if (this.handle === null) return;
    const handle = this.handle;
    this.handle = null;
    cudaAddon().dispose(handle);
  }

  [disposeSymbol](): void {
    this.dispose();
  }
}

type DtypeOf<T> = T extends Float32Array ? 'float32' : T extends Int32Array ? 'int32' : T extends Uint32Array ? 'uint32'
  : T extends BigInt64Array ? 'int64' : T extends Uint16Array ? 'uint16' : T extends Uint8Array ? 'uint8'
  : T extends Float64Array ? 'float64' : DeviceDtype;

/** The handle of a DeviceArray argument, or a TypeError naming it. */
export function handleOf(value: unknown, name: string): unknown {
  if (!(value instanceof DeviceArray)) throw new TypeError(`${name} must be a DeviceArray, got ${describe(value)}`);
  if (value.handle === null) throw new TypeError(`${name} was disposed`);
  return value.handle;
}

/** The same, for an optional argument: undefined stays undefined. */
export function optionalHandleOf(value: unknown, name: string): unknown {
  return value === undefined || value === null ? undefined : handleOf(value, name);
}

// The output the caller gave, or a fresh one that is freed again if the call is refused.
export function withOutput(
  given: unknown, elements: number, device: number, run: (out: DeviceArray<'float32'>) => void,
): DeviceArray<'float32'> {
  if (given !== undefined && given !== null) {
    handleOf(given, 'out');
    run(given as DeviceArray<'float32'>);
    return given as DeviceArray<'float32'>;
  }
  if (!Number.isSafeInteger(elements) || elements < 0) {
    // Let the binding name the bad argument: it sees an empty output and the real sizes.
    elements = 0;
  }
  const fresh = DeviceArray.empty('float32', elements, { device });
  try {
    run(fresh);
  } catch (e) {
    fresh.dispose();
    throw e;
  }
  return fresh;
}

/**
 * Fresh outputs (dtype, length each) for an op that writes several arrays; all are freed
 * again if the call is refused. A length that is not a count becomes 0, so that the binding
 * sees the real sizes and names the bad argument.
 */
export function withFreshOutputs(
  device: number, specs: ReadonlyArray<readonly [DeviceDtype, number]>, run: (outs: DeviceArray[]) => void,
): DeviceArray[] {
  const outs: DeviceArray[] = [];
  try {
    for (const [dtype, n] of specs) outs.push(DeviceArray.empty(dtype, Number.isSafeInteger(n) && n >= 0 ? n : 0, { device }));
    run(outs);
  } catch (e) {
    outs.forEach((o) => o.dispose());
    throw e;
  }
  return outs;
}
