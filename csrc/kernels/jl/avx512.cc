// AVX-512 (F, BW, VL, DQ) instantiation of the JL kernels, with the in-register Hadamard of
// 16 lanes.
#include "jl.h"
// No fused multiply-adds: sparse_rows' acc + val * x must round twice on every path (the
// pragma file is shared with RoPE, which needs the same).
#include "../rope/exact_fp.h"

#include "../common/target.h"

#if defined(EMBEDKIT_X86_64)
// GCC 12 warns inside its own _mm512_maskz_loadu_ps (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
EMBEDKIT_TARGET_BEGIN("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#include "../common/simd_avx512.h"
#include "../common/transpose_avx2.h"
#include "body.h"

namespace embedkit::jl {
namespace {

// Levels at strides 1, 2 (partners swapped within 128-bit lanes, permute_ps) and 4, 8
// (whole 128-bit lanes exchanged, shuffle_f32x4), each v = v * (+1 | -1) + t in one fused
// multiply-add (see avx2.cc).
struct Avx512Hadamard {
  static constexpr int kLevels = 4;
  static inline __m512 transform(__m512 v) {
    const __m512 s1 = _mm512_setr_ps(1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1);
    const __m512 s2 = _mm512_setr_ps(1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1, 1, 1, -1, -1);
    const __m512 s4 = _mm512_setr_ps(1, 1, 1, 1, -1, -1, -1, -1, 1, 1, 1, 1, -1, -1, -1, -1);
    const __m512 s8 = _mm512_setr_ps(1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1, -1);
    v = _mm512_fmadd_ps(v, s1, _mm512_permute_ps(v, 0xB1));
    v = _mm512_fmadd_ps(v, s2, _mm512_permute_ps(v, 0x4E));
    v = _mm512_fmadd_ps(v, s4, _mm512_shuffle_f32x4(v, v, 0xB1));
    v = _mm512_fmadd_ps(v, s8, _mm512_shuffle_f32x4(v, v, 0x4E));
    return v;
  }
};

}  // namespace

const Kernels* avx512_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::Avx512F32, Avx512Hadamard, simd::Avx2Transpose8>();
  return &kernels;
}
}  // namespace embedkit::jl
EMBEDKIT_TARGET_END
#else
namespace embedkit::jl {
const Kernels* avx512_kernels() { return nullptr; }
}  // namespace embedkit::jl
#endif
