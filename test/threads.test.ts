// Thread count: results must be bitwise identical for 1, 2 and 3 threads (fixed reduction
// order), on inputs large enough that the kernels really split the work: many bags, one
// huge bag among tiny ones, and a single huge bag (the column-split path).
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { capabilities, embeddingBag, gather, getThreads, setThreads } from '../lib/index';
import { expectBagClose } from './checks';
import {
  MODES,
  Rng,
  conditionNumber,
  refEmbeddingBag,
  refEmbeddingBagAbs,
  relErr,
  firstBitMismatch,
  freshSeed,
  makeIndexArray,
  offsetsFromLengths,
  randomIndices,
  randomTable,
  randomWeights,
  type IndexKind,
  type Mode,
} from './reference';

const initialThreads = getThreads();
afterAll(() => {
  setThreads(initialThreads);
});

const THREADS = [1, 2, 3];

interface Big {
  name: string;
  dim: number;
  rows: number;
  lengths: number[];
  kind: IndexKind;
}

const CASES: Big[] = [
  { name: '20,000 bags x 32 indices, dim 128', dim: 128, rows: 20_000, lengths: new Array(20_000).fill(32), kind: 'int32' },
  {
    name: 'skewed: one bag of 200,000 indices among 5,000 tiny bags, dim 100 (BigInt64 indices)',
    dim: 100,
    rows: 5_000,
    lengths: (() => {
      const r = new Rng(7);
      const l = Array.from({ length: 5_000 }, () => r.int(0, 3));
      l[1234] = 200_000;
      return l;
    })(),
    kind: 'int64',
  },
  { name: 'a single bag of 200,000 indices, dim 129', dim: 129, rows: 3_000, lengths: [200_000], kind: 'uint32' },
  { name: 'three bags of 60,000 indices, dim 256', dim: 256, rows: 2_000, lengths: [60_000, 60_000, 60_000], kind: 'int32' },
];

interface Variant {
  mode: Mode;
  weighted: boolean;
  padded: boolean;
}
const VARIANTS: Variant[] = [
  ...MODES.map((mode) => ({ mode, weighted: false, padded: false })),
  { mode: 'sum', weighted: true, padded: false },
  { mode: 'mean', weighted: true, padded: true },
  { mode: 'max', weighted: false, padded: true },
];

describe.each(CASES)('$name', (c) => {
  const seed = freshSeed();
  const rng = new Rng(seed);
  const table = randomTable(rng, c.rows, c.dim);
  const n = c.lengths.reduce((s, x) => s + x, 0);
  const idx = randomIndices(rng, n, c.rows);
  const indices = makeIndexArray(c.kind, idx);
  const offsets = makeIndexArray(c.kind, offsetsFromLengths(c.lengths, false));
  const weights = randomWeights(rng, n);
  const paddingIdx = idx[0];

  it.each(VARIANTS)('mode=$mode weighted=$weighted padded=$padded: identical bits for 1, 2, 3 threads', (v) => {
    const o = {
      table,
      dim: c.dim,
      indices,
      offsets,
      mode: v.mode,
      weights: v.weighted ? weights : undefined,
      paddingIdx: v.padded ? paddingIdx : undefined,
    };
    const results = THREADS.map((t) => {
      expect(setThreads(t)).toBe(t);
      expect(getThreads()).toBe(t);
      return embeddingBag(o);
    });
    for (let i = 1; i < THREADS.length; i++) {
      const at = firstBitMismatch(results[0], results[i]);
      expect(at, `seed=${seed} ${THREADS[i]} threads differ from 1 thread at element ${at}`).toBe(-1);
    }
    // lengths instead of offsets: same bags, same bits.
    setThreads(2);
    const viaLengths = embeddingBag({ ...o, offsets: undefined, lengths: makeIndexArray(c.kind, c.lengths) });
    expect(firstBitMismatch(results[0], viaLengths), `seed=${seed} lengths vs offsets`).toBe(-1);
  });

  it('matches the float64 reference (bound 1e-6 x cond for bags of 32; 1e-4 x cond for huge bags)', () => {
    setThreads(2);
    // The reference (slow JS) runs on the leading bags holding at most 60,000 indices, or on
    // the first bag alone when it is larger.
    let bags = 0;
    let used = 0;
    while (bags < c.lengths.length && (bags === 0 || used + c.lengths[bags] <= 60_000)) used += c.lengths[bags++];
    const sub = {
      table,
      dim: c.dim,
      indices: idx.slice(0, used),
      offsets: offsetsFromLengths(c.lengths.slice(0, bags), false),
    };
    const huge = Math.max(...c.lengths.slice(0, bags)) > 1000;
    for (const mode of MODES) {
      const got = embeddingBag({ table, dim: c.dim, indices, offsets, mode }).subarray(0, bags * c.dim);
      const ctx = `seed=${seed} ${c.name} ${mode} (first ${bags} bags)`;
      if (huge && mode !== 'max') {
        // Huge bags accumulate 10^5 float32 rounding errors: a looser bound.
        const ref = refEmbeddingBag({ ...sub, mode });
        const cond = conditionNumber(ref, refEmbeddingBagAbs({ ...sub, mode }));
        expect(relErr(got, ref), `${ctx}: bound 1e-4 x cond ${cond}`).toBeLessThan(1e-4 * cond);
      } else {
        expectBagClose(got, { ...sub, mode }, ctx);
      }
    }
  });
});

