// The codebook family: VQ-Logits (an LLM output layer of K code logits standing for V tokens
// through a fixed token -> code map) and codebook / product quantization (FAISS-style PQ).
//
// The VQ operations never expand to V unless asked (vqLogits): the log-partition, log-softmax,
// cross-entropy, top-k and sampling all work in O(K) per row from the per-code token counts
// n_j, using log Z = logsumexp_j(L_j + ln n_j). Outputs are allocated here and handed to the
// binding, which validates everything before writing anything.
import { boundsArgs } from './gather';
import { adviseFresh } from './memory';
import { native } from './native';
import { describe, enumCode, lengthOf, requireOptions, startAsync, type IndexArray } from './options';
import type { Seed } from './jl';

// ---- the map ------------------------------------------------------------------------------

export interface VqMapOptions {
  /** The code of every token: V values in [0, numCodes). Copied; later changes do not matter. */
  tokenToCode: Int32Array;
  /** K, the number of codes (codes without tokens are allowed: they stand for nothing). */
  numCodes: number;
}

export interface MapArrays {
  tokenToCode: Int32Array;
  counts: Int32Array;
  logCounts: Float64Array;
  codeOffsets: Int32Array;
  codeTokens: Int32Array;
}

// The validated arrays of each map, out of the caller's reach: the kernels trust them.
const mapArrays = new WeakMap<VqMap, MapArrays>();

function allocate<T>(make: (n: number) => T, n: number, what: string): T | undefined {
  if (!Number.isSafeInteger(n) || n < 0) return undefined;
  try {
    return make(n);
  } catch {
    throw new RangeError(`cannot allocate ${what} (${n} elements)`);
  }
}

/**
 * A token -> code map, validated once, with its inverse: per-code token counts and the
 * tokens of each code in ascending id (CSR: `codeOffsets`, `codeTokens`), built in C++ by a
 * counting sort. Immutable: it keeps private copies, and its accessors return copies.
 */
export class VqMap {
  readonly numTokens: number;
  readonly numCodes: number;

  constructor(options: VqMapOptions) {
    requireOptions(options, 'VqMap');
    const { tokenToCode, numCodes } = options;
    if (!(tokenToCode instanceof Int32Array)) throw new TypeError(`tokenToCode must be an Int32Array, got ${describe(tokenToCode)}`);
    if (typeof numCodes !== 'number') throw new TypeError(`numCodes must be a number, got ${describe(numCodes)}`);
    const v = tokenToCode.length;
    const k = Number.isSafeInteger(numCodes) && numCodes >= 1 && numCodes < 2 ** 31 - 1 ? numCodes : 0;
    const own = tokenToCode.slice();
    const a: MapArrays = {
      tokenToCode: own,
      counts: new Int32Array(k),
      logCounts: new Float64Array(k),
      codeOffsets: new Int32Array(k + 1),
      codeTokens: new Int32Array(v),
    };
    native().vqMapBuild(own, numCodes, a.counts, a.logCounts, a.codeOffsets, a.codeTokens);
    this.numTokens = v;
    this.numCodes = numCodes;
    mapArrays.set(this, a);
  }

  /** The code of every token (a copy). */
  tokenToCode(): Int32Array {
    return arraysOf(this).tokenToCode.slice();
  }

  /** n_j, the number of tokens of each code (a copy). */
  counts(): Int32Array {
    return arraysOf(this).counts.slice();
  }

  /** The CSR row pointers of the inverse map: code j's tokens are codeTokens[codeOffsets[j] .. codeOffsets[j + 1]). */
  codeOffsets(): Int32Array {
    return arraysOf(this).codeOffsets.slice();
  }

  /** Every token, grouped by code, ascending within a code (a copy). */
  codeTokens(): Int32Array {
    return arraysOf(this).codeTokens.slice();
  }

  /** The tokens of code j, ascending (a copy). */
  tokensOf(code: number): Int32Array {
    const a = arraysOf(this);
    if (!Number.isInteger(code) || code < 0 || code >= this.numCodes) {
      throw new RangeError(`code must be an integer from 0 to ${this.numCodes - 1}, got ${String(code)}`);
    }
    return a.codeTokens.slice(a.codeOffsets[code], a.codeOffsets[code + 1]);
  }
}

