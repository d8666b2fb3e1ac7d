// The RoPE family's contract: rotary position embedding of q and k (tokens x heads x
// head_dim, row-major) for the NeoX (half split) and GPT-J (interleaved pairs) layouts,
// partial rotary (the columns past rotary_dim are left as they are, or copied to the
// output), inverse rotation (the transpose) and re-rotation of cached keys.
//
// Angles: pair i of token t is rotated by
//   theta = to(t) * to_freq[i]                              (rope)
//   theta = (to(t) - from(t)) * freq[i]                     (rerotate, one frequency set)
//   theta = to(t) * to_freq[i] - from(t) * from_freq[i]     (rerotate, two frequency sets)
// negated for the inverse, computed in float64 (range reduction and sin/cos included) once
// per token, then scaled (attention factor) and rounded to float32 for all heads.
// Callers validate first; kernels assume valid input and never fail.
#pragma once

#include <cstdint>

#include "../common/index_array.h"
#include "../common/isa.h"

namespace embedkit::rope {

enum class Layout : int { Neox = 0, Gptj = 1 };

// Position of token t: array[t] when an array is given, else offset + t.
struct PositionSource {
  IndexArray array;
  bool has_array = false;
  int64_t offset = 0;
  int64_t at(int64_t t) const { return has_array ? array.at(t) : offset + t; }
};

// The angles of one token: theta_i = to_pos * to_freq[i], or with two frequency sets
// to_pos * to_freq[i] - from_pos * from_freq[i] (from_freq non-null).
struct Angles {
  double to_pos = 0;
  const double* to_freq = nullptr;
  double from_pos = 0;
  const double* from_freq = nullptr;
};

struct Rotation {
  Layout layout = Layout::Neox;
  int64_t head_dim = 0;
  int64_t rotary_dim = 0;       // even, 2 <= rotary_dim <= head_dim
  PositionSource to;
  PositionSource from;          // used when has_from
  bool has_from = false;
  const double* to_freq = nullptr;    // rotary_dim / 2 inverse frequencies
  const double* from_freq = nullptr;  // null: the same set as to_freq
  double scale = 1.0;           // multiplies cos and sin (the attention factor, or a ratio)
  bool negate = false;          // rotate by -theta (the inverse / transpose)
  // A precomputed cache (rope only, no from): row p holds the tables of position p, scale
  // included: cache_cos[p * half + i], cache_sin[p * half + i]. When set, to_freq and
  // scale are unused and every to(t) is below the cache's row count (callers check).
  const float* cache_cos = nullptr;
  const float* cache_sin = nullptr;
};

// One tensor: rows of head_dim floats per token, `heads` rows per token. dst == src is in
// place; otherwise dst must not overlap src.
struct Tensor {
  const float* src = nullptr;
  float* dst = nullptr;
  int64_t heads = 0;
};

// One ISA's kernels: rotate `rows` consecutive rows of head_dim floats with one token's
// tables, and copy columns [rotary_dim, head_dim) when src != dst.
struct Kernels {
  // cos, sin: rotary_dim / 2 entries. Pair (j, j + half).
  void (*rotate_neox)(const float* src, float* dst, int64_t rows, int64_t head_dim,
                      int64_t rotary_dim, const float* cos, const float* sin);
  // cos2, sin2: rotary_dim entries, cos2[2i] = cos2[2i+1] = c_i, sin2[2i] = -s_i,
  // sin2[2i+1] = s_i. Pair (2i, 2i + 1): y = x * cos2 + swap_pairs(x) * sin2.
  void (*rotate_gptj)(const float* src, float* dst, int64_t rows, int64_t head_dim,
                      int64_t rotary_dim, const float* cos2, const float* sin2);
  // cos[i] = (float)(cos(theta_i) * scale_cos), sin[i] = (float)(sin(theta_i) * scale_sin)
  // in float64 (sincos_body.h; the same bits on every path). Returns false, tables
  // unspecified, when some |theta_i| >= 6e7 (beyond the fast range reduction).
  bool (*tables)(const Angles& angles, int64_t n, double scale_cos, double scale_sin, float* cos,
                 float* sin);
};

const Kernels& reference_kernels();  // ref.cc: the scalar oracle
const Kernels* avx2_kernels();       // null where not compiled in
const Kernels* avx512_kernels();
const Kernels* neon_kernels();
const Kernels& kernels_for(Isa isa);

// sin and cos of x in float64: range reduction by pi/2 in two parts and polynomials on
// [-pi/4, pi/4]; absolute error below 1e-12 for |x| < 2^30, libm beyond.
void sincos64(double x, double* s, double* c);

// Token t's tables: cos[i] = scale * cos(theta_i), sin[i] = scale * sin(theta_i) (theta
// negated when r.negate), rounded to float32; rotary_dim / 2 entries each; from the cache
// when r has one. The bits do not depend on the ISA, nor on whether a cache was used when
// the cache was filled by fill_cache with the same frequencies and scale.
void token_tables(const Kernels& k, const Rotation& r, int64_t t, float* cos, float* sin);

// Fills a cache of `positions` rows (Rotation::cache_cos / cache_sin) with the tables of
// positions 0 .. positions - 1 under r (its to_freq and scale; r.to, r.from, r.negate
// unused), split over the thread pool.
void fill_cache(const Rotation& r, int64_t positions, float* cache_cos, float* cache_sin);

// The whole operation on the active ISA, tokens split over the thread pool. k.heads may be
// 0 (no k). Output is identical for any thread count.
void apply(const Rotation& r, int64_t tokens, const Tensor& q, const Tensor& k);

}  // namespace embedkit::rope
