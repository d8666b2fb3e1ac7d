#!/usr/bin/env node
// `npm run bench:gpu [-- --quick] [--json <file>] [--no-torch]`: the GPU benchmark. Same
// JSON record contract as the CPU bench ({op, impl, shape, threads, ms, gbps, roofPct,
// ratioVsJs}; threads and ratioVsJs are null here, ratioVsPeer compares with PyTorch).
// The roof is a device-to-device copy measured in the same run; the peer is PyTorch on the
// same GPU (bench/gpu/torch_peer.py, run by EMBEDKIT_TORCH_PYTHON or python3), timed with
// CUDA events in its own process right after ours.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fillRandom, fmtMs, fmtNum, randomIndices, table } from './common.mjs';
import { spmmPairs, zipfIndices } from './scatter.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { cuda, csrFromCoo, DeviceArray, DeviceVqMap, VqMap } = require(path.join(root, 'dist/cjs/index.js'));

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? args[jsonAt + 1] : undefined;
const withTorch = !args.includes('--no-torch');

if (!cuda.available()) {
  console.log(`bench:gpu: skipped, CUDA is unavailable (${cuda.unavailableReason()})`);
  process.exit(0);
}

// The shapes: a 10,000,000 x 128 table, 262,144 bags x 64; --quick shrinks them.
// RoPE: 32,768 tokens x (32 + 8 KV heads) x 128 (NeoX, in place); FWHT: 1 GiB of rows of
// 2^10, 2^12, 2^14.
const cfg = quick
  ? { rows: 1_000_000, dim: 128, bags: 16_384, perBag: 64, gatherRows: 262_144, copyFloats: 64 << 20, reps: 5, inner: 3,
      ropeTokens: 4096, heads: 32, kvHeads: 8, headDim: 128, fwhtFloats: 1 << 26, fwhtLog2: [10, 12, 14], srhtRows: 65_536,
      scatterRows: 262_144, scatterInto: 1_000_000, spmmSize: 200_000, spmmNnz: 2_000_000, vqRows: 256, vqCodes: 4096, vqTokens: 256_000,
      topK: 50, assignRows: 65_536, assignCodes: 1024, pqVectors: 1_000_000, pqM: 16, pqQueries: 16, pqK: 10 }
  : { rows: 10_000_000, dim: 128, bags: 262_144, perBag: 64, gatherRows: 1_048_576, copyFloats: 256 << 20, reps: 9, inner: 5,
      ropeTokens: 32_768, heads: 32, kvHeads: 8, headDim: 128, fwhtFloats: 1 << 28, fwhtLog2: [10, 12, 14], srhtRows: 1_048_576,
      scatterRows: 4_194_304, scatterInto: 10_000_000, spmmSize: 2_000_000, spmmNnz: 20_000_000,
      vqRows: 1024, vqCodes: 4096, vqTokens: 256_000, topK: 50, assignRows: 1_048_576, assignCodes: 1024,
      pqVectors: 2_000_000, pqM: 16, pqQueries: 64, pqK: 10 };

