// State the addon keeps per JS environment (the main thread and each worker has its own).
#pragma once

#include <napi.h>

namespace embedkit::binding {

struct EnvData {
  EnvData();
  ~EnvData();  // at the environment's teardown; the last one releases the thread pool
  EnvData(const EnvData&) = delete;
  EnvData& operator=(const EnvData&) = delete;
  Napi::FunctionReference float32_array;  // the environment's Float32Array constructor
};

// Called once from the addon's Init for each environment.
void init_env_data(Napi::Env env);
Napi::Function float32_constructor(Napi::Env env);

}  // namespace embedkit::binding
