#include "args.h"

#include "../kernels/common/memory.h"

#include "env_data.h"

#include <cmath>
#include <cstddef>

namespace embedkit::binding {

void throw_type_error(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

void throw_range_error(Napi::Env env, const std::string& message) {
  throw Napi::RangeError::New(env, message);
}

bool is_absent(const Napi::Value& v) {
  napi_valuetype type;
  return napi_typeof(v.Env(), v, &type) != napi_ok || type == napi_undefined || type == napi_null;
}

const char* typed_array_type_name(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "typed array";
  }
}

std::string describe_value(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsTypedArray()) return typed_array_type_name(v.As<Napi::TypedArray>().TypedArrayType());
  if (v.IsArrayBuffer()) return "ArrayBuffer";
  if (v.IsArray()) return "Array";
  if (v.IsBigInt()) return "BigInt";
  if (v.IsNumber()) return "number " + v.ToString().Utf8Value();
  if (v.IsString()) return "string";
  if (v.IsBoolean()) return "boolean";
  if (v.IsFunction()) return "function";
  return "object";
}

namespace {

int64_t element_size(napi_typedarray_type type) {
  switch (type) {
    case napi_int16_array:
    case napi_uint16_array: return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: return 4;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: return 8;
    default: return 1;
  }
}

// One N-API call reads type, length and address; false when v is not a typed array. This
// is the per-call hot path of every op, so it makes as few N-API calls as it can.
bool try_view(Napi::Env env, const Napi::Value& v, ArrayView* view) {
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t byte_offset = 0;
  if (napi_get_typedarray_info(env, v, &view->type, &length, &data, &buffer, &byte_offset) !=
      napi_ok) {
    return false;
  }
  view->value = v;
  // A zero-length array may report no address. The kernels read a null pointer as an optional
  // input that was not given (csrFromCoo then made a matrix without values from an empty
  // `values`), so a present empty array gets an address of its own that nothing reads.
  static max_align_t empty_array_storage;
  view->data = data == nullptr && length == 0 ? &empty_array_storage : data;
  view->length = static_cast<int64_t>(length);
  view->byte_length = view->length * element_size(view->type);
  view->present = true;
  view->buffer = buffer;
  return true;
}

// A detached buffer's views report length 0, so only an empty view needs the check. (A
// SharedArrayBuffer cannot be detached; the check reports an error status for it.)
void require_attached(Napi::Env env, const ArrayView& view, const char* name) {
  if (view.length == 0) {
    bool detached = false;
    if (napi_is_detached_arraybuffer(env, view.buffer, &detached) == napi_ok && detached) {
      throw_type_error(env, std::string(name) + "'s ArrayBuffer is detached");
    }
  } else if (view.data == nullptr) {
    throw_type_error(env, std::string(name) + "'s memory is not accessible");
  }
}

}  // namespace

ArrayView get_typed_array(Napi::Env env, const Napi::Value& v, const char* name,
                          napi_typedarray_type type, const char* type_name) {
  ArrayView view;
  if (!try_view(env, v, &view) || view.type != type) {
    throw_type_error(env, std::string(name) + " must be a " + type_name + ", got " +
                              describe_value(v));
  }
  require_attached(env, view, name);
  return view;
}

ArrayView get_any_typed_array(Napi::Env env, const Napi::Value& v, const char* name) {
  ArrayView view;
  if (!try_view(env, v, &view)) {
    throw_type_error(env, std::string(name) + " must be a typed array, got " + describe_value(v));
  }
  require_attached(env, view, name);
  return view;
}

ArrayView get_float32_array(Napi::Env env, const Napi::Value& v, const char* name) {
  return get_typed_array(env, v, name, napi_float32_array, "Float32Array");
}

ArrayView get_optional_float32_array(Napi::Env env, const Napi::Value& v, const char* name) {
  if (is_absent(v)) return ArrayView{};
  return get_float32_array(env, v, name);
}

