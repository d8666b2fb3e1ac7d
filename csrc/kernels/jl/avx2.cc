// AVX2 + FMA instantiation of the JL kernels, with the in-register Hadamard of 8 lanes.
#include "jl.h"
// No fused multiply-adds: csr_rows' acc + val * x must round twice on every path (the
// pragma file is shared with RoPE, which needs the same).
#include "../rope/exact_fp.h"

#include "../common/target.h"

#if defined(EMBEDKIT_X86_64)
EMBEDKIT_TARGET_BEGIN("avx2,fma")
#include "../common/simd_avx2.h"
#include "body.h"

namespace embedkit::jl {
namespace {

// Levels at strides 1, 2, 4 inside a YMM register: each is a + (b with the sign flipped in
// the upper half of every pair group), a = the lower halves duplicated, b = the upper ones.
struct Avx2Hadamard {
  static constexpr int kLevels = 3;
  static inline __m256 flip(int m0, int m1, int m2, int m3, int m4, int m5, int m6, int m7) {
    return _mm256_castsi256_ps(_mm256_setr_epi32(m0, m1, m2, m3, m4, m5, m6, m7));
  }
  static inline __m256 transform(__m256 v) {
    constexpr int S = static_cast<int>(0x80000000u);
    v = _mm256_add_ps(_mm256_permute_ps(v, 0xA0),
                      _mm256_xor_ps(_mm256_permute_ps(v, 0xF5), flip(0, S, 0, S, 0, S, 0, S)));
    v = _mm256_add_ps(_mm256_permute_ps(v, 0x44),
                      _mm256_xor_ps(_mm256_permute_ps(v, 0xEE), flip(0, 0, S, S, 0, 0, S, S)));
    v = _mm256_add_ps(_mm256_permute2f128_ps(v, v, 0x00),
                      _mm256_xor_ps(_mm256_permute2f128_ps(v, v, 0x11), flip(0, 0, 0, 0, S, S, S, S)));
    return v;
  }
};

}  // namespace

const Kernels* avx2_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::Avx2F32, Avx2Hadamard>();
  return &kernels;
}
}  // namespace embedkit::jl
EMBEDKIT_TARGET_END
#else
namespace embedkit::jl {
const Kernels* avx2_kernels() { return nullptr; }
}  // namespace embedkit::jl
#endif
