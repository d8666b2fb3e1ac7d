// The compress suite: embeddingBag (sum) and gather over the gather benchmark's shapes (1M-row
// tables at dim 64 / 128 / 256, 16,384 bags x 32) in every table format, with the memory
// each table takes and its size and speed against the f32 table, measured in the same run.
//
// Bytes each call must move (the GB/s column), with R = bytes of one stored row
// (f32 4·dim, f16 / bf16 2·dim, q8 dim, q4 ceil(dim/2)) and S = 8 for q8 / q4 (the row's
// scale and bias, from separate arrays), else 0:
//   embeddingBag    N·(R + S) rows read + B·dim·4 written + N·4 index bytes   (roof: read)
//   gather          N·(R + S) rows read + N·dim·4 written                     (roof: copy)
import { fillRandom, fillRatiosVsJs, randomIndices, timeImpl } from './common.mjs';
import { runQrBackwardRows, runQrBagRows } from './qr-bag.mjs';

const FORMATS = ['f32', 'f16', 'bf16', 'q8', 'q4'];

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

function jsGather(table, dim, idx, out) {
  for (let i = 0; i < idx.length; i++) out.set(table.subarray(idx[i] * dim, (idx[i] + 1) * dim), i * dim);
}

function storedRowBytes(format, dim) {
  return { f32: 4 * dim, f16: 2 * dim, bf16: 2 * dim, q8: dim, q4: Math.ceil(dim / 2) }[format];
}

function bytesMoved(op, format, n, bags, dim) {
  const read = n * (storedRowBytes(format, dim) + (format === 'q8' || format === 'q4' ? 8 : 0));
  return op === 'compress/gather' ? read + n * dim * 4 : read + bags * dim * 4 + n * 4;
}

function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return Number.isNaN(m) ? Infinity : m;
}

function rowsLabel(rows) {
  return rows % 1_000_000 === 0 ? `${rows / 1_000_000}M` : `${rows / 1000}k`;
}

/** The suite. ctx: see bench/cli.mjs. */
export async function runCompressSuite(ctx) {
  const { ek, quick, gc } = ctx;
  const rows = quick ? 250_000 : 1_000_000;
  const bags = quick ? 4096 : 16384;
  const perBag = 32;
  const n = bags * perBag;
  const indices = randomIndices(n, rows, 0x1dc5);
  const offsets = Int32Array.from({ length: bags }, (_, b) => b * perBag);
  const threadCounts = ctx.threadCounts;
  const isa = ctx.defaultIsa;

  for (const dim of [64, 128, 256]) {
    const f32 = fillRandom(ctx.allocTable(rows * dim), 0x5eed + dim);
    const tables = {};
    for (const format of FORMATS) {
      tables[format] = format === 'f32' ? { format, rows, dim, data: f32 } : ek.quantizeTable({ table: f32, dim, format });
    }
    const f32Bytes = ek.tableBytes(tables.f32);
    for (const op of ['compress/embeddingBag-sum', 'compress/gather']) {
      const isGather = op === 'compress/gather';
      const outLen = isGather ? n * dim : bags * dim;
      const shapeOf = (format) => `${rowsLabel(rows)}x${dim} ${isGather ? `idx=${n}` : `bags=${bags}x${perBag}`} ${format}`;
      if (!FORMATS.some((f) => ctx.matches(op, `embedkit/${isa}`, shapeOf(f)))) continue;
      // The JS loop over the f32 table, once per op and dim: every format's ratio uses it.
      const jsOut = new Float32Array(outLen);
      const jsRun = isGather ? () => jsGather(f32, dim, indices, jsOut) : () => jsBagSum(f32, dim, indices, offsets, jsOut);
      const jsRec = { op, impl: 'js', shape: shapeOf('f32'), threads: 1, isa: 'js', dim, tableRows: rows, indices: n,
        bags: isGather ? undefined : bags, bytes: bytesMoved(op, 'f32', n, bags, dim), roofKind: isGather ? 'copy' : 'read',
        roofGbps: ctx.roof[isGather ? 'copy' : 'read'], shown: ctx.matches(op, 'js', shapeOf('f32')), format: 'f32', tableBytes: f32Bytes };
      await timeImpl(ctx, jsRec, { isRef: true }, { prepare: async () => ({ fn: jsRun }), verify: () => 0, units: n });
      const out = new Float32Array(outLen);
      for (const format of FORMATS) {
        const shape = shapeOf(format);
        const table = tables[format];
        const memory = ek.tableBytes(table);
        if (format !== 'f32') ctx.records.push({ ...jsRec, shape, shown: ctx.matches(op, 'js', shape) });
        // Each format's result against the JS loop over its own dequantized table.
        const plain = format === 'f32' ? f32 : ek.dequantizeTable({ table });
        const ref = new Float32Array(outLen);
        if (isGather) jsGather(plain, dim, indices, ref);
        else jsBagSum(plain, dim, indices, offsets, ref);
        for (const threads of threadCounts) {
          const rec = { op, impl: `embedkit/${isa}`, shape, threads, isa, dim, tableRows: rows, indices: n,
            bags: isGather ? undefined : bags, bytes: bytesMoved(op, format, n, bags, dim), roofKind: jsRec.roofKind,
            roofGbps: jsRec.roofGbps, shown: ctx.matches(op, `embedkit/${isa}`, shape), format, tableBytes: memory,
            memoryVsF32: f32Bytes / memory };
          const run = isGather
            ? () => ek.gather({ table, indices, out })
            : () => ek.embeddingBag({ table, indices, offsets, mode: 'sum', out });
          const prepare = async () => {
            ek.setIsa(isa);
            ek.setThreads(threads);
            out.fill(NaN);
            return { fn: run, note: `table ${(memory / 2 ** 20).toFixed(1)} MiB (f32 / ${(f32Bytes / memory).toFixed(2)})` };
          };
          await timeImpl(ctx, rec, { ek: true, impl: rec.impl, isa, threads }, { prepare, verify: () => (maxAbsDiff(out, ref) <= 1e-4 ? 0 : Infinity), units: n });
        }
        fillRatiosVsJs(ctx.records, op, shape);
      }
      gc();
    }
  }
  await runQrBagRows(ctx);
  await runQrBackwardRows(ctx);
  for (const r of ctx.records) {
    if (!r.op.startsWith('compress/') || r.impl === 'js' || r.combine !== undefined) continue;
    const base = ctx.records.find((b) => b.op === r.op && b.dim === r.dim && b.threads === r.threads && b.format === 'f32' && b.impl === r.impl);
    if (base && Number.isFinite(base.ms)) r.speedVsF32 = base.ms / r.ms;
  }
}

