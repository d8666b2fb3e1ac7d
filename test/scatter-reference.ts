// Float64 references for the scatter / SpMM family, written from the definitions (PyTorch's
// index_add_, embedding_bag's gradient, torch_sparse's spmm reductions), not from the C++.
import { bagRanges, toNumbers, type IndexArray, type RefBagOptions } from './reference';

/** dst + sum_i alpha * w_i * src_i into row indices[i], and the same over magnitudes. */
export function refScatterAdd(
  dst: Float32Array, dim: number, indices: IndexArray | readonly number[], src: Float32Array,
  weights?: Float32Array, alpha = 1,
): { ref: Float64Array; abs: Float64Array } {
  const ref = Float64Array.from(dst);
  const abs = Float64Array.from(dst, Math.abs);
  const idx = toNumbers(indices as IndexArray);
  for (let i = 0; i < idx.length; i++) {
    const s = alpha * (weights ? weights[i] : 1);
    for (let c = 0; c < dim; c++) {
      ref[idx[i] * dim + c] += s * src[i * dim + c];
      abs[idx[i] * dim + c] += Math.abs(s * src[i * dim + c]);
    }
  }
  return { ref, abs };
}

/** A CSR matrix as plain numbers. */
export interface RefCsr {
  rowPtr: number[];
  colIdx: number[];
  values?: ArrayLike<number>;
  numRows: number;
  numCols: number;
}

export function csrToNumbers(a: { rowPtr: IndexArray; colIdx: IndexArray; values?: Float32Array; numRows: number; numCols: number }): RefCsr {
  return { rowPtr: toNumbers(a.rowPtr), colIdx: toNumbers(a.colIdx), values: a.values, numRows: a.numRows, numCols: a.numCols };
}

/** The dense numRows x numCols matrix (float64). */
export function densify(a: RefCsr): Float64Array {
  const d = new Float64Array(a.numRows * a.numCols);
  for (let r = 0; r < a.numRows; r++) {
    for (let k = a.rowPtr[r]; k < a.rowPtr[r + 1]; k++) d[r * a.numCols + a.colIdx[k]] += a.values ? a.values[k] : 1;
  }
  return d;
}

/** The plain dense product D · b (or Dᵀ · b) in float64, and the same over magnitudes. */
export function denseProduct(d: Float64Array, rows: number, cols: number, b: Float32Array, dim: number, transpose: boolean) {
  const outRows = transpose ? cols : rows;
  const ref = new Float64Array(outRows * dim);
  const abs = new Float64Array(outRows * dim);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const v = d[r * cols + c];
      if (v === 0) continue;
      const [o, i] = transpose ? [c, r] : [r, c];
      for (let j = 0; j < dim; j++) {
        ref[o * dim + j] += v * b[i * dim + j];
        abs[o * dim + j] += Math.abs(v * b[i * dim + j]);
      }
    }
  }
  return { ref, abs };
}

/**
 * spmm from its definition: each output row reduces value x b[col] over the row's stored
 * entries (sum, mean = sum / entries, max); empty rows give 0. With transpose, entry (r, c)
 * feeds output row c with b[r].
 */
export function refSpmm(a: RefCsr, b: Float32Array, dim: number, reduce: 'sum' | 'mean' | 'max', transpose: boolean) {
  const outRows = transpose ? a.numCols : a.numRows;
  const terms: number[][][] = Array.from({ length: outRows }, () => []);
  for (let r = 0; r < a.numRows; r++) {
    for (let k = a.rowPtr[r]; k < a.rowPtr[r + 1]; k++) {
      const [o, i] = transpose ? [a.colIdx[k], r] : [r, a.colIdx[k]];
      const v = a.values ? a.values[k] : 1;
      terms[o].push(Array.from({ length: dim }, (_, j) => Math.fround(v * b[i * dim + j])));
    }
  }
  const ref = new Float64Array(outRows * dim);
  const abs = new Float64Array(outRows * dim);
  for (let o = 0; o < outRows; o++) {
    const t = terms[o];
    if (t.length === 0) continue;
    for (let j = 0; j < dim; j++) {
      let acc = reduce === 'max' ? -Infinity : 0;
      let mag = 0;
      for (const row of t) {
        acc = reduce === 'max' ? Math.max(acc, row[j]) : acc + row[j];
        mag += Math.abs(row[j]);
      }
      if (reduce === 'mean') {
        acc /= t.length;
        mag /= t.length;
      }
      ref[o * dim + j] = acc;
      abs[o * dim + j] = reduce === 'max' ? Math.abs(acc) : mag;
    }
  }
  return { ref, abs };
}

function padRow(o: RefBagOptions, numRows: number): number {
  if (o.paddingIdx === undefined) return -1;
  return o.paddingIdx < 0 ? o.paddingIdx + numRows : o.paddingIdx;
}

/** embedding_bag over a float64 table (for finite differences). */
export function forward64(o: RefBagOptions, table: Float64Array, numRows: number): Float64Array {
  const dim = o.dim;
  const idx = toNumbers(o.indices as IndexArray);
  const pad = padRow(o, numRows);
  const ranges = bagRanges(o);
  const out = new Float64Array(ranges.length * dim);
  ranges.forEach(([s, e], b) => {
    let count = 0;
    for (let p = s; p < e; p++) {
      if (idx[p] === pad) continue;
      for (let c = 0; c < dim; c++) {
        const v = table[idx[p] * dim + c] * (o.mode !== 'max' && o.weights ? o.weights[p] : 1);
        const at = b * dim + c;
        if (o.mode === 'max') out[at] = count === 0 || v > out[at] ? v : out[at];
        else out[at] += v;
      }
      count++;
    }
    if (o.mode === 'mean' && count > 0) for (let c = 0; c < dim; c++) out[b * dim + c] /= count;
  });
  return out;
}

