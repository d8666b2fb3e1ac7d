// allocFloat32 and adviseHugePages: the helpers for large tables.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { adviseHugePages, allocFloat32, embeddingBag } from '../lib/index';

const require = createRequire(import.meta.url);
// The raw addon, for the start address of an array (not part of the public API).
const addon = require('../build/Release/embedkit.node') as { cacheLineOffset(a: ArrayBufferView): number };

function thpMode(): string {
  try {
    return /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unavailable';
  }
}

describe('allocFloat32', () => {
  it.each([0, 1, 15, 16, 17, 1000, (4 << 20) / 4, (8 << 20) / 4 + 3])('length %i: zero-filled, 64-byte aligned', (n) => {
    const a = allocFloat32(n);
    expect(a).toBeInstanceOf(Float32Array);
    expect(a.length).toBe(n);
    expect(a.every((v) => v === 0)).toBe(true);
    expect(addon.cacheLineOffset(a)).toBe(0);
  });

  it.each([-1, 1.5, Number.NaN, Infinity, 2 ** 53])('length %s is a RangeError', (n) => {
    expect(() => allocFloat32(n)).toThrow(RangeError);
    expect(() => allocFloat32(n)).toThrow(/length must be a non-negative safe integer/);
  });

  it('works as a table', () => {
    const dim = 17;
    const table = allocFloat32(100 * dim);
    for (let i = 0; i < table.length; i++) table[i] = (i % 97) * 0.25 + 1;
    const out = embeddingBag({ table, dim, indices: Int32Array.of(3, 99), offsets: Int32Array.of(0), mode: 'sum' });
    for (let c = 0; c < dim; c++) expect(out[c]).toBe(table[3 * dim + c] + table[99 * dim + c]);
  });
});

describe('adviseHugePages', () => {
  const mode = thpMode();
  it.skipIf(process.platform !== 'linux' || mode === 'never' || mode === 'unavailable')(
    `advises the 2 MiB-aligned interior of a large array (THP mode: ${mode})`,
    () => {
      const a = new Float32Array((16 << 20) / 4);
      const advised = adviseHugePages(a);
      expect(advised % (2 << 20)).toBe(0);
      expect(advised).toBeGreaterThanOrEqual(14 << 20);
      expect(advised).toBeLessThanOrEqual(16 << 20);
    },
  );

  it('advises nothing for an array smaller than a huge page', () => {
    expect(adviseHugePages(new Float32Array(1000))).toBe(0);
  });

  it.each([[null], [[1, 2, 3]], [new ArrayBuffer(8)], ['x']])('%s is a TypeError', (v) => {
    expect(() => adviseHugePages(v as unknown as ArrayBufferView)).toThrow(TypeError);
    expect(() => adviseHugePages(v as unknown as ArrayBufferView)).toThrow(/array must be a typed array/);
  });
});
