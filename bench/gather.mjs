// The gather family suite: gather and embeddingBag (sum / mean / max / weighted sum) against
// a pure-JS loop, onnxruntime-node, each ISA, and 1 thread vs all threads.
//
// Bytes each call must move (the GB/s column):
//   gather          N·dim·4 rows read + N·dim·4 rows written              (roof: copy)
//   embeddingBag    N·dim·4 rows read + B·dim·4 written + N·4 index bytes
//                   (+ N·4 weight bytes for per-sample weights)            (roof: read)
// rows/s counts table rows fetched (pooled), N per call, as FBGEMM reports it.
import { fillRandom, fillRatiosVsJs, measure, randomIndices, timeImpl } from './common.mjs';
import * as ortb from './ort.mjs';

// ---- pure-JS baselines: what a user would write --------------------------------------------
function jsGather(table, dim, idx, out) {
  const n = idx.length;
  for (let i = 0; i < n; i++) {
    const s = idx[i] * dim;
    const o = i * dim;
    for (let d = 0; d < dim; d++) out[o + d] = table[s + d];
  }
}

function jsGatherSet(table, dim, idx, out) {
  const n = idx.length;
  for (let i = 0; i < n; i++) {
    const s = idx[i] * dim;
    out.set(table.subarray(s, s + dim), i * dim);
  }
}

function jsBagSum(table, dim, idx, offsets, out) {
  const bags = offsets.length;
  const n = idx.length;
  for (let b = 0; b < bags; b++) {
    const start = offsets[b];
    const end = b + 1 < bags ? offsets[b + 1] : n;
    const o = b * dim;
    for (let d = 0; d < dim; d++) out[o + d] = 0;
    for (let j = start; j < end; j++) {
      const s = idx[j] * dim;
      for (let d = 0; d < dim; d++) out[o + d] += table[s + d];
    }
  }
}

function jsBagWeightedSum(table, dim, idx, offsets, weights, out) {
  const bags = offsets.length;
  const n = idx.length;
  for (let b = 0; b < bags; b++) {
    const start = offsets[b];
    const end = b + 1 < bags ? offsets[b + 1] : n;
    const o = b * dim;
    for (let d = 0; d < dim; d++) out[o + d] = 0;
    for (let j = start; j < end; j++) {
      const s = idx[j] * dim;
      const w = weights[j];
      for (let d = 0; d < dim; d++) out[o + d] += w * table[s + d];
    }
  }
}

// The sum, then each non-empty bag divided by its length.
function jsBagMean(table, dim, idx, offsets, out) {
  jsBagSum(table, dim, idx, offsets, out);
  const bags = offsets.length;
  for (let b = 0; b < bags; b++) {
    const count = (b + 1 < bags ? offsets[b + 1] : idx.length) - offsets[b];
    if (count <= 0) continue;
    const o = b * dim;
    for (let d = 0; d < dim; d++) out[o + d] /= count;
  }
}

function jsBagMax(table, dim, idx, offsets, out) {
  const bags = offsets.length;
  const n = idx.length;
  for (let b = 0; b < bags; b++) {
    const start = offsets[b];
    const end = b + 1 < bags ? offsets[b + 1] : n;
    const o = b * dim;
    if (end <= start) {
      for (let d = 0; d < dim; d++) out[o + d] = 0;
      continue;
    }
    const s0 = idx[start] * dim;
    for (let d = 0; d < dim; d++) out[o + d] = table[s0 + d];
    for (let j = start + 1; j < end; j++) {
      const s = idx[j] * dim;
      for (let d = 0; d < dim; d++) {
        const v = table[s + d];
        if (v > out[o + d]) out[o + d] = v;
      }
    }
  }
}

// Max with the winning id of each element (returnArgmax: what the max backward needs): the
// first row initializes, a later one wins an element only when strictly greater.
function jsBagMaxArgmax(table, dim, idx, offsets, out, argmax) {
  const bags = offsets.length;
  const n = idx.length;
  for (let b = 0; b < bags; b++) {
    const start = offsets[b];
    const end = b + 1 < bags ? offsets[b + 1] : n;
    const o = b * dim;
    if (end <= start) {
      for (let d = 0; d < dim; d++) {
        out[o + d] = 0;
        argmax[o + d] = -1;
      }
      continue;
    }
    const s0 = idx[start] * dim;
    for (let d = 0; d < dim; d++) {
      out[o + d] = table[s0 + d];
      argmax[o + d] = idx[start];
    }
    for (let j = start + 1; j < end; j++) {
      const s = idx[j] * dim;
      for (let d = 0; d < dim; d++) {
        const v = table[s + d];
        if (v > out[o + d]) {
          out[o + d] = v;
          argmax[o + d] = idx[j];
        }
      }
    }
  }
}

