// AVX-512 (F, BW, VL, DQ) instantiation of the RoPE kernels.
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
// GCC 12 warns inside its own _mm512_maskz_loadu_ps (a known false positive).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
EMBEDKIT_TARGET_BEGIN("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")
#include "../common/simd_avx512.h"
#include "body.h"

namespace embedkit::rope {
const Kernels* avx512_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::Avx512F32>();
  return &kernels;
}
}  // namespace embedkit::rope
EMBEDKIT_TARGET_END
#else
namespace embedkit::rope {
const Kernels* avx512_kernels() { return nullptr; }
}  // namespace embedkit::rope
#endif
