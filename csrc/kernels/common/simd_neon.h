// 4 x float32 in a Q register (Advanced SIMD, baseline on arm64).
#pragma once

#include <arm_neon.h>

#include <cstdint>

namespace embedkit::simd {

struct NeonF32 {
  using Reg = float32x4_t;
  using Mask = int;  // number of leading lanes
  static constexpr int kLanes = 4;

  static inline Reg zero() { return vdupq_n_f32(0.0f); }
  static inline Reg set1(float v) { return vdupq_n_f32(v); }
  static inline Reg load(const float* p) { return vld1q_f32(p); }
  static inline void store(float* p, Reg v) { vst1q_f32(p, v); }
  // No streaming store is used here (kStreams false: callers keep their zero-fill paths);
  // stream() is a plain store so that shared kernels still compile and test alike.
  static constexpr bool kStreams = false;
  static inline void stream(float* p, Reg v) { vst1q_f32(p, v); }
  static inline void stream_fence() {}
  static inline Mask tail_mask(int n) { return n; }
  // NEON has no masked memory access: go through a stack buffer so no byte past the row
  // is read or written.
  static inline Reg load_masked(const float* p, Mask n) {
    float buf[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int i = 0; i < n; ++i) buf[i] = p[i];
    return vld1q_f32(buf);
  }
  static inline void store_masked(float* p, Reg v, Mask n) {
    float buf[4];
    vst1q_f32(buf, v);
    for (int i = 0; i < n; ++i) p[i] = buf[i];
  }
  static inline Reg add(Reg a, Reg b) { return vaddq_f32(a, b); }
  static inline Reg mul(Reg a, Reg b) { return vmulq_f32(a, b); }
  static inline Reg sub(Reg a, Reg b) { return vsubq_f32(a, b); }
  // Swaps lanes 2i and 2i + 1: [x0, x1, x2, x3] -> [x1, x0, x3, x2].
  static inline Reg swap_pairs(Reg a) { return vrev64q_f32(a); }
  static inline Reg div(Reg a, Reg b) { return vdivq_f32(a, b); }
  static inline Reg fma(Reg a, Reg b, Reg c) { return vfmaq_f32(c, a, b); }
  // x > acc ? x : acc. Not vmaxq_f32, which differs on NaN and on -0 vs +0.
  static inline Reg max_gt(Reg x, Reg acc) { return vbslq_f32(vcgtq_f32(x, acc), x, acc); }
  // The lanes where x > acc, and ids moved by them as int32 bits (see simd_avx512.h).
  using Cmp = uint32x4_t;
  static inline Cmp gt(Reg x, Reg acc) { return vcgtq_f32(x, acc); }
  static inline Reg select(Cmp m, Reg if_true, Reg if_false) { return vbslq_f32(m, if_true, if_false); }
  static inline Reg splat_bits(int32_t v) { return vreinterpretq_f32_s32(vdupq_n_s32(v)); }
  static inline void store_bits(int32_t* p, Reg v) { vst1q_s32(p, vreinterpretq_s32_f32(v)); }
  static inline void store_bits_masked(int32_t* p, Reg v, Mask n) {
    int32_t buf[4];
    vst1q_s32(buf, vreinterpretq_s32_f32(v));
    for (int i = 0; i < n; ++i) p[i] = buf[i];
  }
};

// 2 x float64 in a Q register (see simd_avx512.h's Avx512F64).
struct NeonF64 {
  using Reg = float64x2_t;
  static constexpr int kLanes = 2;

  static inline Reg zero() { return vdupq_n_f64(0.0); }
  static inline Reg set1(double v) { return vdupq_n_f64(v); }
  static inline Reg load(const double* p) { return vld1q_f64(p); }
  static inline void store(double* p, Reg v) { vst1q_f64(p, v); }
  // See simd_avx512.h's Avx512F64::load_columns: a 2 x 2 float transpose, then widening.
  static inline void load_columns(const float* p, int64_t stride, Reg (&cols)[kLanes]) {
    const float32x2_t r0 = vld1_f32(p), r1 = vld1_f32(p + stride);
    cols[0] = vcvt_f64_f32(vzip1_f32(r0, r1));
    cols[1] = vcvt_f64_f32(vzip2_f32(r0, r1));
  }
  static inline Reg add(Reg a, Reg b) { return vaddq_f64(a, b); }
  static inline Reg sub(Reg a, Reg b) { return vsubq_f64(a, b); }
  static inline Reg sub_on_fma(Reg a, Reg b) { return vfmsq_f64(a, b, vdupq_n_f64(1.0)); }
  static inline Reg mul(Reg a, Reg b) { return vmulq_f64(a, b); }
  static inline void store_rounded(float* p, Reg v) { vst1_f32(p, vcvt_f32_f64(v)); }
};

}  // namespace embedkit::simd
