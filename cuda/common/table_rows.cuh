// Decoding a table row to float32 in the kernels, as the CPU's scalar decoder does
// (csrc/kernels/gather/scalar_decode.h): f16 widened exactly, bf16 by a 16-bit shift, q8 /
// q4 codes as fma(code, scale[row], bias[row]), q4 two codes per byte with the even column
// in the low nibble. The format is a runtime field, the same for every lane: the switch
// costs a uniform branch per row read instead of five more copies of every kernel.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "row_vector.cuh"
#include "table_rows.h"

namespace embedkit::cuda {

// kWidth values of `row` from column `col` on (col a multiple of kWidth; with kWidth 4 the
// launcher has checked TableRows::allows_width4).
template <int kWidth>
__device__ RowVector<kWidth> load_row(const TableRows& t, int64_t row, int64_t col) {
  float v[kWidth];
  switch (t.format) {
    case TableFormat::F32:
      return RowVector<kWidth>::load(static_cast<const float*>(t.data) + row * t.stride + col);
    case TableFormat::F16:
    case TableFormat::BF16: {
      const uint16_t* p = static_cast<const uint16_t*>(t.data) + row * t.stride + col;
      uint16_t h[kWidth];
      if constexpr (kWidth == 4) {
        const uint2 w = __ldg(reinterpret_cast<const uint2*>(p));
        h[0] = w.x & 0xffff; h[1] = w.x >> 16; h[2] = w.y & 0xffff; h[3] = w.y >> 16;
      } else {
        h[0] = __ldg(p);
      }
#pragma unroll
      for (int j = 0; j < kWidth; ++j) {
        v[j] = t.format == TableFormat::F16 ? __half2float(__ushort_as_half(h[j]))
                                          : __uint_as_float(static_cast<uint32_t>(h[j]) << 16);
      }
      break;
    }
    case TableFormat::Q8:
    case TableFormat::Q4: {
      const uint8_t* bytes = static_cast<const uint8_t*>(t.data) + row * t.stride;
      uint8_t code[kWidth];
      if (t.format == TableFormat::Q8) {
        if constexpr (kWidth == 4) {
          const uint32_t w = __ldg(reinterpret_cast<const uint32_t*>(bytes + col));
#pragma unroll
          for (int j = 0; j < 4; ++j) code[j] = (w >> (8 * j)) & 0xff;
        } else {
          code[0] = __ldg(bytes + col);
        }
      } else {
        if constexpr (kWidth == 4) {
          const uint16_t w = __ldg(reinterpret_cast<const uint16_t*>(bytes + col / 2));
#pragma unroll
          for (int j = 0; j < 4; ++j) code[j] = (w >> (4 * j)) & 0x0f;
        } else {
          const uint8_t b = __ldg(bytes + col / 2);
          code[0] = col % 2 == 0 ? (b & 0x0f) : (b >> 4);  // low nibble first
        }
      }
      const float scale = __ldg(t.scales + row), bias = __ldg(t.biases + row);
#pragma unroll
      for (int j = 0; j < kWidth; ++j) v[j] = fmaf(static_cast<float>(code[j]), scale, bias);
      break;
    }
  }
  return RowVector<kWidth>::from(v);
}

}  // namespace embedkit::cuda
