// One table element as float32, in scalar code: the reference decoder that the SIMD row
// decoders (decode.h) must match bit for bit, and what dequantize_table writes.
#pragma once

#include <cmath>
#include <cstdint>

#include "../common/half.h"
#include "gather.h"

namespace embedkit::gather {

inline float decode_value(const Table& t, int64_t row, int64_t col) {
  switch (t.format) {
    case TableFormat::F32: return t.data[row * t.dim + col];
    case TableFormat::F16:
      return half::f16_to_float(static_cast<const uint16_t*>(t.codes)[row * t.dim + col]);
    case TableFormat::BF16:
      return half::bf16_to_float(static_cast<const uint16_t*>(t.codes)[row * t.dim + col]);
    case TableFormat::Q8: {
      const uint8_t code = static_cast<const uint8_t*>(t.codes)[row * t.dim + col];
      return std::fma(static_cast<float>(code), t.scales[row], t.biases[row]);
    }
    case TableFormat::Q4: {
      const uint8_t byte = t.row_bytes(row)[col / 2];
      const uint8_t code = col % 2 == 0 ? (byte & 0x0f) : (byte >> 4);  // low nibble first
      return std::fma(static_cast<float>(code), t.scales[row], t.biases[row]);
    }
  }
  return 0.0f;
}

}  // namespace embedkit::gather