// ---- op descriptions ------------------------------------------------------------------------
const OPS = {
  gather: { name: 'gather', roofKind: 'copy' },
  sum: { name: 'embeddingBag/sum', mode: 'sum', roofKind: 'read' },
  mean: { name: 'embeddingBag/mean', mode: 'mean', roofKind: 'read' },
  max: { name: 'embeddingBag/max', mode: 'max', roofKind: 'read' },
  wsum: { name: 'embeddingBag/sum+w', mode: 'sum', weighted: true, roofKind: 'read' },
  maxArgmax: { name: 'embeddingBag/max+argmax', mode: 'max', argmax: true, roofKind: 'read' },
};

function rowsLabel(rows) {
  if (rows % 1_000_000 === 0) return `${rows / 1_000_000}M`;
  if (rows % 1000 === 0) return `${rows / 1000}k`;
  return String(rows);
}

function bytesMoved(op, n, bags, dim) {
  if (op.name === 'gather') return 2 * n * dim * 4;
  return n * dim * 4 + bags * dim * 4 * (op.argmax ? 2 : 1) + n * 4 + (op.weighted ? n * 4 : 0);
}

/** Relative L2 error of `got` against `ref` (rows sampled with `stride`). */
function relError(got, ref, dim, stride = 1) {
  let num = 0;
  let den = 0;
  const rows = ref.length / dim;
  for (let r = 0; r < rows; r += stride) {
    const o = r * dim;
    for (let d = 0; d < dim; d++) {
      const e = got[o + d] - ref[o + d];
      num += e * e;
      den += ref[o + d] * ref[o + d];
    }
  }
  if (Number.isNaN(num)) return Infinity;
  return den === 0 ? Math.sqrt(num) : Math.sqrt(num / den);
}

/**
 * One op on one shape: every implementation, the JS loop first (the ratio's denominator).
 * Pushes records to ctx.records; `shown` says whether the filter selected them.
 */
