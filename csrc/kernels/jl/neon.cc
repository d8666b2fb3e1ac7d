// NEON instantiation of the JL kernels (Advanced SIMD is baseline on arm64), with the
// in-register Hadamard of 4 lanes.
#include "jl.h"
// No fused multiply-adds: csr_rows' acc + val * x must round twice on every path (the
// pragma file is shared with RoPE, which needs the same).
#include "../rope/exact_fp.h"

#include "../common/target.h"

#if defined(EMBEDKIT_ARM64)
#include "../common/simd_neon.h"
#include "body.h"

namespace embedkit::jl {
namespace {

// Levels at strides 1 and 2: a = the lower halves duplicated (trn1 / low half twice),
// plus b = the upper halves with the sign flipped where they are subtracted.
struct NeonHadamard {
  static constexpr int kLevels = 2;
  static inline float32x4_t flip_add(float32x4_t a, float32x4_t b, uint32x4_t sign) {
    return vaddq_f32(a, vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(b), sign)));
  }
  static inline float32x4_t transform(float32x4_t v) {
    const uint32_t S = 0x80000000u;
    const uint32_t s1[4] = {0, S, 0, S};
    const uint32_t s2[4] = {0, 0, S, S};
    v = flip_add(vtrn1q_f32(v, v), vtrn2q_f32(v, v), vld1q_u32(s1));
    v = flip_add(vcombine_f32(vget_low_f32(v), vget_low_f32(v)),
                 vcombine_f32(vget_high_f32(v), vget_high_f32(v)), vld1q_u32(s2));
    return v;
  }
};

}  // namespace

const Kernels* neon_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::NeonF32, NeonHadamard>();
  return &kernels;
}
}  // namespace embedkit::jl
#else
namespace embedkit::jl {
const Kernels* neon_kernels() { return nullptr; }
}  // namespace embedkit::jl
#endif
