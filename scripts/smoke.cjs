// A deterministic smoke run of every family through the installed package (no test
// framework): prints the active ISA and a SHA-256 of the outputs. Every ISA gives the same
// bits for these calls, so the digest printed by linux-x64 and by linux-arm64 (under qemu)
// must match; scripts/package-test.sh compares them.
'use strict';
const { createHash } = require('node:crypto');
const e = require(process.argv[2] || 'embedkit');

function fill(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = ((s >>> 8) / 2 ** 24 - 0.5) * 4;
  }
  return a;
}

const hash = createHash('sha256');
const add = (a) => hash.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
const dim = 67, rows = 500;
const table = fill(rows * dim, 1);
const indices = Int32Array.from({ length: 300 }, (_, i) => (i * 7919) % rows);
const offsets = Int32Array.from({ length: 40 }, (_, b) => Math.min(300, b * 8));
add(e.gather({ table, dim, indices }));
add(e.embeddingBag({ table, dim, indices, offsets, mode: 'max' }));
add(e.embeddingBag({ table, dim, indices, offsets, mode: 'mean', paddingIdx: 3 }));
const q = fill(9 * 5 * 96, 2), k = fill(9 * 2 * 96, 3);
e.rope({ q, k, numHeads: 5, numKvHeads: 2, headDim: 96, rotaryDim: 64, offset: 1000, layout: 'gptj', base: 1e4,
  scaling: { type: 'yarn', factor: 4, originalMaxPosition: 4096 } });
add(q);
add(k);
// The CUDA addon is optional (linux-x64 has a prebuild, linux-arm64 none): asking must
// answer, never throw. Its reason tells whether the addon loaded (package-test.sh checks).
if (typeof e.cuda.available() !== 'boolean' || (!e.cuda.available() && !e.cuda.unavailableReason())) {
  throw new Error('cuda.available() gave no answer or no reason');
}
const cuda = e.cuda.available() ? 'available' : e.cuda.unavailableReason();
console.log(JSON.stringify({ arch: process.arch, isa: e.capabilities().isa, digest: hash.digest('hex'), cuda }));