async function runGroup(ctx, g) {
  const { ek, roof } = ctx;
  const { op, table, rows, dim, indices, offsets, weights, bags, shape } = g;
  const n = indices.length;
  const outLen = op.name === 'gather' ? n * dim : bags * dim;
  const bytes = bytesMoved(op, n, bags, dim);
  const roofGbps = roof[op.roofKind];

  const impls = [];
  const jsFn = {
    gather: () => jsGather(table, dim, indices, g.jsOut),
    'embeddingBag/sum': () => jsBagSum(table, dim, indices, offsets, g.jsOut),
    'embeddingBag/mean': () => jsBagMean(table, dim, indices, offsets, g.jsOut),
    'embeddingBag/max': () => jsBagMax(table, dim, indices, offsets, g.jsOut),
    'embeddingBag/sum+w': () => jsBagWeightedSum(table, dim, indices, offsets, weights, g.jsOut),
    'embeddingBag/max+argmax': () => jsBagMaxArgmax(table, dim, indices, offsets, g.jsOut, argmaxOut),
  }[op.name];
  // The winners' destination (max+argmax), shared by every implementation; only `out` is verified.
  const argmaxOut = op.argmax ? new Int32Array(bags * dim) : undefined;
  impls.push({ impl: 'js', threads: 1, isa: 'js', run: jsFn, isRef: true });
  if (op.name === 'gather') {
    impls.push({ impl: 'js-set', threads: 1, isa: 'js', run: (out) => jsGatherSet(table, dim, indices, out) });
  }
  for (const isa of ctx.isas) {
    for (const threads of ctx.threadCounts) {
      const call =
        op.name === 'gather'
          ? (out) => ek.gather({ table, dim, indices, out })
          : op.argmax
            ? (out) => ek.embeddingBag({ table, dim, indices, offsets, mode: op.mode, out, returnArgmax: true, argmaxOut })
            : (out) => ek.embeddingBag({ table, dim, indices, offsets, mode: op.mode, weights: op.weighted ? weights : undefined, out });
      impls.push({ impl: `embedkit/${isa}`, threads, isa, run: call, ek: true });
    }
  }
  if (ctx.ortAvailable && !op.argmax) {  // ORT's bag models return no argmax
    for (const threads of ctx.threadCounts) impls.push({ impl: 'ort', threads, isa: 'ort', ort: true });
  }

  const selected = impls.map((im) => ctx.matches(op.name, im.impl, shape));
  if (!selected.some(Boolean)) return;

  const out = new Float32Array(outLen);
  g.jsOut = new Float32Array(outLen);
  const stride = op.name === 'gather' ? 61 : 1;
  for (let k = 0; k < impls.length; k++) {
    const im = impls[k];
    if (!im.isRef && !selected[k]) continue;
    const rec = {
      op: op.name,
      impl: im.impl,
      shape,
      threads: im.threads,
      isa: im.isa,
      dim,
      tableRows: rows,
      indices: n,
      bags: op.name === 'gather' ? undefined : bags,
      bytes,
      roofKind: op.roofKind,
      roofGbps,
      shown: selected[k],
    };
    let target = out;
    const prepare = async () => {
      if (im.isRef) {
        target = g.jsOut;
        return { fn: im.run };
      }
      if (im.ek) {
        ek.setIsa(im.isa);
        ek.setThreads(im.threads);
        out.fill(NaN);
        return { fn: () => im.run(out) };
      }
      if (im.ort) {
        const ort = ortb.loadOrt();
        const gatherOp = op.name === 'gather';
        const kind = gatherOp ? 'gather' : `bag-${op.mode}${op.weighted ? '-w' : ''}`;
        const sess = await ortb.session(kind, im.threads, () =>
          gatherOp ? ortb.gatherModel() : ortb.bagModel(op.mode, op.weighted),
        );
        const feeds = {
          table: new ort.Tensor('float32', table, [rows, dim]),
          idx: gatherOp ? new ort.Tensor('int32', indices, [n]) : new ort.Tensor('int32', indices, [bags, n / bags]),
        };
        if (op.weighted) feeds.w = new ort.Tensor('float32', weights, [bags, n / bags, 1]);
        out.fill(NaN);
        const runner = await ortb.makeRunner(sess, feeds, out, gatherOp ? [n, dim] : [bags, dim]);
        return { fn: runner.run, note: runner.preallocated ? '' : 'ORT allocates its output (copy included)' };
      }
      out.fill(NaN);
      return { fn: () => im.run(out) };
    };
    await timeImpl(ctx, rec, im, { prepare, verify: () => relError(target, g.jsOut, dim, stride), units: n });
  }
  fillRatiosVsJs(ctx.records, op.name, shape);
  g.jsOut = null;
  ctx.progress?.(`${op.name} ${shape}`);
}

/**
 * Per-call cost probes, each op called `batch` times per sample: a tiny call (1 bag x 8
 * indices at dim 64, an 8-row gather) that runs on one thread whatever the setting, and a
 * small one (128 bags x 8 at dim 128, a 1,024-row gather) that the kernels split in tasks,
 * timed at all threads and at one, so that waking the pool shows.
 */
async function runTiny(ctx, base, rows) {
  const { ek } = ctx;
  for (const [dim, bags, perBag, label] of [[64, 1, 8, 'tiny'], [128, 128, 8, 'small']]) {
    const table = base.subarray(0, rows * dim);
    const n = bags * perBag;
    const indices = randomIndices(n, rows, 0x7157);
    const offsets = Int32Array.from({ length: bags }, (_, b) => b * perBag);
    await runCallProbe(ctx, {
      shape: `${label} ${rowsLabel(rows)}x${dim} n=${bags}x${perBag}`, dim, tableRows: rows, indices: n,
      ops: [
        {
          op: 'embeddingBag/sum',
          bags,
          js: (out) => jsBagSum(table, dim, indices, offsets, out),
          ek: (out) => ek.embeddingBag({ table, dim, indices, offsets, mode: 'sum', out }),
          // ORT only for the tiny call: its models are built for one bag of 8
          ort: label === 'tiny' ? { model: () => ortb.bagModel('sum'), kind: 'bag-sum', table, indices, idxDims: [1, 8], outDims: [1, dim] } : undefined,
          outLen: bags * dim,
          bytes: n * dim * 4 + bags * dim * 4 + n * 4,
          roofKind: 'read',
        },
        {
          op: 'gather',
          js: (out) => jsGather(table, dim, indices, out),
          ek: (out) => ek.gather({ table, dim, indices, out }),
          ort: label === 'tiny' ? { model: () => ortb.gatherModel(), kind: 'gather', table, indices, idxDims: [8], outDims: [8, dim] } : undefined,
          outLen: n * dim,
          bytes: 2 * n * dim * 4,
          roofKind: 'copy',
        },
      ],
      oneThread: label === 'small',
    });
  }
}

