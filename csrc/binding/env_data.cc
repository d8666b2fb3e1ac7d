#include "env_data.h"

namespace embedkit::binding {

void init_env_data(Napi::Env env) {
  auto* data = new EnvData();
  data->float32_array = Napi::Persistent(env.Global().Get("Float32Array").As<Napi::Function>());
  env.SetInstanceData<EnvData>(data);  // deleted with the environment
}

Napi::Function float32_constructor(Napi::Env env) {
  return env.GetInstanceData<EnvData>()->float32_array.Value();
}

}  // namespace embedkit::binding
