#include "args.h"

#include "env_data.h"

#include <cmath>

namespace embedkit::binding {

void throw_type_error(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

void throw_range_error(Napi::Env env, const std::string& message) {
  throw Napi::RangeError::New(env, message);
}

bool is_absent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

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

ArrayView view_of(Napi::Env env, const Napi::Value& v, const char* name) {
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer;
  size_t byte_offset = 0;
  napi_status status =
      napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &byte_offset);
  if (status != napi_ok) throw_type_error(env, std::string(name) + " must be a typed array");
  bool detached = false;
  // A SharedArrayBuffer cannot be detached; the check reports an error for it.
  if (napi_is_detached_arraybuffer(env, buffer, &detached) == napi_ok && detached) {
    throw_type_error(env, std::string(name) + "'s ArrayBuffer is detached");
  }
  ArrayView view;
  view.value = v;
  view.type = type;
  view.data = data;
  view.length = static_cast<int64_t>(length);
  int64_t element_size = 1;
  switch (type) {
    case napi_int16_array:
    case napi_uint16_array: element_size = 2; break;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array: element_size = 4; break;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array: element_size = 8; break;
    default: break;
  }
  view.byte_length = view.length * element_size;
  view.present = true;
  if (view.data == nullptr && view.length != 0) {
    throw_type_error(env, std::string(name) + "'s memory is not accessible");
  }
  return view;
}

}  // namespace

ArrayView get_typed_array(Napi::Env env, const Napi::Value& v, const char* name,
                          napi_typedarray_type type, const char* type_name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw_type_error(env, std::string(name) + " must be a " + type_name + ", got " +
                              describe_value(v));
  }
  return view_of(env, v, name);
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
  if (v.IsTypedArray()) {
    const napi_typedarray_type t = v.As<Napi::TypedArray>().TypedArrayType();
    if (t == napi_int32_array || t == napi_uint32_array || t == napi_bigint64_array) {
      ArrayView view = view_of(env, v, name);
      out->data = view.data;
      out->length = view.length;
      out->type = t == napi_int32_array    ? IndexType::Int32
                  : t == napi_uint32_array ? IndexType::Uint32
                                           : IndexType::Int64;
      return view;
    }
  }
  throw_type_error(env, std::string(name) +
                            " must be an Int32Array, Uint32Array or BigInt64Array, got " +
                            describe_value(v));
}

int64_t get_integer(Napi::Env env, const Napi::Value& v, const char* name, int64_t min,
                    int64_t max) {
  if (!v.IsNumber()) {
    throw_type_error(env, std::string(name) + " must be a number, got " + describe_value(v));
  }
  const double d = v.As<Napi::Number>().DoubleValue();
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
  return view_of(env, array, "out");
}

}  // namespace embedkit::binding