/**
 * Times each of `ops` (one shape) in batches of calls: the JS loop, embedkit at all threads
 * (and at one with oneThread), onnxruntime where an op gives `ort` ({ model, kind, table,
 * indices, idxDims, outDims }). An op: { op, bags?, js(out), ek(out), ort?, outLen, bytes,
 * roofKind }. Records are marked tiny (per-call tables).
 */
export async function runCallProbe(ctx, { shape, dim, tableRows, indices, ops, oneThread = false }) {
  const { profile } = ctx;
  const batchSync = 2000;
  const batchOrt = 50;
  for (const o of ops) {
    const impls = [
      { impl: 'js', threads: 1, isa: 'js' },
      { impl: `embedkit/${ctx.defaultIsa}`, threads: ctx.allThreads, isa: ctx.defaultIsa },
    ];
    // A quick run (CI's smoke run) times the path callers get only.
    if (oneThread && !ctx.quick && ctx.allThreads > 1) impls.push({ impl: `embedkit/${ctx.defaultIsa}`, threads: 1, isa: ctx.defaultIsa });
    if (ctx.ortAvailable && o.ort) impls.push({ impl: 'ort', threads: 1, isa: 'ort' });
    const selected = impls.map((im) => ctx.matches(o.op, im.impl, shape));
    if (!selected.some(Boolean)) continue;
    const out = new Float32Array(o.outLen);
    let jsMs;
    for (let k = 0; k < impls.length; k++) {
      const im = impls[k];
      if (im.impl !== 'js' && !selected[k]) continue;
      const rec = {
        op: o.op, impl: im.impl, shape, threads: im.threads, isa: im.isa, dim, tableRows,
        indices, bags: o.bags, bytes: o.bytes, roofKind: o.roofKind,
        roofGbps: ctx.roof[o.roofKind], tiny: true, shown: selected[k],
      };
      try {
        let fn;
        let batch;
        if (im.impl === 'js') {
          batch = batchSync;
          fn = () => { for (let i = 0; i < batchSync; i++) o.js(out); };
        } else if (im.isa === 'ort') {
          const ort = ortb.loadOrt();
          const sess = await ortb.session(o.ort.kind, 1, o.ort.model);
          const feeds = {
            table: new ort.Tensor('float32', o.ort.table, [tableRows, dim]),
            idx: new ort.Tensor('int32', o.ort.indices, o.ort.idxDims),
          };
          const runner = await ortb.makeRunner(sess, feeds, out, o.ort.outDims);
          batch = batchOrt;
          fn = async () => { for (let i = 0; i < batchOrt; i++) await runner.run(); };
        } else {
          ctx.ek.setThreads(im.threads);
          batch = batchSync;
          fn = () => { for (let i = 0; i < batchSync; i++) o.ek(out); };
        }
        const m = await measure(fn, profile, { batch });
        Object.assign(rec, {
          ms: m.ms, madMs: m.mad, samples: m.samples, batch, ownCores: m.ownCores, otherCores: m.otherCores, stealPct: m.stealPct,
          gbps: o.bytes / m.ms / 1e6, rowsPerSec: indices / (m.ms / 1000), callsPerSec: 1000 / m.ms,
        });
        rec.roofPct = (100 * rec.gbps) / rec.roofGbps;
        if (im.impl === 'js') jsMs = m.ms;
      } catch (error) {
        rec.note = `error: ${error instanceof Error ? error.message : String(error)}`;
        Object.assign(rec, { ms: NaN, gbps: NaN, roofPct: NaN });
        if (rec.shown) ctx.log(`  ! ${o.op} ${shape} ${im.impl}: ${rec.note}`);
      }
      ctx.records.push(rec);
    }
    ctx.ek.setThreads(ctx.allThreads);
    for (const rec of ctx.records) {
      if (rec.op === o.op && rec.shape === shape) rec.ratioVsJs = jsMs / rec.ms;
    }
    ctx.progress?.(`${o.op} ${shape}`);
  }
}

