// The codebook suite: VQ-Logits at B = 64 rows, K = 1,024 codes, V = 128,000 tokens (16 rows
// and V = 32,000 with --quick): the expansion, log-partition, cross-entropy, top-k (k = 50)
// and sampling; codebookAssign of 65,536 vectors of d = 128 to 4,096 codes (8,192 to 1,024
// with --quick); pqEncode and pqScan over 1,000,000 vectors of d = 128, m = 16, bits = 8
// (100,000 with --quick), and the distance tables of 4 and 64 queries. Baselines in the same
// run: the same computation on the expanded V-sized logits in pure JS ('js', the ratio's
// denominator) and in embedkit ('embedkit-expand': vqLogits, then the O(K) op over an
// identity map of V codes, i.e. embedkit's own V-sized reduction); pure-JS brute force for
// assignment, encoding and scanning, and the tables' float64 definition.
//
// Bytes each call must move (the GB/s column): the expansion writes B x V floats and reads the
// token -> code map once per row, 8·B·V (copy roof); the O(K) ops read the code logits, 4·B·K
// (their point is not to move V-sized data; their GB/s is shown against the copy roof only
// for completeness); assignment and encoding read x once (compute-bound: N·K·d multiply-adds);
// the scan reads every code once per query. Compute-bound shapes run the default ISA only
// (the scalar path would take minutes per call); the expansion runs every ISA.
import { fillRandom, fillRatiosVsJs, relativeError, timeImpl } from './common.mjs';

// ---- pure-JS baselines --------------------------------------------------------------------

function jsExpand(logits, k, t2c, rows, out) {
  const v = t2c.length;
  for (let b = 0; b < rows; b++) {
    const lo = b * k, oo = b * v;
    for (let t = 0; t < v; t++) out[oo + t] = logits[lo + t2c[t]];
  }
  return out;
}

function jsLogSumExpRows(full, v, rows, out) {
  for (let b = 0; b < rows; b++) {
    const o = b * v;
    let m = -Infinity;
    for (let t = 0; t < v; t++) if (full[o + t] > m) m = full[o + t];
    let s = 0;
    for (let t = 0; t < v; t++) s += Math.exp(full[o + t] - m);
    out[b] = m + Math.log(s);
  }
  return out;
}

function jsCrossEntropy(full, v, k, t2c, rows, targets, loss, grad) {
  const z = jsLogSumExpRows(full, v, rows, new Float64Array(rows));
  grad.fill(0);
  for (let b = 0; b < rows; b++) {
    const o = b * v;
    loss[b] = z[b] - full[o + targets[b]];
    for (let t = 0; t < v; t++) grad[b * k + t2c[t]] += Math.exp(full[o + t] - z[b]);
    grad[b * k + t2c[targets[b]]] -= 1;
  }
}

// The k largest of each row, ties by index: a sorted insertion buffer (what a user writes).
function jsTopK(full, v, rows, k, ids) {
  const vals = new Float64Array(k);
  for (let b = 0; b < rows; b++) {
    const o = b * v;
    let n = 0;
    for (let t = 0; t < v; t++) {
      const x = full[o + t];
      if (n === k && !(x > vals[k - 1])) continue;
      let i = n < k ? n++ : k - 1;
      while (i > 0 && x > vals[i - 1]) {
        vals[i] = vals[i - 1];
        ids[b * k + i] = ids[b * k + i - 1];
        i--;
      }
      vals[i] = x;
      ids[b * k + i] = t;
    }
  }
}

function jsSample(full, v, rows, out, random) {
  for (let b = 0; b < rows; b++) {
    const o = b * v;
    let m = -Infinity;
    for (let t = 0; t < v; t++) if (full[o + t] > m) m = full[o + t];
    let s = 0;
    for (let t = 0; t < v; t++) s += Math.exp(full[o + t] - m);
    let target = random() * s, t = 0;
    for (; t < v - 1; t++) {
      target -= Math.exp(full[o + t] - m);
      if (target < 0) break;
    }
    out[b] = t;
  }
}