/** @internal The map's own arrays (not copies), for lib/cuda to put on the device. */
export function vqMapArrays(map: VqMap): Readonly<MapArrays> {
  return arraysOf(map);
}

function arraysOf(map: unknown): MapArrays {
  const a = map instanceof VqMap ? mapArrays.get(map) : undefined;
  if (a === undefined) throw new TypeError(`map must be a VqMap, got ${describe(map)}`);
  return a;
}

export function makeVqMap(options: VqMapOptions): VqMap {
  return new VqMap(options);
}

// ---- the VQ operations ----------------------------------------------------------------------

export interface VqOptions {
  /** rows x K code logits (row-major). */
  codeLogits: Float32Array;
  map: VqMap;
}

export interface VqLogitsOptions extends VqOptions {
  /** rows x V floats; a fresh array when omitted. Must not overlap codeLogits. */
  out?: Float32Array;
}

export interface VqCrossEntropyOptions extends VqOptions {
  /** One target token id per row, in [0, V). */
  targets: IndexArray;
}

export interface VqTopKOptions extends VqOptions {
  /** Tokens per row, 1 <= k <= V. */
  k: number;
}

export interface VqSampleOptions extends VqOptions {
  seed: Seed;
  /** > 0; the logits are divided by it. Default 1. */
  temperature?: number;
}

export interface VqCrossEntropyResult {
  /** Per row: log Z - L[code(target)], the negative log-likelihood of the target token. */
  loss: Float32Array;
  /** rows x K: d loss[b] / d codeLogits[b][j] = n_j exp(L_j - log Z) - [j == code(target)]. */
  grad: Float32Array;
}

export interface VqTopKResult {
  /** rows x k token ids, most likely first (ties in ascending token id). */
  ids: Int32Array;
  /** rows x k log-probabilities over the V tokens. */
  logProbs: Float32Array;
}

function vqRows(o: VqOptions, a: MapArrays): number {
  const rows = lengthOf(o.codeLogits) / a.counts.length;
  return Number.isInteger(rows) ? rows : -1;
}

function mapArgs(a: MapArrays): unknown[] {
  return [a.tokenToCode, a.counts, a.logCounts, a.codeOffsets, a.codeTokens];
}

function vqArgs(o: VqOptions, op: string): { a: MapArrays; rows: number; head: unknown[] } {
  requireOptions(o, op);
  const a = arraysOf(o.map);
  return { a, rows: vqRows(o, a), head: [o.codeLogits, ...mapArgs(a)] };
}

const f32 = (n: number) => adviseFresh(new Float32Array(n));
const i32 = (n: number) => new Int32Array(n);

function logitsArgs(o: VqLogitsOptions, op: string): unknown[] {
  const { a, rows, head } = vqArgs(o, op);
  const out = o.out ?? allocate(f32, rows * a.tokenToCode.length, 'the rows x V logits');
  return [...head, out];
}

/**
 * The B x V expansion: out[b][t] = codeLogits[b][code(t)]. For callers that need full logits;
 * everything below works without it.
 */
export function vqLogits(options: VqLogitsOptions): Float32Array {
  return native().vqLogits(...logitsArgs(options, 'vqLogits'));
}

export function vqLogitsAsync(options: VqLogitsOptions): Promise<Float32Array> {
  return startAsync(options, 'vqLogitsAsync', () => native().vqLogitsAsync(...logitsArgs(options, 'vqLogitsAsync')));
}

function perRowArgs(o: VqOptions, op: string, perRow: 'one' | 'codes'): unknown[] {
  const { a, rows, head } = vqArgs(o, op);
  return [...head, allocate(f32, perRow === 'one' ? rows : rows * a.counts.length, 'the output')];
}

/**
 * log Z per row, the log-partition over all V tokens: logsumexp_j(L_j + ln n_j) over the codes
 * with tokens, in float64, O(K). -Infinity when every such code is -Infinity; NaN when one is
 * NaN (NaN propagates).
 */
export function vqLogSumExp(options: VqOptions): Float32Array {
  return native().vqLogSumExp(...perRowArgs(options, 'vqLogSumExp', 'one'));
}

