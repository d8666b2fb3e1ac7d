// Plain types shared by the CUDA kernels (.cu) and the CUDA addon's binding (.cc): what a
// device array holds and how a kernel is told about index arrays. No Node headers here, and
// nothing that needs nvcc.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

namespace embedkit::cuda {

// Element types a DeviceArray can hold (lib/cuda.ts DeviceDtype mirrors the order).
enum class Dtype : int { Float32 = 0, Int32 = 1, Uint32 = 2, Int64 = 3, Uint16 = 4, Uint8 = 5, Float64 = 6 };

inline int64_t dtype_size(Dtype d) {
  switch (d) {
    case Dtype::Float32: case Dtype::Int32: case Dtype::Uint32: return 4;
    case Dtype::Int64: case Dtype::Float64: return 8;
    case Dtype::Uint16: return 2;
    case Dtype::Uint8: return 1;
  }
  return 1;
}

inline bool is_index_dtype(Dtype d) {
  return d == Dtype::Int32 || d == Dtype::Uint32 || d == Dtype::Int64;
}

// An index array on the device; `dtype` is Int32, Uint32 or Int64.
struct DeviceIndices {
  const void* data = nullptr;
  Dtype dtype = Dtype::Int32;
  int64_t length = 0;
};

// "an illegal memory access was encountered (cudaErrorIllegalAddress)"
inline std::string error_text(cudaError_t e) {
  return std::string(cudaGetErrorString(e)) + " (" + cudaGetErrorName(e) + ")";
}

}  // namespace embedkit::cuda
