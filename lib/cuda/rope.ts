// cuda.rope and cuda.ropeRerotate: the CPU ops' options (and their argument handling in
// lib/rope.ts) over DeviceArrays. Frequencies are computed on the host exactly as for the
// CPU (ropeFrequencies: base, scaling, attention factor) and the kernel computes each
// token's tables with the CPU's float64 method, so the output equals the CPU's bit for bit.
// The CPU's precomputed `cache` is not taken: the GPU computes tables per token anyway.
import { callRerotate, callRope, type RopeOptions, type RopeRerotateOptions } from '../rope';
import { requireOptions } from '../options';
import { cudaAddon } from './addon';
import { type DeviceArray, handleOf, optionalHandleOf } from './device-array';

type Positions = DeviceArray<'int32' | 'uint32' | 'int64'>;

export interface CudaRopeOptions extends Omit<RopeOptions, 'q' | 'k' | 'positions' | 'out' | 'outK' | 'cache'> {
  q: DeviceArray<'float32'>;
  k?: DeviceArray<'float32'>;
  positions?: Positions;
  out?: DeviceArray<'float32'>;
  outK?: DeviceArray<'float32'>;
}

export interface CudaRopeRerotateOptions
  extends Omit<RopeRerotateOptions, 'k' | 'fromPositions' | 'toPositions' | 'out'> {
  k: DeviceArray<'float32'>;
  fromPositions?: Positions;
  toPositions?: Positions;
  out?: DeviceArray<'float32'>;
}

export interface CudaRopeResult {
  q: DeviceArray<'float32'>;
  k: DeviceArray<'float32'> | undefined;
}

/** Rotates q (and k) on the GPU, in place unless out / outK are given; queued, returns at once. */
export function rope(o: CudaRopeOptions): CudaRopeResult {
  requireOptions(o, 'cuda.rope');
  const addon = cudaAddon();
  callRope((q, k, numHeads, numKvHeads, headDim, rotaryDim, layout, positions, offset, invFreq, factor, inverse,
    out, outK, cacheCos, cacheSin) => addon.rope(
    handleOf(q, 'q'), optionalHandleOf(k, 'k'), numHeads, numKvHeads, headDim, rotaryDim, layout,
    optionalHandleOf(positions, 'positions'), offset, invFreq, factor, inverse, optionalHandleOf(out, 'out'),
    optionalHandleOf(outK, 'outK'), cacheCos, cacheSin), o as unknown as RopeOptions, 'cuda.rope');
  const hasK = o.k !== undefined && o.k !== null;
  return { q: o.out ?? o.q, k: hasK ? (o.outK ?? o.k) : undefined };
}

/** Re-rotates cached keys on the GPU (see ropeRerotate); returns the rotated keys (out or k). */
export function ropeRerotate(o: CudaRopeRerotateOptions): DeviceArray<'float32'> {
  requireOptions(o, 'cuda.ropeRerotate');
  const addon = cudaAddon();
  callRerotate((k, numKvHeads, headDim, rotaryDim, layout, fromPositions, fromOffset, toPositions, toOffset,
    fromInvFreq, fromFactor, toInvFreq, toFactor, out) => addon.ropeRerotate(
    handleOf(k, 'k'), numKvHeads, headDim, rotaryDim, layout, optionalHandleOf(fromPositions, 'fromPositions'),
    fromOffset, optionalHandleOf(toPositions, 'toPositions'), toOffset, fromInvFreq, fromFactor, toInvFreq, toFactor,
    optionalHandleOf(out, 'out')), o as unknown as RopeRerotateOptions, 'cuda.ropeRerotate');
  return o.out ?? o.k;
}
