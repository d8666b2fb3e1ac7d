// cuda.scatterPlan, cuda.scatterAdd and cuda.spmm: checked on the host (index ranges and CSR
// structure from the arrays' host-side summaries) before anything is queued, then run as
// the CPU runs them: a scatter is the bag kernel over a plan (cuda/scatter/plan.h) with
// out_rows and accumulate; a CSR row is a bag of its columns weighted by its values; aᵀ·b
// is the bag kernel over the plan of colIdx. No atomics: results are the CPU's bits.
#include <cmath>
#include <string>
#include <vector>

#include "../gather/gather.h"
#include "../scatter/backward.h"
#include "../scatter/plan.h"
#include "args.h"
#include "temp.h"
#include "ops.h"

namespace embedkit::cuda::binding {
namespace {

using gather::BagLaunch;
using gather::BoundsKind;
using gather::PoolMode;
using scatter::DevicePlan;

std::string num(int64_t v) { return std::to_string(v); }


// A plan's arrays in one allocation: order, rows, bounds, segments.
size_t plan_bytes(int64_t n) {
  return aligned(n * 8) * 2 + aligned((n + 1) * 8) + aligned(8);
}
DevicePlan plan_at(const Temp& t, size_t offset, int64_t n) {
  DevicePlan p;
  p.length = n;
  p.order = t.at<int64_t>(offset);
  p.rows = t.at<uint64_t>(offset + aligned(n * 8));
  p.bounds = t.at<int64_t>(offset + 2 * aligned(n * 8));
  p.segments = t.at<int64_t>(offset + 2 * aligned(n * 8) + aligned((n + 1) * 8));
  return p;
}

// The bag kernel over a plan: segment s of src rows (positions order[...]) pooled into row
// rows[s] of out, starting from its value when `accumulate`.
BagLaunch plan_bags(const DevicePlan& p, const float* src, int64_t src_rows, int64_t dim, const float* weights,
                    float* out, bool accumulate, PoolMode mode) {
  BagLaunch bag;
  bag.table.rows_of = TableRows{src, TableFormat::F32, dim, dim, nullptr, nullptr};
  bag.table.rows = src_rows;
  bag.table.dim = dim;
  bag.indices = DeviceIndices{p.order, Dtype::Int64, p.length};
  bag.boundaries = p.bounds;
  bag.num_bags = p.length;
  bag.bag_count = p.segments;
  bag.mode = mode;
  bag.weights = weights;
  bag.out = out;
  bag.out_rows = p.rows;
  bag.accumulate = accumulate;
  return bag;
}

int64_t check_bag_bounds(Napi::Env env, const DeviceBuffer& bounds, BoundsKind kind, int64_t n) {
  return check_bounds(env, bounds, static_cast<int>(kind), n);
}

int64_t check_plan_length(Napi::Env env, int64_t n) {
  if (n > INT32_MAX) throw_range_error(env, "the GPU scatter takes at most 2147483647 indices, got " + num(n));
  return n;
}

}  // namespace

// scatterPlan(indices, numRows) -> [order, rows, bounds, segments] handles
Napi::Value ScatterPlan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& indices = index_arg(env, info[0], "indices");
  const int64_t num_rows = get_integer(env, info[1], "numRows", 0, kMaxSafeInteger);
  check_index_range(env, indices, "indices", num_rows);
  const int64_t n = check_plan_length(env, indices.length);
  const int device = indices.device;
  use_device(env, device);
  cudaStream_t stream = stream_for(env, device);
  const Dtype kinds[4] = {Dtype::Int64, Dtype::Int64, Dtype::Int64, Dtype::Int64};
  const int64_t lengths[4] = {n, n, n + 1, 1};
  void* parts[4] = {};
  for (int i = 0; i < 4; ++i) {
    const cudaError_t e = cudaMallocAsync(&parts[i], static_cast<size_t>(lengths[i]) * 8, stream);
    if (e != cudaSuccess) {
      cudaGetLastError();
      for (int j = 0; j < i; ++j) cudaFreeAsync(parts[j], stream);
      throw_range_error(env, "cuda.scatterPlan cannot allocate its plan: " + error_text(e));
    }
  }
  DevicePlan p;
  p.length = n;
  p.order = static_cast<int64_t*>(parts[0]);
  p.rows = static_cast<uint64_t*>(parts[1]);
  p.bounds = static_cast<int64_t*>(parts[2]);
  p.segments = static_cast<int64_t*>(parts[3]);
  cudaError_t e;
  {
    Temp scratch(env, device, scatter::plan_scratch_bytes(n), "cuda.scatterPlan");
    e = scatter::build_plan(DeviceIndices{indices.data, indices.dtype, n}, num_rows, p, scratch.at<void>(0),
                            scatter::plan_scratch_bytes(n), stream);
  }
  if (e != cudaSuccess) {
    for (void* part : parts) cudaFreeAsync(part, stream);
    check_cuda(env, e, "cuda.scatterPlan");
  }
  Napi::Array handles = Napi::Array::New(env, 4);
  for (uint32_t i = 0; i < 4; ++i) {
    DeviceBuffer b;
    b.data = parts[i];
    b.length = lengths[i];
    b.dtype = kinds[i];
    b.device = device;
    handles.Set(i, wrap_buffer(env, b));
  }
  return handles;
}

