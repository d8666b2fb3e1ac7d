// qrEmbeddingBag rows of the compress suite: quotient-remainder bags over a 1M-id space (two
// 1,000-row tables, m = 1000) at dim 64 / 128, 16,384 bags x 32 ids (quick: 4,096), every
// combine, against the pure-JS loop a user would write (id / m, id % m, combine, pool); and
// qrEmbeddingBagBackward (sum, dense into given outputs) and qrEmbeddingBagWeightsBackward at
// dim 128 against the JS loops of those gradients.
//
// Bytes each call must move: N·2·R rows read (R = 4·dim; both tables are small, so the rows
// mostly come from cache, and the roof column can pass 100%) + B·outDim·4 written + N·4 index
// bytes (roof: read). The backward: B·outDim·4 gradient read + N·4 index bytes + both
// gradients written (2·M·R; 'mul' also reads the tables, N·2·R mostly from cache). The
// weights' gradient: the gradient, the indices, N·2·R table rows (cache) and N·4 written.
import { fillRandom, fillRatiosVsJs, randomIndices, relativeError, timeImpl } from './common.mjs';

const M = 1000;
const COMBINES = ['sum', 'mul', 'concat'];

function jsQrBagSum(quotient, remainder, dim, combine, idx, offsets, out) {
  const bags = offsets.length;
  const n = idx.length;
  const outDim = combine === 'concat' ? 2 * dim : dim;
  for (let b = 0; b < bags; b++) {
    const start = offsets[b];
    const end = b + 1 < bags ? offsets[b + 1] : n;
    const o = b * outDim;
    for (let d = 0; d < outDim; d++) out[o + d] = 0;
    for (let j = start; j < end; j++) {
      const q = Math.floor(idx[j] / M) * dim;
      const r = (idx[j] % M) * dim;
      if (combine === 'concat') {
        for (let d = 0; d < dim; d++) {
          out[o + d] += quotient[q + d];
          out[o + dim + d] += remainder[r + d];
        }
      } else if (combine === 'sum') {
        for (let d = 0; d < dim; d++) out[o + d] += quotient[q + d] + remainder[r + d];
      } else {
        for (let d = 0; d < dim; d++) out[o + d] += quotient[q + d] * remainder[r + d];
      }
    }
  }
}

/** The gradient of jsQrBagSum for both tables, as a user would write it. */
function jsQrBagBackward(quotient, remainder, dim, combine, grad, idx, offsets, gq, gr) {
  const bags = offsets.length;
  const n = idx.length;
  const outDim = combine === 'concat' ? 2 * dim : dim;
  gq.fill(0);
  gr.fill(0);
  for (let b = 0; b < bags; b++) {
    const end = b + 1 < bags ? offsets[b + 1] : n;
    const g = b * outDim;
    for (let j = offsets[b]; j < end; j++) {
      const q = Math.floor(idx[j] / M) * dim;
      const r = (idx[j] % M) * dim;
      if (combine === 'concat') {
        for (let d = 0; d < dim; d++) {
          gq[q + d] += grad[g + d];
          gr[r + d] += grad[g + dim + d];
        }
      } else if (combine === 'sum') {
        for (let d = 0; d < dim; d++) {
          gq[q + d] += grad[g + d];
          gr[r + d] += grad[g + d];
        }
      } else {
        for (let d = 0; d < dim; d++) {
          gq[q + d] += grad[g + d] * remainder[r + d];
          gr[r + d] += grad[g + d] * quotient[q + d];
        }
      }
    }
  }
}

/** The per-sample weights' gradient of jsQrBagSum: g_b . e_p per id, as a user would write it. */
function jsQrBagWeightsBackward(quotient, remainder, dim, combine, grad, idx, offsets, out) {
  const bags = offsets.length;
  const n = idx.length;
  const outDim = combine === 'concat' ? 2 * dim : dim;
  for (let b = 0; b < bags; b++) {
    const end = b + 1 < bags ? offsets[b + 1] : n;
    const g = b * outDim;
    for (let j = offsets[b]; j < end; j++) {
      const q = Math.floor(idx[j] / M) * dim;
      const r = (idx[j] % M) * dim;
      let d = 0;
      if (combine === 'concat') {
        for (let c = 0; c < dim; c++) d += grad[g + c] * quotient[q + c] + grad[g + dim + c] * remainder[r + c];
      } else if (combine === 'sum') {
        for (let c = 0; c < dim; c++) d += grad[g + c] * (quotient[q + c] + remainder[r + c]);
      } else {
        for (let c = 0; c < dim; c++) d += grad[g + c] * quotient[q + c] * remainder[r + c];
      }
      out[j] = d;
    }
  }
}

