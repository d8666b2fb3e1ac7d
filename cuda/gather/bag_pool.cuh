// One lane group's pooling of a run of a bag's entries, shared by the per-bag kernel
// (gather.cu) and the chunks of long bags (long_bags.cu). Each lane loads one index (and
// weight) of the next G, the group broadcasts them by shuffle, and every lane reads its
// slice of each row, kRowsInFlight rows ahead of accumulating them. The per-column running
// value follows the CPU kernels' operations in index order (add, fma for weights, the
// keep-if-greater max), so a bag pooled in one run is the CPU's bit for bit.
#pragma once

#include "../common/lane_groups.cuh"
#include "../common/table_rows.cuh"
#include "gather.h"

namespace embedkit::cuda::gather {

// Tuning knobs, fixed at build time; scripts/gpu-check.sh's GPU_VARIANTS builds and times
// other values on a lent GPU ("b:-DEMBEDKIT_BAG_MIN_BLOCKS=6;c:-DEMBEDKIT_ROWS_IN_FLIGHT=8").
// Rows read ahead of accumulating them: independent loads in flight per lane.
#ifndef EMBEDKIT_ROWS_IN_FLIGHT
#define EMBEDKIT_ROWS_IN_FLIGHT 4
#endif
constexpr int kRowsInFlight = EMBEDKIT_ROWS_IN_FLIGHT;
// Blocks the bag kernels must fit per SM (__launch_bounds__' second argument, a register
// cap). 4 caps them at 64 registers (a few spills) for 32 warps per SM; left free (1) the
// compiler took 82 (3 blocks, 24 warps), and short, latency-bound bags starved: on an H200
// (2026-11-28, one run, both builds) 4 took embeddingBag sum 3.05 -> 2.46 ms, scatterAdd
// uniform 5.73 -> 3.67, spmm random 5.66 -> 3.81, power-law 3.70 -> 2.54 (bench/NOTES.md).
#ifndef EMBEDKIT_BAG_MIN_BLOCKS
#define EMBEDKIT_BAG_MIN_BLOCKS 4
#endif
constexpr int kBagMinBlocks = EMBEDKIT_BAG_MIN_BLOCKS;

template <int kWidth>
struct BagAccumulator {
  RowVector<kWidth> acc = RowVector<kWidth>::zero();
  RowIds<kWidth> winners = RowIds<kWidth>::all(-1);  // with argmax only
  int64_t count = 0;   // entries taken (padding is skipped)
  int64_t lead = -1;   // position of the first entry taken

  // `over_nan`: a held NaN gives way to the next value (a long bag's chunks; the first
  // entry's NaN rule is applied when the chunks are combined).
  __device__ void take(PoolMode mode, bool weighted, float weight, RowVector<kWidth> x, int64_t row,
                       int64_t position, bool argmax, bool over_nan) {
    if (count == 0) lead = position;
    if (mode == PoolMode::Max) {
      if (weighted) x.scale(weight);  // spmm's reduce 'max': the max of weight x row
      if (count == 0) {
        acc = x;
        if (argmax) winners = RowIds<kWidth>::all(static_cast<int32_t>(row));
      } else if (argmax) {
        acc.max_with(x, RowIds<kWidth>::all(static_cast<int32_t>(row)), winners, over_nan);
      } else {
        acc.max_with(x, over_nan);
      }
    } else if (weighted) {
      acc.fma(weight, x);
    } else {
      acc.add(x);
    }
    ++count;
  }

  __device__ RowVector<kWidth> result(PoolMode mode, bool accumulated) const {
    if (count == 0 && !accumulated) return RowVector<kWidth>::zero();  // empty bag, or padding only
    RowVector<kWidth> r = acc;
    if (mode == PoolMode::Mean) r.divide(static_cast<float>(count));
    return r;
  }
};

// Pools entries [begin, end) of `bag` into `pool`. Every lane of the group calls it (the
// shuffles need them all); `active` is false for lanes past the row's end.
template <typename IndexT, int kWidth>
__device__ void pool_entries(const BagLaunch& bag, const LanePosition& at, int group_size, bool active,
                             int64_t begin, int64_t end, bool over_nan, BagAccumulator<kWidth>& pool) {
  const bool weighted = bag.weights != nullptr;
  const bool want_argmax = bag.argmax != nullptr;
  for (int64_t base = begin; base < end; base += group_size) {
    const int n = static_cast<int>(min(int64_t{group_size}, end - base));
    int64_t my_row = at.lane < n ? load_index<IndexT>(bag.indices.data, base + at.lane) : 0;
    float my_weight = (weighted && at.lane < n) ? __ldg(bag.weights + base + at.lane) : 1.f;
    for (int j = 0; j < n; j += kRowsInFlight) {
      int64_t rows[kRowsInFlight];
      float weights[kRowsInFlight];
      RowVector<kWidth> values[kRowsInFlight];
#pragma unroll
      for (int u = 0; u < kRowsInFlight; ++u) {
        const int src = min(j + u, n - 1);  // every lane of the group joins each shuffle
        rows[u] = __shfl_sync(at.mask, my_row, src, group_size);
        weights[u] = __shfl_sync(at.mask, my_weight, src, group_size);
        const bool use = j + u < n && rows[u] != bag.padding_idx && active;
        values[u] = use ? load_row<kWidth>(bag.table.rows_of, rows[u], at.column) : RowVector<kWidth>::zero();
      }
#pragma unroll
      for (int u = 0; u < kRowsInFlight; ++u) {
        if (j + u < n && rows[u] != bag.padding_idx) {
          pool.take(bag.mode, weighted, weights[u], values[u], rows[u], base + j + u, want_argmax, over_nan);
        }
      }
    }
  }
}

// The row of `out` that bag `item` writes.
__device__ __forceinline__ float* bag_out_row(const BagLaunch& bag, int64_t item) {
  const int64_t row = bag.out_rows != nullptr ? static_cast<int64_t>(bag.out_rows[item]) : item;
  return bag.out + row * bag.table.dim;
}

}  // namespace embedkit::cuda::gather