// scatterAdd(dst, dim, indices?, plan? ([order, rows, bounds, segments]), planNumRows?, src,
//            weights?, alpha)
Napi::Value ScatterAdd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& dst = float32_arg(env, info[0], "dst");
  const int64_t dim = get_integer(env, info[1], "dim", 1, kMaxSafeInteger);
  if (dst.length % dim != 0) {
    throw_range_error(env, "dst.length " + num(dst.length) + " is not a multiple of dim " + num(dim));
  }
  const int64_t num_rows = dst.length / dim;
  const bool planned = !is_absent(info[3]);
  DevicePlan plan;
  DeviceBuffer* indices = nullptr;
  if (planned) {
    if (!is_absent(info[2])) throw_type_error(env, "give indices or plan, not both");
    Napi::Array parts = info[3].As<Napi::Array>();
    const char* names[4] = {"plan.order", "plan.rows", "plan.bounds", "plan.segments"};
    DeviceBuffer* b[4];
    for (uint32_t i = 0; i < 4; ++i) {
      b[i] = &unwrap_buffer(env, parts.Get(i), names[i]);
      require_same_device(env, dst, *b[i], names[i]);
    }
    const int64_t plan_rows = get_integer(env, info[4], "plan.numRows", 0, kMaxSafeInteger);
    if (plan_rows != num_rows) {
      throw_range_error(env, "the plan was built for " + num(plan_rows) + " rows, dst has " + num(num_rows));
    }
    plan.length = b[0]->length;
    plan.order = static_cast<int64_t*>(b[0]->data);
    plan.rows = static_cast<uint64_t*>(b[1]->data);
    plan.bounds = static_cast<int64_t*>(b[2]->data);
    plan.segments = static_cast<int64_t*>(b[3]->data);
  } else {
    indices = &index_arg(env, info[2], "indices");
    require_same_device(env, dst, *indices, "indices");
    check_index_range(env, *indices, "indices", num_rows);
    plan.length = check_plan_length(env, indices->length);
  }
  const int64_t n = plan.length;
  DeviceBuffer& src = float32_arg(env, info[5], "src");
  require_same_device(env, dst, src, "src");
  if (n != 0 && dim > kMaxSafeInteger / n) throw_range_error(env, "indices.length x dim overflows");
  if (src.length != n * dim) {
    throw_range_error(env, "src.length must be indices.length " + num(n) + " x dim " + num(dim) + " = " + num(n * dim) +
                               ", got " + num(src.length));
  }
  DeviceBuffer* weights = is_absent(info[6]) ? nullptr : &float32_arg(env, info[6], "weights");
  if (weights != nullptr) {
    require_same_device(env, dst, *weights, "weights");
    if (weights->length != n) {
      throw_range_error(env, "weights.length must equal indices.length " + num(n) + ", got " + num(weights->length));
    }
  }
  if (!info[7].IsNumber()) throw_type_error(env, "alpha must be a number");
  const double alpha_d = info[7].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(alpha_d)) throw_range_error(env, "alpha must be finite, got " + info[7].ToString().Utf8Value());
  const float alpha = static_cast<float>(alpha_d);
  require_distinct(env, dst, src, "src");
  if (weights != nullptr) require_distinct(env, dst, *weights, "weights");
  if (n == 0) return info[0];

  const int device = dst.device;
  use_device(env, device);
  cudaStream_t stream = stream_for(env, device);
  const bool scaled = weights != nullptr || alpha != 1.0f;
  const size_t own_plan = planned ? 0 : plan_bytes(n);
  const size_t scratch = planned ? 0 : aligned(scatter::plan_scratch_bytes(n));
  Temp temp(env, device, own_plan + scratch + (scaled ? aligned(n * 4) : 0), "cuda.scatterAdd");
  cudaError_t e = cudaSuccess;
  if (!planned) {
    plan = plan_at(temp, 0, n);
    e = scatter::build_plan(DeviceIndices{indices->data, indices->dtype, n}, num_rows, plan, temp.at<void>(own_plan),
                            scatter::plan_scratch_bytes(n), stream);
  }
  float* scales = scaled ? temp.at<float>(own_plan + scratch) : nullptr;
  if (e == cudaSuccess && scaled) {
    e = scatter::gather_scaled(weights != nullptr ? static_cast<const float*>(weights->data) : nullptr, alpha,
                               plan.order, n, scales, stream);
  }
  if (e == cudaSuccess) {
    e = gather::launch_embedding_bag(plan_bags(plan, static_cast<const float*>(src.data), n, dim, scales,
                                               static_cast<float*>(dst.data), true, PoolMode::Sum),
                                     stream);
  }
  check_cuda(env, e, "cuda.scatterAdd");
  return info[0];
}

