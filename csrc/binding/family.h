// Each family's binding file adds its functions to the addon's exports.
#pragma once

#include <napi.h>

namespace embedkit::binding {

// Bumped whenever the native call signatures change; lib/native.ts checks it so that a
// stale or foreign binary is refused instead of being called with the wrong arguments.
constexpr int kBindingAbi = 9;

void register_system(Napi::Env env, Napi::Object exports);
void register_gather(Napi::Env env, Napi::Object exports);
void register_rope(Napi::Env env, Napi::Object exports);
void register_jl(Napi::Env env, Napi::Object exports);
void register_scatter(Napi::Env env, Napi::Object exports);
void register_codebook(Napi::Env env, Napi::Object exports);
void register_compress(Napi::Env env, Napi::Object exports);
void register_qr_bag(Napi::Env env, Napi::Object exports);
void register_qr_backward(Napi::Env env, Napi::Object exports);

}  // namespace embedkit::binding
