// Pooling-kernel A/B: another checkout of embedkit (built: dist/ and build/Release/) against
// this one, in one process, calls alternated so that a noisy machine slows both alike. Every
// pair of results must be bitwise identical (the kernels may change speed, never bits).
//
//   node bench/pool-ab/pool-ab.mjs /path/to/other/checkout [threads=all]
//
// Shapes: embeddingBag sum over bags of 1, 2, 8 and 32 uniform ids (524,288 ids per call) on
// a cache-resident 4,096-row table and a 1,000,000-row one, mean (weighted) and max; f16 and
// q8 tables; spmm over a 2 M-nonzero matrix and over one of ~1.3 nonzeros per row. Outputs
// are given (a fresh output's page faults would dominate). Prints the median of each side
// and old/new.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const other = process.argv[2];
if (!other) {
  console.error('usage: node bench/pool-ab/pool-ab.mjs /path/to/other/checkout [threads]');
  process.exit(2);
}
const here = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const A = await import(pathToFileURL(path.join(path.resolve(other), 'dist/esm/index.mjs')).href);
const B = await import(pathToFileURL(path.join(here, 'dist/esm/index.mjs')).href);
if (process.argv[3]) {
  A.setThreads(Number(process.argv[3]));
  B.setThreads(Number(process.argv[3]));
}
const n = 524288;
const reps = 11;
let state = 12345;
const rnd = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state / 4294967296;
};
const median = (v) => v.sort((x, y) => x - y)[v.length >> 1];

function ab(label, callA, callB) {
  const ta = [], tb = [];
  let ra, rb;
  for (let r = 0; r < reps; r++) {
    let t = performance.now();
    ra = callA();
    ta.push(performance.now() - t);
    t = performance.now();
    rb = callB();
    tb.push(performance.now() - t);
  }
  for (let i = 0; i < ra.length; i++) {
    if (!Object.is(ra[i], rb[i])) throw new Error(`${label}: results differ at element ${i}`);
  }
  const a = median(ta), b = median(tb);
  console.log(`${label.padEnd(36)} other ${a.toFixed(2).padStart(7)} ms   this ${b.toFixed(2).padStart(7)} ms   other/this ${(a / b).toFixed(2)}x`);
}

function randomTable(rows, dim) {
  const t = B.allocFloat32(rows * dim);
  for (let i = 0; i < t.length; i++) t[i] = rnd() - 0.5;
  return t;
}
const dim = 128;
const ids = (rows) => Int32Array.from({ length: n }, () => Math.floor(rnd() * rows));

function bags(label, table, rows, size, mode, weighted) {
  const indices = ids(rows);
  const offsets = Int32Array.from({ length: n / size }, (_, i) => i * size);
  const weights = weighted ? Float32Array.from({ length: n }, () => rnd() + 0.5) : undefined;
  const outA = B.allocFloat32((n / size) * dim).fill(0), outB = B.allocFloat32((n / size) * dim).fill(0);
  const o = { table, dim: table.format ? undefined : dim, indices, offsets, mode, weights };
  ab(`${label} bag ${size} ${mode}${weighted ? ' w' : ''}`,
    () => A.embeddingBag({ ...o, out: outA }), () => B.embeddingBag({ ...o, out: outB }));
}

for (const rows of [4096, 1_000_000]) {
  const table = randomTable(rows, dim);
  for (const size of [1, 2, 8, 32]) bags(`${rows} x ${dim}`, table, rows, size, 'sum', false);
  bags(`${rows} x ${dim}`, table, rows, 32, 'mean', true);
  bags(`${rows} x ${dim}`, table, rows, 32, 'max', false);
  if (rows > 4096) {
    for (const format of ['f16', 'q8']) {
      const stored = B.quantizeTable({ table, dim, format });
      for (const size of [1, 32]) bags(`${format} ${rows} x ${dim}`, stored, rows, size, 'sum', false);
    }
  }
}

for (const [numRows, nnz] of [[200_000, 2_000_000], [400_000, 524_288]]) {
  const rows = Int32Array.from({ length: nnz }, () => Math.floor(rnd() * numRows));
  const cols = Int32Array.from({ length: nnz }, () => Math.floor(rnd() * numRows));
  const values = Float32Array.from({ length: nnz }, () => rnd());
  const a = B.csrFromCoo({ rows, cols, values, numRows, numCols: numRows });
  const b = randomTable(numRows, dim);
  const outA = B.allocFloat32(numRows * dim).fill(0), outB = B.allocFloat32(numRows * dim).fill(0);
  for (const reduce of ['sum', 'max']) {
    ab(`spmm ${numRows} rows ${nnz} nnz ${reduce}`,
      () => A.spmm({ a, b, dim, reduce, out: outA }), () => B.spmm({ a, b, dim, reduce, out: outB }));
  }
}