export function vqLogSumExpAsync(options: VqOptions): Promise<Float32Array> {
  return startAsync(options, 'vqLogSumExpAsync', () => native().vqLogSumExpAsync(...perRowArgs(options, 'vqLogSumExpAsync', 'one')));
}

/**
 * log_softmax over the V tokens in its O(K) form: rows x K values L_j - log Z, the
 * log-probability of every token of code j (token t's is out[b][code(t)]).
 */
export function vqLogSoftmax(options: VqOptions): Float32Array {
  return native().vqLogSoftmax(...perRowArgs(options, 'vqLogSoftmax', 'codes'));
}

export function vqLogSoftmaxAsync(options: VqOptions): Promise<Float32Array> {
  return startAsync(options, 'vqLogSoftmaxAsync', () => native().vqLogSoftmaxAsync(...perRowArgs(options, 'vqLogSoftmaxAsync', 'codes')));
}

function crossEntropyArgs(o: VqCrossEntropyOptions, op: string): unknown[] {
  const { a, rows, head } = vqArgs(o, op);
  return [...head, o.targets, allocate(f32, rows, 'the loss'), allocate(f32, rows * a.counts.length, 'the gradient')];
}

/** Cross-entropy of each row against its target token, and its gradient w.r.t. the code logits; O(K) per row. */
export function vqCrossEntropy(options: VqCrossEntropyOptions): VqCrossEntropyResult {
  return native().vqCrossEntropy(...crossEntropyArgs(options, 'vqCrossEntropy'));
}

export function vqCrossEntropyAsync(options: VqCrossEntropyOptions): Promise<VqCrossEntropyResult> {
  return startAsync(options, 'vqCrossEntropyAsync', () => native().vqCrossEntropyAsync(...crossEntropyArgs(options, 'vqCrossEntropyAsync')));
}

function topKArgs(o: VqTopKOptions, op: string): unknown[] {
  const { rows, head } = vqArgs(o, op);
  const n = typeof o.k === 'number' ? rows * o.k : -1;
  return [...head, o.k, allocate(i32, n, 'the ids'), allocate(f32, n, 'the log-probabilities')];
}

/**
 * The k most likely tokens of each row without expanding to V: codes ranked by logit (NaN
 * last), each contributing its tokens, ties (within a code and across codes of equal logit)
 * in ascending token id.
 */
export function vqTopK(options: VqTopKOptions): VqTopKResult {
  return native().vqTopK(...topKArgs(options, 'vqTopK'));
}

export function vqTopKAsync(options: VqTopKOptions): Promise<VqTopKResult> {
  return startAsync(options, 'vqTopKAsync', () => native().vqTopKAsync(...topKArgs(options, 'vqTopKAsync')));
}

function sampleArgs(o: VqSampleOptions, op: string): unknown[] {
  const { rows, head } = vqArgs(o, op);
  const temperature = o.temperature === undefined || o.temperature === null ? 1 : o.temperature;
  return [...head, o.seed, temperature, allocate(i32, rows, 'the samples')];
}

/**
 * One token per row drawn exactly from softmax(logits / temperature) over the V tokens: a
 * code with weight n_j exp(L_j / T), then one of its tokens uniformly. Reproducible from the
 * seed for any thread count (Philox stream 5, row b = block b; csrc/kernels/common/philox.h).
 * A row with no finite logit (all -Infinity, or a NaN) gives -1.
 */
export function vqSample(options: VqSampleOptions): Int32Array {
  return native().vqSample(...sampleArgs(options, 'vqSample'));
}

export function vqSampleAsync(options: VqSampleOptions): Promise<Int32Array> {
  return startAsync(options, 'vqSampleAsync', () => native().vqSampleAsync(...sampleArgs(options, 'vqSampleAsync')));
}

// ---- codebooks ------------------------------------------------------------------------------

/** 'l2': squared Euclidean distance, smallest wins; 'ip': inner product, largest wins. */
export type Metric = 'l2' | 'ip';
const METRICS: readonly Metric[] = ['l2', 'ip'];

function metricCode(m: unknown): number {
  return enumCode(m === undefined ? 'l2' : m, METRICS, 'metric');
}

export interface CodebookAssignOptions {
  /** rows x dim vectors. */
  x: Float32Array;
  dim: number;
  /** numCodes x dim codewords. */
  codebook: Float32Array;
  numCodes: number;
  /** Default 'l2'. */
  metric?: Metric;
}

