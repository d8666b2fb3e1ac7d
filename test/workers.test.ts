// worker_threads: each worker loads the built package (dist/cjs) itself and calls
// embeddingBag / gather at the same moment as the other worker (a shared barrier), on a
// SharedArrayBuffer table; the main thread compares with its own results bit for bit.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { embeddingBag, embeddingBagAsync, gather, type PoolMode } from '../lib/index';
import { expectBagClose, runEvalWorker } from './checks';
import { Rng, firstBitMismatch, freshSeed, offsetsFromLengths, randomIndices, randomLengths, randomTable } from './reference';

const CJS = path.resolve(__dirname, '../dist/cjs/index.js');

// Runs in each worker: waits at the barrier, then computes every mode `rounds` times (sync
// and async alternately), checks its own rounds agree, and posts the last results.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const e = require(${JSON.stringify(CJS)});
const { table, dim, indices, offsets, barrier, rounds, modes } = workerData;
(async () => {
  const gate = new Int32Array(barrier);
  Atomics.add(gate, 0, 1);
  Atomics.notify(gate, 0);
  while (Atomics.load(gate, 0) < 2) Atomics.wait(gate, 0, Atomics.load(gate, 0), 50);
  const results = {};
  for (let r = 0; r < rounds; r++) {
    for (const mode of modes) {
      const o = { table, dim, indices, offsets, mode };
      const got = r % 2 === 0 ? e.embeddingBag(o) : await e.embeddingBagAsync(o);
      if (results[mode]) {
        const a = new Uint32Array(results[mode].buffer), b = new Uint32Array(got.buffer);
        for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) throw new Error('round ' + r + ' ' + mode + ' differs at ' + i);
      }
      results[mode] = got;
    }
  }
  results.gather = e.gather({ table, dim, indices });
  parentPort.postMessage({ results, caps: e.capabilities() });
})().catch((err) => { throw err; });
`;

function runWorker(workerData: Record<string, unknown>) {
  return runEvalWorker<{ results: Record<string, Float32Array>; caps: { isa: string } }>(WORKER_SOURCE, workerData);
}

describe('worker_threads', () => {
  it('two workers compute embeddingBag and gather at the same time, identical to the main thread', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 96;
    const rows = 4000;
    const table = randomTable(rng, rows, dim, true); // shared, not copied into the workers
    const lengths = randomLengths(rng, 4000, 40);
    const idx = randomIndices(rng, lengths.reduce((s, x) => s + x, 0), rows);
    const indices = Int32Array.from(idx);
    const offsets = Int32Array.from(offsetsFromLengths(lengths, false));
    const modes: PoolMode[] = ['sum', 'mean', 'max'];
    const barrier = new SharedArrayBuffer(4);
    const data = { table, dim, indices, offsets, barrier, rounds: 6, modes };

    const [a, b] = await Promise.all([runWorker(data), runWorker(data)]);

    for (const mode of modes) {
      const mine = embeddingBag({ table, dim, indices, offsets, mode });
      for (const [name, w] of [['worker A', a], ['worker B', b]] as const) {
        expect(firstBitMismatch(w.results[mode], mine), `seed=${seed} ${name} ${mode}`).toBe(-1);
      }
      expectBagClose(mine, { table, dim, indices, offsets, mode }, `seed=${seed} main ${mode}`);
    }
    const g = gather({ table, dim, indices });
    expect(firstBitMismatch(a.results.gather, g), `seed=${seed} worker A gather`).toBe(-1);
    expect(firstBitMismatch(b.results.gather, g), `seed=${seed} worker B gather`).toBe(-1);
    expect(a.caps.isa).toBe(b.caps.isa);
  });

  it('the main thread keeps computing correctly while workers run', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 64;
    const table = randomTable(rng, 3000, dim, true);
    const lengths = randomLengths(rng, 3000, 30);
    const indices = Int32Array.from(randomIndices(rng, lengths.reduce((s, x) => s + x, 0), 3000));
    const offsets = Int32Array.from(offsetsFromLengths(lengths, false));
    const expected = embeddingBag({ table, dim, indices, offsets, mode: 'mean' });
    const barrier = new SharedArrayBuffer(4);
    const workers = Promise.all([
      runWorker({ table, dim, indices, offsets, barrier, rounds: 8, modes: ['mean'] }),
      runWorker({ table, dim, indices, offsets, barrier, rounds: 8, modes: ['mean'] }),
    ]);
    for (let r = 0; r < 20; r++) {
      const got = r % 2 ? embeddingBag({ table, dim, indices, offsets, mode: 'mean' }) : await embeddingBagAsync({ table, dim, indices, offsets, mode: 'mean' });
      expect(firstBitMismatch(got, expected), `seed=${seed} main round ${r}`).toBe(-1);
    }
    for (const w of await workers) expect(firstBitMismatch(w.results.mean, expected), `seed=${seed} worker`).toBe(-1);
  });

  // Run in a child process: a native abort here must fail this test, not kill the runner.
  it.each(['embeddingBagAsync', 'gatherAsync'])('terminating a worker with %s calls in flight does not crash the process', (op) => {
    const script = `
      const { Worker } = require('node:worker_threads');
      const e = require(${JSON.stringify(CJS)});
      const source = \`
        const { parentPort } = require('node:worker_threads');
        const e = require(${JSON.stringify(CJS)});
        const dim = 128, rows = 5000;
        const table = new Float32Array(rows * dim).fill(0.5);
        const indices = new Int32Array(400000).map((_, i) => i % rows);
        const offsets = new Int32Array(100).map((_, i) => i * 4000);
        for (let i = 0; i < 16; i++) e.${op}({ table, dim, indices, offsets, mode: 'sum' });
        parentPort.postMessage('started');
      \`;
      const w = new Worker(source, { eval: true });
      w.once('message', async () => {
        await w.terminate();
        const r = await e.embeddingBagAsync({ table: Float32Array.of(1, 2, 3, 4), dim: 2, indices: Int32Array.of(0, 1), offsets: Int32Array.of(0), mode: 'sum' });
        process.stdout.write('ok ' + Array.from(r).join(','));
      });
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect({ status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.slice(0, 500) }).toEqual({
      status: 0,
      signal: null,
      stdout: 'ok 4,6',
      stderr: '',
    });
  });

  // In a child process whose main thread never loads the addon: a worker loads it, runs a
  // threaded gather (the pool starts its threads), and exits; the pool must go with it.
  it.skipIf(process.platform !== 'linux')('a worker that loaded the addon alone leaves no pool threads behind when it exits', () => {
    const script = `
      const { Worker } = require('node:worker_threads');
      const fs = require('node:fs');
      const threads = () => parseInt(fs.readFileSync('/proc/self/status', 'utf8').split('Threads:')[1], 10);
      const source = \`
        const { parentPort } = require('node:worker_threads');
        const fs = require('node:fs');
        const e = require(${JSON.stringify(CJS)});
        e.setThreads(3);
        const table = new Float32Array(4000 * 64).fill(1);
        const indices = new Int32Array(400000).map((_, i) => (i * 7) % 4000);
        e.gather({ table, dim: 64, indices });
        parentPort.postMessage(parseInt(fs.readFileSync('/proc/self/status', 'utf8').split('Threads:')[1], 10));
      \`;
      // A first worker, started and gone, for the baseline; the OS thread of an exited worker
      // can outlive its 'exit' event briefly, so every count waits a moment.
      const w0 = new Worker('0', { eval: true });
      w0.on('exit', () => setTimeout(() => {
        const before = threads();
        const w = new Worker(source, { eval: true });
        let during = 0;
        w.on('message', (n) => { during = n; });
        w.on('exit', () => setTimeout(() => process.stdout.write(JSON.stringify({ before, during, after: threads() })), 300));
      }, 300));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    const { before, during, after } = JSON.parse(r.stdout) as { before: number; during: number; after: number };
    expect(during, 'the worker and the pool threads while it runs').toBeGreaterThanOrEqual(before + 3);
    expect(after, 'after the worker exits').toBe(before);
  });
});
