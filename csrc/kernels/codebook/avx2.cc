// AVX2 + FMA instantiation of the codebook kernels.
// Contraction off (exact_fp.h): the distance tables' float64 mul and add stay two roundings.
#include "../rope/exact_fp.h"
#include "codebook.h"
#include "rank_order.h"

#include "../common/target.h"

#if defined(EMBEDKIT_X86_64)
EMBEDKIT_TARGET_BEGIN("avx2,fma")
#include "../common/simd_avx2.h"
#include "body.h"

namespace embedkit::codebook {
namespace {
// Eight scalar loads, not vgatherdps: on Zen 3 (the development machine) the gather
// instruction made the expansion slower than scalar code, the loads 1.1-1.5x faster
// (noisy, shared-VM timings).
struct Avx2Gather {
  static inline __m256 gather(const float* base, const int32_t* idx) {
    return _mm256_setr_ps(base[idx[0]], base[idx[1]], base[idx[2]], base[idx[3]], base[idx[4]], base[idx[5]],
                          base[idx[6]], base[idx[7]]);
  }
};
}  // namespace

const Kernels* avx2_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::Avx2F32, simd::Avx2F64, Avx2Gather>();
  return &kernels;
}
}  // namespace embedkit::codebook
EMBEDKIT_TARGET_END
#else
namespace embedkit::codebook {
const Kernels* avx2_kernels() { return nullptr; }
}  // namespace embedkit::codebook
#endif
