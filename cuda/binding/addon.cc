// The CUDA addon's entry: loaded by lib/cuda.ts only when a program asks for the GPU. It
// links the CUDA runtime statically, which opens the driver (libcuda) only when first
// called, so the addon loads on a machine without a driver and probe() says why no device
// is usable.
#include <napi.h>

#include "ops.h"
#include "transfer.h"

namespace embedkit::cuda::binding {

// Bumped with lib/cuda.ts CUDA_BINDING_ABI whenever an entry point's arguments change.
constexpr int kCudaBindingAbi = 9;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abi", Napi::Number::New(env, kCudaBindingAbi));
  const std::pair<const char*, Napi::Function::Callback> entries[] = {
      {"probe", Probe},           {"devices", Devices},     {"fromHost", FromHost},
      {"empty", Empty},           {"toHost", ToHost},       {"write", Write},         {"dispose", Dispose},
      {"synchronize", Synchronize}, {"copy", Copy},         {"gather", Gather},
      {"embeddingBag", EmbeddingBag}, {"rope", Rope},          {"ropeRerotate", RopeRerotate},
      {"fwht", Fwht},             {"project", Project},     {"scatterPlan", ScatterPlan},
      {"scatterAdd", ScatterAdd}, {"spmm", Spmm},         {"embeddingBagBackward", EmbeddingBagBackward},
      {"embeddingBagWeightsBackward", EmbeddingBagWeightsBackward},
      {"vqLogits", VqLogits},     {"vqRows", VqRows},       {"vqTopK", VqTopK},       {"vqSample", VqSample},
      {"codebookAssign", CodebookAssign}, {"pqEncode", PqEncode}, {"pqDecode", PqDecode},
      {"pqDistanceTable", PqDistanceTable}, {"pqScan", PqScan},
  };
  for (const auto& [name, fn] : entries) exports.Set(name, Napi::Function::New(env, fn, name));
  return exports;
}

}  // namespace embedkit::cuda::binding

namespace {
Napi::Object InitCudaAddon(Napi::Env env, Napi::Object exports) {
  return embedkit::cuda::binding::Init(env, exports);
}
}  // namespace

NODE_API_MODULE(embedkit_cuda, InitCudaAddon)
