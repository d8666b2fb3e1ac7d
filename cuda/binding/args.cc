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

int64_t get_padding_row(Napi::Env env, const Napi::Value& v, int64_t rows) {
  if (is_absent(v)) return -1;
  if (rows == 0) throw_range_error(env, "paddingIdx cannot be used with an empty table");
  const int64_t p = get_integer(env, v, "paddingIdx", -rows, rows - 1);
  return p < 0 ? p + rows : p;
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
  if (!b.summary.known || b.summary.bounds_only) {
    throw_type_error(env, std::string(name) +
                              " must be a DeviceArray made by DeviceArray.fromHost (its values are "
                              "checked on the host when it is copied)");
  }
  return b;
}

DeviceBuffer& argmax_arg(Napi::Env env, const Napi::Value& v, const char* name) {
  DeviceBuffer& b = unwrap_buffer(env, v, name);
  if (b.dtype != Dtype::Int32) throw_type_error(env, std::string(name) + " must be an int32 DeviceArray");
  if (!b.summary.known) {
    throw_type_error(env, std::string(name) +
                              " must come from cuda.embeddingBag's returnArgmax or DeviceArray.fromHost (its values "
                              "are then known on the host)");
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

// The number of bags the boundaries describe, after checking them as the CPU does.
int64_t check_bounds(Napi::Env env, const DeviceBuffer& bounds, int kind_code, int64_t n) {
  enum class BoundsKind : int { Offsets = 0, OffsetsWithEnd = 1, Lengths = 2 };
  const auto kind = static_cast<BoundsKind>(kind_code);
  const IndexSummary& s = bounds.summary;
  const int64_t len = bounds.length;
  auto at = [&](const char* name, int64_t i) { return std::string(name) + "[" + std::to_string(i) + "]"; };
  if (kind == BoundsKind::Lengths) {
    if (len > 0 && s.min < 0) {
      throw_range_error(env, at("lengths", s.min_at) + " = " + std::to_string(s.min) +
                                 ": a bag length cannot be negative (bag " + std::to_string(s.min_at) + ")");
    }
    if (s.sum_overflows || s.sum != n) {
      throw_range_error(env, "lengths must add up to indices.length " + std::to_string(n) +
                                 (s.sum_overflows ? std::string(", their sum overflows")
                                                  : ", got " + std::to_string(s.sum)));
    }
    return len;
  }
  const bool with_end = kind == BoundsKind::OffsetsWithEnd;
  if (with_end && len == 0) throw_range_error(env, "offsets must have at least one entry with includeLastOffset");
  if (len > 0 && s.first != 0) {
    throw_range_error(env, at("offsets", 0) + " = " + std::to_string(s.first) + ": the first bag must start at 0");
  }
  if (s.decrease_at >= 0) {
    throw_range_error(env, at("offsets", s.decrease_at) + " is less than " + at("offsets", s.decrease_at - 1) +
                               ": offsets must not decrease (bag " + std::to_string(s.decrease_at) + ")");
  }
  if (len > 0 && s.max > n) {
    throw_range_error(env, at("offsets", s.max_at) + " = " + std::to_string(s.max) +
                               " is past the end of indices (length " + std::to_string(n) + ")");
  }
  if (with_end && s.last != n) {
    throw_range_error(env, at("offsets", len - 1) + " = " + std::to_string(s.last) + " must equal indices.length " +
                               std::to_string(n) + " with includeLastOffset");
  }
  return with_end ? len - 1 : len;
}

}  // namespace embedkit::cuda::binding
