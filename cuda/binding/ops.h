// The CUDA addon's op entry points, one family per file.
#pragma once

#include <napi.h>

namespace embedkit::cuda::binding {

// gather.cc
Napi::Value Gather(const Napi::CallbackInfo& info);
Napi::Value EmbeddingBag(const Napi::CallbackInfo& info);

// rope.cc
Napi::Value Rope(const Napi::CallbackInfo& info);
Napi::Value RopeRerotate(const Napi::CallbackInfo& info);

// jl.cc
Napi::Value Fwht(const Napi::CallbackInfo& info);
Napi::Value Project(const Napi::CallbackInfo& info);

// scatter.cc
Napi::Value ScatterPlan(const Napi::CallbackInfo& info);
Napi::Value ScatterAdd(const Napi::CallbackInfo& info);
Napi::Value Spmm(const Napi::CallbackInfo& info);
Napi::Value EmbeddingBagBackward(const Napi::CallbackInfo& info);
Napi::Value EmbeddingBagWeightsBackward(const Napi::CallbackInfo& info);

// codebook.cc
Napi::Value VqLogits(const Napi::CallbackInfo& info);
Napi::Value VqRows(const Napi::CallbackInfo& info);
Napi::Value VqTopK(const Napi::CallbackInfo& info);
Napi::Value VqSample(const Napi::CallbackInfo& info);

// quantizer.cc
Napi::Value CodebookAssign(const Napi::CallbackInfo& info);
Napi::Value PqEncode(const Napi::CallbackInfo& info);
Napi::Value PqDecode(const Napi::CallbackInfo& info);
Napi::Value PqDistanceTable(const Napi::CallbackInfo& info);
Napi::Value PqScan(const Napi::CallbackInfo& info);

}  // namespace embedkit::cuda::binding
