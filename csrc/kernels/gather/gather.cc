// Dispatch and work splitting for the gather family. Work is cut by index count, not by
// bag count, so skewed bag sizes still balance; a bag is always pooled by one task in
// index order, which keeps results identical for any thread count. When there are too few
// bags to feed the threads (one huge bag), the columns are split instead.
#include <algorithm>

#include "../common/kernel_stats.h"
#include "../common/kernel_table.h"
#include "../common/parallel.h"
#include "gather.h"

namespace embedkit::gather {
namespace {

// Below this many floats moved, a task is not worth a thread hand-off (~32 KiB).
constexpr int64_t kMinFloatsPerTask = 8192;
// Column splits are whole cache lines.
constexpr int64_t kColumnQuantum = 16;

}  // namespace

int64_t first_bag_with_cost(const Bags& bags, int64_t target, int64_t per_bag) {
  int64_t lo = 0, hi = bags.num_bags;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (bags.start(mid) + per_bag * mid < target) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

const Kernels& kernels_for(Isa isa) {
  return select_kernels(isa, reference_kernels(), avx2_kernels, avx512_kernels, neon_kernels);
}

void gather(const Table& table, const IndexArray& indices, float* out) {
  const Isa isa = active_isa();
  count_kernel_call(isa);
  const Kernels& k = kernels_for(isa);
  const int64_t n = indices.length;
  if (n == 0 || table.dim == 0) return;
  const int64_t tasks = task_count_for(n * table.dim, kMinFloatsPerTask);
  parallel_for(tasks, [&](int64_t t) {
    k.gather_rows(table, indices, n * t / tasks, n * (t + 1) / tasks, out);
  });
}

void split_bags_impl(const Bags& bags, int64_t dim,
                     void (*fn)(void* ctx, int64_t, int64_t, int64_t, int64_t), void* ctx) {
  auto pool = [&](int64_t b0, int64_t b1, int64_t c0, int64_t c1) { fn(ctx, b0, b1, c0, c1); };
  const int64_t num_bags = bags.num_bags;
  if (num_bags == 0 || dim == 0) return;
  const int64_t total_cost = bags.num_indices + num_bags;  // each index, and each bag's output row
  const int64_t tasks = task_count_for(total_cost * dim, kMinFloatsPerTask);
  if (tasks == 1) {
    pool(0, num_bags, 0, dim);
    return;
  }
  if (num_bags >= tasks) {
    // Split bags into `tasks` ranges of about equal cost.
    parallel_for(tasks, [&](int64_t t) {
      const int64_t b0 = t == 0 ? 0 : first_bag_with_cost(bags, total_cost * t / tasks, 1);
      const int64_t b1 =
          t + 1 == tasks ? num_bags : first_bag_with_cost(bags, total_cost * (t + 1) / tasks, 1);
      if (b0 < b1) pool(b0, b1, 0, dim);
    });
    return;
  }
  // Few, large bags: every bag gets the whole column range split into slices.
  const int64_t quanta = (dim + kColumnQuantum - 1) / kColumnQuantum;
  const int64_t slices = std::max<int64_t>(1, std::min<int64_t>(tasks / num_bags + 1, quanta));
  parallel_for(num_bags * slices, [&](int64_t t) {
    const int64_t b = t / slices;
    const int64_t s = t % slices;
    const int64_t c0 = std::min(dim, quanta * s / slices * kColumnQuantum);
    const int64_t c1 = std::min(dim, quanta * (s + 1) / slices * kColumnQuantum);
    if (c0 < c1) pool(b, b + 1, c0, c1);
  });
}

void embedding_bag(const BagArgs& args) {
  const Isa isa = active_isa();
  count_kernel_call(isa);
  const Kernels& k = kernels_for(isa);
  if (args.bags.num_indices == 0) {
    // Every bag is empty. An empty table has no valid index, so this is also the only case
    // in which the table may have no memory at all: the kernels never see a null table.
    if (args.accumulate) return;
    for (int64_t b = 0; b < args.bags.num_bags; ++b) {
      std::fill(args.out_row(b), args.out_row(b) + args.table.dim, 0.0f);
    }
    return;
  }
  split_bags(args.bags, args.table.dim, [&](int64_t b0, int64_t b1, int64_t c0, int64_t c1) {
    k.pool_bags(args, b0, b1, c0, c1);
  });
}

void embedding_qr_bag(const QrBagArgs& args) {
  const Isa isa = active_isa();
  count_kernel_call(isa);
  const Kernels& k = kernels_for(isa);
  const int64_t dim = args.bag.table.dim;
  QrBagArgs pass = args;
  pass.bag.out_stride = args.out_dim();
  if (args.bag.bags.num_indices == 0) {  // every bag empty: the tables may hold no rows at all
    for (int64_t b = 0; b < args.bag.bags.num_bags; ++b) {
      std::fill(pass.bag.out_row(b), pass.bag.out_row(b) + pass.bag.out_stride, 0.0f);
    }
    return;
  }
  // Concat: the quotient's pooled rows fill columns [0, dim), the remainder's [dim, 2 dim),
  // two passes over the same bags (each row read once, as in the fused combines).
  const QrPart parts[2] = {
      args.combine == QrCombine::Concat ? QrPart::Quotient
                                        : args.combine == QrCombine::Mul ? QrPart::Mul : QrPart::Sum,
      QrPart::Remainder};
  const int passes = args.combine == QrCombine::Concat ? 2 : 1;
  for (int i = 0; i < passes; ++i) {
    pass.bag.out = args.bag.out + i * dim;
    split_bags(args.bag.bags, dim, [&](int64_t b0, int64_t b1, int64_t c0, int64_t c1) {
      k.pool_qr_bags(pass, parts[i], b0, b1, c0, c1);
    });
  }
}

void embedding_qr_bag_max_argmax(const QrBagArgs& args, int32_t* quotient_winners, int32_t* remainder_winners) {
  count_kernel_call(Isa::Scalar);
  const int64_t dim = args.bag.table.dim;
  QrBagArgs pass = args;
  pass.bag.out_stride = args.out_dim();
  struct Pass {
    QrPart part;
    int32_t* quotient;
    int32_t* remainder;
  };
  const bool concat = args.combine == QrCombine::Concat;
  const Pass passes[2] = {
      concat ? Pass{QrPart::Quotient, quotient_winners, nullptr}
             : Pass{args.combine == QrCombine::Mul ? QrPart::Mul : QrPart::Sum, quotient_winners, remainder_winners},
      Pass{QrPart::Remainder, nullptr, remainder_winners}};
  for (int i = 0; i < (concat ? 2 : 1); ++i) {
    pass.bag.out = args.bag.out + i * dim;
    split_bags(args.bag.bags, dim, [&](int64_t b0, int64_t b1, int64_t c0, int64_t c1) {
      pool_qr_bags_max_argmax(pass, passes[i].part, b0, b1, c0, c1, passes[i].quotient, passes[i].remainder);
    });
  }
}

void embedding_bag_max_argmax(const BagArgs& args, int32_t* argmax) {
  const Isa isa = active_isa();
  count_kernel_call(isa);
  const Kernels& k = kernels_for(isa);
  split_bags(args.bags, args.table.dim, [&](int64_t b0, int64_t b1, int64_t c0, int64_t c1) {
    k.pool_bags_max_argmax(args, b0, b1, c0, c1, argmax);
  });
}

}  // namespace embedkit::gather
