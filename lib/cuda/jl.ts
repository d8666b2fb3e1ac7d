// cuda.fwht: the CPU op's options over a float32 DeviceArray, transformed in place with the
// CPU's butterflies in the CPU's level order, so the result equals the CPU's bit for bit.
import { type FwhtOptions, fwhtArgs } from '../jl';
import { cudaAddon } from './addon';
import { type DeviceArray, handleOf } from './device-array';

export interface CudaFwhtOptions extends Omit<FwhtOptions, 'x'> {
  /** Rows of n floats, transformed in place. */
  x: DeviceArray<'float32'>;
}

/** The Walsh–Hadamard transform of every row of x, in place on the GPU; returns x. */
export function fwht(o: CudaFwhtOptions): DeviceArray<'float32'> {
  const [x, n, normalize] = fwhtArgs(o as unknown as FwhtOptions, 'cuda.fwht');
  cudaAddon().fwht(handleOf(x, 'x'), n, normalize);
  return o.x;
}
