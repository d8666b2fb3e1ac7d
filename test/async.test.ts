// gatherAsync / embeddingBagAsync: same bits as the sync forms, errors as rejections (never a
// synchronous throw), many calls in flight at once, and inputs the caller drops while a call
// is in flight (the binding must keep them alive until the promise settles).
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { embeddingBag, embeddingBagAsync, gather, gatherAsync, type EmbeddingBagOptions, type GatherOptions } from '../lib/index';
import { expectBagClose } from './checks';
import {
  BOUNDS_KINDS,
  INDEX_KINDS,
  MODES,
  Rng,
  bagOptions,
  firstBitMismatch,
  firstNaN,
  freshSeed,
  makeIndexArray,
  poisoned,
  randomIndices,
  randomLengths,
  randomTable,
  randomWeights,
} from './reference';

const CJS = path.resolve(__dirname, '../dist/cjs/index.js');

function randomBag(rng: Rng, dim: number, rows: number, bags: number) {
  const table = randomTable(rng, rows, dim);
  const lengths = randomLengths(rng, bags, 30);
  const indices = randomIndices(rng, lengths.reduce((s, x) => s + x, 0), rows);
  return { table, lengths, indices };
}

describe('results equal the sync forms', () => {
  it('embeddingBagAsync: every mode, bounds form and index type; out given and fresh', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const mode of MODES) {
      for (const bounds of BOUNDS_KINDS) {
        for (const kind of INDEX_KINDS) {
          const dim = rng.pick([1, 17, 128, 129]);
          const { table, lengths, indices } = randomBag(rng, dim, 200, 50);
          const weights = mode !== 'max' && rng.bool() ? randomWeights(rng, indices.length) : undefined;
          const paddingIdx = rng.bool() ? indices[0] : undefined;
          const o = bagOptions({ table, dim, mode, weights, paddingIdx }, indices, lengths, bounds, kind);
          const ctx = `seed=${seed} ${mode} ${bounds} ${kind} dim=${dim}`;
          const sync = embeddingBag(o);
          const promise = embeddingBagAsync(o);
          expect(promise, ctx).toBeInstanceOf(Promise);
          const fresh = await promise;
          expect(firstBitMismatch(fresh, sync), `${ctx} fresh`).toBe(-1);
          const out = poisoned(sync.length);
          const given = await embeddingBagAsync({ ...o, out });
          expect(given === out, `${ctx} resolves to the given out`).toBe(true);
          expect(firstBitMismatch(out, sync), `${ctx} out`).toBe(-1);
          expectBagClose(fresh, o, ctx);
        }
      }
    }
  });

  it('gatherAsync: every index type; out given and fresh', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    for (const kind of INDEX_KINDS) {
      for (const dim of [1, 7, 64, 300]) {
        const table = randomTable(rng, 100, dim);
        const indices = makeIndexArray(kind, randomIndices(rng, 500, 100));
        const sync = gather({ table, dim, indices });
        const fresh = await gatherAsync({ table, dim, indices });
        expect(firstBitMismatch(fresh, sync), `seed=${seed} ${kind} dim=${dim}`).toBe(-1);
        const out = poisoned(sync.length);
        expect((await gatherAsync({ table, dim, indices, out })) === out).toBe(true);
        expect(firstNaN(out)).toBe(-1);
        expect(firstBitMismatch(out, sync), `seed=${seed} ${kind} dim=${dim} out`).toBe(-1);
      }
    }
  });

  it('empty inputs resolve to empty arrays', async () => {
    const table = Float32Array.of(1, 2, 3);
    expect((await gatherAsync({ table, dim: 3, indices: new Int32Array(0) })).length).toBe(0);
    expect((await embeddingBagAsync({ table, dim: 3, indices: new Int32Array(0), offsets: new Int32Array(0), mode: 'sum' })).length).toBe(0);
    expect(Array.from(await embeddingBagAsync({ table, dim: 3, indices: new Int32Array(0), lengths: Int32Array.of(0), mode: 'max' }))).toEqual([0, 0, 0]);
  });
});

