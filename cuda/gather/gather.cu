// The gather family's kernels: gather rows and pool bags, one lane group per row or bag
// (common/lane_groups.cuh), 16-byte row loads where the row length allows. A bag's group
// walks its indices G at a time: each lane loads one index (and weight), then the group
// broadcasts them by shuffle and every lane reads its slice of each row. The per-column
// sum runs in index order with the CPU kernels' operations (add, fma for weights, divide
// for mean, keep-if-greater for max), so the results are the CPU's bit for bit. Rows are
// read through TableRows (common/table_rows.cuh), which decodes every table format.
#include "../common/index_dispatch.h"
#include "../common/lane_groups.cuh"
#include "../common/table_rows.cuh"
#include "gather.h"

namespace embedkit::cuda::gather {
namespace {

// Rows read ahead of accumulating them: independent loads in flight per lane.
constexpr int kRowsInFlight = 4;

template <typename IndexT, int kWidth>
__global__ void __launch_bounds__(kBlockThreads)
    gather_kernel(DeviceTable table, const void* indices, float* out, int group_size,
                  int64_t chunks_per_row, int64_t num_rows) {
  const LanePosition at =
      LanePosition::of(group_size, chunks_per_row, num_rows, kWidth);
  if (!at.valid || at.column >= table.dim) return;
  const int64_t row = load_index<IndexT>(indices, at.item);
  load_row<kWidth>(table.rows_of, row, at.column).store(out + at.item * table.dim + at.column);
}

template <int kWidth>
struct BagAccumulator {
  RowVector<kWidth> acc = RowVector<kWidth>::zero();
  RowIds<kWidth> winners = RowIds<kWidth>::all(-1);  // with argmax only
  int64_t count = 0;

  __device__ void take(PoolMode mode, bool weighted, float weight, RowVector<kWidth> x, int64_t row, bool argmax) {
    if (mode == PoolMode::Max) {
      if (weighted) x.scale(weight);  // spmm's reduce 'max': the max of weight x row
      if (count == 0) {
        acc = x;
        if (argmax) winners = RowIds<kWidth>::all(static_cast<int32_t>(row));
      } else if (argmax) {
        acc.max_with(x, static_cast<int32_t>(row), winners);
      } else {
        acc.max_with(x);
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

template <typename IndexT, int kWidth>
__global__ void __launch_bounds__(kBlockThreads)
    bag_kernel(BagLaunch bag, int group_size, int64_t chunks_per_bag) {
  const LanePosition at = LanePosition::of(group_size, chunks_per_bag, bag.num_bags, kWidth);
  if (!at.valid || (bag.bag_count != nullptr && at.item >= *bag.bag_count)) return;
  const bool active = at.column < bag.table.dim;  // the last chunk may be partly past the row
  const int64_t dim = bag.table.dim;
  const bool weighted = bag.weights != nullptr;
  const bool want_argmax = bag.argmax != nullptr;
  const int64_t begin = bag.boundaries[at.item];
  const int64_t end = bag.boundaries[at.item + 1];
  float* out = bag.out + (bag.out_rows != nullptr ? static_cast<int64_t>(bag.out_rows[at.item]) : at.item) * dim + at.column;

  BagAccumulator<kWidth> pool;
  if (bag.accumulate && active) pool.acc = RowVector<kWidth>::load_plain(out);
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
        if (j + u < n && rows[u] != bag.padding_idx) pool.take(bag.mode, weighted, weights[u], values[u], rows[u], want_argmax);
      }
    }
  }
  if (!active) return;
  pool.result(bag.mode, bag.accumulate).store(out);
  if (want_argmax) pool.winners.store(bag.argmax + at.item * dim + at.column);
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

cudaError_t launch_gather(const DeviceTable& table, const DeviceIndices& indices, float* out,
                          cudaStream_t stream) {
  if (indices.length == 0 || table.dim == 0) return cudaSuccess;
  const LaneGroups g =
      plan_lane_groups(indices.length, table.dim, table.rows_of.allows_width4() && aligned16(out));
  return with_index_type(indices.dtype, [&](auto index_tag) {
    using IndexT = decltype(index_tag);
    auto kernel = g.vector_width == 4 ? gather_kernel<IndexT, 4> : gather_kernel<IndexT, 1>;
    kernel<<<static_cast<unsigned>(g.blocks()), kBlockThreads, 0, stream>>>(
        table, indices.data, out, g.group_size, g.chunks_per_item, indices.length);
    return cudaGetLastError();
  });
}

cudaError_t launch_embedding_bag(const BagLaunch& bag, cudaStream_t stream) {
  if (bag.num_bags == 0 || bag.table.dim == 0) return cudaSuccess;
  const LaneGroups g =
      plan_lane_groups(bag.num_bags, bag.table.dim, bag.table.rows_of.allows_width4() && aligned16(bag.out));
  return with_index_type(bag.indices.dtype, [&](auto index_tag) {
    using IndexT = decltype(index_tag);
    auto kernel = g.vector_width == 4 ? bag_kernel<IndexT, 4> : bag_kernel<IndexT, 1>;
    kernel<<<static_cast<unsigned>(g.blocks()), kBlockThreads, 0, stream>>>(bag, g.group_size,
                                                                           g.chunks_per_item);
    return cudaGetLastError();
  });
}

}  // namespace embedkit::cuda::gather
