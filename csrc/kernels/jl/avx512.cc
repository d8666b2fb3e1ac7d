// AVX-512 (F, BW, VL, DQ) JL kernels: the sparse kernel in 16-lane vectors; the row transforms
// (sign_pad, the FWHT) are the AVX2 path's own functions.
//
// Why not a 16-lane FWHT: its in-register Hadamard needs two cross-lane shuffles per vector
// (levels at strides 4 and 8) where the 8-lane one needs one, and on the Zen 4 VM, which runs
// 512-bit operations as two 256-bit halves, the 16-lane FWHT was the slower one at every row
// length: fwht ms, 16-lane / 8-lane, timed alternately in one process (2026-11-28, medians of 7,
// 2^26 floats per call), line-aligned rows on 1 thread: 2^8 16.1 / 12.1, 2^10 15.7 / 13.9, 2^11
// 17.2 / 14.0, 2^12 17.1 / 16.0, 2^16 27.3 / 26.3, 2^20 31.1 / 30.7; rows 16 bytes into a line (a
// plain Float32Array): 2^12 28.2 / 21.5, 2^20 46.5 / 40.8, only 2^10 the other way (18.1 / 19.3);
// on 2 threads 2^12 11.0 / 8.3 aligned. srht, whose rows are a 16-byte-aligned std::vector, ran
// 1.14-1.24x slower than the AVX2 path with a 16-lane sign_pad, 1.03-1.09x with the 8-lane one
// (noisy: the row's place varies by process). Compilers prefer 256-bit vectors on Intel's AVX-512
// parts too (frequency), and FFHT ships 256-bit code only. Not measured on an Intel CPU.
#include "jl.h"
// No fused multiply-adds: sparse_rows' acc + val * x must round twice on every path (the
// pragma file is shared with RoPE, which needs the same).
#include "../rope/exact_fp.h"

#include "../common/target.h"

#if defined(EMBEDKIT_X86_64)
// GCC 12 warns inside its own _mm512_maskz_loadu_ps (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
EMBEDKIT_TARGET_BEGIN("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#include "../common/simd_avx512.h"
#include "../common/transpose_avx2.h"
#include "body.h"

namespace embedkit::jl {

const Kernels* avx512_kernels() {
  // Taken from the AVX2 translation unit rather than compiled again here: built for AVX-512,
  // GCC spills loop counters to mask registers, and the same 8-lane source ran 2^8 rows 15%
  // slower than the AVX2 build of it (C++ harness, 13.6 vs 11.7 ms).
  static const Kernels kernels = [] {
    Kernels k = *avx2_kernels();
    // block_rows stays the AVX2 table's: kSparseBlockRows on every ISA.
    k.sparse_rows = &simd_body::sparse_rows<simd::Avx512F32, simd::Avx2Transpose8>;
    return k;
  }();
  return &kernels;
}
}  // namespace embedkit::jl
EMBEDKIT_TARGET_END
#else
namespace embedkit::jl {
const Kernels* avx512_kernels() { return nullptr; }
}  // namespace embedkit::jl
#endif
