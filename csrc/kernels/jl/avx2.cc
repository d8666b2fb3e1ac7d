// AVX2 + FMA instantiation of the JL kernels, with the in-register Hadamard of 8 lanes
// (hadamard_avx2.h).
#include "jl.h"
// No fused multiply-adds: sparse_rows' acc + val * x must round twice on every path (the
// pragma file is shared with RoPE, which needs the same).
#include "../rope/exact_fp.h"

#include "../common/target.h"

#if defined(EMBEDKIT_X86_64)
EMBEDKIT_TARGET_BEGIN("avx2,fma")
#include "../common/simd_avx2.h"
#include "../common/transpose_avx2.h"
#include "hadamard_avx2.h"
#include "body.h"

namespace embedkit::jl {

const Kernels* avx2_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::Avx2F32, Avx2Hadamard, simd::Avx2F32, simd::Avx2Transpose8>();
  return &kernels;
}
}  // namespace embedkit::jl
EMBEDKIT_TARGET_END
#else
namespace embedkit::jl {
const Kernels* avx2_kernels() { return nullptr; }
}  // namespace embedkit::jl
#endif
