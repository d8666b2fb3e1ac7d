// NEON instantiation of the JL kernels (Advanced SIMD is baseline on arm64), with the
// in-register Hadamard of 4 lanes.
#include "jl.h"
// No fused multiply-adds: sparse_rows' acc + val * x must round twice on every path (the
// pragma file is shared with RoPE, which needs the same).
#include "../rope/exact_fp.h"

#include "../common/target.h"

#if defined(EMBEDKIT_ARM64)
#include "../common/simd_neon.h"
#include "../common/transpose_neon.h"
#include "body.h"

namespace embedkit::jl {
namespace {

// Levels at strides 1 and 2: t = v with partners swapped (rev64, ext by two lanes), then
// v = t + v * (+1 | -1) in one fused multiply-add (see avx2.cc).
struct NeonHadamard {
  static constexpr int kLevels = 2;
  static inline float32x4_t transform(float32x4_t v) {
    const float s1[4] = {1, -1, 1, -1};
    const float s2[4] = {1, 1, -1, -1};
    v = vfmaq_f32(vrev64q_f32(v), v, vld1q_f32(s1));
    v = vfmaq_f32(vextq_f32(v, v, 2), v, vld1q_f32(s2));
    return v;
  }
};

}  // namespace

const Kernels* neon_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::NeonF32, NeonHadamard, simd::NeonTranspose4>();
  return &kernels;
}
}  // namespace embedkit::jl
#else
namespace embedkit::jl {
const Kernels* neon_kernels() { return nullptr; }
}  // namespace embedkit::jl
#endif
