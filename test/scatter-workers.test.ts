// worker_threads and the scatter / SpMM family: two workers, each loading the built package
// (dist/cjs), run scatterAdd (plain and with a plan built in the worker), embeddingBagBackward
// (sparse), embeddingBagWeightsBackward and spmm at the same time on shared inputs; the main thread's results must match
// theirs bit for bit (one thread pool per process, each call deterministic).
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { csrFromCoo, embeddingBagBackward, embeddingBagWeightsBackward, scatterAdd, spmm } from '../lib/index';
import { runEvalWorker } from './checks';
import { Rng, firstBitMismatch, freshSeed, offsetsFromLengths, randomIndices, randomLengths, randomTable, randomWeights, toNumbers } from './reference';

const CJS = path.resolve(__dirname, '../dist/cjs/index.js');

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const e = require(${JSON.stringify(CJS)});
const { dst0, dim, idx, src, weights, grad, offsets, numRows, a, b, barrier } = workerData;
(async () => {
  const gate = new Int32Array(barrier);
  Atomics.add(gate, 0, 1);
  Atomics.notify(gate, 0);
  while (Atomics.load(gate, 0) < 2) Atomics.wait(gate, 0, Atomics.load(gate, 0), 50);
  const plain = dst0.slice();
  e.scatterAdd({ dst: plain, dim, indices: idx, src, weights });
  const viaPlan = dst0.slice();
  await e.scatterAddAsync({ dst: viaPlan, dim, plan: e.scatterPlan({ indices: idx, numRows }), src, weights });
  const sparse = await e.embeddingBagBackwardAsync({ gradOutput: grad, dim, indices: idx, offsets, mode: 'mean', numRows, sparse: true });
  const weightsGrad = await e.embeddingBagWeightsBackwardAsync({ gradOutput: grad, table: dst0, dim, indices: idx, offsets, mode: 'mean' });
  const product = await e.spmmAsync({ a, b, dim, reduce: 'sum' });
  const productT = e.spmm({ a, b: dst0, dim, transpose: true });
  parentPort.postMessage({ plain, viaPlan, rows: sparse.rows, values: sparse.values, weightsGrad, product, productT });
})().catch((err) => { throw err; });
`;

function runWorker(workerData: Record<string, unknown>) {
  return runEvalWorker<Record<string, Float32Array | Int32Array>>(WORKER_SOURCE, workerData);
}

describe('worker_threads: scatter / SpMM', () => {
  it('two workers at once match the main thread bit for bit', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 40;
    const numRows = 3000;
    const lengths = randomLengths(rng, 1500, 30);
    const idx = Int32Array.from(randomIndices(rng, lengths.reduce((s, x) => s + x, 0), numRows));
    const offsets = Int32Array.from(offsetsFromLengths(lengths, false));
    const dst0 = randomTable(rng, numRows, dim, true);
    const src = randomTable(rng, idx.length, dim, true);
    const weights = randomWeights(rng, idx.length);
    const grad = randomTable(rng, lengths.length, dim, true);
    const a = csrFromCoo({ rows: Int32Array.from(randomIndices(rng, 20000, numRows)), cols: Int32Array.from(randomIndices(rng, 20000, numRows)), numRows, numCols: numRows });
    const b = randomTable(rng, numRows, dim, true);
    const data = { dst0, dim, idx, src, weights, grad, offsets, numRows, a, b, barrier: new SharedArrayBuffer(4) };
    const [w1, w2] = await Promise.all([runWorker(data), runWorker(data)]);

    const plain = dst0.slice();
    scatterAdd({ dst: plain, dim, indices: idx, src, weights });
    const sparse = embeddingBagBackward({ gradOutput: grad, dim, indices: idx, offsets, mode: 'mean', numRows, sparse: true });
    const weightsGrad = embeddingBagWeightsBackward({ gradOutput: grad, table: dst0, dim, indices: idx, offsets, mode: 'mean' });
    const product = spmm({ a, b, dim });
    const productT = spmm({ a, b: dst0, dim, transpose: true });
    for (const [name, w] of [['worker 1', w1], ['worker 2', w2]] as const) {
      const ctx = `seed=${seed} ${name}`;
      expect(firstBitMismatch(w.plain as Float32Array, plain), `${ctx}: scatterAdd`).toBe(-1);
      expect(firstBitMismatch(w.viaPlan as Float32Array, plain), `${ctx}: scatterAdd with a plan`).toBe(-1);
      expect(toNumbers(w.rows as Int32Array), `${ctx}: sparse rows`).toEqual(toNumbers(sparse.rows));
      expect(firstBitMismatch(w.values as Float32Array, sparse.values), `${ctx}: sparse values`).toBe(-1);
      expect(firstBitMismatch(w.weightsGrad as Float32Array, weightsGrad), `${ctx}: weights gradient`).toBe(-1);
      expect(firstBitMismatch(w.product as Float32Array, product), `${ctx}: spmm`).toBe(-1);
      expect(firstBitMismatch(w.productT as Float32Array, productT), `${ctx}: spmm transpose`).toBe(-1);
    }
  });
});
