// AVX-512 (F, BW, VL, DQ) instantiation of the codebook kernels.
// Contraction off (exact_fp.h): the distance tables' float64 mul and add stay two roundings.
#include "../rope/exact_fp.h"
#include "codebook.h"
#include "rank_order.h"

#include "../common/target.h"

#if defined(EMBEDKIT_X86_64)
// GCC 12 warns inside its own _mm512_maskz_loadu_ps (a known false positive).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
EMBEDKIT_TARGET_BEGIN("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#include "../common/simd_avx512.h"
#include "body.h"

namespace embedkit::codebook {
namespace {
// Sixteen scalar loads, as the AVX2 path, not vgatherdps: on the Zen 4 VM the gather
// instruction ran vqLogits 1.26-1.41x slower than the AVX2 path's scalar loads (B64 K1024
// V128000, 1 and 2 threads, ISAs alternated in one process, medians of 21); on Intel cores the
// gather microcode's Downfall (GDS) mitigation makes it slow as well.
struct Avx512Gather {
  static inline __m512 gather(const float* base, const int32_t* idx) {
    const __m256 lo = _mm256_setr_ps(base[idx[0]], base[idx[1]], base[idx[2]], base[idx[3]], base[idx[4]],
                                     base[idx[5]], base[idx[6]], base[idx[7]]);
    const __m256 hi = _mm256_setr_ps(base[idx[8]], base[idx[9]], base[idx[10]], base[idx[11]], base[idx[12]],
                                     base[idx[13]], base[idx[14]], base[idx[15]]);
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
  }
};
}  // namespace

const Kernels* avx512_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::Avx512F32, simd::Avx512F64, Avx512Gather>();
  return &kernels;
}
}  // namespace embedkit::codebook
EMBEDKIT_TARGET_END
#else
namespace embedkit::codebook {
const Kernels* avx512_kernels() { return nullptr; }
}  // namespace embedkit::codebook
#endif
