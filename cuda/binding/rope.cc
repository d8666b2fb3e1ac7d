// cuda.rope and cuda.ropeRerotate: the CPU ops' positional arguments (lib/rope.ts callRope /
// callRerotate build them) with device handles for q, k, positions and outputs, and the
// host Float64Array frequencies, which are copied to the device per call (rotaryDim / 2
// doubles, stream-ordered, freed after the kernel). Checked as the CPU binding checks them
// (csrc/binding/rope.cc), positions from their host-side summary, before anything is queued.
#include <cmath>
#include <cstring>
#include <string>

#include "../rope/rope.h"
#include "args.h"
#include "ops.h"

namespace embedkit::cuda::binding {
namespace {

using rope::DevicePositions;
using rope::DeviceTensor;
using rope::Layout;
using rope::RopeLaunch;

// Tables live in shared memory: cos and sin of rotaryDim / 2 floats each (32 KiB at most).
constexpr int64_t kMaxRotaryDim = 8192;

std::string num(int64_t v) { return std::to_string(v); }

void parse_shape(Napi::Env env, const Napi::Value& head_dim, const Napi::Value& rotary_dim,
                 const Napi::Value& layout, RopeLaunch* r) {
  r->head_dim = get_integer(env, head_dim, "headDim", 2, kMaxSafeInteger);
  if (r->head_dim % 2 != 0) throw_range_error(env, "headDim must be even, got " + num(r->head_dim));
  r->rotary_dim = is_absent(rotary_dim) ? r->head_dim : get_integer(env, rotary_dim, "rotaryDim", 2, r->head_dim);
  if (r->rotary_dim % 2 != 0) throw_range_error(env, "rotaryDim must be even, got " + num(r->rotary_dim));
  if (r->rotary_dim > kMaxRotaryDim) {
    throw_range_error(env, "cuda.rope takes rotaryDim up to " + num(kMaxRotaryDim) + ", got " + num(r->rotary_dim));
  }
  r->layout = static_cast<Layout>(get_integer(env, layout, "layout", 0, 1));
}

int64_t tokens_of(Napi::Env env, const DeviceBuffer& x, const char* name, int64_t heads, const char* heads_name,
                  int64_t head_dim) {
  if (heads > kMaxSafeInteger / head_dim) throw_range_error(env, std::string(heads_name) + " x headDim overflows");
  const int64_t row = heads * head_dim;
  if (x.length % row != 0) {
    throw_range_error(env, std::string(name) + ".length " + num(x.length) + " is not a multiple of " + heads_name +
                               " " + num(heads) + " x headDim " + num(head_dim) + " = " + num(row));
  }
  const int64_t tokens = x.length / row;
  if (tokens > INT32_MAX) throw_range_error(env, "cuda.rope takes at most 2147483647 tokens, got " + num(tokens));
  return tokens;
}

DevicePositions parse_positions(Napi::Env env, const Napi::Value& array_arg, const Napi::Value& offset_arg,
                                const char* array_name, const char* offset_name, int64_t tokens,
                                const DeviceBuffer& like) {
  DevicePositions p;
  if (!is_absent(array_arg)) {
    if (!is_absent(offset_arg)) throw_type_error(env, std::string("give ") + array_name + " or " + offset_name + ", not both");
    const DeviceBuffer& a = index_arg(env, array_arg, array_name);
    require_same_device(env, like, a, array_name);
    if (a.length != tokens) {
      throw_range_error(env, std::string(array_name) + ".length must equal the number of tokens " + num(tokens) +
                                 ", got " + num(a.length));
    }
    const IndexSummary& s = a.summary;
    if (a.length > 0 && (s.min < 0 || s.max >= kMaxSafeInteger)) {
      const bool low = s.min < 0;
      throw_range_error(env, std::string(array_name) + "[" + num(low ? s.min_at : s.max_at) + "] = " +
                                 num(low ? s.min : s.max) + " is out of range: positions must be from 0 to " +
                                 num(kMaxSafeInteger - 1));
    }
    p.array = DeviceIndices{a.data, a.dtype, a.length};
    return p;
  }
  p.offset = is_absent(offset_arg) ? 0 : get_integer(env, offset_arg, offset_name, 0, kMaxSafeInteger - 1 - tokens);
  return p;
}

// A host Float64Array of rotaryDim / 2 finite inverse frequencies.
const double* parse_inv_freq(Napi::Env env, const Napi::Value& v, const char* name, int64_t half) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    throw_type_error(env, std::string(name) + " must be a Float64Array");
  }
  Napi::Float64Array f = v.As<Napi::Float64Array>();
  if (static_cast<int64_t>(f.ElementLength()) != half) {
    throw_range_error(env, std::string(name) + ".length must be rotaryDim / 2 = " + num(half) + ", got " +
                               num(static_cast<int64_t>(f.ElementLength())));
  }
  const double* data = f.Data();
  if (half > 0 && data == nullptr) throw_type_error(env, std::string(name) + "'s ArrayBuffer is detached");
  for (int64_t i = 0; i < half; ++i) {
    if (!std::isfinite(data[i])) {
      throw_range_error(env, std::string(name) + "[" + num(i) + "] = " +
                                 Napi::Number::New(env, data[i]).ToString().Utf8Value() + " is not finite");
    }
  }
  return data;
}

