// AVX2 + FMA instantiation of the codebook kernels.
#include "codebook.h"

#include "../common/target.h"

#if defined(EMBEDKIT_X86_64)
EMBEDKIT_TARGET_BEGIN("avx2,fma")
#include "../common/simd_avx2.h"
#include "body.h"

namespace embedkit::codebook {
namespace {
struct Avx2Gather {
  static inline __m256 gather(const float* base, const int32_t* idx) {
    const __m256i i = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(idx));
    return _mm256_i32gather_ps(base, i, 4);
  }
};
}  // namespace

const Kernels* avx2_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::Avx2F32, Avx2Gather>();
  return &kernels;
}
}  // namespace embedkit::codebook
EMBEDKIT_TARGET_END
#else
namespace embedkit::codebook {
const Kernels* avx2_kernels() { return nullptr; }
}  // namespace embedkit::codebook
#endif
