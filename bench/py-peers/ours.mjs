// The embedkit side of compare.sh: the peers' ops on the same inputs, timed the same way (a
// warm-up call, then the median of single calls). Usage: node ours.mjs <family> <data dir>
// <threads, e.g. 1,2> <repetitions>. Prints the peers' JSON lines with impl "embedkit ...".
//
// Large inputs go to ek.allocFloat32 (huge-page advice), as NumPy advises its own large
// arrays, where the peers' inputs live. Outputs are fresh per call where the peer's are
// ("fresh"), and also into a kept `out` where the op takes one ("out given").
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const ek = require('../../dist/cjs/index.js');

const [family, data, threadList, repsArg] = process.argv.slice(2);
const threads = threadList.split(',').map(Number);
const reps = Number(repsArg);
const shapes = JSON.parse(readFileSync(path.join(data, 'shapes.json'), 'utf8'));

function load(name, Type) {
  const bytes = readFileSync(path.join(data, name));
  const n = bytes.byteLength / Type.BYTES_PER_ELEMENT;
  const out = Type === Float32Array && n >= 1 << 20 ? ek.allocFloat32(n) : new Type(n);
  new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(bytes);
  return out;
}

// peer_common.py's check_of: the float64 sum of the result and of every 5th element.
function checkOf(x) {
  let all = 0;
  let fifth = 0;
  for (let i = 0; i < x.length; i++) {
    all += x[i];
    if (i % 5 === 0) fifth += x[i];
  }
  return [all, fifth];
}

// The times (ms) of at least `calls` single calls; short ones repeat until 20 ms are spent
// (at most 2,000 calls), so a call of microseconds gets a steady median, not the slowest of
// seven cold ones.
function sample(fn, calls) {
  const times = [];
  let spent = 0;
  while (times.length < calls || (spent < 20 && times.length < 2000)) {
    const t0 = process.hrtime.bigint();
    fn();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    times.push(ms);
    spent += ms;
  }
  return times;
}

// A full GC before each op's timing (compare.sh runs node with --expose-gc): the arrays the
// op before dropped (up to 512 MB each) are freed at once on the peers' side (Python's
// reference counts) but linger here, and V8 then starts collections from the small fresh
// allocations of the next op (pqDistanceTable's 64 KB tables took 50-74 µs a call right
// after three pqDecode calls, 19-21 after a GC, 16 into a kept out).
function collectGarbage() {
  globalThis.gc?.();
}

// The median of `reps` samples after a warm-up of one call, or 20 ms of them for short calls
// (V8 compiles the wrapper's JS over the first thousand or so). peer_common.py's timed does
// the same.
function timed(fn, n = reps) {
  sample(fn, 1);
  const times = sample(fn, n).sort((a, b) => a - b);
  return times[times.length >> 1];
}

/**
 * Times `call` at thread count t and prints it with the check of `result(call())`; with
 * `result` null, no check (the peer computes another function of the input). `reps` caps a
 * long op's samples; `extra(r)` adds fields from one call's result (peer_common.py's emit
 * takes the same).
 */
function emit(op, impl, t, call, result = (r) => r, { reps: n = reps, extra } = {}) {
  collectGarbage();
  const ms = timed(call, n);
  const r = result || extra ? call() : undefined;
  console.log(JSON.stringify({ op, impl, threads: t, ms, check: result ? checkOf(result(r)) : null, ...extra?.(r) }));
}

function scatterFamily() {
  const { rows, dim, bags, perBag, spmmSize: size } = shapes;
  const table = load('table.f32', Float32Array);
  const src = load('src.f32', Float32Array);
  const scatterIdx = { uniform: load('idx_uniform.i32', Int32Array), zipf: load('idx_zipf.i32', Int32Array) };
  const indices = load('bag_idx.i32', Int32Array);
  const offsets = Int32Array.from({ length: bags }, (_, b) => b * perBag);
  const grad = load('grad.f32', Float32Array);
  const argmax = load('argmax.i32', Int32Array);
  const b = load('b.f32', Float32Array);
  const csr = {};
  for (const kind of ['uniform', 'powerlaw']) {
    const part = (name, Type) => load(`csr_${kind}_${name}`, Type);
    csr[kind] = { rowPtr: part('rowptr.i32', Int32Array), colIdx: part('colidx.i32', Int32Array), values: part('values.f32', Float32Array), numRows: size, numCols: size };
  }
  const dst = ek.allocFloat32(rows * dim);
  const tableOut = ek.allocFloat32(rows * dim);
  const back = { gradOutput: grad, dim, indices, offsets, numRows: rows };
  return (t) => {
    for (const [kind, idx] of Object.entries(scatterIdx)) {
      // In place, as index_add_: timed into dst (drifting), checked by one call into zeros.
      const add = () => ek.scatterAdd({ dst, dim, indices: idx, src });
      emit(`scatterAdd ${kind}`, 'embedkit scatterAdd', t, add, () => {
        dst.fill(0);
        return add();
      });
    }
    for (const [mode, extra, op] of [['sum', {}, 'bagBackward sum dense'], ['max', { maxIndices: argmax }, 'bagBackward max dense']]) {
      const o = { ...back, mode, ...extra };
      emit(op, 'embedkit (fresh)', t, () => ek.embeddingBagBackward(o));
      emit(op, 'embedkit (out given)', t, () => ek.embeddingBagBackward({ ...o, out: tableOut }));
    }
    emit('bagBackward sum sparse', 'embedkit sparse: true', t, () => ek.embeddingBagBackward({ ...back, mode: 'sum', sparse: true }), (r) => r.values);
    emit('bagBackward weights', 'embedkit embeddingBagWeightsBackward', t,
      () => ek.embeddingBagWeightsBackward({ gradOutput: grad, table, dim, indices, offsets, mode: 'sum' }));
    for (const [kind, a] of Object.entries(csr)) {
      emit(`spmm ${kind}`, 'embedkit spmm', t, () => ek.spmm({ a, b, dim }));
      emit(`spmm ${kind} transposed`, 'embedkit spmm transpose: true', t, () => ek.spmm({ a, b, dim, transpose: true }));
    }
    emit('gather', 'embedkit gather', t, () => ek.gather({ table, dim, indices }));
    for (const mode of ['sum', 'max']) emit(`embeddingBag ${mode}`, 'embedkit embeddingBag', t, () => ek.embeddingBag({ table, dim, indices, offsets, mode }));
  };
}