// spmm(rowPtr, colIdx, values?, numRows, numCols, b, dim, reduce, out, transpose)
Napi::Value Spmm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& row_ptr = index_arg(env, info[0], "a.rowPtr");
  DeviceBuffer& col = index_arg(env, info[1], "a.colIdx");
  DeviceBuffer* values = is_absent(info[2]) ? nullptr : &float32_arg(env, info[2], "a.values");
  const int64_t num_rows = get_integer(env, info[3], "a.numRows", 0, INT32_MAX);
  const int64_t num_cols = get_integer(env, info[4], "a.numCols", 0, INT32_MAX);
  const int64_t nnz = check_plan_length(env, col.length);
  // The CSR structure, from the host-side summaries.
  const IndexSummary& rp = row_ptr.summary;
  if (row_ptr.length != num_rows + 1) {
    throw_range_error(env, "a.rowPtr.length must be numRows + 1 = " + num(num_rows + 1) + ", got " + num(row_ptr.length));
  }
  if (rp.first != 0) throw_range_error(env, "a.rowPtr[0] must be 0, got " + num(rp.first));
  if (rp.decrease_at >= 0) {
    throw_range_error(env, "a.rowPtr[" + num(rp.decrease_at) + "] is less than a.rowPtr[" + num(rp.decrease_at - 1) +
                               "]: rowPtr must not decrease");
  }
  if (rp.last != nnz) throw_range_error(env, "a.rowPtr[numRows] = " + num(rp.last) + " must equal a.colIdx.length " + num(nnz));
  if (nnz > 0 && (col.summary.min < 0 || col.summary.max >= num_cols)) {
    const bool low = col.summary.min < 0;
    throw_range_error(env, "a.colIdx[" + num(low ? col.summary.min_at : col.summary.max_at) + "] = " +
                               num(low ? col.summary.min : col.summary.max) + " is out of range for " + num(num_cols) +
                               " columns");
  }
  if (values != nullptr && values->length != nnz) {
    throw_range_error(env, "a.values.length must equal a.colIdx.length " + num(nnz) + ", got " + num(values->length));
  }
  DeviceBuffer& b = float32_arg(env, info[5], "b");
  const int64_t dim = get_integer(env, info[6], "dim", 1, kMaxSafeInteger);
  const auto mode = static_cast<PoolMode>(get_integer(env, info[7], "reduce", 0, 2));
  DeviceBuffer& out = float32_arg(env, info[8], "out");
  if (!info[9].IsBoolean()) throw_type_error(env, "transpose must be a boolean");
  const bool transpose = info[9].As<Napi::Boolean>().Value();
  const int64_t in_rows = transpose ? num_rows : num_cols;
  const int64_t out_rows = transpose ? num_cols : num_rows;
  if (in_rows != 0 && dim > kMaxSafeInteger / in_rows) throw_range_error(env, "b's rows x dim overflows");
  if (b.length != in_rows * dim) {
    throw_range_error(env, "b.length must be " + std::string(transpose ? "numRows " : "numCols ") + num(in_rows) +
                               " x dim " + num(dim) + ", got " + num(b.length));
  }
  require_length(env, out, out_rows * dim, std::string(transpose ? "numCols " : "numRows ") + num(out_rows) + " x dim " + num(dim));
  for (const auto& [buffer, name] : {std::pair<const DeviceBuffer*, const char*>{&col, "a.colIdx"}, {&b, "b"}, {&out, "out"}}) {
    require_same_device(env, row_ptr, *buffer, name);
  }
  if (values != nullptr) require_same_device(env, row_ptr, *values, "a.values");
  require_distinct(env, out, b, "b");
  if (values != nullptr) require_distinct(env, out, *values, "a.values");

  const int device = out.device;
  use_device(env, device);
  cudaStream_t stream = stream_for(env, device);
  const float* bv = static_cast<const float*>(b.data);
  float* ov = static_cast<float*>(out.data);
  // Row boundaries as int64 (the bag kernel's form), whatever rowPtr's type.
  const size_t bounds_bytes = aligned((num_rows + 1) * 8);
  if (!transpose) {
    Temp temp(env, device, bounds_bytes, "cuda.spmm");
    BagLaunch bag;
    bag.table.rows_of = TableRows{bv, TableFormat::F32, dim, dim, nullptr, nullptr};
    bag.table.rows = num_cols;
    bag.table.dim = dim;
    bag.indices = DeviceIndices{col.data, col.dtype, nnz};
    bag.num_bags = num_rows;
    bag.mode = mode;
    bag.weights = values != nullptr ? static_cast<const float*>(values->data) : nullptr;
    bag.out = ov;
    bag.boundaries = temp.at<int64_t>(0);
    cudaError_t e = gather::normalize_bounds(DeviceIndices{row_ptr.data, row_ptr.dtype, row_ptr.length},
                                             BoundsKind::OffsetsWithEnd, num_rows, nnz, temp.at<int64_t>(0), nullptr, stream);
    if (e == cudaSuccess) e = gather::launch_embedding_bag(bag, stream);
    check_cuda(env, e, "cuda.spmm");
    return info[8];
  }
  // aᵀ·b: the plan of colIdx gives each column's entries in row order (the CPU transpose's
  // row order); a bag of those entries' rows of b, weighted by their values, per column.
  const size_t own_plan = plan_bytes(nnz);
  const size_t scratch = aligned(scatter::plan_scratch_bytes(nnz));
  const size_t entry_rows = aligned(nnz * 8);
  Temp temp(env, device, bounds_bytes + own_plan + scratch + 2 * entry_rows + (values != nullptr ? aligned(nnz * 4) : 0),
            "cuda.spmm");
  int64_t* bounds = temp.at<int64_t>(0);
  const DevicePlan plan = plan_at(temp, bounds_bytes, nnz);
  int64_t* entry_row = temp.at<int64_t>(bounds_bytes + own_plan + scratch);
  int64_t* sorted_rows = temp.at<int64_t>(bounds_bytes + own_plan + scratch + entry_rows);
  float* sorted_values = values != nullptr ? temp.at<float>(bounds_bytes + own_plan + scratch + 2 * entry_rows) : nullptr;
  cudaError_t e = cudaMemsetAsync(ov, 0, static_cast<size_t>(out.bytes()), stream);  // columns with no entry
  if (e == cudaSuccess) {
    e = gather::normalize_bounds(DeviceIndices{row_ptr.data, row_ptr.dtype, row_ptr.length}, BoundsKind::OffsetsWithEnd,
                                 num_rows, nnz, bounds, nullptr, stream);
  }
  if (e == cudaSuccess) {
    e = scatter::build_plan(DeviceIndices{col.data, col.dtype, nnz}, num_cols, plan, temp.at<void>(bounds_bytes + own_plan),
                            scatter::plan_scratch_bytes(nnz), stream);
  }
  if (e == cudaSuccess) e = scatter::csr_entry_rows(bounds, num_rows, entry_row, stream);
  if (e == cudaSuccess) e = scatter::gather_positions(entry_row, plan.order, nnz, sorted_rows, stream);
  if (e == cudaSuccess && values != nullptr) {
    e = scatter::gather_scaled(static_cast<const float*>(values->data), 1.0f, plan.order, nnz, sorted_values, stream);
  }
  if (e == cudaSuccess) {
    DevicePlan by_column = plan;
    by_column.order = sorted_rows;  // the bag's indices: rows of b
    e = gather::launch_embedding_bag(plan_bags(by_column, bv, num_rows, dim, sorted_values, ov, false, mode), stream);
  }
  check_cuda(env, e, "cuda.spmm");
  return info[8];
}

