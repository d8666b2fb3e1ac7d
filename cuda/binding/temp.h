// Stream-ordered device scratch for one op call: allocated on the device's stream when the
// call is checked, freed (in stream order, after everything queued with it) when the call
// returns. A failed allocation is a RangeError naming the op, before anything is queued.
#pragma once

#include <napi.h>

#include <string>

#include "../common/scratch.h"
#include "args.h"

namespace embedkit::cuda::binding {

class Temp {
 public:
  Temp(Napi::Env env, int device, size_t bytes, const char* what) : stream_(stream_for(env, device)) {
    if (bytes == 0) return;
    const cudaError_t e = cudaMallocAsync(&data_, bytes, stream_);
    if (e != cudaSuccess) {
      cudaGetLastError();
      throw_range_error(env, std::string(what) + ": cannot allocate " + std::to_string(bytes) +
                                 " bytes of device scratch: " + error_text(e));
    }
  }
  ~Temp() {
    if (data_ != nullptr) cudaFreeAsync(data_, stream_);
  }
  Temp(const Temp&) = delete;
  Temp& operator=(const Temp&) = delete;
  template <typename T>
  T* at(size_t offset) const { return reinterpret_cast<T*>(static_cast<char*>(data_) + offset); }

 private:
  cudaStream_t stream_;
  void* data_ = nullptr;
};

}  // namespace embedkit::cuda::binding
