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

// One vector of lanes at p: whole, or the first lanes of m (the rest neither read nor written).
template <class V, bool kMasked>
inline typename V::Reg load_lanes(const float* p, typename V::Mask m) {
  if constexpr (kMasked) return V::load_masked(p, m);
  return V::load(p);
}
template <class V, bool kMasked>
inline void store_lanes(float* p, typename V::Reg v, typename V::Mask m) {
  if constexpr (kMasked) {
    V::store_masked(p, v, m);
  } else {
    V::store(p, v);
  }
}

// NeoX: columns [i, i + lanes) of the first half of row x with the same columns of the
// second half, in ref.cc's operation order (x1*c - x2*s, x2*c + x1*s). Rotates `half`
// columns per row.
template <class V>
struct NeoxLanes {
  int64_t half;
  const float* cos;
  const float* sin;
  int64_t width() const { return half; }
  template <bool kMasked>
  void apply(const float* x, float* y, int64_t i, typename V::Mask m) const {
    using Reg = typename V::Reg;
    const Reg c = load_lanes<V, kMasked>(cos + i, m);
    const Reg s = load_lanes<V, kMasked>(sin + i, m);
    const Reg x1 = load_lanes<V, kMasked>(x + i, m);
    const Reg x2 = load_lanes<V, kMasked>(x + half + i, m);
    store_lanes<V, kMasked>(y + i, V::sub(V::mul(x1, c), V::mul(x2, s)), m);
    store_lanes<V, kMasked>(y + half + i, V::add(V::mul(x2, c), V::mul(x1, s)), m);
  }
};

// GPT-J: columns [j, j + lanes) of row x hold whole pairs; y = x * cos2 + swap_pairs(x) * sin2
// with the sign in sin2 (rope.h), i.e. ref.cc's x1*c + x2*(-s) and x2*c + x1*s. Rotates
// rotary_dim columns per row.
template <class V>
struct GptjLanes {
  int64_t rotary_dim;
  const float* cos2;
  const float* sin2;
  int64_t width() const { return rotary_dim; }
  template <bool kMasked>
  void apply(const float* x, float* y, int64_t j, typename V::Mask m) const {
    using Reg = typename V::Reg;
    const Reg v = load_lanes<V, kMasked>(x + j, m);
    const Reg r = V::add(V::mul(v, load_lanes<V, kMasked>(cos2 + j, m)),
                         V::mul(V::swap_pairs(v), load_lanes<V, kMasked>(sin2 + j, m)));
    store_lanes<V, kMasked>(y + j, r, m);
  }
};

// Every row: the layout's columns in whole vectors, a last masked one, then the unrotated
// columns copied when out of place. Rows (heads) outside, columns inside. Heads inside
// (cos/sin kept in registers across a token's heads) measured 1.45x slower on the prefill
// shape, in place; the likely cause is that 128-float heads put the stores of one head and
// the loads of a head 8 rows on at the same offset modulo 4 KiB, which the CPU treats as a
// possible dependency.
template <class V, class Lanes>
inline void rotate_rows(const float* src, float* dst, int64_t rows, int64_t head_dim,
                        int64_t rotary_dim, const Lanes& lanes) {
  const int64_t width = lanes.width();
  const int64_t full = width - width % V::kLanes;
  const typename V::Mask all = V::tail_mask(1);  // unused by the whole-vector lanes
  const typename V::Mask m = V::tail_mask(full < width ? static_cast<int>(width - full) : 1);
  const bool copy = src != dst && rotary_dim < head_dim;
  for (int64_t h = 0; h < rows; ++h) {
    const float* x = src + h * head_dim;
    float* y = dst + h * head_dim;
    for (int64_t c = 0; c < full; c += V::kLanes) lanes.template apply<false>(x, y, c, all);
    if (full < width) lanes.template apply<true>(x, y, full, m);
    if (copy) copy_columns<V>(x + rotary_dim, y + rotary_dim, head_dim - rotary_dim);
  }
}

template <class V>
void rotate_neox(const float* src, float* dst, int64_t rows, int64_t head_dim,
                 int64_t rotary_dim, const float* cos, const float* sin) {
  rotate_rows<V>(src, dst, rows, head_dim, rotary_dim, NeoxLanes<V>{rotary_dim / 2, cos, sin});
}

template <class V>
void rotate_gptj(const float* src, float* dst, int64_t rows, int64_t head_dim,
                 int64_t rotary_dim, const float* cos2, const float* sin2) {
  rotate_rows<V>(src, dst, rows, head_dim, rotary_dim, GptjLanes<V>{rotary_dim, cos2, sin2});
}

template <class V>
Kernels make_kernels() {
  return Kernels{&rotate_neox<V>, &rotate_gptj<V>, &trig::sincos_tables};
}

}  // namespace
}  // namespace embedkit::rope::simd_body
