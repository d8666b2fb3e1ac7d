// The JL kernels, written once over a vector type V (common/simd_*.h) and an in-register
// Hadamard H (the one part that differs by ISA: the within-vector permutes, in each ISA
// file). Included by avx2.cc / avx512.cc / neon.cc inside their EMBEDKIT_TARGET region; uses
// no std:: templates (see common/target.h).
//
// FWHT: every path performs ref.cc's radix-2 butterflies level by level (ascending stride),
// only grouped differently: H does the log2(lanes) levels inside each vector, then radix-8
// passes (three levels per load/store of eight vectors) climb the remaining strides while
// the row (at most 2^13 floats, 32 KiB) stays in L1/L2. The same butterfly order gives the
// same bits. H must compute a + b and a + (-b), which is a - b exactly in IEEE arithmetic.
#pragma once

#include "jl.h"

namespace embedkit::jl::simd_body {
// Internal linkage: each ISA's translation unit keeps its own copy (see gather/body.h).
namespace {

// Levels [0, log2n) of rows shorter than one vector, as ref.cc does them.
inline void fwht_scalar(float* x, int64_t n, float scale) {
  for (int64_t h = 1; h < n; h *= 2) {
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

// 2^R vectors in registers: R butterfly levels across them (strides 1, 2, ... vectors).
template <class V, int R>
inline void butterflies(typename V::Reg* a) {
  for (int h = 1; h < (1 << R); h *= 2) {
    for (int i = 0; i < (1 << R); i += 2 * h) {
      for (int j = i; j < i + h; ++j) {
        const typename V::Reg s = V::add(a[j], a[j + h]);
        a[j + h] = V::sub(a[j], a[j + h]);
        a[j] = s;
      }
    }
  }
}

// One radix-2^R pass over n floats: R levels at strides stride, 2 stride, ... (floats,
// a multiple of the lane count). With `inner`, each vector first gets H's in-register levels
// (then stride is one vector). With `last`, the results are multiplied by scale.
template <class V, class H, int R>
inline void pass(float* x, int64_t n, int64_t stride, bool inner, bool last, float scale) {
  using Reg = typename V::Reg;
  const Reg sc = V::set1(scale);
  const int64_t span = stride << R;
  for (int64_t base = 0; base < n; base += span) {
    for (int64_t off = 0; off < stride; off += V::kLanes) {
      float* p = x + base + off;
      Reg a[1 << R];
      for (int m = 0; m < (1 << R); ++m) {
        a[m] = V::load(p + m * stride);
        if (inner) a[m] = H::transform(a[m]);
      }
      butterflies<V, R>(a);
      if (last) {
        for (int m = 0; m < (1 << R); ++m) a[m] = V::mul(a[m], sc);
      }
      for (int m = 0; m < (1 << R); ++m) V::store(p + m * stride, a[m]);
    }
  }
}

// `levels` levels at strides unit, 2 unit, 4 unit, ... over n floats, three per pass (one
// load and store of the data per three levels); H's levels first when `inner` (unit is then
// one vector). The last pass multiplies by scale.
template <class V, class H>
void climb(float* x, int64_t n, int64_t unit, int levels, bool inner, float scale) {
  int64_t stride = unit;
  if (levels == 0) {  // rows of exactly one vector: only H's levels
    const typename V::Reg sc = V::set1(scale);
    for (int64_t i = 0; i < n; i += V::kLanes) {
      const typename V::Reg v = V::load(x + i);
      V::store(x + i, V::mul(inner ? H::transform(v) : v, sc));
    }
    return;
  }
  while (levels > 0) {
    const int r = levels >= 3 ? 3 : levels;
    const bool last = levels == r;
    if (r == 3) pass<V, H, 3>(x, n, stride, inner, last, scale);
    else if (r == 2) pass<V, H, 2>(x, n, stride, inner, last, scale);
    else pass<V, H, 1>(x, n, stride, inner, last, scale);
    inner = false;
    stride <<= r;
    levels -= r;
  }
}

template <class V, class H>
void fwht_rows(float* x, int64_t rows, int log2n, float scale) {
  const int64_t n = int64_t{1} << log2n;
  if (n < V::kLanes) {
    for (int64_t r = 0; r < rows; ++r) fwht_scalar(x + r * n, n, scale);
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    climb<V, H>(x + r * n, n, V::kLanes, log2n - H::kLevels, true, scale);
  }
}

template <class V, class H>
void fwht_columns(float* x, int64_t stride, int log2rows, int64_t width, float* buf,
                  float scale) {
  const int64_t rows = int64_t{1} << log2rows;
  // The blocks of a column group sit `stride` floats apart (a power of two: the same cache
  // sets); copied side by side into buf, the levels run on contiguous memory.
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < width; c += V::kLanes) V::store(buf + r * width + c, V::load(x + r * stride + c));
  }
  climb<V, H>(buf, rows * width, width, log2rows, false, scale);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < width; c += V::kLanes) V::store(x + r * stride + c, V::load(buf + r * width + c));
  }
}

