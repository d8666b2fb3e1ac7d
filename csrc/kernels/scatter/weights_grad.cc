// The gradient of embedding_bag with respect to its per-sample weights: one dot product per
// position (body.h weights_grad), the positions cut into equal runs, one per task.
#include <algorithm>
#include <cstdint>

#include "../common/kernel_stats.h"
#include "../common/parallel.h"
#include "scatter.h"

namespace embedkit::scatter {
namespace {

// Below this many floats read (positions x dim), a task is not worth a thread hand-off (as the
// scatter-add's).
constexpr int64_t kMinFloatsPerTask = 8192;

}  // namespace

int64_t weights_grad_divisor(const WeightsGradArgs& a, int64_t b) {
  if (!a.mean) return 1;
  const int64_t begin = a.bags.start(b), end = a.bags.end(b);
  if (a.padding_idx < 0) return end - begin;
  int64_t count = 0;
  for (int64_t p = begin; p < end; ++p) count += a.indices.at(p) != a.padding_idx;
  return count;
}

void bag_weights_grad(const WeightsGradArgs& a) {
  const int64_t n = a.indices.length;
  if (n == 0) return;
  if (a.bags.num_bags == 0) {  // no bag holds these positions: they feed nothing
    std::fill(a.out, a.out + n, 0.0f);
    return;
  }
  const Isa isa = active_isa();
  count_kernel_call(isa);
  const Kernels& k = kernels_for(isa);
  // Floats read, saturated (n and dim are each bounded by their arrays, not their product).
  const int64_t floats = a.dim > INT64_MAX / n ? INT64_MAX : n * a.dim;
  const int64_t tasks = task_count_for(floats, kMinFloatsPerTask);
  parallel_for(tasks, [&](int64_t t) {
    const int64_t p0 = n * t / tasks, p1 = n * (t + 1) / tasks;
    // The bag holding p0: the last to start at or before it.
    if (p0 < p1) k.weights_grad(a, gather::first_bag_with_cost(a.bags, p0 + 1, 0) - 1, p0, p1);
  });
}

}  // namespace embedkit::scatter
