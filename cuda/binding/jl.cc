// cuda.fwht: the CPU op's arguments (x, n, normalize) over a device array, checked as the
// CPU binding checks them (csrc/binding/jl.cc) before anything is queued.
#include <cmath>
#include <string>

#include "../jl/fwht.h"
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

}  // namespace embedkit::cuda::binding
