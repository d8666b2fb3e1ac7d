// Float64 references for compressed tables, written from the format definitions in the
// README (not from the native code): decoding of every format, the q8 / q4 quantization
// rule and its error bound, and embeddingBag over a pruned table (pruned ids skipped).
import type { EmbeddingTable } from '../lib/index';
import { bagRanges, toNumbers, type Mode, type RefBagOptions } from './reference';
import { refHashedRow } from './hashed-row.mjs';

export { refHashedRow };

/** IEEE binary16 bits to a number. */
export function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** bfloat16 bits to a number: the top half of a float32. */
export function bf16ToNumber(h: number): number {
  const f = new Float32Array(new Uint32Array([h << 16]).buffer);
  return f[0];
}

/** Element (row, col) of a stored table, in float64 (q8 / q4: code x scale + bias). */
export function refDecode(t: EmbeddingTable, row: number, col: number): number {
  switch (t.format) {
    case 'f32': return t.data[row * t.dim + col];
    case 'f16': return f16ToNumber(t.data[row * t.dim + col]);
    case 'bf16': return bf16ToNumber(t.data[row * t.dim + col]);
    case 'q8': return t.data[row * t.dim + col] * t.scales[row] + t.biases[row];
    case 'q4': {
      const byte = t.data[row * Math.ceil(t.dim / 2) + (col >> 1)];
      const code = col % 2 === 0 ? byte & 0x0f : byte >> 4;  // low nibble first
      return code * t.scales[row] + t.biases[row];
    }
  }
}

/** The whole table decoded, rounded to float32 (what every kernel accumulates). */
export function refDequantize(t: EmbeddingTable): Float32Array {
  const out = new Float32Array(t.rows * t.dim);
  for (let r = 0; r < t.rows; r++) for (let c = 0; c < t.dim; c++) out[r * t.dim + c] = refDecode(t, r, c);
  return out;
}

/**
 * The documented quantization error bound for element `x` of a row with minimum lo and
 * maximum hi: q8 / q4: step / 2 + 2^-22 max(|lo|, |hi|) with step = (hi - lo) / levels;
 * f16: half an ulp (relative 2^-11, absolute 2^-25 near zero); bf16: relative 2^-8.
 */
export function quantizationBound(format: EmbeddingTable['format'], x: number, lo: number, hi: number): number {
  switch (format) {
    case 'f32': return 0;
    case 'f16': return Math.abs(x) * 2 ** -11 + 2 ** -25;
    case 'bf16': return Math.abs(x) * 2 ** -8;
    case 'q8': return (hi - lo) / 255 / 2 * (1 + 2 ** -20) + 2 ** -22 * Math.max(Math.abs(lo), Math.abs(hi));
    case 'q4': return (hi - lo) / 15 / 2 * (1 + 2 ** -20) + 2 ** -22 * Math.max(Math.abs(lo), Math.abs(hi));
  }
}

/**
 * embeddingBag over a pruned table, as the equivalent problem over the compact table: an id
 * whose remap entry is -1 is dropped like padding (not counted by 'mean'); the others read
 * row remap[id] of `compact`. Feed it to refEmbeddingBag / expectBagClose.
 */
export function prunedBagProblem(
  o: RefBagOptions & { remap: Int32Array; compact: Float32Array },
): RefBagOptions {
  const ids = toNumbers(o.indices as never);
  const rows = o.remap.length;
  const padding = o.paddingIdx === undefined ? -1 : o.paddingIdx < 0 ? o.paddingIdx + rows : o.paddingIdx;
  const kept: number[] = [];
  const weights: number[] = [];
  const lengths: number[] = [];
  for (const [start, end] of bagRanges(o)) {
    let n = 0;
    for (let p = start; p < end; p++) {
      if (ids[p] === padding || o.remap[ids[p]] < 0) continue;
      kept.push(o.remap[ids[p]]);
      if (o.weights) weights.push(o.weights[p]);
      n++;
    }
    lengths.push(n);
  }
  return {
    table: o.compact,
    dim: o.dim,
    indices: kept,
    lengths,
    mode: o.mode as Mode,
    weights: o.weights ? Float32Array.from(weights) : undefined,
  };
}

