#include "args.h"

#include <cmath>

namespace embedkit::cuda::binding {

void throw_type_error(Napi::Env env, const std::string& message) {
  throw Napi::TypeError::New(env, message);
}

void throw_range_error(Napi::Env env, const std::string& message) {
  throw Napi::RangeError::New(env, message);
}

bool is_absent(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

int64_t get_integer(Napi::Env env, const Napi::Value& v, const char* name, int64_t min, int64_t max) {
  if (!v.IsNumber()) throw_type_error(env, std::string(name) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::trunc(d)) {
    throw_range_error(env, std::string(name) + " must be an integer, got " + v.ToString().Utf8Value());
  }
  if (d < static_cast<double>(min) || d > static_cast<double>(max)) {
    throw_range_error(env, std::string(name) + " must be from " + std::to_string(min) + " to " +
                               std::to_string(max) + ", got " + v.ToString().Utf8Value());
  }
  return static_cast<int64_t>(d);
}

DeviceBuffer& float32_arg(Napi::Env env, const Napi::Value& v, const char* name) {
  DeviceBuffer& b = unwrap_buffer(env, v, name);
  if (b.dtype != Dtype::Float32) throw_type_error(env, std::string(name) + " must be a float32 DeviceArray");
  return b;
}

DeviceBuffer& index_arg(Napi::Env env, const Napi::Value& v, const char* name) {
  DeviceBuffer& b = unwrap_buffer(env, v, name);
  if (!is_index_dtype(b.dtype)) {
    throw_type_error(env, std::string(name) + " must be an int32, uint32 or int64 DeviceArray");
  }
  if (!b.summary.known) {
    throw_type_error(env, std::string(name) +
                              " must be a DeviceArray made by DeviceArray.fromHost (its values are "
                              "checked on the host when it is copied)");
  }
  return b;
}

void check_index_range(Napi::Env env, const DeviceBuffer& indices, const char* name, int64_t rows) {
  const IndexSummary& s = indices.summary;
  if (indices.length == 0) return;
  const bool low = s.min < 0;
  if (!low && s.max < rows) return;
  const int64_t at = low ? s.min_at : s.max_at;
  const int64_t value = low ? s.min : s.max;
  throw_range_error(env, std::string(name) + "[" + std::to_string(at) + "] = " + std::to_string(value) +
                             " is out of range for a table of " + std::to_string(rows) + " rows");
}

void require_same_device(Napi::Env env, const DeviceBuffer& a, const DeviceBuffer& b, const char* b_name) {
  if (a.device != b.device) {
    throw_type_error(env, std::string(b_name) + " is on CUDA device " + std::to_string(b.device) +
                              ", the op's other arrays on device " + std::to_string(a.device));
  }
}

void require_distinct(Napi::Env env, const DeviceBuffer& out, const DeviceBuffer& in, const char* in_name) {
  if (out.data != nullptr && out.data == in.data) {
    throw_type_error(env, std::string("out must not share memory with ") + in_name);
  }
}

void require_length(Napi::Env env, const DeviceBuffer& out, int64_t expected, const std::string& shape) {
  if (out.length != expected) {
    throw_range_error(env, "out.length must be " + std::to_string(expected) + " (" + shape + "), got " +
                               std::to_string(out.length));
  }
}

}  // namespace embedkit::cuda::binding