ArrayView get_index_array(Napi::Env env, const Napi::Value& v, const char* name,
                          IndexArray* out) {
  ArrayView view;
  if (try_view(env, v, &view) && (view.type == napi_int32_array ||
                                  view.type == napi_uint32_array ||
                                  view.type == napi_bigint64_array)) {
    require_attached(env, view, name);
    out->data = view.data;
    out->length = view.length;
    out->type = view.type == napi_int32_array    ? IndexType::Int32
                : view.type == napi_uint32_array ? IndexType::Uint32
                                                 : IndexType::Int64;
    return view;
  }
  throw_type_error(env, std::string(name) +
                            " must be an Int32Array, Uint32Array or BigInt64Array, got " +
                            describe_value(v));
}

int64_t get_integer(Napi::Env env, const Napi::Value& v, const char* name, int64_t min,
                    int64_t max) {
  double d = 0;
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    throw_type_error(env, std::string(name) + " must be a number, got " + describe_value(v));
  }
  if (!std::isfinite(d) || d != std::floor(d)) {
    throw_range_error(env, std::string(name) + " must be an integer, got " +
                               v.ToString().Utf8Value());
  }
  if (d < static_cast<double>(min) || d > static_cast<double>(max)) {
    throw_range_error(env, std::string(name) + " must be from " + std::to_string(min) +
                               " to " + std::to_string(max) + ", got " +
                               v.ToString().Utf8Value());
  }
  return static_cast<int64_t>(d);
}

int64_t get_padding_row(Napi::Env env, const Napi::Value& v, int64_t rows) {
  if (is_absent(v)) return -1;
  if (rows == 0) throw_range_error(env, "paddingIdx cannot be used with an empty table");
  const int64_t p = get_integer(env, v, "paddingIdx", -rows, rows - 1);
  return p < 0 ? p + rows : p;
}

void require_disjoint(Napi::Env env, const ArrayView& out, const char* out_name,
                      const ArrayView& in, const char* in_name) {
  if (!out.present || !in.present || out.byte_length == 0 || in.byte_length == 0) return;
  const auto a = reinterpret_cast<uintptr_t>(out.data);
  const auto b = reinterpret_cast<uintptr_t>(in.data);
  if (a < b + static_cast<uintptr_t>(in.byte_length) &&
      b < a + static_cast<uintptr_t>(out.byte_length)) {
    throw_type_error(env, std::string(out_name) + " must not share memory with " + in_name);
  }
}

// Fresh arrays from this size up get huge-page advice (lib/memory.ts adviseFresh has the
// measurement); JS-made ones reach it through the addon's adviseFresh.
constexpr size_t kFreshHugePageBytes = size_t{4} << 20;

void advise_fresh_bytes(void* data, size_t bytes) {
  if (bytes >= kFreshHugePageBytes) advise_huge_pages(data, bytes);
}

ArrayView output_float32(Napi::Env env, const Napi::Value& out_arg, int64_t n,
                         const std::string& shape_description) {
  if (!is_absent(out_arg)) {
    ArrayView out = get_float32_array(env, out_arg, "out");
    if (out.length != n) {
      throw_range_error(env, "out.length must be " + std::to_string(n) + " (" +
                                 shape_description + "), got " + std::to_string(out.length));
    }
    return out;
  }
  // Allocated through the JS Float32Array constructor: when memory runs out it throws a
  // RangeError, where napi_create_arraybuffer would abort the whole process.
  if (n > kMaxSafeInteger / 4) {
    throw_range_error(env, "the output (" + shape_description + ") is too large to allocate");
  }
  Napi::Value array;
  try {
    array = float32_constructor(env).New({Napi::Number::New(env, static_cast<double>(n))});
  } catch (const Napi::Error&) {
    throw_range_error(env, "cannot allocate the output of " + std::to_string(n) +
                               " floats (" + shape_description + ")");
  }
  ArrayView out = get_float32_array(env, array, "out");
  // Huge pages before the kernel's first touch, as lib's freshOutput.
  advise_fresh_bytes(out.data, static_cast<size_t>(out.length) * sizeof(float));
  return out;
}

}  // namespace embedkit::binding
