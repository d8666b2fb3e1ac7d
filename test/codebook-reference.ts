// Float64 references for the codebook family, computed from the definitions on the explicit
// V-sized logits (never through the O(K) identities the kernels use), plus brute-force
// nearest codewords and a reference product quantizer.

/** out[b][t] = logits[b][code(t)], rows x V. */
export function refExpand(logits: Float32Array, k: number, tokenToCode: Int32Array): Float64Array {
  const rows = logits.length / k;
  const v = tokenToCode.length;
  const out = new Float64Array(rows * v);
  for (let b = 0; b < rows; b++) for (let t = 0; t < v; t++) out[b * v + t] = logits[b * k + tokenToCode[t]];
  return out;
}

/** log sum_t exp(row[t]) over a V-sized row, max-shifted; NaN propagates, all -inf gives -inf. */
export function refLogSumExpRow(row: ArrayLike<number>, start: number, v: number): number {
  let top = -Infinity;
  for (let t = 0; t < v; t++) {
    const x = row[start + t];
    if (Number.isNaN(x)) return NaN;
    if (x > top) top = x;
  }
  if (!Number.isFinite(top)) return top;
  let s = 0;
  for (let t = 0; t < v; t++) s += Math.exp(row[start + t] - top);
  return top + Math.log(s);
}

export function refLogZ(logits: Float32Array, k: number, tokenToCode: Int32Array): Float64Array {
  const full = refExpand(logits, k, tokenToCode);
  const v = tokenToCode.length;
  const rows = logits.length / k;
  const out = new Float64Array(rows);
  for (let b = 0; b < rows; b++) out[b] = refLogSumExpRow(full, b * v, v);
  return out;
}

/** loss and d loss / d code logits, from the V-sized softmax (float64). */
export function refCrossEntropy(logits: ArrayLike<number>, k: number, tokenToCode: Int32Array, targets: ArrayLike<number>): { loss: Float64Array; grad: Float64Array } {
  const rows = logits.length / k;
  const v = tokenToCode.length;
  const loss = new Float64Array(rows);
  const grad = new Float64Array(rows * k);
  const row = new Float64Array(v);
  for (let b = 0; b < rows; b++) {
    for (let t = 0; t < v; t++) row[t] = logits[b * k + tokenToCode[t]];
    const z = refLogSumExpRow(row, 0, v);
    loss[b] = z - row[targets[b]];
    for (let t = 0; t < v; t++) grad[b * k + tokenToCode[t]] += Math.exp(row[t] - z);
    grad[b * k + tokenToCode[targets[b]]] -= 1;
  }
  return { loss, grad };
}

/** Top-k over the expanded row: logit descending (NaN last), ties by token id. */
export function refTopK(logits: Float32Array, k: number, tokenToCode: Int32Array, topK: number): { ids: Int32Array; logProbs: Float64Array } {
  const rows = logits.length / k;
  const v = tokenToCode.length;
  const ids = new Int32Array(rows * topK);
  const lp = new Float64Array(rows * topK);
  const z = refLogZ(logits, k, tokenToCode);
  for (let b = 0; b < rows; b++) {
    const value = (t: number) => logits[b * k + tokenToCode[t]];
    const order = Array.from({ length: v }, (_, t) => t).sort((a, c) => {
      const va = value(a), vc = value(c);
      const na = Number.isNaN(va), nc = Number.isNaN(vc);
      if (na !== nc) return na ? 1 : -1;
      if (!na && va !== vc) return vc > va ? 1 : -1;
      return a - c;
    });
    for (let i = 0; i < topK; i++) {
      ids[b * topK + i] = order[i];
      lp[b * topK + i] = value(order[i]) - z[b];
    }
  }
  return { ids, logProbs: lp };
}

/** Per-token probabilities of one row: softmax(logits / temperature) over the expansion. */
export function refTokenProbs(row: ArrayLike<number>, tokenToCode: Int32Array, temperature: number): Float64Array {
  const v = tokenToCode.length;
  const x = new Float64Array(v);
  for (let t = 0; t < v; t++) x[t] = row[tokenToCode[t]] / temperature;
  const z = refLogSumExpRow(x, 0, v);
  return x.map((xi) => Math.exp(xi - z));
}

/** ||x - c||² (l2) or x·c (ip) in float64. */
export function refScore(x: ArrayLike<number>, xo: number, c: ArrayLike<number>, co: number, dim: number, metric: 'l2' | 'ip'): number {
  let s = 0;
  for (let i = 0; i < dim; i++) {
    if (metric === 'l2') {
      const d = x[xo + i] - c[co + i];
      s += d * d;
    } else s += x[xo + i] * c[co + i];
  }
  return s;
}

/** Brute force: per row, the best score over every code (lowest index on exact ties). */
export function refAssign(x: Float32Array, dim: number, codebook: Float32Array, numCodes: number, metric: 'l2' | 'ip'): { codes: Int32Array; best: Float64Array } {
  const rows = x.length / dim;
  const codes = new Int32Array(rows);
  const best = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let bc = -1, bs = 0;
    for (let c = 0; c < numCodes; c++) {
      const s = refScore(x, r * dim, codebook, c * dim, dim, metric);
      if (bc < 0 || (metric === 'l2' ? s < bs : s > bs)) {
        bs = s;
        bc = c;
      }
    }
    codes[r] = bc;
    best[r] = bs;
  }
  return { codes, best };
}

/** The reference quantizer: float64 nearest sub-codeword per subvector; the decoded rows. */
export function refPqQuantize(x: Float32Array, dim: number, m: number, bits: number, codebooks: Float32Array): { codes: Uint8Array; decoded: Float64Array } {
  const ksub = 2 ** bits;
  const dsub = dim / m;
  const n = x.length / dim;
  const codes = new Uint8Array(n * m);
  const decoded = new Float64Array(n * dim);
  for (let r = 0; r < n; r++) {
    for (let s = 0; s < m; s++) {
      let bc = 0, bs = Infinity;
      for (let c = 0; c < ksub; c++) {
        const d = refScore(x, r * dim + s * dsub, codebooks, (s * ksub + c) * dsub, dsub, 'l2');
        if (d < bs) {
          bs = d;
          bc = c;
        }
      }
      codes[r * m + s] = bc;
      for (let i = 0; i < dsub; i++) decoded[r * dim + s * dsub + i] = codebooks[(s * ksub + bc) * dsub + i];
    }
  }
  return { codes, decoded };
}

/** ||a - b||² summed over everything, in float64. */
export function squaredError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) e += (a[i] - b[i]) ** 2;
  return e;
}
