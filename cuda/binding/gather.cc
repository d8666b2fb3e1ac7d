// cuda.gather and cuda.embeddingBag: every argument is checked on the host (index ranges
// and bag boundaries from the arrays' host-side summaries) before anything is queued, so a
// rejected call launches nothing and writes nothing.
#include <string>

#include "../gather/gather.h"
#include "args.h"
#include "ops.h"
#include "temp.h"

namespace embedkit::cuda::binding {
namespace {

using gather::BagLaunch;
using gather::BoundsKind;
using gather::DeviceTable;
using gather::PoolMode;

// A table: its data, in any format, with q8 / q4's per-row scales and biases.
struct TableArg {
  DeviceTable table;
  DeviceBuffer* data = nullptr;
  DeviceBuffer* scales = nullptr;
  DeviceBuffer* biases = nullptr;
};

// args from `first`: table, dim, ... and, at format_at: format (absent: f32), scales, biases.
TableArg table_arg(Napi::Env env, const Napi::CallbackInfo& info, int table_at, int format_at) {
  TableArg t;
  const auto format = is_absent(info[format_at])
                          ? TableFormat::F32
                          : static_cast<TableFormat>(get_integer(env, info[format_at], "table.format", 0, 4));
  static constexpr const char* kFormatNames[] = {"f32", "f16", "bf16", "q8", "q4"};
  static constexpr Dtype kDtypes[] = {Dtype::Float32, Dtype::Uint16, Dtype::Uint16, Dtype::Uint8, Dtype::Uint8};
  static constexpr const char* kDtypeNames[] = {"float32", "uint16", "uint16", "uint8", "uint8"};
  const int f = static_cast<int>(format);
  t.data = &unwrap_buffer(env, info[table_at], format == TableFormat::F32 ? "table" : "table.data");
  if (t.data->dtype != kDtypes[f]) {
    throw_type_error(env, std::string(format == TableFormat::F32 ? "table" : "table.data") + " must be a " +
                              kDtypeNames[f] + " DeviceArray for format '" + kFormatNames[f] + "'");
  }
  const int64_t dim = get_integer(env, info[table_at + 1], "dim", 1, kMaxSafeInteger);
  const int64_t stride = TableRows::stride_of(format, dim);
  if (t.data->length % stride != 0) {
    throw_range_error(env, std::string(format == TableFormat::F32 ? "table" : "table.data") + ".length " +
                               std::to_string(t.data->length) + " is not a multiple of " +
                               (format == TableFormat::Q4 ? "ceil(dim / 2) " : "dim ") + std::to_string(stride));
  }
  const int64_t rows = t.data->length / stride;
  t.table.rows = rows;
  t.table.dim = dim;
  t.table.rows_of = TableRows{t.data->data, format, dim, stride, nullptr, nullptr};
  const bool quantized = format == TableFormat::Q8 || format == TableFormat::Q4;
  if (quantized) {
    t.scales = &float32_arg(env, info[format_at + 1], "table.scales");
    t.biases = &float32_arg(env, info[format_at + 2], "table.biases");
    for (const DeviceBuffer* b : {t.scales, t.biases}) {
      if (b->length != rows) {
        throw_range_error(env, std::string(b == t.scales ? "table.scales" : "table.biases") + ".length must be rows " +
                                   std::to_string(rows) + ", got " + std::to_string(b->length));
      }
      require_same_device(env, *t.data, *b, b == t.scales ? "table.scales" : "table.biases");
    }
    t.table.rows_of.scales = static_cast<const float*>(t.scales->data);
    t.table.rows_of.biases = static_cast<const float*>(t.biases->data);
  } else if (!is_absent(info[format_at + 1]) || !is_absent(info[format_at + 2])) {
    throw_type_error(env, std::string("scales and biases belong to formats q8 and q4, not '") + kFormatNames[f] + "'");
  }
  return t;
}

// out must not be any of the table's arrays.
void require_distinct_from_table(Napi::Env env, const DeviceBuffer& out, const TableArg& t) {
  require_distinct(env, out, *t.data, "table");
  if (t.scales != nullptr) require_distinct(env, out, *t.scales, "table.scales");
  if (t.biases != nullptr) require_distinct(env, out, *t.biases, "table.biases");
}

DeviceIndices device_indices(const DeviceBuffer& b) { return DeviceIndices{b.data, b.dtype, b.length}; }

}  // namespace

// gather(table, dim, indices, out, format?, scales?, biases?)
Napi::Value Gather(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const TableArg t = table_arg(env, info, 0, 4);
  const DeviceTable& table = t.table;
  DeviceBuffer& table_buf = *t.data;
  DeviceBuffer& indices = index_arg(env, info[2], "indices");
  check_index_range(env, indices, "indices", table.rows);
  DeviceBuffer& out = float32_arg(env, info[3], "out");
  const int64_t n = indices.length;
  if (n != 0 && table.dim > kMaxSafeInteger / n) throw_range_error(env, "indices.length x dim overflows");
  require_length(env, out, n * table.dim,
                 "indices.length " + std::to_string(n) + " x dim " + std::to_string(table.dim));
  require_same_device(env, table_buf, indices, "indices");
  require_same_device(env, table_buf, out, "out");
  require_distinct_from_table(env, out, t);
  use_device(env, out.device);
  check_cuda(env, gather::launch_gather(table, device_indices(indices), static_cast<float*>(out.data),
                                        stream_for(env, out.device)),
             "cuda.gather launch");
  return info[3];
}

// embeddingBag(table, dim, indices, bounds, boundsKind, mode, weights?, paddingIdx?, out,
//              format?, scales?, biases?, argmaxOut?)
Napi::Value EmbeddingBag(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const TableArg t = table_arg(env, info, 0, 9);
  DeviceBuffer& table_buf = *t.data;
  BagLaunch bag;
  bag.table = t.table;
  DeviceBuffer& indices = index_arg(env, info[2], "indices");
  bag.indices = device_indices(indices);
  const auto kind = static_cast<BoundsKind>(get_integer(env, info[4], "boundsKind", 0, 2));
  DeviceBuffer& bounds = index_arg(env, info[3], kind == BoundsKind::Lengths ? "lengths" : "offsets");
  bag.mode = static_cast<PoolMode>(get_integer(env, info[5], "mode", 0, 2));
  const int64_t n = indices.length;
  const int64_t rows = bag.table.rows;
  const int64_t dim = bag.table.dim;
  bag.num_bags = check_bounds(env, bounds, static_cast<int>(kind), n);
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
  bag.padding_idx = get_padding_row(env, info[7], rows);
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
  require_distinct_from_table(env, out, t);
  if (weights != nullptr) require_distinct(env, out, *weights, "weights");
  bag.out = static_cast<float*>(out.data);
  DeviceBuffer* argmax = nullptr;
  if (!is_absent(info[12])) {
    if (bag.mode != PoolMode::Max) throw_type_error(env, "returnArgmax needs mode 'max'");
    if (rows > INT32_MAX) throw_range_error(env, "returnArgmax needs a table of at most 2147483647 rows (int32 ids)");
    argmax = &unwrap_buffer(env, info[12], "argmaxOut");
    if (argmax->dtype != Dtype::Int32) throw_type_error(env, "argmaxOut must be an int32 DeviceArray");
    if (argmax->length != out.length) {
      throw_range_error(env, "argmaxOut.length must be " + std::to_string(out.length) + " (" +
                                 std::to_string(bag.num_bags) + " bags x dim " + std::to_string(dim) + "), got " +
                                 std::to_string(argmax->length));
    }
    require_same_device(env, table_buf, *argmax, "argmaxOut");
    require_distinct(env, *argmax, indices, "indices");
    require_distinct(env, *argmax, bounds, "offsets");
    bag.argmax = static_cast<int32_t*>(argmax->data);
  }

  // Temporary boundaries and scan scratch, freed in stream order once the bag kernel has run.
  const int device = out.device;
  use_device(env, device);
  cudaStream_t stream = stream_for(env, device);
  const size_t boundary_bytes = aligned(static_cast<size_t>(bag.num_bags + 1) * sizeof(int64_t));
  const size_t scratch_bytes = kind == BoundsKind::Lengths ? gather::normalize_bounds_scratch_bytes(bag.num_bags) : 0;
  Temp temp(env, device, boundary_bytes + scratch_bytes, "cuda.embeddingBag");
  auto* boundaries = temp.at<int64_t>(0);
  void* scratch = temp.at<void>(boundary_bytes);
  bag.boundaries = boundaries;
  cudaError_t e = gather::normalize_bounds(device_indices(bounds), kind, bag.num_bags, n, boundaries, scratch, stream);
  if (e == cudaSuccess) e = gather::launch_embedding_bag(bag, stream);
  // Each id is -1 (an empty or padding-only bag) or one of the indices: enough for
  // cuda.embeddingBagBackward to check it against numRows.
  if (argmax != nullptr) bound_values(*argmax, -1, n > 0 ? indices.summary.max : -1);
  check_cuda(env, e, "cuda.embeddingBag launch");
  return info[8];
}

}  // namespace embedkit::cuda::binding