/** Pass / miss lines for the issue's targets, from this run's records. */
export function compressTargets(all, ctx) {
  const lines = [];
  const find = (op, dim, format) => all.find((r) => r.op === op && r.dim === dim && r.format === format &&
    r.impl === `embedkit/${ctx.defaultIsa}` && r.threads === ctx.allThreads && Number.isFinite(r.ms));
  const verdict = (pass) => (pass ? 'PASS' : 'MISS');
  const bag = 'compress/embeddingBag-sum';
  const describe = (r) => `${(r.tableBytes / 2 ** 20).toFixed(1)} MiB = f32 / ${r.memoryVsF32.toFixed(2)}, embeddingBag ${r.speedVsF32.toFixed(2)}x f32`;
  for (const dim of [128, 256]) {
    const r = find(bag, dim, 'q8');
    if (r && r.speedVsF32) lines.push(`${verdict(r.memoryVsF32 >= 3.5 && r.speedVsF32 >= 1)}  q8 dim ${dim}: ${describe(r)} (>= 3.5x smaller, >= 1x speed)`);
    else lines.push(`n/a   q8 dim ${dim} (not measured in this run)`);
  }
  for (const format of ['f16', 'bf16']) {
    const r = find(bag, 128, format);
    if (r && r.speedVsF32) lines.push(`${verdict(r.speedVsF32 >= 1.3)}  ${format} dim 128: ${describe(r)} (>= 1.3x speed)`);
    else lines.push(`n/a   ${format} dim 128 (not measured in this run)`);
  }
  for (const dim of [64, 128, 256]) {
    const r = find(bag, dim, 'q4');
    if (r && r.speedVsF32) lines.push(`${verdict(r.memoryVsF32 >= 6 && r.speedVsF32 >= 1)}  q4 dim ${dim}: ${describe(r)} (>= 6x smaller, >= 1x speed)`);
    else lines.push(`n/a   q4 dim ${dim} (not measured in this run)`);
  }
  return lines;
}
