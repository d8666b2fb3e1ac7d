// Compressed embedding tables: converting float32 tables to the stored formats that the
// gather kernels read (gather.h TableFormat), back, and the checks a caller runs first.
//
// Quantization rules (quantize_table):
//   F16, BF16  round to nearest, ties to even; NaN stays NaN (quiet, same sign), +-0, +-Inf
//              and f16 subnormals are kept; values past the largest finite f16 become Inf.
//   Q8, Q4     per row, with L = 255 (Q8) or 15 (Q4) levels and lo / hi the row's minimum and
//              maximum: scale = (hi - lo) / L, bias = lo, code = round_even((x - lo) / scale)
//              clamped to [0, L] (all codes 0 when scale is 0). Decoding is
//              fma(code, scale, bias). Error bound per element:
//                |x - decoded| <= scale / 2 + 2^-22 * max(|lo|, |hi|)
//              (half a step, plus the float32 roundings of scale, of the top code's
//              clamp and of the decode).
//              Values must be finite (find_non_finite). Q4 packs two codes per byte, the
//              even column in the low nibble; an odd dim leaves the last high nibble 0.
#pragma once

#include <cstdint>

#include "../gather/gather.h"

namespace embedkit::compress {

using gather::TableFormat;

// Where quantize_table writes: `codes` holds rows x row_stride_bytes(format, dim) bytes (for
// F32, the floats themselves), scales / biases one float per row (Q8 / Q4 only, else null).
struct Encoded {
  void* codes = nullptr;
  float* scales = nullptr;
  float* biases = nullptr;
};

// Converts a float32 rows x dim table into `format`, split over the thread pool.
void quantize_table(const float* table, int64_t rows, int64_t dim, TableFormat format,
                    const Encoded& out);
// Decodes every element of `table` into out (rows x dim float32), bit for bit what the
// gather kernels read.
void dequantize_table(const gather::Table& table, float* out);

// The first position of a NaN or +-Inf in values[0, n), or -1.
int64_t find_non_finite(const float* values, int64_t n);
// The first position of remap[0, n) outside [-1, rows), or -1.
int64_t find_remap_out_of_range(const int32_t* remap, int64_t n, int64_t rows);

}  // namespace embedkit::compress
