// The JL kernels, written once over a vector type V (common/simd_*.h), an in-register
// Hadamard H (the within-vector permutes, in each ISA file) and a square tile transpose T
// (common/transpose_*.h): the parts that differ by ISA. Included by avx2.cc / avx512.cc /
// neon.cc inside their EMBEDKIT_TARGET region (avx512.cc instantiates only the sparse kernel
// and takes the rest from avx2.cc; see there); uses no std:: templates (see common/target.h).
//
// FWHT: every path performs ref.cc's radix-2 butterflies level by level (ascending stride),
// only grouped differently: H does the log2(lanes) levels inside each vector, then radix-8
// passes (three levels per load/store of eight vectors) climb the remaining strides while
// the row (at most 2^12 floats, 16 KiB) stays in L1; longer rows are split by jl.cc. The same
// butterfly order gives the same bits. H computes each level as fma(v, ±1, swapped v): the
// product is exact, so the one rounding gives a + b and -b + a = a - b, the reference's bits.
// The AVX2 table runs rows that start 16 bytes past a 32-byte boundary through
// fwht_shifted_avx2.h, which takes this file's first pass and butterflies on aligned chunks.
#pragma once

#include "jl.h"

namespace embedkit::jl::simd_body {
// Internal linkage: each ISA's translation unit keeps its own copy (see gather/body.h).
namespace {

// 2^R vectors in registers: R butterfly levels across them (strides 1, 2, ... vectors).
// Fully unrolled (the pragmas) so that a[] lives in registers, never on the stack.
template <class V, int R>
inline void butterflies(typename V::Reg* a) {
#pragma GCC unroll 4
  for (int h = 1; h < (1 << R); h *= 2) {
#pragma GCC unroll 8
    for (int i = 0; i < (1 << R); i += 2 * h) {
#pragma GCC unroll 8
      for (int j = i; j < i + h; ++j) {
        const typename V::Reg s = V::add(a[j], a[j + h]);
        a[j + h] = V::sub(a[j], a[j + h]);
        a[j] = s;
      }
    }
  }
}

// The FWHT below works on "elements": blocks of `width` floats (a multiple of the lane
// count), element e of the source at src + e * ss and of the destination at dst + e * ds.
// A short row is elements of one vector each (ss = ds = lanes); the high levels of a long
// row take elements of `stride` floats (fwht_high).

// One radix-2^R pass: R levels at element strides h, 2h, ..., over `count` elements, read
// from src and written to dst (which may be src). Inner: each vector first gets H's
// in-register levels. Last: the results are multiplied by scale.
template <class V, class H, int R, bool Inner, bool Last>
inline void pass(const float* src, int64_t ss, float* dst, int64_t ds, int64_t count,
                 int64_t width, int64_t h, float scale) {
  using Reg = typename V::Reg;
  const Reg sc = V::set1(scale);
  for (int64_t base = 0; base < count; base += h << R) {
    for (int64_t e = base; e < base + h; ++e) {
      for (int64_t c = 0; c < width; c += V::kLanes) {
        Reg a[1 << R];
#pragma GCC unroll 8
        for (int m = 0; m < (1 << R); ++m) {
          a[m] = V::load(src + (e + m * h) * ss + c);
          if (Inner) a[m] = H::transform(a[m]);
        }
        butterflies<V, R>(a);
#pragma GCC unroll 8
        for (int m = 0; m < (1 << R); ++m) {
          V::store(dst + (e + m * h) * ds + c, Last ? V::mul(a[m], sc) : a[m]);
        }
      }
    }
  }
}

template <class V, class H, bool Inner, bool Last>
inline void pass_r(int r, const float* src, int64_t ss, float* dst, int64_t ds, int64_t count,
                   int64_t width, int64_t h, float scale) {
  if (r == 3) pass<V, H, 3, Inner, Last>(src, ss, dst, ds, count, width, h, scale);
  else if (r == 2) pass<V, H, 2, Inner, Last>(src, ss, dst, ds, count, width, h, scale);
  else pass<V, H, 1, Inner, Last>(src, ss, dst, ds, count, width, h, scale);
}

// All `levels` levels (strides 1, 2, 4, ... elements) of `count` elements, three per pass
// (one load and store of the data per three levels), H's levels first when `inner`. The first
// pass reads src, the last writes dst, the ones between work in mid (stride ms); with a
// single pass, src goes straight to dst. The last pass multiplies by scale.
template <class V, class H>
void climb(const float* src, int64_t ss, float* dst, int64_t ds, float* mid, int64_t ms,
           int64_t count, int64_t width, int levels, bool inner, float scale) {
  if (levels == 0) {  // rows of exactly one vector: only H's levels
    const typename V::Reg sc = V::set1(scale);
    for (int64_t e = 0; e < count; ++e) {
      for (int64_t c = 0; c < width; c += V::kLanes) {
        const typename V::Reg v = V::load(src + e * ss + c);
        V::store(dst + e * ds + c, V::mul(inner ? H::transform(v) : v, sc));
      }
    }
    return;
  }
  int64_t h = 1;
  const float* from = src;
  int64_t fs = ss;
  while (levels > 0) {
    const int r = levels >= 3 ? 3 : levels;
    const bool last = levels == r;
    float* to = last ? dst : mid;
    const int64_t ts = last ? ds : ms;
    if (inner && last) pass_r<V, H, true, true>(r, from, fs, to, ts, count, width, h, scale);
    else if (inner) pass_r<V, H, true, false>(r, from, fs, to, ts, count, width, h, scale);
    else if (last) pass_r<V, H, false, true>(r, from, fs, to, ts, count, width, h, scale);
    else pass_r<V, H, false, false>(r, from, fs, to, ts, count, width, h, scale);
    inner = false;
    from = to;
    fs = ts;
    h <<= r;
    levels -= r;
  }
}

template <class V, class H>
void fwht_rows(float* x, int64_t rows, int log2n, float scale) {
  const int64_t n = int64_t{1} << log2n;
  if (n < V::kLanes) {  // rows shorter than one vector: the scalar loops
    reference_kernels().fwht_rows(x, rows, log2n, scale);
    return;
  }
  const int64_t lanes = V::kLanes;
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * n;
    climb<V, H>(row, lanes, row, lanes, row, lanes, n / lanes, lanes, log2n - H::kLevels, true, scale);
  }
}

template <class V, class H>
void fwht_high(float* x, int64_t n, int64_t stride, int levels, int64_t c0, int64_t c1,
               float scale) {
  // Elements of `stride` floats, columns [c0, c1) of each: every pass streams through
  // 2^R sequential runs at once, which hardware prefetchers follow.
  climb<V, H>(x + c0, stride, x + c0, stride, x + c0, stride, n / stride, c1 - c0, levels, false, scale);
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

// Blocks of kSparseBlockRows rows: transposed into scratch (column j of the block is
// B / kLanes vectors), then the columns are walked in ascending order and each entry (i, j)
// adds val * column j into output i's vectors, kept in scratch (k x B floats, L1-sized for
// k <= 256). Entries of one column go to different outputs, so the adds do not wait on each
// other; each output still sees ref.cc's operations in ref.cc's order.
// 16 rows on every ISA: 32-row blocks (two AVX-512 vectors) ran sparseProjection 1.5-1.9x
// slower than 16-row ones on the Zen 4 VM (d 1000 / 1024 -> 128, 65,536 rows, 1 thread:
// 73.7 / 150.0 ms against 50.6 / 78.1); their column scratch, 128 KiB at d 1024, is four
// times L1.
constexpr int64_t kSparseBlockRows = 16;

// dst[c * dst_ld + r] = src[r * src_ld + c] for r < rows, c < cols, in T's square tiles
// (T: common/transpose_*.h) and scalar moves for the edges.
template <class T>
inline void transpose(const float* src, int64_t src_ld, float* dst, int64_t dst_ld, int64_t rows,
                      int64_t cols) {
  constexpr int64_t S = T::kSide;
  const int64_t full_rows = rows / S * S, full_cols = cols / S * S;
  for (int64_t c = 0; c < full_cols; c += S) {
    for (int64_t r = 0; r < full_rows; r += S) T::tile(src + r * src_ld + c, src_ld, dst + c * dst_ld + r, dst_ld);
    for (int64_t r = full_rows; r < rows; ++r) {
      for (int64_t cc = c; cc < c + S; ++cc) dst[cc * dst_ld + r] = src[r * src_ld + cc];
    }
  }
  for (int64_t c = full_cols; c < cols; ++c) {
    for (int64_t r = 0; r < rows; ++r) dst[c * dst_ld + r] = src[r * src_ld + c];
  }
}

template <class V, class T>
void sparse_rows(const float* x, int64_t rows, int64_t ld, const Csc& a, float* out,
                 float* scratch) {
  using Reg = typename V::Reg;
  constexpr int64_t L = V::kLanes;
  constexpr int64_t B = kSparseBlockRows;
  constexpr int kRegs = static_cast<int>(B / L);
  static_assert(B % L == 0 && B % T::kSide == 0, "a block is whole vectors and whole tiles");
  // Locals: the intrinsics' stores may alias anything, so fields read through `a` would be
  // reloaded after every store.
  const int64_t k = a.rows, m = a.cols;
  const int64_t* col_ptr = a.col_ptr;
  const int32_t* row = a.row;
  const float* val = a.val;
  float* xt = scratch;          // m x B
  float* yt = scratch + m * B;  // k x B
  for (int64_t r0 = 0; r0 < rows; r0 += B) {
    const int64_t nb = rows - r0 < B ? rows - r0 : B;
    // Tiles column by column: xt is written sequentially while the block's rows are read as
    // nb sequential streams, a vector of each at a time (scalar moves here took half the
    // kernel's time: d 1000 -> 128, 1 thread, 49 ms with them, 25 without).
    transpose<T>(x + r0 * ld, ld, xt, B, nb, m);
    if (nb < B) {
      for (int64_t j = 0; j < m; ++j) {
        for (int64_t b = nb; b < B; ++b) xt[j * B + b] = 0.0f;
      }
    }
    for (int64_t i = 0; i < k * B; i += L) V::store(yt + i, V::zero());
    for (int64_t j = 0; j < m; ++j) {
      Reg xv[kRegs];
#pragma GCC unroll 4
      for (int q = 0; q < kRegs; ++q) xv[q] = V::load(xt + j * B + q * L);
      for (int64_t p = col_ptr[j]; p < col_ptr[j + 1]; ++p) {
        const Reg v = V::set1(val[p]);
        float* y = yt + int64_t{row[p]} * B;
#pragma GCC unroll 4
        for (int q = 0; q < kRegs; ++q) V::store(y + q * L, V::add(V::load(y + q * L), V::mul(v, xv[q])));
      }
    }
    // Back to rows: the block's nb output rows of k floats.
    transpose<T>(yt, B, out + r0 * k, k, k, nb);
  }
}

// H: the ISA's in-register Hadamard; T: its square tile transpose (common/transpose_*.h).
template <class V, class H, class T>
Kernels make_kernels() {
  return Kernels{&fwht_rows<V, H>, &fwht_high<V, H>, &sign_pad<V>, &sparse_rows<V, T>, kSparseBlockRows};
}

}  // namespace
}  // namespace embedkit::jl::simd_body
