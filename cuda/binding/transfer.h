// The CUDA addon's device and memory entry points (transfer.cc).
#pragma once

#include <napi.h>

namespace embedkit::cuda::binding {

Napi::Value Probe(const Napi::CallbackInfo& info);
Napi::Value Devices(const Napi::CallbackInfo& info);
Napi::Value FromHost(const Napi::CallbackInfo& info);
Napi::Value Empty(const Napi::CallbackInfo& info);
Napi::Value ToHost(const Napi::CallbackInfo& info);
Napi::Value Write(const Napi::CallbackInfo& info);
Napi::Value Dispose(const Napi::CallbackInfo& info);
Napi::Value Synchronize(const Napi::CallbackInfo& info);
Napi::Value Copy(const Napi::CallbackInfo& info);

}  // namespace embedkit::cuda::binding
