// The scalar reference: the oracle every SIMD path is tested against, and the "scalar" path
// itself. Plain loops in the contract's operation order (jl.h): radix-2 FWHT levels by
// ascending stride, then the scale; CSR sums acc = acc + val * x from 0 in CSR order.
#include "jl.h"
// No fused multiply-adds: csr_rows' acc + val * x must round twice on every path (the
// pragma file is shared with RoPE, which needs the same).
#include "../rope/exact_fp.h"

namespace embedkit::jl {
namespace {

void fwht_levels(float* x, int64_t n, int64_t unit, float scale) {
  // Strides unit, 2 unit, ..., n / 2 over blocks of unit floats; unit = 1 is a plain row.
  for (int64_t h = unit; h < n; h *= 2) {
    for (int64_t i = 0; i < n; i += 2 * h) {
      for (int64_t j = i; j < i + h; ++j) {
        const float a = x[j], b = x[j + h];
        x[j] = a + b;
        x[j + h] = a - b;
      }
    }
  }
  for (int64_t j = 0; j < n; ++j) x[j] *= scale;
}

void fwht_rows_ref(float* x, int64_t rows, int log2n, float scale) {
  const int64_t n = int64_t{1} << log2n;
  for (int64_t r = 0; r < rows; ++r) fwht_levels(x + r * n, n, 1, scale);
}

void fwht_columns_ref(float* x, int64_t stride, int log2rows, int64_t width, float* buf,
                      float scale) {
  const int64_t rows = int64_t{1} << log2rows;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < width; ++c) buf[r * width + c] = x[r * stride + c];
  }
  fwht_levels(buf, rows * width, width, scale);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < width; ++c) x[r * stride + c] = buf[r * width + c];
  }
}

void sign_pad_ref(const float* x, int64_t d, const float* sign, float* z, int64_t n) {
  for (int64_t j = 0; j < d; ++j) z[j] = x[j] * sign[j];
  for (int64_t j = d; j < n; ++j) z[j] = 0.0f;
}

void csr_rows_ref(const float* x, int64_t rows, int64_t ld, const Csr& a, float* out,
                  float* /*scratch*/) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = x + r * ld;
    float* dst = out + r * a.rows;
    for (int64_t i = 0; i < a.rows; ++i) {
      float acc = 0.0f;
      for (int64_t p = a.row_ptr[i]; p < a.row_ptr[i + 1]; ++p) {
        const float t = a.val[p] * src[a.col[p]];
        acc = acc + t;
      }
      dst[i] = acc;
    }
  }
}

}  // namespace

const Kernels& reference_kernels() {
  static const Kernels kernels{fwht_rows_ref, fwht_columns_ref, sign_pad_ref, csr_rows_ref, 1};
  return kernels;
}

}  // namespace embedkit::jl
