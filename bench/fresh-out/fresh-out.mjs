// First touch of fresh outputs: each op called without `out` (a fresh array per call, which
// is how most callers call it) against the same op into an `out` reused across calls, in one
// process, calls of the two forms alternated so that a noisy machine slows both alike.
// `npm run bench` always passes `out`, so this is the probe behind the README's note on
// fresh outputs (lib/memory.ts adviseFresh).
//
//   node bench/fresh-out/fresh-out.mjs [threads=all] [reps=9]
//
// Shapes: a 1,000,000 x 128 f32 table (allocFloat32); gather of 1,048,576 uniform ids;
// embeddingBag sum of 131,072 bags x 8; spmm of a 200,000² matrix with 2,000,000 uniform
// nonzeros x 128, plain and transposed; embeddingBagBackward sum, dense, 16,384 bags x 32
// into 1,000,000 rows. Prints medians (ms) of both forms and fresh / reused.
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const ek = require(path.join(path.dirname(fileURLToPath(import.meta.url)), '../../dist/cjs/index.js'));
const threads = Number(process.argv[2] ?? 0) || ek.getThreads();
const reps = Number(process.argv[3] ?? 9);
ek.setThreads(threads);

let state = 7;
const random = () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32;
const ids = (n, below) => Int32Array.from({ length: n }, () => Math.floor(random() * below));

const rows = 1_000_000;
const dim = 128;
const table = ek.allocFloat32(rows * dim);
for (let i = 0; i < table.length; i++) table[i] = random() - 0.5;
const gatherIds = ids(1 << 20, rows);
const bagIds = ids(1 << 20, rows);
const bagOffsets = Int32Array.from({ length: (1 << 20) / 8 }, (_, b) => b * 8);
const csr = ek.csrFromCoo({ rows: ids(2_000_000, 200_000), cols: ids(2_000_000, 200_000), numRows: 200_000, numCols: 200_000 });
const b = table.subarray(0, 200_000 * dim);
const grad = table.subarray(0, 16_384 * dim);
const backIds = ids(16_384 * 32, rows);
const backOffsets = Int32Array.from({ length: 16_384 }, (_, i) => i * 32);

const cases = [
  ['gather 1,048,576 ids', (out) => ek.gather({ table, dim, indices: gatherIds, out })],
  ['embeddingBag sum 131,072 x 8', (out) => ek.embeddingBag({ table, dim, indices: bagIds, offsets: bagOffsets, mode: 'sum', out })],
  ['spmm 200k^2, 2 M nnz', (out) => ek.spmm({ a: csr, b, dim, out })],
  ['spmm transposed', (out) => ek.spmm({ a: csr, b, dim, transpose: true, out })],
  ['bag backward sum dense', (out) => ek.embeddingBagBackward({ gradOutput: grad, dim, indices: backIds, offsets: backOffsets, mode: 'sum', numRows: rows, out })],
];

const median = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
console.log(`fresh-out: ${threads} thread(s), medians of ${reps}, ms`);
console.log(`${'op'.padEnd(32)}${'fresh'.padStart(9)}${'reused out'.padStart(12)}${'fresh/out'.padStart(11)}`);
for (const [name, call] of cases) {
  const out = call(undefined).slice();  // the shape, and a warm-up
  const fresh = [];
  const reused = [];
  for (let r = 0; r < reps; r++) {
    let t0 = performance.now();
    call(undefined);
    fresh.push(performance.now() - t0);
    t0 = performance.now();
    call(out);
    reused.push(performance.now() - t0);
  }
  const f = median(fresh);
  const o = median(reused);
  console.log(`${name.padEnd(32)}${f.toFixed(1).padStart(9)}${o.toFixed(1).padStart(12)}${(f / o).toFixed(2).padStart(10)}x`);
}
