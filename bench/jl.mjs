// The JL suite: fwht over 256 MiB of rows (32 MiB with --quick) for n = 2^10, 2^12, 2^16,
// 2^20, 2^24 and one row of 2^20; srht / fjlt / sparseProjection on 65,536 rows (8,192 with
// --quick) of d = 768 and 1024 down to k = 128 and 256. Baselines in the same run: a fast
// pure-JS in-place FWHT and a pure-JS dense Gaussian projection (what a user would write),
// each ISA, 1 thread vs all.
//
// Bytes each call must move (the GB/s column): fwht reads and writes every float once,
// 8 * x.length (copy roof); a projection reads x and writes y, 4 * (rows * d + rows * k)
// (copy roof). fwht at small n is compute-bound: n log2 n additions per row, ~log2 n / 2
// per float moved. The JS baselines are timed on a slice of the rows when the whole shape
// would take seconds per call, and scaled to the full shape (rows are independent; noted).
import { fillRandom, fillRatiosVsJs, relativeError as relError, timeImpl } from './common.mjs';

// ---- pure-JS baselines ------------------------------------------------------------------
/** In-place iterative radix-2 FWHT of every row, then the scale: the loop a user writes. */
export function jsFwht(x, n, scale) {
  for (let base = 0; base < x.length; base += n) {
    const end = base + n;
    for (let h = 1; h < n; h *= 2) {
      for (let i = base; i < end; i += 2 * h) {
        for (let j = i; j < i + h; j++) {
          const a = x[j];
          const b = x[j + h];
          x[j] = a + b;
          x[j + h] = a - b;
        }
      }
    }
    if (scale !== 1) for (let j = base; j < end; j++) x[j] *= scale;
  }
}

/** y = G x per row, G a dense k x d Gaussian / sqrt(k) (row-major Float32Array). */
export function jsDenseProject(x, d, g, k, y) {
  const rows = x.length / d;
  for (let r = 0; r < rows; r++) {
    const xo = r * d;
    for (let i = 0; i < k; i++) {
      const go = i * d;
      let acc = 0;
      for (let j = 0; j < d; j++) acc += g[go + j] * x[xo + j];
      y[r * k + i] = acc;
    }
  }
}

function gaussian(k, d, seed) {
  const g = fillRandom(new Float32Array(k * d), seed);
  const u = fillRandom(new Float32Array(k * d), seed + 1);
  const s = 1 / Math.sqrt(k);
  for (let i = 0; i < g.length; i++) {
    g[i] = s * Math.sqrt(-2 * Math.log((g[i] + 1) / 2 + 1e-12)) * Math.cos(Math.PI * u[i]);
  }
  return g;
}

// JS is timed on at most this many floats per call and scaled (a call stays under ~1 s).
const JS_MAX_FLOATS = 1 << 23;

async function runFwhtGroup(ctx, { n, rows, label }) {
  const { ek, roof } = ctx;
  const op = 'fwht';
  const shape = `${rows}x2^${Math.log2(n)}${label ? ` ${label}` : ''}`;
  const total = rows * n;
  const bytes = 8 * total;
  const x0 = fillRandom(ctx.allocTable(total), 0x71);
  const scale = 1 / Math.sqrt(n);
  const jsRows = Math.max(1, Math.min(rows, Math.floor(JS_MAX_FLOATS / n)));
  const jsRef = x0.slice(0, jsRows * n);
  jsFwht(jsRef, n, scale);
  const impls = [{ impl: 'js', threads: 1, isa: 'js', isRef: true }];
  const isas = n <= 4096 ? ctx.isas : [ctx.defaultIsa];
  for (const isa of isas) for (const threads of ctx.threadCounts) impls.push({ impl: `embedkit/${isa}`, threads, isa, ek: true });
  const selected = impls.map((im) => ctx.matches(op, im.impl, shape));
  if (!selected.some(Boolean)) return;
  const x = x0.slice();
  for (let idx = 0; idx < impls.length; idx++) {
    const im = impls[idx];
    if (!im.isRef && !selected[idx]) continue;
    const rec = { op, impl: im.impl, shape, threads: im.threads, isa: im.isa, dim: n, bytes, roofKind: 'copy', roofGbps: roof.copy, shown: selected[idx] };
    let check;
    const prepare = async () => {
      if (im.isRef) {
        const part = x.subarray(0, jsRows * n);
        const factor = rows / jsRows;
        return {
          fn: () => jsFwht(part, n, scale),
          batch: 1 / factor,
          note: factor > 1 ? `timed on ${jsRows} of ${rows} rows, scaled x${factor.toFixed(1)}` : '',
        };
      }
      ek.setIsa(im.isa);
      ek.setThreads(im.threads);
      check = x0.slice(0, jsRows * n);
      ek.fwht({ x: check, n, normalize: true });
      // Orthonormal, so repeated in-place calls keep the values bounded.
      return { fn: () => ek.fwht({ x, n, normalize: true }) };
    };
    await timeImpl(ctx, rec, im, { prepare, verify: () => relError(check, jsRef), units: rows });
  }
  fillRatiosVsJs(ctx.records, op, shape);
  ctx.progress?.(`${op} ${shape}`);
}

