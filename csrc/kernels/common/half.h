// Scalar IEEE binary16 (f16) and bfloat16 (bf16) conversions. Narrowing rounds to nearest,
// ties to even, and keeps NaN a (quiet) NaN of the same sign; widening is exact. These are
// the reference every SIMD conversion (F16C, AVX-512, NEON vcvt) is tested against.
#pragma once

#include <cstdint>
#include <cstring>

namespace embedkit::half {

inline uint32_t bits_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float float_of(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline float bf16_to_float(uint16_t h) { return float_of(static_cast<uint32_t>(h) << 16); }

inline uint16_t float_to_bf16(float f) {
  const uint32_t u = bits_of(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x0040u);  // NaN
  // Round to nearest even on the 16 dropped bits; a carry into the exponent is the right
  // answer (it rounds up to the next binade, or to Inf).
  const uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>((u + rounding) >> 16);
}

inline float f16_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t mant = h & 0x3ffu;
  if (exp == 0x1fu) return float_of(sign | 0x7f800000u | (mant << 13));  // Inf, NaN
  if (exp != 0) return float_of(sign | ((exp + 112u) << 23) | (mant << 13));
  // Zero or subnormal: mant x 2^-24, exact in float32.
  const float magnitude = static_cast<float>(mant) * float_of(0x33800000u);  // 2^-24
  return float_of(sign | bits_of(magnitude));
}

inline uint16_t float_to_f16(float f) {
  const uint32_t u = bits_of(f);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  const uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: Inf
  if (abs < 0x38800000u) {
    // Below the smallest normal half (2^-14): a subnormal half, mant = round(|f| x 2^24).
    // Adding 0.5 (2^-1) aligns the value's bits so that float addition itself rounds to
    // nearest even at the 2^-24 position.
    const float shifted = float_of(abs) + 0.5f;
    return static_cast<uint16_t>(sign | (bits_of(shifted) - 0x3f000000u));
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to even;
  // a carry moves into the exponent, which is again the right answer.
  const uint32_t rebiased = abs - (112u << 23);
  const uint32_t rounding = 0xfffu + ((rebiased >> 13) & 1u);
  return static_cast<uint16_t>(sign | ((rebiased + rounding) >> 13));
}

}  // namespace embedkit::half
