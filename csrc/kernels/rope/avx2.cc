// AVX2 + FMA instantiation of the RoPE kernels.
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

#if defined(EMBEDKIT_X86_64)
EMBEDKIT_TARGET_BEGIN("avx2,fma")
#include "../common/simd_avx2.h"
#include "body.h"

namespace embedkit::rope {
const Kernels* avx2_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::Avx2F32>();
  return &kernels;
}
}  // namespace embedkit::rope
EMBEDKIT_TARGET_END
#else
namespace embedkit::rope {
const Kernels* avx2_kernels() { return nullptr; }
}  // namespace embedkit::rope
#endif
