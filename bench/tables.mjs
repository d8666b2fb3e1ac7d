// Markdown tables for the README from `npm run bench -- --json <file>` records:
//
//   node bench/tables.mjs <records.json> [<rerun.json> ...]
//
// A later file's record replaces an earlier one's with the same op, shape, impl and thread
// count, so a suite rerun alone (say, after hypervisor steal hit it in the full run) patches
// its cells and nothing else. A cell measured while the VM lost more than 5% of its time to
// steal, or while other processes kept more than 0.3 cores busy, is marked with *. Times are
// medians in ms; "vs JS" / "vs ORT" are the baseline's time over embedkit's, measured in the
// same run.
import { readFileSync } from 'node:fs';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node bench/tables.mjs <records.json> [<rerun.json> ...]');
  process.exit(2);
}

const byKey = new Map();
for (const file of files) {
  for (const r of JSON.parse(readFileSync(file, 'utf8'))) byKey.set(`${r.op}|${r.shape}|${r.impl}|${r.threads}`, r);
}
const records = [...byKey.values()];

function find(op, shape, impl, threads) {
  return records.find((r) => r.op === op && r.shape === shape && r.impl === impl && (threads === undefined || r.threads === threads));
}
// The ISA a caller gets without EMBEDKIT_ISA / setIsa: recorded by the bench since
// 2026-11-28; older records are taken to be the best ISA the run timed.
const ISA_RANK = ['neon', 'avx2', 'avx512'];
function defaultIsaOf(op, shape) {
  const own = records.filter((r) => r.op === op && r.shape === shape && r.impl.startsWith('embedkit/'));
  const recorded = own.find((r) => r.defaultIsa !== undefined);
  if (recorded) return recorded.defaultIsa;
  return own.map((r) => r.isa).sort((a, b) => ISA_RANK.indexOf(b) - ISA_RANK.indexOf(a))[0];
}
/**
 * The default ISA's embedkit record of an op and shape (the bench names it embedkit/<isa>):
 * what a caller gets. The bench also times the other ISAs; a table cell never picks the
 * fastest of them.
 */