async function medianMs(fn) {
  fn();
  await cuda.synchronize();
  const times = [];
  for (let r = 0; r < cfg.reps; r++) {
    const t0 = performance.now();
    for (let i = 0; i < cfg.inner; i++) fn();
    await cuda.synchronize();
    times.push((performance.now() - t0) / cfg.inner);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

const device = cuda.devices()[0];
console.log(`device: ${device.name} (compute ${device.computeCapability}, ${(device.totalMemory / 2 ** 30).toFixed(1)} GiB)`);

// The table in 64 MiB pieces: a 5 GB host array would not fit one ArrayBuffer.
const { rows, dim } = cfg;
const tableDev = DeviceArray.empty('float32', rows * dim);
const piece = fillRandom(new Float32Array(16 << 20), 7);
for (let at = 0; at < rows * dim; at += piece.length) tableDev.set(piece.subarray(0, Math.min(piece.length, rows * dim - at)), at);
const indices = DeviceArray.fromHost(randomIndices(cfg.bags * cfg.perBag, rows, 11));
const offsets = DeviceArray.fromHost(Int32Array.from({ length: cfg.bags }, (_, b) => b * cfg.perBag));
const gatherIdx = DeviceArray.fromHost(randomIndices(cfg.gatherRows, rows, 13));
const bagOut = DeviceArray.empty('float32', cfg.bags * dim);
const gatherOut = DeviceArray.empty('float32', cfg.gatherRows * dim);
const copySrc = DeviceArray.empty('float32', cfg.copyFloats);
const copyDst = DeviceArray.empty('float32', cfg.copyFloats);

const records = [];
const rowBytes = dim * 4;
function record(op, shape, ms, bytes, roofGbps) {
  const gbps = bytes / ms / 1e6;
  records.push({ op, impl: 'embedkit-cuda', shape, threads: null, ms, gbps,
    roofPct: roofGbps ? (100 * gbps) / roofGbps : null, ratioVsJs: null, ratioVsPeer: null });
  return gbps;
}

const copyShape = `${cfg.copyFloats} floats`;
const copyMs = await medianMs(() => cuda.copy(copyDst, copySrc));
const roof = record('copy', copyShape, copyMs, 2 * cfg.copyFloats * 4, null);
records[0].roofPct = 100;

const gatherShape = `${cfg.gatherRows} of ${rows}x${dim}`;
const gMs = await medianMs(() => cuda.gather({ table: tableDev, dim, indices: gatherIdx, out: gatherOut }));
record('gather', gatherShape, gMs, cfg.gatherRows * (2 * rowBytes + 4), roof);

const bagShape = `${cfg.bags}x${cfg.perBag} of ${rows}x${dim}`;
for (const mode of ['sum', 'mean', 'max']) {
  const ms = await medianMs(() => cuda.embeddingBag({ table: tableDev, dim, indices, offsets, mode, out: bagOut }));
  // Every index reads one row (and the index); each bag writes one row.
  record(`embeddingBag ${mode}`, bagShape, ms, cfg.bags * cfg.perBag * (rowBytes + 4) + cfg.bags * rowBytes, roof);
}
// The gradient with respect to per-sample weights over the same bags: each index reads its
// table row (and the index) and its bag's gradient row (cached), and writes one float.
{
  const gradDev = DeviceArray.empty('float32', cfg.bags * dim);
  gradDev.set(fillRandom(new Float32Array(cfg.bags * dim), 17), 0);
  const weightsGrad = DeviceArray.empty('float32', cfg.bags * cfg.perBag);
  const ms = await medianMs(() => cuda.embeddingBagWeightsBackward({
    gradOutput: gradDev, table: tableDev, dim, indices, offsets, mode: 'sum', out: weightsGrad,
  }));
  record('embeddingBag weights backward', bagShape, ms, cfg.bags * cfg.perBag * (rowBytes + 8) + cfg.bags * rowBytes, roof);
  // The table's gradient, dense, over the same bags: the whole numRows x dim output is zeroed
  // (written once), each index reads its bag's gradient row and adds it to its row.
  const tableGrad = DeviceArray.empty('float32', rows * dim);
  const backMs = await medianMs(() => cuda.embeddingBagBackward({
    gradOutput: gradDev, dim, indices, offsets, mode: 'sum', numRows: rows, out: tableGrad,
  }));
  record('embeddingBag backward sum', bagShape, backMs, rows * rowBytes + cfg.bags * cfg.perBag * (2 * rowBytes + 4), roof);
  for (const a of [gradDev, weightsGrad, tableGrad]) a.dispose();
}
for (const a of [tableDev, indices, offsets, gatherIdx, bagOut, gatherOut]) a.dispose();

// RoPE prefill, in place: q and k are read and written once.
{
  const { ropeTokens: tokens, heads, kvHeads, headDim } = cfg;
  const q = DeviceArray.empty('float32', tokens * heads * headDim);
  const k = DeviceArray.empty('float32', tokens * kvHeads * headDim);
  const piece = fillRandom(new Float32Array(1 << 22), 17);
  for (const x of [q, k]) for (let at = 0; at < x.length; at += piece.length) x.set(piece.subarray(0, Math.min(piece.length, x.length - at)), at);
  const ms = await medianMs(() => cuda.rope({ q, k, numHeads: heads, numKvHeads: kvHeads, headDim, offset: 0, layout: 'neox', base: 1e4 }));
  record('rope neox', `${tokens}x(${heads}+${kvHeads})x${headDim}`, ms, 2 * (q.length + k.length) * 4, roof);
  q.dispose();
  k.dispose();
}

// FWHT over the same 1 GiB (in place, so every repetition transforms the previous result:
// the values grow, which does not change the arithmetic's speed).
{
  const x = DeviceArray.empty('float32', cfg.fwhtFloats);
  const piece = fillRandom(new Float32Array(1 << 22), 19);
  for (let at = 0; at < x.length; at += piece.length) x.set(piece, at);
  for (const log2n of cfg.fwhtLog2) {
    const n = 2 ** log2n;
    const ms = await medianMs(() => cuda.fwht({ x, n, normalize: true }));
    record(`fwht n=2^${log2n}`, `${cfg.fwhtFloats / n}x${n}`, ms, 2 * cfg.fwhtFloats * 4, roof);
  }
  x.dispose();
}
// SRHT of rows of 768 to 256 (the shape): reads 768 floats and writes 256 per row.
{
  const x = DeviceArray.empty('float32', cfg.srhtRows * 768);
  const piece = fillRandom(new Float32Array(768 * 4096), 23);
  for (let at = 0; at < x.length; at += piece.length) x.set(piece.subarray(0, Math.min(piece.length, x.length - at)), at);
  const out = DeviceArray.empty('float32', cfg.srhtRows * 256);
  const ms = await medianMs(() => cuda.srht({ x, inDim: 768, outDim: 256, seed: 42, out }));
  record('srht 768->256', `${cfg.srhtRows}x768`, ms, cfg.srhtRows * (768 + 256) * 4, roof);
  x.dispose();
  out.dispose();
}
// scatterAdd (uniform and Zipf(1.1) destinations) and spmm (random and power-law), dim 128:
// each scattered row reads its source row and reads + writes its destination row; each
// nonzero reads a row of b, each output row is written once.
{
  const { scatterRows: n, scatterInto: into } = cfg;
  const dst = DeviceArray.empty('float32', into * 128);
  const src = DeviceArray.empty('float32', n * 128);
  const piece = fillRandom(new Float32Array(1 << 22), 29);
  for (let at = 0; at < src.length; at += piece.length) src.set(piece.subarray(0, Math.min(piece.length, src.length - at)), at);
  for (const [name, ids] of [['uniform', randomIndices(n, into, 31)], ['zipf1.1', zipfIndices(n, into, 1.1, 37)]]) {
    const indices = DeviceArray.fromHost(ids);
    const ms = await medianMs(() => cuda.scatterAdd({ dst, dim: 128, indices, src }));
    record(`scatterAdd ${name}`, `${n}x128 into ${into}`, ms, n * 3 * 512, roof);
    indices.dispose();
  }
  dst.dispose();
  src.dispose();
  const size = cfg.spmmSize, nnz = cfg.spmmNnz;
  const b = DeviceArray.empty('float32', size * 128);
  for (let at = 0; at < b.length; at += piece.length) b.set(piece.subarray(0, Math.min(piece.length, b.length - at)), at);
  const out = DeviceArray.empty('float32', size * 128);
  // The CPU suite's matrices at this size: nnz distinct pairs each (spmmPairs); the power-law
  // draw repeats pairs, which csrFromCoo would merge (20 M Zipf(1.1) draws over 2 M rows:
  // 8,663,879 nonzeros).
  for (const [kind, pairs] of spmmPairs(nnz, size)) {
    const name = kind === 'uniform' ? 'random' : 'power-law';
    const csr = csrFromCoo({ ...pairs(), numRows: size, numCols: size });
    const a = { rowPtr: DeviceArray.fromHost(csr.rowPtr), colIdx: DeviceArray.fromHost(csr.colIdx), numRows: size, numCols: size };
    const ms = await medianMs(() => cuda.spmm({ a, b, dim: 128, out }));
    record(`spmm ${name}`, `${size}^2, ${csr.colIdx.length} nnz x128`, ms, csr.colIdx.length * (512 + 4) + size * 512, roof);
    a.rowPtr.dispose();
    a.colIdx.dispose();
  }
  b.dispose();
  out.dispose();
}
// VQ-Logits, B x K code logits for V tokens: the expansion writes B x V floats; the O(K)
// log-partition reads B x K (its speed is compared with PyTorch expanding and reducing).
{
  const { vqRows: b, vqCodes: k, vqTokens: v } = cfg;
  const codes = randomIndices(v, k, 59);
  const map = DeviceVqMap.fromHost(new VqMap({ tokenToCode: codes, numCodes: k }));
  const codeLogits = DeviceArray.fromHost(fillRandom(new Float32Array(b * k), 61));
  const expanded = DeviceArray.empty('float32', b * v);
  const shape = `B ${b}, K ${k}, V ${v}`;
  record('vqLogits', shape, await medianMs(() => cuda.vqLogits({ codeLogits, map, out: expanded })), b * v * 4 + v * 4, roof);
  const outs = [];
  record('vqLogSumExp', shape, await medianMs(() => outs.push(cuda.vqLogSumExp({ codeLogits, map }))), b * k * 4, roof);
  // Top-k ranks all V tokens by a radix sort of 64-bit keys: bytes = the keys written, read
  // and sorted once (a lower bound on its traffic).
  record(`vqTopK k=${cfg.topK}`, shape, await medianMs(() => {
    const r = cuda.vqTopK({ codeLogits, map, k: cfg.topK });
    outs.push(r.ids, r.logProbs);
  }), b * v * 8 * 3, roof);
  for (const a of [...outs, map, codeLogits, expanded]) a.dispose();
}
// codebookAssign (dim 128, l2) and the product quantizer's scan (m subspaces of 8 bits over
// pqVectors codes, pqQueries queries, top pqK): the assignment is compute-bound (its bytes
// are the rows and codes read once), the scan reads every code once per query.
{
  const { assignRows: n, assignCodes: k } = cfg;
  const x = DeviceArray.fromHost(fillRandom(new Float32Array(n * 128), 67));
  const codebook = DeviceArray.fromHost(fillRandom(new Float32Array(k * 128), 71));
  const outs = [];
  record('codebookAssign', `${n} x 128, ${k} codes`, await medianMs(() => {
    const r = cuda.codebookAssign({ x, dim: 128, codebook, numCodes: k });
    outs.push(r.codes, r.distances);
  }), (n + k) * 512, roof);
  const { pqVectors: nv, pqM: m, pqQueries: nq, pqK: topK } = cfg;
  const codes = DeviceArray.fromHost(Uint8Array.from(randomIndices(nv * m, 256, 73)));
  const pq = { dim: 128, m, bits: 8, codebooks: DeviceArray.fromHost(fillRandom(new Float32Array(256 * 128), 79)) };
  const queries = DeviceArray.fromHost(fillRandom(new Float32Array(nq * 128), 83));
  const tables = cuda.pqDistanceTable({ queries, pq });
  record(`pqScan k=${topK}`, `${nv} codes x ${m}, ${nq} queries`, await medianMs(() => {
    const r = cuda.pqScan({ tables, codes, pq, k: topK });
    outs.push(r.ids, r.distances);
  }), nq * nv * m, roof);
  for (const a of [...outs, x, codebook, codes, pq.codebooks, queries, tables]) a.dispose();
}
for (const a of [copySrc, copyDst]) a.dispose();
await cuda.synchronize();

let peerNote = '';
if (withTorch) {
  const python = process.env.EMBEDKIT_TORCH_PYTHON || 'python3';
  const run = spawnSync(python, [path.join(root, 'bench/gpu/torch_peer.py'), JSON.stringify(cfg)], { encoding: 'utf8' });
  if (run.status !== 0) {
    peerNote = `PyTorch peer failed (${python}): ${(run.stderr || run.error?.message || '').trim().split('\n').pop()}`;
  } else {
    for (const line of run.stdout.trim().split('\n')) {
      const r = JSON.parse(line);
      if (r.note) {
        console.log(`peer note: ${r.note}`);
        continue;
      }
      if (r.device) {
        peerNote = `peer: PyTorch ${r.torch} on ${r.device}`;
        continue;
      }
      // "rope neox (torch.compile)" is a second peer of "rope neox": ours is compared with the faster.
      const ours = records.find((x) => x.impl === 'embedkit-cuda' && x.op === r.op.replace(/ \(.*\)$/, ''));
      const bytes = ours ? (ours.gbps * ours.ms * 1e6) : 0;
      const gbps = bytes / r.ms / 1e6;
      records.push({ op: r.op, impl: 'torch', shape: ours?.shape ?? r.shape, threads: null, ms: r.ms, gbps,
        roofPct: (100 * gbps) / roof, ratioVsJs: null, ratioVsPeer: null });
      if (ours) ours.ratioVsPeer = Math.min(ours.ratioVsPeer ?? Infinity, r.ms / ours.ms);
    }
  }
}

console.log(table(['op', 'impl', 'shape', 'ms', 'GB/s', '% roof', 'torch ms / ours'],
  records.map((r) => [r.op, r.impl, r.shape, fmtMs(r.ms), fmtNum(r.gbps), fmtNum(r.roofPct), r.ratioVsPeer ? `${r.ratioVsPeer.toFixed(2)}x` : '-'])));
if (peerNote) console.log(peerNote);
if (jsonFile) fs.writeFileSync(jsonFile, JSON.stringify(records, null, 2));