/**
 * The smallest gap, over every bag and column of a max bag, between the maximum and the best
 * value of a different row (Infinity when no column has two rows). A finite difference with a
 * step below half of it never moves a maximum to another row; a larger step (near-ties of
 * float32 draws are not rare) averages two rows' gradients.
 */
export function maxTieGap(o: RefBagOptions, table: Float64Array, numRows: number): number {
  const dim = o.dim;
  const idx = toNumbers(o.indices as IndexArray);
  const pad = padRow(o, numRows);
  let gap = Infinity;
  for (const [s, e] of bagRanges(o)) {
    for (let c = 0; c < dim; c++) {
      let best = -Infinity;
      let bestRow = -1;
      for (let p = s; p < e; p++) {
        if (idx[p] === pad) continue;
        const v = table[idx[p] * dim + c];
        if (v > best) [best, bestRow] = [v, idx[p]];
      }
      for (let p = s; p < e; p++) {
        if (idx[p] !== pad && idx[p] !== bestRow) gap = Math.min(gap, best - table[idx[p] * dim + c]);
      }
    }
  }
  return gap;
}

/** Per bag and column, the row id of the first entry holding the max (-1 for none). */
export function refArgmax(o: RefBagOptions, numRows: number): Int32Array {
  const dim = o.dim;
  const idx = toNumbers(o.indices as IndexArray);
  const pad = padRow(o, numRows);
  const ranges = bagRanges(o);
  const arg = new Int32Array(ranges.length * dim).fill(-1);
  ranges.forEach(([s, e], b) => {
    for (let c = 0; c < dim; c++) {
      let best = -Infinity;
      for (let p = s; p < e; p++) {
        if (idx[p] === pad) continue;
        const v = o.table[idx[p] * dim + c];
        if (arg[b * dim + c] === -1 || v > best) {
          best = v;
          arg[b * dim + c] = idx[p];
        }
      }
    }
  });
  return arg;
}

/** The gradient of sum(gradOutput ⊙ embeddingBag) w.r.t. the table, from the definition. */
export function refBagBackward(o: RefBagOptions, gradOutput: Float32Array, numRows: number, maxIndices?: Int32Array) {
  const dim = o.dim;
  const ref = new Float64Array(numRows * dim);
  const abs = new Float64Array(numRows * dim);
  const ranges = bagRanges(o);
  if (o.mode === 'max') {
    const arg = maxIndices as Int32Array;
    for (let e = 0; e < arg.length; e++) {
      if (arg[e] < 0) continue;
      const at = arg[e] * dim + (e % dim);
      ref[at] += gradOutput[e];
      abs[at] += Math.abs(gradOutput[e]);
    }
    return { ref, abs };
  }
  const idx = toNumbers(o.indices as IndexArray);
  const pad = padRow(o, numRows);
  ranges.forEach(([s, e], b) => {
    let count = 0;
    for (let p = s; p < e; p++) if (idx[p] !== pad) count++;
    for (let p = s; p < e; p++) {
      if (idx[p] === pad) continue;
      const scale = (o.weights ? o.weights[p] : 1) / (o.mode === 'mean' ? count : 1);
      for (let c = 0; c < dim; c++) {
        ref[idx[p] * dim + c] += scale * gradOutput[b * dim + c];
        abs[idx[p] * dim + c] += Math.abs(scale * gradOutput[b * dim + c]);
      }
    }
  });
  return { ref, abs };
}

/** The error bound's scale: ||abs|| / ||ref||, at least 1 (see test/checks.ts). */
export function cond(ref: ArrayLike<number>, abs: ArrayLike<number>): number {
  let a = 0;
  let r = 0;
  for (let i = 0; i < ref.length; i++) {
    a += abs[i] * abs[i];
    r += ref[i] * ref[i];
  }
  return a === 0 || r === 0 ? 1 : Math.max(1, Math.sqrt(a / r));
}

/**
 * The gradient of embedding_bag with respect to its per-sample weights: index p of bag b gets
 * gradOutput[b] · table[indices[p]] (over the bag's non-padding count for 'mean'), padding
 * entries 0; and the same over the terms' magnitudes.
 */
export function refWeightsBackward(o: RefBagOptions, gradOutput: Float32Array, numRows: number) {
  const dim = o.dim;
  const idx = toNumbers(o.indices as IndexArray);
  const pad = padRow(o, numRows);
  const ref = new Float64Array(idx.length);
  const abs = new Float64Array(idx.length);
  bagRanges(o).forEach(([s, e], b) => {
    let count = 0;
    for (let p = s; p < e; p++) if (idx[p] !== pad) count++;
    for (let p = s; p < e; p++) {
      if (idx[p] === pad) continue;
      for (let c = 0; c < dim; c++) {
        const term = gradOutput[b * dim + c] * o.table[idx[p] * dim + c];
        ref[p] += term;
        abs[p] += Math.abs(term);
      }
      if (o.mode === 'mean') {
        ref[p] /= count;
        abs[p] /= count;
      }
    }
  });
  return { ref, abs };
}