function own(op, shape, threads) {
  const isa = defaultIsaOf(op, shape);
  if (isa !== undefined) return find(op, shape, `embedkit/${isa}`, threads);
  // No per-ISA impls (plain C++, e.g. the scatter plan's sort): the one embedkit record.
  return records.find((r) => r.op === op && r.shape === shape && r.threads === threads && r.impl.startsWith('embedkit') && !r.impl.includes('expand'));
}
// The per-call probes (bench/gather.mjs runCallProbe): shapes named tiny or small.
const callProbe = (shape) => shape.startsWith('tiny') || shape.startsWith('small');
const noisy = (r) => r !== undefined && ((r.stealPct ?? 0) > 5 || (r.otherCores ?? 0) > 0.3);
const mark = (r, text) => (noisy(r) ? `${text}\\*` : text);
function num(x, digits = 3) {
  if (x === undefined || !Number.isFinite(x)) return '';
  if (x >= 1000) return Math.round(x).toLocaleString('en-US');
  return x >= 100 ? x.toFixed(0) : x.toPrecision(digits);
}
const ms = (r) => (r === undefined ? '' : mark(r, num(r.ms)));
const rate = (r) => (r === undefined ? '' : mark(r, `${num(r.rowsPerSec / 1e6)}M`));
const ratio = (base, r) => (base === undefined || r === undefined ? '' : mark(r, `${num(base.ms / r.ms)}×`));
const pct = (r) => (r === undefined || r.roofPct === undefined ? '' : mark(r, `${r.roofPct.toFixed(0)}%`));
const shapesOf = (op) => [...new Set(records.filter((r) => r.op === op).map((r) => r.shape))];
function table(header, rows) {
  const out = [`| ${header.join(' | ')} |`, `|${header.map((h, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const row of rows) out.push(`| ${row.join(' | ')} |`);
  return out.join('\n');
}
function section(title, body, note = '') {
  if (body.trim() !== '') console.log(`#### ${title}\n\n${note === '' ? '' : `${note}\n\n`}${body}\n`);
}

// ---- gather and bags --------------------------------------------------------------------
{
  const rows = [];
  for (const op of ['embeddingBag/sum', 'embeddingBag/mean', 'embeddingBag/max', 'embeddingBag/max+argmax', 'embeddingBag/sum+w', 'gather']) {
    for (const shape of shapesOf(op).filter((s) => !callProbe(s))) {
      const two = own(op, shape, 2), one = own(op, shape, 1);
      if (two === undefined) continue;
      const js = find(op, shape, 'js'), ort = find(op, shape, 'ort', 2);
      rows.push([`${op} ${shape}`, ms(two), rate(two), rate(one), mark(two, num(two.gbps)), pct(two), ratio(js, two), ratio(ort, two)]);
    }
  }
  section('Gather and bag pooling', table(['op, table, indices', 'ms (2 thr)', 'rows/s (2 thr)', 'rows/s (1 thr)', 'GB/s', '% roof', 'vs JS', 'vs ORT'], rows),
    'Bags: 16,384 × 32 uniform random `Int32Array` ids per call (524,288 rows); gather: 524,288 ids.\n' +
      '% roof: of the read roof for bags, of the copy roof for gather. vs ORT: onnxruntime-node on 2 threads.');
  // Tiny calls run on one thread whatever the setting; small ones are split in tasks and
  // timed at 2 threads and at 1 as well.
  const tiny = [];
  for (const op of ['embeddingBag/sum', 'gather', 'scatter/add']) {
    for (const shape of shapesOf(op).filter(callProbe)) {
      const r = own(op, shape, 2) ?? own(op, shape, 1), one = shape.startsWith('small') ? own(op, shape, 1) : undefined;
      const js = find(op, shape, 'js'), ort = find(op, shape, 'ort');
      if (r !== undefined) {
        tiny.push([`${op} ${shape}`, mark(r, `${num(r.callsPerSec / 1e3)}k`), mark(r, `${num(r.ms * 1e3)} µs`), one ? mark(one, `${num(one.ms * 1e3)} µs`) : '',
          js ? `${num(js.callsPerSec / 1e3)}k` : '', js ? ratio(js, r) : '', ort ? `${num(ort.callsPerSec / 1e3)}k` : '']);
      }
    }
  }
  section('Per-call overhead', table(['call', 'calls/s', 'per call', 'per call (1 thr)', 'JS loop calls/s', 'vs JS', 'ORT calls/s'], tiny));
}

// ---- compressed tables ------------------------------------------------------------------
{
  const rows = [];
  for (const shape of shapesOf('compress/embeddingBag-sum')) {
    const fmt = shape.split(' ').pop();
    const dim = /x(\d+) /.exec(shape)?.[1];
    const f32Shape = shape.replace(/ \w+$/, ' f32');
    const bag2 = own('compress/embeddingBag-sum', shape, 2), bag1 = own('compress/embeddingBag-sum', shape, 1);
    const f32bag = own('compress/embeddingBag-sum', f32Shape, 2);
    const gShape = shapesOf('compress/gather').find((s) => s.endsWith(` ${fmt}`) && s.includes(`x${dim} `));
    const g2 = gShape && own('compress/gather', gShape, 2);
    const f32g = gShape && own('compress/gather', gShape.replace(/ \w+$/, ' f32'), 2);
    if (bag2 === undefined) continue;
    rows.push([fmt, dim, num(bag2.tableBytes / 2 ** 20, 4), `${num(bag2.memoryVsF32)}×`, ms(bag2), ms(bag1), ratio(f32bag, bag2), g2 ? ms(g2) : '', g2 ? ratio(f32g, g2) : '']);
  }
  section('Compressed tables (embeddingBag sum, 16,384 bags × 32; gather of 524,288 rows; 1,000,000-row tables)',
    table(['format', 'dim', 'table MiB', 'f32 / x', 'bag ms (2 thr)', 'bag ms (1 thr)', 'bag vs f32', 'gather ms (2 thr)', 'gather vs f32'], rows));
  const qr = [];
  for (const shape of shapesOf('compress/qrEmbeddingBag-sum')) {
    const two = own('compress/qrEmbeddingBag-sum', shape, 2), one = own('compress/qrEmbeddingBag-sum', shape, 1);
    const js = find('compress/qrEmbeddingBag-sum', shape, 'js');
    if (two !== undefined) qr.push([shape, js ? num(js.ms) : '', ms(two), ms(one), ratio(js, two)]);
  }
  for (const [op, label] of [['compress/qrEmbeddingBagBackward-sum', 'backward'], ['compress/qrEmbeddingBagWeightsBackward-sum', 'weights']]) {
    for (const shape of shapesOf(op)) {
      const two = own(op, shape, 2), one = own(op, shape, 1);
      const js = find(op, shape, 'js');
      if (two !== undefined) qr.push([`${label} ${shape}`, js ? num(js.ms) : '', ms(two), ms(one), ratio(js, two)]);
    }
  }
  section('qrEmbeddingBag', table(['shape, combine', 'JS ms', 'ms (2 thr)', 'ms (1 thr)', 'vs JS'], qr));
}

// ---- RoPE -------------------------------------------------------------------------------
{
  const rows = [];
  for (const op of ['rope/neox', 'rope/neox+yarn', 'rope/neox+llama3']) {
    for (const shape of shapesOf(op)) {
      const js = find(op, shape, 'js'), ort = find(op, shape, 'ort', 2) ?? find(op, shape, 'ort', 1);
      const impls = ['embedkit/avx512', 'embedkit/avx2', 'embedkit/neon', 'embedkit/avx512+cache', 'embedkit/avx2+cache', 'embedkit/neon+cache'];
      // A CPU with AVX-512 times the AVX2 path too: name the ISA when a shape has both.
      const isaOf = (impl) => impl.split(/[/+]/)[1];
      const isas = new Set(impls.filter((impl) => find(op, shape, impl, 2) !== undefined).map(isaOf));
      for (const impl of impls) {
        const two = find(op, shape, impl, 2);
        if (two === undefined) continue;
        const one = find(op, shape, impl, 1);
        const label = `${op} ${isas.size > 1 ? `[${isaOf(impl)}] ` : ''}${impl.includes('cache') ? '(cos/sin cache) ' : ''}${shape}`;
        if (shape.startsWith('decode')) {
          rows.push([label, mark(two, `${num(two.ms * 1e3)} µs`), '', '', '', mark(two, `${num(two.callsPerSec / 1e3)}k calls/s`), ratio(js, two), ort ? ratio(ort, two) : '']);
        } else {
          rows.push([label, ms(two), one ? ms(one) : '', mark(two, num(two.gbps)), pct(two), '', ratio(js, two), ort ? ratio(ort, two) : '']);
        }
      }
    }
  }
  section('RoPE (in place; vs ORT: RotaryEmbedding on 2 threads where timed, else 1)',
    table(['op', 'ms (2 thr)', 'ms (1 thr)', 'GB/s', '% copy roof', 'decode rate', 'vs JS', 'vs ORT'], rows));
}

// ---- JL ---------------------------------------------------------------------------------
{
  const rows = [];
  for (const op of ['fwht', 'srht', 'fjlt', 'sparseProjection']) {
    for (const shape of shapesOf(op)) {
      const two = own(op, shape, 2), one = own(op, shape, 1);
      const js = find(op, shape, 'js');
      if (two === undefined) continue;
      rows.push([`${op} ${shape}`, ms(two), one ? ms(one) : '', mark(two, num(two.gbps)), pct(two), one ? ratio(js, one) : '']);
    }
  }
  section('JL family (vs JS: 1 thread against the JS loop)', table(['op', 'ms (2 thr)', 'ms (1 thr)', 'GB/s (2 thr)', '% copy roof', 'vs JS'], rows));
}

// ---- scatter / SpMM ---------------------------------------------------------------------
{
  const rows = [];
  for (const op of [...new Set(records.filter((r) => r.op.startsWith('scatter/')).map((r) => r.op))]) {
    for (const shape of shapesOf(op).filter((s) => !callProbe(s))) {
      const two = own(op, shape, 2), one = own(op, shape, 1);
      const js = find(op, shape, 'js');
      if (two === undefined) continue;
      // The default impl's ratio timed in alternation with the JS loop (bench/common.mjs pairedRatio).
      const paired = records.find((r) => r.op === op && r.shape === shape && Number.isFinite(r.pairedRatioVsJs));
      rows.push([`${op.slice('scatter/'.length)} ${shape}`, ms(two), one ? ms(one) : '', rate(two), js ? ratio(js, two) : '',
        paired ? mark(paired, `${num(paired.pairedRatioVsJs)}×`) : '']);
    }
  }
  section('Scatter / SpMM (rows/s: source rows, or nonzeros for spmm; "alternated": JS and embedkit timed in alternating rounds)',
    table(['op, shape', 'ms (2 thr)', 'ms (1 thr)', 'rows/s (2 thr)', 'vs JS (2 thr)', 'vs JS, alternated'], rows));
}

// ---- codebook ---------------------------------------------------------------------------
{
  const rows = [];
  for (const op of ['vqLogits', 'vqLogSumExp', 'vqCrossEntropy', 'vqTopK', 'vqSample', 'codebookAssign', 'pqEncode', 'pqDistanceTable', 'pqScan']) {
    for (const shape of shapesOf(op)) {
      const two = own(op, shape, 2), one = own(op, shape, 1);
      const js = find(op, shape, 'js'), expand = find(op, shape, 'embedkit-expand');
      if (two === undefined) continue;
      rows.push([`${op} ${shape}`, ms(two), one ? ms(one) : '', expand ? ratio(expand, two) : '', js ? ratio(js, two) : '', op === 'vqLogits' ? pct(two) : '']);
    }
  }
  section('Codebook (vs expand: vqLogits then the same op over V codes, in embedkit)',
    table(['op, shape', 'ms (2 thr)', 'ms (1 thr)', 'vs expand', 'vs JS', '% copy roof'], rows));
}