describe('bad input rejects, never throws synchronously', () => {
  const table = Float32Array.of(1, 2, 3, 4, 5, 6);
  const cases: Array<[string, () => Promise<unknown>, ErrorConstructor, RegExp]> = [
    ['gatherAsync(null)', () => gatherAsync(null as unknown as GatherOptions), TypeError, /gatherAsync|gather expects an options object/],
    ['embeddingBagAsync(42)', () => embeddingBagAsync(42 as unknown as EmbeddingBagOptions), TypeError, /embeddingBagAsync expects an options object, got number/],
    ['index out of range', () => gatherAsync({ table, dim: 2, indices: Int32Array.of(0, 3) }), RangeError, /indices\[1\] = 3 is out of range for a table of 3 rows/],
    ['Float64Array table', () => gatherAsync({ table: new Float64Array(4) as unknown as Float32Array, dim: 2, indices: Int32Array.of(0) }), TypeError, /table must be a Float32Array, got Float64Array/],
    ['dim 0', () => gatherAsync({ table, dim: 0, indices: Int32Array.of(0) }), RangeError, /dim must be from 1/],
    ['unknown mode', () => embeddingBagAsync({ table, dim: 2, indices: Int32Array.of(0), offsets: Int32Array.of(0), mode: 'avg' as 'sum' }), TypeError, /mode must be one of 'sum', 'mean', 'max', got 'avg'/],
    ['offsets and lengths', () => embeddingBagAsync({ table, dim: 2, indices: Int32Array.of(0), offsets: Int32Array.of(0), lengths: Int32Array.of(1), mode: 'sum' }), TypeError, /exactly one of offsets and lengths/],
    ['bad offsets', () => embeddingBagAsync({ table, dim: 2, indices: Int32Array.of(0), offsets: Int32Array.of(1), mode: 'sum' }), RangeError, /offsets\[0\] = 1: the first bag must start at 0/],
    ['weights with max', () => embeddingBagAsync({ table, dim: 2, indices: Int32Array.of(0), offsets: Int32Array.of(0), mode: 'max', weights: Float32Array.of(1) }), TypeError, /weights are supported with mode 'sum' and 'mean', not 'max'/],
    ['out too short', () => embeddingBagAsync({ table, dim: 2, indices: Int32Array.of(0), offsets: Int32Array.of(0), mode: 'sum', out: new Float32Array(1) }), RangeError, /out\.length must be 2/],
  ];
  it.each(cases)('%s', async (_name, call, cls, message) => {
    let promise: Promise<unknown> | undefined;
    expect(() => {
      promise = call();
    }, 'no synchronous throw').not.toThrow();
    expect(promise).toBeInstanceOf(Promise);
    await expect(promise).rejects.toThrow(cls);
    await expect(call()).rejects.toThrow(message);
  });

  it('a rejected call writes nothing into out', async () => {
    const out = Float32Array.of(7, 7);
    await expect(embeddingBagAsync({ table, dim: 2, indices: Int32Array.of(5), offsets: Int32Array.of(0), mode: 'sum', out })).rejects.toThrow(RangeError);
    expect(Array.from(out)).toEqual([7, 7]);
  });
});

describe('concurrency', () => {
  it('200 concurrent calls (mixed ops, shapes and modes) each settle with their own correct result', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const jobs: Array<{ promise: Promise<Float32Array>; expected: Float32Array; ctx: string }> = [];
    for (let j = 0; j < 200; j++) {
      const dim = rng.pick([3, 16, 33, 128]);
      const { table, lengths, indices } = randomBag(rng, dim, 300, rng.int(1, 200));
      if (j % 4 === 3) {
        const idx = makeIndexArray(rng.pick(INDEX_KINDS), indices);
        jobs.push({ promise: gatherAsync({ table, dim, indices: idx }), expected: gather({ table, dim, indices: idx }), ctx: `job ${j} gather` });
      } else {
        const mode = rng.pick(MODES);
        const o = bagOptions({ table, dim, mode }, indices, lengths, rng.pick(BOUNDS_KINDS), rng.pick(INDEX_KINDS));
        jobs.push({ promise: embeddingBagAsync(o), expected: embeddingBag(o), ctx: `job ${j} ${mode}` });
      }
    }
    const results = await Promise.all(jobs.map((j) => j.promise));
    results.forEach((r, i) => expect(firstBitMismatch(r, jobs[i].expected), `seed=${seed} ${jobs[i].ctx}`).toBe(-1));
  });

  it('async calls interleaved with sync calls on the same inputs', async () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const dim = 128;
    const { table, lengths, indices } = randomBag(rng, dim, 5000, 5000);
    const o = bagOptions({ table, dim, mode: 'mean' }, indices, lengths, 'offsets', 'int32');
    const expected = embeddingBag(o);
    const pending = Array.from({ length: 8 }, () => embeddingBagAsync(o));
    for (let i = 0; i < 8; i++) expect(firstBitMismatch(embeddingBag(o), expected), `seed=${seed} sync ${i}`).toBe(-1);
    for (const r of await Promise.all(pending)) expect(firstBitMismatch(r, expected), `seed=${seed} async`).toBe(-1);
  });
});

