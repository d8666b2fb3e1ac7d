// The RoPE suite: rope in place on q (tokens x 32 heads x 128) and k (8 KV heads), NeoX,
// prefill (4096 tokens; 1024 with --quick) and decode (1 token, q only: per-call overhead),
// with default, YaRN and Llama-3 frequencies, against a fast pure-JS loop, onnxruntime-node's
// com.microsoft RotaryEmbedding (1 thread and all threads), each ISA, 1 thread vs all.
//
// Bytes each call must move (the GB/s column): every element of q and k read once and
// written once, 2 * (q.length + k.length) * 4 (roof: copy). The angle tables (O(tokens *
// rotaryDim / 2)) are not counted.
import { fillRatiosVsJs, relativeError as relError, timeImpl } from './common.mjs';
import * as ortb from './ort.mjs';

// ---- pure-JS baseline: what a user would write (cos/sin once per token, all heads) ----------
function jsRope(q, numHeads, k, numKv, headDim, positions, invFreq, af, cos, sin) {
  const half = invFreq.length;
  const tokens = positions.length;
  for (let t = 0; t < tokens; t++) {
    const p = positions[t];
    for (let i = 0; i < half; i++) {
      const th = p * invFreq[i];
      cos[i] = af * Math.cos(th);
      sin[i] = af * Math.sin(th);
    }
    for (let pass = 0; pass < 2; pass++) {
      const x = pass === 0 ? q : k;
      const heads = pass === 0 ? numHeads : numKv;
      if (x === null) continue;
      for (let h = 0; h < heads; h++) {
        const b = (t * heads + h) * headDim;
        for (let i = 0; i < half; i++) {
          const x1 = x[b + i];
          const x2 = x[b + half + i];
          const c = cos[i];
          const s = sin[i];
          x[b + i] = x1 * c - x2 * s;
          x[b + half + i] = x2 * c + x1 * s;
        }
      }
    }
  }
}

// ---- onnxruntime com.microsoft RotaryEmbedding, hand-encoded (bench/ort.mjs) ------------------
const rotaryNode = (input, output, numHeads) =>
  ortb.node('RotaryEmbedding', [input, 'pos', 'cos', 'sin'], [output],
    [{ name: 'num_heads', i: numHeads }, { name: 'interleaved', i: 0 }], 'com.microsoft');

/** q [1, S, Hq*D], k [1, S, Hk*D], pos [1, S] int64, cos/sin [P, D/2] -> q_out, k_out. */
export function ortRopeModel(numHeads, numKv, headDim, withK) {
  const { float: F, int64: I64 } = ortb.ELEM;
  const nodes = [rotaryNode('q', 'q_out', numHeads)];
  const inputs = [ortb.valueInfo('q', F, [1, 'S', numHeads * headDim])];
  const outputs = [ortb.valueInfo('q_out', F, [1, 'S', numHeads * headDim])];
  if (withK) {
    nodes.push(rotaryNode('k', 'k_out', numKv));
    inputs.push(ortb.valueInfo('k', F, [1, 'S', numKv * headDim]));
    outputs.push(ortb.valueInfo('k_out', F, [1, 'S', numKv * headDim]));
  }
  inputs.push(ortb.valueInfo('pos', I64, [1, 'S']), ortb.valueInfo('cos', F, ['P', headDim / 2]),
    ortb.valueInfo('sin', F, ['P', headDim / 2]));
  return ortb.model({ nodes, inputs, outputs, irVersion: 8, opsets: [['', 17], ['com.microsoft', 1]] });
}

function fill(a, seed) {
  let s = seed >>> 0 || 1;
  for (let i = 0; i < a.length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    a[i] = s / 2147483648 - 1;
  }
  return a;
}

