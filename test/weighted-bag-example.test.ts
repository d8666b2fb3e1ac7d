// The weighted-bag example (examples/weighted-bag.mjs): the loss and its gradients with
// respect to the table (row-sparse) and the per-item importances, against a direct float64
// loop and central differences; SGD lowering the loss; the script itself running.
// Bounds: gradients within 1e-5 relative of the float64 loop; differences within 1e-3
// (float64 loss, step 1e-4).
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng, centralDifference, freshSeed, relErr, toNumbers } from './reference';
// @ts-expect-error: a plain JavaScript example without type declarations
import { demo, lossAndGradients } from '../examples/weighted-bag.mjs';

const SCRIPT = path.resolve(__dirname, '../examples/weighted-bag.mjs');

describe('examples/weighted-bag.mjs', () => {
  it('table and importance gradients match a direct loop and finite differences', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const numItems = 30;
    const dim = 9;
    const lengths = Array.from({ length: 25 }, () => rng.int(0, 6));
    const n = lengths.reduce((s, x) => s + x, 0);
    const offsets = Int32Array.from(lengths.map((_, b) => lengths.slice(0, b).reduce((s, x) => s + x, 0)));
    const indices = Int32Array.from({ length: n }, () => rng.int(0, numItems - 1));
    const table = Float32Array.from({ length: numItems * dim }, () => rng.float() - 0.5);
    const importance = Float32Array.from({ length: numItems }, () => 0.5 + rng.float());
    const targets = Float32Array.from({ length: lengths.length * dim }, () => rng.float() - 0.5);
    const got = lossAndGradients({ table, importance, dim, indices, offsets, targets });

    // The model in float64, straight from its definition.
    const direct = (t: Float64Array, imp: Float64Array) => {
      let loss = 0;
      const gT = new Float64Array(t.length);
      const gI = new Float64Array(imp.length);
      lengths.forEach((len, b) => {
        const pooled = new Float64Array(dim);
        for (let p = offsets[b]; p < offsets[b] + len; p++) {
          for (let c = 0; c < dim; c++) pooled[c] += imp[indices[p]] * t[indices[p] * dim + c];
        }
        const g = pooled.map((x, c) => x - targets[b * dim + c]);
        loss += 0.5 * g.reduce((s, x) => s + x * x, 0);
        for (let p = offsets[b]; p < offsets[b] + len; p++) {
          for (let c = 0; c < dim; c++) {
            gT[indices[p] * dim + c] += imp[indices[p]] * g[c];
            gI[indices[p]] += g[c] * t[indices[p] * dim + c];
          }
        }
      });
      return { loss, gT, gI };
    };
    const t64 = Float64Array.from(table);
    const i64 = Float64Array.from(importance);
    const ref = direct(t64, i64);
    const dense = new Float32Array(table.length);
    toNumbers(got.tableGrad.rows).forEach((r, u) => dense.set(got.tableGrad.values.subarray(u * dim, (u + 1) * dim), r * dim));
    expect(relErr(dense, ref.gT), `seed=${seed} table gradient`).toBeLessThan(1e-5);
    expect(relErr(got.importanceGrad, ref.gI), `seed=${seed} importance gradient`).toBeLessThan(1e-5);
    expect(Math.abs(got.loss - ref.loss), `seed=${seed} loss`).toBeLessThan(1e-4 * (1 + ref.loss));
    const h = 1e-4;
    const central = (a: Float64Array, e: number) => centralDifference(a, e, h, () => direct(t64, i64).loss);
    for (let k = 0; k < 20; k++) {
      const e = rng.int(0, t64.length - 1);
      expect(Math.abs(dense[e] - central(t64, e)), `seed=${seed} table element ${e}`).toBeLessThan(1e-3);
      const i = rng.int(0, numItems - 1);
      expect(Math.abs(got.importanceGrad[i] - central(i64, i)), `seed=${seed} importance ${i}`).toBeLessThan(1e-3);
    }
  });

  it('SGD on the table and the importances lowers the loss', () => {
    const losses: number[] = demo({ steps: 40 });
    const early = losses.slice(0, 5).reduce((s, x) => s + x, 0);
    const late = losses.slice(-5).reduce((s, x) => s + x, 0);
    expect(late).toBeLessThan(0.1 * early);
  });

  it('runs as a script', () => {
    const out = execFileSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
    expect(out).toMatch(/weighted-bag loss, first step [\d.]+, last step [\d.]+/);
  });
});
