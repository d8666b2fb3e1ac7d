// Argument parsing and validation for the N-API layer: every typed array is checked for
// element type, detachment and length before a kernel sees it, and every failure becomes a
// TypeError or RangeError that names the argument and the limit. No arithmetic on data here.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "../kernels/common/index_array.h"

namespace embedkit::binding {

// 2^53 - 1: the largest count a JS number holds exactly.
constexpr int64_t kMaxSafeInteger = 9007199254740991LL;

[[noreturn]] void throw_type_error(Napi::Env env, const std::string& message);
[[noreturn]] void throw_range_error(Napi::Env env, const std::string& message);

// A typed array's memory, captured once.
struct ArrayView {
  Napi::Value value;     // the JS typed array (kept for references and return values)
  napi_typedarray_type type = napi_float32_array;
  void* data = nullptr;
  int64_t length = 0;    // elements
  int64_t byte_length = 0;
  bool present = false;  // false when the argument was undefined / null and optional
  napi_value buffer = nullptr;  // the underlying ArrayBuffer (or SharedArrayBuffer)
};

bool is_absent(const Napi::Value& v);
const char* typed_array_type_name(napi_typedarray_type type);
std::string describe_value(const Napi::Value& v);

// A typed array of exactly `type`, not detached.
ArrayView get_typed_array(Napi::Env env, const Napi::Value& v, const char* name,
                          napi_typedarray_type type, const char* type_name);
ArrayView get_float32_array(Napi::Env env, const Napi::Value& v, const char* name);
// A typed array of any element type, not detached.
ArrayView get_any_typed_array(Napi::Env env, const Napi::Value& v, const char* name);
// Like get_float32_array, but undefined / null gives present == false.
ArrayView get_optional_float32_array(Napi::Env env, const Napi::Value& v, const char* name);
// Int32Array, Uint32Array or BigInt64Array.
ArrayView get_index_array(Napi::Env env, const Napi::Value& v, const char* name,
                          IndexArray* out);

// A JS number that is an integer in [min, max].
int64_t get_integer(Napi::Env env, const Napi::Value& v, const char* name, int64_t min,
                    int64_t max);

// An optional paddingIdx for a table of `rows` rows: -1 when absent, else the row it names
// (negative counts from the end, as in PyTorch). RangeError outside [-rows, rows - 1], or for
// an empty table.
int64_t get_padding_row(Napi::Env env, const Napi::Value& v, int64_t rows);

// TypeError when the bytes of `a` and `b` overlap (an output aliasing an input).
void require_disjoint(Napi::Env env, const ArrayView& out, const char* out_name,
                      const ArrayView& in, const char* in_name);

// Advises a fresh (not yet written) array of `bytes` for huge pages when it is 4 MiB or more:
// its first writes then fault 2 MiB at a time rather than 4 KiB.
void advise_fresh_bytes(void* data, size_t bytes);

// A fresh Float32Array of n elements (advised as above), or the caller's `out` after checking
// its length.
ArrayView output_float32(Napi::Env env, const Napi::Value& out_arg, int64_t n,
                         const std::string& shape_description);

}  // namespace embedkit::binding
