// The gather family's kernels: gather rows and pool bags, one lane group per row or bag
// (common/lane_groups.cuh), 16-byte row loads where the row length allows. A bag's group
// pools its entries in index order (bag_pool.cuh), so the results are the CPU's bit for
// bit; bags longer than a chunk go to long_bags.cu instead. Rows are read through
// TableRows (common/table_rows.cuh), which decodes every table format.
#include "../common/index_dispatch.h"
#include "../common/lane_groups.cuh"
#include "../common/table_rows.cuh"
#include "bag_pool.cuh"
#include "gather.h"
#include "long_bags.h"

namespace embedkit::cuda::gather {
namespace {

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

// Pools every bag of at most `longest` entries (the longer ones are split into chunks by
// long_bags.cu) in one run, bit for bit the CPU's result.
template <typename IndexT, int kWidth>
__global__ void __launch_bounds__(kBlockThreads, kBagMinBlocks)
    bag_kernel(BagLaunch bag, int group_size, int64_t chunks_per_bag, int64_t longest) {
  const LanePosition at = LanePosition::of(group_size, chunks_per_bag, bag.num_bags, kWidth);
  if (!at.valid || (bag.bag_count != nullptr && at.item >= *bag.bag_count)) return;
  const int64_t begin = bag.boundaries[at.item];
  const int64_t end = bag.boundaries[at.item + 1];
  if (end - begin > longest) return;
  const bool active = at.column < bag.table.dim;  // the last chunk may be partly past the row
  float* out = bag_out_row(bag, at.item) + at.column;
  BagAccumulator<kWidth> pool;
  if (bag.accumulate && active) pool.acc = RowVector<kWidth>::load_plain(out);
  pool_entries<IndexT, kWidth>(bag, at, group_size, active, begin, end, false, pool);
  if (!active) return;
  pool.result(bag.mode, bag.accumulate).store(out);
  if (bag.argmax != nullptr) pool.winners.store(bag.argmax + at.item * bag.table.dim + at.column);
}


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
  // Only a bag longer than a chunk takes the long-bag path, so it needs more indices than that.
  const int64_t chunk = long_bag_chunk(bag.indices.length, bag.table.dim);
  const bool may_be_long = bag.indices.length > chunk;
  void* scratch = nullptr;
  if (may_be_long) {
    const cudaError_t e = cudaMallocAsync(&scratch, long_bags_scratch_bytes(bag.indices.length, bag.table.dim,
                                                                           bag.argmax != nullptr), stream);
    if (e != cudaSuccess) return e;  // before anything is written
  }
  cudaError_t e = with_index_type(bag.indices.dtype, [&](auto index_tag) {
    using IndexT = decltype(index_tag);
    auto kernel = g.vector_width == 4 ? bag_kernel<IndexT, 4> : bag_kernel<IndexT, 1>;
    kernel<<<static_cast<unsigned>(g.blocks()), kBlockThreads, 0, stream>>>(
        bag, g.group_size, g.chunks_per_item, may_be_long ? chunk : INT64_MAX);
    return cudaGetLastError();
  });
  if (may_be_long) {
    if (e == cudaSuccess) e = launch_long_bags(bag, chunk, g.vector_width, scratch, stream);
    cudaFreeAsync(scratch, stream);
  }
  return e;
}

}  // namespace embedkit::cuda::gather
