// cuda.fwht and the projections (cuda.srht, cuda.fjlt, cuda.sparseProjection): the CPU ops'
// arguments over device arrays, checked as the CPU binding checks them (csrc/binding/jl.cc)
// before anything is queued. The projections' random parts arrive as device arrays that
// lib/cuda/jl.ts made from the CPU addon's jlParts (the seed's own signs, sample, matrix).
#include <cmath>
#include <string>

#include "../jl/fwht.h"
#include "../jl/project.h"
#include "args.h"
#include "ops.h"

namespace embedkit::cuda::binding {

// fwht(x, n, normalize): in place.
Napi::Value Fwht(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& x = float32_arg(env, info[0], "x");
  constexpr int64_t kMaxDim = int64_t{1} << 30;
  const int64_t n = get_integer(env, info[1], "n", 1, kMaxDim);
  if ((n & (n - 1)) != 0) {
    throw_range_error(env, "n must be a power of two from 1 to 2^30, got " + std::to_string(n));
  }
  if (x.length % n != 0) {
    throw_range_error(env, "x.length " + std::to_string(x.length) + " is not a multiple of n " + std::to_string(n));
  }
  if (!info[2].IsBoolean()) throw_type_error(env, "normalize must be a boolean");
  const bool normalize = info[2].As<Napi::Boolean>().Value();
  // The CPU's scale: 1/sqrt(n) in double, rounded once to float (csrc/kernels/jl/jl.cc).
  const float scale = normalize ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(n))) : 1.0f;
  int log2n = 0;
  while ((int64_t{1} << log2n) < n) ++log2n;
  use_device(env, x.device);
  check_cuda(env, jl::launch_fwht(static_cast<float*>(x.data), x.length / n, log2n, scale, stream_for(env, x.device)),
             "cuda.fwht launch");
  return info[0];
}

namespace {

enum class Projection : int { Srht = 0, Fjlt = 1, Sparse = 2 };

const DeviceBuffer& part(Napi::Env env, const Napi::Value& v, const char* name, Dtype dtype, int64_t length,
                         const DeviceBuffer& like) {
  const DeviceBuffer& b = unwrap_buffer(env, v, name);
  if (b.dtype != dtype || (length >= 0 && b.length != length) || b.device != like.device) {
    throw_type_error(env, std::string(name) + " is not this projection's (length " + std::to_string(b.length) + ")");
  }
  return b;
}

}  // namespace

// project(op, x, inDim, outDim, signs?, sample?, rowPtr?, colIdx?, values?, out)
Napi::Value Project(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto op = static_cast<Projection>(get_integer(env, info[0], "op", 0, 2));
  DeviceBuffer& x = float32_arg(env, info[1], "x");
  const int64_t d = get_integer(env, info[2], "inDim", 1, int64_t{1} << 30);
  if (x.length % d != 0) {
    throw_range_error(env, "x.length " + std::to_string(x.length) + " is not a multiple of inDim " + std::to_string(d));
  }
  const int64_t k = get_integer(env, info[3], "outDim", 1, int64_t{1} << 30);
  jl::ProjectionLaunch p;
  p.x = static_cast<const float*>(x.data);
  p.rows = x.length / d;
  p.d = d;
  p.k = k;
  while ((int64_t{1} << p.log2n) < d) ++p.log2n;
  const int64_t n = int64_t{1} << p.log2n;
  if (op != Projection::Sparse) p.signs = static_cast<const float*>(part(env, info[4], "signs", Dtype::Float32, n, x).data);
  if (op == Projection::Srht) {
    p.sample = static_cast<const int32_t*>(part(env, info[5], "sample", Dtype::Int32, k, x).data);
    p.scale = static_cast<float>(std::sqrt(1.0 / static_cast<double>(k)));  // jl.cc's rounding
  } else {
    // A pointer, not a reference: g++ 13 takes a reference bound to part()'s result for one
    // to the temporary napi value passed in (-Wdangling-reference); the buffer is the array's.
    const DeviceBuffer* col = &part(env, info[7], "colIdx", Dtype::Int32, -1, x);
    p.matrix.row_ptr = static_cast<const int32_t*>(part(env, info[6], "rowPtr", Dtype::Int32, k + 1, x).data);
    p.matrix.col = static_cast<const int32_t*>(col->data);
    p.matrix.val = static_cast<const float*>(part(env, info[8], "values", Dtype::Float32, col->length, x).data);
  }
  DeviceBuffer& out = float32_arg(env, info[9], "out");
  require_same_device(env, x, out, "out");
  if (p.rows != 0 && k > kMaxSafeInteger / p.rows) throw_range_error(env, "rows x outDim overflows");
  require_length(env, out, p.rows * k, std::to_string(p.rows) + " rows x outDim " + std::to_string(k));
  require_distinct(env, out, x, "x");
  p.out = static_cast<float*>(out.data);

  use_device(env, x.device);
  cudaStream_t stream = stream_for(env, x.device);
  if (op == Projection::Sparse) {
    check_cuda(env, jl::launch_sparse_projection(p, stream), "cuda.sparseProjection launch");
    return info[9];
  }
  const size_t scratch_bytes = jl::projection_scratch_bytes(p.rows, p.log2n);
  void* scratch = nullptr;
  if (scratch_bytes != 0) {
    const cudaError_t alloc = cudaMallocAsync(&scratch, scratch_bytes, stream);
    if (alloc != cudaSuccess) {
      cudaGetLastError();
      throw_range_error(env, "cannot allocate the projection's " + std::to_string(scratch_bytes) +
                                 "-byte scratch: " + error_text(alloc));
    }
  }
  const cudaError_t e = op == Projection::Srht ? jl::launch_srht(p, scratch, stream) : jl::launch_fjlt(p, scratch, stream);
  if (scratch != nullptr) cudaFreeAsync(scratch, stream);
  check_cuda(env, e, op == Projection::Srht ? "cuda.srht launch" : "cuda.fjlt launch");
  return info[9];
}

}  // namespace embedkit::cuda::binding
