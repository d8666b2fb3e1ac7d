// Per-position bags and scales, the max gradient's element scatter, and the per-sample
// weights' gradient.
#include "../common/index_dispatch.h"
#include "../common/lane_groups.cuh"
#include "backward.h"

namespace embedkit::cuda::scatter {
namespace {

// One thread per bag (bags are short next to the rest of the pass).
template <typename IndexT>
__global__ void bag_positions_kernel(const int64_t* boundaries, int64_t num_bags, const void* indices, int64_t padding,
                                     const float* weights, bool mean, int64_t* bag_of, float* scale) {
  const int64_t b = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (b >= num_bags) return;
  const int64_t begin = boundaries[b], end = boundaries[b + 1];
  int64_t count = 0;
  if (mean) {
    for (int64_t p = begin; p < end; ++p) count += load_index<IndexT>(indices, p) != padding;
  }
  for (int64_t p = begin; p < end; ++p) {
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

// `group` consecutive lanes (a power of two dividing the warp) per position, each summing a
// strided slice of the row; every lane of a warp reaches the shuffles (no early return).
template <typename IndexT>
__global__ void weights_grad_kernel(const int64_t* bag_of, const float* scale, const void* indices, int64_t n,
                                    int64_t padding, const float* table, const float* grad, int64_t dim, int group,
                                    float* out) {
  const int64_t thread = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  const int64_t p = thread / group;
  const int lane = static_cast<int>(thread % group);
  const bool valid = p < n;
  const int64_t row = valid ? load_index<IndexT>(indices, p) : padding;
  float sum = 0.0f;
  if (valid && row != padding) {
    const float* t = table + row * dim;
    const float* g = grad + bag_of[p] * dim;
    for (int64_t c = lane; c < dim; c += group) sum = fmaf(__ldg(g + c), __ldg(t + c), sum);
  }
  for (int offset = group / 2; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset, group);
  if (valid && lane == 0) out[p] = row == padding ? 0.0f : (scale != nullptr ? sum * scale[p] : sum);
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
  return with_index_type(indices.dtype, [&](auto tag) {
    bag_positions_kernel<decltype(tag)><<<blocks_for(num_bags), kBlockThreads, 0, stream>>>(
        boundaries, num_bags, indices.data, padding_idx, weights, mean, bag_of, scale);
    return cudaGetLastError();
  });
}

cudaError_t weights_grad(const int64_t* bag_of, const float* scale, const DeviceIndices& indices, int64_t padding_idx,
                         const float* table, const float* grad, int64_t dim, float* out, cudaStream_t stream) {
  const int64_t n = indices.length;
  if (n == 0) return cudaSuccess;
  int group = 1;
  while (group < kWarpSize && group < dim) group *= 2;
  return with_index_type(indices.dtype, [&](auto tag) {
    weights_grad_kernel<decltype(tag)><<<blocks_for(n * group), kBlockThreads, 0, stream>>>(
        bag_of, scale, indices.data, n, padding_idx, table, grad, dim, group, out);
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
