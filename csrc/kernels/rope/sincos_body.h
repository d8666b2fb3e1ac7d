// sin and cos in float64 for |x| < kReduceLimit, written as straight-line, branch-free code
// so that a loop over it vectorizes (SSE2 / AVX2 / AVX-512 / NEON doubles) in each ISA's
// translation unit. Plain IEEE operations in a fixed order, no fused multiply-add (the
// including files turn contraction off), so every path gives the same bits. Uses no std::
// templates (see common/target.h).
//
// Cody-Waite reduction x = k * pi/2 + r with pi/2 in three parts (the first two of 27
// significant bits: k * part is exact for |k| < 2^26), then Taylor series on |r| <= pi/4 to
// r^13 (sin) and r^14 (cos): truncation error below 2e-14.
#pragma once

#include <cstdint>

#include "rope.h"

namespace embedkit::rope::trig {
namespace {

constexpr double kPio2A = 0x1.921fb54p+0;
constexpr double kPio2B = 0x1.10b461p-30;
constexpr double kPio2C = 0x1.a62633145c06ep-58;
constexpr double kTwoOverPi = 0x1.45f306dc9c883p-1;
// Adding 1.5 * 2^52 rounds to an integer k (|k| < 2^51) kept in the low mantissa bits.
constexpr double kRoundShifter = 0x1.8p52;
constexpr double kReduceLimit = 6.0e7;  // |x| * 2/pi < 2^26

inline void sincos_reduced(double x, double* s_out, double* c_out) {
  const double t = x * kTwoOverPi + kRoundShifter;
  const double kd = t - kRoundShifter;
  uint64_t tb;
  __builtin_memcpy(&tb, &t, sizeof tb);
  const uint64_t q = tb & 3;  // k mod 4, also for negative k
  const double r = ((x - kd * kPio2A) - kd * kPio2B) - kd * kPio2C;
  const double r2 = r * r;
  const double sp =
      r + r * r2 *
              (-1.0 / 6 +
               r2 * (1.0 / 120 +
                     r2 * (-1.0 / 5040 +
                           r2 * (1.0 / 362880 + r2 * (-1.0 / 39916800 + r2 * (1.0 / 6227020800.0))))));
  const double cp =
      1.0 + r2 * (-0.5 +
                  r2 * (1.0 / 24 +
                        r2 * (-1.0 / 720 +
                              r2 * (1.0 / 40320 +
                                    r2 * (-1.0 / 3628800 +
                                          r2 * (1.0 / 479001600.0 + r2 * (-1.0 / 87178291200.0)))))));
  // Quadrant q: (sin, cos) = (sp, cp), (cp, -sp), (-sp, -cp), (-cp, sp).
  const double s = (q & 1) ? cp : sp;
  const double c = (q & 1) ? sp : cp;
  *s_out = (q & 2) ? -s : s;
  *c_out = ((q + 1) & 2) ? -c : c;
}

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
