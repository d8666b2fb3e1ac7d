// The scalar reference of the plan-free scatter, max backward and weights gradient kernels:
// the oracles the SIMD paths are tested against, and the "scalar" path itself.
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
    const float* f = a.factor != nullptr ? a.factor + a.factor_rows[i] * a.dim : nullptr;
    // A first touch adds onto a zero it does not read.
    const bool first = a.first_touch != nullptr && a.first_touch[i] != 0;
    for (int64_t c = c0; c < c1; ++c) d[c] = (first ? 0.0f : d[c]) + w * (f != nullptr ? s[c] * f[c] : s[c]);
  }
}

void zero_untouched_rows_ref(float* out, int64_t dim, const uint64_t* touched, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    if (row_bit(touched, r)) continue;
    for (int64_t c = 0; c < dim; ++c) out[r * dim + c] = 0.0f;
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

void weights_grad_ref(const WeightsGradArgs& a, int64_t bag, int64_t p0, int64_t p1) {
  int64_t b = bag;
  for (int64_t p = p0; p < p1; ++p) {
    while (p >= a.bags.end(b)) ++b;
    const int64_t row = a.indices.at(p);
    if (row == a.padding_idx) {
      if (!a.accumulate) a.out[p] = 0.0f;
      continue;
    }
    const float* g = a.grad + (b * a.grad_rows_per_bag + a.grad_row_offset) * a.dim;
    const float* t = a.table + row * a.dim;
    const float* f = a.factor != nullptr ? a.factor + a.factor_rows[p] * a.dim : nullptr;
    float d = 0.0f;
    for (int64_t c = 0; c < a.dim; ++c) d += g[c] * (f != nullptr ? t[c] * f[c] : t[c]);
    d /= static_cast<float>(weights_grad_divisor(a, b));
    a.out[p] = a.accumulate ? a.out[p] + d : d;
  }
}

}  // namespace

const Kernels& reference_kernels() {
  static const Kernels kernels{scatter_rows_ref, max_backward_columns_ref, weights_grad_ref,
                               zero_untouched_rows_ref, false};
  return kernels;
}

}  // namespace embedkit::scatter
