// Argument checks and result arrays shared by the scatter family's bindings (scatter_args.h).
#include "scatter_args.h"

namespace embedkit::binding {

void check_range(Napi::Env env, const IndexArray& a, const char* name, int64_t limit,
                 const std::string& what) {
  const int64_t bad = find_index_out_of_range(a, limit);
  if (bad >= 0) {
    throw_range_error(env, std::string(name) + "[" + std::to_string(bad) + "] = " +
                               std::to_string(a.at(bad)) + " is out of range for " + what +
                               " of " + std::to_string(limit) + " rows");
  }
}

int64_t checked_product(Napi::Env env, int64_t rows, int64_t dim, const char* what) {
  if (rows != 0 && dim > kMaxSafeInteger / rows) {
    throw_range_error(env, std::string(what) + " (" + std::to_string(rows) + " x " +
                               std::to_string(dim) + ") overflows");
  }
  return rows * dim;
}

void require_length(Napi::Env env, const ArrayView& v, const char* name, int64_t n,
                    const std::string& why) {
  if (v.length != n) {
    throw_range_error(env, std::string(name) + ".length must be " + std::to_string(n) + " (" +
                               why + "), got " + std::to_string(v.length));
  }
}

void advise_fresh(const Napi::Value& array) {
  const Napi::TypedArray t = array.As<Napi::TypedArray>();
  advise_fresh_bytes(static_cast<char*>(t.ArrayBuffer().Data()) + t.ByteOffset(), t.ByteLength());
}

Napi::Value new_typed_array(Napi::Env env, const char* ctor, int64_t n) {
  if (n > kMaxSafeInteger / 8) throw_range_error(env, std::string("cannot allocate a ") + ctor);
  Napi::Value array;
  try {
    array = env.Global().Get(ctor).As<Napi::Function>().New(
        {Napi::Number::New(env, static_cast<double>(n))});
  } catch (const Napi::Error&) {
    throw_range_error(env, "cannot allocate a " + std::string(ctor) + " of " +
                               std::to_string(n) + " elements");
  }
  advise_fresh(array);
  return array;
}

}  // namespace embedkit::binding