it('gather of 300,000 rows is identical for 1, 2 and 3 threads', () => {
  const seed = freshSeed();
  const rng = new Rng(seed);
  const dim = 64;
  const table = randomTable(rng, 10_000, dim);
  const indices = Int32Array.from(randomIndices(rng, 300_000, 10_000));
  const results = THREADS.map((t) => {
    setThreads(t);
    return gather({ table, dim, indices });
  });
  for (let i = 1; i < THREADS.length; i++) expect(firstBitMismatch(results[0], results[i]), `seed=${seed}`).toBe(-1);
  for (let i = 0; i < 300_000; i += 9973) {
    expect(Array.from(results[2].subarray(i * dim, (i + 1) * dim))).toEqual(Array.from(table.subarray(indices[i] * dim, (indices[i] + 1) * dim)));
  }
});

describe('setThreads / getThreads', () => {
  it('getThreads and capabilities().threads reflect setThreads', () => {
    for (const t of [1, 2, 3, 5, 1024, 2]) {
      expect(setThreads(t)).toBe(t);
      expect(getThreads()).toBe(t);
      expect(capabilities().threads).toBe(t);
    }
  });

  it.each([
    [0, RangeError, /threads must be from 1 to 1024, got 0/],
    [-1, RangeError, /threads must be from 1 to 1024, got -1/],
    [2000, RangeError, /threads must be from 1 to 1024, got 2000/],
    [1025, RangeError, /got 1025/],
    [1.5, RangeError, /threads must be an integer, got 1\.5/],
    [NaN, RangeError, /threads must be an integer, got NaN/],
    [Infinity, RangeError, /threads must be an integer, got Infinity/],
    ['2', TypeError, /threads must be a number, got string/],
    [undefined, TypeError, /threads must be a number, got undefined/],
    [2n, TypeError, /threads must be a number/],
  ] as Array<[unknown, ErrorConstructor, RegExp]>)('setThreads(%s) throws %o', (value, cls, message) => {
    setThreads(3);
    expect(() => setThreads(value as number)).toThrow(cls);
    expect(() => setThreads(value as number)).toThrow(message);
    expect(getThreads(), 'the thread count is unchanged').toBe(3);
  });
});

describe('EMBEDKIT_THREADS (child processes loading dist/cjs)', () => {
  const CJS = path.resolve(__dirname, '../dist/cjs/index.js');
  const script = `const e = require(${JSON.stringify(CJS)}); process.stdout.write(String(e.getThreads()));`;
  function threadsWith(value: string | undefined): number {
    const env = { ...process.env };
    delete env.EMBEDKIT_THREADS;
    if (value !== undefined) env.EMBEDKIT_THREADS = value;
    return Number(execFileSync(process.execPath, ['-e', script], { env, encoding: 'utf8', timeout: 20_000 }));
  }

  it('EMBEDKIT_THREADS=1 gives getThreads() === 1', () => {
    expect(threadsWith('1')).toBe(1);
  });

  it('EMBEDKIT_THREADS=3 gives 3', () => {
    expect(threadsWith('3')).toBe(3);
  });

  it('unset: the CPUs this process may use', () => {
    expect(threadsWith(undefined)).toBe(os.availableParallelism());
  });
});
