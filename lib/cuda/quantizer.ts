// cuda.codebookAssign and the product quantizer on the GPU, with the CPU ops' options over
// DeviceArrays. The nearest-code kernel computes each score with the CPU SIMD kernels' own
// float32 operations (one fma chain per code, fma(-2, dot, ||c||²) for l2), so codes equal
// the CPU's AVX2 / AVX-512 / NEON results and distances (float64 from the chosen code) equal
// too; pqScan keeps the CPU's order (score, then lower id, NaN last): the same ids.
import type { Metric } from '../codebook';
import { describe, enumCode, requireOptions } from '../options';
import { cudaAddon } from './addon';
import { DeviceArray, handleOf, withFreshOutputs, withOutput } from './device-array';

const METRICS: readonly Metric[] = ['l2', 'ip'];

function metricCode(m: unknown): number {
  return enumCode(m === undefined ? 'l2' : m, METRICS, 'metric');
}

export interface CudaCodebookAssignOptions {
  /** rows x dim vectors. */
  x: DeviceArray<'float32'>;
  dim: number;
  /** numCodes x dim codewords. */
  codebook: DeviceArray<'float32'>;
  numCodes: number;
  /** Default 'l2'. */
  metric?: Metric;
}

/** The nearest codeword of every row: codes (lowest index on ties) and their distances. */
export function codebookAssign(o: CudaCodebookAssignOptions):
  { codes: DeviceArray<'int32'>; distances: DeviceArray<'float32'> } {
  requireOptions(o, 'cuda.codebookAssign');
  const addon = cudaAddon();
  const x = handleOf(o.x, 'x');
  const codebook = handleOf(o.codebook, 'codebook');
  const metric = metricCode(o.metric);
  const rows = typeof o.dim === 'number' ? o.x.length / o.dim : -1;
  const [codes, distances] = withFreshOutputs(o.x.device, [['int32', rows], ['float32', rows]],
    ([c, d]) => addon.codebookAssign(x, o.dim, codebook, o.numCodes, metric, c.handle, d.handle));
  return { codes: codes as DeviceArray<'int32'>, distances: distances as DeviceArray<'float32'> };
}

/** A product quantizer whose codebooks (m x 2^bits x dim/m floats) are on the device. */
export interface DeviceProductQuantizer {
  dim: number;
  m: number;
  bits: number;
  codebooks: DeviceArray<'float32'>;
}

function pqArgs(pq: unknown): unknown[] {
  if (pq === null || typeof pq !== 'object') {
    throw new TypeError(`pq must be a DeviceProductQuantizer { dim, m, bits, codebooks }, got ${describe(pq)}`);
  }
  const p = pq as DeviceProductQuantizer;
  return [p.dim, p.m, p.bits, handleOf(p.codebooks, 'pq.codebooks')];
}

/** n x m codes (uint8): the nearest sub-codeword (l2) of every subvector. */
export function pqEncode(o: { x: DeviceArray<'float32'>; pq: DeviceProductQuantizer }): DeviceArray<'uint8'> {
  requireOptions(o, 'cuda.pqEncode');
  const addon = cudaAddon();
  const x = handleOf(o.x, 'x');
  const pq = pqArgs(o.pq);
  const n = typeof o.pq.dim === 'number' && typeof o.pq.m === 'number' ? (o.x.length / o.pq.dim) * o.pq.m : -1;
  const [codes] = withFreshOutputs(o.x.device, [['uint8', n]], ([c]) => addon.pqEncode(x, ...pq, c.handle));
  return codes as DeviceArray<'uint8'>;
}

/** n x dim vectors: the concatenated sub-codewords of each code row. */
export function pqDecode(o: { codes: DeviceArray<'uint8'>; pq: DeviceProductQuantizer; out?: DeviceArray<'float32'> }):
  DeviceArray<'float32'> {
  requireOptions(o, 'cuda.pqDecode');
  const addon = cudaAddon();
  const codes = handleOf(o.codes, 'codes');
  const pq = pqArgs(o.pq);
  const n = typeof o.pq.dim === 'number' && typeof o.pq.m === 'number' ? (o.codes.length / o.pq.m) * o.pq.dim : -1;
  return withOutput(o.out, n, o.codes.device, (v) => addon.pqDecode(codes, ...pq, v.handle));
}

/**
 * nq x m x 2^bits: ||q_s - c||² (l2) or q_s·c (ip), summed in float64; into `out` (a search
 * loop's tables, reused) when given.
 */
export function pqDistanceTable(o: {
  queries: DeviceArray<'float32'>; pq: DeviceProductQuantizer; metric?: Metric; out?: DeviceArray<'float32'>;
}): DeviceArray<'float32'> {
  requireOptions(o, 'cuda.pqDistanceTable');
  const addon = cudaAddon();
  const queries = handleOf(o.queries, 'queries');
  const pq = pqArgs(o.pq);
  const metric = metricCode(o.metric);
  const n = typeof o.pq.dim === 'number' && typeof o.pq.m === 'number' && typeof o.pq.bits === 'number'
    ? (o.queries.length / o.pq.dim) * o.pq.m * 2 ** o.pq.bits : -1;
  return withOutput(o.out, n, o.queries.device, (t) => addon.pqDistanceTable(queries, ...pq, metric, t.handle));
}

export interface CudaPqScanOptions {
  /** Query vectors (nq x pq.dim); or give `tables` from {@link pqDistanceTable}. */
  queries?: DeviceArray<'float32'>;
  tables?: DeviceArray<'float32'>;
  /** n x m codes of the database vectors. */
  codes: DeviceArray<'uint8'>;
  pq: DeviceProductQuantizer;
  /** Results per query, 1 <= k <= n. */
  k: number;
  /** Default 'l2' (smallest first); 'ip' ranks the largest first. */
  metric?: Metric;
}

/**
 * Per query the k best coded vectors, best first (ties by lowest id, NaN last): the CPU's
 * ids and distances. Ranked by a radix sort of every candidate (exact for any k).
 */
export function pqScan(o: CudaPqScanOptions): { ids: DeviceArray<'int32'>; distances: DeviceArray<'float32'> } {
  requireOptions(o, 'cuda.pqScan');
  const hasQueries = o.queries !== undefined && o.queries !== null;
  const hasTables = o.tables !== undefined && o.tables !== null;
  if (hasQueries === hasTables) throw new TypeError('cuda.pqScan needs exactly one of queries and tables');
  const addon = cudaAddon();
  const codes = handleOf(o.codes, 'codes');
  const pq = pqArgs(o.pq);
  const metric = metricCode(o.metric);
  const tables = hasTables ? o.tables as DeviceArray<'float32'>
    : pqDistanceTable({ queries: o.queries as DeviceArray<'float32'>, pq: o.pq, metric: o.metric });
  try {
    const perQuery = typeof o.pq.m === 'number' && typeof o.pq.bits === 'number' ? o.pq.m * 2 ** o.pq.bits : NaN;
    const n = typeof o.k === 'number' ? (tables.length / perQuery) * o.k : -1;
    const [ids, distances] = withFreshOutputs(tables.device, [['int32', n], ['float32', n]],
      ([i, d]) => addon.pqScan(handleOf(tables, 'tables'), codes, ...pq, metric, o.k, i.handle, d.handle));
    return { ids: ids as DeviceArray<'int32'>, distances: distances as DeviceArray<'float32'> };
  } finally {
    if (!hasTables) tables.dispose();  // stream-ordered: freed after the scan has read it
  }
}
