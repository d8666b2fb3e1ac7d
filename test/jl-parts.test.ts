// The CPU addon's jlParts (the random parts the GPU projections take) must be exactly what
// srht / fjlt / sparseProjection use: rebuilding each projection in JS from the parts, with
// the kernels' float32 operations in their order (Math.fround after every operation), must
// reproduce the CPU ops bit for bit.
import { describe, expect, it } from 'vitest';
import { fjlt, fjltDensity, fwht, paddedSize, sparseProjection, srht } from '../lib/index';
import { sparseDensity } from '../lib/jl';
import { native } from '../lib/native';
import { Rng, describeCase, freshSeed } from './reference';

const f = Math.fround;

function signedPadded(x: Float32Array, r: number, d: number, signs: Float32Array): Float32Array {
  const z = new Float32Array(signs.length);
  for (let j = 0; j < d; j++) z[j] = f(x[r * d + j] * signs[j]);
  return fwht({ x: z, n: signs.length });
}

function csrRow(rowPtr: Int32Array, colIdx: Int32Array, values: Float32Array, i: number, z: ArrayLike<number>, base = 0): number {
  let acc = 0;
  for (let p = rowPtr[i]; p < rowPtr[i + 1]; p++) acc = f(acc + f(values[p] * z[base + colIdx[p]]));
  return acc;
}

function same(got: Float32Array, want: Float32Array): boolean {
  return got.length === want.length && got.every((v, i) => Object.is(v, want[i]));
}

describe('jlParts', () => {
  it('gives srht, fjlt and sparseProjection their own random parts', () => {
    for (let trial = 0; trial < 12; trial++) {
      const seed = freshSeed();
      const rng = new Rng(seed);
      const d = rng.int(1, 300);
      const n = paddedSize(d);
      const k = rng.int(1, n);
      const rows = rng.int(1, 5);
      const x = Float32Array.from({ length: rows * d }, () => rng.float() * 2 - 1);
      const s = BigInt(seed) * 7919n;
      const ctx = describeCase({ seed, d, k, rows });

      const sp = native().jlParts(0, d, k, s, undefined);
      const scale = f(Math.sqrt(1 / k));
      const wantSrht = new Float32Array(rows * k);
      for (let r = 0; r < rows; r++) {
        const z = signedPadded(x, r, d, sp.signs!);
        for (let t = 0; t < k; t++) wantSrht[r * k + t] = f(z[sp.sample![t]] * scale);
      }
      expect(same(srht({ x, inDim: d, outDim: k, seed: s }), wantSrht), `srht ${ctx}`).toBe(true);

      const density = fjltDensity(d);
      const fp = native().jlParts(1, d, k, s, density);
      const wantFjlt = new Float32Array(rows * k);
      for (let r = 0; r < rows; r++) {
        const z = signedPadded(x, r, d, fp.signs!);
        for (let i = 0; i < k; i++) wantFjlt[r * k + i] = csrRow(fp.rowPtr!, fp.colIdx!, fp.values!, i, z);
      }
      expect(same(fjlt({ x, inDim: d, outDim: k, seed: s }), wantFjlt), `fjlt ${ctx}`).toBe(true);

      const kSparse = rng.int(1, 200);
      const sparse = native().jlParts(2, d, kSparse, s, sparseDensity(undefined, d));
      const wantSparse = new Float32Array(rows * kSparse);
      for (let r = 0; r < rows; r++) {
        for (let i = 0; i < kSparse; i++) wantSparse[r * kSparse + i] = csrRow(sparse.rowPtr!, sparse.colIdx!, sparse.values!, i, x, r * d);
      }
      expect(same(sparseProjection({ x, inDim: d, outDim: kSparse, seed: s }), wantSparse), `sparse ${ctx}`).toBe(true);
      expect(sp.signs!.length).toBe(n);
    }
  });

  it('validates its sizes, seed and density like the ops', () => {
    expect(() => native().jlParts(0, 0, 1, 1, undefined)).toThrow(RangeError);
    expect(() => native().jlParts(0, 100, 129, 1, undefined)).toThrow(RangeError);
    expect(() => native().jlParts(1, 100, 10, 1, 0)).toThrow(RangeError);
    expect(() => native().jlParts(2, 100, 10, 'x', 0.5)).toThrow(TypeError);
    expect(() => native().jlParts(3, 100, 10, 1, 0.5)).toThrow(RangeError);
  });
});
