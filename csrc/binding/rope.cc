// N-API entry points of the RoPE family: rope, ropeRerotate and their Async forms. Each
// call is parsed and fully validated first (types, shapes, positions, frequencies,
// aliasing); only then is any array written. Angles and frequencies are computed by the
// kernels and by lib/rope.ts; nothing here does arithmetic on data.
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../kernels/rope/rope.h"
#include "args.h"
#include "async.h"
#include "family.h"

namespace embedkit::binding {
namespace {

using rope::Layout;
using rope::PositionSource;
using rope::Rotation;
using rope::Tensor;

std::string num(int64_t v) { return std::to_string(v); }

struct Shape {
  int64_t head_dim = 0;
  int64_t rotary_dim = 0;
  Layout layout = Layout::Neox;
};

// headDim (even, >= 2), rotaryDim (even, 2..headDim; undefined means headDim), layout code.
Shape parse_shape(Napi::Env env, const Napi::Value& head_dim, const Napi::Value& rotary_dim,
                  const Napi::Value& layout) {
  Shape s;
  s.head_dim = get_integer(env, head_dim, "headDim", 2, kMaxSafeInteger);
  if (s.head_dim % 2 != 0) throw_range_error(env, "headDim must be even, got " + num(s.head_dim));
  if (is_absent(rotary_dim)) {
    s.rotary_dim = s.head_dim;
  } else {
    s.rotary_dim = get_integer(env, rotary_dim, "rotaryDim", 2, s.head_dim);
    if (s.rotary_dim % 2 != 0) {
      throw_range_error(env, "rotaryDim must be even, got " + num(s.rotary_dim));
    }
  }
  s.layout = static_cast<Layout>(get_integer(env, layout, "layout", 0, 1));
  return s;
}

// The number of tokens in a tokens x heads x headDim tensor.
int64_t tokens_of(Napi::Env env, const ArrayView& x, const char* name, int64_t heads,
                  const char* heads_name, int64_t head_dim) {
  if (heads > kMaxSafeInteger / head_dim) {
    throw_range_error(env, std::string(heads_name) + " x headDim overflows");
  }
  const int64_t row = heads * head_dim;
  if (x.length % row != 0) {
    throw_range_error(env, std::string(name) + ".length " + num(x.length) +
                               " is not a multiple of " + heads_name + " " + num(heads) +
                               " x headDim " + num(head_dim) + " = " + num(row));
  }
  return x.length / row;
}

// Positions from an index array (one per token, 0 <= p <= 2^53 - 1) or a start offset.
PositionSource parse_positions(Napi::Env env, const Napi::Value& array_arg,
                               const Napi::Value& offset_arg, const char* array_name,
                               const char* offset_name, int64_t tokens, ArrayView* view) {
  PositionSource p;
  if (!is_absent(array_arg)) {
    if (!is_absent(offset_arg)) {
      throw_type_error(env, std::string("give ") + array_name + " or " + offset_name +
                                ", not both");
    }
    *view = get_index_array(env, array_arg, array_name, &p.array);
    p.has_array = true;
    if (p.array.length != tokens) {
      throw_range_error(env, std::string(array_name) + ".length must equal the number of tokens " +
                                 num(tokens) + ", got " + num(p.array.length));
    }
    const int64_t bad = find_index_out_of_range(p.array, kMaxSafeInteger);
    if (bad >= 0) {
      throw_range_error(env, std::string(array_name) + "[" + num(bad) + "] = " +
                                 num(p.array.at(bad)) + " is out of range: positions must be from 0 to " +
                                 num(kMaxSafeInteger - 1));
    }
    return p;
  }
  p.offset = is_absent(offset_arg)
                 ? 0
                 : get_integer(env, offset_arg, offset_name, 0, kMaxSafeInteger - 1 - tokens);
  return p;
}

// A Float64Array of rotaryDim / 2 finite inverse frequencies. Checked on every call (the
// array is the caller's and may change), so the check is one branch-free integer pass: an
// exponent field of all ones (Inf or NaN) carries into bit 63 when 2^52 is added to it.
ArrayView parse_inv_freq(Napi::Env env, const Napi::Value& v, const char* name, int64_t half) {
  ArrayView view = get_typed_array(env, v, name, napi_float64_array, "Float64Array");
  if (view.length != half) {
    throw_range_error(env, std::string(name) + ".length must be rotaryDim / 2 = " + num(half) +
                               ", got " + num(view.length));
  }
  const double* f = static_cast<const double*>(view.data);
  constexpr uint64_t kExponent = 0x7ff0000000000000ull;
  constexpr uint64_t kExponentOne = 0x0010000000000000ull;
  uint64_t carry = 0;
  for (int64_t i = 0; i < half; ++i) {
    uint64_t b;
    std::memcpy(&b, f + i, sizeof b);
    carry |= (b & kExponent) + kExponentOne;
  }
  if ((carry >> 63) == 0) return view;
  for (int64_t i = 0; i < half; ++i) {
    if (!std::isfinite(f[i])) {
      throw_range_error(env, std::string(name) + "[" + num(i) + "] = " +
                                 Napi::Number::New(env, f[i]).ToString().Utf8Value() +
                                 " is not finite");
    }
  }
  return view;
}

// A cache from ropeCache: cos and sin Float32Arrays of maxPosition x rotaryDim / 2 floats.
// Returns maxPosition.
int64_t parse_cache(Napi::Env env, const Napi::Value& cos_arg, const Napi::Value& sin_arg,
                    int64_t half, ArrayView* cos, ArrayView* sin) {
  *cos = get_float32_array(env, cos_arg, "cache.cos");
  *sin = get_float32_array(env, sin_arg, "cache.sin");
  if (cos->length == 0 || cos->length % half != 0) {
    throw_range_error(env, "cache.cos.length must be a positive multiple of rotaryDim / 2 = " +
                               num(half) + ", got " + num(cos->length) +
                               " (was the cache made for another rotaryDim?)");
  }
  if (sin->length != cos->length) {
    throw_range_error(env, "cache.sin.length must equal cache.cos.length " + num(cos->length) +
                               ", got " + num(sin->length));
  }
  return cos->length / half;
}

// Every position of `p` (tokens of them) must have a row in a cache of max_position rows.
void require_cached(Napi::Env env, const PositionSource& p, int64_t tokens, int64_t max_position) {
  if (p.has_array) {
    const int64_t bad = find_index_out_of_range(p.array, max_position);
    if (bad >= 0) {
      throw_range_error(env, "positions[" + num(bad) + "] = " + num(p.array.at(bad)) +
                                 " is beyond the cache: cache.maxPosition is " + num(max_position));
    }
  } else if (tokens > 0 && p.offset + tokens > max_position) {
    throw_range_error(env, "offset " + num(p.offset) + " + tokens " + num(tokens) +
                               " exceeds cache.maxPosition " + num(max_position));
  }
}

double parse_factor(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsNumber()) {
    throw_type_error(env, std::string(name) + " must be a number, got " + describe_value(v));
  }
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || !(d > 0)) {
    throw_range_error(env, std::string(name) + " must be a positive finite number, got " +
                               v.ToString().Utf8Value());
  }
  return d;
}

