// The in-register Hadamard of 8 lanes (three levels inside a YMM register), used by the AVX2
// and the AVX-512 JL kernels (see avx512.cc for why the latter). Include only inside an
// EMBEDKIT_TARGET region that enables AVX2 and FMA.
#pragma once

#include <immintrin.h>

namespace embedkit::jl {
namespace {  // internal linkage: each translation unit keeps its own ISA's copy

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
}  // namespace embedkit::jl
