// capabilities(), threads and ISA selection.
#include <string>

#include "../kernels/common/cpu_features.h"
#include "../kernels/common/isa.h"
#include "../kernels/common/kernel_stats.h"
#include "../kernels/common/memory.h"
#include "../kernels/common/parallel.h"
#include "args.h"
#include "family.h"

#ifndef EMBEDKIT_VERSION
#error "binding.gyp defines EMBEDKIT_VERSION from package.json"
#endif

namespace embedkit::binding {
namespace {

Napi::Value Capabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CpuFeatures& f = cpu_features();
  Napi::Object features = Napi::Object::New(env);
  features.Set("avx2", f.avx2);
  features.Set("fma", f.fma);
  features.Set("f16c", f.f16c);
  features.Set("popcnt", f.popcnt);
  features.Set("avx512f", f.avx512f);
  features.Set("avx512bw", f.avx512bw);
  features.Set("avx512vl", f.avx512vl);
  features.Set("avx512dq", f.avx512dq);
  features.Set("osYmm", f.os_ymm);
  features.Set("osZmm", f.os_zmm);
  features.Set("neon", f.neon);

  Napi::Array available = Napi::Array::New(env);
  Napi::Object calls = Napi::Object::New(env);
  uint32_t n = 0;
  for (int i = 0; i < kNumIsas; ++i) {
    const Isa isa = static_cast<Isa>(i);
    if (isa_available(isa)) available.Set(n++, isa_name(isa));
    calls.Set(isa_name(isa), Napi::Number::New(env, static_cast<double>(kernel_calls(isa))));
  }
  Napi::Object caps = Napi::Object::New(env);
  caps.Set("isa", isa_name(active_isa()));
  caps.Set("best", isa_name(best_isa()));
  caps.Set("available", available);
  caps.Set("features", features);
  caps.Set("threads", thread_count());
  caps.Set("kernelCalls", calls);
  return caps;
}

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) {
    throw_type_error(env, "isa must be a string, got " + describe_value(info[0]));
  }
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  Isa isa;
  if (!parse_isa(name, &isa)) {
    throw_range_error(env, "isa must be one of scalar, avx2, avx512, neon, got '" + name + "'");
  }
  const std::string error = set_active_isa(isa);
  if (!error.empty()) throw_range_error(env, error);
  return Napi::String::New(env, isa_name(active_isa()));
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  const int64_t n = get_integer(info.Env(), info[0], "threads", 1, kMaxThreads);
  set_thread_count(static_cast<int>(n));
  return Napi::Number::New(info.Env(), thread_count());
}

Napi::Value GetThreads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), thread_count());
}

Napi::Value AdviseHugePages(const Napi::CallbackInfo& info) {
  const ArrayView view = get_any_typed_array(info.Env(), info[0], "array");
  const size_t advised = advise_huge_pages(view.data, static_cast<size_t>(view.byte_length));
  return Napi::Number::New(info.Env(), static_cast<double>(advised));
}

// A just-made array (a fresh output, a new table) advised for huge pages when it is large
// enough to gain: the one size rule for JS-made arrays and the addon's own (args.h).
Napi::Value AdviseFresh(const Napi::CallbackInfo& info) {
  const ArrayView view = get_any_typed_array(info.Env(), info[0], "array");
  advise_fresh_bytes(view.data, static_cast<size_t>(view.byte_length));
  return info.Env().Undefined();
}

// The array's start address modulo 64 (a cache line), so JS can align big tables.
Napi::Value CacheLineOffset(const Napi::CallbackInfo& info) {
  const ArrayView view = get_any_typed_array(info.Env(), info[0], "array");
  return Napi::Number::New(info.Env(),
                           static_cast<double>(reinterpret_cast<uintptr_t>(view.data) & 63));
}

}  // namespace

void register_system(Napi::Env env, Napi::Object exports) {
  const std::string& isa_error = active_isa_error();
  if (!isa_error.empty()) throw Napi::Error::New(env, "embedkit: " + isa_error);
  exports.Set("abi", Napi::Number::New(env, kBindingAbi));
  exports.Set("version", Napi::String::New(env, EMBEDKIT_VERSION));
  exports.Set("capabilities", Napi::Function::New(env, Capabilities, "capabilities"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa, "setIsa"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("getThreads", Napi::Function::New(env, GetThreads, "getThreads"));
  exports.Set("cacheLineOffset", Napi::Function::New(env, CacheLineOffset, "cacheLineOffset"));
  exports.Set("adviseHugePages", Napi::Function::New(env, AdviseHugePages, "adviseHugePages"));
  exports.Set("adviseFresh", Napi::Function::New(env, AdviseFresh, "adviseFresh"));
}

}  // namespace embedkit::binding
