// AVX-512 (F, BW, VL, DQ) instantiation of the gather kernels.
#include "gather.h"

#include "../common/target.h"
// No contraction of a separate multiply and add into an fma: qrEmbeddingBag's mul combine
// (q x r, then pooled) must round the product on every column split, as the reference does.
#include "../rope/exact_fp.h"

#if defined(EMBEDKIT_X86_64)
// GCC 12 warns inside its own _mm512_maskz_loadu_ps, and (-Wuninitialized) inside
// _mm512_cvtepu8_epi32 / _mm512_cvtepi32_ps, whose "undefined" pass-through operand it
// mistakes for a read (known false positives).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
EMBEDKIT_TARGET_BEGIN("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")
#include "../common/simd_avx512.h"
#include "body.h"

namespace embedkit::gather {
namespace {

// Widening loads for the row decoders (decode.h): 16 stored values to 16 floats.
struct Avx512Widen {
  static __m512 f16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
  }
  static __m512 bf16(const uint16_t* p) {
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
  static __m512 u8(const uint8_t* p) {
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes));
  }
  // 8 bytes, 16 nibbles, low nibble first: interleave the low and high nibbles into bytes.
  static __m512 u4(const uint8_t* p) {
    const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    const __m128i low = _mm_and_si128(bytes, _mm_set1_epi8(0x0f));
    const __m128i high = _mm_and_si128(_mm_srli_epi16(bytes, 4), _mm_set1_epi8(0x0f));
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(low, high)));
  }
};

}  // namespace

const Kernels* avx512_kernels() {
  static const Kernels kernels = simd_body::make_kernels<simd::Avx512F32, Avx512Widen>();
  return &kernels;
}
}  // namespace embedkit::gather
EMBEDKIT_TARGET_END
#else
namespace embedkit::gather {
const Kernels* avx512_kernels() { return nullptr; }
}  // namespace embedkit::gather
#endif