function jsAssign(x, dim, book, numCodes, rows, codes) {
  for (let r = 0; r < rows; r++) {
    let best = Infinity, bc = 0;
    for (let c = 0; c < numCodes; c++) {
      let d = 0;
      for (let i = 0; i < dim; i++) {
        const e = x[r * dim + i] - book[c * dim + i];
        d += e * e;
      }
      if (d < best) {
        best = d;
        bc = c;
      }
    }
    codes[r] = bc;
  }
}

function jsPqEncode(x, dim, m, ksub, books, rows, codes) {
  const dsub = dim / m;
  for (let r = 0; r < rows; r++) {
    for (let s = 0; s < m; s++) {
      let best = Infinity, bc = 0;
      for (let c = 0; c < ksub; c++) {
        let d = 0;
        const bo = (s * ksub + c) * dsub, xo = r * dim + s * dsub;
        for (let i = 0; i < dsub; i++) {
          const e = x[xo + i] - books[bo + i];
          d += e * e;
        }
        if (d < best) {
          best = d;
          bc = c;
        }
      }
      codes[r * m + s] = bc;
    }
  }
}

// The distance tables' definition (codebook.h): float64 sums in coordinate order.
function jsPqDistanceTable(queries, nq, dim, m, ksub, codebooks, tables) {
  const dsub = dim / m;
  for (let q = 0; q < nq; q++) {
    for (let s = 0; s < m; s++) {
      const xo = q * dim + s * dsub, to = (q * m + s) * ksub;
      for (let c = 0; c < ksub; c++) {
        const co = (s * ksub + c) * dsub;
        let sum = 0;
        for (let d = 0; d < dsub; d++) {
          const diff = queries[xo + d] - codebooks[co + d];
          sum += diff * diff;
        }
        tables[to + c] = sum;
      }
    }
  }
  return tables;
}

function jsPqScan(tables, m, ksub, codes, n, nq, k, ids) {
  const dist = new Float32Array(n);
  for (let q = 0; q < nq; q++) {
    const to = q * m * ksub;
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < m; j++) s += tables[to + j * ksub + codes[i * m + j]];
      dist[i] = s;
    }
    // top-k by a sorted insertion buffer over the n distances
    const vals = new Float64Array(k).fill(Infinity);
    for (let i = 0; i < n; i++) {
      const x = dist[i];
      if (!(x < vals[k - 1])) continue;
      let p = k - 1;
      while (p > 0 && x < vals[p - 1]) {
        vals[p] = vals[p - 1];
        ids[q * k + p] = ids[q * k + p - 1];
        p--;
      }
      vals[p] = x;
      ids[q * k + p] = i;
    }
  }
}

// ---- groups ------------------------------------------------------------------------------

const idsMismatch = (a, b) => {
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return Infinity;
  return 0;
};

/** Times the impls of one op x shape and sets the JS ratios. impls: { impl, threads, isa, isRef?, ek?, prepare, note? } */
async function runGroup(ctx, { op, shape, bytes, units, impls, verify }) {
  const selected = impls.map((im) => ctx.matches(op, im.impl, shape));
  if (!selected.some(Boolean)) return;
  for (let idx = 0; idx < impls.length; idx++) {
    const im = impls[idx];
    if (!im.isRef && !selected[idx]) continue;
    const rec = { op, impl: im.impl, shape, threads: im.threads, isa: im.isa, dim: 0, bytes, roofKind: 'copy', roofGbps: ctx.roof.copy, shown: selected[idx] };
    let result;
    const prepare = async () => {
      if (im.ek) {
        ctx.ek.setIsa(im.isa);
        ctx.ek.setThreads(im.threads);
      }
      const p = await im.prepare();
      return { ...p, fn: () => { result = p.fn(); } };
    };
    await timeImpl(ctx, rec, { ...im, ek: im.ek === true }, { prepare, verify: () => verify(result, im), units });
  }
  fillRatiosVsJs(ctx.records, op, shape);
  ctx.progress?.(`${op} ${shape}`);
}

// The O(K) VQ ops and the PQ scan are scalar code shared by every ISA (they count as scalar
// kernel calls).
function ekScalarImpls(ctx, prepare) {
  return ctx.threadCounts.map((threads) => ({ impl: 'embedkit', threads, isa: 'scalar', ek: true, prepare }));
}