// The destination of `x`: `x` itself (in place) or the caller's out array of equal length.
ArrayView parse_destination(Napi::Env env, const Napi::Value& out_arg, const char* out_name,
                            const ArrayView& x, const char* x_name) {
  if (is_absent(out_arg)) return x;
  ArrayView out = get_float32_array(env, out_arg, out_name);
  if (out.length != x.length) {
    throw_range_error(env, std::string(out_name) + ".length must equal " + x_name + ".length " +
                               num(x.length) + ", got " + num(out.length));
  }
  if (out.data == x.data) return out;  // the same memory: in place
  require_disjoint(env, out, out_name, x, x_name);
  return out;
}

struct RopeCall {
  ArrayView q, k, positions, inv_freq, from_positions, from_inv_freq, out, out_k, cache_cos,
      cache_sin;
  Rotation rot;
  int64_t tokens = 0;
  Tensor tq, tk;
  void run() const { rope::apply(rot, tokens, tq, tk); }
};

// Every destination must be disjoint from every other array the call reads or writes
// (except its own source, when in place). Fixed-size lists: no allocation per call.
struct Named {
  const ArrayView* view;
  const char* name;
};

void check_aliasing(Napi::Env env, const Named* dsts, int num_dsts, const Named* others,
                    int num_others) {
  for (int i = 0; i < num_dsts; ++i) {
    for (int j = i + 1; j < num_dsts; ++j) {
      require_disjoint(env, *dsts[j].view, dsts[j].name, *dsts[i].view, dsts[i].name);
    }
    for (int o = 0; o < num_others; ++o) {
      if (!others[o].view->present) continue;
      require_disjoint(env, *dsts[i].view, dsts[i].name, *others[o].view, others[o].name);
    }
  }
}

