// 8 x 8 float32 tile transpose in YMM registers. Include only inside an EMBEDKIT_TARGET region
// that enables AVX2 (the AVX-512 regions do too, and use it as is: on the 2-vCPU Zen 4 VM a
// 16 x 16 tile would only move more lines at once). Internal linkage: jl/avx2.cc and
// jl/avx512.cc, built for different ISAs, both include it, and each must keep the copy compiled
// for its own ISA (an out-of-line copy built for AVX-512 must never serve an AVX2 caller).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace embedkit::simd {
namespace {

struct Avx2Transpose8 {
  static constexpr int kSide = 8;
  // dst[c * dst_ld + r] = src[r * src_ld + c] for r, c < 8: eight row loads, three rounds of
  // shuffles (pairs, quads, 128-bit halves), eight row stores.
  static inline void tile(const float* src, int64_t src_ld, float* dst, int64_t dst_ld) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * src_ld);
    __m256 p[8];
    for (int i = 0; i < 8; i += 2) {
      p[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);      // a0 b0 a1 b1 | a4 b4 a5 b5
      p[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);  // a2 b2 a3 b3 | a6 b6 a7 b7
    }
    __m256 q[8];
    for (int i = 0; i < 8; i += 4) {
      q[i] = _mm256_shuffle_ps(p[i], p[i + 2], 0x44);      // a0 b0 c0 d0 | a4 b4 c4 d4
      q[i + 1] = _mm256_shuffle_ps(p[i], p[i + 2], 0xEE);  // a1 b1 c1 d1 | a5 b5 c5 d5
      q[i + 2] = _mm256_shuffle_ps(p[i + 1], p[i + 3], 0x44);
      q[i + 3] = _mm256_shuffle_ps(p[i + 1], p[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; ++i) {
      _mm256_storeu_ps(dst + i * dst_ld, _mm256_permute2f128_ps(q[i], q[i + 4], 0x20));
      _mm256_storeu_ps(dst + (i + 4) * dst_ld, _mm256_permute2f128_ps(q[i], q[i + 4], 0x31));
    }
  }
};

}  // namespace
}  // namespace embedkit::simd
