// The scalar reference: the oracle every SIMD path is tested against, and the "scalar" path
// itself. Plain loops in the contract's operation order (jl.h): radix-2 FWHT levels by
// ascending stride, then the scale; sparse sums acc = acc + val * x from 0 by ascending column.
#include "jl.h"
// No fused multiply-adds: sparse_rows' acc + val * x must round twice on every path (the
// pragma file is shared with RoPE, which needs the same).
#include "../rope/exact_fp.h"

namespace embedkit::jl {
namespace {

void fwht_rows_ref(float* x, int64_t rows, int log2n, float scale) {
  const int64_t n = int64_t{1} << log2n;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * n;
    for (int64_t h = 1; h < n; h *= 2) {
      for (int64_t i = 0; i < n; i += 2 * h) {
        for (int64_t j = i; j < i + h; ++j) {
          const float a = row[j], b = row[j + h];
          row[j] = a + b;
          row[j + h] = a - b;
        }
      }
    }
    for (int64_t j = 0; j < n; ++j) row[j] *= scale;
  }
}

void fwht_high_ref(float* x, int64_t n, int64_t stride, int levels, int64_t c0, int64_t c1,
                   float scale) {
  const int64_t top = stride << levels;
  for (int64_t h = stride; h < top; h *= 2) {
    for (int64_t i = 0; i < n; i += 2 * h) {
      for (int64_t j = i + c0; j < i + c1; ++j) {
        for (int64_t e = j; e < i + h; e += stride) {
          const float a = x[e], b = x[e + h];
          x[e] = a + b;
          x[e + h] = a - b;
        }
      }
    }
  }
  for (int64_t i = 0; i < n; i += stride) {
    for (int64_t j = i + c0; j < i + c1; ++j) x[j] *= scale;
  }
}

void sign_pad_ref(const float* x, int64_t d, const float* sign, float* z, int64_t n) {
  for (int64_t j = 0; j < d; ++j) z[j] = x[j] * sign[j];
  for (int64_t j = d; j < n; ++j) z[j] = 0.0f;
}

void sparse_rows_ref(const float* x, int64_t rows, int64_t ld, const Csc& a, float* out,
                     float* /*scratch*/) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = x + r * ld;
    float* dst = out + r * a.rows;
    for (int64_t i = 0; i < a.rows; ++i) dst[i] = 0.0f;
    for (int64_t j = 0; j < a.cols; ++j) {
      for (int64_t p = a.col_ptr[j]; p < a.col_ptr[j + 1]; ++p) {
        const float t = a.val[p] * src[j];
        dst[a.row[p]] = dst[a.row[p]] + t;
      }
    }
  }
}

}  // namespace

const Kernels& reference_kernels() {
  static const Kernels kernels{fwht_rows_ref, fwht_high_ref, sign_pad_ref, sparse_rows_ref, 1};
  return kernels;
}

}  // namespace embedkit::jl