double parse_factor(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) throw_type_error(env, std::string(name) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || !(d > 0)) {
    throw_range_error(env, std::string(name) + " must be a positive finite number, got " + v.ToString().Utf8Value());
  }
  return d;
}

// The destination of x: x itself (in place) or the caller's out array of equal length.
DeviceBuffer& parse_destination(Napi::Env env, const Napi::Value& out_arg, const char* out_name, DeviceBuffer& x,
                                const char* x_name) {
  if (is_absent(out_arg)) return x;
  DeviceBuffer& out = float32_arg(env, out_arg, out_name);
  require_same_device(env, x, out, out_name);
  if (out.length != x.length) {
    throw_range_error(env, std::string(out_name) + ".length must equal " + x_name + ".length " + num(x.length) +
                               ", got " + num(out.length));
  }
  return out;
}

// Frequencies to the device, the launch, and the frees, in stream order.
void launch_with_frequencies(Napi::Env env, RopeLaunch& r, int device, const double* to_freq, const double* from_freq) {
  const int64_t half = r.rotary_dim / 2;
  const size_t bytes = static_cast<size_t>(half) * sizeof(double);
  use_device(env, device);
  cudaStream_t stream = stream_for(env, device);
  void* freq = nullptr;
  const cudaError_t alloc = cudaMallocAsync(&freq, 2 * bytes, stream);
  if (alloc != cudaSuccess) {
    cudaGetLastError();
    throw_range_error(env, "cuda.rope cannot allocate its frequencies: " + error_text(alloc));
  }
  auto* device_freq = static_cast<double*>(freq);
  // Pageable host memory is staged before cudaMemcpyAsync returns, so the caller's arrays
  // are free to change afterwards.
  cudaError_t e = cudaMemcpyAsync(device_freq, to_freq, bytes, cudaMemcpyHostToDevice, stream);
  if (e == cudaSuccess && from_freq != nullptr) {
    e = cudaMemcpyAsync(device_freq + half, from_freq, bytes, cudaMemcpyHostToDevice, stream);
  }
  r.to_freq = device_freq;
  r.from_freq = from_freq != nullptr ? device_freq + half : nullptr;
  if (e == cudaSuccess) e = rope::launch_rope(r, stream);
  cudaFreeAsync(freq, stream);
  check_cuda(env, e, "cuda.rope launch");
}

// Every DeviceArray is its own allocation, so equal pointers are the only way to alias; `k`
// given as the very array `q` (so in place, out is q) is caught here too.
void require_distinct_outputs(Napi::Env env, const DeviceBuffer& out, const char* out_name,
                              std::initializer_list<std::pair<const DeviceBuffer*, const char*>> others) {
  for (const auto& [b, name] : others) {
    if (b != nullptr && b->data != nullptr && b->data == out.data) {
      throw_type_error(env, std::string(out_name) + " must not share memory with " + name);
    }
  }
}

}  // namespace

