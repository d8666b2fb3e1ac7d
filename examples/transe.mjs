// TransE on a knowledge graph, the SparseTransX way: a batch of (head, relation, tail) triples
// becomes a sparse matrix A with one row per triple and three signed entries, +1 at the head
// entity, +1 at the relation and -1 at the tail entity, over the stacked embedding table
// E = [entities; relations]. Then
//
//   D = A · E           row i is h_i + r_i - t_i            (spmm)
//   score_i = ||D_i||   the TransE distance (L2; lower is more plausible)
//   dLoss/dE = Aᵀ · G   with G_i = dLoss/dD_i                 (spmm, transpose: true)
//
// so scoring and its gradient are two sparse × dense products over the same pattern, with no
// per-triple gather / scatter loop in JS, and the gradient is deterministic (Aᵀ · G sums the
// contributions to each embedding in triple order, whatever the thread count).
//
// Run: node examples/transe.mjs   (after `npm run build`)
import { csrFromCoo, csrTranspose, spmm } from 'embedkit';
import { mulberry32 } from './mulberry32.mjs';

/**
 * The signed incidence matrix of a batch: rows = triples, columns = numEntities + numRelations.
 * A head equal to its tail cancels to nothing (duplicates are summed), exactly as h - t does.
 */
export function tripleMatrix({ heads, relations, tails, numEntities, numRelations }) {
  const n = heads.length;
  const rows = new Int32Array(3 * n);
  const cols = new Int32Array(3 * n);
  const values = new Float32Array(3 * n);
  for (let i = 0; i < n; i++) {
    rows.set([i, i, i], 3 * i);
    cols.set([heads[i], numEntities + relations[i], tails[i]], 3 * i);
    values.set([1, 1, -1], 3 * i);
  }
  return csrFromCoo({ rows, cols, values, numRows: n, numCols: numEntities + numRelations });
}

/**
 * Scores (L2 distances) of a batch, the loss sum_i w_i · score_i and its gradient with respect
 * to the stacked embeddings (a dense (numEntities + numRelations) x dim Float32Array).
 * `a` is tripleMatrix(...); `aT` its transpose (pass it to reuse it across steps).
 */
export function transeScoreAndGrad({ a, aT = csrTranspose(a), embeddings, dim, lossWeights }) {
  const d = spmm({ a, b: embeddings, dim });
  const n = a.numRows;
  const scores = new Float32Array(n);
  const g = new Float32Array(n * dim);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < dim; c++) s += d[i * dim + c] ** 2;
    const norm = Math.sqrt(s);
    scores[i] = norm;
    const w = lossWeights ? lossWeights[i] : 1;
    loss += w * norm;
    // d||x|| / dx = x / ||x|| (0 at x = 0, the subgradient).
    const k = norm > 0 ? w / norm : 0;
    for (let c = 0; c < dim; c++) g[i * dim + c] = k * d[i * dim + c];
  }
  const grad = spmm({ a: aT, b: g, dim });
  return { scores, loss, grad };
}

/**
 * One margin-ranking SGD step, as TransE trains: positive triples should score at least
 * `margin` lower than corrupted ones (the tail replaced). Both batches share one matrix:
 * positives are rows [0, n), negatives rows [n, 2n), and each active pair adds +score(pos)
 * - score(neg) to the loss.
 */
export function marginStep({ embeddings, dim, numEntities, numRelations, heads, relations, tails, corruptTails, margin, lr }) {
  const n = heads.length;
  const a = tripleMatrix({
    heads: Int32Array.from([...heads, ...heads]),
    relations: Int32Array.from([...relations, ...relations]),
    tails: Int32Array.from([...tails, ...corruptTails]),
    numEntities,
    numRelations,
  });
  const first = transeScoreAndGrad({ a, embeddings, dim });
  const weights = new Float32Array(2 * n);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const hinge = margin + first.scores[i] - first.scores[n + i];
    if (hinge > 0) {
      loss += hinge;
      weights[i] = 1;
      weights[n + i] = -1;
    }
  }
  const { grad } = transeScoreAndGrad({ a, embeddings, dim, lossWeights: weights });
  for (let e = 0; e < embeddings.length; e++) embeddings[e] -= lr * grad[e];
  return loss;
}

/** A small synthetic graph: entity e relates to (e + r + 1) mod numEntities by relation r. */
export function demo({ numEntities = 500, numRelations = 8, dim = 32, batch = 256, steps = 30, seed = 1 } = {}) {
  const rand = mulberry32(seed);
  const embeddings = new Float32Array((numEntities + numRelations) * dim).map(() => (rand() - 0.5) * 0.2);
  const losses = [];
  for (let step = 0; step < steps; step++) {
    const heads = new Int32Array(batch);
    const relations = new Int32Array(batch);
    const tails = new Int32Array(batch);
    const corruptTails = new Int32Array(batch);
    for (let i = 0; i < batch; i++) {
      heads[i] = Math.floor(rand() * numEntities);
      relations[i] = Math.floor(rand() * numRelations);
      tails[i] = (heads[i] + relations[i] + 1) % numEntities;
      corruptTails[i] = Math.floor(rand() * numEntities);
    }
    losses.push(marginStep({ embeddings, dim, numEntities, numRelations, heads, relations, tails, corruptTails, margin: 1, lr: 0.05 }));
  }
  return losses;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const losses = demo();
  console.log(`TransE margin loss, first step ${losses[0].toFixed(3)}, last step ${losses[losses.length - 1].toFixed(3)}`);
}
