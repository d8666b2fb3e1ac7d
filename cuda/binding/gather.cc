// cuda.gather and cuda.embeddingBag: every argument is checked on the host (index ranges
// and bag boundaries from the arrays' host-side summaries) before anything is queued, so a
// rejected call launches nothing and writes nothing.
#include <string>

#include "../gather/gather.h"
#include "args.h"
#include "ops.h"

namespace embedkit::cuda::binding {
namespace {

using gather::BagLaunch;
using gather::BoundsKind;
using gather::DeviceTable;
using gather::PoolMode;

DeviceTable table_arg(Napi::Env env, const DeviceBuffer& table, const Napi::Value& dim_arg) {
  const int64_t dim = get_integer(env, dim_arg, "dim", 1, kMaxSafeInteger);
  if (table.length % dim != 0) {
    throw_range_error(env, "table.length " + std::to_string(table.length) + " is not a multiple of dim " +
                               std::to_string(dim));
  }
  return DeviceTable{static_cast<const float*>(table.data), table.length / dim, dim};
}

DeviceIndices device_indices(const DeviceBuffer& b) { return DeviceIndices{b.data, b.dtype, b.length}; }

// The number of bags the boundaries describe, after checking them as the CPU does.
int64_t check_bounds(Napi::Env env, const DeviceBuffer& bounds, BoundsKind kind, int64_t n) {
  const IndexSummary& s = bounds.summary;
  const int64_t len = bounds.length;
  auto at = [&](const char* name, int64_t i) { return std::string(name) + "[" + std::to_string(i) + "]"; };
  if (kind == BoundsKind::Lengths) {
    if (len > 0 && s.min < 0) {
      throw_range_error(env, at("lengths", s.min_at) + " = " + std::to_string(s.min) +
                                 ": a bag length cannot be negative (bag " + std::to_string(s.min_at) + ")");
    }
    if (s.sum_overflows || s.sum != n) {
      throw_range_error(env, "lengths must add up to indices.length " + std::to_string(n) +
                                 (s.sum_overflows ? std::string(", their sum overflows")
                                                  : ", got " + std::to_string(s.sum)));
    }
    return len;
  }
  const bool with_end = kind == BoundsKind::OffsetsWithEnd;
  if (with_end && len == 0) throw_range_error(env, "offsets must have at least one entry with includeLastOffset");
  if (len > 0 && s.first != 0) {
    throw_range_error(env, at("offsets", 0) + " = " + std::to_string(s.first) + ": the first bag must start at 0");
  }
  if (s.decrease_at >= 0) {
    throw_range_error(env, at("offsets", s.decrease_at) + " is less than " + at("offsets", s.decrease_at - 1) +
                               ": offsets must not decrease (bag " + std::to_string(s.decrease_at) + ")");
  }
  if (len > 0 && s.max > n) {
    throw_range_error(env, at("offsets", s.max_at) + " = " + std::to_string(s.max) +
                               " is past the end of indices (length " + std::to_string(n) + ")");
  }
  if (with_end && s.last != n) {
    throw_range_error(env, at("offsets", len - 1) + " = " + std::to_string(s.last) + " must equal indices.length " +
                               std::to_string(n) + " with includeLastOffset");
  }
  return with_end ? len - 1 : len;
}

}  // namespace

// gather(table, dim, indices, out)
Napi::Value Gather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& table_buf = float32_arg(env, info[0], "table");
  const DeviceTable table = table_arg(env, table_buf, info[1]);
  DeviceBuffer& indices = index_arg(env, info[2], "indices");
  check_index_range(env, indices, "indices", table.rows);
  DeviceBuffer& out = float32_arg(env, info[3], "out");
  const int64_t n = indices.length;
  if (n != 0 && table.dim > kMaxSafeInteger / n) throw_range_error(env, "indices.length x dim overflows");
  require_length(env, out, n * table.dim,
                 "indices.length " + std::to_string(n) + " x dim " + std::to_string(table.dim));
  require_same_device(env, table_buf, indices, "indices");
  require_same_device(env, table_buf, out, "out");
  require_distinct(env, out, table_buf, "table");
  use_device(env, out.device);
  check_cuda(env, gather::launch_gather(table, device_indices(indices), static_cast<float*>(out.data),
                                        stream_for(env, out.device)),
             "cuda.gather launch");
  return info[3];
}