function ekImpls(ctx, isas, prepare) {
  const out = [];
  for (const isa of isas) for (const threads of ctx.threadCounts) out.push({ impl: `embedkit/${isa}`, threads, isa, ek: true, prepare });
  return out;
}

async function runVq(ctx) {
  const { ek } = ctx;
  const rows = ctx.quick ? 16 : 64, k = 1024, v = ctx.quick ? 32000 : 128000, topK = 50;
  const shape = `B${rows} K${k} V${v}`;
  const next = (() => { let s = 0x1234567; return () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296); })();
  const t2c = Int32Array.from({ length: v }, () => Math.floor(next() * k));
  const map = new ek.VqMap({ tokenToCode: t2c, numCodes: k });
  const identity = new ek.VqMap({ tokenToCode: Int32Array.from({ length: v }, (_, t) => t), numCodes: v });
  const logits = fillRandom(new Float32Array(rows * k), 0x51).map((x) => 4 * x);
  const targets = Int32Array.from({ length: rows }, () => Math.floor(next() * v));
  const full = new Float32Array(rows * v);
  const expandRef = jsExpand(logits, k, t2c, rows, new Float32Array(rows * v));
  const zRef = jsLogSumExpRows(expandRef, v, rows, new Float64Array(rows));
  const small = 4 * rows * k;
  const js = (fn) => ({ impl: 'js', threads: 1, isa: 'js', isRef: true, prepare: () => ({ fn }) });
  const expandThen = (fn) => ({ impl: 'embedkit-expand', threads: ctx.allThreads, isa: ctx.defaultIsa, ek: true, prepare: () => ({ fn: () => { ek.vqLogits({ codeLogits: logits, map, out: full }); return fn(); } }) });

  await runGroup(ctx, {
    op: 'vqLogits', shape, bytes: 8 * rows * v, units: rows,
    impls: [js(() => jsExpand(logits, k, t2c, rows, full)), ...ekImpls(ctx, ctx.isas, () => ({ fn: () => ek.vqLogits({ codeLogits: logits, map, out: full }) }))],
    verify: (r) => relativeError(r, expandRef),
  });
  ctx.gc();
  await runGroup(ctx, {
    op: 'vqLogSumExp', shape, bytes: small, units: rows,
    impls: [
      js(() => jsLogSumExpRows(jsExpand(logits, k, t2c, rows, full), v, rows, new Float64Array(rows))),
      expandThen(() => ek.vqLogSumExp({ codeLogits: full, map: identity })),
      ...ekScalarImpls(ctx, () => ({ fn: () => ek.vqLogSumExp({ codeLogits: logits, map }) })),
    ],
    verify: (r) => relativeError(r, zRef),
  });
  const lossRef = new Float64Array(rows), gradRef = new Float64Array(rows * k);
  jsCrossEntropy(expandRef, v, k, t2c, rows, targets, lossRef, gradRef);
  await runGroup(ctx, {
    op: 'vqCrossEntropy', shape, bytes: 8 * rows * k, units: rows,
    impls: [
      js(() => { const l = new Float64Array(rows), g = new Float64Array(rows * k); jsCrossEntropy(jsExpand(logits, k, t2c, rows, full), v, k, t2c, rows, targets, l, g); return { loss: l, grad: g }; }),
      expandThen(() => ek.vqCrossEntropy({ codeLogits: full, map: identity, targets })),
      ...ekScalarImpls(ctx, () => ({ fn: () => ek.vqCrossEntropy({ codeLogits: logits, map, targets }) })),
    ],
    // (embedkit-expand's gradient is per token, V-sized: only its loss is compared.)
    verify: (r, im) => Math.max(relativeError(r.loss, lossRef), im.impl === 'embedkit-expand' ? 0 : relativeError(r.grad, gradRef)),
  });
  const idsRef = new Int32Array(rows * topK);
  jsTopK(expandRef, v, rows, topK, idsRef);
  await runGroup(ctx, {
    op: 'vqTopK', shape: `${shape} k${topK}`, bytes: small, units: rows,
    impls: [
      js(() => { const ids = new Int32Array(rows * topK); jsTopK(jsExpand(logits, k, t2c, rows, full), v, rows, topK, ids); return ids; }),
      expandThen(() => ek.vqTopK({ codeLogits: full, map: identity, k: topK }).ids),
      ...ekScalarImpls(ctx, () => ({ fn: () => ek.vqTopK({ codeLogits: logits, map, k: topK }).ids })),
    ],
    verify: (r) => idsMismatch(r, idsRef),
  });
  let seed = 1;
  await runGroup(ctx, {
    op: 'vqSample', shape, bytes: small, units: rows,
    impls: [
      js(() => { const o = new Int32Array(rows); jsSample(jsExpand(logits, k, t2c, rows, full), v, rows, o, Math.random); return o; }),
      expandThen(() => ek.vqSample({ codeLogits: full, map: identity, seed: seed++ })),
      ...ekScalarImpls(ctx, () => ({ fn: () => ek.vqSample({ codeLogits: logits, map, seed: seed++ }) })),
    ],
    // Different generators draw different tokens: check every draw is a token of the vocabulary.
    verify: (r) => (r.every((t) => t >= 0 && t < v) ? 0 : Infinity),
  });
}

