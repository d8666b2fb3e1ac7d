// NEON instantiation of the gather kernels (Advanced SIMD is baseline on arm64).
#include "gather.h"

#include "../common/target.h"
// No contraction of a separate multiply and add into an fma: qrEmbeddingBag's mul combine
// (q x r, then pooled) must round the product on every column split, as the reference does.
#include "../rope/exact_fp.h"

#if defined(EMBEDKIT_ARM64)
#include "../common/simd_neon.h"
#include "body.h"

namespace embedkit::gather {
namespace {

// Widening loads for the row decoders (decode.h): 4 stored values to 4 floats.
struct NeonWiden {
  static float32x4_t f16(const uint16_t* p) {
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p)));
  }
  static float32x4_t bf16(const uint16_t* p) {
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16));
  }
  static float32x4_t u8(const uint8_t* p) {
    uint32_t word;
    __builtin_memcpy(&word, p, sizeof word);
    const uint16x8_t halves = vmovl_u8(vcreate_u8(word));
    return vcvtq_f32_u32(vmovl_u16(vget_low_u16(halves)));
  }
  // 2 bytes, 4 nibbles, low nibble first.
  static float32x4_t u4(const uint8_t* p) {
    const uint32_t b0 = p[0], b1 = p[1];  // widened first: uint8_t >> would promote to int
    const uint32_t nibbles[4] = {b0 & 0x0fu, b0 >> 4, b1 & 0x0fu, b1 >> 4};
    return vcvtq_f32_u32(vld1q_u32(nibbles));
  }
};

}  // namespace

const Kernels* neon_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::NeonF32, NeonWiden>();
  return &kernels;
}
}  // namespace embedkit::gather
#else
namespace embedkit::gather {
const Kernels* neon_kernels() { return nullptr; }
}  // namespace embedkit::gather
#endif
