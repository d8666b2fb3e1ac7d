// Nearest-codeword assignment: the codebook is repacked into the active ISA's panels once per
// call, rows are split over the pool, and each row's code is chosen by the SIMD score
// kernel; its distance is then recomputed from the row and the code in float64, so it does
// not suffer the cancellation of ||x||² - 2 x·c + ||c||². Contraction off (exact_fp.h): the
// norms' and distances' float64 mul and add stay two roundings on targets with a fused
// multiply-add (arm64), as on x86-64's base ISA and the GPU's.
#include "../rope/exact_fp.h"

#include <algorithm>
#include <limits>
#include <vector>

#include "../common/kernel_stats.h"
#include "../common/parallel.h"
#include "panels.h"

namespace embedkit::codebook {

void pack_panels(const float* codebook, int64_t num_codes, int64_t dim, int64_t width,
                 PanelStore* store) {
  const int64_t panels = (num_codes + width - 1) / width;
  // Padding codes score NaN under either metric, which never replaces a kept code.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  store->data.assign(static_cast<size_t>(panels * dim * width), nan);
  store->norms.assign(static_cast<size_t>(panels * width), nan);
  for (int64_t c = 0; c < num_codes; ++c) {
    const float* code = codebook + c * dim;
    float* panel = store->data.data() + (c / width) * dim * width + c % width;
    double norm = 0;
    for (int64_t k = 0; k < dim; ++k) {
      panel[k * width] = code[k];
      norm += static_cast<double>(code[k]) * code[k];
    }
    store->norms[static_cast<size_t>(c)] = static_cast<float>(norm);
  }
  store->view = Panels{num_codes, dim, width, store->data.data(), store->norms.data()};
}

double exact_score(const float* x, const float* code, int64_t dim, Metric metric) {
  double s = 0;
  for (int64_t k = 0; k < dim; ++k) {
    if (metric == Metric::L2) {
      const double d = static_cast<double>(x[k]) - code[k];
      s += d * d;
    } else {
      s += static_cast<double>(x[k]) * code[k];
    }
  }
  return s;
}

void assign(const Rows& x, const float* codebook, int64_t num_codes, Metric metric,
            int32_t* codes, float* dist) {
  const Isa isa = active_isa();
  count_kernel_call(isa);
  const Kernels& k = kernels_for(isa);
  if (x.rows == 0) return;
  PanelStore store;
  pack_panels(codebook, num_codes, x.dim, k.panel_width, &store);
  const int64_t tasks = task_count_for(work_of(x.rows, num_codes, x.dim), kMinScoreWorkPerTask);
  parallel_for(tasks, [&](int64_t t) {
    const int64_t r0 = x.rows * t / tasks, r1 = x.rows * (t + 1) / tasks;
    k.score_rows(x, store.view, metric, r0, r1, codes, dist);
    for (int64_t r = r0; r < r1; ++r) {
      dist[r] = static_cast<float>(exact_score(x.row(r), codebook + codes[r] * x.dim, x.dim, metric));
    }
  });
}

}  // namespace embedkit::codebook
