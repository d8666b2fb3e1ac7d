#include "env_data.h"

#include <mutex>

#include "../kernels/common/parallel.h"

namespace embedkit::binding {
namespace {

// Environments (the main thread, workers) that have loaded the addon and not shut down.
std::mutex g_envs_mutex;
int g_live_envs = 0;

}  // namespace

EnvData::EnvData() {
  std::lock_guard<std::mutex> lock(g_envs_mutex);
  ++g_live_envs;
}

// The pool is shared by every environment, so it goes when the last one does (a worker
// that loaded the addon alone, then exited, leaves no threads behind). Kernels still
// running on libuv's threads for a terminated worker finish first: release_threads waits
// for a running parallel call.
EnvData::~EnvData() {
  std::lock_guard<std::mutex> lock(g_envs_mutex);
  if (--g_live_envs == 0) release_threads();
}

void init_env_data(Napi::Env env) {
  auto* data = new EnvData();
  data->float32_array = Napi::Persistent(env.Global().Get("Float32Array").As<Napi::Function>());
  env.SetInstanceData<EnvData>(data);  // deleted with the environment
}

Napi::Function float32_constructor(Napi::Env env) {
  return env.GetInstanceData<EnvData>()->float32_array.Value();
}

}  // namespace embedkit::binding