async function runAssign(ctx) {
  const { ek } = ctx;
  const rows = ctx.quick ? 8192 : 65536, dim = 128, numCodes = ctx.quick ? 1024 : 4096;
  const shape = `${rows}x${dim} -> ${numCodes}`;
  const x = fillRandom(ctx.allocTable(rows * dim), 0x61), book = fillRandom(new Float32Array(numCodes * dim), 0x62);
  const jsRows = 64, factor = rows / jsRows;
  const refCodes = new Int32Array(jsRows);
  jsAssign(x, dim, book, numCodes, jsRows, refCodes);
  await runGroup(ctx, {
    op: 'codebookAssign', shape, bytes: 4 * rows * dim, units: rows,
    impls: [
      { impl: 'js', threads: 1, isa: 'js', isRef: true, prepare: () => ({ fn: () => jsAssign(x, dim, book, numCodes, jsRows, new Int32Array(jsRows)), batch: 1 / factor, note: `timed on ${jsRows} of ${rows} rows, scaled x${factor}` }) },
      ...ekImpls(ctx, [ctx.defaultIsa], () => ({ fn: () => ek.codebookAssign({ x, dim, codebook: book, numCodes, metric: 'l2' }) })),
    ],
    verify: (r) => idsMismatch(r.codes.subarray(0, jsRows), refCodes),
  });
}

