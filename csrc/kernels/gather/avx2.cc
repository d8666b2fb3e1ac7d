// AVX2 + FMA + F16C instantiation of the gather kernels.
#include "gather.h"

#include "../common/target.h"
// No contraction of a separate multiply and add into an fma: qrEmbeddingBag's mul combine
// (q x r, then pooled) must round the product on every column split, as the reference does.
#include "../rope/exact_fp.h"

#if defined(EMBEDKIT_X86_64)
EMBEDKIT_TARGET_BEGIN("avx2,fma,f16c")
#include "../common/simd_avx2.h"
#include "body.h"

namespace embedkit::gather {
namespace {

// Widening loads for the row decoders (decode.h): 8 stored values to 8 floats.
struct Avx2Widen {
  static __m256 f16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static __m256 bf16(const uint16_t* p) {
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static __m256 u8(const uint8_t* p) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
  }
  // 4 bytes, 8 nibbles, low nibble first: interleave the low and high nibbles into bytes.
  static __m256 u4(const uint8_t* p) {
    int32_t word;
    __builtin_memcpy(&word, p, sizeof word);
    const __m128i bytes = _mm_cvtsi32_si128(word);
    const __m128i low = _mm_and_si128(bytes, _mm_set1_epi8(0x0f));
    const __m128i high = _mm_and_si128(_mm_srli_epi16(bytes, 4), _mm_set1_epi8(0x0f));
    return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_unpacklo_epi8(low, high)));
  }
};

}  // namespace

const Kernels* avx2_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::Avx2F32, Avx2Widen>();
  return &kernels;
}
}  // namespace embedkit::gather
EMBEDKIT_TARGET_END
#else
namespace embedkit::gather {
const Kernels* avx2_kernels() { return nullptr; }
}  // namespace embedkit::gather
#endif
