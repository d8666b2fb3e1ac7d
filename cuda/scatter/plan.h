// The scatter family on the GPU: a plan is the transposed index pattern, built by a stable
// radix sort of (index, position) pairs and a run-length encoding: for each distinct
// destination row, ascending, the positions that feed it in position order (the CPU plan,
// csrc/kernels/scatter/scatter.h). Applying it is the gather family's bag kernel with
// out_rows and accumulate: no atomics, every row summed in index order, the CPU's bits.
#pragma once

#include <cstdint>

#include "../common/device_types.h"

namespace embedkit::cuda::scatter {

// Device arrays of a plan over n positions. Only the first *segments entries of rows and
// segments + 1 of bounds are meaningful; the count stays on the device.
struct DevicePlan {
  int64_t* order = nullptr;     // n positions sorted by (row, position)
  uint64_t* rows = nullptr;     // n: the distinct rows, ascending
  int64_t* bounds = nullptr;    // n + 1: segment s is order[bounds[s] .. bounds[s + 1])
  int64_t* segments = nullptr;  // 1: the number of distinct rows
  int64_t length = 0;           // n
};

// Bytes of scratch build_plan needs for n positions (n < 2^31).
size_t plan_scratch_bytes(int64_t n);

// Builds the plan of `indices` (values in [0, num_rows), checked by the caller); positions
// holding `skip` (a padding row, or -1 in an argmax; kNoSkip: none) are left out.
constexpr int64_t kNoSkip = INT64_MIN;
cudaError_t build_plan(const DeviceIndices& indices, int64_t num_rows, const DevicePlan& plan,
                       void* scratch, size_t scratch_bytes, cudaStream_t stream, int64_t skip = kNoSkip);

// out[k] = values[order[k]] (weights in plan order, times alpha: the CPU's alpha * w_i rounded
// to float; alpha alone when values is null).
cudaError_t gather_scaled(const float* values, float alpha, const int64_t* order, int64_t n, float* out,
                          cudaStream_t stream);

// entry_row[e] = the CSR row holding entry e (rowPtr: num_rows + 1 int64 boundaries).
cudaError_t csr_entry_rows(const int64_t* row_ptr, int64_t num_rows, int64_t* entry_row, cudaStream_t stream);

// out[k] = values[order[k]] for int64 values (the transposed matrix's row ids).
cudaError_t gather_positions(const int64_t* values, const int64_t* order, int64_t n, int64_t* out,
                             cudaStream_t stream);

}  // namespace embedkit::cuda::scatter