export interface CodebookAssignResult {
  /** The chosen code per row (lowest index on ties). */
  codes: Int32Array;
  /** ||x - c||² (l2, recomputed in float64 from the difference) or x·c (ip) of the chosen code. */
  distances: Float32Array;
}

function assignArgs(o: CodebookAssignOptions, op: string): unknown[] {
  requireOptions(o, op);
  const rows = typeof o.dim === 'number' ? lengthOf(o.x) / o.dim : -1;
  return [o.x, o.dim, o.codebook, o.numCodes, metricCode(o.metric), allocate(i32, rows, 'the codes'), allocate(f32, rows, 'the distances')];
}

/** The nearest codeword of every row (blocked SIMD scores that reuse the codeword norms). */
export function codebookAssign(options: CodebookAssignOptions): CodebookAssignResult {
  return native().codebookAssign(...assignArgs(options, 'codebookAssign'));
}

export function codebookAssignAsync(options: CodebookAssignOptions): Promise<CodebookAssignResult> {
  return startAsync(options, 'codebookAssignAsync', () => native().codebookAssignAsync(...assignArgs(options, 'codebookAssignAsync')));
}

// ---- product quantization --------------------------------------------------------------------

/**
 * A product quantizer: vectors of `dim` floats cut into `m` subvectors of dim / m, each
 * stored as one code of `bits` bits (<= 8) into its own codebook. `codebooks` holds
 * m x 2^bits x (dim / m) floats (FAISS ProductQuantizer's centroids layout).
 */
export interface ProductQuantizer {
  dim: number;
  m: number;
  bits: number;
  codebooks: Float32Array;
}

export interface PqTrainOptions {
  /** n x dim training vectors, n >= 2^bits. */
  x: Float32Array;
  dim: number;
  /** Subspaces; must divide dim. */
  m: number;
  /** Bits per code, 1 to 8. Default 8. */
  bits?: number;
  /** Lloyd iterations, 0 to 1000. Default 25. */
  iterations?: number;
  /** Picks the initial centroids (distinct rows). Default 0. */
  seed?: Seed;
}

function pqOf(pq: unknown): ProductQuantizer {
  if (pq === null || typeof pq !== 'object') throw new TypeError(`pq must be a ProductQuantizer { dim, m, bits, codebooks }, got ${describe(pq)}`);
  return pq as ProductQuantizer;
}

function pqArgs(pq: ProductQuantizer): unknown[] {
  return [pq.dim, pq.m, pq.bits, pq.codebooks];
}

function trainArgs(o: PqTrainOptions, op: string): { args: unknown[]; bits: unknown } {
  requireOptions(o, op);
  const bits = o.bits ?? 8;
  const size = typeof bits === 'number' && Number.isInteger(bits) && bits >= 1 && bits <= 8 && typeof o.dim === 'number' ? 2 ** bits * o.dim : -1;
  return { args: [o.x, o.dim, o.m, bits, o.iterations ?? 25, o.seed ?? 0, allocate(f32, size, 'the codebooks')], bits };
}

/**
 * k-means per subspace (FAISS-style PQ training): initial centroids are 2^bits distinct rows
 * picked from the seed (Philox stream 6), then `iterations` Lloyd steps with float64 means
 * summed in row order; a centroid that loses all its rows stays where it is. Deterministic
 * for a seed, on any thread count (assignment may differ between ISAs where two centroids tie
 * within float32 rounding).
 */
export function pqTrain(options: PqTrainOptions): ProductQuantizer {
  const { args, bits } = trainArgs(options, 'pqTrain');
  const codebooks = native().pqTrain(...args);
  return { dim: options.dim, m: options.m, bits: bits as number, codebooks };
}

export function pqTrainAsync(options: PqTrainOptions): Promise<ProductQuantizer> {
  return startAsync(options, 'pqTrainAsync', async () => {
    const { args, bits } = trainArgs(options, 'pqTrainAsync');
    const codebooks = await native().pqTrainAsync(...args);
    return { dim: options.dim, m: options.m, bits: bits as number, codebooks };
  });
}

