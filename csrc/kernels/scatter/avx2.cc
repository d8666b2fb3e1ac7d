// AVX2 + FMA instantiation of the scatter kernel.
#include "scatter.h"

#include "../common/target.h"

#if defined(EMBEDKIT_X86_64)

EMBEDKIT_TARGET_BEGIN("avx2,fma")
#include "../common/simd_avx2.h"
#include "body.h"

namespace embedkit::scatter {
const Kernels* avx2_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::Avx2F32>();
  return &kernels;
}
}  // namespace embedkit::scatter
EMBEDKIT_TARGET_END
#else
namespace embedkit::scatter {
const Kernels* avx2_kernels() { return nullptr; }
}  // namespace embedkit::scatter
#endif