function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return Number.isNaN(m) ? Infinity : m;
}

/** The rows, appended to ctx.records (called by the compress suite). */
export async function runQrBagRows(ctx) {
  const { ek, quick } = ctx;
  const bags = quick ? 4096 : 16384;
  const perBag = 32;
  const n = bags * perBag;
  const indices = randomIndices(n, M * M, 0x9e11);
  const offsets = Int32Array.from({ length: bags }, (_, b) => b * perBag);
  const isa = ctx.defaultIsa;
  const op = 'compress/qrEmbeddingBag-sum';
  for (const dim of [64, 128]) {
    const quotient = fillRandom(new Float32Array(M * dim), 0x51 + dim);
    const remainder = fillRandom(new Float32Array(M * dim), 0x52 + dim);
    for (const combine of COMBINES) {
      const shape = `1M ids (${M}+${M} rows)x${dim} bags=${bags}x${perBag} ${combine}`;
      if (!ctx.matches(op, `embedkit/${isa}`, shape) && !ctx.matches(op, 'js', shape)) continue;
      const outLen = bags * (combine === 'concat' ? 2 * dim : dim);
      const bytes = n * 2 * 4 * dim + outLen * 4 + n * 4;
      const ref = new Float32Array(outLen);
      const base = { op, shape, dim, indices: n, bags, bytes, roofKind: 'read', roofGbps: ctx.roof.read, format: 'f32', combine };
      const jsRec = { ...base, impl: 'js', threads: 1, isa: 'js', shown: ctx.matches(op, 'js', shape) };
      await timeImpl(ctx, jsRec, { isRef: true }, {
        prepare: async () => ({ fn: () => jsQrBagSum(quotient, remainder, dim, combine, indices, offsets, ref) }), verify: () => 0, units: n,
      });
      const out = new Float32Array(outLen);
      for (const threads of ctx.threadCounts) {
        const rec = { ...base, impl: `embedkit/${isa}`, threads, isa, shown: ctx.matches(op, `embedkit/${isa}`, shape) };
        const run = () => ek.qrEmbeddingBag({ quotient, remainder, dim, indices, offsets, mode: 'sum', combine, out });
        const prepare = async () => {
          ek.setIsa(isa);
          ek.setThreads(threads);
          out.fill(NaN);
          return { fn: run };
        };
        await timeImpl(ctx, rec, { ek: true, isa, threads }, { prepare, verify: () => (maxAbsDiff(out, ref) <= 1e-3 ? 0 : Infinity), units: n });
      }
      fillRatiosVsJs(ctx.records, op, shape);
    }
  }
}