// args: q, k?, numHeads, numKvHeads?, headDim, rotaryDim?, layout, positions?, offset?,
//       invFreq?, attentionFactor?, inverse, out?, outK?, cacheCos?, cacheSin?
// Exactly one of invFreq (with attentionFactor) and the cache (cacheCos, cacheSin).
void prepare_rope(const Napi::CallbackInfo& info, RopeCall* c) {
  Napi::Env env = info.Env();
  c->q = get_float32_array(env, info[0], "q");
  c->k = get_optional_float32_array(env, info[1], "k");
  const int64_t num_heads = get_integer(env, info[2], "numHeads", 1, kMaxSafeInteger);
  const int64_t num_kv_heads = is_absent(info[3])
                                   ? num_heads
                                   : get_integer(env, info[3], "numKvHeads", 1, kMaxSafeInteger);
  const Shape s = parse_shape(env, info[4], info[5], info[6]);
  c->tokens = tokens_of(env, c->q, "q", num_heads, "numHeads", s.head_dim);
  if (c->k.present) {
    if (num_kv_heads > kMaxSafeInteger / s.head_dim / (c->tokens > 0 ? c->tokens : 1)) {
      throw_range_error(env, "tokens x numKvHeads x headDim overflows");
    }
    const int64_t want = c->tokens * num_kv_heads * s.head_dim;
    if (c->k.length != want) {
      throw_range_error(env, "k.length must be tokens " + num(c->tokens) + " x numKvHeads " +
                                 num(num_kv_heads) + " x headDim " + num(s.head_dim) + " = " +
                                 num(want) + " (q has " + num(c->tokens) + " tokens), got " +
                                 num(c->k.length));
    }
  }
  Rotation& r = c->rot;
  r.layout = s.layout;
  r.head_dim = s.head_dim;
  r.rotary_dim = s.rotary_dim;
  r.to = parse_positions(env, info[7], info[8], "positions", "offset", c->tokens, &c->positions);
  if (!is_absent(info[14])) {
    if (!is_absent(info[9])) throw_type_error(env, "give frequencies or a cache, not both");
    const int64_t max_position =
        parse_cache(env, info[14], info[15], s.rotary_dim / 2, &c->cache_cos, &c->cache_sin);
    require_cached(env, r.to, c->tokens, max_position);
    r.cache_cos = static_cast<const float*>(c->cache_cos.data);
    r.cache_sin = static_cast<const float*>(c->cache_sin.data);
  } else {
    c->inv_freq = parse_inv_freq(env, info[9], "invFreq", s.rotary_dim / 2);
    r.to_freq = static_cast<const double*>(c->inv_freq.data);
    r.scale = parse_factor(env, info[10], "attentionFactor");
  }
  if (!info[11].IsBoolean()) {
    throw_type_error(env, "inverse must be a boolean, got " + describe_value(info[11]));
  }
  r.negate = info[11].As<Napi::Boolean>().Value();
  c->out = parse_destination(env, info[12], "out", c->q, "q");
  if (!is_absent(info[13]) && !c->k.present) {
    throw_type_error(env, "outK was given without k");
  }
  c->out_k = c->k.present ? parse_destination(env, info[13], "outK", c->k, "k") : ArrayView{};
  // In place, q and k are destinations too.
  Named dsts[2] = {{&c->out, c->out.data == c->q.data ? "q" : "out"}, {}};
  int num_dsts = 1;
  if (c->k.present) dsts[num_dsts++] = {&c->out_k, c->out_k.data == c->k.data ? "k" : "outK"};
  Named others[6] = {{&c->positions, "positions"}, {&c->inv_freq, "invFreq"},
                     {&c->cache_cos, "cache.cos"}, {&c->cache_sin, "cache.sin"}, {}, {}};
  int num_others = 4;
  if (c->out.data != c->q.data) others[num_others++] = {&c->q, "q"};
  if (c->k.present && c->out_k.data != c->k.data) others[num_others++] = {&c->k, "k"};
  check_aliasing(env, dsts, num_dsts, others, num_others);

  c->tq = Tensor{static_cast<const float*>(c->q.data), static_cast<float*>(c->out.data), num_heads};
  if (c->k.present) {
    c->tk = Tensor{static_cast<const float*>(c->k.data), static_cast<float*>(c->out_k.data),
                   num_kv_heads};
  }
}

