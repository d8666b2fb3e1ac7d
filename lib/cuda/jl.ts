// The JL family on the GPU: cuda.fwht (the CPU's butterflies in the CPU's level order) and
// the projections, whose random parts (signs, the SRHT sample, the FJLT / sparse matrices)
// the CPU addon draws from the seed exactly as its own ops do; they are copied to the device
// once per (op, sizes, seed, density) and cached. Outputs equal the CPU's bit for bit.
import {
  type FjltOptions, type FwhtOptions, type SparseProjectionOptions, type SrhtOptions, fjltDensity, fwhtArgs, sparseDensity,
} from '../jl';
import { native } from '../native';
import { requireOptions } from '../options';
import { cudaAddon } from './addon';
import { DeviceArray, handleOf, withOutput } from './device-array';

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

// ---- projections ----------------------------------------------------------------------------

export interface CudaSrhtOptions extends Omit<SrhtOptions, 'x' | 'out'> {
  x: DeviceArray<'float32'>;
  out?: DeviceArray<'float32'>;
}
export interface CudaFjltOptions extends Omit<FjltOptions, 'x' | 'out'> {
  x: DeviceArray<'float32'>;
  out?: DeviceArray<'float32'>;
}
export interface CudaSparseProjectionOptions extends Omit<SparseProjectionOptions, 'x' | 'out'> {
  x: DeviceArray<'float32'>;
  out?: DeviceArray<'float32'>;
}

const SRHT = 0;
const FJLT = 1;
const SPARSE = 2;

interface DeviceParts {
  signs?: DeviceArray;
  sample?: DeviceArray;
  rowPtr?: DeviceArray;
  colIdx?: DeviceArray;
  values?: DeviceArray;
}

// The random parts of the last few projections, on the device: a model projects batch after
// batch with one seed, and the parts depend on nothing else.
const partsCache = new Map<string, DeviceParts>();
const PARTS_CACHE_SIZE = 8;

function partsFor(op: number, inDim: unknown, outDim: unknown, seed: unknown, density: unknown, device: number): DeviceParts {
  const key = `${op}|${String(inDim)}|${String(outDim)}|${typeof seed}:${String(seed)}|${String(density)}|${device}`;
  const cached = partsCache.get(key);
  if (cached !== undefined) {
    partsCache.delete(key);  // most recently used last
    partsCache.set(key, cached);
    return cached;
  }
  const host = native().jlParts(op, inDim, outDim, seed, density);  // the CPU ops' own draw; validates
  const parts: DeviceParts = {};
  for (const name of ['signs', 'sample', 'rowPtr', 'colIdx', 'values'] as const) {
    const a = host[name];
    if (a !== undefined) parts[name] = DeviceArray.fromHost(a, { device });
  }
  partsCache.set(key, parts);
  if (partsCache.size > PARTS_CACHE_SIZE) {
    const [oldest, evicted] = partsCache.entries().next().value as [string, DeviceParts];
    partsCache.delete(oldest);
    for (const a of Object.values(evicted)) (a as DeviceArray).dispose();  // stream-ordered: queued ops finish first
  }
  return parts;
}

function project(op: number, o: CudaSrhtOptions | CudaFjltOptions | CudaSparseProjectionOptions,
  density: unknown): DeviceArray<'float32'> {
  const addon = cudaAddon();
  const x = handleOf(o.x, 'x');
  const parts = partsFor(op, o.inDim, o.outDim, o.seed, density, o.x.device);
  const rows = typeof o.inDim === 'number' && o.inDim >= 1 ? o.x.length / o.inDim : NaN;
  return withOutput(o.out, Number.isInteger(rows) ? rows * o.outDim : -1, o.x.device,
    (out) => addon.project(op, x, o.inDim, o.outDim, parts.signs?.handle, parts.sample?.handle, parts.rowPtr?.handle,
      parts.colIdx?.handle, parts.values?.handle, out.handle));
}

/** srht on the GPU: the same seed gives the CPU's projection, bit for bit. */
export function srht(o: CudaSrhtOptions): DeviceArray<'float32'> {
  requireOptions(o, 'cuda.srht');
  return project(SRHT, o, undefined);
}

/** fjlt on the GPU: the same seed gives the CPU's projection, bit for bit. */
export function fjlt(o: CudaFjltOptions): DeviceArray<'float32'> {
  requireOptions(o, 'cuda.fjlt');
  const density = o.density === undefined || o.density === null
    ? (typeof o.inDim === 'number' && o.inDim >= 1 ? fjltDensity(o.inDim) : NaN)
    : o.density;
  return project(FJLT, o, density);
}

/** sparseProjection on the GPU: the same seed gives the CPU's projection, bit for bit. */
export function sparseProjection(o: CudaSparseProjectionOptions): DeviceArray<'float32'> {
  requireOptions(o, 'cuda.sparseProjection');
  return project(SPARSE, o, sparseDensity(o.density, o.inDim));
}