/** qrEmbeddingBagBackward rows (called by the compress suite after runQrBagRows). */
export async function runQrBackwardRows(ctx) {
  const { ek, quick } = ctx;
  const bags = quick ? 4096 : 16384;
  const perBag = 32;
  const n = bags * perBag;
  const dim = 128;
  const indices = randomIndices(n, M * M, 0x9e12);
  const offsets = Int32Array.from({ length: bags }, (_, b) => b * perBag);
  const isa = ctx.defaultIsa;
  const op = 'compress/qrEmbeddingBagBackward-sum';
  const quotient = fillRandom(new Float32Array(M * dim), 0x53);
  const remainder = fillRandom(new Float32Array(M * dim), 0x54);
  for (const combine of COMBINES) {
    const shape = `1M ids (${M}+${M} rows)x${dim} bags=${bags}x${perBag} ${combine}`;
    if (!ctx.matches(op, `embedkit/${isa}`, shape) && !ctx.matches(op, 'js', shape)) continue;
    const outDim = combine === 'concat' ? 2 * dim : dim;
    const grad = fillRandom(new Float32Array(bags * outDim), 0x55);
    const bytes = bags * outDim * 4 + n * 4 + 2 * M * dim * 4 + (combine === 'mul' ? n * 2 * 4 * dim : 0);
    const refQ = new Float32Array(M * dim);
    const refR = new Float32Array(M * dim);
    const base = { op, shape, dim, indices: n, bags, bytes, roofKind: 'read', roofGbps: ctx.roof.read, format: 'f32', combine };
    const jsRec = { ...base, impl: 'js', threads: 1, isa: 'js', shown: ctx.matches(op, 'js', shape) };
    await timeImpl(ctx, jsRec, { isRef: true }, {
      prepare: async () => ({ fn: () => jsQrBagBackward(quotient, remainder, dim, combine, grad, indices, offsets, refQ, refR) }),
      verify: () => 0, units: n,
    });
    const outQuotient = new Float32Array(M * dim);
    const outRemainder = new Float32Array(M * dim);
    const tables = combine === 'mul' ? { quotient, remainder } : {};
    for (const threads of ctx.threadCounts) {
      const rec = { ...base, impl: `embedkit/${isa}`, threads, isa, shown: ctx.matches(op, `embedkit/${isa}`, shape) };
      const run = () => ek.qrEmbeddingBagBackward({
        gradOutput: grad, dim, indices, offsets, mode: 'sum', combine, quotientRows: M, remainderRows: M, ...tables, outQuotient, outRemainder,
      });
      const prepare = async () => {
        ek.setIsa(isa);
        ek.setThreads(threads);
        outQuotient.fill(NaN);
        outRemainder.fill(NaN);
        return { fn: run };
      };
      const verify = () => Math.max(relativeError(outQuotient, refQ), relativeError(outRemainder, refR));
      await timeImpl(ctx, rec, { ek: true, isa, threads }, { prepare, verify, units: n });
    }
    fillRatiosVsJs(ctx.records, op, shape);
  }
  // The per-sample weights' gradient (qrEmbeddingBagWeightsBackward): a dot product per id.
  const wop = 'compress/qrEmbeddingBagWeightsBackward-sum';
  const refW = new Float32Array(n);
  const outW = new Float32Array(n);
  for (const combine of COMBINES) {
    const shape = `1M ids (${M}+${M} rows)x${dim} bags=${bags}x${perBag} ${combine}`;
    if (!ctx.matches(wop, `embedkit/${isa}`, shape) && !ctx.matches(wop, 'js', shape)) continue;
    const outDim = combine === 'concat' ? 2 * dim : dim;
    const grad = fillRandom(new Float32Array(bags * outDim), 0x56);
    const bytes = bags * outDim * 4 + n * 4 + n * 2 * 4 * dim + n * 4;
    const base = { op: wop, shape, dim, indices: n, bags, bytes, roofKind: 'read', roofGbps: ctx.roof.read, format: 'f32', combine };
    const jsRec = { ...base, impl: 'js', threads: 1, isa: 'js', shown: ctx.matches(wop, 'js', shape) };
    await timeImpl(ctx, jsRec, { isRef: true }, {
      prepare: async () => ({ fn: () => jsQrBagWeightsBackward(quotient, remainder, dim, combine, grad, indices, offsets, refW) }),
      verify: () => 0, units: n,
    });
    for (const threads of ctx.threadCounts) {
      const rec = { ...base, impl: `embedkit/${isa}`, threads, isa, shown: ctx.matches(wop, `embedkit/${isa}`, shape) };
      const run = () => ek.qrEmbeddingBagWeightsBackward({ gradOutput: grad, quotient, remainder, dim, indices, offsets, mode: 'sum', combine, out: outW });
      const prepare = async () => {
        ek.setIsa(isa);
        ek.setThreads(threads);
        outW.fill(NaN);
        return { fn: run };
      };
      await timeImpl(ctx, rec, { ek: true, isa, threads }, { prepare, verify: () => relativeError(outW, refW), units: n });
    }
    fillRatiosVsJs(ctx.records, wop, shape);
  }
}
