// One row's draw of vqSample, shared by the CPU (vq.cc) and the CUDA kernel
// (cuda/codebook/vq.cu) so that a seed picks the same token on both: a code with weight
// n_j exp(L_j / T - max) on a float64 CDF in code order (word pair 0-1 of Philox block
// `row` of stream kVqSample as a 53-bit uniform), then one of its tokens uniformly (word
// pair 2-3). -1 when no code has a finite weight (all -inf, or a NaN). Map is the CPU's VqMap
// or the GPU's DeviceVqMap: both hold num_codes, counts, offsets and tokens.
#pragma once

#include <cmath>
#include <cstdint>

#include "../common/host_device.h"
#include "../common/philox.h"

namespace embedkit::codebook {

template <class Map>
EMBEDKIT_HOST_DEVICE inline int32_t sample_row(const float* row, const Map& map, uint64_t seed, double temperature,
                                               int64_t b) {
  const double inf = HUGE_VAL;  // a macro, usable in device code (numeric_limits is not)
  const int64_t kc = map.num_codes;
  double top = -inf;
  for (int64_t j = 0; j < kc; ++j) {
    if (map.counts[j] == 0) continue;
    const double v = static_cast<double>(row[j]) / temperature;
    if (std::isnan(v)) {
      top = v;  // NaN
      break;
    }
    top = std::fmax(top, v);
  }
  if (!(top > -inf)) return -1;  // NaN, or no code with a finite weight
  // Weight n_j exp(L_j / T - top); with a +inf logit, only the +inf codes, by count.
  auto weight = [&](int64_t j) {
    if (map.counts[j] == 0) return 0.0;
    const double v = static_cast<double>(row[j]) / temperature;
    if (std::isinf(top)) return v == top ? static_cast<double>(map.counts[j]) : 0.0;
    return static_cast<double>(map.counts[j]) * std::exp(v - top);
  };
  double total = 0;
  for (int64_t j = 0; j < kc; ++j) total += weight(j);
  const philox::Block r = philox::stream_block(seed, philox::kVqSample, static_cast<uint64_t>(b));
  const uint64_t u_code = static_cast<uint64_t>(r.v[0]) | (static_cast<uint64_t>(r.v[1]) << 32);
  const uint64_t u_token = static_cast<uint64_t>(r.v[2]) | (static_cast<uint64_t>(r.v[3]) << 32);
  const double target = static_cast<double>(u_code >> 11) * 0x1p-53 * total;
  int64_t chosen = -1;
  double acc = 0;
  for (int64_t j = 0; j < kc; ++j) {
    const double w = weight(j);
    if (w <= 0) continue;
    chosen = j;  // the last code with weight, should rounding leave acc <= target
    acc += w;
    if (acc > target) break;
  }
  const uint64_t n = static_cast<uint64_t>(map.counts[chosen]);
  return map.tokens[map.offsets[chosen] + static_cast<int64_t>(philox::uniform_below(u_token, n))];
}

}  // namespace embedkit::codebook
