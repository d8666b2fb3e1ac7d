// The seed of a random op (the JL projections, vqSample): a Number that is a safe integer
// >= 0, or a BigInt in [0, 2^64). Header-only and free of either addon's helpers, so the CPU
// and the CUDA addon read seeds the same way.
#pragma once

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <string>

namespace embedkit::binding {

inline uint64_t get_seed(Napi::Env env, const Napi::Value& v) {
  constexpr double kMaxSafeInteger = 9007199254740991.0;
  if (v.IsBigInt()) {
    int sign = 0;
    size_t words = 2;
    uint64_t w[2] = {0, 0};
    if (napi_get_value_bigint_words(env, v, &sign, &words, w) != napi_ok || sign != 0 || words > 1) {
      throw Napi::RangeError::New(env, "seed must be a BigInt from 0n to 2n ** 64n - 1n, got " +
                                           std::string(sign != 0 ? "a negative BigInt" : "a larger BigInt"));
    }
    return w[0];
  }
  if (!v.IsNumber()) {
    const char* kind = v.IsString() ? "string" : v.IsBoolean() ? "boolean" : v.IsUndefined() ? "undefined"
                       : v.IsNull() ? "null" : v.IsSymbol() ? "symbol" : v.IsFunction() ? "function" : "object";
    throw Napi::TypeError::New(env, std::string("seed must be an integer Number or a BigInt, got ") + kind);
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < 0 || d > kMaxSafeInteger) {
    throw Napi::RangeError::New(env, "seed must be an integer from 0 to 9007199254740991 (or a BigInt below 2^64), got " +
                                         v.ToString().Utf8Value());
  }
  return static_cast<uint64_t>(d);
}

}  // namespace embedkit::binding
