// quantize_table / dequantize_table: scalar code over rows, split over the thread pool.
// Each row is converted independently, so the result does not depend on the thread count.
#include <algorithm>
#include <cmath>

#include "../common/half.h"
#include "../common/parallel.h"
#include "../gather/scalar_decode.h"
#include "compress.h"

namespace embedkit::compress {
namespace {

// Below this many elements a task is not worth a thread hand-off.
constexpr int64_t kMinElementsPerTask = 16384;

template <class Fn>
void for_row_ranges(int64_t rows, int64_t dim, Fn&& fn) {
  if (rows == 0 || dim == 0) return;
  const int64_t tasks = task_count_for(rows * dim, kMinElementsPerTask);
  parallel_for(tasks, [&](int64_t t) { fn(rows * t / tasks, rows * (t + 1) / tasks); });
}

// One row's affine codes (Q8 / Q4): see compress.h for the rule. code_at(c, code) stores.
template <class Store>
void quantize_affine_row(const float* x, int64_t dim, int levels, float* scale, float* bias,
                         Store store) {
  const auto [lo_it, hi_it] = std::minmax_element(x, x + dim);
  const float lo = *lo_it;
  const float hi = *hi_it;
  // In double: hi - lo can exceed the float range even when both are finite floats.
  const float s = static_cast<float>((static_cast<double>(hi) - lo) / levels);
  *scale = s;
  *bias = lo;
  for (int64_t c = 0; c < dim; ++c) {
    int code = 0;
    if (s > 0.0f) {
      const double q = std::nearbyint((static_cast<double>(x[c]) - lo) / s);
      code = static_cast<int>(std::min<double>(std::max(q, 0.0), levels));
    }
    store(c, static_cast<uint8_t>(code));
  }
}

}  // namespace

void quantize_table(const float* table, int64_t rows, int64_t dim, TableFormat format,
                    const Encoded& out) {
  const int64_t stride = gather::row_stride_bytes(format, dim);
  for_row_ranges(rows, dim, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = table + r * dim;
      uint8_t* bytes = static_cast<uint8_t*>(out.codes) + r * stride;
      uint16_t* halves = reinterpret_cast<uint16_t*>(bytes);
      switch (format) {
        case TableFormat::F32:
          std::copy(x, x + dim, reinterpret_cast<float*>(bytes));
          break;
        case TableFormat::F16:
          for (int64_t c = 0; c < dim; ++c) halves[c] = half::float_to_f16(x[c]);
          break;
        case TableFormat::BF16:
          for (int64_t c = 0; c < dim; ++c) halves[c] = half::float_to_bf16(x[c]);
          break;
        case TableFormat::Q8:
          quantize_affine_row(x, dim, 255, out.scales + r, out.biases + r,
                              [&](int64_t c, uint8_t code) { bytes[c] = code; });
          break;
        case TableFormat::Q4:
          std::fill(bytes, bytes + stride, uint8_t{0});
          quantize_affine_row(x, dim, 15, out.scales + r, out.biases + r,
                              [&](int64_t c, uint8_t code) {
                                bytes[c / 2] |= static_cast<uint8_t>(code << (4 * (c % 2)));
                              });
          break;
      }
    }
  });
}

void dequantize_table(const gather::Table& table, float* out) {
  const int64_t dim = table.dim;
  for_row_ranges(table.rows, dim, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      for (int64_t c = 0; c < dim; ++c) out[r * dim + c] = gather::decode_value(table, r, c);
    }
  });
}

int64_t find_non_finite(const float* values, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(values[i])) return i;
  }
  return -1;
}

int64_t find_remap_out_of_range(const int32_t* remap, int64_t n, int64_t rows) {
  for (int64_t i = 0; i < n; ++i) {
    if (remap[i] < -1 || remap[i] >= rows) return i;
  }
  return -1;
}

}  // namespace embedkit::compress