async function runProjectGroup(ctx, { rows, d, k, x0, gauss }) {
  const { ek, roof } = ctx;
  const shape = `${rows}x${d}->${k}`;
  const bytes = 4 * (rows * d + rows * k);
  // The dense product costs d * k multiply-adds per row: 1,024 rows keep a JS call near 0.5 s.
  const jsRows = Math.min(rows, 1024);
  const factor = rows / jsRows;
  const ops = [
    ['srht', (o) => ek.srht(o)],
    ['fjlt', (o) => ek.fjlt(o)],
    ['sparseProjection', (o) => ek.sparseProjection(o)],
  ];
  const y = new Float32Array(rows * k);
  for (const [op, call] of ops) {
    const impls = [{ impl: 'js', threads: 1, isa: 'js', isRef: true }];
    for (const isa of ctx.isas) for (const threads of ctx.threadCounts) impls.push({ impl: `embedkit/${isa}`, threads, isa, ek: true });
    const selected = impls.map((im) => ctx.matches(op, im.impl, shape));
    if (!selected.some(Boolean)) continue;
    // The reference for the correctness column: the scalar path's output (the projections
    // differ from a Gaussian one; every ISA must give the same bits).
    let ref;
    for (let idx = 0; idx < impls.length; idx++) {
      const im = impls[idx];
      if (!im.isRef && !selected[idx]) continue;
      // The 'js' record (the ratio's denominator) is the dense Gaussian projection of the shape.
      const rec = { op, impl: im.impl, shape, threads: im.threads, isa: im.isa, dim: d, bytes, roofKind: 'copy', roofGbps: roof.copy, shown: selected[idx] };
      let check;
      const prepare = async () => {
        if (im.isRef) {
          const part = x0.subarray(0, jsRows * d);
          const yp = new Float32Array(jsRows * k);
          return {
            fn: () => jsDenseProject(part, d, gauss, k, yp),
            batch: 1 / factor,
            note: `dense Gaussian ${k}x${d}${factor > 1 ? `; timed on ${jsRows} of ${rows} rows, scaled x${factor.toFixed(1)}` : ''}`,
          };
        }
        ek.setIsa(im.isa);
        ek.setThreads(im.threads);
        const o = { x: x0, inDim: d, outDim: k, seed: 42, out: y };
        check = call({ ...o, x: x0.subarray(0, jsRows * d), out: undefined });
        if (!ref) {
          ek.setIsa('scalar');
          ref = call({ ...o, x: x0.subarray(0, jsRows * d), out: undefined });
          ek.setIsa(im.isa);
        }
        return { fn: () => call(o) };
      };
      await timeImpl(ctx, rec, im, { prepare, verify: () => relError(check, ref), units: rows });
    }
    fillRatiosVsJs(ctx.records, op, shape);
    ctx.progress?.(`${op} ${shape}`);
  }
}

/** The suite. ctx: { ek, quick, profile, roof, matches, records, log, gc, isas, ... }. */
export async function runJlSuite(ctx) {
  const totalFloats = (ctx.quick ? 32 : 256) * 2 ** 20 / 4;
  for (const log2 of [10, 12, 16, 20, 24]) {
    const n = 2 ** log2;
    await runFwhtGroup(ctx, { n, rows: Math.max(1, totalFloats / n) });
    ctx.gc();
  }
  await runFwhtGroup(ctx, { n: 2 ** 20, rows: 1, label: 'single row' });
  ctx.gc();
  const rows = ctx.quick ? 8192 : 65536;
  for (const d of [768, 1024]) {
    const x0 = fillRandom(ctx.allocTable(rows * d), 0x72 + d);
    for (const k of [128, 256]) {
      await runProjectGroup(ctx, { rows, d, k, x0, gauss: gaussian(k, d, 0x73) });
      ctx.gc();
    }
  }
}

/** Target lines for the JL issue, from this run's records. */
export function jlTargets(all, ctx) {
  const lines = [];
  const ekImpl = `embedkit/${ctx.defaultIsa}`;
  const find = (op, shape, impl, threads) => all.find((r) => r.op === op && r.shape === shape && r.impl === impl && r.threads === threads && Number.isFinite(r.ms));
  const fwhtShapes = [...new Set(all.filter((r) => r.op === 'fwht').map((r) => r.shape))];
  for (const shape of fwhtShapes) {
    const one = find('fwht', shape, ekImpl, 1);
    const js = find('fwht', shape, 'js', 1);
    if (one && js) lines.push(`${js.ms / one.ms >= 15 ? 'PASS' : 'MISS'}  fwht ${shape}, 1 thread: ${(js.ms / one.ms).toFixed(1)}x pure JS (>= 15x)`);
    const n = Number(/2\^(\d+)/.exec(shape)?.[1]);
    const all_ = find('fwht', shape, ekImpl, ctx.allThreads);
    if (n <= 12 && all_) {
      lines.push(`${all_.roofPct >= 60 ? 'PASS' : 'MISS'}  fwht ${shape}, ${ctx.allThreads} threads: ${all_.roofPct.toFixed(1)}% of the copy roof (>= 60%; ${all_.gbps.toFixed(2)} GB/s)`);
    }
  }
  if (!fwhtShapes.length) lines.push('n/a   fwht (not measured in this run)');
  const srhtRec = all.find((r) => r.op === 'srht' && /x768->256$/.test(r.shape) && r.impl === ekImpl && r.threads === ctx.allThreads && Number.isFinite(r.ms));
  if (srhtRec) {
    const js = find('srht', srhtRec.shape, 'js', 1);
    if (js) lines.push(`${js.ms / srhtRec.ms >= 20 ? 'PASS' : 'MISS'}  srht ${srhtRec.shape}, ${ctx.allThreads} threads: ${(js.ms / srhtRec.ms).toFixed(1)}x a pure-JS dense Gaussian projection (>= 20x)`);
  } else lines.push('n/a   srht d=768 k=256 (not measured in this run)');
  lines.push('note  fwht vs FFHT (single thread): bash bench/ffht/compare.sh <FFHT checkout> (C drivers, not part of this run)');
  return lines;
}