// args: k, numKvHeads, headDim, rotaryDim?, layout, fromPositions?, fromOffset?,
//       toPositions?, toOffset?, fromInvFreq?, fromFactor?, toInvFreq, toFactor?, out?
void prepare_rerotate(const Napi::CallbackInfo& info, RopeCall* c) {
  Napi::Env env = info.Env();
  c->q = get_float32_array(env, info[0], "k");
  const int64_t heads = get_integer(env, info[1], "numKvHeads", 1, kMaxSafeInteger);
  const Shape s = parse_shape(env, info[2], info[3], info[4]);
  c->tokens = tokens_of(env, c->q, "k", heads, "numKvHeads", s.head_dim);
  Rotation& r = c->rot;
  r.layout = s.layout;
  r.head_dim = s.head_dim;
  r.rotary_dim = s.rotary_dim;
  r.has_from = true;
  r.from = parse_positions(env, info[5], info[6], "fromPositions", "fromOffset", c->tokens,
                           &c->from_positions);
  r.to = parse_positions(env, info[7], info[8], "toPositions", "toOffset", c->tokens,
                         &c->positions);
  const int64_t half = s.rotary_dim / 2;
  c->inv_freq = parse_inv_freq(env, info[11], "toInvFreq", half);
  r.to_freq = static_cast<const double*>(c->inv_freq.data);
  r.scale = 1.0;
  if (!is_absent(info[9])) {
    c->from_inv_freq = parse_inv_freq(env, info[9], "fromInvFreq", half);
    r.from_freq = static_cast<const double*>(c->from_inv_freq.data);
    const double from_factor = is_absent(info[10]) ? 1.0 : parse_factor(env, info[10], "fromFactor");
    const double to_factor = is_absent(info[12]) ? 1.0 : parse_factor(env, info[12], "toFactor");
    // Cached keys carry from's attention factor; the result carries to's.
    r.scale = to_factor / from_factor;
  }
  c->out = parse_destination(env, info[13], "out", c->q, "k");
  const Named dsts[1] = {{&c->out, c->out.data == c->q.data ? "k" : "out"}};
  Named others[5] = {{&c->positions, "toPositions"}, {&c->from_positions, "fromPositions"},
                     {&c->inv_freq, "toInvFreq"}, {&c->from_inv_freq, "fromInvFreq"}, {}};
  int num_others = 4;
  if (c->out.data != c->q.data) others[num_others++] = {&c->q, "k"};
  check_aliasing(env, dsts, 1, others, num_others);
  c->tq = Tensor{static_cast<const float*>(c->q.data), static_cast<float*>(c->out.data), heads};
}