/** One group: op x shape, every implementation, JS first (the ratio's denominator). */
async function runGroup(ctx, g) {
  const { ek, roof } = ctx;
  const { op, shape, tokens, numHeads, numKv, headDim, scaling, base, decode } = g;
  const withK = numKv > 0;
  const qLen = tokens * numHeads * headDim;
  const kLen = tokens * numKv * headDim;
  const bytes = 2 * (qLen + kLen) * 4;
  const q0 = fill(new Float32Array(qLen), 0x51);
  const k0 = withK ? fill(new Float32Array(kLen), 0x52) : null;
  const positions = Int32Array.from({ length: tokens }, (_, t) => (decode ? 4000 : t));
  const freq = ek.ropeFrequencies({ rotaryDim: headDim, base, scaling });
  const cos = new Float64Array(headDim / 2);
  const sin = new Float64Array(headDim / 2);
  // The reference output (JS on copies) for the correctness column.
  const refQ = q0.slice();
  const refK = withK ? k0.slice() : null;
  jsRope(refQ, numHeads, refK, numKv, headDim, positions, freq.invFreq, freq.attentionFactor, cos, sin);

  const impls = [{ impl: 'js', threads: 1, isa: 'js', isRef: true }];
  const isas = decode || scaling ? [ctx.defaultIsa] : ctx.isas;
  for (const isa of isas) for (const threads of decode ? [ctx.allThreads] : ctx.threadCounts) impls.push({ impl: `embedkit/${isa}`, threads, isa, ek: true });
  // With a precomputed cos/sin cache (ropeCache), as ORT's RotaryEmbedding takes one too.
  if (!scaling) impls.push({ impl: `embedkit/${ctx.defaultIsa}+cache`, threads: ctx.allThreads, isa: ctx.defaultIsa, ek: true, cached: true });
  if (ctx.ortAvailable && !scaling) for (const threads of decode ? [1] : [...new Set([1, ctx.allThreads])]) impls.push({ impl: 'ort', threads, isa: 'ort', ort: true });
  const selected = impls.map((im) => ctx.matches(op, im.impl, shape));
  if (!selected.some(Boolean)) return;
  const batch = decode ? 2000 : 1;

  for (let idx = 0; idx < impls.length; idx++) {
    const im = impls[idx];
    if (!im.isRef && !selected[idx]) continue;
    const rec = {
      op, impl: im.impl, shape, threads: im.threads, isa: im.isa, dim: headDim, tokens, bytes, roofKind: 'copy',
      roofGbps: roof.copy, tiny: decode, shown: selected[idx],
    };
    const q = q0.slice();
    const k = withK ? k0.slice() : undefined;
    let check; // one out-of-place (or fresh) run on the original data, compared with JS
    const prepare = async () => {
      if (im.isRef) {
        return { fn: () => { for (let b = 0; b < batch; b++) jsRope(q, numHeads, k ?? null, numKv, headDim, positions, freq.invFreq, freq.attentionFactor, cos, sin); }, batch };
      }
      if (im.ek) {
        ek.setIsa(im.isa);
        ek.setThreads(im.threads);
        const angles = im.cached
          ? { cache: ek.ropeCache({ rotaryDim: headDim, base, scaling, maxPosition: Math.max(...positions) + 1 }) }
          : { base, scaling };
        const o = { q, k, numHeads, numKvHeads: withK ? numKv : undefined, headDim, positions, layout: 'neox', ...angles };
        const out = new Float32Array(qLen);
        const outK = withK ? new Float32Array(kLen) : undefined;
        ek.rope({ ...o, q: q0, k: k0 ?? undefined, out, outK });
        check = [out, outK];
        return { fn: () => { for (let b = 0; b < batch; b++) ek.rope(o); }, batch };
      }
      const ort = ortb.loadOrt();
      const sess = await ortb.session(`rope-${numHeads}-${numKv}-${headDim}`, im.threads, () => ortRopeModel(numHeads, numKv, headDim, withK));
      const maxPos = Math.max(...positions) + 1;
      const cosCache = new Float32Array(maxPos * headDim / 2);
      const sinCache = new Float32Array(maxPos * headDim / 2);
      for (let p = 0; p < maxPos; p++) for (let i = 0; i < headDim / 2; i++) {
        cosCache[p * headDim / 2 + i] = Math.cos(p * freq.invFreq[i]);
        sinCache[p * headDim / 2 + i] = Math.sin(p * freq.invFreq[i]);
      }
      const feeds = {
        q: new ort.Tensor('float32', q0, [1, tokens, numHeads * headDim]),
        pos: new ort.Tensor('int64', BigInt64Array.from(positions, BigInt), [1, tokens]),
        cos: new ort.Tensor('float32', cosCache, [maxPos, headDim / 2]),
        sin: new ort.Tensor('float32', sinCache, [maxPos, headDim / 2]),
      };
      if (withK) feeds.k = new ort.Tensor('float32', k0, [1, tokens, numKv * headDim]);
      const fetches = { q_out: new ort.Tensor('float32', q, [1, tokens, numHeads * headDim]) };
      if (withK) fetches.k_out = new ort.Tensor('float32', k, [1, tokens, numKv * headDim]);
      let run;
      let ortNote = '';
      try {
        await sess.run(feeds, fetches);
        run = () => sess.run(feeds, fetches);
        check = [q, k];
      } catch {
        const r = await sess.run(feeds);
        check = [r.q_out.data, withK ? r.k_out.data : undefined];
        run = () => sess.run(feeds);
        ortNote = 'ORT allocates its outputs (copy included)';
      }
      return {
        fn: decode ? async () => { for (let b = 0; b < 50; b++) await run(); } : run,
        batch: decode ? 50 : 1,
        note: ortNote,
      };
    };
    const verify = () => Math.max(relError(check[0], refQ), withK ? relError(check[1], refK) : 0);
    await timeImpl(ctx, rec, im, { prepare, verify, units: tokens });
  }
  fillRatiosVsJs(ctx.records, op, shape);
  ctx.progress?.(`${op} ${shape}`);
}

