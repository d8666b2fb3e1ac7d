// Per-position bags and scales, the max gradient's element scatter, and the per-sample
// weights' gradient.
#include "../common/index_dispatch.h"
#include "../common/lane_groups.cuh"
#include "../common/row_vector.cuh"
#include "backward.h"

namespace embedkit::cuda::scatter {
namespace {

// A group of `group` lanes per bag (about the mean bag length, at most a warp): the lanes
// count the bag's non-padding entries together (mean), then write its positions' bag and
// scale side by side, so the stores coalesce and a long bag is a loop of warp-wide steps,
// not one thread's. Every lane of a warp reaches the shuffles (no early return).
template <typename IndexT>
__global__ void bag_positions_kernel(const int64_t* boundaries, int64_t num_bags, const void* indices, int64_t padding,
                                     const float* weights, bool mean, int group, int64_t* bag_of, float* scale) {
  const int64_t thread = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const int64_t b = thread / group;
  const int lane = static_cast<int>(thread % group);
  const bool valid = b < num_bags;
  const int64_t begin = valid ? boundaries[b] : 0, end = valid ? boundaries[b + 1] : 0;
  int64_t count = 0;
  if (mean) {
    for (int64_t p = begin + lane; p < end; p += group) count += load_index<IndexT>(indices, p) != padding;
    for (int offset = group / 2; offset > 0; offset /= 2) count += __shfl_xor_sync(0xffffffffu, count, offset, group);
  }
  for (int64_t p = begin + lane; p < end; p += group) {
    bag_of[p] = b;
    if (scale == nullptr) continue;
    const float w = weights != nullptr ? weights[p] : 1.0f;
    scale[p] = mean ? w / static_cast<float>(count) : w;
  }
}

__global__ void max_entries_kernel(const int64_t* order, const uint64_t* rows, const int64_t* bounds,
                                   const int64_t* segments, int64_t max_segments, const float* grad, int64_t dim,
                                   float* out) {
  const int64_t s = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (s >= max_segments || s >= *segments) return;
  float* row = out + (rows != nullptr ? static_cast<int64_t>(rows[s]) : s) * dim;
  for (int64_t k = bounds[s]; k < bounds[s + 1]; ++k) {
    const int64_t e = order[k];
    row[e % dim] += grad[e];
  }
}

// Positions one lane group takes together: their table rows are loaded before any is
// summed, so each lane has that many independent loads in flight.
constexpr int kPositionsInFlight = 4;

// `group` consecutive lanes (a power of two dividing the warp) per kPositionsInFlight
// consecutive positions, each lane summing a strided slice of kWidth-float vectors of each
// row, then the group's sums reduced by shuffles. Every lane of a warp reaches the shuffles
// (no early return).
template <typename IndexT, int kWidth>
__global__ void weights_grad_kernel(const int64_t* bag_of, const float* scale, const void* indices, int64_t n,
                                    int64_t padding, const float* table, const float* grad, int64_t dim, int group,
                                    float* out) {
  const int64_t thread = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const int64_t first = thread / group * kPositionsInFlight;
  const int lane = static_cast<int>(thread % group);
  int64_t row[kPositionsInFlight];
  const float* grad_row[kPositionsInFlight];
  float sum[kPositionsInFlight];
#pragma unroll
  for (int u = 0; u < kPositionsInFlight; ++u) {
    const int64_t p = first + u;
    row[u] = p < n ? load_index<IndexT>(indices, p) : padding;
    grad_row[u] = p < n ? grad + bag_of[p] * dim : grad;
    sum[u] = 0.0f;
  }
  for (int64_t c = int64_t{lane} * kWidth; c < dim; c += int64_t{group} * kWidth) {
    RowVector<kWidth> t[kPositionsInFlight], g[kPositionsInFlight];
#pragma unroll
    for (int u = 0; u < kPositionsInFlight; ++u) {
      const bool use = row[u] != padding;
      t[u] = use ? RowVector<kWidth>::load(table + row[u] * dim + c) : RowVector<kWidth>::zero();
      g[u] = use ? RowVector<kWidth>::load(grad_row[u] + c) : RowVector<kWidth>::zero();
    }
#pragma unroll
    for (int u = 0; u < kPositionsInFlight; ++u) sum[u] = t[u].dot(g[u], sum[u]);
  }
#pragma unroll
  for (int u = 0; u < kPositionsInFlight; ++u) {
    for (int offset = group / 2; offset > 0; offset /= 2) sum[u] += __shfl_xor_sync(0xffffffffu, sum[u], offset, group);
    const int64_t p = first + u;
    if (p < n && lane == 0) out[p] = row[u] == padding ? 0.0f : (scale != nullptr ? sum[u] * scale[p] : sum[u]);
  }
}

template <typename IndexT>
__global__ void store_rows_kernel(const uint64_t* rows, int64_t count, IndexT* out) {
  const int64_t s = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (s < count) out[s] = static_cast<IndexT>(rows[s]);
}

}  // namespace

cudaError_t store_rows(const uint64_t* rows, int64_t count, Dtype dtype, void* out, cudaStream_t stream) {
  if (count == 0) return cudaSuccess;
  return with_index_type(dtype, [&](auto tag) {
    using IndexT = decltype(tag);
    store_rows_kernel<IndexT><<<blocks_for(count), kBlockThreads, 0, stream>>>(rows, count, static_cast<IndexT*>(out));
    return cudaGetLastError();
  });
}

cudaError_t bag_positions(const int64_t* boundaries, int64_t num_bags, const DeviceIndices& indices, int64_t padding_idx,
                          const float* weights, bool mean, int64_t* bag_of, float* scale, cudaStream_t stream) {
  if (num_bags == 0) return cudaSuccess;
  const int group = lanes_for(indices.length / num_bags);
  return with_index_type(indices.dtype, [&](auto tag) {
    bag_positions_kernel<decltype(tag)><<<blocks_for(num_bags * group), kBlockThreads, 0, stream>>>(
        boundaries, num_bags, indices.data, padding_idx, weights, mean, group, bag_of, scale);
    return cudaGetLastError();
  });
}

cudaError_t weights_grad(const int64_t* bag_of, const float* scale, const DeviceIndices& indices, int64_t padding_idx,
                         const float* table, const float* grad, int64_t dim, float* out, cudaStream_t stream) {
  const int64_t n = indices.length;
  if (n == 0) return cudaSuccess;
  // float4 slices where every row starts 16-byte aligned (dim a multiple of 4).
  const bool width4 = dim % 4 == 0 && aligned16(table) && aligned16(grad);
  const int group = lanes_for(width4 ? dim / 4 : dim);
  const int64_t groups = (n + kPositionsInFlight - 1) / kPositionsInFlight;
  return with_index_type(indices.dtype, [&](auto tag) {
    using IndexT = decltype(tag);
    auto kernel = width4 ? weights_grad_kernel<IndexT, 4> : weights_grad_kernel<IndexT, 1>;
    kernel<<<blocks_for(groups * group), kBlockThreads, 0, stream>>>(bag_of, scale, indices.data, n, padding_idx,
                                                                    table, grad, dim, group, out);
    return cudaGetLastError();
  });
}

cudaError_t scatter_max_entries(const int64_t* order, const uint64_t* rows, const int64_t* bounds,
                                const int64_t* segments, int64_t max_segments, const float* grad, int64_t dim,
                                float* out, cudaStream_t stream) {
  if (max_segments == 0) return cudaSuccess;
  max_entries_kernel<<<blocks_for(max_segments), kBlockThreads, 0, stream>>>(order, rows, bounds, segments,
                                                                             max_segments, grad, dim, out);
  return cudaGetLastError();
}

}  // namespace embedkit::cuda::scatter
