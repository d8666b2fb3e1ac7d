// VQ-Logits on the GPU: a VqMap copied to the device once (DeviceVqMap), then the CPU ops'
// options over DeviceArrays. The O(K) reductions equal the CPU's within float64 rounding;
// vqTopK sorts each row's codes, then only the tokens of the codes that can be among the k
// best (the CPU's ids: descending logit, ties by token id, NaN last); vqSample uses the CPU's Philox stream and sequential float64 CDF, so the
// same seed draws the same tokens. codebookAssign and the product quantizer: quantizer.ts.
import { type VqMap, vqMapArrays } from '../codebook';
import { describe, requireOptions } from '../options';
import { cudaAddon } from './addon';
import { DeviceArray, handleOf, withOutput, withFreshOutputs, disposeSymbol } from './device-array';


/** A VqMap's arrays on the device (token -> code, counts, ln counts, the inverse CSR). */
export class DeviceVqMap {
  readonly numTokens: number;
  readonly numCodes: number;
  /** @internal */
  readonly parts: readonly DeviceArray[];

  private constructor(numTokens: number, numCodes: number, parts: DeviceArray[]) {
    this.numTokens = numTokens;
    this.numCodes = numCodes;
    this.parts = parts;
  }

  static fromHost(map: VqMap, options: { device?: number } = {}): DeviceVqMap {
    const a = vqMapArrays(map);  // a TypeError for anything but a VqMap
    const parts: DeviceArray[] = [];
    try {
      for (const array of [a.tokenToCode, a.counts, a.logCounts, a.codeOffsets, a.codeTokens]) {
        parts.push(DeviceArray.fromHost(array, options));
      }
    } catch (e) {
      parts.forEach((p) => p.dispose());
      throw e;
    }
    return new DeviceVqMap(map.numTokens, map.numCodes, parts);
  }

  dispose(): void {
    this.parts.forEach((p) => p.dispose());
  }

  [disposeSymbol](): void {
    this.dispose();
  }
}

export interface CudaVqOptions {
  /** rows x K code logits. */
  codeLogits: DeviceArray<'float32'>;
  map: DeviceVqMap;
}

function mapParts(map: unknown): unknown[] {
  if (!(map instanceof DeviceVqMap)) throw new TypeError(`map must be a DeviceVqMap, got ${describe(map)}`);
  return map.parts.map((p, i) => handleOf(p, `map part ${i}`));
}

function rowsOf(o: CudaVqOptions): number {
  return o.codeLogits instanceof DeviceArray && o.map instanceof DeviceVqMap && o.map.numCodes > 0
    ? o.codeLogits.length / o.map.numCodes : -1;
}

function fresh<E extends 'float32' | 'int32'>(dtype: E, n: number, device: number): DeviceArray<E> {
  return DeviceArray.empty(dtype, Number.isSafeInteger(n) && n >= 0 ? n : 0, { device });
}

/** The rows x V expansion out[b][t] = codeLogits[b][code(t)]. */
export function vqLogits(o: CudaVqOptions & { out?: DeviceArray<'float32'> }): DeviceArray<'float32'> {
  requireOptions(o, 'cuda.vqLogits');
  const addon = cudaAddon();
  const logits = handleOf(o.codeLogits, 'codeLogits');
  const parts = mapParts(o.map);
  return withOutput(o.out, rowsOf(o) * o.map.numTokens, o.codeLogits.device, (out) => addon.vqLogits(logits, parts, out.handle));
}

function rowsOp(o: CudaVqOptions, op: string, perRow: number): DeviceArray<'float32'> {
  requireOptions(o, op);
  const addon = cudaAddon();
  const logits = handleOf(o.codeLogits, 'codeLogits');
  const parts = mapParts(o.map);
  const out = fresh('float32', rowsOf(o) * perRow, o.codeLogits.device);
  try {
    addon.vqRows(logits, parts, perRow === 1 ? out.handle : undefined, perRow === 1 ? undefined : out.handle);
  } catch (e) {
    out.dispose();
    throw e;
  }
  return out;
}

/** log Z per row over all V tokens, in O(K). */
export function vqLogSumExp(o: CudaVqOptions): DeviceArray<'float32'> {
  return rowsOp(o, 'cuda.vqLogSumExp', 1);
}

/** rows x K: L_j - log Z, the log-probability of each code's tokens. */
export function vqLogSoftmax(o: CudaVqOptions): DeviceArray<'float32'> {
  requireOptions(o, 'cuda.vqLogSoftmax');
  return rowsOp(o, 'cuda.vqLogSoftmax', o.map instanceof DeviceVqMap ? o.map.numCodes : -1);
}

/** Per row the cross-entropy of the target token and its gradient with respect to the code logits. */
export function vqCrossEntropy(o: CudaVqOptions & { targets: DeviceArray<'int32' | 'uint32' | 'int64'> }):
  { loss: DeviceArray<'float32'>; grad: DeviceArray<'float32'> } {
  requireOptions(o, 'cuda.vqCrossEntropy');
  const addon = cudaAddon();
  const logits = handleOf(o.codeLogits, 'codeLogits');
  const parts = mapParts(o.map);
  const targets = handleOf(o.targets, 'targets');
  const rows = rowsOf(o);
  const loss = fresh('float32', rows, o.codeLogits.device);
  const grad = fresh('float32', rows * o.map.numCodes, o.codeLogits.device);
  try {
    addon.vqRows(logits, parts, undefined, undefined, targets, loss.handle, grad.handle);
  } catch (e) {
    loss.dispose();
    grad.dispose();
    throw e;
  }
  return { loss, grad };
}

/**
 * The k most likely tokens of each row (ids rows x k, most likely first, ties in ascending
 * token id, NaN logits last) and their log-probabilities L - log Z: the CPU's ids, and
 * log-probabilities within float64 rounding of log Z.
 */
export function vqTopK(o: CudaVqOptions & { k: number }): { ids: DeviceArray<'int32'>; logProbs: DeviceArray<'float32'> } {
  requireOptions(o, 'cuda.vqTopK');
  const addon = cudaAddon();
  const logits = handleOf(o.codeLogits, 'codeLogits');
  const parts = mapParts(o.map);
  const n = typeof o.k === 'number' ? rowsOf(o) * o.k : -1;
  const [ids, logProbs] = withFreshOutputs(o.codeLogits.device, [['int32', n], ['float32', n]],
    ([i, l]) => addon.vqTopK(logits, parts, o.k, i.handle, l.handle));
  return { ids: ids as DeviceArray<'int32'>, logProbs: logProbs as DeviceArray<'float32'> };
}

/** One token per row drawn from the softmax over V (the CPU's draw for the same seed). */
export function vqSample(o: CudaVqOptions & { seed: number | bigint; temperature?: number; out?: DeviceArray<'int32'> }):
  DeviceArray<'int32'> {
  requireOptions(o, 'cuda.vqSample');
  const addon = cudaAddon();
  const logits = handleOf(o.codeLogits, 'codeLogits');
  const parts = mapParts(o.map);
  if (o.out !== undefined && o.out !== null) {
    addon.vqSample(logits, parts, o.seed, o.temperature ?? 1, handleOf(o.out, 'out'));
    return o.out;
  }
  const out = fresh('int32', rowsOf(o), o.codeLogits.device);
  try {
    addon.vqSample(logits, parts, o.seed, o.temperature ?? 1, out.handle);
  } catch (e) {
    out.dispose();
    throw e;
  }
  return out;
}
