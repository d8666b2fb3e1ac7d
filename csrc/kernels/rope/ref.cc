// The scalar reference: the oracle every SIMD path is tested against, and the "scalar" path
// itself. Plain loops, one pair at a time, with the same float32 operations and order as
// the SIMD bodies (x1*c - x2*s, x2*c + x1*s; no fused multiply-add), so every path gives
// the same bits.
#include "rope.h"
#include "exact_fp.h"

#include "sincos_body.h"

namespace embedkit::rope {
namespace {

void copy_tail(const float* src, float* dst, int64_t head_dim, int64_t rotary_dim) {
  if (src == dst) return;
  for (int64_t j = rotary_dim; j < head_dim; ++j) dst[j] = src[j];
}

void rotate_neox_ref(const float* src, float* dst, int64_t rows, int64_t head_dim,
                     int64_t rotary_dim, const float* cos, const float* sin) {
  const int64_t half = rotary_dim / 2;
  for (int64_t h = 0; h < rows; ++h) {
    const float* x = src + h * head_dim;
    float* y = dst + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const float x1 = x[i];
      const float x2 = x[i + half];
      const float a = x1 * cos[i];
      const float b = x2 * sin[i];
      const float c = x2 * cos[i];
      const float d = x1 * sin[i];
      y[i] = a - b;
      y[i + half] = c + d;
    }
    copy_tail(x, y, head_dim, rotary_dim);
  }
}

void rotate_gptj_ref(const float* src, float* dst, int64_t rows, int64_t head_dim,
                     int64_t rotary_dim, const float* cos2, const float* sin2) {
  for (int64_t h = 0; h < rows; ++h) {
    const float* x = src + h * head_dim;
    float* y = dst + h * head_dim;
    for (int64_t j = 0; j < rotary_dim; j += 2) {
      const float x1 = x[j];
      const float x2 = x[j + 1];
      const float a = x1 * cos2[j];
      const float b = x2 * sin2[j];  // sin2[j] = -s: a + b = x1*c - x2*s exactly
      const float c = x2 * cos2[j + 1];
      const float d = x1 * sin2[j + 1];
      y[j] = a + b;
      y[j + 1] = c + d;
    }
    copy_tail(x, y, head_dim, rotary_dim);
  }
}

}  // namespace

const Kernels& reference_kernels() {
  static const Kernels kernels{rotate_neox_ref, rotate_gptj_ref, trig::sincos_tables};
  return kernels;
}

}  // namespace embedkit::rope
