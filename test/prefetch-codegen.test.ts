// The built gather kernels must prefetch the rows they are about to pool. GCC 12 silently
// deleted those prefetches twice (an out-of-line helper that only prefetches is treated as
// side-effect free; one statement order dropped the q8 / q4 prefetch even inlined), which made
// f16 / bf16 / q8 / q4 tables 2-3x slower and left every test green. This reads the machine
// code of the addon the suite runs against: each pooling kernel (pool_bags, one per ISA x
// format x index type) needs a prefetch for its destination rows (scatter-add through the
// pooling body) and at least one for its source rows.
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
    // Symbols: embedkit::gather::simd_body::(anon)::pool_bags<V, TableSource<Decoder>, Idx>;
    // their .cold parts hold only error paths.
    const kernels = [...counts].filter(
      ([name]) => /gather9simd_body.*9pool_bags.*11TableSource/.test(name) && !name.endsWith('.cold'),
    );
    const formats = ['F32Rows', 'F16Rows', 'BF16Rows', 'Q8Rows', 'Q4Rows'];
    for (const format of formats) {
      expect(kernels.some(([name]) => name.includes(format)), `a pool_bags kernel for ${format}`).toBe(true);
    }
    const starved = kernels.filter(([, n]) => n < 2).map(([name, n]) => `${n} prefetch(es): ${name}`);
    expect(starved).toEqual([]);
  });
});
