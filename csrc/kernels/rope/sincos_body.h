// sin and cos in float64 for |x| < kReduceLimit, written as straight-line, branch-free code
// so that a loop over it vectorizes (SSE2 / AVX2 / AVX-512 / NEON doubles) in each ISA's
// translation unit. Plain IEEE operations in a fixed order, no fused multiply-add (the
// including files turn contraction off), so every path gives the same bits. Uses no std::
// templates (see common/target.h).
// The reduction and polynomials themselves are in sincos_reduced.h, shared with the CUDA
// kernels so that the GPU computes the same tables.
#pragma once

#include <cstdint>

#include "rope.h"
#include "sincos_reduced.h"

namespace embedkit::rope::trig {
namespace {

// Angle i of one token (rope.h, Angles), in float64 and in this order on every path.
template <bool kTwoSets>
inline double angle_of(const Angles& a, int64_t i) {
  return kTwoSets ? a.to_pos * a.to_freq[i] - a.from_pos * a.from_freq[i] : a.to_pos * a.to_freq[i];
}
inline double angle(const Angles& a, int64_t i) {
  return a.from_freq == nullptr ? angle_of<false>(a, i) : angle_of<true>(a, i);
}

// One token's tables: cos[i] = (float)(cos(theta_i) * scale_cos), sin[i] = (float)(sin(theta_i)
// * scale_sin). Returns false, with the tables unspecified, when some |theta_i| is not below
// kReduceLimit (the caller then takes the per-angle path). The two loops differ only in the
// angle expression; each is branch-free so that it vectorizes.
template <bool kTwoSets>
inline bool sincos_tables_of(const Angles& a, int64_t n, double scale_cos, double scale_sin,
                             float* cos, float* sin) {
  // Locals, not loads through `a` inside the loop: the stores to cos/sin would otherwise
  // force a reload each iteration and keep the loop scalar.
  const Angles local = a;
  int out_of_range = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double theta = angle_of<kTwoSets>(local, i);
    out_of_range |= !((theta < kReduceLimit) & (theta > -kReduceLimit));
    double s, c;
    sincos_reduced(theta, &s, &c);
    cos[i] = static_cast<float>(c * scale_cos);
    sin[i] = static_cast<float>(s * scale_sin);
  }
  return out_of_range == 0;
}

inline bool sincos_tables(const Angles& a, int64_t n, double scale_cos, double scale_sin,
                          float* cos, float* sin) {
  return a.from_freq == nullptr ? sincos_tables_of<false>(a, n, scale_cos, scale_sin, cos, sin)
                                : sincos_tables_of<true>(a, n, scale_cos, scale_sin, cos, sin);
}

}  // namespace
}  // namespace embedkit::rope::trig
