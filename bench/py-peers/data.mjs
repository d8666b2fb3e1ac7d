// The inputs of compare.sh, written once as raw little-endian files so that both sides time
// the very same values; the shapes and seeds are the bench suites' (bench/scatter.mjs,
// bench/gather.mjs, bench/codebook.mjs, bench/jl.mjs). Usage: node data.mjs <family> <dir>.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fillRandom, randomIndices, rng } from '../common.mjs';
import { spmmPairs, zipfIndices } from '../scatter.mjs';

const require = createRequire(import.meta.url);
const ek = require('../../dist/cjs/index.js');

function scatterData(save) {
  const shapes = { rows: 1_000_000, dim: 128, scatterN: 524_288, bags: 16_384, perBag: 32, spmmSize: 200_000, spmmNnz: 2_000_000 };
  const { rows, dim, scatterN, bags, perBag, spmmSize, spmmNnz } = shapes;
  save('table.f32', fillRandom(new Float32Array(rows * dim), 0x5ca7));
  save('src.f32', fillRandom(new Float32Array(scatterN * dim), 0x5c1));
  save('idx_uniform.i32', randomIndices(scatterN, rows, 0x1d5));
  save('idx_zipf.i32', zipfIndices(scatterN, rows, 1.1, 0x21f));
  const n = bags * perBag;
  const bagIdx = randomIndices(n, rows, 0x1dc5);
  save('bag_idx.i32', bagIdx);
  save('grad.f32', fillRandom(new Float32Array(bags * dim), 0x96d));
  // The max backward's winners as the bench makes them: each (bag, column) won by a random
  // member of its bag.
  const next = rng(0x3a7);
  const argmax = new Int32Array(bags * dim);
  for (let b = 0; b < bags; b++) {
    for (let c = 0; c < dim; c++) argmax[b * dim + c] = bagIdx[b * perBag + (next() % perBag)];
  }
  save('argmax.i32', argmax);
  save('b.f32', fillRandom(new Float32Array(spmmSize * dim), 0xb0b));
  for (const [name, pairs] of spmmPairs(spmmNnz, spmmSize)) {
    const kind = name === 'uniform' ? 'uniform' : 'powerlaw';
    const values = fillRandom(new Float32Array(spmmNnz), 0x55);
    const a = ek.csrFromCoo({ ...pairs(), values, numRows: spmmSize, numCols: spmmSize });
    save(`csr_${kind}_rowptr.i32`, Int32Array.from(a.rowPtr));
    save(`csr_${kind}_colidx.i32`, Int32Array.from(a.colIdx));
    save(`csr_${kind}_values.f32`, a.values);
  }
  return shapes;
}

function codebookData(save) {
  const shapes = { assignRows: 65_536, assignCodes: 4_096, pqRows: 1_000_000, pqDim: 128, pqM: 16, pqBits: 8, pqQueries: 4, pqK: 10 };
  const { assignRows, assignCodes, pqRows, pqDim: dim, pqBits } = shapes;
  save('assign_x.f32', fillRandom(new Float32Array(assignRows * dim), 0x61));
  save('assign_book.f32', fillRandom(new Float32Array(assignCodes * dim), 0x62));
  save('pq_x.f32', fillRandom(new Float32Array(pqRows * dim), 0x71));
  save('pq_codebooks.f32', fillRandom(new Float32Array((1 << pqBits) * dim), 0x72));
  return shapes;
}

function jlData(save) {
  const shapes = { rows: 65_536, projections: [[768, 128], [768, 256], [1024, 128], [1024, 256]] };
  for (const d of [768, 1024]) save(`x_${d}.f32`, fillRandom(new Float32Array(shapes.rows * d), 0x72 + d));
  return shapes;
}

const families = { scatter: scatterData, codebook: codebookData, jl: jlData };
const [family, dir] = process.argv.slice(2);
if (!families[family] || !dir) {
  console.error(`usage: node data.mjs <${Object.keys(families).join(' | ')}> <dir>`);
  process.exit(2);
}
mkdirSync(dir, { recursive: true });
const save = (name, array) => writeFileSync(path.join(dir, name), new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
const shapes = families[family](save);
writeFileSync(path.join(dir, 'shapes.json'), JSON.stringify(shapes));
console.log(`data: ${family} inputs written to ${dir}`);