describe('inputs dropped by the caller stay alive until the call settles', () => {
  const gc = (globalThis as { gc?: () => void }).gc;

  /** Starts calls whose arrays are only reachable from the pending promises. */
  function startDropped(seed: number, count: number) {
    const rng = new Rng(seed);
    const expected: Float32Array[] = [];
    const promises: Promise<Float32Array>[] = [];
    for (let j = 0; j < count; j++) {
      const dim = 64;
      const { table, lengths, indices } = randomBag(rng, dim, 2000, 2000);
      const weights = randomWeights(rng, indices.length);
      const make = () => bagOptions({ table: table.slice(), dim, mode: 'sum', weights: weights.slice() }, indices, lengths, 'lengths', 'int64');
      if (j % 2) {
        expected.push(embeddingBag(make()));
        promises.push(embeddingBagAsync(make()));
      } else {
        expected.push(gather({ table, dim, indices: Int32Array.from(indices) }));
        promises.push(gatherAsync({ table: table.slice(), dim, indices: Int32Array.from(indices) }));
      }
    }
    return { expected, promises };
  }

  it(`complete correctly (global.gc ${gc ? 'exposed: collected while in flight' : 'not exposed: garbage churn only'})`, async () => {
    const seed = freshSeed();
    const { expected, promises } = startDropped(seed, 16);
    // Churn the heap so that unreferenced buffers would be collected and reused.
    for (let i = 0; i < 50; i++) {
      new Float32Array(1 << 16).fill(i);
      if (gc) gc();
    }
    const results = await Promise.all(promises);
    results.forEach((r, i) => expect(firstBitMismatch(r, expected[i]), `seed=${seed} call ${i}`).toBe(-1));
  });

  it('with --expose-gc in a child process: collected while in flight, results still correct', () => {
    const script = `
      const e = require(${JSON.stringify(CJS)});
      const dim = 64, rows = 3000, n = 300000;
      function make(seed) {
        let s = seed;
        const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296);
        const table = new Float32Array(rows * dim).map(() => 0.25 + rnd());
        const indices = new Int32Array(n).map(() => Math.floor(rnd() * rows));
        const offsets = new Int32Array(300).map((_, i) => i * 1000);
        return { table, dim, indices, offsets, mode: 'sum' };
      }
      const expected = [], promises = [];
      for (let j = 0; j < 6; j++) {
        expected.push(e.embeddingBag(make(j + 1)));
        promises.push(e.embeddingBagAsync(make(j + 1)));
      }
      for (let i = 0; i < 20; i++) { new Float32Array(1 << 18).fill(i); gc(); }
      Promise.all(promises).then((rs) => {
        const bad = rs.findIndex((r, i) => Buffer.compare(Buffer.from(r.buffer), Buffer.from(expected[i].buffer)) !== 0);
        process.stdout.write(bad === -1 ? 'ok' : 'mismatch in call ' + bad);
      });
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect({ status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr.slice(0, 500) }).toEqual({ status: 0, signal: null, stdout: 'ok', stderr: '' });
  });

  // The caller detaches (transfers) an input's buffer while the call runs. Node-API cannot
  // pin an ArrayBuffer, so the call cannot prevent this; it must not report a result computed
  // from memory the caller gave away: the promise rejects naming the detached argument. (The
  // receiver keeps the moved memory alive here; if it freed it before the kernel finished,
  // the kernel would read freed memory, which the README tells callers never to cause.)
  it.each(['table', 'indices', 'offsets', 'out'])('detaching %s while the call is in flight rejects naming it', (field) => {
    const script = `
      const e = require(${JSON.stringify(CJS)});
      const dim = 128, rows = 20000, n = 2000000;
      const table = new Float32Array(rows * dim).fill(1);
      const indices = new Int32Array(n).map((_, i) => (i * 7919) % rows);
      const offsets = new Int32Array(2000).map((_, i) => i * 1000);
      const out = new Float32Array(2000 * dim);
      const o = { table, dim, indices, offsets, mode: 'sum', out };
      const p = e.embeddingBagAsync(o);
      const moved = structuredClone(o.${field}.buffer, { transfer: [o.${field}.buffer] });
      p.then(
        () => process.stdout.write('resolved'),
        (err) => process.stdout.write('rejected ' + err.constructor.name + ': ' + err.message + ' ' + moved.byteLength),
      );
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr.slice(0, 300) }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.stdout).toMatch(new RegExp(`^rejected TypeError: ${field}'s ArrayBuffer was detached while embeddingBagAsync was in flight`));
  });
});

describe('resizable buffers', () => {
  // Run in a child process: before the fix, shrinking the table's buffer while the kernel
  // read it was a segmentation fault (the pages go away), which would kill the test runner.
  it.each(['gatherAsync', 'embeddingBagAsync'])('%s refuses a resizable ArrayBuffer (it could shrink mid-call); the sync form takes it', (op) => {
    const script = `
      const e = require(${JSON.stringify(CJS)});
      const buf = new ArrayBuffer(64 << 20, { maxByteLength: 64 << 20 });
      const table = new Float32Array(buf).fill(1);
      const indices = new Int32Array(1 << 20).map((_, i) => (i * 7919) % (16 << 20));
      const o = { table, dim: 1, indices, offsets: Int32Array.of(0), mode: 'sum' };
      const sync = e.${op.replace('Async', '')}(o);
      const p = e.${op}(o);
      buf.resize(0);
      p.then(() => process.stdout.write('resolved'), (err) => process.stdout.write(err.constructor.name + ': ' + err.message + ' | sync ' + sync.length));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr.slice(0, 300) }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(r.stdout).toMatch(new RegExp(`^TypeError: ${op}: table's ArrayBuffer is resizable.* \\| sync ${op === 'gatherAsync' ? 1 << 20 : 1}$`));
  });
});
