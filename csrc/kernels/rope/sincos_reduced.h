// sin and cos in float64 for |x| < kReduceLimit: Cody-Waite reduction x = k * pi/2 + r with
// pi/2 in three parts (the first two of 27 significant bits: k * part is exact for
// |k| < 2^26), then Taylor series on |r| <= pi/4 to r^13 (sin) and r^14 (cos): truncation
// error below 2e-14. Straight-line and branch-free, so that loops over it vectorize on the
// CPU; plain IEEE operations in a fixed order with no fused multiply-add (every includer
// turns contraction off: exact_fp.h on the CPU, --fmad=false for cuda/rope), so the CPU
// paths and the CUDA kernels compute the same bits.
#pragma once

#include <cstdint>

#include "../common/host_device.h"

namespace embedkit::rope::trig {
namespace {

constexpr double kPio2A = 0x1.921fb54p+0;
constexpr double kPio2B = 0x1.10b461p-30;
constexpr double kPio2C = 0x1.a62633145c06ep-58;
constexpr double kTwoOverPi = 0x1.45f306dc9c883p-1;
// Adding 1.5 * 2^52 rounds to an integer k (|k| < 2^51) kept in the low mantissa bits.
constexpr double kRoundShifter = 0x1.8p52;
constexpr double kReduceLimit = 6.0e7;  // |x| * 2/pi < 2^26

EMBEDKIT_HOST_DEVICE inline void sincos_reduced(double x, double* s_out, double* c_out) {
  const double t = x * kTwoOverPi + kRoundShifter;
  const double kd = t - kRoundShifter;
  uint64_t tb;
  __builtin_memcpy(&tb, &t, sizeof tb);  // the bits of t: k sits in the low mantissa bits
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

}  // namespace
}  // namespace embedkit::rope::trig
