// The gather family on the GPU: the launch contract. The binding validates everything
// first (dtypes, lengths, index ranges, bag boundaries) and only then launches; kernels
// assume valid input. Every launch is queued on `stream` and returns at once; the return
// value reports launch errors only (a fault inside a kernel surfaces at the next
// synchronizing call).
#pragma once

#include <cstdint>

#include "../common/device_types.h"
#include "../common/table_rows.h"

namespace embedkit::cuda::gather {

// A row-major rows x dim table in device memory, in any table format.
struct DeviceTable {
  TableRows rows_of;  // how to read a row as float32
  int64_t rows = 0;
  int64_t dim = 0;
};

enum class PoolMode : int { Sum = 0, Mean = 1, Max = 2 };

// How a bag's boundaries are given (lib/gather.ts boundsArgs codes).
enum class BoundsKind : int { Offsets = 0, OffsetsWithEnd = 1, Lengths = 2 };

struct BagLaunch {
  DeviceTable table;
  DeviceIndices indices;
  // num_bags + 1 int64 boundaries in device memory, from normalize_bounds.
  const int64_t* boundaries = nullptr;
  int64_t num_bags = 0;
  PoolMode mode = PoolMode::Sum;
  const float* weights = nullptr;  // one per index, or null
  int64_t padding_idx = -1;        // a row id in [0, rows) to skip, or -1
  float* out = nullptr;            // num_bags x dim, or see out_rows
  // The scatter family pools its destination rows through this kernel (cuda/scatter):
  // bag b's result goes to row out_rows[b] of out when set, and with `accumulate` (Sum)
  // starts from that row's value, so the row becomes out + c0 + c1 + ... in index order.
  const uint64_t* out_rows = nullptr;
  bool accumulate = false;
  // When set, only the first *bag_count of num_bags bags exist (a count a kernel computed,
  // left on the device instead of being read back).
  const int64_t* bag_count = nullptr;
  // Max only: num_bags x dim row ids, the first index holding each element's maximum (the
  // CPU's returnArgmax; -1 for empty and padding-only bags). Null: not wanted.
  int32_t* argmax = nullptr;
};

// out[i] = table[indices[i]], i in [0, indices.length).
cudaError_t launch_gather(const DeviceTable& table, const DeviceIndices& indices, float* out,
                          cudaStream_t stream);

// Writes num_bags + 1 int64 boundaries into `boundaries` from offsets (with or without the
// closing entry) or lengths (an inclusive scan). `scratch` must hold at least
// normalize_bounds_scratch_bytes(num_bags) bytes.
size_t normalize_bounds_scratch_bytes(int64_t num_bags);
cudaError_t normalize_bounds(const DeviceIndices& bounds, BoundsKind kind, int64_t num_bags,
                             int64_t num_indices, int64_t* boundaries, void* scratch,
                             cudaStream_t stream);

// Pools each bag (sum / mean / max, weights, padding) into out, in index order per column:
// deterministic, no atomics. Empty and padding-only bags give zeros. With weights, Sum and
// Mean fuse weight x row into the sum (fma) and Max takes the max of weight x row. Bags
// longer than long_bag_chunk entries are pooled in chunks (long_bags.h): still
// deterministic, a max still exact; a sum then rounds as a sum of chunk sums. Allocates
// its scratch on the stream (an allocation failure returns before anything is written).
cudaError_t launch_embedding_bag(const BagLaunch& bag, cudaStream_t stream);

}  // namespace embedkit::cuda::gather