/** The suite. ctx: { ek, quick, profile, roof, matches, records, log, gc, isas, ... }. */
export async function runGatherSuite(ctx) {
  const { quick, gc } = ctx;
  const rows = quick ? 250_000 : 1_000_000;
  const bags = quick ? 4096 : 16384;
  const perBag = 32;
  const dims = [32, 64, 128, 256];
  const maxDim = Math.max(...dims);

  // One random rows x 256 block; the table for dim d is its first rows*d floats.
  let base = fillRandom(ctx.allocTable(rows * maxDim), 0x5eed);
  const indices = randomIndices(bags * perBag, rows, 0x1dc5);
  const offsets = Int32Array.from({ length: bags }, (_, b) => b * perBag);
  const weights = fillRandom(new Float32Array(bags * perBag), 0x3e1);
  for (let i = 0; i < weights.length; i++) weights[i] = 0.5 + 0.5 * weights[i];

  for (const dim of dims) {
    const table = base.subarray(0, rows * dim);
    const ops = [OPS.gather, OPS.sum, OPS.mean, OPS.max];
    if (dim === 128) ops.push(OPS.wsum, OPS.maxArgmax);
    for (const op of ops) {
      const shape =
        op.name === 'gather'
          ? `${rowsLabel(rows)}x${dim} idx=${bags * perBag}`
          : `${rowsLabel(rows)}x${dim} bags=${bags}x${perBag}`;
      await runGroup(ctx, { op, table, rows, dim, indices, offsets, weights, bags, shape });
      gc();
    }
  }

  await runTiny(ctx, base, rows);

  // The table that fits in no cache and stresses the TLB: 10M x 128 floats (5.12 GB).
  const bigRows = 10_000_000;
  const bigDim = 128;
  const bigShape = (op) =>
    op.name === 'gather'
      ? `${rowsLabel(bigRows)}x${bigDim} idx=${bags * perBag}`
      : `${rowsLabel(bigRows)}x${bigDim} bags=${bags}x${perBag}`;
  const bigOps = [OPS.gather, OPS.sum, OPS.mean, OPS.max];
  const bigWanted = bigOps.some((op) =>
    ['js', 'ort', ...ctx.isas.map((i) => `embedkit/${i}`)].some((impl) => ctx.matches(op.name, impl, bigShape(op))),
  );
  if (quick) {
    ctx.skipped.push(`${rowsLabel(bigRows)}x${bigDim} table (5.12 GB): skipped in --quick mode`);
    base = null;
    gc();
    return;
  }
  if (!bigWanted) {
    base = null;
    gc();
    return;
  }
  const t0 = performance.now();
  let big = ctx.allocTable(bigRows * bigDim);
  for (let off = 0; off < big.length; off += base.length) {
    big.set(base.subarray(0, Math.min(base.length, big.length - off)), off);
  }
  base = null;
  gc();
  ctx.notes.push(`allocated and filled the ${rowsLabel(bigRows)}x${bigDim} table in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const bigIdx = randomIndices(bags * perBag, bigRows, 0xb16);
  for (const op of bigOps) {
    await runGroup(ctx, {
      op, table: big, rows: bigRows, dim: bigDim, indices: bigIdx, offsets, weights, bags, shape: bigShape(op),
    });
    gc();
  }
  big = null;
  await ortb.releaseSessions();
  gc();
}

// Reference rows printed under embeddingBag sum. Not measured by this script: FBGEMM is not a
// dependency (it is built from source beside the project, never committed).
export const FBGEMM_REFERENCES = [
  {
    label: 'FBGEMM AVX2 JIT (measured offline on the AVX2 Zen 3 VM)',
    note: 'fp32 EmbeddingSpMDM sum, commit 71d6f8b, bench/fbgemm/compare.sh, huge-page table; median of 3 rounds, 2026-11-27 03:22',
    rowsPerSec: {
      32: { 1: 62.2e6, 2: 85.3e6 },
      64: { 1: 25.2e6, 2: 44.7e6 },
      128: { 1: 12.6e6, 2: 23.3e6 },
      256: { 1: 6.5e6, 2: 12.0e6 },
    },
  },
  {
    label: 'FBGEMM AVX-512 JIT (measured offline on the AVX-512 EPYC VM)',
    note: 'fp32 EmbeddingSpMDM sum, commit 71d6f8b, bench/fbgemm/compare.sh, huge-page table; median of 6 rounds, 2026-11-27 16:14',
    rowsPerSec: {
      32: { 1: 66.0e6, 2: 121.3e6 },
      64: { 1: 32.7e6, 2: 62.6e6 },
      128: { 1: 16.9e6, 2: 32.2e6 },
      256: { 1: 8.0e6, 2: 14.4e6 },
    },
  },
  {
    label: 'FBGEMM AVX-512 JIT (quoted from the issue, other machine)',
    note: 'not measured here; a machine with a 480 MiB L3',
    rowsPerSec: { 128: { 1: 13.5e6, 2: 28.7e6 }, 32: { 1: 88e6, 2: 186e6 } },
  },
];
