// The built kernels must prefetch the rows they are about to pool. GCC 12 silently deleted
// those prefetches (__builtin_prefetch in an out-of-line helper or lambda, and in some inlined
// forms too), which made f16 / bf16 / q8 / q4 tables 2-3x slower and left every test green; the
// kernels now prefetch through volatile asm (csrc/kernels/common/prefetch.h). This reads the
// machine code of the addon the suite runs against: every pooling kernel over a table
// (pool_block: one column block; pool_bags: a whole pass, which may hold the widest block
// inlined besides its destination-row prefetch) must prefetch, and none may call out to a
// helper lambda of its own (a call per row, which GCC also chose silently).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const addon = path.resolve(__dirname, '..', 'build', 'Release', 'embedkit.node');

function hasObjdump(): boolean {
  try {
    execFileSync('objdump', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const applicable = process.platform === 'linux' && process.arch === 'x64' && hasObjdump();

/** Prefetch instructions per function symbol of the addon's machine code. */
function prefetchesPerFunction(file: string): Map<string, number> {
  const text = execFileSync('objdump', ['-d', '--no-show-raw-insn', file], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const counts = new Map<string, number>();
  let current: string | null = null;
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+ <(.+)>:$/.exec(line);
    if (head) {
      current = head[1];
      counts.set(current, 0);
    } else if (current !== null && /\sprefetch/.test(line)) {
      counts.set(current, (counts.get(current) ?? 0) + 1);
    }
  }
  return counts;
}

describe.skipIf(!applicable)('kernel code generation (linux x64, objdump)', () => {
  it('every gather pooling kernel prefetches its source rows', () => {
    expect(fs.existsSync(addon), `${addon} (run npm run compile)`).toBe(true);
    const counts = prefetchesPerFunction(addon);
    // Symbols: embedkit::gather::simd_body::(anon)::pool_block<V, TableSource<Decoder>, Idx, NV,
    // tail> and pool_bags<V, TableSource<Decoder>, Idx>; their .cold parts hold only error paths.
    const kernels = [...counts].filter(
      ([name]) => /gather9simd_body.*(10pool_block|9pool_bags).*11TableSource/.test(name) && !name.endsWith('.cold'),
    );
    for (const format of ['F32Rows', 'F16Rows', 'BF16Rows', 'Q8Rows', 'Q4Rows']) {
      expect(kernels.some(([name]) => name.includes(format)), `a pooling kernel for ${format}`).toBe(true);
    }
    const starved = kernels
      .filter(([name, n]) => n < (name.includes('9pool_bags') ? 2 : 1))
      .map(([name, n]) => `${n} prefetch(es): ${name}`);
    expect(starved).toEqual([]);
  });

  it('no pooling kernel calls an out-of-line helper of its own', () => {
    // A lambda of a kernel emitted as its own function is a call per row (or per vector) in
    // the hot loop; GCC did this to the row load of the q4 QR tail-only block. Local entities
    // of a function mangle as _ZZ<function>...; .cold parts hold only error paths.
    const counts = prefetchesPerFunction(addon);
    const outOfLine = [...counts.keys()].filter(
      (name) =>
        /^_ZZN8embedkit6gather9simd_body12_GLOBAL__N_1(10pool_block|9pool_bags|17pool_one_position)/.test(name) &&
        !name.endsWith('.cold'),
    );
    expect(outOfLine).toEqual([]);
  });
});
