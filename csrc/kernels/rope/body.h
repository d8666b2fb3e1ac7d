// The RoPE row kernels, written once over a vector type V (common/simd_*.h). Included by
// avx2.cc / avx512.cc / neon.cc inside their EMBEDKIT_TARGET region; uses no std::
// templates (see common/target.h). The float32 operations and their order match ref.cc
// (multiply, multiply, then subtract or add; no fused multiply-add), so every path gives
// the reference's bits.
//
// NeoX: vector j of the first half and vector j of the second half are rotated together
// with cos[j..], sin[j..]. GPT-J: each vector holds whole pairs (rotary_dim and the lane
// count are even), y = x * cos2 + swap_pairs(x) * sin2 with the sign folded into sin2.
// A last partial vector is masked; masked-off lanes are neither read nor written.
#pragma once

#include "rope.h"
#include "sincos_body.h"

namespace embedkit::rope::simd_body {
// Internal linkage: each ISA's translation unit keeps its own copy (see gather/body.h).
namespace {

template <class V>
inline void copy_columns(const float* src, float* dst, int64_t n) {
  int64_t j = 0;
  for (; j + V::kLanes <= n; j += V::kLanes) V::store(dst + j, V::load(src + j));
  if (j < n) {
    const typename V::Mask m = V::tail_mask(static_cast<int>(n - j));
    V::store_masked(dst + j, V::load_masked(src + j, m), m);
  }
}

// The rotated pair, in ref.cc's exact operation order: x1*c - x2*s and x2*c + x1*s.
template <class V>
inline typename V::Reg rotated_first(typename V::Reg x1, typename V::Reg x2, typename V::Reg c,
                                     typename V::Reg s) {
  return V::sub(V::mul(x1, c), V::mul(x2, s));
}
template <class V>
inline typename V::Reg rotated_second(typename V::Reg x1, typename V::Reg x2, typename V::Reg c,
                                      typename V::Reg s) {
  return V::add(V::mul(x2, c), V::mul(x1, s));
}

template <class V>
void rotate_neox(const float* src, float* dst, int64_t rows, int64_t head_dim,
                 int64_t rotary_dim, const float* cos, const float* sin) {
  using Reg = typename V::Reg;
  const int64_t half = rotary_dim / 2;
  const int64_t full = half - half % V::kLanes;
  const int tail = static_cast<int>(half - full);
  const typename V::Mask m = V::tail_mask(tail == 0 ? 1 : tail);
  const bool copy = src != dst;
  for (int64_t h = 0; h < rows; ++h) {
    const float* x = src + h * head_dim;
    float* y = dst + h * head_dim;
    for (int64_t i = 0; i < full; i += V::kLanes) {
      const Reg c = V::load(cos + i);
      const Reg s = V::load(sin + i);
      const Reg x1 = V::load(x + i);
      const Reg x2 = V::load(x + half + i);
      V::store(y + i, rotated_first<V>(x1, x2, c, s));
      V::store(y + half + i, rotated_second<V>(x1, x2, c, s));
    }
    if (tail != 0) {
      const Reg c = V::load_masked(cos + full, m);
      const Reg s = V::load_masked(sin + full, m);
      const Reg x1 = V::load_masked(x + full, m);
      const Reg x2 = V::load_masked(x + half + full, m);
      V::store_masked(y + full, rotated_first<V>(x1, x2, c, s), m);
      V::store_masked(y + half + full, rotated_second<V>(x1, x2, c, s), m);
    }
    if (copy && rotary_dim < head_dim) {
      copy_columns<V>(x + rotary_dim, y + rotary_dim, head_dim - rotary_dim);
    }
  }
}

template <class V>
void rotate_gptj(const float* src, float* dst, int64_t rows, int64_t head_dim,
                 int64_t rotary_dim, const float* cos2, const float* sin2) {
  using Reg = typename V::Reg;
  const int64_t full = rotary_dim - rotary_dim % V::kLanes;
  const int tail = static_cast<int>(rotary_dim - full);
  const typename V::Mask m = V::tail_mask(tail == 0 ? 1 : tail);
  const bool copy = src != dst;
  for (int64_t h = 0; h < rows; ++h) {
    const float* x = src + h * head_dim;
    float* y = dst + h * head_dim;
    for (int64_t j = 0; j < full; j += V::kLanes) {
      const Reg v = V::load(x + j);
      V::store(y + j, V::add(V::mul(v, V::load(cos2 + j)), V::mul(V::swap_pairs(v), V::load(sin2 + j))));
    }
    if (tail != 0) {
      const Reg v = V::load_masked(x + full, m);
      const Reg r = V::add(V::mul(v, V::load_masked(cos2 + full, m)),
                           V::mul(V::swap_pairs(v), V::load_masked(sin2 + full, m)));
      V::store_masked(y + full, r, m);
    }
    if (copy && rotary_dim < head_dim) {
      copy_columns<V>(x + rotary_dim, y + rotary_dim, head_dim - rotary_dim);
    }
  }
}

template <class V>
Kernels make_kernels() {
  return Kernels{&rotate_neox<V>, &rotate_gptj<V>, &trig::sincos_tables};
}

}  // namespace
}  // namespace embedkit::rope::simd_body