/** The suite. ctx: { ek, quick, profile, roof, matches, records, log, gc, isas, ... }. */
export async function runRopeSuite(ctx) {
  const tokens = ctx.quick ? 1024 : 4096;
  const yarn = { type: 'yarn', factor: 4, originalMaxPosition: 4096 };
  const llama3 = { type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPosition: 8192 };
  const prefill = `${tokens}x(32+8)x128`;
  await runGroup(ctx, { op: 'rope/neox', shape: prefill, tokens, numHeads: 32, numKv: 8, headDim: 128, base: 1e4 });
  ctx.gc();
  await runGroup(ctx, { op: 'rope/neox+yarn', shape: prefill, tokens, numHeads: 32, numKv: 8, headDim: 128, base: 1e4, scaling: yarn });
  await runGroup(ctx, { op: 'rope/neox+llama3', shape: prefill, tokens, numHeads: 32, numKv: 8, headDim: 128, base: 5e5, scaling: llama3 });
  ctx.gc();
  await runGroup(ctx, { op: 'rope/neox', shape: 'decode 1x32x128', tokens: 1, numHeads: 32, numKv: 0, headDim: 128, base: 1e4, decode: true });
  await ortb.releaseSessions();
  ctx.gc();
}

/** Target lines for the RoPE issue, from this run's records. */
export function ropeTargets(all, ctx) {
  const lines = [];
  const ekImpl = `embedkit/${ctx.defaultIsa}`;
  const find = (shapePrefix, impl, threads) => all.find((r) => r.op === 'rope/neox' && r.shape.startsWith(shapePrefix) && r.impl === impl && r.threads === threads && Number.isFinite(r.ms));
  const pre = all.find((r) => r.op === 'rope/neox' && !r.tiny && r.impl === ekImpl && r.threads === ctx.allThreads && Number.isFinite(r.ms));
  if (pre) {
    const js = find(pre.shape, 'js', 1);
    const ort1 = find(pre.shape, 'ort', 1);
    lines.push(`${pre.roofPct >= 70 ? 'PASS' : 'MISS'}  rope prefill ${pre.shape}, ${ctx.allThreads} threads: ${pre.roofPct.toFixed(1)}% of the copy roof (>= 70%; ${pre.gbps.toFixed(2)} GB/s)`);
    if (js) lines.push(`${js.ms / pre.ms >= 3 ? 'PASS' : 'MISS'}  rope prefill vs pure JS: ${(js.ms / pre.ms).toFixed(2)}x (>= 3x)`);
    lines.push(ort1 ? `${ort1.ms / pre.ms >= 6 ? 'PASS' : 'MISS'}  rope prefill vs onnxruntime RotaryEmbedding (1 thread): ${(ort1.ms / pre.ms).toFixed(2)}x (>= 6x)` : 'n/a   rope prefill vs onnxruntime (not measured in this run)');
  } else lines.push('n/a   rope prefill (not measured in this run)');
  for (const [impl, how] of [[ekImpl, 'base'], [`${ekImpl}+cache`, 'cos/sin cache']]) {
    const dec = all.find((r) => r.op === 'rope/neox' && r.tiny && r.impl === impl && Number.isFinite(r.ms));
    if (dec) lines.push(`${dec.callsPerSec >= 500_000 ? 'PASS' : 'MISS'}  rope decode 1x32x128 (${how}): ${Math.round(dec.callsPerSec).toLocaleString('en-US')} calls/s (>= 500,000)`);
    else lines.push(`n/a   rope decode (${how}; not measured in this run)`);
  }
  return lines;
}