export interface PqEncodeOptions {
  /** n x pq.dim vectors. */
  x: Float32Array;
  pq: ProductQuantizer;
}

function encodeArgs(o: PqEncodeOptions, op: string): unknown[] {
  requireOptions(o, op);
  const pq = pqOf(o.pq);
  const n = typeof pq.dim === 'number' ? (lengthOf(o.x) / pq.dim) * pq.m : -1;
  return [o.x, ...pqArgs(pq), allocate((k) => new Uint8Array(k), n, 'the codes')];
}

/** n x m codes (a Uint8Array): the nearest sub-codeword (l2) of every subvector. */
export function pqEncode(options: PqEncodeOptions): Uint8Array {
  return native().pqEncode(...encodeArgs(options, 'pqEncode'));
}

export function pqEncodeAsync(options: PqEncodeOptions): Promise<Uint8Array> {
  return startAsync(options, 'pqEncodeAsync', () => native().pqEncodeAsync(...encodeArgs(options, 'pqEncodeAsync')));
}

export interface PqDecodeOptions {
  /** n x m codes, each below 2^bits. */
  codes: Uint8Array;
  pq: ProductQuantizer;
  out?: Float32Array;
}

function decodeArgs(o: PqDecodeOptions, op: string): unknown[] {
  requireOptions(o, op);
  const pq = pqOf(o.pq);
  const n = typeof pq.m === 'number' && typeof pq.dim === 'number' ? (lengthOf(o.codes) / pq.m) * pq.dim : -1;
  return [o.codes, ...pqArgs(pq), o.out ?? allocate(f32, n, 'the vectors')];
}

/** n x dim vectors: the concatenated sub-codewords of each code row. */
export function pqDecode(options: PqDecodeOptions): Float32Array {
  return native().pqDecode(...decodeArgs(options, 'pqDecode'));
}

export function pqDecodeAsync(options: PqDecodeOptions): Promise<Float32Array> {
  return startAsync(options, 'pqDecodeAsync', () => native().pqDecodeAsync(...decodeArgs(options, 'pqDecodeAsync')));
}

export interface PqDistanceTableOptions {
  /** nq x pq.dim query vectors. */
  queries: Float32Array;
  pq: ProductQuantizer;
  /** Default 'l2'. */
  metric?: Metric;
  /** Destination of the nq x m x 2^bits tables (for searches that reuse one); fresh when omitted. */
  out?: Float32Array;
}

function tableArgs(o: PqDistanceTableOptions, op: string): unknown[] {
  requireOptions(o, op);
  const pq = pqOf(o.pq);
  const ok = typeof pq.dim === 'number' && typeof pq.m === 'number' && typeof pq.bits === 'number';
  const n = ok ? (lengthOf(o.queries) / pq.dim) * pq.m * 2 ** pq.bits : -1;
  return [o.queries, ...pqArgs(pq), metricCode(o.metric), o.out ?? allocate(f32, n, 'the tables')];
}

/**
 * nq x m x 2^bits: ||q_s - c||² (l2) or q_s·c (ip) for every query, subspace s and code c,
 * summed in float64 over the coordinates in order and rounded once (the same bits on every
 * ISA and on the GPU). A coded vector's asymmetric distance is the sum over s of
 * table[s][code_s].
 */
export function pqDistanceTable(options: PqDistanceTableOptions): Float32Array {
  return native().pqDistanceTable(...tableArgs(options, 'pqDistanceTable'));
}

export function pqDistanceTableAsync(options: PqDistanceTableOptions): Promise<Float32Array> {
  return startAsync(options, 'pqDistanceTableAsync', () => native().pqDistanceTableAsync(...tableArgs(options, 'pqDistanceTableAsync')));
}

export interface PqScanOptions {
  /** Query vectors (nq x pq.dim); or give `tables` from {@link pqDistanceTable}. */
  queries?: Float32Array;
  tables?: Float32Array;
  /** n x m codes of the database vectors. */
  codes: Uint8Array;
  pq: ProductQuantizer;
  /** Results per query, 1 <= k <= n. */
  k: number;
  /** Default 'l2' (smallest first); 'ip' ranks the largest first. */
  metric?: Metric;
}

