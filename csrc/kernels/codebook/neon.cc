// NEON instantiation of the codebook kernels (Advanced SIMD is baseline on arm64).
// Contraction off (exact_fp.h): the distance tables' float64 mul and add stay two roundings.
#include "../rope/exact_fp.h"
#include "codebook.h"
#include "rank_order.h"

#include "../common/target.h"

#if defined(EMBEDKIT_ARM64)
#include "../common/simd_neon.h"
#include "body.h"

namespace embedkit::codebook {
namespace {
// NEON has no gather instruction: four lane inserts.
struct NeonGather {
  static inline float32x4_t gather(const float* base, const int32_t* idx) {
    float32x4_t v = vdupq_n_f32(base[idx[0]]);
    v = vsetq_lane_f32(base[idx[1]], v, 1);
    v = vsetq_lane_f32(base[idx[2]], v, 2);
    return vsetq_lane_f32(base[idx[3]], v, 3);
  }
};
}  // namespace

const Kernels* neon_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::NeonF32, simd::NeonF64, NeonGather>();
  return &kernels;
}
}  // namespace embedkit::codebook
#else
namespace embedkit::codebook {
const Kernels* neon_kernels() { return nullptr; }
}  // namespace embedkit::codebook
#endif
