// NEON instantiation of the RoPE kernels (Advanced SIMD is baseline on arm64).
#include "rope.h"
// The exact float32 operation order of body.h / ref.cc: no contraction into fused
// multiply-adds (GCC contracts across statements by default in C++), so every path gives
// the reference's bits.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

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
