// The CPU addon's entry point. Runs once per JS environment (main thread and each worker).
#include <napi.h>

#include "env_data.h"
#include "family.h"

static Napi::Object InitEmbedkit(Napi::Env env, Napi::Object exports) {
  embedkit::binding::init_env_data(env);
  embedkit::binding::register_system(env, exports);
  embedkit::binding::register_gather(env, exports);
  embedkit::binding::register_rope(env, exports);
  embedkit::binding::register_jl(env, exports);
  embedkit::binding::register_scatter(env, exports);
  embedkit::binding::register_codebook(env, exports);
  embedkit::binding::register_compress(env, exports);
  embedkit::binding::register_qr_bag(env, exports);
  embedkit::binding::register_qr_backward(env, exports);
  return exports;
}

NODE_API_MODULE(embedkit, InitEmbedkit)
