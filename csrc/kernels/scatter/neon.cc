// NEON instantiation of the scatter kernel (Advanced SIMD is baseline on arm64).
#include "scatter.h"

#include "../common/target.h"

#if defined(EMBEDKIT_ARM64)
#include "../common/simd_neon.h"
#include "body.h"

namespace embedkit::scatter {
const Kernels* neon_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::NeonF32>();
  return &kernels;
}
}  // namespace embedkit::scatter
#else
namespace embedkit::scatter {
const Kernels* neon_kernels() { return nullptr; }
}  // namespace embedkit::scatter
#endif