export interface PqScanResult {
  /** nq x k vector ids, best first; ties by lowest id. */
  ids: Int32Array;
  /** nq x k asymmetric distances (l2) or inner products (ip). */
  distances: Float32Array;
}

function scanArgs(o: PqScanOptions, tables: unknown): unknown[] {
  const pq = pqOf(o.pq);
  const perQuery = typeof pq.m === 'number' && typeof pq.bits === 'number' ? pq.m * 2 ** pq.bits : NaN;
  const n = typeof o.k === 'number' ? (lengthOf(tables) / perQuery) * o.k : -1;
  return [tables, o.codes, ...pqArgs(pq), metricCode(o.metric), o.k, allocate(i32, n, 'the ids'), allocate(f32, n, 'the distances')];
}

function scanTablesGiven(o: PqScanOptions, op: string): boolean {
  requireOptions(o, op);
  const hasQueries = o.queries !== undefined && o.queries !== null;
  const hasTables = o.tables !== undefined && o.tables !== null;
  if (hasQueries === hasTables) throw new TypeError(`${op} needs exactly one of queries and tables`);
  return hasTables;
}

/**
 * Asymmetric distance computation: per query, the sum over subspaces of its distance table at
 * each coded vector's codes (float32, subspaces in order), and the k best vectors (a heap per
 * chunk of vectors, merged; ties by lowest id, NaN last), best first.
 */
export function pqScan(options: PqScanOptions): PqScanResult {
  const tables = scanTablesGiven(options, 'pqScan')
    ? options.tables
    : pqDistanceTable({ queries: options.queries as Float32Array, pq: options.pq, metric: options.metric });
  return native().pqScan(...scanArgs(options, tables));
}

export function pqScanAsync(options: PqScanOptions): Promise<PqScanResult> {
  return startAsync(options, 'pqScanAsync', async () => {
    const tables = scanTablesGiven(options, 'pqScanAsync')
      ? options.tables
      : await pqDistanceTableAsync({ queries: options.queries as Float32Array, pq: options.pq, metric: options.metric });
    return native().pqScanAsync(...scanArgs(options, tables));
  });
}

export type PqBagMode = 'sum' | 'mean';
const PQ_BAG_MODES: readonly PqBagMode[] = ['sum', 'mean'];

export interface PqEmbeddingBagOptions {
  /** The PQ-coded table: rows x m codes. */
  codes: Uint8Array;
  pq: ProductQuantizer;
  indices: IndexArray;
  offsets?: IndexArray;
  lengths?: IndexArray;
  includeLastOffset?: boolean;
  /** 'sum' or 'mean'. Max does not decompose per subspace: decode the rows and use embeddingBag. */
  mode: PqBagMode;
  /** One weight per index. */
  weights?: Float32Array;
  out?: Float32Array;
}

function bagArgs(o: PqEmbeddingBagOptions, op: string): unknown[] {
  requireOptions(o, op);
  if ((o.mode as string) === 'max') {
    throw new TypeError(`${op}: mode 'max' cannot be pooled per subspace; pqDecode the rows and use embeddingBag`);
  }
  const mode = enumCode(o.mode, PQ_BAG_MODES, 'mode');
  const pq = pqOf(o.pq);
  const { kind, bounds, bags } = boundsArgs(o, op);
  const n = typeof pq.dim === 'number' ? bags * pq.dim : -1;
  return [o.codes, ...pqArgs(pq), o.indices, bounds, kind, mode, o.weights, o.out ?? allocate(f32, n, 'the bags')];
}

/**
 * embedding_bag (sum / mean, per-sample weights) over a PQ-coded table without decoding its
 * rows: per bag and subspace, the weights of each code are summed (float64), then multiplied
 * into that code's sub-codeword once. Equals embeddingBag over pqDecode'd rows (to float64
 * rounding). Empty bags give zeros.
 */
export function pqEmbeddingBag(options: PqEmbeddingBagOptions): Float32Array {
  return native().pqEmbeddingBag(...bagArgs(options, 'pqEmbeddingBag'));
}

export function pqEmbeddingBagAsync(options: PqEmbeddingBagOptions): Promise<Float32Array> {
  return startAsync(options, 'pqEmbeddingBagAsync', () => native().pqEmbeddingBagAsync(...bagArgs(options, 'pqEmbeddingBagAsync')));
}
