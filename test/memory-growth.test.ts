// Memory over many calls, in a child `node --expose-gc` (gc() on demand, RSS of its own):
// a million small calls and a thousand large async calls leave RSS within the bounds below
// after a full GC, and async calls whose arrays the caller dropped (and GC ran on) still
// complete with the right results.
//   small calls:  RSS growth < 24 MiB after 1,000,000 calls (no per-call leak above ~25 bytes)
//   large async:  RSS growth < 96 MiB over 1,000 calls each allocating a 4 MiB output, after
//                 1,000 calls of warm-up (glibc keeps freed 4 MiB blocks in its arenas, so
//                 RSS first climbs to a plateau of ~100-150 MiB here; a leaked output per
//                 call would add 4,000 MiB)
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const CJS = path.resolve(__dirname, '../dist/cjs/index.js');
const MiB = 1024 * 1024;

const SCRIPT = `
const e = require(${JSON.stringify(CJS)});
const rss = () => { for (let i = 0; i < 4; i++) gc(); return process.memoryUsage().rss; };
(async () => {
  const report = {};
  // Small calls: the per-call overhead paths (argument parsing, fresh outputs, results).
  const table = new Float32Array(1000 * 64).map((_, i) => i % 13);
  const indices = Int32Array.of(1, 5, 9, 400, 999, 0, 3, 7);
  const offsets = Int32Array.of(0, 3);
  const out = new Float32Array(2 * 64);
  const q = new Float32Array(4 * 64);
  const positions = Int32Array.of(17);
  const small = (n) => {
    for (let i = 0; i < n; i++) {
      e.embeddingBag({ table, dim: 64, indices, offsets, mode: 'sum', out });
      e.embeddingBag({ table, dim: 64, indices, offsets, mode: 'max' });
      e.rope({ q, numHeads: 4, headDim: 64, positions, layout: 'neox', base: 1e4 });
      e.gather({ table, dim: 64, indices });
    }
  };
  small(25000);
  const before = rss();
  small(250000); // 1,000,000 calls
  report.smallGrowth = rss() - before;

  // Large async calls: 1,000 x a 4 MiB fresh output, 8 in flight at a time.
  const big = new Float32Array(20000 * 256).map((_, i) => (i % 97) / 97);
  const bigIdx = Int32Array.from({ length: 4096 * 4 }, (_, i) => (i * 7919) % 20000);
  const bigOff = Int32Array.from({ length: 4096 }, (_, b) => b * 4);
  const expected = e.embeddingBag({ table: big, dim: 256, indices: bigIdx, offsets: bigOff, mode: 'mean' });
  let mismatches = 0;
  const thousand = async () => {
    for (let round = 0; round < 125; round++) {
      const batch = [];
      for (let j = 0; j < 8; j++) batch.push(e.embeddingBagAsync({ table: big, dim: 256, indices: bigIdx, offsets: bigOff, mode: 'mean' }));
      for (const r of await Promise.all(batch)) if (Buffer.compare(Buffer.from(r.buffer), Buffer.from(expected.buffer)) !== 0) mismatches++;
    }
  };
  await thousand();
  const beforeBig = rss();
  await thousand();
  report.bigGrowth = rss() - beforeBig;
  report.bigMismatches = mismatches;

  // Dropped arrays: the caller keeps no reference to the inputs; GC runs while in flight.
  let dropped = 0;
  const pending = [];
  for (let i = 0; i < 64; i++) {
    pending.push(e.embeddingBagAsync({ table: big.slice(), dim: 256, indices: bigIdx.slice(), offsets: bigOff.slice(), mode: 'mean' }));
    gc();
  }
  for (const r of await Promise.all(pending)) if (Buffer.compare(Buffer.from(r.buffer), Buffer.from(expected.buffer)) !== 0) dropped++;
  report.droppedMismatches = dropped;
  process.stdout.write(JSON.stringify(report));
})();
`;

describe('memory over many calls (node --expose-gc child)', () => {
  it('a million small calls and a thousand large async calls stay within the RSS bounds; dropped arrays complete correctly', () => {
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', SCRIPT], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { smallGrowth: number; bigGrowth: number; bigMismatches: number; droppedMismatches: number };
    expect(report.smallGrowth / MiB, 'RSS growth over 1,000,000 small calls, MiB').toBeLessThan(24);
    expect(report.bigGrowth / MiB, 'RSS growth over 1,000 large async calls, MiB').toBeLessThan(96);
    expect(report.bigMismatches).toBe(0);
    expect(report.droppedMismatches).toBe(0);
  }, 150_000);
});