// embeddingBagBackward(gradOutput, dim, indices, bounds, boundsKind, mode, weights?,
//                      paddingIdx?, numRows, maxIndices?, out?, sparse?): the dense gradient
// into out, or with sparse { rows, values, count } (the count is read back from the device,
// so the sparse form waits for the work queued before it).
Napi::Value EmbeddingBagBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& grad = float32_arg(env, info[0], "gradOutput");
  const int64_t dim = get_integer(env, info[1], "dim", 1, kMaxSafeInteger);
  DeviceBuffer& indices = index_arg(env, info[2], "indices");
  const auto kind = static_cast<BoundsKind>(get_integer(env, info[4], "boundsKind", 0, 2));
  const char* bounds_name = kind == BoundsKind::Lengths ? "lengths" : "offsets";
  DeviceBuffer& bounds = index_arg(env, info[3], bounds_name);
  const auto mode = static_cast<PoolMode>(get_integer(env, info[5], "mode", 0, 2));
  const int64_t n = check_plan_length(env, indices.length);
  const int64_t num_bags = check_bag_bounds(env, bounds, kind, n);
  const int64_t num_rows = get_integer(env, info[8], "numRows", 0, kMaxSafeInteger);
  if (num_bags != 0 && dim > kMaxSafeInteger / num_bags) throw_range_error(env, "bags x dim overflows");
  if (grad.length != num_bags * dim) {
    throw_range_error(env, "gradOutput.length must be bags " + num(num_bags) + " x dim " + num(dim) + " = " +
                               num(num_bags * dim) + ", got " + num(grad.length));
  }
  DeviceBuffer* weights = is_absent(info[6]) ? nullptr : &float32_arg(env, info[6], "weights");
  if (weights != nullptr) {
    if (mode == PoolMode::Max) throw_type_error(env, "weights are supported with mode 'sum' and 'mean', not 'max'");
    if (weights->length != n) {
      throw_range_error(env, "weights.length must equal indices.length " + num(n) + ", got " + num(weights->length));
    }
  }
  const int64_t padding = get_padding_row(env, info[7], num_rows);
  check_index_range(env, indices, "indices", num_rows);
  DeviceBuffer* argmax = nullptr;
  if (mode == PoolMode::Max) {
    if (is_absent(info[9])) throw_type_error(env, "mode 'max' needs maxIndices (embeddingBag's returnArgmax)");
    argmax = &argmax_arg(env, info[9], "maxIndices");
    if (argmax->length != num_bags * dim) {
      throw_range_error(env, "maxIndices.length must be bags x dim = " + num(num_bags * dim) + ", got " +
                                 num(argmax->length));
    }
    check_plan_length(env, argmax->length);
    const IndexSummary& s = argmax->summary;
    if (argmax->length > 0 && (s.min < -1 || s.max >= num_rows)) {
      const bool low = s.min < -1;
      const int64_t value = low ? s.min : s.max;
      throw_range_error(env, (s.bounds_only ? "maxIndices (from cuda.embeddingBag) may hold " + num(value)
                                            : "maxIndices[" + num(low ? s.min_at : s.max_at) + "] = " + num(value)) +
                                 ", out of range for " + num(num_rows) + " rows (-1 marks an empty bag)");
    }
  } else if (!is_absent(info[9])) {
    throw_type_error(env, "maxIndices belongs to mode 'max'");
  }
  if (!is_absent(info[11]) && !info[11].IsBoolean()) throw_type_error(env, "sparse must be a boolean");
  const bool sparse = !is_absent(info[11]) && info[11].As<Napi::Boolean>().Value();
  DeviceBuffer* out = nullptr;
  if (sparse) {
    if (!is_absent(info[10])) throw_type_error(env, "out applies to the dense form only");
  } else {
    out = &float32_arg(env, info[10], "out");
    if (num_rows != 0 && dim > kMaxSafeInteger / num_rows) throw_range_error(env, "numRows x dim overflows");
    require_length(env, *out, num_rows * dim, "numRows " + num(num_rows) + " x dim " + num(dim));
    require_same_device(env, grad, *out, "out");
    require_distinct(env, *out, grad, "gradOutput");
    if (weights != nullptr) require_distinct(env, *out, *weights, "weights");
  }
  for (const DeviceBuffer* b : {&indices, &bounds}) require_same_device(env, grad, *b, "an array");
  if (weights != nullptr) require_same_device(env, grad, *weights, "weights");
  if (argmax != nullptr) require_same_device(env, grad, *argmax, "maxIndices");

  const int device = grad.device;
  use_device(env, device);
  cudaStream_t stream = stream_for(env, device);
  const int64_t entries = mode == PoolMode::Max ? argmax->length : n;
  const size_t bounds_bytes = aligned((num_bags + 1) * 8);
  const size_t scan = kind == BoundsKind::Lengths ? aligned(gather::normalize_bounds_scratch_bytes(num_bags)) : 0;
  const size_t own_plan = plan_bytes(entries);
  const size_t scratch = aligned(scatter::plan_scratch_bytes(entries));
  const size_t per_position = 2 * aligned(n * 8) + 2 * aligned(n * 4);
  Temp temp(env, device, bounds_bytes + scan + own_plan + scratch + per_position, "cuda.embeddingBagBackward");
  cudaError_t e = out != nullptr ? cudaMemsetAsync(out->data, 0, static_cast<size_t>(out->bytes()), stream) : cudaSuccess;

  // 1. The plan: the rows that get a gradient (ascending) and the entries feeding each.
  const DevicePlan plan = plan_at(temp, bounds_bytes + scan, entries);
  void* plan_scratch = temp.at<void>(bounds_bytes + scan + own_plan);
  const size_t base = bounds_bytes + scan + own_plan + scratch;
  int64_t* sorted_bags = temp.at<int64_t>(base + aligned(n * 8));
  const bool scaled = mode != PoolMode::Max && (weights != nullptr || mode == PoolMode::Mean);
  float* sorted_scale = scaled ? temp.at<float>(base + 2 * aligned(n * 8) + aligned(n * 4)) : nullptr;
  if (entries != 0 && mode == PoolMode::Max) {
    // Every (bag, column) entry goes to the row that won it; -1 (an empty bag) is left out.
    if (e == cudaSuccess) {
      e = scatter::build_plan(DeviceIndices{argmax->data, Dtype::Int32, entries}, num_rows, plan, plan_scratch,
                              scatter::plan_scratch_bytes(entries), stream, -1);
    }
  } else if (entries != 0) {
    int64_t* boundaries = temp.at<int64_t>(0);
    int64_t* bag_of = temp.at<int64_t>(base);
    float* scale = scaled ? temp.at<float>(base + 2 * aligned(n * 8)) : nullptr;
    if (e == cudaSuccess) {
      e = gather::normalize_bounds(DeviceIndices{bounds.data, bounds.dtype, bounds.length}, kind, num_bags, n, boundaries,
                                   temp.at<void>(bounds_bytes), stream);
    }
    const DeviceIndices idx{indices.data, indices.dtype, n};
    if (e == cudaSuccess) {
      e = scatter::bag_positions(boundaries, num_bags, idx, padding,
                                 weights != nullptr ? static_cast<const float*>(weights->data) : nullptr,
                                 mode == PoolMode::Mean, bag_of, scale, stream);
    }
    if (e == cudaSuccess) {
      e = scatter::build_plan(idx, num_rows, plan, plan_scratch, scatter::plan_scratch_bytes(n), stream,
                              padding >= 0 ? padding : scatter::kNoSkip);
    }
    if (e == cudaSuccess) e = scatter::gather_positions(bag_of, plan.order, n, sorted_bags, stream);
    if (e == cudaSuccess && scaled) e = scatter::gather_scaled(scale, 1.0f, plan.order, n, sorted_scale, stream);
  }
  check_cuda(env, e, "cuda.embeddingBagBackward");

  // 2. Where the gradients go: rows of the dense table, or (sparse) compact rows whose count
  // the plan computed on the device and the host must read before it can allocate them.
  float* values = out != nullptr ? static_cast<float*>(out->data) : nullptr;
  const uint64_t* out_rows = plan.rows;
  Napi::Value result = out != nullptr ? info[10] : env.Undefined();
  if (sparse) {
    int64_t count = 0;
    if (entries != 0) {
      e = cudaMemcpyAsync(&count, plan.segments, sizeof count, cudaMemcpyDeviceToHost, stream);
      if (e == cudaSuccess) e = cudaStreamSynchronize(stream);
      check_cuda(env, e, "cuda.embeddingBagBackward");
    }
    if (count != 0 && dim > kMaxSafeInteger / count) throw_range_error(env, "rows x dim overflows");
    DeviceBuffer rows_buffer = allocate_buffer(env, device, indices.dtype, count);
    Napi::Value rows_handle = wrap_buffer(env, rows_buffer);  // owns it from here on, whatever follows
    DeviceBuffer values_buffer = allocate_buffer(env, device, Dtype::Float32, count * dim);
    Napi::Value values_handle = wrap_buffer(env, values_buffer);
    values = static_cast<float*>(values_buffer.data);
    out_rows = nullptr;  // segment s is row s of values
    Napi::Object r = Napi::Object::New(env);
    r.Set("rows", rows_handle);
    r.Set("values", values_handle);
    r.Set("count", Napi::Number::New(env, static_cast<double>(count)));
    result = r;
    if (count == 0) return result;
    e = scatter::store_rows(plan.rows, count, indices.dtype, rows_buffer.data, stream);
    if (e == cudaSuccess && mode == PoolMode::Max) {
      e = cudaMemsetAsync(values, 0, static_cast<size_t>(count * dim) * 4, stream);
    }
  }
  if (entries == 0) return result;

  // 3. The gradients, every row summed in entry order.
  if (e == cudaSuccess && mode == PoolMode::Max) {
    e = scatter::scatter_max_entries(plan.order, out_rows, plan.bounds, plan.segments, entries,
                                     static_cast<const float*>(grad.data), dim, values, stream);
  } else if (e == cudaSuccess) {
    DevicePlan by_bag = plan;
    by_bag.order = sorted_bags;  // the bag kernel's indices: rows of gradOutput
    by_bag.rows = const_cast<uint64_t*>(out_rows);
    e = gather::launch_embedding_bag(
        plan_bags(by_bag, static_cast<const float*>(grad.data), num_bags, dim, sorted_scale, values, false, PoolMode::Sum),
        stream);
  }
  check_cuda(env, e, "cuda.embeddingBagBackward");
  return result;
}