// rope(q, k?, numHeads, numKvHeads?, headDim, rotaryDim?, layout, positions?, offset?,
//      invFreq, attentionFactor, inverse, out?, outK?, cacheCos?, cacheSin?)
Napi::Value Rope(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!is_absent(info[14]) || !is_absent(info[15])) {
    throw_type_error(env, "cuda.rope computes its tables on the device: give base / scaling / frequencies, not a cache");
  }
  DeviceBuffer& q = float32_arg(env, info[0], "q");
  DeviceBuffer* k = is_absent(info[1]) ? nullptr : &float32_arg(env, info[1], "k");
  if (k != nullptr) require_same_device(env, q, *k, "k");
  const int64_t num_heads = get_integer(env, info[2], "numHeads", 1, kMaxSafeInteger);
  const int64_t num_kv_heads = is_absent(info[3]) ? num_heads : get_integer(env, info[3], "numKvHeads", 1, kMaxSafeInteger);
  RopeLaunch r;
  parse_shape(env, info[4], info[5], info[6], &r);
  r.tokens = tokens_of(env, q, "q", num_heads, "numHeads", r.head_dim);
  if (k != nullptr) {
    if (num_kv_heads > kMaxSafeInteger / r.head_dim / (r.tokens > 0 ? r.tokens : 1)) {
      throw_range_error(env, "tokens x numKvHeads x headDim overflows");
    }
    const int64_t want = r.tokens * num_kv_heads * r.head_dim;
    if (k->length != want) {
      throw_range_error(env, "k.length must be tokens " + num(r.tokens) + " x numKvHeads " + num(num_kv_heads) +
                                 " x headDim " + num(r.head_dim) + " = " + num(want) + " (q has " + num(r.tokens) +
                                 " tokens), got " + num(k->length));
    }
  }
  r.to = parse_positions(env, info[7], info[8], "positions", "offset", r.tokens, q);
  const double* inv_freq = parse_inv_freq(env, info[9], "invFreq", r.rotary_dim / 2);
  r.scale = parse_factor(env, info[10], "attentionFactor");
  if (!info[11].IsBoolean()) throw_type_error(env, "inverse must be a boolean");
  r.negate = info[11].As<Napi::Boolean>().Value();
  DeviceBuffer& out = parse_destination(env, info[12], "out", q, "q");
  if (!is_absent(info[13]) && k == nullptr) throw_type_error(env, "outK was given without k");
  DeviceBuffer* out_k = k != nullptr ? &parse_destination(env, info[13], "outK", *k, "k") : nullptr;
  require_distinct_outputs(env, out, &out == &q ? "q" : "out", {{k, "k"}, {out_k, "outK"}});
  if (out_k != nullptr) require_distinct_outputs(env, *out_k, out_k == k ? "k" : "outK", {{&q, "q"}, {&out, "out"}});
  r.q = DeviceTensor{static_cast<const float*>(q.data), static_cast<float*>(out.data), num_heads};
  if (k != nullptr) r.k = DeviceTensor{static_cast<const float*>(k->data), static_cast<float*>(out_k->data), num_kv_heads};
  launch_with_frequencies(env, r, q.device, inv_freq, nullptr);
  return env.Undefined();
}

// ropeRerotate(k, numKvHeads, headDim, rotaryDim?, layout, fromPositions?, fromOffset?,
//              toPositions?, toOffset?, fromInvFreq?, fromFactor?, toInvFreq, toFactor?, out?)
Napi::Value RopeRerotate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  DeviceBuffer& k = float32_arg(env, info[0], "k");
  const int64_t heads = get_integer(env, info[1], "numKvHeads", 1, kMaxSafeInteger);
  RopeLaunch r;
  parse_shape(env, info[2], info[3], info[4], &r);
  r.tokens = tokens_of(env, k, "k", heads, "numKvHeads", r.head_dim);
  r.has_from = true;
  r.from = parse_positions(env, info[5], info[6], "fromPositions", "fromOffset", r.tokens, k);
  r.to = parse_positions(env, info[7], info[8], "toPositions", "toOffset", r.tokens, k);
  const int64_t half = r.rotary_dim / 2;
  const double* to_freq = parse_inv_freq(env, info[11], "toInvFreq", half);
  const double* from_freq = nullptr;
  r.scale = 1.0;
  if (!is_absent(info[9])) {
    from_freq = parse_inv_freq(env, info[9], "fromInvFreq", half);
    const double from_factor = is_absent(info[10]) ? 1.0 : parse_factor(env, info[10], "fromFactor");
    const double to_factor = is_absent(info[12]) ? 1.0 : parse_factor(env, info[12], "toFactor");
    r.scale = to_factor / from_factor;  // cached keys carry from's attention factor
  }
  DeviceBuffer& out = parse_destination(env, info[13], "out", k, "k");
  r.q = DeviceTensor{static_cast<const float*>(k.data), static_cast<float*>(out.data), heads};
  launch_with_frequencies(env, r, k.device, to_freq, from_freq);
  return env.Undefined();
}

}  // namespace embedkit::cuda::binding
