// NEON instantiation of the gather kernels (Advanced SIMD is baseline on arm64).
#include "gather.h"

#include "../common/target.h"

#if defined(EMBEDKIT_ARM64)
#include "../common/simd_neon.h"
#include "body.h"

namespace embedkit::gather {
const Kernels* neon_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::NeonF32>();
  return &kernels;
}
}  // namespace embedkit::gather
#else
namespace embedkit::gather {
const Kernels* neon_kernels() { return nullptr; }
}  // namespace embedkit::gather
#endif