async function runPq(ctx) {
  const { ek } = ctx;
  const n = ctx.quick ? 100_000 : 1_000_000, dim = 128, m = 16, bits = 8, ksub = 256, nq = 4, k = 10;
  const x = fillRandom(ctx.allocTable(n * dim), 0x71);
  const pq = { dim, m, bits, codebooks: fillRandom(new Float32Array(ksub * dim), 0x72) };
  const jsRows = 256, factor = n / jsRows;
  const refCodes = new Uint8Array(jsRows * m);
  jsPqEncode(x, dim, m, ksub, pq.codebooks, jsRows, refCodes);
  let codes;
  await runGroup(ctx, {
    op: 'pqEncode', shape: `${n}x${dim} m${m} bits${bits}`, bytes: 4 * n * dim + n * m, units: n,
    impls: [
      { impl: 'js', threads: 1, isa: 'js', isRef: true, prepare: () => ({ fn: () => jsPqEncode(x, dim, m, ksub, pq.codebooks, jsRows, new Uint8Array(jsRows * m)), batch: 1 / factor, note: `timed on ${jsRows} of ${n} rows, scaled x${factor.toFixed(0)}` }) },
      ...ekImpls(ctx, [ctx.defaultIsa], () => ({ fn: () => (codes = ek.pqEncode({ x, pq })) })),
    ],
    verify: (r) => idsMismatch(r.subarray(0, jsRows * m), refCodes),
  });
  codes ??= ek.pqEncode({ x, pq });
  ctx.gc();
  // Tables for a few queries (the scan's 4) and for a batch of 64: every ISA, against the
  // definition in JS, whose float64 sums are the tables' exact bits (verify: 0 or Infinity).
  for (const tq of [nq, 64]) {
    const tqueries = x.subarray(0, tq * dim);
    const refTables = jsPqDistanceTable(tqueries, tq, dim, m, ksub, pq.codebooks, new Float32Array(tq * m * ksub));
    await runGroup(ctx, {
      op: 'pqDistanceTable', shape: `${tq}q x ${dim} m${m} bits${bits}`, bytes: 4 * (tq * dim + ksub * dim + tq * m * ksub), units: tq,
      impls: [
        { impl: 'js', threads: 1, isa: 'js', isRef: true, prepare: () => ({ fn: () => jsPqDistanceTable(tqueries, tq, dim, m, ksub, pq.codebooks, new Float32Array(tq * m * ksub)) }) },
        ...ekImpls(ctx, ctx.isas, () => ({ fn: () => ek.pqDistanceTable({ queries: tqueries, pq }) })),
      ],
      verify: (r) => idsMismatch(r, refTables),
    });
  }
  const queries = x.subarray(0, nq * dim);
  const tables = ek.pqDistanceTable({ queries, pq });
  const refIds = new Int32Array(nq * k);
  jsPqScan(tables, m, ksub, codes, n, nq, k, refIds);
  await runGroup(ctx, {
    op: 'pqScan', shape: `${nq}q x ${n} m${m} bits${bits} k${k}`, bytes: nq * n * m, units: nq * n,
    impls: [
      { impl: 'js', threads: 1, isa: 'js', isRef: true, prepare: () => ({ fn: () => jsPqScan(tables, m, ksub, codes, n, nq, k, new Int32Array(nq * k)) }) },
      ...ekScalarImpls(ctx, () => ({ fn: () => ek.pqScan({ tables, codes, pq, k }) })),
    ],
    verify: (r) => idsMismatch(r.ids, refIds),
  });
}

/** The suite. ctx: { ek, quick, profile, roof, matches, records, log, gc, isas, ... }. */
export async function runCodebookSuite(ctx) {
  await runVq(ctx);
  ctx.gc();
  await runAssign(ctx);
  ctx.gc();
  await runPq(ctx);
  ctx.gc();
}

/** Target lines for the codebook issue, from this run's records. */
export function codebookTargets(all, ctx) {
  const lines = [];
  const ekImpl = `embedkit/${ctx.defaultIsa}`;
  const find = (op, impl, threads) => all.find((r) => r.op === op && r.impl === impl && (threads === undefined || r.threads === threads) && Number.isFinite(r.ms));
  for (const op of ['vqLogSumExp', 'vqCrossEntropy', 'vqTopK']) {
    const fast = find(op, 'embedkit', ctx.allThreads), slow = find(op, 'embedkit-expand');
    if (fast && slow) lines.push(`${slow.ms / fast.ms >= 50 ? 'PASS' : 'MISS'}  ${op} ${fast.shape}: ${(slow.ms / fast.ms).toFixed(0)}x expand + reduce in embedkit (>= 50x), ${fast.ratioVsJs.toFixed(0)}x in JS`);
    else lines.push(`n/a   ${op} (not measured in this run)`);
  }
  const ex = find('vqLogits', ekImpl, ctx.allThreads);
  if (ex) lines.push(`${ex.roofPct >= 70 ? 'PASS' : 'MISS'}  vqLogits ${ex.shape}, ${ctx.allThreads} threads: ${ex.roofPct.toFixed(1)}% of the copy roof (>= 70%; ${ex.gbps.toFixed(2)} GB/s)`);
  const as = find('codebookAssign', ekImpl, ctx.allThreads);
  if (as) lines.push(`${as.ratioVsJs >= 20 ? 'PASS' : 'MISS'}  codebookAssign ${as.shape}, ${ctx.allThreads} threads: ${as.ratioVsJs.toFixed(1)}x pure JS (>= 20x)`);
  return lines;
}
