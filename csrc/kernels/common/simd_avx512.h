// 16 x float32 in a ZMM register. Include only inside
// EMBEDKIT_TARGET_BEGIN("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma").
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace embedkit::simd {

struct Avx512F32 {
  using Reg = __m512;
  using Mask = __mmask16;
  static constexpr int kLanes = 16;

  static inline Reg zero() { return _mm512_setzero_ps(); }
  static inline Reg set1(float v) { return _mm512_set1_ps(v); }
  static inline Reg load(const float* p) { return _mm512_loadu_ps(p); }
  static inline void store(float* p, Reg v) { _mm512_storeu_ps(p, v); }
  // A non-temporal store: p 64-byte aligned. Written lines go to memory without being read
  // first; stream_fence() orders them before the stores that follow (a task's end).
  static constexpr bool kStreams = true;
  static inline void stream(float* p, Reg v) { _mm512_stream_ps(p, v); }
  static inline void stream_fence() { _mm_sfence(); }
  // First n lanes, 0 < n < kLanes. Masked-off lanes are neither read nor written, so a
  // row's last partial vector never touches memory past the row.
  static inline Mask tail_mask(int n) { return static_cast<Mask>((1u << n) - 1u); }
  static inline Reg load_masked(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
  static inline void store_masked(float* p, Reg v, Mask m) { _mm512_mask_storeu_ps(p, m, v); }
  static inline Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
  static inline Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
  static inline Reg sub(Reg a, Reg b) { return _mm512_sub_ps(a, b); }
  // Swaps lanes 2i and 2i + 1: [x0, x1, x2, x3, ...] -> [x1, x0, x3, x2, ...].
  static inline Reg swap_pairs(Reg a) { return _mm512_permute_ps(a, 0xB1); }
  static inline Reg div(Reg a, Reg b) { return _mm512_div_ps(a, b); }
  static inline Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
  // x > acc ? x : acc, lane-wise (vmaxps returns its second operand on NaN or equality).
  static inline Reg max_gt(Reg x, Reg acc) { return _mm512_max_ps(x, acc); }
  // The lanes where x > acc (false on NaN and on equal values, -0 and +0 included): where
  // max_gt takes x. With select it moves other lanes along, e.g. the ids of max's winners,
  // which ride in Regs as int32 bit patterns (splat_bits, store_bits; never computed on).
  using Cmp = __mmask16;
  static inline Cmp gt(Reg x, Reg acc) { return _mm512_cmp_ps_mask(x, acc, _CMP_GT_OQ); }
  static inline Reg select(Cmp m, Reg if_true, Reg if_false) { return _mm512_mask_blend_ps(m, if_false, if_true); }
  static inline Reg splat_bits(int32_t v) { return _mm512_castsi512_ps(_mm512_set1_epi32(v)); }
  static inline void store_bits(int32_t* p, Reg v) { _mm512_storeu_si512(p, _mm512_castps_si512(v)); }
  static inline void store_bits_masked(int32_t* p, Reg v, Mask m) {
    _mm512_mask_storeu_epi32(p, m, _mm512_castps_si512(v));
  }
};

// 8 x float64 in a ZMM register: the few operations of the float64 sums that must give the
// scalar code's bits (add, sub and mul only, never fused: the including file turns
// contraction off), and the rounding of a vector of sums to float32.
struct Avx512F64 {
  using Reg = __m512d;
  static constexpr int kLanes = 8;

  static inline Reg zero() { return _mm512_setzero_pd(); }
  static inline Reg set1(double v) { return _mm512_set1_pd(v); }
  static inline Reg load(const double* p) { return _mm512_loadu_pd(p); }
  static inline void store(double* p, Reg v) { _mm512_storeu_pd(p, v); }
  // The kLanes x kLanes floats at p + i * stride + j (row i, column j), transposed and widened
  // exactly: cols[j] holds column j. An 8 x 8 float transpose in YMM registers (unpack,
  // shuffle, then 128-bit halves), then one widening per column: a ZMM double transpose
  // cost a third more here.
  static inline void load_columns(const float* p, int64_t stride, Reg (&cols)[kLanes]) {
    __m256 r[8], t[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(p + i * stride);
    // Rows i, i + 1 interleaved: columns 0, 1 (4, 5 in the high half), then 2, 3 (6, 7).
    for (int i = 0; i < 8; i += 2) {
      t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
      t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    // r[i + k], k < 4: rows i..i+3 of column k (column k + 4 in the high half).
    for (int i = 0; i < 8; i += 4) {
      for (int h = 0; h < 2; ++h) {
        r[i + 2 * h] = _mm256_shuffle_ps(t[i + h], t[i + h + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 2 * h + 1] = _mm256_shuffle_ps(t[i + h], t[i + h + 2], _MM_SHUFFLE(3, 2, 3, 2));
      }
    }
    for (int j = 0; j < 4; ++j) {  // r[j]: rows 0-3 of columns j, j + 4; r[4 + j]: rows 4-7
      cols[j] = _mm512_cvtps_pd(_mm256_permute2f128_ps(r[j], r[4 + j], 0x20));
      cols[j + 4] = _mm512_cvtps_pd(_mm256_permute2f128_ps(r[j], r[4 + j], 0x31));
    }
  }
  static inline Reg add(Reg a, Reg b) { return _mm512_add_pd(a, b); }
  static inline Reg sub(Reg a, Reg b) { return _mm512_sub_pd(a, b); }
  // a - b as a - b * 1 in one rounding: sub's exact result (signed zeros included), issued to
  // the multiply-add pipes instead of the add pipes, which sums already keep busy.
  static inline Reg sub_on_fma(Reg a, Reg b) { return _mm512_fnmadd_pd(b, _mm512_set1_pd(1.0), a); }
  static inline Reg mul(Reg a, Reg b) { return _mm512_mul_pd(a, b); }
  // Each lane rounded to float32 (to nearest, as static_cast<float>), kLanes floats stored.
  static inline void store_rounded(float* p, Reg v) { _mm256_storeu_ps(p, _mm512_cvtpd_ps(v)); }
};

}  // namespace embedkit::simd
