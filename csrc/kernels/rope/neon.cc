// NEON instantiation of the RoPE kernels (Advanced SIMD is baseline on arm64).
#include "rope.h"
#include "exact_fp.h"

#include "../common/target.h"

#if defined(EMBEDKIT_ARM64)
#include "../common/simd_neon.h"
#include "body.h"

namespace embedkit::rope {
const Kernels* neon_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::NeonF32>();
  return &kernels;
}
}  // namespace embedkit::rope
#else
namespace embedkit::rope {
const Kernels* neon_kernels() { return nullptr; }
}  // namespace embedkit::rope
#endif