template <class V>
void sign_pad(const float* x, int64_t d, const float* sign, float* z, int64_t n) {
  int64_t j = 0;
  for (; j + V::kLanes <= d; j += V::kLanes) V::store(z + j, V::mul(V::load(x + j), V::load(sign + j)));
  if (j < d) {
    const typename V::Mask m = V::tail_mask(static_cast<int>(d - j));
    V::store_masked(z + j, V::mul(V::load_masked(x + j, m), V::load_masked(sign + j, m)), m);
    j += V::kLanes;
  }
  // Zero the padding (z[d, n)); the masked store above left its lanes past d alone.
  for (int64_t t = d; t < n && t < j; ++t) z[t] = 0.0f;
  for (; j + V::kLanes <= n; j += V::kLanes) V::store(z + j, V::zero());
  for (; j < n; ++j) z[j] = 0.0f;
}

// Blocks of kLanes rows: transposed into scratch (column j of the block is one vector), so
// each CSR entry costs one broadcast multiply-add over kLanes rows at once; the sums are
// transposed back. Every output element sees ref.cc's operations in ref.cc's order.
template <class V>
void csr_rows(const float* x, int64_t rows, int64_t ld, const Csr& a, float* out, float* scratch) {
  using Reg = typename V::Reg;
  constexpr int64_t B = V::kLanes;
  float* xt = scratch;             // a.cols x B
  float* yt = scratch + a.cols * B;  // a.rows x B
  for (int64_t r0 = 0; r0 < rows; r0 += B) {
    const int64_t nb = rows - r0 < B ? rows - r0 : B;
    for (int64_t b = 0; b < nb; ++b) {
      const float* src = x + (r0 + b) * ld;
      for (int64_t j = 0; j < a.cols; ++j) xt[j * B + b] = src[j];
    }
    for (int64_t b = nb; b < B; ++b) {
      for (int64_t j = 0; j < a.cols; ++j) xt[j * B + b] = 0.0f;
    }
    for (int64_t i = 0; i < a.rows; ++i) {
      Reg acc = V::zero();
      for (int64_t p = a.row_ptr[i]; p < a.row_ptr[i + 1]; ++p) {
        acc = V::add(acc, V::mul(V::set1(a.val[p]), V::load(xt + int64_t{a.col[p]} * B)));
      }
      V::store(yt + i * B, acc);
    }
    for (int64_t b = 0; b < nb; ++b) {
      float* dst = out + (r0 + b) * a.rows;
      for (int64_t i = 0; i < a.rows; ++i) dst[i] = yt[i * B + b];
    }
  }
}

template <class V, class H>
Kernels make_kernels() {
  return Kernels{&fwht_rows<V, H>, &fwht_columns<V, H>, &sign_pad<V>, &csr_rows<V>, V::kLanes};
}

}  // namespace
}  // namespace embedkit::jl::simd_body
