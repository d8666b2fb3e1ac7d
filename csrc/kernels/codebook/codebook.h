// The codebook family's contract: VQ-Logits (K code logits standing for a V-token vocabulary
// through a fixed token -> code map) and codebook / product-quantizer encode, decode, search
// and pooling. Callers validate first (find_code_out_of_range and the binding's checks);
// kernels assume valid input and never fail.
//
// Numerics: the O(B·V) expansion and the O(N·K·d) distance blocks are float32 SIMD (one body,
// body.h, per ISA); the PQ distance tables are float64 SIMD with the scalar definition's
// operations in each lane (the same bits on every ISA). The O(K)-per-row VQ reductions
// (log-partition, cross-entropy, top-k, sampling), k-means updates and PQ table lookups are
// scalar code shared by every ISA, with float64 accumulation where a row's reduction is short,
// so they give the same bits on every path. Every result is bitwise identical for any thread
// count: work is split by rows, and each row is computed by one task in a fixed order.
#pragma once

#include <cstdint>

#include "../common/index_array.h"
#include "../common/isa.h"
#include "../gather/gather.h"

namespace embedkit::codebook {

// ---- VQ-Logits ------------------------------------------------------------------------

// The token -> code map and its inverse (CSR): the tokens of code j are
// tokens[offsets[j] .. offsets[j + 1]), ascending. counts[j] = offsets[j + 1] - offsets[j];
// log_counts[j] = ln counts[j] (-inf for a code with no token).
struct VqMap {
  int64_t num_tokens = 0;  // V
  int64_t num_codes = 0;   // K
  const int32_t* token_to_code = nullptr;
  const int32_t* counts = nullptr;
  const double* log_counts = nullptr;
  const int32_t* offsets = nullptr;  // K + 1
  const int32_t* tokens = nullptr;   // V
};

// The first position of token_to_code holding a code outside [0, num_codes), or -1.
int64_t find_code_out_of_range(const int32_t* token_to_code, int64_t num_tokens,
                               int64_t num_codes);
// Fills counts (K), log_counts (K), offsets (K + 1) and tokens (V) from a valid map: a
// counting sort, stable, so each code's tokens ascend.
void build_vq_map(const int32_t* token_to_code, int64_t num_tokens, int64_t num_codes,
                  int32_t* counts, double* log_counts, int32_t* offsets, int32_t* tokens);

// Rows of code logits: rows x num_codes floats.
struct CodeLogits {
  const float* data = nullptr;
  int64_t rows = 0;
};

// out (rows x V): out[b][t] = logits[b][token_to_code[t]].
void vq_expand(const CodeLogits& logits, const VqMap& map, float* out);
// log Z per row = log sum_t exp(L[code(t)]) = logsumexp_j (L_j + ln n_j) over the codes with
// tokens, in float64. All such codes -inf: -inf. A NaN among them: NaN.
void vq_log_sum_exp(const CodeLogits& logits, const VqMap& map, float* out);
// out (rows x K): L_j - log Z, the log-probability of every token of code j (the O(K) form
// of log_softmax over V). Codes with no token get L_j - log Z too (they stand for nothing).
void vq_log_softmax(const CodeLogits& logits, const VqMap& map, float* out);
// Per row b: loss[b] = log Z - L[code(targets[b])]; grad (rows x K) = the gradient of loss[b]
// with respect to the code logits: n_j exp(L_j - log Z) - [j == code(target)].
void vq_cross_entropy(const CodeLogits& logits, const VqMap& map, const IndexArray& targets,
                      float* loss, float* grad);
// The k most likely tokens per row (ids rows x k, descending logit, ties in ascending token
// id; NaN logits rank last) and their log-probabilities L - log Z. k <= V.
void vq_top_k(const CodeLogits& logits, const VqMap& map, int64_t k, int32_t* ids,
              float* log_probs);
// One token per row drawn from softmax(L[code(t)] / temperature) over the V tokens: a code
// with probability proportional to n_j exp(L_j / T) (a float64 CDF), then one of its tokens
// uniformly. Row b uses Philox block b of stream kVqSample (common/philox.h): words 0-1 as a
// 53-bit uniform for the code, words 2-3 through uniform_below for the token. -1 for a row
// with no finite weight (all -inf, or NaN).
void vq_sample(const CodeLogits& logits, const VqMap& map, uint64_t seed, double temperature,
               int32_t* out);

// ---- codebooks and product quantization ----------------------------------------------

enum class Metric : int { L2 = 0, InnerProduct = 1 };

// rows x dim floats; row r starts at data + r * stride (stride >= dim), so a PQ subspace is
// a strided view of the full vectors.
struct Rows {
  const float* data = nullptr;
  int64_t rows = 0;
  int64_t dim = 0;
  int64_t stride = 0;
  const float* row(int64_t r) const { return data + r * stride; }
};

// A codebook repacked for the SIMD distance block: codes in panels of `width` (the ISA's
// panel width), each panel dim x width floats (coordinate-major), codes past num_codes NaN;
// norms[c] = ||c||² (float64 sum, rounded), NaN for the padding codes.
struct Panels {
  int64_t num_codes = 0;
  int64_t dim = 0;
  int64_t width = 0;
  const float* data = nullptr;  // ceil(num_codes / width) * dim * width
  const float* norms = nullptr; // ceil(num_codes / width) * width
};

// A product quantizer: dim = m * dsub; codebooks m x ksub x dsub, ksub = 2^bits (bits <= 8).
struct Pq {
  int64_t dim = 0;
  int64_t m = 0;
  int64_t ksub = 0;
  const float* codebooks = nullptr;
  int64_t dsub() const { return dim / m; }
  const float* codebook(int64_t s) const { return codebooks + s * ksub * dsub(); }
};

// One ISA's kernels; each call handles a slice independent of how the rest is split.
struct Kernels {
  // The number of codes a panel holds on this ISA.
  int64_t panel_width;
  // out rows [begin, end) of vq_expand; out points at the whole output.
  void (*expand_rows)(const CodeLogits& logits, const VqMap& map, int64_t begin, int64_t end,
                      float* out);
  // The best code of rows [begin, end) by score = ||c||² - 2 x·c (l2, minimized) or x·c
  // (ip, maximized), float32, the lowest index on ties: codes[r] and its score scores[r].
  void (*score_rows)(const Rows& x, const Panels& p, Metric metric, int64_t begin, int64_t end,
                     int32_t* codes, float* scores);
  // Distance-table rows (see pq_distance_table) of queries [q0, q1) for subspace s, into
  // tables (the whole nq x m x ksub output). scratch holds ksub * dsub doubles: the SIMD
  // paths widen the sub-codebook there once, coordinate-major, for all the queries.
  void (*table_rows)(const Pq& pq, int64_t s, const float* queries, int64_t q0, int64_t q1, Metric metric,
                     double* scratch, float* tables);
};

const Kernels& reference_kernels();
const Kernels* avx2_kernels();
const Kernels* avx512_kernels();
const Kernels* neon_kernels();
const Kernels& kernels_for(Isa isa);

// The nearest codeword per row of x (codebook: num_codes x x.dim, contiguous): codes[r], and
// dist[r] = ||x - c||² recomputed directly from the difference (l2) or x·c (ip, the maximum
// inner product). Ties go to the lowest code index.
void assign(const Rows& x, const float* codebook, int64_t num_codes, Metric metric,
            int32_t* codes, float* dist);

// k-means per subspace over the rows of x (n x dim), into codebooks (m x ksub x dsub):
// initial centroids are ksub distinct rows picked by Philox (stream kPqInit, partial
// Fisher-Yates), then `iterations` Lloyd steps (assign, then float64 means in row order);
// a centroid that loses all its rows keeps its place. Requires n >= ksub.
void pq_train(const float* x, int64_t n, int64_t dim, int64_t m, int64_t ksub, int iterations,
              uint64_t seed, float* codebooks);
// codes (n x m bytes): the nearest sub-codeword (l2) of each subvector.
void pq_encode(const Pq& pq, const float* x, int64_t n, uint8_t* codes);
// out (n x dim): the concatenated sub-codewords.
void pq_decode(const Pq& pq, const uint8_t* codes, int64_t n, float* out);
// tables (nq x m x ksub): ||q_s - c||² (l2) or q_s · c (ip) per query, subspace and code,
// each a float64 sum over the coordinates in order, from +0, of (x_d - c_d)² or x_d c_d, every
// operation rounded (never fused), then rounded once to float32: the same bits on every ISA
// (the SIMD paths sum several codes at once, one per lane) and on the GPU.
void pq_distance_table(const Pq& pq, const float* queries, int64_t nq, Metric metric,
                       float* tables);
// Per query, the k coded vectors with the smallest table sum (l2) or largest (ip), the sum
// over subspaces in ascending order in float32; ties by lowest vector id. Results sorted
// best first; ids (nq x k) and dists (nq x k). k <= n.
void pq_scan(const Pq& pq, const float* tables, int64_t nq, Metric metric, const uint8_t* codes,
             int64_t n, int64_t k, int32_t* ids, float* dists);
// embedding_bag (sum / mean, optional per-sample weights) over PQ-coded rows without
// decoding them: per bag and subspace, the weights of each code are summed (float64), then
// out_s = sum_c h[c] * codeword_s(c) (float64, rounded once). `mean` divides by the bag's
// count; empty bags give zeros. Max cannot be decomposed this way and is not offered.
void pq_embedding_bag(const Pq& pq, const uint8_t* codes, const IndexArray& indices,
                      const gather::Bags& bags, const float* weights, bool mean, float* out);

}  // namespace embedkit::codebook