// embeddingBagWeightsBackward(gradOutput, table, dim, indices, bounds, boundsKind, mode,
//                             paddingIdx?, out): one float per index, grad[bag] . table[index]
// (over the bag's non-padding count for mean), 0 for padding.
Napi::Value EmbeddingBagWeightsBackward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& grad = float32_arg(env, info[0], "gradOutput");
  DeviceBuffer& table = float32_arg(env, info[1], "table");
  const int64_t dim = get_integer(env, info[2], "dim", 1, kMaxSafeInteger);
  DeviceBuffer& indices = index_arg(env, info[3], "indices");
  const auto kind = static_cast<BoundsKind>(get_integer(env, info[5], "boundsKind", 0, 2));
  DeviceBuffer& bounds = index_arg(env, info[4], kind == BoundsKind::Lengths ? "lengths" : "offsets");
  const auto mode = static_cast<PoolMode>(get_integer(env, info[6], "mode", 0, 2));
  if (mode == PoolMode::Max) throw_type_error(env, "mode must be 'sum' or 'mean': 'max' pooling takes no per-sample weights");
  const int64_t n = check_plan_length(env, indices.length);
  const int64_t num_bags = check_bag_bounds(env, bounds, kind, n);
  if (table.length % dim != 0) {
    throw_range_error(env, "table.length " + num(table.length) + " is not a multiple of dim " + num(dim));
  }
  const int64_t num_rows = table.length / dim;
  if (num_bags != 0 && dim > kMaxSafeInteger / num_bags) throw_range_error(env, "bags x dim overflows");
  if (grad.length != num_bags * dim) {
    throw_range_error(env, "gradOutput.length must be bags " + num(num_bags) + " x dim " + num(dim) + " = " +
                               num(num_bags * dim) + ", got " + num(grad.length));
  }
  const int64_t padding = get_padding_row(env, info[7], num_rows);
  check_index_range(env, indices, "indices", num_rows);
  DeviceBuffer& out = float32_arg(env, info[8], "out");
  require_length(env, out, n, "one per index");
  for (const DeviceBuffer* b : {&table, &indices, &bounds, &out}) require_same_device(env, grad, *b, "an array");
  require_distinct(env, out, grad, "gradOutput");
  require_distinct(env, out, table, "table");

  const int device = grad.device;
  use_device(env, device);
  cudaStream_t stream = stream_for(env, device);
  if (n == 0) return info[8];
  const bool mean = mode == PoolMode::Mean;
  const size_t bounds_bytes = aligned((num_bags + 1) * 8);
  const size_t scan = kind == BoundsKind::Lengths ? aligned(gather::normalize_bounds_scratch_bytes(num_bags)) : 0;
  Temp temp(env, device, bounds_bytes + scan + aligned(n * 8) + (mean ? aligned(n * 4) : 0),
            "cuda.embeddingBagWeightsBackward");
  int64_t* boundaries = temp.at<int64_t>(0);
  int64_t* bag_of = temp.at<int64_t>(bounds_bytes + scan);
  float* scale = mean ? temp.at<float>(bounds_bytes + scan + aligned(n * 8)) : nullptr;
  const DeviceIndices idx{indices.data, indices.dtype, n};
  cudaError_t e = cudaSuccess;
  if (num_bags == 0) {  // no bag holds these positions: they feed nothing
    e = cudaMemsetAsync(out.data, 0, static_cast<size_t>(out.bytes()), stream);
  } else {
    e = gather::normalize_bounds(DeviceIndices{bounds.data, bounds.dtype, bounds.length}, kind, num_bags, n, boundaries,
                                 temp.at<void>(bounds_bytes), stream);
    if (e == cudaSuccess) e = scatter::bag_positions(boundaries, num_bags, idx, padding, nullptr, mean, bag_of, scale, stream);
    if (e == cudaSuccess) {
      e = scatter::weights_grad(bag_of, scale, idx, padding, static_cast<const float*>(table.data),
                                static_cast<const float*>(grad.data), dim, static_cast<float*>(out.data), stream);
    }
  }
  check_cuda(env, e, "cuda.embeddingBagWeightsBackward");
  return info[8];
}

}  // namespace embedkit::cuda::binding
