// Plan building with CUB: keys (the indices, widened) and positions are sorted by a stable
// LSD radix sort over just the bits the row count needs, equal rows are run-length encoded,
// and an exclusive scan of the run lengths gives the segment bounds.
#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_run_length_encode.cuh>
#include <cub/device/device_scan.cuh>

#include <algorithm>

#include "../common/index_dispatch.h"
#include "../common/lane_groups.cuh"
#include "../common/scratch.h"
#include "plan.h"

namespace embedkit::cuda::scatter {
namespace {


// A skipped position gets the key num_rows: it sorts after every row, and its run is then
// dropped from the segment count (drop_skipped_run).
template <typename IndexT>
__global__ void keys_and_positions(const void* indices, int64_t n, int64_t skip, int64_t num_rows, uint64_t* keys,
                                   int64_t* positions) {
  const int64_t i = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (i >= n) return;
  const int64_t key = load_index<IndexT>(indices, i);
  keys[i] = static_cast<uint64_t>(key == skip ? num_rows : key);
  positions[i] = i;
}

__global__ void drop_skipped_run(const uint64_t* rows, int64_t* segments, int64_t num_rows) {
  const int64_t s = *segments;
  if (s > 0 && rows[s - 1] == static_cast<uint64_t>(num_rows)) *segments = s - 1;
}

// The scratch layout: keys, positions, sorted keys, run lengths (n + 1), then CUB's storage.
struct Scratch {
  uint64_t* keys;
  int64_t* positions;
  uint64_t* sorted_keys;
  int64_t* run_lengths;
  void* cub;
  size_t cub_bytes;
};

size_t cub_bytes(int64_t n) {
  const int items = static_cast<int>(n);
  size_t sort = 0, rle = 0, scan = 0;
  uint64_t* k = nullptr;
  int64_t* v = nullptr;
  cub::DeviceRadixSort::SortPairs(nullptr, sort, k, k, v, v, items);
  cub::DeviceRunLengthEncode::Encode(nullptr, rle, k, k, v, v, items);
  cub::DeviceScan::ExclusiveSum(nullptr, scan, v, v, items + 1);
  return std::max({sort, rle, scan});
}

Scratch carve(void* base, int64_t n) {
  char* p = static_cast<char*>(base);
  Scratch s;
  s.keys = reinterpret_cast<uint64_t*>(p);
  p += aligned(n * sizeof(uint64_t));
  s.positions = reinterpret_cast<int64_t*>(p);
  p += aligned(n * sizeof(int64_t));
  s.sorted_keys = reinterpret_cast<uint64_t*>(p);
  p += aligned(n * sizeof(uint64_t));
  s.run_lengths = reinterpret_cast<int64_t*>(p);
  p += aligned((n + 1) * sizeof(int64_t));
  s.cub = p;
  s.cub_bytes = cub_bytes(n);
  return s;
}

__global__ void scaled_kernel(const float* values, float alpha, const int64_t* order, int64_t n, float* out) {
  const int64_t k = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (k < n) out[k] = values != nullptr ? alpha * values[order[k]] : alpha;
}

__global__ void positions_kernel(const int64_t* values, const int64_t* order, int64_t n, int64_t* out) {
  const int64_t k = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (k < n) out[k] = values[order[k]];
}

__global__ void entry_rows_kernel(const int64_t* row_ptr, int64_t num_rows, int64_t* entry_row) {
  const int64_t r = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (r >= num_rows) return;
  for (int64_t e = row_ptr[r]; e < row_ptr[r + 1]; ++e) entry_row[e] = r;
}

}  // namespace

size_t plan_scratch_bytes(int64_t n) {
  return 3 * aligned(n * sizeof(uint64_t)) + aligned((n + 1) * sizeof(int64_t)) + cub_bytes(n);
}

cudaError_t build_plan(const DeviceIndices& indices, int64_t num_rows, const DevicePlan& plan, void* scratch,
                       size_t scratch_bytes, cudaStream_t stream, int64_t skip) {
  const int64_t n = indices.length;
  cudaError_t e = cudaMemsetAsync(plan.segments, 0, sizeof(int64_t), stream);
  if (e != cudaSuccess) return e;
  if (n == 0) return cudaMemsetAsync(plan.bounds, 0, sizeof(int64_t), stream);
  const Scratch s = carve(scratch, n);
  e = with_index_type(indices.dtype, [&](auto tag) {
    keys_and_positions<decltype(tag)><<<blocks_for(n), kBlockThreads, 0, stream>>>(indices.data, n, skip, num_rows,
                                                                                  s.keys, s.positions);
    return cudaGetLastError();
  });
  if (e != cudaSuccess) return e;
  // Keys go up to num_rows (the skipped positions' key).
  int end_bit = 1;
  while (end_bit < 64 && (uint64_t{1} << end_bit) <= static_cast<uint64_t>(num_rows)) ++end_bit;
  const int items = static_cast<int>(n);
  size_t bytes = s.cub_bytes;
  // Stable: equal rows keep their positions' order, the order the CPU sums them in.
  e = cub::DeviceRadixSort::SortPairs(s.cub, bytes, s.keys, s.sorted_keys, s.positions, plan.order, items, 0,
                                      end_bit, stream);
  if (e != cudaSuccess) return e;
  e = cudaMemsetAsync(s.run_lengths, 0, (n + 1) * sizeof(int64_t), stream);
  if (e != cudaSuccess) return e;
  bytes = s.cub_bytes;
  e = cub::DeviceRunLengthEncode::Encode(s.cub, bytes, s.sorted_keys, plan.rows, s.run_lengths, plan.segments,
                                         items, stream);
  if (e != cudaSuccess) return e;
  bytes = s.cub_bytes;
  // Run lengths past the last run are zero, so every bound past it is n.
  e = cub::DeviceScan::ExclusiveSum(s.cub, bytes, s.run_lengths, plan.bounds, items + 1, stream);
  if (e != cudaSuccess || skip == kNoSkip) return e;
  drop_skipped_run<<<1, 1, 0, stream>>>(plan.rows, plan.segments, num_rows);
  return cudaGetLastError();
}

cudaError_t gather_scaled(const float* values, float alpha, const int64_t* order, int64_t n, float* out,
                          cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  scaled_kernel<<<blocks_for(n), kBlockThreads, 0, stream>>>(values, alpha, order, n, out);
  return cudaGetLastError();
}

cudaError_t csr_entry_rows(const int64_t* row_ptr, int64_t num_rows, int64_t* entry_row, cudaStream_t stream) {
  if (num_rows == 0) return cudaSuccess;
  entry_rows_kernel<<<blocks_for(num_rows), kBlockThreads, 0, stream>>>(row_ptr, num_rows, entry_row);
  return cudaGetLastError();
}

cudaError_t gather_positions(const int64_t* values, const int64_t* order, int64_t n, int64_t* out,
                             cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  positions_kernel<<<blocks_for(n), kBlockThreads, 0, stream>>>(values, order, n, out);
  return cudaGetLastError();
}

}  // namespace embedkit::cuda::scatter