function codebookFamily() {
  const { assignRows, assignCodes, pqRows, pqDim: dim, pqM: m, pqBits: bits, pqQueries, pqK: k } = shapes;
  const xAssign = load('assign_x.f32', Float32Array);
  const book = load('assign_book.f32', Float32Array);
  const x = load('pq_x.f32', Float32Array);
  const pq = { dim, m, bits, codebooks: load('pq_codebooks.f32', Float32Array) };
  const codes = ek.pqEncode({ x, pq });
  const queries = x.subarray(0, pqQueries * dim);
  const tables = new Float32Array(pqQueries * m * 2 ** bits);
  if (xAssign.length !== assignRows * dim || book.length !== assignCodes * dim || x.length !== pqRows * dim) throw new Error('codebook data: unexpected sizes');
  // faiss_peer.py's training rows and error: the first 256 x 2^bits rows, 25 iterations.
  const trainX = x.subarray(0, Math.min(pqRows, 256 << bits) * dim);
  const train = () => ek.pqTrain({ x: trainX, dim, m, bits, iterations: 25, seed: 1 });
  const trainingError = (trained) => {
    const decoded = ek.pqDecode({ codes: ek.pqEncode({ x: trainX, pq: trained }), pq: trained });
    let sum = 0;
    for (let i = 0; i < trainX.length; i++) sum += (decoded[i] - trainX[i]) ** 2;
    return sum / trainX.length;
  };
  return (t) => {
    emit('pqTrain', 'embedkit pqTrain', t, train, null, { reps: 3, extra: (trained) => ({ mse: trainingError(trained) }) });
    emit('codebookAssign', 'embedkit codebookAssign', t, () => ek.codebookAssign({ x: xAssign, dim, codebook: book, numCodes: assignCodes }), (r) => r.distances);
    emit('pqEncode', 'embedkit pqEncode', t, () => ek.pqEncode({ x, pq }));
    emit('pqDecode', 'embedkit pqDecode', t, () => ek.pqDecode({ codes, pq }));
    emit('pqDistanceTable', 'embedkit pqDistanceTable (fresh)', t, () => ek.pqDistanceTable({ queries, pq }));
    emit('pqDistanceTable', 'embedkit pqDistanceTable (out given)', t, () => ek.pqDistanceTable({ queries, pq, out: tables }));
    emit('pqScan', 'embedkit pqScan', t, () => ek.pqScan({ queries, codes, pq, k }), (r) => r.distances);
  };
}

// The peers draw their own random matrices (jl_peer.py): time only.
function jlFamily() {
  const { rows, projections } = shapes;
  const xs = {};
  for (const [d] of projections) xs[d] ??= load(`x_${d}.f32`, Float32Array);
  return (t) => {
    for (const [d, k] of projections) {
      const op = `project ${rows}x${d}->${k}`;
      const o = { x: xs[d], inDim: d, outDim: k, seed: 42 };
      emit(op, 'embedkit srht', t, () => ek.srht(o), null);
      emit(op, 'embedkit fjlt', t, () => ek.fjlt(o), null);
      emit(op, 'embedkit sparseProjection (Li)', t, () => ek.sparseProjection(o), null);
      const kept = ek.makeSparseProjection({ inDim: d, outDim: k, seed: 42 });
      emit(op, 'embedkit SparseProjection.apply (Li, R kept)', t, () => kept.apply(xs[d]), null);
    }
  };
}

const families = { scatter: scatterFamily, codebook: codebookFamily, jl: jlFamily };
const run = families[family]();
for (const t of threads) {
  ek.setThreads(t);
  run(t);
}
