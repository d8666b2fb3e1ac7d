// A weighted embedding bag trained end to end: each bag pools the rows of its items scaled by
// a learned per-item importance (the per-sample weights, gathered per index), and the model
// fits one target vector per bag:
//
//   w_p      = importance[indices[p]]                      (a gather of scalars)
//   pooled_b = sum_p w_p · table[indices[p]]               (embeddingBag, mode 'sum', weights)
//   loss     = ½ sum_b ||pooled_b - target_b||²
//   G        = dLoss/dpooled = pooled - target
//   dLoss/dtable      = embeddingBagBackward(G, weights w)  (row-sparse: only the rows used)
//   dLoss/dw_p        = G_b · table[indices[p]]             (embeddingBagWeightsBackward)
//   dLoss/dimportance = sum over p with indices[p] = i of dLoss/dw_p  (scatterAdd, dim 1)
//
// and an SGD step applies both: the table's sparse gradient with scatterAdd (alpha = -lr),
// the importances' in place. Every gradient sums in index order, whatever the thread count.
//
// Run: node examples/weighted-bag.mjs   (after `npm run build`)
import { embeddingBag, embeddingBagBackward, embeddingBagWeightsBackward, scatterAdd } from 'embedkit';
import { mulberry32 } from './mulberry32.mjs';

/** The loss and every gradient of one batch; nothing is updated. */
export function lossAndGradients({ table, importance, dim, indices, offsets, targets }) {
  const numRows = importance.length;
  const weights = Float32Array.from(indices, (i) => importance[i]);
  const pooled = embeddingBag({ table, dim, indices, offsets, mode: 'sum', weights });
  const gradOutput = new Float32Array(pooled.length);
  let loss = 0;
  for (let e = 0; e < pooled.length; e++) {
    gradOutput[e] = pooled[e] - targets[e];
    loss += 0.5 * gradOutput[e] ** 2;
  }
  const tableGrad = embeddingBagBackward({ gradOutput, dim, indices, offsets, mode: 'sum', weights, numRows, sparse: true });
  const weightsGrad = embeddingBagWeightsBackward({ gradOutput, table, dim, indices, offsets, mode: 'sum' });
  // Each index's weight is its item's importance: the item collects the gradients of all its uses.
  const importanceGrad = scatterAdd({ dst: new Float32Array(numRows), dim: 1, indices, src: weightsGrad });
  return { loss, tableGrad, weightsGrad, importanceGrad };
}

/** One SGD step in place; returns the loss before it. */
export function sgdStep(batch, lr) {
  const { loss, tableGrad, importanceGrad } = lossAndGradients(batch);
  const { table, importance, dim } = batch;
  scatterAdd({ dst: table, dim, indices: tableGrad.rows, src: tableGrad.values, alpha: -lr });
  for (let i = 0; i < importance.length; i++) importance[i] -= lr * importanceGrad[i];
  return loss;
}

/**
 * Bags of random items whose targets come from a hidden table and hidden importances; the
 * model starts from another random table and unit importances. Returns the loss per step.
 */
export function demo({ numItems = 300, dim = 16, bags = 200, perBag = 6, steps = 60, lr = 0.05, seed = 1 } = {}) {
  const rand = mulberry32(seed);
  const hidden = Float32Array.from({ length: numItems * dim }, () => rand() - 0.5);
  const hiddenImportance = Float32Array.from({ length: numItems }, () => 0.5 + rand());
  const indices = Int32Array.from({ length: bags * perBag }, () => Math.floor(rand() * numItems));
  const offsets = Int32Array.from({ length: bags }, (_, b) => b * perBag);
  const targets = embeddingBag({
    table: hidden, dim, indices, offsets, mode: 'sum', weights: Float32Array.from(indices, (i) => hiddenImportance[i]),
  });
  const batch = {
    table: Float32Array.from({ length: numItems * dim }, () => (rand() - 0.5) * 0.5),
    importance: new Float32Array(numItems).fill(1),
    dim, indices, offsets, targets,
  };
  const losses = [];
  for (let step = 0; step < steps; step++) losses.push(sgdStep(batch, lr));
  return losses;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const losses = demo();
  console.log(`weighted-bag loss, first step ${losses[0].toFixed(3)}, last step ${losses[losses.length - 1].toFixed(3)}`);
}
