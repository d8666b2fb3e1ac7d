// The scalar reference of the codebook kernels: the oracle the SIMD paths are tested against,
// and the "scalar" path itself. Its panels are one code wide, i.e. the codebook as given.
// Contraction off (exact_fp.h): the table sums' mul and add stay two roundings on every target.
#include "../rope/exact_fp.h"
#include "codebook.h"

namespace embedkit::codebook {
namespace {

void expand_rows_ref(const CodeLogits& logits, const VqMap& map, int64_t begin, int64_t end,
                     float* out) {
  for (int64_t b = begin; b < end; ++b) {
    const float* row = logits.data + b * map.num_codes;
    for (int64_t t = 0; t < map.num_tokens; ++t) out[b * map.num_tokens + t] = row[map.token_to_code[t]];
  }
}

void score_rows_ref(const Rows& x, const Panels& p, Metric metric, int64_t begin, int64_t end,
                    int32_t* codes, float* scores) {
  for (int64_t r = begin; r < end; ++r) {
    const float* xr = x.row(r);
    int32_t best_code = -1;
    float best = 0.0f;
    for (int64_t c = 0; c < p.num_codes; ++c) {
      const float* code = p.data + c * p.dim;
      float dot = 0.0f;
      for (int64_t k = 0; k < p.dim; ++k) dot += xr[k] * code[k];
      const float s = metric == Metric::L2 ? p.norms[c] - 2.0f * dot : dot;
      if (best_code < 0 || (metric == Metric::L2 ? s < best : s > best)) {
        best = s;
        best_code = static_cast<int32_t>(c);
      }
    }
    codes[r] = best_code;
    scores[r] = best;
  }
}

// The definition itself, read straight from the codebook: no widened copy (scratch unused).
void table_rows_ref(const Pq& pq, int64_t s, const float* queries, int64_t q0, int64_t q1, Metric metric,
                    double* /*scratch*/, float* tables) {
  const int64_t dsub = pq.dsub();
  const float* book = pq.codebook(s);
  for (int64_t q = q0; q < q1; ++q) {
    const float* x = queries + q * pq.dim + s * dsub;
    float* row = tables + (q * pq.m + s) * pq.ksub;
    for (int64_t c = 0; c < pq.ksub; ++c) {
      const float* code = book + c * dsub;
      double sum = 0.0;
      for (int64_t d = 0; d < dsub; ++d) {
        if (metric == Metric::L2) {
          const double diff = static_cast<double>(x[d]) - static_cast<double>(code[d]);
          sum += diff * diff;
        } else {
          sum += static_cast<double>(x[d]) * static_cast<double>(code[d]);
        }
      }
      row[c] = static_cast<float>(sum);
    }
  }
}

}  // namespace

const Kernels& reference_kernels() {
  static const Kernels kernels{1, expand_rows_ref, score_rows_ref, table_rows_ref};
  return kernels;
}

}  // namespace embedkit::codebook
