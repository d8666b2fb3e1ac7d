// Internal to the codebook family: codebooks repacked into an ISA's panels (codebook.h
// Panels), and the helpers that assign.cc and pq.cc share.
#pragma once

#include <vector>

#include "codebook.h"

namespace embedkit::codebook {

struct PanelStore {
  std::vector<float> data;
  std::vector<float> norms;
  Panels view;
};

// Below this many multiply-adds, a task is not worth a thread hand-off.
constexpr int64_t kMinScoreWorkPerTask = 1 << 18;

// a * b * c, saturated: a work estimate for task_count_for that cannot overflow.
inline int64_t work_of(int64_t a, int64_t b, int64_t c) {
  const double w = static_cast<double>(a) * static_cast<double>(b) * static_cast<double>(c);
  return w >= 9.0e18 ? int64_t{9000000000000000000} : static_cast<int64_t>(w);
}

// Repacks num_codes x dim codes into panels of `width` codes (ISA: Kernels::panel_width).
void pack_panels(const float* codebook, int64_t num_codes, int64_t dim, int64_t width,
                 PanelStore* store);
// ||x - c||² (l2) or x·c (ip), summed in float64.
double exact_score(const float* x, const float* code, int64_t dim, Metric metric);

}  // namespace embedkit::codebook
