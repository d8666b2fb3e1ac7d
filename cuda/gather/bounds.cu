// Bag boundaries in one form for the bag kernel: num_bags + 1 int64 entries. Offsets are
// widened (and closed with indices.length unless they carry the end); lengths are widened
// and summed by an inclusive scan. The binding has already checked them against the
// host-side summary of the array (monotone, in range, adding up to indices.length).
#include <cub/device/device_scan.cuh>

#include "../common/index_dispatch.h"
#include "../common/lane_groups.cuh"
#include "gather.h"

namespace embedkit::cuda::gather {
namespace {

template <typename IndexT>
__global__ void offsets_to_boundaries(const void* offsets, int64_t num_bags, int64_t num_indices,
                                      bool has_end, int64_t* boundaries) {
  const int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i < num_bags) boundaries[i] = load_index<IndexT>(offsets, i);
  if (i == num_bags) boundaries[i] = has_end ? load_index<IndexT>(offsets, i) : num_indices;
}

// boundaries[0] = 0, boundaries[i + 1] = lengths[i]; the scan then turns them into ends.
template <typename IndexT>
__global__ void lengths_to_boundaries(const void* lengths, int64_t num_bags, int64_t* boundaries) {
  const int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i < num_bags) boundaries[i + 1] = load_index<IndexT>(lengths, i);
  if (i == 0) boundaries[0] = 0;
}


}  // namespace

size_t normalize_bounds_scratch_bytes(int64_t num_bags) {
  size_t bytes = 0;
  int64_t* none = nullptr;
  cub::DeviceScan::InclusiveSum(nullptr, bytes, none, none, static_cast<int>(num_bags));
  return bytes;
}

cudaError_t normalize_bounds(const DeviceIndices& bounds, BoundsKind kind, int64_t num_bags,
                             int64_t num_indices, int64_t* boundaries, void* scratch,
                             cudaStream_t stream) {
  auto launch = [&](auto index_tag) -> cudaError_t {
    using IndexT = decltype(index_tag);
    if (kind == BoundsKind::Lengths) {
      lengths_to_boundaries<IndexT><<<blocks_for(num_bags + 1), kBlockThreads, 0, stream>>>(
          bounds.data, num_bags, boundaries);
      cudaError_t e = cudaGetLastError();
      if (e != cudaSuccess || num_bags == 0) return e;
      size_t bytes = normalize_bounds_scratch_bytes(num_bags);
      return cub::DeviceScan::InclusiveSum(scratch, bytes, boundaries + 1, boundaries + 1,
                                           static_cast<int>(num_bags), stream);
    }
    offsets_to_boundaries<IndexT><<<blocks_for(num_bags + 1), kBlockThreads, 0, stream>>>(
        bounds.data, num_bags, num_indices, kind == BoundsKind::OffsetsWithEnd, boundaries);
    return cudaGetLastError();
  };
  return with_index_type(bounds.dtype, launch);
}

}  // namespace embedkit::cuda::gather
