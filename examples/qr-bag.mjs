// A quotient-remainder embedding bag trained end to end: numIds ids share two small tables
// (m = remainder rows, id i reads quotient row ⌊i/m⌋ and remainder row i mod m, combined
// element-wise), each bag averages its ids' embeddings, and the model fits one target
// vector per bag:
//
//   e_i      = quotient[⌊i/m⌋] × remainder[i mod m]          (combine 'mul')
//   pooled_b = mean over the bag's ids of e_i                (qrEmbeddingBag, mode 'mean')
//   loss     = ½ sum_b ||pooled_b - target_b||²
//   G        = dLoss/dpooled = pooled - target
//   dLoss/dquotient, dLoss/dremainder = qrEmbeddingBagBackward(G)   (row-sparse)
//
// and an SGD step applies both gradients with scatterAdd (alpha = -lr). 2 × 100 rows stand in
// for 10,000: the tables are 50× smaller than one row per id.
//
// Run: node examples/qr-bag.mjs   (after `npm run build`)
import { qrEmbeddingBag, qrEmbeddingBagBackward, scatterAdd } from 'embedkit';
import { mulberry32 } from './mulberry32.mjs';

/** The loss and both tables' row-sparse gradients for one batch; nothing is updated. */
export function lossAndGradients({ quotient, remainder, dim, indices, offsets, targets }) {
  const pooled = qrEmbeddingBag({ quotient, remainder, dim, indices, offsets, mode: 'mean', combine: 'mul' });
  const gradOutput = new Float32Array(pooled.length);
  let loss = 0;
  for (let e = 0; e < pooled.length; e++) {
    gradOutput[e] = pooled[e] - targets[e];
    loss += 0.5 * gradOutput[e] ** 2;
  }
  const grad = qrEmbeddingBagBackward({
    gradOutput, dim, indices, offsets, mode: 'mean', combine: 'mul', quotient, remainder,
    quotientRows: quotient.length / dim, remainderRows: remainder.length / dim, sparse: true,
  });
  return { loss, grad };
}

/** One SGD step in place; returns the loss before it. */
export function sgdStep(batch, lr) {
  const { loss, grad } = lossAndGradients(batch);
  const { quotient, remainder, dim } = batch;
  scatterAdd({ dst: quotient, dim, indices: grad.quotient.rows, src: grad.quotient.values, alpha: -lr });
  scatterAdd({ dst: remainder, dim, indices: grad.remainder.rows, src: grad.remainder.values, alpha: -lr });
  return loss;
}

/**
 * Bags of random ids whose targets come from a hidden pair of tables; the model starts from
 * another random pair. Returns the loss per step.
 */
export function demo({ m = 100, quotientRows = 100, dim = 16, bags = 400, perBag = 5, steps = 80, lr = 0.1, seed = 1 } = {}) {
  const rand = mulberry32(seed);
  const table = (rows, scale) => Float32Array.from({ length: rows * dim }, () => 1 + scale * (rand() - 0.5));
  const hiddenQ = table(quotientRows, 1);
  const hiddenR = table(m, 1);
  const indices = Int32Array.from({ length: bags * perBag }, () => Math.floor(rand() * quotientRows * m));
  const offsets = Int32Array.from({ length: bags }, (_, b) => b * perBag);
  const targets = qrEmbeddingBag({ quotient: hiddenQ, remainder: hiddenR, dim, indices, offsets, mode: 'mean', combine: 'mul' });
  const batch = { quotient: table(quotientRows, 0.2), remainder: table(m, 0.2), dim, indices, offsets, targets };
  const losses = [];
  for (let step = 0; step < steps; step++) losses.push(sgdStep(batch, lr));
  return losses;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const losses = demo();
  console.log(`qr-bag loss, first step ${losses[0].toFixed(3)}, last step ${losses[losses.length - 1].toFixed(3)}`);
}
