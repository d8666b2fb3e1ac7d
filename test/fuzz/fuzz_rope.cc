// libFuzzer target for the RoPE family: arbitrary head shapes, partial rotary, layouts,
// positions of every index type (negative and huge included), frequency values, attention
// factors, inverse, re-rotation (one or two frequency sets) and caches. Whatever passes the
// checks the binding makes (rotary_dim even and <= head_dim, positions in [0, 2^53),
// frequencies finite, factors positive and finite, cache rows for every position) must run
// on the chosen ISA and thread count within its arrays (ASan) and give the scalar path's
// bits, in place and out of place.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "fuzz_input.h"
#include "rope/rope.h"

namespace rp = embedkit::rope;
using embedkit::IndexArray;
using embedkit::IndexType;

namespace {

constexpr int64_t kMaxPosition = (int64_t{1} << 53) - 1;  // the binding's limit

// Positions of one token each, kept as int64 (the kernel's view is chosen separately).
struct Positions {
  std::vector<int32_t> i32;
  std::vector<int64_t> i64;
  IndexType type = IndexType::Int64;
  IndexArray view() const {
    return type == IndexType::Int64 ? IndexArray{i64.data(), static_cast<int64_t>(i64.size()), type}
                                    : IndexArray{i32.data(), static_cast<int64_t>(i32.size()), type};
  }
};

Positions make_positions(fuzz::Input& in, int64_t tokens) {
  Positions p;
  const int kind = static_cast<int>(in.between(0, 2));
  p.type = kind == 0 ? IndexType::Int32 : kind == 1 ? IndexType::Uint32 : IndexType::Int64;
  for (int64_t t = 0; t < tokens; ++t) {
    int64_t v;
    switch (in.u8() % 6) {
      case 0: v = static_cast<int64_t>(in.u64()); break;          // anything
      case 1: v = kMaxPosition - in.between(0, 2); break;         // the top of the range
      case 2: v = in.between(0, 1 << 22); break;                  // long context
      default: v = in.between(0, 300); break;                     // cache-sized
    }
    if (p.type == IndexType::Int64) p.i64.push_back(v);
    else p.i32.push_back(static_cast<int32_t>(v));  // Uint32 reads the same bits unsigned
  }
  return p;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

double any_double(fuzz::Input& in) {
  const uint64_t b = in.u64();
  double d;
  std::memcpy(&d, &b, sizeof d);
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Input in(data, size);
  fuzz::pick_path(in);
  rp::Rotation r;
  r.layout = in.flag() ? rp::Layout::Gptj : rp::Layout::Neox;
  r.head_dim = 2 * in.between(1, 150);
  r.rotary_dim = 2 * in.between(1, r.head_dim / 2);
  const int64_t half = r.rotary_dim / 2;
  const int64_t tokens = in.between(0, 12);
  const int64_t q_heads = in.between(1, 5), k_heads = in.between(0, 3);

  Positions to = make_positions(in, tokens), from;
  r.to.array = to.view();
  r.to.has_array = true;
  if (embedkit::find_index_out_of_range(r.to.array, kMaxPosition) >= 0) return 0;

  // Frequencies: usually plausible, sometimes any bit pattern (the binding rejects
  // non-finite ones; finite but huge ones must still work, through libm's reduction).
  std::vector<double> to_freq(half), from_freq(half);
  const bool wild = in.u8() % 4 == 0;
  for (int64_t i = 0; i < half; ++i) {
    to_freq[i] = wild ? any_double(in) : std::pow(10000.0, -2.0 * i / r.rotary_dim) / (1 + in.u8());
    from_freq[i] = wild ? any_double(in) : to_freq[i] * (1 + in.u8() / 64.0);
    if (!std::isfinite(to_freq[i]) || !std::isfinite(from_freq[i])) return 0;
  }
  r.to_freq = to_freq.data();
  r.scale = 0.25 + in.u8() / 64.0;
  r.negate = in.flag();

  // One of: rope, rope from a cache, rerotate with one or two frequency sets.
  std::vector<float> cache_cos, cache_sin;
  switch (in.between(0, 3)) {
    case 1: {
      int64_t max_position = 1;
      for (int64_t t = 0; t < tokens; ++t) max_position = std::max(max_position, r.to.at(t) + 1);
      if (max_position > 4096) return 0;  // the cache test stays small
      cache_cos.resize(max_position * half);
      cache_sin.resize(max_position * half);
      rp::fill_cache(r, max_position, cache_cos.data(), cache_sin.data());
      r.cache_cos = cache_cos.data();
      r.cache_sin = cache_sin.data();
      break;
    }
    case 2:
    case 3:
      from = make_positions(in, tokens);
      r.from.array = from.view();
      r.from.has_array = true;
      r.has_from = true;
      if (embedkit::find_index_out_of_range(r.from.array, kMaxPosition) >= 0) return 0;
      if (in.flag()) r.from_freq = from_freq.data();
      r.negate = false;  // ropeRerotate never negates
      break;
    default: break;
  }

  const int64_t nq = tokens * q_heads * r.head_dim, nk = tokens * k_heads * r.head_dim;
  std::vector<float> q(nq), k(nk);
  for (auto& v : q) v = in.value();
  for (auto& v : k) v = in.value();
  std::vector<float> oq(nq), ok(nk), rq(nq), rk(nk);
  rp::apply(r, tokens, rp::Tensor{q.data(), oq.data(), q_heads}, rp::Tensor{k.data(), ok.data(), k_heads});
  const embedkit::Isa chosen = embedkit::active_isa();
  embedkit::set_active_isa(embedkit::Isa::Scalar);
  rp::apply(r, tokens, rp::Tensor{q.data(), rq.data(), q_heads}, rp::Tensor{k.data(), rk.data(), k_heads});
  embedkit::set_active_isa(chosen);
  if (!same_bits(oq, rq) || !same_bits(ok, rk)) fuzz::fail("rope differs from the scalar path");
  // In place gives the same bits.
  rp::apply(r, tokens, rp::Tensor{q.data(), q.data(), q_heads}, rp::Tensor{k.data(), k.data(), k_heads});
  if (!same_bits(q, rq) || !same_bits(k, rk)) fuzz::fail("rope in place differs from out of place");
  return 0;
}
