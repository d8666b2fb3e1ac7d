// Argument checks and result arrays shared by the scatter family's bindings (scatter.cc,
// qr_backward.cc): index ranges, shape products, fresh outputs made through the JS
// constructors (so running out of memory is a RangeError), and row-id outputs.
#pragma once

#include <napi.h>

#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "args.h"

namespace embedkit::binding {

// RangeError naming `name`[i], its value and `limit` when an index lies outside [0, limit).
void check_range(Napi::Env env, const IndexArray& a, const char* name, int64_t limit,
                 const std::string& what);

// Runs kernel-side work that allocates in proportion to a size the caller chose (numRows of
// a CSR matrix, a plan's sort buffers): running out of memory is a RangeError, not an abort.
template <class Fn>
decltype(auto) with_memory_check(Napi::Env env, const char* op, Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    throw_range_error(env, std::string(op) + ": out of memory for its working arrays");
  } catch (const std::length_error&) {
    throw_range_error(env, std::string(op) + ": its working arrays would be too large");
  }
}

// rows x dim must be a safe count.
int64_t checked_product(Napi::Env env, int64_t rows, int64_t dim, const char* what);

// RangeError unless v holds exactly n elements (`why` says what n is).
void require_length(Napi::Env env, const ArrayView& v, const char* name, int64_t n,
                    const std::string& why);

// These outputs are fresh and written once in full: advised for huge pages before the first
// write (a 200 MB sparse gradient otherwise spends more time faulting than computing).
void advise_fresh(const Napi::Value& array);

// A new typed array of `n` elements made through the JS constructor, so that running out of
// memory is a RangeError rather than an abort.
Napi::Value new_typed_array(Napi::Env env, const char* ctor, int64_t n);

// Indices out: Int32Array when every value fits, else BigInt64Array. (Vec: a std::vector or a
// LargeArray of int64_t.)
template <class Vec>
Napi::Value index_output(Napi::Env env, const Vec& v, bool int32) {
  const int64_t n = static_cast<int64_t>(v.size());
  Napi::Value array = new_typed_array(env, int32 ? "Int32Array" : "BigInt64Array", n);
  void* data = array.As<Napi::TypedArray>().ArrayBuffer().Data();
  data = static_cast<char*>(data) + array.As<Napi::TypedArray>().ByteOffset();
  if (int32) {
    auto* d = static_cast<int32_t*>(data);
    for (int64_t i = 0; i < n; ++i) d[i] = static_cast<int32_t>(v[i]);
  } else if (n > 0) {
    std::memcpy(data, v.data(), static_cast<size_t>(n) * sizeof(int64_t));
  }
  return array;
}

// Row ids out in the same element type as the caller's indices.
template <class Vec>
Napi::Value ids_like(Napi::Env env, const Vec& v, napi_typedarray_type type) {
  const int64_t n = static_cast<int64_t>(v.size());
  if (type == napi_bigint64_array) return index_output(env, v, false);
  if (type == napi_int32_array) return index_output(env, v, true);
  Napi::Value array = new_typed_array(env, "Uint32Array", n);
  auto* d = reinterpret_cast<uint32_t*>(static_cast<char*>(array.As<Napi::TypedArray>().ArrayBuffer().Data()) +
                                        array.As<Napi::TypedArray>().ByteOffset());
  for (int64_t i = 0; i < n; ++i) d[i] = static_cast<uint32_t>(v[i]);
  return array;
}

}  // namespace embedkit::binding
