// Runs f(IndexT{}) for the element type of a device index array, so one templated launch
// serves Int32Array, Uint32Array and BigInt64Array indices.
#pragma once

#include <cstdint>

#include "device_types.h"

namespace embedkit::cuda {

template <typename F>
cudaError_t with_index_type(Dtype dtype, F&& f) {
  switch (dtype) {
    case Dtype::Int32: return f(int32_t{});
    case Dtype::Uint32: return f(uint32_t{});
    case Dtype::Int64: return f(int64_t{});
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace embedkit::cuda
