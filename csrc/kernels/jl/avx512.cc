// AVX-512 (F, BW, VL, DQ) instantiation of the JL kernels, with the in-register Hadamard of
// 16 lanes.
#include "jl.h"
// No fused multiply-adds: csr_rows' acc + val * x must round twice on every path (the
// pragma file is shared with RoPE, which needs the same).
#include "../rope/exact_fp.h"

#include "../common/target.h"

#if defined(EMBEDKIT_X86_64)
// GCC 12 warns inside its own _mm512_maskz_loadu_ps (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
EMBEDKIT_TARGET_BEGIN("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#include "../common/simd_avx512.h"
#include "body.h"

namespace embedkit::jl {
namespace {

// Levels at strides 1, 2 (within 128-bit lanes, permute_ps) and 4, 8 (whole 128-bit lanes,
// shuffle_f32x4): a = the lower halves duplicated, plus b = the upper halves sign-flipped
// where they are subtracted.
struct Avx512Hadamard {
  static constexpr int kLevels = 4;
  static inline __m512 flip(uint32_t pattern) {
    // Bit i of pattern set: lane i's sign is flipped.
    return _mm512_castsi512_ps(
        _mm512_maskz_set1_epi32(static_cast<__mmask16>(pattern), static_cast<int>(0x80000000u)));
  }
  static inline __m512 transform(__m512 v) {
    v = _mm512_add_ps(_mm512_permute_ps(v, 0xA0), _mm512_xor_ps(_mm512_permute_ps(v, 0xF5), flip(0xAAAA)));
    v = _mm512_add_ps(_mm512_permute_ps(v, 0x44), _mm512_xor_ps(_mm512_permute_ps(v, 0xEE), flip(0xCCCC)));
    v = _mm512_add_ps(_mm512_shuffle_f32x4(v, v, 0xA0),
                      _mm512_xor_ps(_mm512_shuffle_f32x4(v, v, 0xF5), flip(0xF0F0)));
    v = _mm512_add_ps(_mm512_shuffle_f32x4(v, v, 0x44),
                      _mm512_xor_ps(_mm512_shuffle_f32x4(v, v, 0xEE), flip(0xFF00)));
    return v;
  }
};

}  // namespace

const Kernels* avx512_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::Avx512F32, Avx512Hadamard>();
  return &kernels;
}
}  // namespace embedkit::jl
EMBEDKIT_TARGET_END
#else
namespace embedkit::jl {
const Kernels* avx512_kernels() { return nullptr; }
}  // namespace embedkit::jl
#endif
