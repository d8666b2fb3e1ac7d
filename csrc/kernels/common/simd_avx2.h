// 8 x float32 in a YMM register. Include only inside EMBEDKIT_TARGET_BEGIN("avx2,fma").
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace embedkit::simd {

struct Avx2F32 {
  using Reg = __m256;
  using Mask = __m256i;  // lane i active when its int32 is negative
  static constexpr int kLanes = 8;

  static inline Reg zero() { return _mm256_setzero_ps(); }
  static inline Reg set1(float v) { return _mm256_set1_ps(v); }
  static inline Reg load(const float* p) { return _mm256_loadu_ps(p); }
  static inline void store(float* p, Reg v) { _mm256_storeu_ps(p, v); }
  // A non-temporal store: p 32-byte aligned (see simd_avx512.h).
  static constexpr bool kStreams = true;
  static inline void stream(float* p, Reg v) { _mm256_stream_ps(p, v); }
  static inline void stream_fence() { _mm_sfence(); }
  // First n lanes, 0 < n < kLanes.
  static inline Mask tail_mask(int n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lane);
  }
  static inline Reg load_masked(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
  static inline void store_masked(float* p, Reg v, Mask m) { _mm256_maskstore_ps(p, m, v); }
  static inline Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
  static inline Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
  static inline Reg sub(Reg a, Reg b) { return _mm256_sub_ps(a, b); }
  // Swaps lanes 2i and 2i + 1: [x0, x1, x2, x3, ...] -> [x1, x0, x3, x2, ...].
  static inline Reg swap_pairs(Reg a) { return _mm256_permute_ps(a, 0xB1); }
  static inline Reg div(Reg a, Reg b) { return _mm256_div_ps(a, b); }
  static inline Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
  // x > acc ? x : acc, lane-wise (maxps returns its second operand on NaN or equality).
  static inline Reg max_gt(Reg x, Reg acc) { return _mm256_max_ps(x, acc); }
  // The lanes where x > acc, and ids moved by them as int32 bits (see simd_avx512.h).
  using Cmp = __m256;  // all ones where true
  static inline Cmp gt(Reg x, Reg acc) { return _mm256_cmp_ps(x, acc, _CMP_GT_OQ); }
  static inline Reg select(Cmp m, Reg if_true, Reg if_false) { return _mm256_blendv_ps(if_false, if_true, m); }
  static inline Reg splat_bits(int32_t v) { return _mm256_castsi256_ps(_mm256_set1_epi32(v)); }
  static inline void store_bits(int32_t* p, Reg v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm256_castps_si256(v));
  }
  static inline void store_bits_masked(int32_t* p, Reg v, Mask m) { _mm256_maskstore_epi32(p, m, _mm256_castps_si256(v)); }
};

// 4 x float64 in a YMM register (see Avx512F64).
struct Avx2F64 {
  using Reg = __m256d;
  static constexpr int kLanes = 4;

  static inline Reg zero() { return _mm256_setzero_pd(); }
  static inline Reg set1(double v) { return _mm256_set1_pd(v); }
  static inline Reg load(const double* p) { return _mm256_loadu_pd(p); }
  static inline void store(double* p, Reg v) { _mm256_storeu_pd(p, v); }
  // See Avx512F64::load_columns: a 4 x 4 float transpose, then one widening per column.
  static inline void load_columns(const float* p, int64_t stride, Reg (&cols)[kLanes]) {
    const __m128 r0 = _mm_loadu_ps(p), r1 = _mm_loadu_ps(p + stride);
    const __m128 r2 = _mm_loadu_ps(p + 2 * stride), r3 = _mm_loadu_ps(p + 3 * stride);
    const __m128 t0 = _mm_unpacklo_ps(r0, r1), t1 = _mm_unpacklo_ps(r2, r3);  // columns 0, 1
    const __m128 t2 = _mm_unpackhi_ps(r0, r1), t3 = _mm_unpackhi_ps(r2, r3);  // columns 2, 3
    cols[0] = _mm256_cvtps_pd(_mm_movelh_ps(t0, t1));
    cols[1] = _mm256_cvtps_pd(_mm_movehl_ps(t1, t0));
    cols[2] = _mm256_cvtps_pd(_mm_movelh_ps(t2, t3));
    cols[3] = _mm256_cvtps_pd(_mm_movehl_ps(t3, t2));
  }
  static inline Reg add(Reg a, Reg b) { return _mm256_add_pd(a, b); }
  static inline Reg sub(Reg a, Reg b) { return _mm256_sub_pd(a, b); }
  static inline Reg sub_on_fma(Reg a, Reg b) { return _mm256_fnmadd_pd(b, _mm256_set1_pd(1.0), a); }
  static inline Reg mul(Reg a, Reg b) { return _mm256_mul_pd(a, b); }
  static inline void store_rounded(float* p, Reg v) { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)); }
};

}  // namespace embedkit::simd
