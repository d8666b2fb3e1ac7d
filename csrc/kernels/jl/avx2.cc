// AVX2 + FMA instantiation of the JL kernels, with the in-register Hadamard of 8 lanes.
#include "jl.h"
// No fused multiply-adds: sparse_rows' acc + val * x must round twice on every path (the
// pragma file is shared with RoPE, which needs the same).
#include "../rope/exact_fp.h"

#include "../common/target.h"

#if defined(EMBEDKIT_X86_64)
EMBEDKIT_TARGET_BEGIN("avx2,fma")
#include "../common/simd_avx2.h"
#include "../common/transpose_avx2.h"
#include "body.h"
#include "fwht_shifted_avx2.h"

namespace embedkit::jl {
namespace {

// Levels at strides 1, 2, 4 inside a YMM register, two instructions each: t = v with the
// partners swapped (in-lane permute, or the 128-bit halves exchanged), then
// v = v * (+1 | -1) + t in one fused multiply-add (exact product, one rounding: a + b on the
// lower partner, -b + a = a - b on the upper).
struct Avx2Hadamard {
  static constexpr int kLevels = 3;
  static inline __m256 transform(__m256 v) {
    const __m256 s1 = _mm256_setr_ps(1, -1, 1, -1, 1, -1, 1, -1);
    const __m256 s2 = _mm256_setr_ps(1, 1, -1, -1, 1, 1, -1, -1);
    const __m256 s4 = _mm256_setr_ps(1, 1, 1, 1, -1, -1, -1, -1);
    v = _mm256_fmadd_ps(v, s1, _mm256_permute_ps(v, 0xB1));
    v = _mm256_fmadd_ps(v, s2, _mm256_permute_ps(v, 0x4E));
    v = _mm256_fmadd_ps(v, s4, _mm256_permute2f128_ps(v, v, 0x01));
    return v;
  }
};

}  // namespace

const Kernels* avx2_kernels() {
  static const Kernels kernels = [] {
    Kernels k = simd_body::make_kernels<simd::Avx2F32, Avx2Hadamard, simd::Avx2Transpose8>();
    // body.h's, or on aligned chunks for rows 16 bytes past a 32-byte boundary.
    k.fwht_rows = &avx2_shifted::fwht_rows<Avx2Hadamard>;
    k.fwht_high = &avx2_shifted::fwht_high<Avx2Hadamard>;
    return k;
  }();
  return &kernels;
}
}  // namespace embedkit::jl
EMBEDKIT_TARGET_END
#else
namespace embedkit::jl {
const Kernels* avx2_kernels() { return nullptr; }
}  // namespace embedkit::jl
#endif
