// AVX-512 (F, BW, VL, DQ) instantiation of the codebook kernels.
#include "codebook.h"

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
struct Avx512Gather {
  static inline __m512 gather(const float* base, const int32_t* idx) {
    const __m512i i = _mm512_loadu_si512(idx);
    return _mm512_i32gather_ps(i, base, 4);
  }
};
}  // namespace

const Kernels* avx512_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::Avx512F32, Avx512Gather>();
  return &kernels;
}
}  // namespace embedkit::codebook
EMBEDKIT_TARGET_END
#else
namespace embedkit::codebook {
const Kernels* avx512_kernels() { return nullptr; }
}  // namespace embedkit::codebook
#endif