std::vector<HeldArray> held_arrays(const RopeCall& c) {
  std::vector<HeldArray> held;
  const std::pair<const ArrayView*, const char*> all[] = {
      {&c.q, "q"}, {&c.k, "k"}, {&c.positions, "positions"}, {&c.from_positions, "fromPositions"},
      {&c.inv_freq, "invFreq"}, {&c.from_inv_freq, "fromInvFreq"}, {&c.out, "out"},
      {&c.out_k, "outK"}, {&c.cache_cos, "cache.cos"}, {&c.cache_sin, "cache.sin"}};
  for (const auto& a : all) {
    if (a.first->present) held.push_back({a.second, a.first->value});
  }
  return held;
}

Napi::Value Rope(const Napi::CallbackInfo& info) {
  RopeCall c;
  prepare_rope(info, &c);
  c.run();
  return c.out.value;
}

Napi::Value RopeAsync(const Napi::CallbackInfo& info) {
  auto c = std::make_shared<RopeCall>();
  prepare_rope(info, c.get());
  return KernelWorker::Start(info.Env(), "ropeAsync", [c] { c->run(); }, c->out.value,
                             held_arrays(*c));
}

Napi::Value RopeRerotate(const Napi::CallbackInfo& info) {
  RopeCall c;
  prepare_rerotate(info, &c);
  c.run();
  return c.out.value;
}

Napi::Value RopeRerotateAsync(const Napi::CallbackInfo& info) {
  auto c = std::make_shared<RopeCall>();
  prepare_rerotate(info, c.get());
  return KernelWorker::Start(info.Env(), "ropeRerotateAsync", [c] { c->run(); }, c->out.value,
                             held_arrays(*c));
}

// args: cacheCos, cacheSin, rotaryDim, invFreq, attentionFactor. Fills both (maxPosition x
// rotaryDim / 2 floats, allocated by lib/rope.ts) with the tables of positions 0, 1, ...
Napi::Value RopeCacheFill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int64_t rotary_dim = get_integer(env, info[2], "rotaryDim", 2, kMaxSafeInteger);
  if (rotary_dim % 2 != 0) throw_range_error(env, "rotaryDim must be even, got " + num(rotary_dim));
  ArrayView cos, sin;
  const int64_t max_position = parse_cache(env, info[0], info[1], rotary_dim / 2, &cos, &sin);
  require_disjoint(env, sin, "cache.sin", cos, "cache.cos");
  const ArrayView inv_freq = parse_inv_freq(env, info[3], "invFreq", rotary_dim / 2);
  Rotation r;
  r.rotary_dim = rotary_dim;
  r.to_freq = static_cast<const double*>(inv_freq.data);
  r.scale = parse_factor(env, info[4], "attentionFactor");
  rope::fill_cache(r, max_position, static_cast<float*>(cos.data), static_cast<float*>(sin.data));
  return env.Undefined();
}

}  // namespace

void register_rope(Napi::Env env, Napi::Object exports) {
  exports.Set("rope", Napi::Function::New(env, Rope, "rope"));
  exports.Set("ropeAsync", Napi::Function::New(env, RopeAsync, "ropeAsync"));
  exports.Set("ropeRerotate", Napi::Function::New(env, RopeRerotate, "ropeRerotate"));
  exports.Set("ropeRerotateAsync", Napi::Function::New(env, RopeRerotateAsync, "ropeRerotateAsync"));
  exports.Set("ropeCacheFill", Napi::Function::New(env, RopeCacheFill, "ropeCacheFill"));
}

}  // namespace embedkit::binding