// embeddingBag(table, dim, indices, bounds, boundsKind, mode, weights?, paddingIdx?, out)
Napi::Value EmbeddingBag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& table_buf = float32_arg(env, info[0], "table");
  BagLaunch bag;
  bag.table = table_arg(env, table_buf, info[1]);
  DeviceBuffer& indices = index_arg(env, info[2], "indices");
  bag.indices = device_indices(indices);
  const auto kind = static_cast<BoundsKind>(get_integer(env, info[4], "boundsKind", 0, 2));
  DeviceBuffer& bounds = index_arg(env, info[3], kind == BoundsKind::Lengths ? "lengths" : "offsets");
  bag.mode = static_cast<PoolMode>(get_integer(env, info[5], "mode", 0, 2));
  const int64_t n = indices.length;
  const int64_t rows = bag.table.rows;
  const int64_t dim = bag.table.dim;
  bag.num_bags = check_bounds(env, bounds, kind, n);
  if (bag.num_bags > INT32_MAX) throw_range_error(env, "cuda.embeddingBag takes at most 2147483647 bags");

  DeviceBuffer* weights = nullptr;
  if (!is_absent(info[6])) {
    weights = &float32_arg(env, info[6], "weights");
    if (bag.mode == PoolMode::Max) throw_type_error(env, "weights are supported with mode 'sum' and 'mean', not 'max'");
    if (weights->length != n) {
      throw_range_error(env, "weights.length must equal indices.length " + std::to_string(n) + ", got " +
                                 std::to_string(weights->length));
    }
    bag.weights = static_cast<const float*>(weights->data);
  }
  bag.padding_idx = -1;
  if (!is_absent(info[7])) {
    if (rows == 0) throw_range_error(env, "paddingIdx cannot be used with an empty table");
    const int64_t p = get_integer(env, info[7], "paddingIdx", -rows, rows - 1);
    bag.padding_idx = p < 0 ? p + rows : p;  // negative counts from the end, as in PyTorch
  }
  check_index_range(env, indices, "indices", rows);

  DeviceBuffer& out = float32_arg(env, info[8], "out");
  if (bag.num_bags != 0 && dim > kMaxSafeInteger / bag.num_bags) throw_range_error(env, "bags x dim overflows");
  require_length(env, out, bag.num_bags * dim, std::to_string(bag.num_bags) + " bags x dim " + std::to_string(dim));
  for (const auto& [buffer, name] : {std::pair<const DeviceBuffer*, const char*>{&indices, "indices"},
                                     {&bounds, kind == BoundsKind::Lengths ? "lengths" : "offsets"},
                                     {&out, "out"}}) {
    require_same_device(env, table_buf, *buffer, name);
  }
  if (weights != nullptr) require_same_device(env, table_buf, *weights, "weights");
  require_distinct(env, out, table_buf, "table");
  if (weights != nullptr) require_distinct(env, out, *weights, "weights");
  bag.out = static_cast<float*>(out.data);

  // Temporary boundaries and scan scratch, freed in stream order once the bag kernel has run.
  const int device = out.device;
  use_device(env, device);
  cudaStream_t stream = stream_for(env, device);
  const size_t boundary_bytes = static_cast<size_t>(bag.num_bags + 1) * sizeof(int64_t);
  const size_t scratch_bytes = kind == BoundsKind::Lengths ? gather::normalize_bounds_scratch_bytes(bag.num_bags) : 0;
  void* temp = nullptr;
  constexpr size_t kScratchAlign = 256;  // what CUB's temporary storage expects
  const size_t scratch_offset = (boundary_bytes + kScratchAlign - 1) / kScratchAlign * kScratchAlign;
  const cudaError_t alloc = cudaMallocAsync(&temp, scratch_offset + scratch_bytes, stream);
  if (alloc != cudaSuccess) {
    cudaGetLastError();
    throw_range_error(env, "cuda.embeddingBag cannot allocate its " + std::to_string(boundary_bytes) +
                               "-byte bag boundaries: " + error_text(alloc));
  }
  auto* boundaries = static_cast<int64_t*>(temp);
  void* scratch = static_cast<char*>(temp) + scratch_offset;
  bag.boundaries = boundaries;
  cudaError_t e = gather::normalize_bounds(device_indices(bounds), kind, bag.num_bags, n, boundaries, scratch, stream);
  if (e == cudaSuccess) e = gather::launch_embedding_bag(bag, stream);
  cudaFreeAsync(temp, stream);
  check_cuda(env, e, "cuda.embeddingBag launch");
  return info[8];
}

}  // namespace embedkit::cuda::binding
