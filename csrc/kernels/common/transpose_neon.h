// 4 x 4 float32 tile transpose in Q registers (Advanced SIMD, baseline on arm64).
#pragma once

#include <arm_neon.h>

#include <cstdint>

namespace embedkit::simd {
namespace {

struct NeonTranspose4 {
  static constexpr int kSide = 4;
  // dst[c * dst_ld + r] = src[r * src_ld + c] for r, c < 4: pairs interleaved (trn), then
  // 64-bit halves combined.
  static inline void tile(const float* src, int64_t src_ld, float* dst, int64_t dst_ld) {
    const float32x4x2_t ab = vtrnq_f32(vld1q_f32(src), vld1q_f32(src + src_ld));
    const float32x4x2_t cd = vtrnq_f32(vld1q_f32(src + 2 * src_ld), vld1q_f32(src + 3 * src_ld));
    vst1q_f32(dst, vcombine_f32(vget_low_f32(ab.val[0]), vget_low_f32(cd.val[0])));
    vst1q_f32(dst + dst_ld, vcombine_f32(vget_low_f32(ab.val[1]), vget_low_f32(cd.val[1])));
    vst1q_f32(dst + 2 * dst_ld, vcombine_f32(vget_high_f32(ab.val[0]), vget_high_f32(cd.val[0])));
    vst1q_f32(dst + 3 * dst_ld, vcombine_f32(vget_high_f32(ab.val[1]), vget_high_f32(cd.val[1])));
  }
};

}  // namespace
}  // namespace embedkit::simd
