// The QR-bag example (examples/qr-bag.mjs): the loss and both tables' row-sparse gradients
// (combine 'mul', mode 'mean') against a direct float64 loop and central differences of the
// float64 loss; SGD lowering the loss; the script itself running.
// Bounds: gradients within 1e-5 relative of the float64 loop; differences within 1e-3
// (float64 loss, step 1e-4).
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng, centralDifference, freshSeed, relErr, toNumbers } from './reference';
// @ts-expect-error: a plain JavaScript example without type declarations
import { demo, lossAndGradients } from '../examples/qr-bag.mjs';

const SCRIPT = path.resolve(__dirname, '../examples/qr-bag.mjs');

interface Sparse {
  rows: Int32Array;
  values: Float32Array;
}

function densify(g: Sparse, rows: number, dim: number): Float32Array {
  const dense = new Float32Array(rows * dim);
  toNumbers(g.rows).forEach((r, u) => dense.set(g.values.subarray(u * dim, (u + 1) * dim), r * dim));
  return dense;
}

describe('examples/qr-bag.mjs', () => {
  it('both tables\' gradients match a direct loop and finite differences', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const quotientRows = 7;
    const m = 5;
    const dim = 6;
    const lengths = Array.from({ length: 20 }, () => rng.int(0, 6));
    const n = lengths.reduce((s, x) => s + x, 0);
    const offsets = Int32Array.from(lengths.map((_, b) => lengths.slice(0, b).reduce((s, x) => s + x, 0)));
    const indices = Int32Array.from({ length: n }, () => rng.int(0, quotientRows * m - 1));
    const quotient = Float32Array.from({ length: quotientRows * dim }, () => rng.float() - 0.5);
    const remainder = Float32Array.from({ length: m * dim }, () => rng.float() - 0.5);
    const targets = Float32Array.from({ length: lengths.length * dim }, () => rng.float() - 0.5);
    const got = lossAndGradients({ quotient, remainder, dim, indices, offsets, targets });

    // The model in float64, straight from its definition.
    const direct = (q: Float64Array, r: Float64Array) => {
      let loss = 0;
      const gQ = new Float64Array(q.length);
      const gR = new Float64Array(r.length);
      const rowsOf = (p: number) => [Math.floor(indices[p] / m), indices[p] % m];
      lengths.forEach((len, b) => {
        const pooled = new Float64Array(dim); // an empty bag pools zeros
        for (let p = offsets[b]; p < offsets[b] + len; p++) {
          const [qi, ri] = rowsOf(p);
          for (let c = 0; c < dim; c++) pooled[c] += (q[qi * dim + c] * r[ri * dim + c]) / len;
        }
        const g = pooled.map((x, c) => x - targets[b * dim + c]);
        loss += 0.5 * g.reduce((s, x) => s + x * x, 0);
        for (let p = offsets[b]; p < offsets[b] + len; p++) {
          const [qi, ri] = rowsOf(p);
          for (let c = 0; c < dim; c++) {
            gQ[qi * dim + c] += (g[c] * r[ri * dim + c]) / len;
            gR[ri * dim + c] += (g[c] * q[qi * dim + c]) / len;
          }
        }
      });
      return { loss, gQ, gR };
    };
    const q64 = Float64Array.from(quotient);
    const r64 = Float64Array.from(remainder);
    const ref = direct(q64, r64);
    const gQ = densify(got.grad.quotient, quotientRows, dim);
    const gR = densify(got.grad.remainder, m, dim);
    expect(relErr(gQ, ref.gQ), `seed=${seed} quotient gradient`).toBeLessThan(1e-5);
    expect(relErr(gR, ref.gR), `seed=${seed} remainder gradient`).toBeLessThan(1e-5);
    expect(Math.abs(got.loss - ref.loss), `seed=${seed} loss`).toBeLessThan(1e-4 * (1 + ref.loss));
    const h = 1e-4;
    for (let k = 0; k < 20; k++) {
      const e = rng.int(0, q64.length - 1);
      const dq = centralDifference(q64, e, h, () => direct(q64, r64).loss);
      expect(Math.abs(gQ[e] - dq), `seed=${seed} quotient element ${e}`).toBeLessThan(1e-3);
      const f = rng.int(0, r64.length - 1);
      const dr = centralDifference(r64, f, h, () => direct(q64, r64).loss);
      expect(Math.abs(gR[f] - dr), `seed=${seed} remainder element ${f}`).toBeLessThan(1e-3);
    }
  });

  it('SGD on both tables lowers the loss', () => {
    const losses: number[] = demo({ steps: 40 });
    const early = losses.slice(0, 5).reduce((s, x) => s + x, 0);
    const late = losses.slice(-5).reduce((s, x) => s + x, 0);
    expect(late).toBeLessThan(0.1 * early);
  });

  it('runs as a script', () => {
    const out = execFileSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
    expect(out).toMatch(/qr-bag loss, first step [\d.]+, last step [\d.]+/);
  });
});