/** A hashed bag problem as the equivalent plain one: ids hashed to rows, padding ids dropped. */
export function hashedBagProblem(
  o: Omit<RefBagOptions, 'indices'> & { indices: BigInt64Array; seed: number; rows: number },
): RefBagOptions {
  const rows: number[] = [];
  const weights: number[] = [];
  const lengths: number[] = [];
  for (const [start, end] of bagRanges(o as unknown as RefBagOptions)) {
    let n = 0;
    for (let p = start; p < end; p++) {
      if (o.paddingIdx !== undefined && o.indices[p] === BigInt(o.paddingIdx)) continue;
      rows.push(refHashedRow(o.indices[p], BigInt(o.seed), o.rows));
      if (o.weights) weights.push(o.weights[p]);
      n++;
    }
    lengths.push(n);
  }
  return { table: o.table, dim: o.dim, indices: rows, lengths, mode: o.mode, weights: o.weights ? Float32Array.from(weights) : undefined };
}

/**
 * A qrEmbeddingBag problem as the equivalent plain one, from the definition in the README: id
 * reads row floor(id / m) of `quotient` and row id mod m of `remainder` (m = remainder rows,
 * both tables given decoded), combined element-wise in float32 ('sum': q + r, 'mul': q x r;
 * one float32 rounding, as Math.fround of the exact float64 result) or side by side
 * ('concat', 2 dim columns). Each kept position gets its own row of the returned table; padding
 * ids (negative counts from the end of quotient rows x m) are dropped.
 */
export function qrBagProblem(
  o: Omit<RefBagOptions, 'table'> & { quotient: Float32Array; remainder: Float32Array; combine: 'sum' | 'mul' | 'concat' },
): RefBagOptions {
  const dim = o.dim;
  const m = o.remainder.length / dim;
  const ids = toNumbers(o.indices as never);
  const limit = (o.quotient.length / dim) * m;
  const padding = o.paddingIdx === undefined ? -1 : o.paddingIdx < 0 ? o.paddingIdx + limit : o.paddingIdx;
  const outDim = o.combine === 'concat' ? 2 * dim : dim;
  const rows: number[] = [];
  const weights: number[] = [];
  const lengths: number[] = [];
  for (const [start, end] of bagRanges(o as RefBagOptions)) {
    let n = 0;
    for (let p = start; p < end; p++) {
      if (ids[p] === padding) continue;
      const q = o.quotient.subarray(Math.floor(ids[p] / m) * dim, (Math.floor(ids[p] / m) + 1) * dim);
      const r = o.remainder.subarray((ids[p] % m) * dim, (ids[p] % m + 1) * dim);
      for (let c = 0; c < outDim; c++) {
        if (o.combine === 'concat') rows.push(c < dim ? q[c] : r[c - dim]);
        else rows.push(Math.fround(o.combine === 'sum' ? q[c] + r[c] : q[c] * r[c]));
      }
      if (o.weights) weights.push(o.weights[p]);
      n++;
    }
    lengths.push(n);
  }
  return {
    table: Float32Array.from(rows),
    dim: outDim,
    indices: Array.from({ length: rows.length / outDim }, (_, i) => i),
    lengths,
    mode: o.mode,
    weights: o.weights ? Float32Array.from(weights) : undefined,
  };
}

/** What qrEmbeddingBagBackward takes, as the reference reads it. */
export interface RefQrBackwardOptions extends Omit<RefBagOptions, 'table' | 'mode'> {
  mode: 'sum' | 'mean';
  combine: 'sum' | 'mul' | 'concat';
  gradOutput: Float32Array;
  quotientRows: number;
  remainderRows: number;
  quotient?: Float32Array;
  remainder?: Float32Array;
}

/**
 * Every non-padding id of a QR bag problem, from the definition in the README: position p of
 * bag b reads quotient row q = floor(id / m) and remainder row r = id mod m (m = remainder
 * rows); `scale` is its weight (1 without weights) over the bag's non-padding count for
 * 'mean'. Padding ids (negative counts from the end of quotient rows x m) are skipped.
 */
