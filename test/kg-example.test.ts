// The knowledge-graph example (examples/transe.mjs): TransE scores and their gradient through
// signed sparse rows (spmm and its transpose) against a direct per-triple float64 loop and
// central differences, a few training steps lowering the loss, and the script itself running.
// Bounds: scores and gradient within 1e-5 relative of the float64 loop; differences within
// 1e-3 (float64 loss, step 1e-4).
import { execFileSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng, centralDifference, freshSeed, relErr } from './reference';
// @ts-expect-error: a plain JavaScript example without type declarations
import { demo, transeScoreAndGrad, tripleMatrix } from '../examples/transe.mjs';

const SCRIPT = path.resolve(__dirname, '../examples/transe.mjs');

describe('examples/transe.mjs', () => {
  it('scores and gradient match a direct per-triple loop and finite differences', () => {
    const seed = freshSeed();
    const rng = new Rng(seed);
    const numEntities = 40;
    const numRelations = 5;
    const dim = 12;
    const n = 60;
    const heads = Int32Array.from({ length: n }, () => rng.int(0, numEntities - 1));
    const relations = Int32Array.from({ length: n }, () => rng.int(0, numRelations - 1));
    const tails = Int32Array.from({ length: n }, () => rng.int(0, numEntities - 1));
    tails[0] = heads[0]; // a head equal to its tail: the entity cancels
    const embeddings = Float32Array.from({ length: (numEntities + numRelations) * dim }, () => rng.float() - 0.5);
    const lossWeights = Float32Array.from({ length: n }, () => (rng.bool() ? 1 : -1));
    const a = tripleMatrix({ heads, relations, tails, numEntities, numRelations });
    const { scores, loss, grad } = transeScoreAndGrad({ a, embeddings, dim, lossWeights });

    const e64 = Float64Array.from(embeddings);
    const direct = (e: Float64Array) => {
      const s = new Float64Array(n);
      const g = new Float64Array(e.length);
      let l = 0;
      for (let i = 0; i < n; i++) {
        const diff = Array.from({ length: dim }, (_, c) => e[heads[i] * dim + c] + e[(numEntities + relations[i]) * dim + c] - e[tails[i] * dim + c]);
        s[i] = Math.hypot(...diff);
        l += lossWeights[i] * s[i];
        for (let c = 0; c < dim; c++) {
          const d = s[i] > 0 ? (lossWeights[i] * diff[c]) / s[i] : 0;
          g[heads[i] * dim + c] += d;
          g[(numEntities + relations[i]) * dim + c] += d;
          g[tails[i] * dim + c] -= d;
        }
      }
      return { s, g, l };
    };
    const ref = direct(e64);
    expect(relErr(scores, ref.s), `seed=${seed} scores`).toBeLessThan(1e-5);
    expect(relErr(grad, ref.g), `seed=${seed} gradient`).toBeLessThan(1e-5);
    expect(Math.abs(loss - ref.l), `seed=${seed} loss`).toBeLessThan(1e-4 * (1 + Math.abs(ref.l)));
    const h = 1e-4;
    for (let k = 0; k < 25; k++) {
      const e = rng.int(0, e64.length - 1);
      const fd = centralDifference(e64, e, h, () => direct(e64).l);
      expect(Math.abs(grad[e] - fd), `seed=${seed} element ${e}`).toBeLessThan(1e-3);
    }
  });

  it('margin-ranking SGD lowers the loss', () => {
    const losses: number[] = demo({ steps: 40 });
    const early = losses.slice(0, 5).reduce((s, x) => s + x, 0);
    const late = losses.slice(-5).reduce((s, x) => s + x, 0);
    expect(late).toBeLessThan(0.9 * early);
  });

  it('runs as a script', () => {
    const out = execFileSync(process.execPath, [SCRIPT], { encoding: 'utf8' });
    expect(out).toMatch(/TransE margin loss, first step [\d.]+, last step [\d.]+/);
  });
});
