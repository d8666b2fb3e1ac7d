// The scalar reference of the plan-free scatter kernel: the oracle the SIMD paths are tested
// against, and the "scalar" path itself.
#include "scatter.h"

namespace embedkit::scatter {
namespace {

void scatter_rows_ref(const ScatterArgs& a, const IndexArray& indices, const int64_t* positions,
                      int64_t count, int64_t c0, int64_t c1) {
  const bool scaled = a.weights != nullptr || a.alpha != 1.0f;
  for (int64_t j = 0; j < count; ++j) {
    const int64_t i = positions != nullptr ? positions[j] : j;
    float* d = a.dst + indices.at(i) * a.dim;
    const float* s = a.src + (a.src_rows != nullptr ? a.src_rows[i] : i) * a.dim;
    // The same arithmetic as the gather oracle's weighted sum (out += w * row), so the plan
    // and plan-free forms agree bit for bit on this path too.
    const float w = scaled ? (a.weights != nullptr ? a.alpha * a.weights[i] : a.alpha) : 1.0f;
    for (int64_t c = c0; c < c1; ++c) d[c] += w * s[c];
  }
}

void max_backward_columns_ref(const MaxBackwardArgs& a, int64_t c0, int64_t c1) {
  for (int64_t b = 0; b < a.num_bags; ++b) {
    for (int64_t c = c0; c < c1; ++c) {
      const int32_t row = a.argmax[b * a.dim + c];
      if (row >= 0) a.out[row * a.dim + c] += a.grad[b * a.dim + c];
    }
  }
}

}  // namespace

const Kernels& reference_kernels() {
  static const Kernels kernels{scatter_rows_ref, max_backward_columns_ref};
  return kernels;
}

}  // namespace embedkit::scatter