export function forEachQrId(o: RefQrBackwardOptions, visit: (p: number, b: number, q: number, r: number, scale: number) => void): void {
  const m = o.remainderRows;
  const limit = o.quotientRows * m;
  const ids = toNumbers(o.indices as never);
  const padding = o.paddingIdx === undefined ? -1 : o.paddingIdx < 0 ? o.paddingIdx + limit : o.paddingIdx;
  bagRanges(o as RefBagOptions).forEach(([start, end], b) => {
    let count = 0;
    for (let p = start; p < end; p++) if (ids[p] !== padding) count++;
    for (let p = start; p < end; p++) {
      if (ids[p] === padding) continue;
      const scale = (o.weights ? o.weights[p] : 1) / (o.mode === 'mean' ? count : 1);
      visit(p, b, Math.floor(ids[p] / m), ids[p] % m, scale);
    }
  });
}

/**
 * The gradient of qrEmbeddingBag with respect to both tables in float64: each non-padding id
 * contributes its scale times the bag's gradient g to quotient row q and remainder row r: g to
 * both ('sum'), g's first / second half ('concat'), g times the other table's row ('mul').
 * Also the sums of the terms' magnitudes, for the error bound.
 */
export function refQrBackward(o: RefQrBackwardOptions) {
  const dim = o.dim;
  const outDim = o.combine === 'concat' ? 2 * dim : dim;
  const side = (rows: number) => ({ ref: new Float64Array(rows * dim), abs: new Float64Array(rows * dim) });
  const quotient = side(o.quotientRows);
  const remainder = side(o.remainderRows);
  forEachQrId(o, (_p, b, q, r, scale) => {
    for (let c = 0; c < dim; c++) {
      const gq = o.gradOutput[b * outDim + c];
      const gr = o.combine === 'concat' ? o.gradOutput[b * outDim + dim + c] : gq;
      const tq = scale * gq * (o.combine === 'mul' ? (o.remainder as Float32Array)[r * dim + c] : 1);
      const tr = scale * gr * (o.combine === 'mul' ? (o.quotient as Float32Array)[q * dim + c] : 1);
      quotient.ref[q * dim + c] += tq;
      quotient.abs[q * dim + c] += Math.abs(tq);
      remainder.ref[r * dim + c] += tr;
      remainder.abs[r * dim + c] += Math.abs(tr);
    }
  });
  return { quotient, remainder };
}

/**
 * The gradient of qrEmbeddingBag with respect to its per-sample weights in float64: id p of
 * bag b gets g_b . e_p over the bag's non-padding count for 'mean' (e_p its combined row; for
 * 'concat' g_b's first half against the quotient row and its second half against the
 * remainder row), padding ids 0. Also the sums of the terms' magnitudes.
 */
export function refQrWeightsBackward(o: RefQrBackwardOptions & { quotient: Float32Array; remainder: Float32Array }) {
  const dim = o.dim;
  const outDim = o.combine === 'concat' ? 2 * dim : dim;
  const ref = new Float64Array(o.indices.length);
  const abs = new Float64Array(o.indices.length);
  // The weights' gradient does not depend on the weights: only 'mean' divides.
  forEachQrId({ ...o, weights: undefined }, (p, b, q, r, scale) => {
    for (let c = 0; c < dim; c++) {
      const g = o.gradOutput[b * outDim + c];
      const terms = o.combine === 'sum' ? [g * o.quotient[q * dim + c], g * o.remainder[r * dim + c]]
        : o.combine === 'mul' ? [g * o.quotient[q * dim + c] * o.remainder[r * dim + c]]
          : [g * o.quotient[q * dim + c], o.gradOutput[b * outDim + dim + c] * o.remainder[r * dim + c]];
      for (const t of terms) {
        ref[p] += scale * t;
        abs[p] += Math.abs(scale * t);
      }
    }
  });
  return { ref, abs };
}
