// The AVX2 FWHT of rows that start 16 bytes past a 32-byte boundary, on aligned loads and
// stores. A plain `new Float32Array` starts there (glibc's chunk header puts it 16 bytes into
// a cache line), and there every other 8-float vector of a row straddles two lines: the three
// read-modify-write passes over a row held in L1 ran 1.23-1.33x slower than on line-aligned
// rows (bench/NOTES.md, "Alignment").
//
// After the first pass, the passes work on the row's aligned "chunks" instead: chunk k holds
// the row's floats [8k - 4, 8k + 4), the upper half of row vector k - 1 and the lower half of
// row vector k. A butterfly between row vectors acts lane by lane, so between two chunks it
// is the same butterfly for both halves wherever both halves' row vectors sit at the same
// place in their radix groups: in every group but the first of each radix block. There the
// group's vectors are built from its chunks with one 128-bit lane exchange each and split
// back the same way; the first and last chunk of such a group lend it only one half, loaded
// and stored alone, so nothing outside the row is touched. Every float meets the same
// operations in the same order as in body.h: the same bits.
//
// Included by avx2.cc inside its EMBEDKIT_TARGET region, after body.h.
#pragma once

#include <cstdint>

namespace embedkit::jl::avx2_shifted {
// Internal linkage, as body.h.
namespace {

using V = simd::Avx2F32;
using Reg = __m256;

// (a's upper half, b's lower half).
inline Reg straddle(Reg a, Reg b) { return _mm256_permute2f128_ps(a, b, 0x21); }

// One radix-2^R pass at a stride of h > 1 row vectors over a row of `count` row vectors, in
// place (body.h's pass, on chunks). chunks: chunk 0, 16 bytes before the row.
template <int R, bool Last>
inline void pass(float* row, int64_t count, int64_t h, float scale) {
  constexpr int M = 1 << R;
  float* const chunks = row - 4;
  const Reg sc = V::set1(scale);
  Reg a[M];
  for (int64_t base = 0; base < count; base += h << R) {
    // The block's first group: a[m] = (chunk base + m h's upper half, chunk base + (m + 1) h's
    // lower half), the lower halves of row vectors base + m h and the upper halves of row
    // vectors base + h - 1 + m h, of groups base and base + h - 1: the same butterflies.
    Reg c[M];
#pragma GCC unroll 8
    for (int m = 1; m < M; ++m) c[m] = _mm256_load_ps(chunks + 8 * (base + m * h));
    const __m128 head = _mm_load_ps(row + 8 * base);
    const __m128 tail = _mm_load_ps(row + 8 * (base + M * h) - 4);
    a[0] = _mm256_insertf128_ps(_mm256_castps128_ps256(head), _mm256_castps256_ps128(c[1]), 1);
#pragma GCC unroll 8
    for (int m = 1; m + 1 < M; ++m) a[m] = straddle(c[m], c[m + 1]);
    a[M - 1] = straddle(c[M - 1], _mm256_castps128_ps256(tail));
    simd_body::butterflies<V, R>(a);
#pragma GCC unroll 8
    for (int m = 0; m < M; ++m) {
      if (Last) a[m] = V::mul(a[m], sc);
    }
    _mm_store_ps(row + 8 * base, _mm256_castps256_ps128(a[0]));
#pragma GCC unroll 8
    for (int m = 1; m < M; ++m) _mm256_store_ps(chunks + 8 * (base + m * h), straddle(a[m - 1], a[m]));
    _mm_store_ps(row + 8 * (base + M * h) - 4, _mm256_extractf128_ps(a[M - 1], 1));
    // The other groups, whole chunks.
    for (int64_t e = base + 1; e < base + h; ++e) {
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) a[m] = _mm256_load_ps(chunks + 8 * (e + m * h));
      simd_body::butterflies<V, R>(a);
#pragma GCC unroll 8
      for (int m = 0; m < M; ++m) _mm256_store_ps(chunks + 8 * (e + m * h), Last ? V::mul(a[m], sc) : a[m]);
    }
  }
}

// The first pass (H's levels and the next three) is body.h's own, on whole row vectors: it
// brings the row in from L2 or memory, where straddling loads and stores cost nothing
// measurable, and rebuilding whole vectors from chunks there (two lane exchanges per vector)
// was slower (2^12 rows, 1 thread: 17.8 ms, against 16.3 with body.h's first pass and 20.0
// with none on chunks). levels > 3.
template <class H>
inline void first_pass(float* row, int64_t count) {
  simd_body::pass<V, H, 3, true, false>(row, V::kLanes, row, V::kLanes, count, V::kLanes, 1, 1.0f);
}

// The passes after the first, over the row in L1, on chunks; the last one scales. levels > 3.
inline void later_passes(float* row, int64_t count, int levels, float scale) {
  int64_t h = 8;
  for (levels -= 3; levels > 0;) {
    const int r = levels >= 3 ? 3 : levels;
    const bool last = levels == r;
    if (r == 3) last ? pass<3, true>(row, count, h, scale) : pass<3, false>(row, count, h, scale);
    else if (r == 2) last ? pass<2, true>(row, count, h, scale) : pass<2, false>(row, count, h, scale);
    else last ? pass<1, true>(row, count, h, scale) : pass<1, false>(row, count, h, scale);
    h <<= r;
    levels -= r;
  }
}

// Rows up to 2^kMaxInterleavedLog2 floats take their first pass one row ahead of the later
// passes (row r + 1's first pass, then row r's later ones). Done row by row, a short row's
// second pass loads chunks right after the first pass stored its vectors, and a load that
// spans two stores still in flight waits for them (no store forwarding): 2^7 rows 15.0 ms on
// chunks row by row, 13.3 on body.h's path, 12.4-13.5 interleaved (11.9 aligned); 2^8 14.1 /
// 13.2 / 12.4-12.6 (11.7); 2^9 13.8 / 13.8 / 13.2-13.3 (11.9). Longer rows lose by it (2^10
// 16.2 against 14.6 row by row, 2^12 23.6 against 16.5): two rows no longer fit in L1 together.
// (C++ harness over the library's kernels, avx2, 1 thread, 2^26 floats per call, medians of
// 9, three alternated runs, 2026-11-28 08:25.)
constexpr int kMaxInterleavedLog2 = 9;

// body.h's fwht_rows, taking rows 16 bytes past a 32-byte boundary (with more than one pass)
// on the chunks; every other row as body.h does. Rows are 2^log2n floats, so all of them
// start at the first one's offset.
template <class H>
void fwht_rows(float* x, int64_t rows, int log2n, float scale) {
  const int levels = log2n - H::kLevels;
  if (levels <= 3 || reinterpret_cast<uintptr_t>(x) % 32 != 16) {
    simd_body::fwht_rows<V, H>(x, rows, log2n, scale);
    return;
  }
  const int64_t n = int64_t{1} << log2n, count = n / V::kLanes;
  if (log2n <= kMaxInterleavedLog2) {
    if (rows <= 0) return;
    first_pass<H>(x, count);
    for (int64_t r = 1; r < rows; ++r) {
      first_pass<H>(x + r * n, count);
      later_passes(x + (r - 1) * n, count, levels, scale);
    }
    later_passes(x + (rows - 1) * n, count, levels, scale);
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    first_pass<H>(x + r * n, count);
    later_passes(x + r * n, count, levels, scale);
  }
}

// body.h's fwht_high. Its butterflies never cross columns, so where the columns start 16 bytes
// past a 32-byte boundary, the SIMD body takes the aligned columns [c0 + 4, c1 - 4) and the
// scalar reference the four at each end (a few hundred operations next to the thousands of
// columns a task gets). 2^16 rows 16 bytes in, 1 thread: 34.4 ms with neither on chunks, 31.3
// with fwht_rows only, 27.3 with this too; 26.0 line-aligned.
template <class H>
void fwht_high(float* x, int64_t n, int64_t stride, int levels, int64_t c0, int64_t c1,
               float scale) {
  if (reinterpret_cast<uintptr_t>(x + c0) % 32 != 16 || c1 - c0 < 2 * V::kLanes) {
    simd_body::fwht_high<V, H>(x, n, stride, levels, c0, c1, scale);
    return;
  }
  const Kernels& ref = reference_kernels();
  ref.fwht_high(x, n, stride, levels, c0, c0 + 4, scale);
  simd_body::fwht_high<V, H>(x, n, stride, levels, c0 + 4, c1 - 4, scale);
  ref.fwht_high(x, n, stride, levels, c1 - 4, c1, scale);
}

}  // namespace
}  // namespace embedkit::jl::avx2_shifted
